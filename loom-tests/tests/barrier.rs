//! Loom models of `RawBarrier`: generations never mix, arrival indexes are
//! distinct, a time-out breaks the barrier for everyone, and a party that
//! died inside a generation that tripped breaks the next one, while one
//! that died after it returned breaks nothing.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use shmsync::raw::RawBarrier;
use shmsync::Deadline;

/// Two parties pass twice. A party may only start its second pass after
/// both finished arriving for the first: `passes` counts first-pass
/// arrivals, and nobody sees fewer than two of them after passing.
#[test]
fn generations_never_mix() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::new(2));
        let first_pass = Arc::new(AtomicU32::new(0));
        let party = |barrier: &RawBarrier, first_pass: &AtomicU32| -> [u32; 2] {
            let mut indexes = [0; 2];
            for (pass, index) in indexes.iter_mut().enumerate() {
                if pass == 0 {
                    first_pass.fetch_add(1, Ordering::Relaxed);
                }
                let arrival = barrier.arrive(Deadline::NEVER).unwrap();
                *index = arrival.index;
                if arrival.is_last() {
                    barrier.trip(arrival, Deadline::NEVER).unwrap();
                } else {
                    barrier.wait(arrival, Deadline::NEVER).unwrap();
                }
                assert_eq!(
                    first_pass.load(Ordering::Relaxed),
                    2,
                    "passed before everyone arrived"
                );
            }
            indexes
        };
        let other = {
            let (barrier, first_pass) = (barrier.clone(), first_pass.clone());
            thread::spawn(move || party(&barrier, &first_pass))
        };
        let mine = party(&barrier, &first_pass);
        let theirs = other.join().unwrap();
        for pass in 0..2 {
            assert_ne!(mine[pass], theirs[pass], "indexes must be distinct");
        }
        assert!(!barrier.is_broken());
    });
}

/// One party times out (loom deadlines have always passed): the barrier
/// breaks, and the other party, whenever it arrives, fails too.
#[test]
fn a_time_out_breaks_the_barrier_for_every_party() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::new(3));
        let other = {
            let barrier = barrier.clone();
            thread::spawn(move || match barrier.arrive(Deadline::NEVER) {
                Ok(arrival) => barrier.wait(arrival, Deadline::NEVER).is_err(),
                Err(_) => true,
            })
        };
        let arrival = barrier.arrive(Deadline::NEVER).unwrap();
        let timed_out = barrier.wait(
            arrival,
            Deadline::after(core::time::Duration::from_millis(1)),
        );
        assert!(timed_out.is_err());
        assert!(other.join().unwrap(), "the other party must see the break");
        assert!(barrier.is_broken());
        barrier.reset(Deadline::NEVER).unwrap();
        assert!(!barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
    });
}

/// The last party trips while a waiter's time-out breaks the generation
/// without the internal lock: exactly one ending wins, and every party of
/// the generation reports that same ending.
#[test]
fn a_lock_free_break_and_a_trip_agree_on_one_ending() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::new(2));
        let first = barrier.arrive(Deadline::NEVER).unwrap();
        let waiter = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                // Loom deadlines have always passed: this wait breaks the
                // generation unless the trip came first.
                barrier
                    .wait(first, Deadline::after(core::time::Duration::from_millis(1)))
                    .is_ok()
            })
        };
        let tripped = match barrier.arrive(Deadline::NEVER) {
            Ok(last) => barrier.trip(last, Deadline::NEVER).is_ok(),
            Err(_) => false,
        };
        let waited = waiter.join().unwrap();
        assert_eq!(tripped, waited, "one generation, two endings");
        assert_eq!(barrier.is_broken(), !tripped);
    });
}

/// One pass of a party: arrive, then trip if last, else wait.
fn pass(barrier: &RawBarrier) -> Result<u32, shmsync::raw::BrokenBarrier> {
    let arrival = barrier.arrive(Deadline::NEVER)?;
    let index = arrival.index;
    if arrival.is_last() {
        barrier.trip(arrival, Deadline::NEVER)?;
    } else {
        barrier.wait(arrival, Deadline::NEVER)?;
    }
    Ok(index)
}

/// A party dies after arriving and before its wait returned (here before
/// it even slept; the generation trips without it noticing): the other
/// party's next generation breaks instead of waiting for it for ever.
#[test]
fn a_party_that_died_inside_a_tripped_generation_breaks_the_next() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::new(2));
        let victim = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let _arrival = barrier.arrive(Deadline::NEVER).unwrap();
                shmsync::declare_dead();
            })
        };
        victim.join().unwrap();
        assert_eq!(
            pass(&barrier),
            Ok(1),
            "the survivor trips the first generation"
        );
        let next = barrier.arrive(Deadline::NEVER).unwrap();
        assert!(!next.is_last());
        assert!(barrier.wait(next, Deadline::NEVER).is_err());
        assert!(barrier.is_broken());
    });
}

/// A party dies after its wait (or trip) returned: outside the barrier.
/// The next generation, passed with another party, is not broken by it.
#[test]
fn a_party_that_died_after_returning_breaks_nothing() {
    loom::model(|| {
        let barrier = Arc::new(RawBarrier::new(2));
        let leaver = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                pass(&barrier).unwrap();
                shmsync::declare_dead();
            })
        };
        pass(&barrier).unwrap();
        leaver.join().unwrap();
        let newcomer = {
            let barrier = barrier.clone();
            thread::spawn(move || pass(&barrier))
        };
        assert!(pass(&barrier).is_ok());
        assert!(newcomer.join().unwrap().is_ok());
        assert!(!barrier.is_broken());
    });
}
