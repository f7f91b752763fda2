//! Loom models of `RawRLock`: recursion within a thread, exclusion between
//! threads, and `release_all`/`restore` (what a condition variable does).
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use shmsync::raw::RawRLock;

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
fn release_all_then_restore_keeps_the_depth() {
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
        let _ = shared.lock.lock();
        let _ = shared.lock.lock();
        let _ = shared.lock.lock();
        let depth = shared.lock.release_all().unwrap();
        assert_eq!(depth.get(), 3);
        let _ = shared.lock.restore(depth);
        assert_eq!(shared.lock.depth(), 3);
        for _ in 0..3 {
            shared.lock.release().unwrap();
        }
        other.join().unwrap();
    });
}
