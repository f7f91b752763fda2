//! Loom models of the pipe's data path (`shmsync::ring`'s messages): a
//! single producer and a single consumer pass whole messages across the
//! wrap of a small byte ring, stream a message longer than the ring piece
//! by piece, and see an interrupted stream reported as such (with the next
//! message intact), a shutdown after the last message, and a close
//! outside the ring ending waits on both sides through a nudge. The buffer is
//! made of loom cells, so a read of message bytes that races with their
//! write is reported; a lost wake-up shows as a deadlock.
#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use shmsync::ring::{Incoming, Outgoing, Piece, Pushed, RawRing, RingBuf, RingError};
use shmsync::Deadline;

struct Ring {
    state: RawRing,
    buf: RingBuf,
}

fn ring(capacity: u32) -> Arc<Ring> {
    let bytes = RawRing::byte_capacity(capacity).unwrap();
    Arc::new(Ring {
        state: RawRing::new_bytes(capacity),
        buf: RingBuf::model(bytes as usize),
    })
}

/// Sends `msg` whole or streamed, waiting for room with the producing side
/// held; with `abandon`, gives the side back after the first piece (a
/// writer that stopped in the middle).
fn send(r: &Ring, msg: &[u8], abandon: bool) -> Result<(), RingError> {
    let mut side = r.state.take_producing(&r.buf, Deadline::NEVER)?;
    let mut out = Outgoing::new();
    let result = loop {
        match r.state.push_message(&r.buf, &mut side, msg, &mut out) {
            Ok(Pushed::Done) => break Ok(()),
            Ok(Pushed::NeedRoom(_)) if abandon && out.is_started() => break Ok(()),
            Ok(Pushed::NeedRoom(want)) => {
                if let Err(e) = r
                    .state
                    .wait_for_room_bytes(&mut side, want, Deadline::NEVER)
                {
                    break Err(e);
                }
            }
            Err(e) => break Err(e),
        }
    };
    r.state.release_producing(side);
    result
}

/// What a receive saw.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Message(Vec<u8>),
    Interrupted,
}

/// Receives one message, waiting for its pieces with the consuming side
/// held.
fn recv(r: &Ring) -> Result<Got, RingError> {
    let mut side = r.state.take_consuming(&r.buf, Deadline::NEVER)?;
    let result = recv_with(r, &mut side);
    r.state.release_consuming(side);
    result
}

fn recv_with(r: &Ring, side: &mut shmsync::ring::Consuming) -> Result<Got, RingError> {
    let mut msg: Incoming = loop {
        if let Some(msg) = r.state.begin_message(&r.buf, side)? {
            break msg;
        }
        r.state.wait_for_data(side, Deadline::NEVER)?;
    };
    let mut bytes = Vec::new();
    while !msg.is_complete() {
        match r.state.next_piece(&r.buf, side, &msg)? {
            Piece::Data(chunk) => {
                let at = bytes.len();
                bytes.resize(at + chunk.len(), 0);
                r.state
                    .take_piece(&r.buf, side, &mut msg, chunk, &mut bytes[at..])?;
            }
            Piece::Pending => {
                r.state.wait_for_data(side, Deadline::NEVER)?;
            }
            Piece::Interrupted => return Ok(Got::Interrupted),
        }
    }
    Ok(Got::Message(bytes))
}

/// Three whole messages of 1, 5 and 3 bytes (records of 16, 16, 16 bytes)
/// through a 32-byte ring: the third wraps, and both sides sleep in some
/// interleaving.
#[test]
fn whole_messages_keep_their_bounds_across_the_wrap() {
    loom::model(|| {
        let r = ring(32);
        let producer = {
            let r = r.clone();
            thread::spawn(move || {
                for msg in [&b"a"[..], b"bcdef", b"ghi"] {
                    send(&r, msg, false).unwrap();
                }
            })
        };
        for expected in [&b"a"[..], b"bcdef", b"ghi"] {
            assert_eq!(recv(&r).unwrap(), Got::Message(expected.to_vec()));
        }
        producer.join().unwrap();
        assert!(r.state.is_empty());
    });
}

