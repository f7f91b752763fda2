//! Loom models of `RawRLock`: recursion within a thread, exclusion between
//! threads, and `unlock_all`/`relock_until` (what a condition variable does).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use shmsync::raw::RawRLock;
use shmsync::Deadline;

struct Guarded {
    lock: RawRLock,
    value: UnsafeCell<u32>,
}

// SAFETY: `value` is only touched under `lock`.
unsafe impl Sync for Guarded {}

#[test]
fn rlock_nests_within_a_thread_and_excludes_across_threads() {
    loom::model(|| {
        let shared = Arc::new(Guarded {
            lock: RawRLock::new(),
            value: UnsafeCell::new(0),
        });
        let work = |shared: &Guarded| {
            let _ = shared.lock.lock();
            let _ = shared.lock.lock();
            assert_eq!(shared.lock.depth(), 2);
            shared.value.with_mut(|v| unsafe { *v += 1 });
            shared.lock.release().unwrap();
            shared.value.with_mut(|v| unsafe { *v += 1 });
            shared.lock.release().unwrap();
            assert_eq!(shared.lock.depth(), 0);
        };
        let other = {
            let shared = shared.clone();
            thread::spawn(move || work(&shared))
        };
        work(&shared);
        other.join().unwrap();
        assert_eq!(shared.value.with(|v| unsafe { *v }), 4);
    });
}

#[test]
fn unlock_all_then_relock_keeps_the_depth_and_the_hold() {
    loom::model(|| {
        let shared = Arc::new(Guarded {
            lock: RawRLock::new(),
            value: UnsafeCell::new(0),
        });
        let other = {
            let shared = shared.clone();
            thread::spawn(move || {
                let _ = shared.lock.lock();
                assert!(shared.lock.release().is_ok());
                // A thread that does not own the lock cannot release it.
                assert!(shared.lock.release().is_err());
            })
        };
        let first = shared.lock.lock();
        let _ = shared.lock.lock();
        let _ = shared.lock.lock();
        let depth = shared.lock.unlock_all().unwrap();
        assert_eq!(depth.get(), 3);
        let _ = shared.lock.relock_until(depth, Deadline::NEVER).unwrap();
        assert_eq!(shared.lock.depth(), 3);
        for _ in 0..3 {
            // The hold taken before the wait is the current one again.
            shared.lock.unlock(first.hold).unwrap();
        }
        assert!(shared.lock.unlock(first.hold).is_err());
        other.join().unwrap();
    });
}
