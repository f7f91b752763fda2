//! `Condition` over a `Lock` and over an `RLock`, across real processes:
//! timed waits, `wait_for`, how many waiters `notify(n)` wakes and which,
//! ownership errors, recursive locks, and waiters that die. Every wait is
//! bounded.

use shmsync::raw::Lockable;
use shmsync::{Condition, ConditionError, Lock, Process, RLock, Shared, SharedLock, ShmSafe};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How much longer than asked a timed wait may take on a loaded machine
/// before we call it broken.
const SLACK: Duration = Duration::from_secs(1);

/// How long "still waiting" must hold before we believe it.
const A_WHILE: Duration = Duration::from_millis(200);

/// What a child's wait returned: not yet, true, false.
const PENDING: u32 = 0;
const TRUE: u32 = 1;
const FALSE: u32 = 2;

/// Runs `body` with a condition over each kind of lock, named for
/// messages: Python's default (an `RLock`) and a plain `Lock`.
macro_rules! for_each_kind {
    (|$kind:ident, $cond:ident| $body:block) => {{
        {
            let $kind = "RLock";
            let $cond = Condition::new().unwrap();
            $body
        }
        {
            let $kind = "Lock";
            let $cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
            $body
        }
    }};
}

/// Waits in `n` children: each bumps `started`, takes the lock, waits up
/// to `PATIENCE`, records what the wait returned in `results[i]`, and bumps
/// `woken`.
fn waiters<'a, R: Lockable + ShmSafe>(
    n: usize,
    cond: &'a Condition<SharedLock<R>>,
    started: &'a AtomicU32,
    woken: &'a AtomicU32,
    results: &'a [AtomicU32],
) -> Vec<KillOnDrop> {
    (0..n)
        .map(|i| {
            KillOnDrop(
                Process::spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    let _held = cond.lock().unwrap();
                    let notified = cond.wait(Some(PATIENCE)).unwrap();
                    results[i].store(if notified { TRUE } else { FALSE }, Ordering::SeqCst);
                    woken.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap(),
            )
        })
        .collect()
}

/// Waits until `n` threads wait on `cond` with no wake-up handed to them,
/// then takes the lock and gives it back: every waiter counted has let go
/// of the lock by then (they are counted under it), so each is asleep or
/// about to be.
#[track_caller]
fn wait_for_waiters<R: Lockable + ShmSafe>(cond: &Condition<SharedLock<R>>, n: u32) {
    wait_until(PATIENCE, "the children to wait on the condition", || {
        cond.raw().waiting() == n
    });
    drop(cond.lock().unwrap());
}

/// Notifies `n` (`u32::MAX`: all) from a child, so a notify that hangs
/// fails the test instead of hanging it; returns how long the notify took.
#[track_caller]
fn notify_from_a_child<R: Lockable + ShmSafe>(cond: &Condition<SharedLock<R>>, n: u32) -> Duration {
    let took_us = Shared::new(AtomicU32::new(u32::MAX)).unwrap();
    let notifier = Process::spawn(|| {
        let _held = cond.lock().unwrap();
        let start = Instant::now();
        if n == u32::MAX {
            cond.notify_all().unwrap();
        } else {
            cond.notify(n).unwrap();
        }
        took_us.store(start.elapsed().as_micros() as u32, Ordering::SeqCst);
    })
    .unwrap();
    assert_eq!(
        join_within(&notifier, Duration::from_secs(10)),
        0,
        "the notifier failed"
    );
    Duration::from_micros(u64::from(took_us.load(Ordering::SeqCst)))
}

/// Asserts that `woken` reaches `n` and then stays there for a while.
#[track_caller]
fn assert_exactly_woken(woken: &AtomicU32, n: u32, what: &str) {
    wait_until(PATIENCE, what, || woken.load(Ordering::SeqCst) >= n);
    std::thread::sleep(A_WHILE);
    assert_eq!(woken.load(Ordering::SeqCst), n, "{what}: too many woke");
}

