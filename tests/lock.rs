//! `Lock` and `RLock` across real processes: exclusion, timeouts, recursion,
//! ownership errors and owner death. Every wait is bounded.

use shmsync::raw::RawLock;
use shmsync::{Lock, Mutex, Process, RLock, Shared, TryLockError};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A counter that is deliberately not atomic: only the lock keeps the
/// increments from being lost.
#[repr(C)]
struct Racy(UnsafeCell<u64>);
// SAFETY: every access in these tests happens under a lock.
unsafe impl Sync for Racy {}
// SAFETY: a plain u64: any bytes valid, no pointers, no Drop.
unsafe impl shmsync::ShmSafe for Racy {}

impl Racy {
    fn bump(&self) {
        let p = self.0.get();
        // SAFETY: the caller holds the lock that guards this counter.
        unsafe { std::ptr::write_volatile(p, std::ptr::read_volatile(p) + 1) };
    }
    fn get(&self) -> u64 {
        // SAFETY: read after every writer has been joined.
        unsafe { std::ptr::read_volatile(self.0.get()) }
    }
}

#[test]
fn four_processes_increment_exactly_400_000_times() {
    let _w = Watchdog::new("four_processes", PATIENCE);
    let lock = Lock::new().unwrap();
    let counter = Shared::new(Racy(UnsafeCell::new(0))).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..100_000 {
                    let _g = lock.lock().unwrap();
                    counter.bump();
                }
            })
            .unwrap()
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(counter.get(), 400_000);
    assert!(!lock.locked());
}

#[test]
fn lock_api_mutex_in_shared_memory_guards_data_across_processes() {
    let _w = Watchdog::new("lock_api_mutex", PATIENCE);
    let total = Shared::new(Mutex::new(0u64)).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..50_000 {
                    *total.lock() += 1;
                }
            })
            .unwrap()
        })
        .collect();
    for _ in 0..50_000 {
        *total.lock() += 1;
    }
    for child in &children {
        join_ok(child);
    }
    assert_eq!(*total.lock(), 150_000);
    assert!(total.try_lock_for(Duration::from_millis(1)).is_some());
}

#[test]
fn timed_acquire_of_a_held_lock_returns_false_after_the_timeout() {
    let _w = Watchdog::new("timed_acquire", PATIENCE);
    let lock = Lock::new().unwrap();
    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let holder = KillOnDrop(
        Process::spawn(|| {
            let _g = lock.lock().unwrap();
            ready.store(1, Ordering::Release);
            std::thread::sleep(Duration::from_secs(60));
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to hold the lock", || {
        ready.load(Ordering::Acquire) == 1
    });
    for asked in [Duration::from_millis(100), Duration::from_millis(30)] {
        let start = Instant::now();
        assert!(!lock.acquire(true, Some(asked)).unwrap());
        let took = start.elapsed();
        assert!(
            took >= asked,
            "gave up after {took:?}, before the {asked:?} asked"
        );
        assert!(
            took < asked + Duration::from_millis(400),
            "{asked:?} asked, took {took:?}"
        );
    }
    assert!(!lock.acquire(false, None).unwrap());
    assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        lock.try_lock_for(Duration::ZERO),
        Err(TryLockError::Timeout)
    ));
    drop(holder);
}

#[test]
fn a_lock_released_by_a_child_wakes_the_parent() {
    let _w = Watchdog::new("release_wakes", PATIENCE);
    let lock = Lock::new().unwrap();
    lock.acquire(true, None).unwrap();
    // Python semantics: any process may release a held Lock.
    let child = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        lock.release().unwrap();
    })
    .unwrap();
    assert!(lock.acquire(true, Some(PATIENCE)).unwrap());
    join_ok(&child);
    lock.release().unwrap();
}

#[test]
fn releasing_an_unlocked_lock_is_an_error() {
    let lock = Lock::new().unwrap();
    assert_eq!(lock.release(), Err(shmsync::raw::NotHeld));
    lock.acquire(true, None).unwrap();
    lock.release().unwrap();
    let err: shmsync::Error = lock.release().unwrap_err().into();
    assert_eq!(err.to_string(), "release of a lock that is not held");
}

