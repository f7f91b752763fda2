//! `Value`, `RawValue` and `AtomicValue` across real processes: exact
//! counts under the lock and without it, user structs, values sharing one
//! lock, the non-recursive lock's errors, owner death, and values in a
//! segment. Every wait is bounded.

use bytemuck::{Pod, Zeroable};
use shmsync::{
    AccessError, AtomicValue, Error, Lock, Process, RawValue, Segment, SegmentError, Shared, Value,
};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const PROCESSES: usize = 4;
const INCREMENTS: u64 = 100_000;

/// Runs `work` in `PROCESSES` children at once and waits for all of them.
fn in_children(work: impl Fn() + Copy) {
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| KillOnDrop(Process::spawn(work).unwrap()))
        .collect();
    for child in &children {
        join_ok(child);
    }
}

#[test]
fn four_processes_increment_a_value_exactly_400_000_times_under_its_lock() {
    let _w = Watchdog::new("value_four_processes", PATIENCE);
    let counter = Value::new(0u64).unwrap();
    in_children(|| {
        for _ in 0..INCREMENTS {
            *counter.get_lock().unwrap() += 1;
        }
    });
    assert_eq!(counter.get().unwrap(), PROCESSES as u64 * INCREMENTS);
    assert!(!counter.is_locked());
}