#[test]
fn wait_with_a_timeout_returns_false_when_it_timed_out_and_holds_the_lock_again() {
    let _w = Watchdog::new("wait_timeout", PATIENCE);
    for_each_kind!(|kind, cond| {
        let held = cond.lock().unwrap();
        for asked in [Duration::from_millis(100), Duration::from_millis(30)] {
            let start = Instant::now();
            assert_eq!(cond.wait(Some(asked)), Ok(false), "{kind}");
            let took = start.elapsed();
            assert!(took >= asked, "{kind}: gave up after {took:?} < {asked:?}");
            assert!(
                took < asked + SLACK,
                "{kind}: {asked:?} asked, took {took:?}"
            );
        }
        let start = Instant::now();
        assert_eq!(cond.wait(Some(Duration::ZERO)), Ok(false), "{kind}");
        assert!(start.elapsed() < SLACK);
        assert_eq!(
            cond.raw().waiting(),
            0,
            "{kind}: a timed-out waiter is still counted"
        );

        // The lock was taken back: another process cannot have it.
        let child = Process::spawn(|| {
            assert!(!cond.acquire(false, None).unwrap());
            assert!(!cond.acquire(true, Some(Duration::from_millis(10))).unwrap());
        })
        .unwrap();
        join_ok(&child);
        drop(held);
        let child = Process::spawn(|| {
            assert!(cond.acquire(false, None).unwrap());
            cond.release().unwrap();
        })
        .unwrap();
        join_ok(&child);
    });
}

#[test]
fn a_notify_from_another_process_ends_the_wait_with_true() {
    let _w = Watchdog::new("notify_from_child", PATIENCE);
    for_each_kind!(|kind, cond| {
        let notifier = KillOnDrop(
            Process::spawn(|| {
                let start = Instant::now();
                while cond.raw().waiting() == 0 && start.elapsed() < PATIENCE {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let _held = cond.lock().unwrap();
                cond.notify(1).unwrap();
            })
            .unwrap(),
        );
        let held = cond.lock().unwrap();
        assert_eq!(cond.wait(Some(PATIENCE)), Ok(true), "{kind}");
        drop(held);
        join_ok(&notifier);

        // The same through the untimed wait.
        let notifier = KillOnDrop(
            Process::spawn(|| {
                let start = Instant::now();
                while cond.raw().waiting() == 0 && start.elapsed() < PATIENCE {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let _held = cond.lock().unwrap();
                cond.notify_all().unwrap();
            })
            .unwrap(),
        );
        let held = cond.lock().unwrap();
        assert_eq!(cond.wait(None), Ok(true), "{kind}");
        drop(held);
        join_ok(&notifier);
    });
}

#[test]
fn notify_2_wakes_exactly_two_of_six_waiting_processes_and_notify_4_the_rest() {
    let _w = Watchdog::new("notify_two_of_six", PATIENCE);
    for_each_kind!(|kind, cond| {
        let started = Shared::new(AtomicU32::new(0)).unwrap();
        let woken = Shared::new(AtomicU32::new(0)).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 6]).unwrap();
        let children = waiters(6, &cond, &started, &woken, &results[..]);
        wait_for_waiters(&cond, 6);

        {
            let _held = cond.lock().unwrap();
            cond.notify(2).unwrap();
            assert_eq!(cond.raw().waiting(), 4, "{kind}");
        }
        assert_exactly_woken(&woken, 2, kind);
        assert_eq!(cond.raw().waiting(), 4, "{kind}: the other four wait on");
        let returned = || children.iter().filter(|c| !c.is_alive()).count();
        wait_until(PATIENCE, "the two woken children to exit", || {
            returned() >= 2
        });
        assert_eq!(returned(), 2, "{kind}: exactly two children have returned");

        {
            let _held = cond.lock().unwrap();
            cond.notify(4).unwrap();
        }
        for child in &children {
            assert_eq!(join_within(child, Duration::from_secs(10)), 0, "{kind}");
        }
        assert_eq!(woken.load(Ordering::SeqCst), 6, "{kind}");
        assert!(
            results.iter().all(|r| r.load(Ordering::SeqCst) == TRUE),
            "{kind}: every wait ended notified"
        );
        assert_eq!(cond.raw().waiting(), 0, "{kind}");
    });
}

