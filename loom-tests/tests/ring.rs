//! Loom models of the two-lock ring (`shmsync::ring`): messages arrive
//! exactly once and in order, no sleeper misses a commit or a shutdown,
//! and message bytes are never read while written (the buffer is made of
//! loom cells, so loom reports such a race).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use shmsync::ring::{RawRing, RingBuf, RingError};
use shmsync::Deadline;

struct Ring {
    state: RawRing,
    buf: RingBuf,
}

fn ring(capacity: u32) -> Arc<Ring> {
    Arc::new(Ring {
        state: RawRing::new(capacity, 1),
        buf: RingBuf::model(RawRing::buffer_len(capacity, 1).unwrap()),
    })
}

/// Puts `msg`, waiting for room with the producing side held.
fn put(r: &Ring, msg: u8) -> Result<(), RingError> {
    let mut side = r.state.take_producing(&r.buf, Deadline::NEVER)?;
    let result = loop {
        match r.state.try_push(&r.buf, &mut side, &[msg]) {
            Ok(1) => break Ok(()),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
        if let Err(e) = r.state.wait_for_room(&mut side, Deadline::NEVER) {
            break Err(e);
        }
    };
    r.state.release_producing(side);
    result
}

/// Gets a message, waiting for one with the consuming side held.
fn get(r: &Ring) -> Result<u8, RingError> {
    let mut side = r.state.take_consuming(&r.buf, Deadline::NEVER)?;
    let mut out = [0u8];
    let result = loop {
        match r.state.try_pop(&r.buf, &mut side, &mut out) {
            Ok(1) => break Ok(out[0]),
            Ok(_) => {}
            Err(e) => break Err(e),
        }
        if let Err(e) = r.state.wait_for_data(&mut side, Deadline::NEVER) {
            break Err(e);
        }
    };
    r.state.release_consuming(side);
    result
}

/// One producer puts three messages through a ring of two while one
/// consumer takes them: both sides sleep at some point in some
/// interleaving, and no wake-up is lost (loom reports a lost one as a
/// deadlock).
#[test]
fn spsc_passes_three_messages_through_two_slots_in_order() {
    loom::model(|| {
        let r = ring(2);
        let producer = {
            let r = r.clone();
            thread::spawn(move || {
                for msg in 1..=3 {
                    put(&r, msg).unwrap();
                }
            })
        };
        for expected in 1..=3 {
            assert_eq!(get(&r).unwrap(), expected);
        }
        producer.join().unwrap();
        assert!(r.state.is_empty());
    });
}

/// Two producers and two consumers, one message each, capacity two:
/// every message is received exactly once.
#[test]
fn mpmc_delivers_each_message_exactly_once() {
    loom::model(|| {
        let r = ring(2);
        let producers: Vec<_> = [10u8, 20]
            .into_iter()
            .map(|msg| {
                let r = r.clone();
                thread::spawn(move || put(&r, msg).unwrap())
            })
            .collect();
        let consumer = {
            let r = r.clone();
            thread::spawn(move || get(&r).unwrap())
        };
        let mine = get(&r).unwrap();
        let theirs = consumer.join().unwrap();
        for p in producers {
            p.join().unwrap();
        }
        let mut got = [mine, theirs];
        got.sort_unstable();
        assert_eq!(got, [10, 20]);
    });
}

/// A shutdown wakes a consumer asleep on an empty ring, after what was
/// put before it is delivered.
#[test]
fn shutdown_drains_then_wakes_a_sleeping_consumer() {
    loom::model(|| {
        let r = ring(1);
        let consumer = {
            let r = r.clone();
            thread::spawn(move || (get(&r), get(&r)))
        };
        put(&r, 1).unwrap();
        r.state.shut_down(false);
        assert_eq!(consumer.join().unwrap(), (Ok(1), Err(RingError::ShutDown)));
    });
}

/// A shutdown wakes a producer asleep on a full ring; the message already
/// in is still delivered.
#[test]
fn shutdown_wakes_a_sleeping_producer() {
    loom::model(|| {
        let r = ring(1);
        put(&r, 1).unwrap();
        let producer = {
            let r = r.clone();
            thread::spawn(move || put(&r, 2))
        };
        r.state.shut_down(false);
        assert_eq!(producer.join().unwrap(), Err(RingError::ShutDown));
        assert_eq!(get(&r), Ok(1));
        assert_eq!(get(&r), Err(RingError::ShutDown));
    });
}

/// A side is given back (a plain store, see `RawLock::unlock_announced`)
/// while a second taker goes to sleep waiting for it: the taker is woken
/// in every interleaving, its flag on the lock overwritten or not (loom
/// reports a lost wake-up as a deadlock).
#[test]
fn a_side_given_back_wakes_the_taker_asleep_on_it() {
    loom::model(|| {
        let r = ring(2);
        let held = r.state.take_producing(&r.buf, Deadline::NEVER).unwrap();
        let taker = {
            let r = r.clone();
            thread::spawn(move || {
                let side = r.state.take_producing(&r.buf, Deadline::NEVER).unwrap();
                assert!(!side.took_over());
                r.state.release_producing(side);
            })
        };
        r.state.release_producing(held);
        taker.join().unwrap();
        let again = r.state.take_producing(&r.buf, Deadline::now()).unwrap();
        r.state.release_producing(again);
    });
}