#[test]
fn get_and_set_from_four_processes_lose_nothing_between_them() {
    let _w = Watchdog::new("value_get_set", PATIENCE);
    // Each process bumps its own lane through the guard and reads the
    // whole value with `get`: a copy made under the lock is never torn.
    let lanes = Value::new([0u64; PROCESSES]).unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|lane| {
            let lanes = &lanes;
            KillOnDrop(
                Process::spawn(move || {
                    for _ in 0..10_000 {
                        let mut guard = lanes.get_lock().unwrap();
                        guard[lane] += 1;
                        drop(guard);
                        let seen = lanes.get().unwrap();
                        assert!(seen.iter().all(|&n| n <= 10_000), "torn: {seen:?}");
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(lanes.get().unwrap(), [10_000; PROCESSES]);
    lanes.set([1; PROCESSES]).unwrap();
    assert_eq!(lanes.get().unwrap(), [1; PROCESSES]);
}

#[test]
fn atomic_value_increments_from_four_processes_are_exact_without_a_lock() {
    let _w = Watchdog::new("atomic_four_processes", PATIENCE);
    let counter = AtomicValue::new(0u64).unwrap();
    in_children(|| {
        for _ in 0..INCREMENTS {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    assert_eq!(
        counter.load(Ordering::Relaxed),
        PROCESSES as u64 * INCREMENTS
    );
}

#[test]
fn atomic_value_max_and_compare_exchange_work_across_processes() {
    let _w = Watchdog::new("atomic_max_cas", PATIENCE);
    let peak = AtomicValue::new(0i32).unwrap();
    let claimed = AtomicValue::new(false).unwrap();
    let winners = AtomicValue::new(0u32).unwrap();
    let children: Vec<_> = (0..PROCESSES as i32)
        .map(|n| {
            let (peak, claimed, winners) = (&peak, &claimed, &winners);
            KillOnDrop(
                Process::spawn(move || {
                    peak.fetch_max(n * 10, Ordering::Relaxed);
                    if claimed
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        winners.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(peak.load(Ordering::Relaxed), (PROCESSES as i32 - 1) * 10);
    assert_eq!(winners.load(Ordering::Relaxed), 1, "exactly one claim wins");
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
struct Sample {
    position: [f64; 3],
    weight: f32,
    count: u32,
}

#[test]
fn a_user_struct_is_doubled_in_a_child() {
    let _w = Watchdog::new("user_struct", PATIENCE);
    let before = Sample {
        position: [1.0, -2.0, 0.5],
        weight: 1.5,
        count: 21,
    };
    let sample = Value::new(before).unwrap();
    let child = Process::spawn(|| {
        let mut s = sample.get_lock().unwrap();
        s.position.iter_mut().for_each(|p| *p *= 2.0);
        s.weight *= 2.0;
        s.count *= 2;
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(
        sample.get().unwrap(),
        Sample {
            position: [2.0, -4.0, 1.0],
            weight: 3.0,
            count: 42
        }
    );
}

#[test]
fn a_second_lock_by_the_holding_thread_is_an_error_not_a_deadlock() {
    let _w = Watchdog::new("not_recursive", PATIENCE);
    let v = Value::new(5u32).unwrap();
    let mut guard = v.get_lock().unwrap();
    assert!(matches!(v.get_lock(), Err(AccessError::AlreadyHeld)));
    assert!(matches!(v.get(), Err(AccessError::AlreadyHeld)));
    assert!(matches!(v.set(6), Err(AccessError::AlreadyHeld)));
    *guard = 7;
    let err: Error = v.get().unwrap_err().into();
    assert!(matches!(err, Error::AlreadyHeld));
    assert!(err.to_string().contains("already holds this lock"), "{err}");
    drop(guard);
    assert_eq!(v.get().unwrap(), 7);
    // Another thread waits instead.
    let guard = v.get_lock().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| v.get().unwrap());
        std::thread::sleep(Duration::from_millis(20));
        drop(guard);
        assert_eq!(waiter.join().unwrap(), 7);
    });
}

#[test]
fn two_values_sharing_a_lock_exclude_each_other_across_processes() {
    let _w = Watchdog::new("shared_lock_processes", PATIENCE);
    let lock = Lock::new().unwrap();
    let a = Value::with_lock(0u32, &lock).unwrap();
    let b = Value::with_lock(0u32, &lock).unwrap();
    // 1: the child holds a's guard; 2: the parent has looked.
    let step = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let mut guard = a.get_lock().unwrap();
            step.store(1, Ordering::Release);
            wait_until(PATIENCE, "the parent to look", || {
                step.load(Ordering::Acquire) == 2
            });
            // Give the parent time to block on b, then write a before the
            // shared lock is given back.
            std::thread::sleep(Duration::from_millis(50));
            *guard = 1;
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to hold a's guard", || {
        step.load(Ordering::Acquire) == 1
    });
    assert!(b.is_locked(), "b's lock is a's");
    step.store(2, Ordering::Release);
    // Waits for the child to drop a's guard: a was written by then.
    assert_eq!(b.get().unwrap(), 0);
    assert_eq!(a.get().unwrap(), 1);
    join_ok(&child);
}

#[test]
fn holding_one_values_guard_makes_the_others_accesses_an_error_in_that_thread() {
    let _w = Watchdog::new("shared_lock_thread", PATIENCE);
    let lock = Lock::new().unwrap();
    let a = Value::with_lock(1u8, &lock).unwrap();
    let b = Value::with_lock(2u8, &lock).unwrap();
    let guard = a.get_lock().unwrap();
    assert!(matches!(b.get_lock(), Err(AccessError::AlreadyHeld)));
    assert!(matches!(b.get(), Err(AccessError::AlreadyHeld)));
    assert!(matches!(b.set(3), Err(AccessError::AlreadyHeld)));
    drop(guard);
    // Holding the Lock itself counts too.
    let held = lock.lock().unwrap();
    assert!(matches!(a.get(), Err(AccessError::AlreadyHeld)));
    // ... and lets this thread use both under that one hold.
    let mut x = a.borrow_under(&held).unwrap();
    let mut y = b.borrow_under(&held).unwrap();
    assert!(matches!(
        a.borrow_under(&held),
        Err(AccessError::AlreadyHeld)
    ));
    std::mem::swap(&mut *x, &mut *y);
    drop((x, y));
    drop(held);
    assert_eq!((a.get().unwrap(), b.get().unwrap()), (2, 1));
    // A guard of another lock proves nothing.
    let other = Lock::new().unwrap();
    let held_other = other.lock().unwrap();
    assert!(matches!(
        a.borrow_under(&held_other),
        Err(AccessError::NotOwner)
    ));
}

#[test]
fn a_value_with_its_own_lock_is_borrowed_under_no_other_guard() {
    let _w = Watchdog::new("own_lock_borrow", PATIENCE);
    let v = Value::new(1u16).unwrap();
    let other = Lock::new().unwrap();
    let held = other.lock().unwrap();
    assert!(matches!(v.borrow_under(&held), Err(AccessError::NotOwner)));
    let guard = v.get_lock().unwrap();
    // This thread holds v's lock, but only through `guard`.
    assert!(matches!(
        v.borrow_under(&held),
        Err(AccessError::AlreadyHeld)
    ));
    drop(guard);
    drop(held);
    assert_eq!(v.get().unwrap(), 1);
}

#[test]
fn transfers_under_one_lock_keep_the_total_across_processes() {
    let _w = Watchdog::new("transfers", PATIENCE);
    let lock = Lock::new().unwrap();
    let a = Value::with_lock(1_000_000i64, &lock).unwrap();
    let b = Value::with_lock(0i64, &lock).unwrap();
    in_children(|| {
        for i in 0..10_000i64 {
            let held = lock.lock().unwrap();
            let mut from = a.borrow_under(&held).unwrap();
            let mut to = b.borrow_under(&held).unwrap();
            let amount = i % 7;
            *from -= amount;
            *to += amount;
            assert_eq!(*from + *to, 1_000_000, "a transfer was seen half-done");
        }
    });
    let moved: i64 = (0..10_000i64).map(|i| i % 7).sum::<i64>() * PROCESSES as i64;
    assert_eq!(b.get().unwrap(), moved);
    assert_eq!(a.get().unwrap(), 1_000_000 - moved);
}

#[test]
fn a_lock_released_under_a_live_guard_never_lends_the_value_twice() {
    let _w = Watchdog::new("release_under_guard", PATIENCE);
    let lock = Lock::new().unwrap();
    let v = Value::with_lock(0u32, &lock).unwrap();
    let mut guard = v.get_lock().unwrap();
    // Python's any-thread release, while the guard still lends the value.
    lock.release().unwrap();
    assert!(matches!(v.get_lock(), Err(AccessError::AlreadyHeld)));
    std::thread::scope(|s| {
        let other = s.spawn(|| match v.set(9) {
            Err(AccessError::Borrowed { holder }) => holder,
            other => panic!("expected Borrowed, got {other:?}"),
        });
        assert!(other.join().unwrap() > 0);
    });
    assert!(!lock.is_locked(), "the refused access gave its hold back");
    *guard = 5;
    drop(guard);
    assert_eq!(v.get().unwrap(), 5);
    let err: Error = AccessError::<()>::Borrowed { holder: 42 }.into();
    assert!(err.to_string().contains("thread 42"), "{err}");
}

/// A child takes `v`'s guard, stores `half` (a "half-done" update),
/// reports in, and sleeps until killed.
fn holder_killed_mid_update(v: &Value<u64>, half: u64) -> KillOnDrop {
    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let mut guard = v.get_lock().unwrap();
            *guard = half;
            ready.store(1, Ordering::Release);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to hold the guard", || {
        ready.load(Ordering::Acquire) == 1
    });
    child.kill().unwrap();
    child
}

#[test]
fn a_holder_killed_holding_a_values_lock_is_reported_to_get_set_and_get_lock() {
    let _w = Watchdog::new("value_owner_died", PATIENCE);
    let v = Value::new(0u64).unwrap();
    let holder = holder_killed_mid_update(&v, 7);

    let guard = match v.get() {
        Err(AccessError::OwnerDied(died)) => died.into_inner(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    assert_eq!(*guard, 7, "get read the value the holder left");
    assert!(guard.is_inconsistent());
    drop(guard);

    // Not marked consistent: set is told too, and stores anyway.
    match v.set(8) {
        Err(AccessError::OwnerDied(died)) => assert_eq!(**died.get_ref(), 8),
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    let mut guard = match v.get_lock() {
        Err(AccessError::OwnerDied(died)) => died.into_inner(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    *guard = 10; // the repair
    guard.mark_consistent();
    drop(guard);
    assert_eq!(v.get().unwrap(), 10);
    assert!(v.get_lock().is_ok(), "consistent again");
    assert_eq!(join_within(&holder, PATIENCE), -libc::SIGKILL);
}

#[test]
fn a_word_sized_raw_value_is_never_torn_while_a_child_writes_it() {
    let _w = Watchdog::new("raw_not_torn", PATIENCE);
    let v = RawValue::new(0u64).unwrap();
    let done = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            for i in 0..200_000u64 {
                v.set((i << 32) | i);
            }
            done.store(1, Ordering::Release);
        })
        .unwrap(),
    );
    let start = std::time::Instant::now();
    while done.load(Ordering::Acquire) == 0 {
        assert!(start.elapsed() < PATIENCE, "the writer never finished");
        let x = v.get();
        assert_eq!(x >> 32, x & 0xffff_ffff, "torn read {x:#x}");
    }
    join_ok(&child);
    assert_eq!(v.get(), (199_999 << 32) | 199_999);
}

#[test]
fn values_in_a_segment_are_shared_by_two_processes_and_typed() {
    let _w = Watchdog::new("value_segment", PATIENCE);
    let segment = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    let child = Process::spawn(|| {
        let v = Value::open_in(&segment, "locked", 1u32).unwrap();
        *v.get_lock().unwrap() += 1;
        RawValue::open_in(&segment, "raw", 0.0f64).unwrap().set(2.5);
        AtomicValue::open_in(&segment, "atomic", 0u64)
            .unwrap()
            .fetch_add(3, Ordering::Relaxed);
    })
    .unwrap();
    join_ok(&child);
    // Found, not made again: the inits below are not used.
    assert_eq!(
        Value::open_in(&segment, "locked", 0u32)
            .unwrap()
            .get()
            .unwrap(),
        2
    );
    assert_eq!(
        RawValue::open_in(&segment, "raw", 0.0f64).unwrap().get(),
        2.5
    );
    let atomic = AtomicValue::open_in(&segment, "atomic", 0u64).unwrap();
    assert_eq!(atomic.load(Ordering::Relaxed), 3);
    // The same object as a plain atomic of the segment.
    let plain = segment
        .get::<std::sync::atomic::AtomicU64>("atomic")
        .unwrap();
    assert_eq!(plain.load(Ordering::Relaxed), 3);
    // Another T, or another kind of value, is another type.
    for wrong in [
        Value::<u64>::open_in(&segment, "locked", 0).map(drop),
        RawValue::<u32>::open_in(&segment, "locked", 0).map(drop),
        Value::<f64>::open_in(&segment, "raw", 0.0).map(drop),
    ] {
        assert!(
            matches!(
                wrong,
                Err(Error::Segment(SegmentError::TypeMismatch { .. }))
            ),
            "{wrong:?}"
        );
    }
}
