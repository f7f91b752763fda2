//! Loom models of `RawCondition`: no lost wake-up, `notify(n)` wakes no more
//! than `n`, and a notify is not remembered for later waiters.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use shmsync::raw::{RawCondition, RawLock, RawRLock};
use shmsync::Deadline;

struct State {
    lock: RawLock,
    cond: RawCondition,
    ready: AtomicBool,
    notified: AtomicBool,
    returned: AtomicU32,
}

fn state() -> Arc<State> {
    Arc::new(State {
        lock: RawLock::new(),
        cond: RawCondition::new(),
        ready: AtomicBool::new(false),
        notified: AtomicBool::new(false),
        returned: AtomicU32::new(0),
    })
}

/// The classic predicate loop: the waiter must see `ready` whichever way
/// the notify races with its going to sleep.
#[test]
fn a_notify_is_never_lost() {
    loom::model(|| {
        let s = state();
        let waiter = {
            let s = s.clone();
            thread::spawn(move || {
                let held = s.lock.lock();
                while !s.ready.load(Ordering::Relaxed) {
                    let _ = s.cond.wait(&s.lock).unwrap();
                }
                s.lock.unlock(held.hold).unwrap();
            })
        };
        let held = s.lock.lock();
        s.ready.store(true, Ordering::Relaxed);
        s.cond.notify(&s.lock, 1).unwrap();
        s.lock.unlock(held.hold).unwrap();
        waiter.join().unwrap();
    });
}

/// Two waiters and a `notify(1)` at any moment: no more waiters return
/// from that notify than it handed wake-ups to (at most one). Then
/// `released` and `notify_all` let everyone go.
#[test]
fn notify_n_wakes_no_more_than_n() {
    loom::model(|| {
        let s = state();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let held = s.lock.lock();
                    // Whether this waiter starts after the notify(1).
                    let late = s.notified.load(Ordering::Relaxed);
                    while !s.ready.load(Ordering::Relaxed) {
                        let waited = s.cond.wait(&s.lock).unwrap();
                        assert!(waited.notified);
                        if !s.ready.load(Ordering::Relaxed) {
                            // Woken by the notify(1), before the release:
                            // it must have been waiting when it came.
                            assert!(!late, "a notify woke a later waiter");
                            s.returned.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                    }
                    s.lock.unlock(held.hold).unwrap();
                })
            })
            .collect();
        let held = s.lock.lock();
        let handed = s.cond.notify(&s.lock, 1).unwrap();
        s.notified.store(true, Ordering::Relaxed);
        assert!(handed <= 1);
        s.lock.unlock(held.hold).unwrap();

        let held = s.lock.lock();
        let returned = s.returned.load(Ordering::Relaxed);
        assert!(
            returned <= handed,
            "notify(1) handed {handed} wake-ups, {returned} returned"
        );
        s.ready.store(true, Ordering::Relaxed);
        s.cond.notify_all(&s.lock).unwrap();
        s.lock.unlock(held.hold).unwrap();
        for t in waiters {
            t.join().unwrap();
        }
    });
}

/// A notify with nobody waiting hands out nothing: a later timed wait is
/// not woken by it.
#[test]
fn a_notify_is_not_remembered() {
    loom::model(|| {
        let s = state();
        let held = s.lock.lock();
        assert_eq!(s.cond.notify(&s.lock, 1).unwrap(), 0);
        let waited = s
            .cond
            .wait_until(
                &s.lock,
                Deadline::after(core::time::Duration::from_millis(1)),
            )
            .unwrap();
        assert!(!waited.notified);
        assert_eq!(s.cond.waiting(), 0);
        s.lock.unlock(held.hold).unwrap();
    });
}

/// Waiting with a recursive lock held twice lets another thread in, and
/// gives the waiter both levels back.
#[test]
fn waiting_on_an_rlock_releases_and_restores_every_level() {
    loom::model(|| {
        let lock = Arc::new(RawRLock::new());
        let cond = Arc::new(RawCondition::new());
        let ready = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (lock, cond, ready) = (lock.clone(), cond.clone(), ready.clone());
            thread::spawn(move || {
                let _ = lock.lock();
                let _ = lock.lock();
                while !ready.load(Ordering::Relaxed) {
                    let _ = cond.wait(&*lock).unwrap();
                }
                assert_eq!(lock.depth(), 2);
                lock.release().unwrap();
                lock.release().unwrap();
            })
        };
        let _ = lock.lock();
        ready.store(true, Ordering::Relaxed);
        cond.notify_all(&*lock).unwrap();
        lock.release().unwrap();
        waiter.join().unwrap();
        assert!(!lock.is_locked());
    });
}