#[test]
fn notify_all_wakes_every_waiting_process() {
    let _w = Watchdog::new("notify_all", PATIENCE);
    for_each_kind!(|kind, cond| {
        let started = Shared::new(AtomicU32::new(0)).unwrap();
        let woken = Shared::new(AtomicU32::new(0)).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 5]).unwrap();
        let children = waiters(5, &cond, &started, &woken, &results[..]);
        wait_for_waiters(&cond, 5);
        {
            let _held = cond.lock().unwrap();
            cond.notify_all().unwrap();
            assert_eq!(cond.raw().waiting(), 0, "{kind}");
        }
        for child in &children {
            assert_eq!(join_within(child, Duration::from_secs(10)), 0, "{kind}");
        }
        assert!(results.iter().all(|r| r.load(Ordering::SeqCst) == TRUE));
    });
}

#[test]
fn a_notify_with_nobody_waiting_is_not_remembered_for_later_waiters() {
    let _w = Watchdog::new("notify_not_remembered", PATIENCE);
    for_each_kind!(|kind, cond| {
        {
            let _held = cond.lock().unwrap();
            cond.notify(1).unwrap();
            cond.notify_all().unwrap();
            let start = Instant::now();
            assert_eq!(
                cond.wait(Some(Duration::from_millis(50))),
                Ok(false),
                "{kind}"
            );
            assert!(start.elapsed() >= Duration::from_millis(50));
        }

        // Nor one from another process.
        let child = Process::spawn(|| {
            let _held = cond.lock().unwrap();
            cond.notify(3).unwrap();
            cond.notify_all().unwrap();
        })
        .unwrap();
        join_ok(&child);
        let held = cond.lock().unwrap();
        assert_eq!(
            cond.wait(Some(Duration::from_millis(50))),
            Ok(false),
            "{kind}"
        );

        // And a waiter in another process is not woken by it either.
        let started = Shared::new(AtomicU32::new(0)).unwrap();
        let woken = Shared::new(AtomicU32::new(0)).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 1]).unwrap();
        cond.notify_all().unwrap();
        drop(held);
        let child = waiters(1, &cond, &started, &woken, &results[..]);
        wait_for_waiters(&cond, 1);
        std::thread::sleep(A_WHILE);
        assert_eq!(
            woken.load(Ordering::SeqCst),
            0,
            "{kind}: an old notify woke it"
        );
        {
            let _held = cond.lock().unwrap();
            cond.notify(1).unwrap();
        }
        assert_eq!(join_within(&child[0], Duration::from_secs(10)), 0);
        assert_eq!(results[0].load(Ordering::SeqCst), TRUE);
    });
}

#[test]
fn notify_reaches_only_processes_that_were_waiting_when_it_was_called() {
    let _w = Watchdog::new("notify_only_current", PATIENCE);
    for_each_kind!(|kind, cond| {
        let started = Shared::new(AtomicU32::new(0)).unwrap();
        let woken = Shared::new(AtomicU32::new(0)).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
        let first = waiters(1, &cond, &started, &woken, &results[..1]);
        wait_for_waiters(&cond, 1);

        let held = cond.lock().unwrap();
        // The second child queues for the lock behind us: it can only start
        // waiting after the notify below, racing the first for the lock.
        let second = waiters(1, &cond, &started, &woken, &results[1..]);
        wait_until(PATIENCE, "the second child to start", || {
            started.load(Ordering::SeqCst) == 2
        });
        cond.notify(1).unwrap();
        drop(held);

        assert_eq!(join_within(&first[0], Duration::from_secs(10)), 0, "{kind}");
        assert_eq!(results[0].load(Ordering::SeqCst), TRUE);
        wait_until(PATIENCE, "the second child to wait", || {
            cond.raw().waiting() == 1
        });
        assert_exactly_woken(&woken, 1, kind);
        assert!(
            second[0].is_alive(),
            "{kind}: a later waiter took an earlier notify"
        );

        {
            let _held = cond.lock().unwrap();
            cond.notify(1).unwrap();
        }
        assert_eq!(
            join_within(&second[0], Duration::from_secs(10)),
            0,
            "{kind}"
        );
        assert_eq!(results[1].load(Ordering::SeqCst), TRUE);
    });
}

