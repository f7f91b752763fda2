//! The raw ring (`shmsync::ring`) between threads and processes: order,
//! exactly-once delivery, waiting, shutdown, records across the wrap, and a
//! side taken over from a holder that died. Every wait is bounded.

use shmsync::ring::{RawRing, RingBuf, RingError, FIRST, LAST};
use shmsync::{Deadline, Process, Shared};
use shmsync_testkit::{join_ok, Watchdog, PATIENCE};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A ring and its buffer in one anonymous shared mapping.
struct Ring {
    state: Shared<RawRing>,
    buf: Shared<Bytes>,
    len: usize,
}

#[repr(C, align(64))]
struct Bytes([AtomicU64; 512]);
// SAFETY: atomics only: any bytes valid, no pointers, no Drop.
unsafe impl shmsync::ShmSafe for Bytes {}

impl Ring {
    fn new(capacity: u32, slot_size: u32) -> Ring {
        let len = RawRing::buffer_len(capacity, slot_size).unwrap();
        assert!(len <= std::mem::size_of::<Bytes>());
        Ring {
            state: Shared::new(RawRing::new(capacity, slot_size)).unwrap(),
            buf: Shared::new(Bytes([const { AtomicU64::new(0) }; 512])).unwrap(),
            len,
        }
    }

    fn bytes(capacity: u32) -> Ring {
        let len = RawRing::byte_capacity(capacity).unwrap() as usize;
        assert!(len <= std::mem::size_of::<Bytes>());
        Ring {
            state: Shared::new(RawRing::new_bytes(capacity)).unwrap(),
            buf: Shared::new(Bytes([const { AtomicU64::new(0) }; 512])).unwrap(),
            len,
        }
    }

    fn buf(&self) -> RingBuf {
        let len = self.len;
        // SAFETY: the Bytes mapping outlives every RingBuf made here (the
        // tests keep `self` alive), and is only used as the ring's buffer.
        unsafe { RingBuf::from_raw(NonNull::from(&*self.buf).cast(), len) }
    }
}

fn soon() -> Deadline {
    Deadline::after(PATIENCE)
}

#[test]
fn one_producer_and_one_consumer_process_pass_100_000_values_in_order() {
    let _w = Watchdog::new("spsc", PATIENCE);
    let ring = Ring::new(64, 8);
    let buf = ring.buf();
    let child = Process::spawn(|| {
        let mut side = ring.state.take_producing(&buf, soon()).unwrap();
        for i in 0..100_000u64 {
            while ring
                .state
                .try_push(&buf, &mut side, &i.to_ne_bytes())
                .unwrap()
                == 0
            {
                assert!(ring.state.wait_for_room(&mut side, soon()).unwrap());
            }
        }
        ring.state.release_producing(side);
    })
    .unwrap();
    let mut side = ring.state.take_consuming(&buf, soon()).unwrap();
    let mut out = [0u8; 8];
    for expected in 0..100_000u64 {
        while ring.state.try_pop(&buf, &mut side, &mut out).unwrap() == 0 {
            assert!(ring.state.wait_for_data(&mut side, soon()).unwrap());
        }
        assert_eq!(u64::from_ne_bytes(out), expected);
    }
    ring.state.release_consuming(side);
    join_ok(&child);
    assert!(ring.state.is_empty());
}

#[test]
fn two_producers_and_two_consumers_taking_the_sides_per_message_lose_and_repeat_nothing() {
    let _w = Watchdog::new("mpmc", PATIENCE);
    const PER_PRODUCER: u64 = 20_000;
    let ring = Ring::new(16, 8);
    let buf = ring.buf();
    let seen = Shared::new([const { AtomicU64::new(0) }; 4]).unwrap();
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            Process::spawn(|| {
                for i in 0..PER_PRODUCER {
                    let msg = (p << 32 | i).to_ne_bytes();
                    let mut side = ring.state.take_producing(&buf, soon()).unwrap();
                    while ring.state.try_push(&buf, &mut side, &msg).unwrap() == 0 {
                        assert!(ring.state.wait_for_room(&mut side, soon()).unwrap());
                    }
                    ring.state.release_producing(side);
                }
            })
            .unwrap()
        })
        .collect();
    let consumers: Vec<_> = (0..2usize)
        .map(|c| {
            Process::spawn(|| {
                let mut last = [None::<u64>; 2];
                let mut out = [0u8; 8];
                loop {
                    let mut side = ring.state.take_consuming(&buf, soon()).unwrap();
                    let got = loop {
                        match ring.state.try_pop(&buf, &mut side, &mut out) {
                            Ok(1) => break Some(u64::from_ne_bytes(out)),
                            Ok(_) => {}
                            Err(RingError::ShutDown) => break None,
                            Err(e) => panic!("{e}"),
                        }
                        match ring.state.wait_for_data(&mut side, soon()) {
                            Ok(_) => {}
                            Err(RingError::ShutDown) => break None,
                            Err(e) => panic!("{e}"),
                        }
                    };
                    ring.state.release_consuming(side);
                    let Some(v) = got else { break };
                    let (p, i) = ((v >> 32) as usize, v & 0xFFFF_FFFF);
                    // Each producer's messages arrive in order at each consumer.
                    assert!(last[p].map_or(true, |l| l < i), "out of order");
                    last[p] = Some(i);
                    seen[c * 2 + p].fetch_add(1, Ordering::Relaxed);
                }
            })
            .unwrap()
        })
        .collect();
    for p in &producers {
        join_ok(p);
    }
    ring.state.shut_down(false);
    for c in &consumers {
        join_ok(c);
    }
    for p in 0..2 {
        let total: u64 = (0..2)
            .map(|c| seen[c * 2 + p].load(Ordering::Relaxed))
            .sum();
        assert_eq!(total, PER_PRODUCER, "producer {p}");
    }
}

