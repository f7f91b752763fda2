//! Loom models of `RawSemaphore`: no lost wake-up between release and
//! sleeping acquirers, the count bounds how many are inside.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use shmsync::raw::RawSemaphore;

/// Two acquirers sleep on an empty semaphore; two releases must get both
/// through (a lost wake-up shows as a loom deadlock). Four preemptions: the
/// interleaving where the last sleeper to leave clears the `SLEEPERS` bit
/// under a sleeper that has just arrived needs that many.
#[test]
fn releases_wake_every_sleeping_acquirer() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(4);
    model.check(|| {
        let sem = Arc::new(RawSemaphore::new(0, 2));
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let sem = sem.clone();
                thread::spawn(move || sem.acquire())
            })
            .collect();
        sem.release().unwrap();
        sem.release().unwrap();
        for t in acquirers {
            t.join().unwrap();
        }
        assert_eq!(sem.value(), 0);
    });
}

/// A semaphore of 1 used as a lock: never two inside at once.
#[test]
fn a_count_of_one_admits_one_at_a_time() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(1, 1));
        let inside = Arc::new(AtomicU32::new(0));
        let work = |sem: &RawSemaphore, inside: &AtomicU32| {
            sem.acquire();
            assert_eq!(inside.fetch_add(1, Ordering::Relaxed), 0, "two inside");
            inside.fetch_sub(1, Ordering::Relaxed);
            sem.release().unwrap();
        };
        let other = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || work(&sem, &inside))
        };
        work(&sem, &inside);
        other.join().unwrap();
        assert_eq!(sem.value(), 1);
        assert!(sem.release().is_err(), "bounded at 1");
    });
}

/// A timed acquire that gives up (loom's deadlines have always passed)
/// takes nothing, or takes exactly the one unit released.
#[test]
fn a_timed_acquire_takes_a_unit_or_nothing() {
    loom::model(|| {
        let sem = Arc::new(RawSemaphore::new(0, 1));
        let timed = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_for(core::time::Duration::from_millis(1)))
        };
        sem.release().unwrap();
        let took = timed.join().unwrap();
        assert_eq!(sem.value(), if took { 0 } else { 1 });
    });
}