#[test]
fn wait_for_returns_the_predicates_last_value() {
    let _w = Watchdog::new("wait_for", PATIENCE);
    for_each_kind!(|kind, cond| {
        let value = Shared::new(AtomicU32::new(0)).unwrap();
        let held = cond.lock().unwrap();

        // True already: no waiting at all, even with no time to wait.
        let mut calls = 0;
        let start = Instant::now();
        let ok = cond.wait_for(
            || {
                calls += 1;
                true
            },
            Some(Duration::ZERO),
        );
        assert_eq!(ok, Ok(true), "{kind}");
        assert_eq!(calls, 1);
        assert!(start.elapsed() < SLACK);

        // Never true: false, after no less than the timeout.
        let mut calls = 0;
        let start = Instant::now();
        let ok = cond.wait_for(
            || {
                calls += 1;
                false
            },
            Some(Duration::from_millis(60)),
        );
        assert_eq!(ok, Ok(false), "{kind}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(60),
            "{kind}: gave up after {took:?}"
        );
        assert!(
            took < Duration::from_millis(60) + SLACK,
            "{kind}: took {took:?}"
        );
        assert!(calls >= 2, "{kind}: predicate called {calls} times");

        // Made true by another process, one notified step at a time.
        let child = KillOnDrop(
            Process::spawn(|| {
                for _ in 0..3 {
                    let start = Instant::now();
                    while cond.raw().waiting() == 0 && start.elapsed() < PATIENCE {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    let _held = cond.lock().unwrap();
                    value.fetch_add(1, Ordering::SeqCst);
                    cond.notify_all().unwrap();
                }
            })
            .unwrap(),
        );
        let mut seen = Vec::new();
        let ok = cond.wait_for(
            || {
                let v = value.load(Ordering::SeqCst);
                seen.push(v);
                v == 3
            },
            Some(PATIENCE),
        );
        assert_eq!(ok, Ok(true), "{kind}");
        assert_eq!(seen, [0, 1, 2, 3], "{kind}: one call per notify");
        drop(held);
        join_ok(&child);

        // Not true by the deadline although notified: the last value, false.
        let done = Shared::new(AtomicU32::new(0)).unwrap();
        let held = cond.lock().unwrap();
        let child = KillOnDrop(
            Process::spawn(|| {
                while cond.raw().waiting() == 0 && done.load(Ordering::SeqCst) == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let _held = cond.lock().unwrap();
                value.store(4, Ordering::SeqCst);
                cond.notify_all().unwrap();
            })
            .unwrap(),
        );
        let ok = cond.wait_for(
            || value.load(Ordering::SeqCst) == 5,
            Some(Duration::from_millis(300)),
        );
        assert_eq!(ok, Ok(false), "{kind}");
        done.store(1, Ordering::SeqCst);
        drop(held);
        join_ok(&child);
        assert_eq!(value.load(Ordering::SeqCst), 4);
    });
}

#[test]
fn waiting_or_notifying_without_holding_the_lock_is_an_error() {
    let _w = Watchdog::new("not_owner", PATIENCE);
    for_each_kind!(|kind, cond| {
        let not_owner = |cond: &Condition<_>| {
            assert_eq!(
                cond.wait(Some(Duration::from_millis(1))),
                Err(ConditionError::NotOwner),
                "{kind}"
            );
            assert_eq!(cond.wait(None), Err(ConditionError::NotOwner), "{kind}");
            assert_eq!(
                cond.wait_for(|| false, Some(Duration::from_millis(1))),
                Err(ConditionError::NotOwner),
                "{kind}"
            );
            assert_eq!(cond.notify(1), Err(shmsync::raw::NotOwner), "{kind}");
            assert_eq!(cond.notify_all(), Err(shmsync::raw::NotOwner), "{kind}");
            assert_eq!(cond.release(), Err(shmsync::raw::NotOwner), "{kind}");
            assert_eq!(
                cond.raw().waiting(),
                0,
                "{kind}: a refused wait was counted"
            );
        };

        // Nobody holds it.
        not_owner(&cond);
        let child = Process::spawn(|| not_owner(&cond)).unwrap();
        join_ok(&child);

        // Another thread, or another process, holds it.
        let held = cond.lock().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| not_owner(&cond));
        });
        let child = Process::spawn(|| not_owner(&cond)).unwrap();
        join_ok(&child);
        // The holder still can.
        cond.notify(1).unwrap();
        assert_eq!(cond.wait(Some(Duration::ZERO)), Ok(false));
        drop(held);

        let err: shmsync::Error = ConditionError::NotOwner.into();
        assert!(matches!(err, shmsync::Error::NotOwner), "{err:?}");
        assert!(!ConditionError::NotOwner.to_string().is_empty());
    });
}

