//! Loom models of the ring as the queues use it: one or two producers and
//! consumers on a ring of two, batches committed at once, immediate
//! shutdown, and threads that abandon a put or a get part way (they
//! "die": `shmsync::declare_dead`), after which the side's lock reports
//! `OwnerDied` to the next taker and the ring goes on.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use shmsync::ring::{Producing, RawRing, RingBuf, RingError};
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

/// Puts `msgs` in order under one hold of the producing side; returns
/// whether the side was taken over from a dead holder.
fn put_all(r: &Ring, msgs: &[u8]) -> Result<bool, RingError> {
    let mut side = r.state.take_producing(&r.buf, Deadline::NEVER)?;
    let took_over = side.took_over();
    let result = push(r, &mut side, msgs);
    r.state.release_producing(side);
    result.map(|()| took_over)
}

fn push(r: &Ring, side: &mut Producing, mut msgs: &[u8]) -> Result<(), RingError> {
    while !msgs.is_empty() {
        let n = r.state.try_push(&r.buf, side, msgs)? as usize;
        msgs = &msgs[n..];
        if !msgs.is_empty() {
            r.state.wait_for_room(side, Deadline::NEVER)?;
        }
    }
    Ok(())
}

/// Gets one message; with it, whether the side was taken over.
fn get(r: &Ring) -> Result<(u8, bool), RingError> {
    let mut side = r.state.take_consuming(&r.buf, Deadline::NEVER)?;
    let took_over = side.took_over();
    let mut out = [0u8];
    let result = loop {
        match r.state.try_pop(&r.buf, &mut side, &mut out) {
            Ok(1) => break Ok((out[0], took_over)),
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

/// Two producers, one message each, and one consumer on a ring of two:
/// both messages arrive, once.
#[test]
fn two_producers_one_consumer_deliver_both_messages_once() {
    loom::model(|| {
        let r = ring(2);
        let other = {
            let r = r.clone();
            thread::spawn(move || put_all(&r, &[2]).unwrap())
        };
        put_all(&r, &[1]).unwrap();
        let mut got = [get(&r).unwrap().0, get(&r).unwrap().0];
        other.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// One producer commits a batch of two at once into a ring of two while
/// two consumers take one each: each message once, and the one who got
/// the first got it before the second was visible to anyone.
#[test]
fn a_batch_committed_at_once_is_split_between_two_consumers_without_loss() {
    loom::model(|| {
        let r = ring(2);
        let consumer = {
            let r = r.clone();
            thread::spawn(move || get(&r).unwrap().0)
        };
        put_all(&r, &[1, 2]).unwrap();
        let mine = get(&r).unwrap().0;
        let theirs = consumer.join().unwrap();
        let mut got = [mine, theirs];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}

/// An immediate shutdown: a consumer asleep on an empty ring wakes with
/// `ShutDown` or with the one message put before it; nothing is delivered
/// after it; puts fail.
#[test]
fn an_immediate_shutdown_wakes_the_consumer_and_delivers_nothing_after() {
    loom::model(|| {
        let r = ring(2);
        let consumer = {
            let r = r.clone();
            thread::spawn(move || {
                let first = get(&r).map(|(v, _)| v);
                let second = get(&r).map(|(v, _)| v);
                (first, second)
            })
        };
        put_all(&r, &[1]).unwrap();
        r.state.shut_down(true);
        assert_eq!(put_all(&r, &[2]), Err(RingError::ShutDown));
        let (first, second) = consumer.join().unwrap();
        assert!(matches!(first, Ok(1) | Err(RingError::ShutDown)));
        assert_eq!(second, Err(RingError::ShutDown));
    });
}

/// A producer dies holding the producing side, before or after it
/// committed a message; a consumer waits meanwhile. The next producer is
/// told the holder died, takes the side and puts; the consumer gets the
/// dead producer's message if it was committed, then the survivor's.
#[test]
fn a_producer_that_dies_holding_its_side_is_taken_over_and_the_ring_goes_on() {
    for committed in [false, true] {
        loom::model(move || {
            let r = ring(2);
            let consumer = {
                let r = r.clone();
                thread::spawn(move || {
                    let first = get(&r).unwrap().0;
                    if first == 1 {
                        assert_eq!(get(&r).unwrap().0, 2);
                    }
                    first
                })
            };
            let dying = {
                let r = r.clone();
                thread::spawn(move || {
                    let mut side = r.state.take_producing(&r.buf, Deadline::NEVER).unwrap();
                    if committed {
                        assert_eq!(r.state.try_push(&r.buf, &mut side, &[1]), Ok(1));
                    }
                    shmsync::declare_dead();
                    // Killed here, holding the side.
                    std::mem::forget(side);
                })
            };
            dying.join().unwrap();
            assert_eq!(put_all(&r, &[2]), Ok(true), "OwnerDied reported");
            let first = consumer.join().unwrap();
            assert_eq!(first, if committed { 1 } else { 2 });
            assert_eq!(put_all(&r, &[3]), Ok(false), "consistent again");
        });
    }
}

/// A consumer dies holding the consuming side, after or before taking a
/// message (its commit), while a producer keeps putting. The next consumer
/// is told, takes the side and gets what the dead one left, in order;
/// a message the dead one took is gone with it, and nothing comes twice.
#[test]
fn a_consumer_that_dies_holding_its_side_is_taken_over_without_duplicates() {
    for took in [false, true] {
        loom::model(move || {
            let r = ring(2);
            put_all(&r, &[1]).unwrap();
            let producer = {
                let r = r.clone();
                thread::spawn(move || put_all(&r, &[2]).unwrap())
            };
            let dying = {
                let r = r.clone();
                thread::spawn(move || {
                    let mut side = r.state.take_consuming(&r.buf, Deadline::NEVER).unwrap();
                    if took {
                        let mut out = [0u8];
                        assert_eq!(r.state.try_pop(&r.buf, &mut side, &mut out), Ok(1));
                        assert_eq!(out[0], 1);
                    }
                    shmsync::declare_dead();
                    std::mem::forget(side);
                })
            };
            dying.join().unwrap();
            let (first, took_over) = get(&r).unwrap();
            assert!(took_over, "OwnerDied reported");
            if took {
                assert_eq!(first, 2);
            } else {
                assert_eq!(first, 1);
                assert_eq!(get(&r).unwrap(), (2, false));
            }
            producer.join().unwrap();
            assert!(r.state.is_empty());
        });
    }
}
