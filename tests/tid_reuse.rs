//! A recycled thread id never fakes ownership: a thread that finds its own
//! id in a lock word beside another thread's stamp knows the holder was an
//! earlier thread with that id, now dead. It takes the lock over with
//! `OwnerDied` (an `RLock` at depth 1, not at the dead thread's depth), and
//! before that it is not the owner (`NotOwner` for release, notify and
//! wait). First with exact bytes, then for real: a thread exits holding
//! locks, and another thread of the same process gets its id back. Every
//! wait is bounded.
//!
//! These fail on the old locks, which knew their owner by id alone: the
//! `RLock` handed the newcomer the dead thread's levels (`Ok(true)` at
//! depth 4), and a `Lock` refused (`WouldBlock`) or deadlocked its own
//! thread.

use shmsync::raw::NotOwner;
use shmsync::{
    Condition, ConditionError, Lock, Mutex, Process, RLock, Shared, ShmSafe, TryLockError,
};
use shmsync_testkit::{join_within, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod raw_bytes;
use raw_bytes::{gettid, lock_fields, my_stamp, rlock_count, rlock_inner, LockFields, WAITERS};

/// Stamps an earlier thread with the caller's id could have left behind.
fn other_stamps() -> Vec<u64> {
    let mine = my_stamp();
    [mine - 1, 0, 1, u64::MAX]
        .into_iter()
        .filter(|&stamp| stamp != mine)
        .collect()
}

/// Makes `fields` say: held by a thread with the caller's id and `stamp`.
fn plant_earlier_holder(fields: &LockFields<'_>, stamp: u64, flags: u32) {
    fields.stamp.store(stamp, Ordering::SeqCst);
    fields.word.store(gettid() | flags, Ordering::SeqCst);
}

/// An `RLock` that an earlier thread with the caller's id holds 3 levels
/// deep.
fn rlock_of_an_earlier_thread(stamp: u64) -> RLock {
    let lock = RLock::new().unwrap();
    plant_earlier_holder(&rlock_inner(lock.raw()), stamp, 0);
    rlock_count(lock.raw()).store(3, Ordering::SeqCst);
    lock
}

#[test]
fn an_rlock_naming_the_callers_id_with_another_stamp_is_taken_over_at_depth_one() {
    let _w = Watchdog::new("rlock_other_stamp", PATIENCE);
    for stamp in other_stamps() {
        let lock = rlock_of_an_earlier_thread(stamp);
        assert!(lock.locked());
        assert!(!lock.is_held_by_current_thread(), "stamp {stamp}");
        assert_eq!(lock.depth(), 0);
        assert_eq!(lock.release(), Err(NotOwner));
        assert_eq!(lock.raw().mark_consistent(), Err(NotOwner));
        assert!(
            lock.acquire(false, None).is_err(),
            "stamp {stamp}: the dead thread's levels were handed over"
        );
        assert_eq!(lock.depth(), 1);
        assert!(lock.is_inconsistent());
        lock.release().unwrap();
        assert!(!lock.locked());

        // Every other way in says the same. A guard is forgotten, so that
        // its level stays for the checks (and is released below).
        fn kept<G>(died: Result<G, TryLockError<G>>) -> bool {
            match died {
                Err(TryLockError::OwnerDied(died)) => {
                    std::mem::forget(died.into_inner());
                    true
                }
                _ => false,
            }
        }
        let ways: [fn(&RLock) -> bool; 5] = [
            |lock| lock.acquire(true, None).is_err(),
            |lock| lock.acquire(true, Some(PATIENCE)).is_err(),
            |lock| kept(lock.try_lock()),
            |lock| kept(lock.try_lock_for(PATIENCE)),
            |lock| kept(lock.lock().map_err(TryLockError::OwnerDied)),
        ];
        for (i, way) in ways.iter().enumerate() {
            let lock = rlock_of_an_earlier_thread(stamp);
            assert!(way(&lock), "stamp {stamp}, way {i}");
            assert_eq!(lock.depth(), 1, "stamp {stamp}, way {i}");
            lock.release().unwrap();
            assert!(!lock.locked(), "stamp {stamp}, way {i}");
        }
    }
}

#[test]
fn a_lock_naming_the_callers_id_with_another_stamp_is_taken_over_with_owner_died() {
    let _w = Watchdog::new("lock_other_stamp", PATIENCE);
    for stamp in other_stamps() {
        for flags in [0, WAITERS] {
            let lock = Lock::new().unwrap();
            plant_earlier_holder(&lock_fields(lock.raw()), stamp, flags);
            assert!(!lock.is_held_by_current_thread());
            assert_eq!(lock.raw().current_hold(), None);
            let guard = match lock.try_lock() {
                Err(TryLockError::OwnerDied(died)) => died.into_inner(),
                other => panic!("stamp {stamp}: expected OwnerDied, got {other:?}"),
            };
            assert!(lock.is_held_by_current_thread());
            assert!(lock.is_inconsistent());
            drop(guard);
            assert!(!lock.locked());

            let lock = Lock::new().unwrap();
            plant_earlier_holder(&lock_fields(lock.raw()), stamp, flags);
            let start = Instant::now();
            assert!(lock.lock().is_err(), "stamp {stamp}: expected OwnerDied");
            assert!(start.elapsed() < Duration::from_secs(1));
            assert!(!lock.locked(), "the guard in the error was dropped");

            let lock = Lock::new().unwrap();
            plant_earlier_holder(&lock_fields(lock.raw()), stamp, flags);
            assert!(lock.acquire(false, None).is_err(), "stamp {stamp}");
            assert!(lock.is_held_by_current_thread());
            lock.release().unwrap();
        }
    }
}

#[test]
fn a_lock_api_mutex_naming_the_callers_id_with_another_stamp_is_granted_to_it() {
    let mutex = Shared::new(Mutex::new(7u64)).unwrap();
    // SAFETY: only reads the raw lock's state and plants bytes in it; no
    // guard exists yet.
    let raw = unsafe { mutex.raw() };
    plant_earlier_holder(&lock_fields(raw), my_stamp() - 1, 0);
    let guard = mutex
        .try_lock()
        .expect("the earlier thread is gone: taken over");
    assert_eq!(*guard, 7);
    assert!(
        raw.is_inconsistent(),
        "lock_api cannot say OwnerDied; the lock can"
    );
    drop(guard);
    assert!(!mutex.is_locked());
}

#[test]
fn a_condition_whose_lock_names_the_callers_id_with_another_stamp_is_not_the_callers() {
    let _w = Watchdog::new("condition_other_stamp", PATIENCE);
    let cond = Condition::new().unwrap();
    plant_earlier_holder(&rlock_inner(cond.lock_handle().raw()), my_stamp() - 1, 0);
    rlock_count(cond.lock_handle().raw()).store(3, Ordering::SeqCst);

    assert!(!cond.is_held_by_current_thread());
    assert_eq!(cond.notify_one(), Err(NotOwner));
    assert_eq!(cond.notify_all(), Err(NotOwner));
    assert_eq!(
        cond.wait(Some(Duration::ZERO)),
        Err(ConditionError::NotOwner)
    );
    assert_eq!(cond.release(), Err(NotOwner));
    assert_eq!(
        cond.n_waiting(),
        0,
        "a refused wait leaves no waiter behind"
    );

    assert!(cond.acquire(false, None).is_err(), "expected OwnerDied");
    assert_eq!(cond.lock_handle().depth(), 1);
    cond.notify_one().unwrap();
    // Until someone marks it consistent, taking the lock back after a wait
    // says so too.
    assert_eq!(
        cond.wait(Some(Duration::from_millis(1))),
        Err(ConditionError::OwnerDied { notified: false })
    );
    cond.lock_handle().raw().mark_consistent().unwrap();
    assert_eq!(cond.wait(Some(Duration::from_millis(1))), Ok(false));
    assert_eq!(cond.lock_handle().depth(), 1);
    cond.release().unwrap();
    assert!(!cond.lock_handle().locked());
}

/// How a Python-style `acquire` went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Acquired,
    TimedOut,
    OwnerDied,
}

