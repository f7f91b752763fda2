//! Loom models of `RawLock`: mutual exclusion, no lost wake-up, timed
//! acquisition that gives up cleanly, and holds given back exactly.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use shmsync::raw::{Acquired, RawLock};
use shmsync::Deadline;

struct Guarded {
    lock: RawLock,
    value: UnsafeCell<u32>,
}

// SAFETY: `value` is only touched under `lock` (which loom checks).
unsafe impl Sync for Guarded {}

impl Guarded {
    fn new() -> Guarded {
        Guarded {
            lock: RawLock::new(),
            value: UnsafeCell::new(0),
        }
    }

    fn increment_locked(&self) {
        let locked = self.lock.lock();
        assert_eq!(locked.acquired, Acquired::Clean);
        // Loom reports a data race here if two threads ever get inside.
        self.value.with_mut(|v| unsafe { *v += 1 });
        self.lock.unlock(locked.hold).unwrap();
    }
}

/// Two threads and the main thread each increment under the lock: loom
/// explores every interleaving, flags any overlap of the critical sections
/// as a data race and any lost wake-up as a deadlock.
#[test]
fn lock_gives_mutual_exclusion_and_loses_no_wakeup() {
    loom::model(|| {
        let shared = Arc::new(Guarded::new());
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || shared.increment_locked())
            })
            .collect();
        shared.increment_locked();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(shared.value.with(|v| unsafe { *v }), 3);
        assert!(!shared.lock.is_locked());
    });
}

/// A waiter that gives up (under loom every deadline has passed) leaves the
/// lock usable and does not strand the holder's waiters.
#[test]
fn timed_lock_gives_up_without_breaking_the_lock() {
    loom::model(|| {
        let shared = Arc::new(Guarded::new());
        let holder = {
            let shared = shared.clone();
            thread::spawn(move || shared.increment_locked())
        };
        let timed = {
            let shared = shared.clone();
            thread::spawn(move || {
                if let Some(locked) = shared
                    .lock
                    .try_lock_until(Deadline::after(core::time::Duration::from_millis(1)))
                {
                    assert_eq!(locked.acquired, Acquired::Clean);
                    shared.value.with_mut(|v| unsafe { *v += 10 });
                    shared.lock.unlock(locked.hold).unwrap();
                }
            })
        };
        shared.increment_locked();
        holder.join().unwrap();
        timed.join().unwrap();
        let v = shared.value.with(|v| unsafe { *v });
        assert!(v == 2 || v == 12, "{v}");
        assert!(!shared.lock.is_locked());
    });
}

/// A release by a thread other than the acquirer (Python semantics) hands
/// the lock on to a sleeper.
#[test]
fn release_by_another_thread_wakes_the_waiter() {
    loom::model(|| {
        let lock = Arc::new(RawLock::new());
        assert_eq!(lock.lock().acquired, Acquired::Clean);
        let waiter = {
            let lock = lock.clone();
            thread::spawn(move || {
                let _ = lock.lock();
                lock.release().unwrap();
            })
        };
        let releaser = {
            let lock = lock.clone();
            thread::spawn(move || lock.release().unwrap())
        };
        releaser.join().unwrap();
        waiter.join().unwrap();
        assert!(!lock.is_locked());
    });
}

/// A guard's hold outlives its lock: another thread releases it (Python's
/// any-thread `release`) and a third takes it. Giving the stale hold back
/// must fail and leave the third thread's hold in place, in every
/// interleaving: loom flags a data race if the third thread's critical
/// section is ever opened to anyone else.
#[test]
fn a_stale_hold_never_releases_a_later_holder() {
    loom::model(|| {
        let shared = Arc::new(Guarded::new());
        let first = shared.lock.lock();
        let releaser = {
            let shared = shared.clone();
            thread::spawn(move || shared.lock.release().unwrap())
        };
        let third = {
            let shared = shared.clone();
            thread::spawn(move || shared.increment_locked())
        };
        releaser.join().unwrap();
        // Whether or not the third thread holds the lock now, the first
        // hold is gone: giving it back changes nothing.
        assert!(shared.lock.unlock(first.hold).is_err());
        shared.increment_locked();
        third.join().unwrap();
        assert_eq!(shared.value.with(|v| unsafe { *v }), 2);
        assert!(!shared.lock.is_locked());
    });
}