#[test]
fn a_side_whose_holder_died_is_taken_over_and_the_ring_goes_on() {
    let _w = Watchdog::new("holder_died", PATIENCE);
    let ring = Ring::new(4, 8);
    let buf = ring.buf();
    let child = Process::spawn(|| {
        let mut side = ring.state.take_producing(&buf, soon()).unwrap();
        ring.state
            .try_push(&buf, &mut side, &7u64.to_ne_bytes())
            .unwrap();
        // Dies holding the producing side: the child exits without giving
        // it back.
        let _still_held = side;
    })
    .unwrap();
    join_ok(&child);
    let mut side = ring
        .state
        .take_producing(&buf, Deadline::after(Duration::from_secs(5)))
        .expect("the dead holder's side is taken over");
    assert_eq!(
        ring.state.try_push(&buf, &mut side, &8u64.to_ne_bytes()),
        Ok(1)
    );
    ring.state.release_producing(side);
    let mut side = ring.state.take_consuming(&buf, soon()).unwrap();
    let mut out = [0u8; 16];
    assert_eq!(ring.state.try_pop(&buf, &mut side, &mut out), Ok(2));
    assert_eq!(&out[..8], &7u64.to_ne_bytes());
    assert_eq!(&out[8..], &8u64.to_ne_bytes());
    ring.state.release_consuming(side);
}

#[test]
fn a_waiting_consumer_wakes_at_shutdown_and_at_its_deadline() {
    let _w = Watchdog::new("shutdown_wakes", PATIENCE);
    let ring = Ring::new(4, 8);
    let buf = ring.buf();
    let mut side = ring.state.take_consuming(&buf, soon()).unwrap();
    let started = std::time::Instant::now();
    let waited = ring
        .state
        .wait_for_data(&mut side, Deadline::after(Duration::from_millis(30)));
    assert_eq!(waited, Ok(false));
    assert!(started.elapsed() >= Duration::from_millis(30));
    let child = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        ring.state.shut_down(false);
    })
    .unwrap();
    assert_eq!(
        ring.state.wait_for_data(&mut side, soon()),
        Err(RingError::ShutDown)
    );
    join_ok(&child);
    ring.state.release_consuming(side);
    let mut side = ring.state.take_producing(&buf, soon()).unwrap();
    assert_eq!(
        ring.state.try_push(&buf, &mut side, &[0; 8]),
        Err(RingError::ShutDown)
    );
    ring.state.release_producing(side);
}

#[test]
fn records_of_every_size_keep_their_bounds_across_the_wrap() {
    let _w = Watchdog::new("records", PATIENCE);
    let ring = Ring::bytes(256);
    let buf = ring.buf();
    let child = Process::spawn(|| {
        let mut side = ring.state.take_producing(&buf, soon()).unwrap();
        for round in 0..2_000u32 {
            let len = (round * 37) % 241;
            let msg: Vec<u8> = (0..len).map(|i| (i ^ round) as u8).collect();
            while !ring
                .state
                .try_push_record(&buf, &mut side, FIRST | LAST, &[&msg])
                .unwrap()
            {
                assert!(ring.state.wait_for_room(&mut side, soon()).unwrap());
            }
        }
        let too_big = vec![0u8; 250];
        assert!(matches!(
            ring.state
                .try_push_record(&buf, &mut side, FIRST | LAST, &[&too_big]),
            Err(RingError::TooLarge {
                len: 250,
                capacity: 248
            })
        ));
        ring.state.release_producing(side);
    })
    .unwrap();
    let mut side = ring.state.take_consuming(&buf, soon()).unwrap();
    for round in 0..2_000u32 {
        let record = loop {
            if let Some(record) = ring.state.peek_record(&buf, &mut side).unwrap() {
                break record;
            }
            assert!(ring.state.wait_for_data(&mut side, soon()).unwrap());
        };
        assert!(record.is_first() && record.is_last());
        assert_eq!(record.len, (round * 37) % 241);
        let mut got = vec![0u8; record.len as usize];
        ring.state
            .read_record(&buf, &side, record, 0, &mut got)
            .unwrap();
        ring.state.pop_record(&mut side, record);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i as u32 ^ round) as u8));
    }
    ring.state.release_consuming(side);
    join_ok(&child);
}

#[test]
fn a_scribbled_record_header_is_an_error_not_a_length() {
    let ring = Ring::bytes(64);
    let buf = ring.buf();
    let mut side = ring.state.take_producing(&buf, soon()).unwrap();
    assert!(ring
        .state
        .try_push_record(&buf, &mut side, FIRST | LAST, &[b"hello"])
        .unwrap());
    ring.state.release_producing(side);
    // A peer overwrites the record's header with garbage.
    ring.buf.0[0].store(u64::MAX, Ordering::Relaxed);
    let mut side = ring.state.take_consuming(&buf, soon()).unwrap();
    assert!(matches!(
        ring.state.peek_record(&buf, &mut side),
        Err(RingError::Corrupted(_))
    ));
    ring.state.release_consuming(side);
}