fn outcome(result: Result<bool, shmsync::OwnerDied>) -> Outcome {
    match result {
        Ok(true) => Outcome::Acquired,
        Ok(false) => Outcome::TimedOut,
        Err(_) => Outcome::OwnerDied,
    }
}

/// The exit code of a child whose dead thread's id never came back.
const NOT_REUSED: i32 = 77;

/// How long the child looks for a thread with the dead thread's id.
const SEARCH: Duration = Duration::from_secs(30);

/// What the reusing thread is asked to do.
enum Order {
    Acquire,
    ExitHolding,
}

/// What the reusing thread saw: depth and ownership before acquiring, the
/// acquisition, and the depth after.
type Report = (u32, bool, Outcome, u32);

/// What the child tells the parent: how many threads it spawned until the
/// id came back, and how another thread's wait on `b` went while the id
/// lived on (1: timed out, 2: took it over).
#[repr(C)]
struct Stats {
    spawned: AtomicU32,
    b_waited: AtomicU32,
}
// SAFETY: two atomics: no pointers, any bytes valid, no Drop.
unsafe impl ShmSafe for Stats {}

/// Runs in a child process: a thread takes `a` and `b` and exits holding
/// them; short-lived threads are spawned until one has the dead thread's
/// id (at most [`SEARCH`]), and that thread and others then use the locks.
fn reuse_in_this_process(a: &RLock, b: &RLock, stats: &Stats) {
    std::thread::scope(|s| {
        let dead = s
            .spawn(|| {
                assert!(a.acquire(true, None).unwrap());
                assert!(a.acquire(true, None).unwrap());
                assert!(b.acquire(true, None).unwrap());
                gettid()
            })
            .join()
            .unwrap();
        assert_eq!(a.raw().holder_tid(), Some(dead));

        // Look for a thread with the same id.
        let deadline = Instant::now() + SEARCH;
        let mut spawned = 0u32;
        let (orders, reports) = loop {
            if Instant::now() > deadline {
                stats.spawned.store(spawned, Ordering::SeqCst);
                std::process::exit(NOT_REUSED);
            }
            let (found_tx, found_rx) = mpsc::channel();
            let (order_tx, order_rx) = mpsc::channel();
            let (report_tx, report_rx) = mpsc::channel::<Report>();
            let thread = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, move || {
                    let reused = gettid() == dead;
                    found_tx.send(reused).unwrap();
                    if !reused {
                        return;
                    }
                    while let Ok(order) = order_rx.recv_timeout(PATIENCE) {
                        match order {
                            Order::Acquire => {
                                let before = (a.depth(), a.is_held_by_current_thread());
                                let got = outcome(a.acquire(false, None));
                                report_tx
                                    .send((before.0, before.1, got, a.depth()))
                                    .unwrap();
                            }
                            // Leaves `a` held, `b` untouched.
                            Order::ExitHolding => return,
                        }
                    }
                })
                .unwrap();
            spawned += 1;
            if found_rx.recv_timeout(PATIENCE).unwrap() {
                stats.spawned.store(spawned, Ordering::SeqCst);
                break (order_tx, (report_rx, thread));
            }
            thread.join().unwrap();
        };
        let (reports, reuser) = reports;

        // While the reuser lives, another thread cannot tell the dead
        // holder of `b` from it: it may wait in vain (the known limit:
        // reuse delays the verdict) or, were it able to tell, take the
        // lock over. It is never simply granted the lock.
        let waited = s
            .spawn(|| outcome(b.acquire(true, Some(Duration::from_millis(300)))))
            .join()
            .unwrap();
        assert_ne!(
            waited,
            Outcome::Acquired,
            "b granted while its holder's id lives on"
        );
        let b_taken = waited == Outcome::OwnerDied;
        stats
            .b_waited
            .store(1 + u32::from(b_taken), Ordering::SeqCst);

        // The reuser is not the owner of `a`: it takes it over at depth 1.
        orders.send(Order::Acquire).unwrap();
        let report = reports.recv_timeout(PATIENCE).unwrap();
        assert_eq!(
            report,
            (0, false, Outcome::OwnerDied, 1),
            "the reuser's view (depth, owner?) before, its acquire, its depth after"
        );

        // While the reuser holds `a`, nobody else gets it.
        let waited = s
            .spawn(|| outcome(a.acquire(true, Some(Duration::from_millis(200)))))
            .join()
            .unwrap();
        assert_eq!(
            waited,
            Outcome::TimedOut,
            "a granted while the reuser holds it"
        );

        // The reuser exits holding `a`: the next waiter is told, promptly.
        orders.send(Order::ExitHolding).unwrap();
        reuser.join().unwrap();
        for lock in if b_taken { vec![a] } else { vec![a, b] } {
            let (got, took) = s
                .spawn(move || {
                    let start = Instant::now();
                    let got = outcome(lock.acquire(true, Some(PATIENCE)));
                    let took = start.elapsed();
                    let depth = lock.depth();
                    lock.release().unwrap();
                    assert_eq!(depth, 1);
                    (got, took)
                })
                .join()
                .unwrap();
            assert_eq!(got, Outcome::OwnerDied);
            assert!(
                took < Duration::from_secs(5),
                "the death was noticed after {took:?}"
            );
        }
    });
}