#[test]
fn waiting_on_an_rlock_held_three_deep_releases_every_level_and_restores_them() {
    let _w = Watchdog::new("rlock_depth", PATIENCE);
    let rlock = RLock::new().unwrap();
    let cond = Condition::with_lock(rlock.clone()).unwrap();
    let inside = Shared::new(AtomicU32::new(0)).unwrap();
    let child_depth = Shared::new(AtomicU32::new(u32::MAX)).unwrap();

    let levels = [
        cond.lock().unwrap(),
        cond.lock().unwrap(),
        cond.lock().unwrap(),
    ];
    assert_eq!(rlock.depth(), 3);
    // The child can get the lock only while the parent's wait has let go
    // of all three levels.
    let child = KillOnDrop(
        Process::spawn(|| {
            let _held = cond.lock().unwrap();
            child_depth.store(rlock.depth(), Ordering::SeqCst);
            inside.store(1, Ordering::SeqCst);
            cond.notify_all().unwrap();
        })
        .unwrap(),
    );
    let ok = cond.wait_for(
        || inside.load(Ordering::SeqCst) == 1,
        Some(Duration::from_secs(20)),
    );
    assert_eq!(ok, Ok(true), "the child never got the lock during the wait");
    assert_eq!(rlock.depth(), 3, "the wait restored every level");
    assert_eq!(child_depth.load(Ordering::SeqCst), 1);
    join_ok(&child);

    // A wait that times out restores them too.
    assert_eq!(cond.wait(Some(Duration::from_millis(10))), Ok(false));
    assert_eq!(rlock.depth(), 3);
    drop(levels);
    assert_eq!(rlock.depth(), 0);
    assert!(!rlock.locked());
}

#[test]
fn a_lock_condition_waiter_lets_another_process_take_the_lock_and_gets_it_back() {
    let _w = Watchdog::new("lock_released_in_wait", PATIENCE);
    let lock = Lock::new().unwrap();
    let cond = Condition::with_lock(lock.clone()).unwrap();
    let inside = Shared::new(AtomicU32::new(0)).unwrap();
    let held = cond.lock().unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let _held = cond.lock().unwrap();
            inside.store(1, Ordering::SeqCst);
            cond.notify(1).unwrap();
        })
        .unwrap(),
    );
    let ok = cond.wait_for(
        || inside.load(Ordering::SeqCst) == 1,
        Some(Duration::from_secs(20)),
    );
    assert_eq!(ok, Ok(true));
    assert!(lock.raw().is_held_by_current_thread());
    join_ok(&child);
    drop(held);
    assert!(!lock.locked());
}