#[test]
fn rlock_nests_1000_levels_deep() {
    let lock = RLock::new().unwrap();
    for depth in 1..=1000 {
        assert!(lock.acquire(false, None).unwrap());
        assert_eq!(lock.depth(), depth);
    }
    for depth in (0..1000).rev() {
        lock.release().unwrap();
        assert_eq!(lock.depth(), depth);
    }
    assert!(!lock.locked());
    assert!(lock.release().is_err());
}

#[test]
fn rlock_release_by_a_non_owner_is_an_error_in_another_thread_and_process() {
    let _w = Watchdog::new("rlock_non_owner", PATIENCE);
    let lock = RLock::new().unwrap();
    let guard = lock.lock().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(lock.release(), Err(shmsync::raw::NotOwner));
            assert_eq!(lock.depth(), 0);
            assert!(!lock.acquire(false, None).unwrap());
        });
    });
    let child = Process::spawn(|| {
        assert_eq!(lock.release(), Err(shmsync::raw::NotOwner));
        assert!(!lock.acquire(true, Some(Duration::from_millis(20))).unwrap());
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(lock.depth(), 1);
    drop(guard);
}

#[test]
fn rlock_excludes_other_processes_until_fully_released() {
    let _w = Watchdog::new("rlock_exclusion", PATIENCE);
    let lock = RLock::new().unwrap();
    let counter = Shared::new(Racy(UnsafeCell::new(0))).unwrap();
    let work = || {
        for _ in 0..20_000 {
            let _a = lock.lock().unwrap();
            let _b = lock.lock().unwrap();
            counter.bump();
        }
    };
    let children: Vec<_> = (0..2).map(|_| Process::spawn(work).unwrap()).collect();
    work();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(counter.get(), 60_000);
}

/// A child takes `raw`, reports it holds it, and sleeps until killed.
fn holder_that_will_be_killed(raw: &RawLock, ready: &AtomicU32) -> KillOnDrop {
    holder_of(
        || {
            let _ = raw.lock();
        },
        ready,
    )
}

/// A child takes locks with `take`, reports it holds them, and sleeps
/// until killed.
fn holder_of(take: impl FnOnce(), ready: &AtomicU32) -> KillOnDrop {
    let child = Process::spawn(|| {
        take();
        ready.store(1, Ordering::Release);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    })
    .unwrap();
    let child = KillOnDrop(child);
    wait_until(PATIENCE, "the child to take the lock", || {
        ready.load(Ordering::Acquire) == 1
    });
    child
}

#[test]
fn a_holder_killed_with_sigkill_gives_the_waiter_owner_died_within_a_second() {
    let _w = Watchdog::new("owner_died", PATIENCE);
    let lock = Lock::new().unwrap();
    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let holder = holder_that_will_be_killed(lock.raw(), &ready);
    assert!(lock.locked());

    // Not reaped yet: the dead holder is a zombie, which `kill(pid, 0)`
    // still reports as existing.
    holder.kill().unwrap();
    let start = Instant::now();
    let died = lock.try_lock_for(PATIENCE);
    let took = start.elapsed();
    let guard = match died {
        Err(TryLockError::OwnerDied(died)) => died.into_inner(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    assert!(
        took < Duration::from_secs(1),
        "owner death noticed after {took:?}"
    );
    assert!(lock.is_inconsistent());
    drop(guard);

    // Not marked consistent: the next acquirer is told too.
    let guard = lock.lock().expect_err("still inconsistent").into_inner();
    guard.mark_consistent();
    drop(guard);
    assert!(!lock.is_inconsistent());
    drop(lock.lock().expect("consistent again"));
    assert_eq!(join_within(&holder, PATIENCE), -libc::SIGKILL);
}

#[test]
fn a_holder_killed_with_sigkill_is_taken_over_by_tries_that_never_wait() {
    let _w = Watchdog::new("owner_died_try", PATIENCE);
    // Python's acquire(False), a try, a zero time-out, RLock's try: each
    // polled, as a program that never blocks would.
    let ways: [fn(&Lock, &RLock) -> bool; 4] = [
        |lock, _| lock.acquire(false, None).is_err(),
        |lock, _| matches!(lock.try_lock(), Err(TryLockError::OwnerDied(_))),
        |lock, _| {
            matches!(
                lock.try_lock_for(Duration::ZERO),
                Err(TryLockError::OwnerDied(_))
            )
        },
        |_, rlock| rlock.acquire(false, None).is_err(),
    ];
    for (i, way) in ways.iter().enumerate() {
        let (lock, rlock) = (Lock::new().unwrap(), RLock::new().unwrap());
        let ready = Shared::new(AtomicU32::new(0)).unwrap();
        let take = || {
            std::mem::forget(lock.lock());
            std::mem::forget(rlock.lock());
        };
        let holder = holder_of(take, &ready);
        assert!(!way(&lock, &rlock), "way {i}: taken from a live holder");
        holder.kill().unwrap();
        assert_eq!(join_within(&holder, PATIENCE), -libc::SIGKILL);
        // Another thread of this process spins on a lock held by a live
        // thread meanwhile: its failed tries must not use up this one's
        // asks of the kernel.
        let (busy, done) = (Lock::new().unwrap(), AtomicU32::new(0));
        let held = busy.lock().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                while done.load(Ordering::Relaxed) == 0 {
                    assert!(!busy.acquire(false, None).unwrap());
                }
            });
            let start = Instant::now();
            while !way(&lock, &rlock) {
                assert!(
                    start.elapsed() < Duration::from_millis(100),
                    "way {i}: still polling after 100 ms"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            done.store(1, Ordering::Relaxed);
        });
        drop(held);
    }
}

#[test]
fn a_sleeping_waiter_in_another_process_learns_of_the_death() {
    let _w = Watchdog::new("waiter_learns", PATIENCE);
    let lock = Lock::new().unwrap();
    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let verdict = Shared::new(AtomicU32::new(0)).unwrap();
    let holder = holder_that_will_be_killed(lock.raw(), &ready);
    let waiter = Process::spawn(|| {
        let outcome = match lock.acquire(true, Some(PATIENCE)) {
            Ok(true) => 1,
            Ok(false) => 2,
            Err(_owner_died) => 3,
        };
        verdict.store(outcome, Ordering::Release);
        lock.release().unwrap();
    })
    .unwrap();
    // Let the waiter go to sleep on the word before the holder dies.
    std::thread::sleep(Duration::from_millis(50));
    holder.kill().unwrap();
    assert_eq!(join_within(&waiter, Duration::from_secs(10)), 0);
    assert_eq!(
        verdict.load(Ordering::Acquire),
        3,
        "waiter should see OwnerDied"
    );
}

#[test]
fn a_thread_that_exits_holding_the_lock_is_noticed() {
    let _w = Watchdog::new("thread_exit", PATIENCE);
    let lock = Lock::new().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| std::mem::forget(lock.lock().unwrap()));
    });
    assert!(lock.locked());
    assert!(matches!(
        lock.try_lock_for(Duration::from_secs(5)),
        Err(TryLockError::OwnerDied(_))
    ));
}

#[test]
fn rlock_owner_death_restarts_at_depth_one() {
    let _w = Watchdog::new("rlock_owner_death", PATIENCE);
    let lock = RLock::new().unwrap();
    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            for _ in 0..3 {
                std::mem::forget(lock.lock().unwrap());
            }
            ready.store(1, Ordering::Release);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to own the rlock", || {
        ready.load(Ordering::Acquire) == 1
    });
    child.kill().unwrap();
    let guard = match lock.try_lock_for(PATIENCE) {
        Err(TryLockError::OwnerDied(d)) => d.into_inner(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    assert_eq!(lock.depth(), 1);
    guard.mark_consistent();
    drop(guard);
    assert!(!lock.locked());
}