#[test]
fn a_thread_that_inherits_a_dead_holders_id_is_told_owner_died_and_is_never_granted_its_levels() {
    let _w = Watchdog::new("tid_reuse", Duration::from_secs(120));
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX);
    if pid_max > 65_536 {
        eprintln!("note: pid_max is {pid_max}: waiting for a thread id to come back would take too long; test skipped");
        return;
    }
    let a = RLock::new().unwrap();
    let b = RLock::new().unwrap();
    let stats = Shared::new(Stats {
        spawned: AtomicU32::new(0),
        b_waited: AtomicU32::new(0),
    })
    .unwrap();
    let child = KillOnDrop(Process::spawn(|| reuse_in_this_process(&a, &b, &stats)).unwrap());
    let code = join_within(&child, Duration::from_secs(100));
    let spawned = stats.spawned.load(Ordering::SeqCst);
    match code {
        0 => eprintln!(
            "the id came back after {spawned} threads; another thread's wait on b meanwhile {}",
            ["did not end", "timed out", "took b over"][stats.b_waited.load(Ordering::SeqCst).min(2) as usize]
        ),
        NOT_REUSED => eprintln!(
            "note: the dead thread's id never came back ({spawned} threads in {SEARCH:?}); test skipped"
        ),
        code => panic!("the child failed with exit code {code} (its message is above)"),
    }
}