/// A 20-byte message through a 16-byte ring (8 bytes of payload per
/// record): a length prefix, then three pieces, each written while the
/// reader empties the ring.
#[test]
fn a_message_longer_than_the_ring_streams_through_it_whole() {
    loom::model(|| {
        let r = ring(16);
        let msg: Vec<u8> = (0..20u8).collect();
        let producer = {
            let r = r.clone();
            let msg = msg.clone();
            thread::spawn(move || send(&r, &msg, false).unwrap())
        };
        assert_eq!(recv(&r).unwrap(), Got::Message(msg));
        producer.join().unwrap();
        assert!(r.state.is_empty());
    });
}

/// A writer that stops after the first piece of a long message, then sends
/// a short one: the reader is told the first was interrupted, and gets the
/// second whole.
#[test]
fn an_interrupted_stream_is_reported_and_the_next_message_is_intact() {
    loom::model(|| {
        let r = ring(16);
        let producer = {
            let r = r.clone();
            thread::spawn(move || {
                send(&r, &[7; 20], true).unwrap();
                send(&r, b"next", false).unwrap();
            })
        };
        assert_eq!(recv(&r).unwrap(), Got::Interrupted);
        assert_eq!(recv(&r).unwrap(), Got::Message(b"next".to_vec()));
        producer.join().unwrap();
    });
}

/// Close: a shutdown after the last message wakes a reader asleep on an
/// empty ring once it has the message.
#[test]
fn a_close_after_the_last_message_ends_the_reader() {
    loom::model(|| {
        let r = ring(16);
        let reader = {
            let r = r.clone();
            thread::spawn(move || (recv(&r), recv(&r)))
        };
        send(&r, b"last", false).unwrap();
        r.state.shut_down(false);
        let (first, second) = reader.join().unwrap();
        assert_eq!(first, Ok(Got::Message(b"last".to_vec())));
        assert_eq!(second, Err(RingError::ShutDown));
    });
}

/// Close of an end: a change outside the rings (the end's close count)
/// then a nudge of each ends a reader's wait for data on an empty ring and
/// a writer's wait for room on a full one, waits that look at the count
/// (`wait_for_data_or`, `wait_for_room_bytes_or`): neither sleeps through
/// it.
#[test]
fn a_close_and_its_nudge_end_the_waits_that_look_at_it() {
    loom::model(|| {
        let (incoming, outgoing) = (ring(16), ring(16));
        let closes = Arc::new(AtomicU32::new(0));
        let mut tx = outgoing
            .state
            .take_producing(&outgoing.buf, Deadline::NEVER)
            .unwrap();
        let full =
            outgoing
                .state
                .push_message(&outgoing.buf, &mut tx, &[0u8; 8], &mut Outgoing::new());
        assert_eq!(full, Ok(Pushed::Done));
        let reader = {
            let (r, closes) = (incoming.clone(), closes.clone());
            thread::spawn(move || {
                let mut side = r.state.take_consuming(&r.buf, Deadline::NEVER).unwrap();
                let closed = || closes.load(Ordering::Acquire) != 0;
                let data = r.state.wait_for_data_or(&mut side, Deadline::NEVER, closed);
                r.state.release_consuming(side);
                data
            })
        };
        let writer = {
            let (r, closes) = (outgoing.clone(), closes.clone());
            thread::spawn(move || {
                let closed = || closes.load(Ordering::Acquire) != 0;
                let room = r
                    .state
                    .wait_for_room_bytes_or(&mut tx, 16, Deadline::NEVER, closed);
                r.state.release_producing(tx);
                room
            })
        };
        closes.fetch_add(1, Ordering::Release);
        incoming.state.nudge();
        outgoing.state.nudge();
        assert_eq!(reader.join().unwrap(), Ok(false));
        assert_eq!(writer.join().unwrap(), Ok(false));
    });
}