// On the pthread backend the notifier hangs: glibc's
// `pthread_cond_broadcast` waits in `__condvar_quiesce_and_switch_g1` for
// the dead waiter to leave its group, forever.
#[test]
fn a_waiter_killed_in_its_sleep_neither_hangs_the_notifier_nor_keeps_live_waiters_asleep() {
    let _w = Watchdog::new("killed_waiter", PATIENCE);
    for_each_kind!(|kind, cond| {
        let started = Shared::new(AtomicU32::new(0)).unwrap();
        let woken = Shared::new(AtomicU32::new(0)).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 3]).unwrap();
        let children = waiters(3, &cond, &started, &woken, &results[..]);
        wait_for_waiters(&cond, 3);
        {
            // Holding the lock: the victim is certainly not holding it.
            let _held = cond.lock().unwrap();
            children[0].kill().unwrap();
            assert_eq!(join_within(&children[0], PATIENCE), -libc::SIGKILL);
        }

        // One wake-up: it must reach a live waiter, not the dead one.
        let took = notify_from_a_child(&cond, 1);
        assert!(took < SLACK, "{kind}: notify(1) took {took:?}");
        assert_exactly_woken(&woken, 1, kind);

        let took = notify_from_a_child(&cond, u32::MAX);
        assert!(took < SLACK, "{kind}: notify_all took {took:?}");
        for child in &children[1..] {
            assert_eq!(join_within(child, Duration::from_secs(10)), 0, "{kind}");
        }
        assert_eq!(woken.load(Ordering::SeqCst), 2, "{kind}");
        assert!(results[1..]
            .iter()
            .all(|r| r.load(Ordering::SeqCst) == TRUE));

        // The condition still works for new waiters.
        let started = Shared::new(AtomicU32::new(0)).unwrap();
        let woken = Shared::new(AtomicU32::new(0)).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
        let children = waiters(2, &cond, &started, &woken, &results[..]);
        wait_for_waiters(&cond, 2);
        let took = notify_from_a_child(&cond, u32::MAX);
        assert!(took < SLACK, "{kind}: notify_all took {took:?}");
        for child in &children {
            assert_eq!(join_within(child, Duration::from_secs(10)), 0, "{kind}");
        }
    });
}

/// The documented cost of a waiter's death: the wake-up a notify hands to
/// the dead can go to a later waiter, so one later notify may wake one more
/// than asked. Never fewer, and nobody hangs.
#[test]
fn after_a_waiter_died_notify_1_wakes_at_most_one_extra_later_waiter() {
    let _w = Watchdog::new("dead_waiter_token", PATIENCE);
    let cond = Condition::new().unwrap();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let woken = Shared::new(AtomicU32::new(0)).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();

    let victim = waiters(1, &cond, &started, &woken, &results[..1]);
    wait_for_waiters(&cond, 1);
    {
        let _held = cond.lock().unwrap();
        victim[0].kill().unwrap();
        assert_eq!(join_within(&victim[0], PATIENCE), -libc::SIGKILL);
    }
    // Python would hang here; we hand the dead waiter its wake-up.
    notify_from_a_child(&cond, 1);

    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let later = waiters(2, &cond, &started, &woken, &results[..]);
    wait_for_waiters(&cond, 2);
    notify_from_a_child(&cond, 1);
    wait_until(PATIENCE, "a waiter to wake", || {
        woken.load(Ordering::SeqCst) >= 1
    });
    std::thread::sleep(A_WHILE);
    let extra = woken.load(Ordering::SeqCst);
    assert!(
        (1..=2).contains(&extra),
        "notify(1) after one death woke {extra}"
    );
    notify_from_a_child(&cond, u32::MAX);
    for child in &later {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
}
