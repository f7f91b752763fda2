//! `ByteQueue` across processes: messages of random sizes across the
//! ring's wrap-around (pages among them, which are copied in with
//! streaming stores), sizes that can never fit, a handle's largest
//! message bounding what a get allocates, and (with the `serde` feature)
//! serde values. Every wait is bounded.

mod queue_helpers;

use shmsync::{ByteQueue, GetError, Process, PutError};
use shmsync_testkit::{join_ok, Rng, Watchdog, PATIENCE};
use std::time::Duration;

/// The `i`th message of a run seeded with `seed`: a length below `max`
/// and bytes that name the message.
fn message(seed: u64, i: u64, max: u64) -> Vec<u8> {
    let mut rng = Rng(seed ^ (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1);
    let len = rng.below(max + 1) as usize;
    (0..len).map(|k| (i as usize + k * 31) as u8).collect()
}

/// Sends `n` messages of up to `max` bytes from a child through `q`, and
/// checks that each arrives whole and in order, and that none is left.
fn send_random_messages(q: &ByteQueue, name: &str, n: u64, max: u64) {
    let seed = Rng::from_time(name).next();
    let child = Process::spawn(|| {
        for i in 0..n {
            q.put_timeout(&message(seed, i, max), PATIENCE).unwrap();
        }
    })
    .unwrap();
    for i in 0..n {
        let got = q.get_timeout(PATIENCE).unwrap();
        assert_eq!(got, message(seed, i, max), "message {i}");
    }
    join_ok(&child);
    assert!(q.empty());
}

#[test]
fn messages_of_random_sizes_cross_processes_intact_across_the_wrap() {
    let _w = Watchdog::new("bytes_random", PATIENCE);
    // 1 KiB ring, messages up to 600 bytes: the ring wraps every few.
    let q = ByteQueue::new(1024).unwrap();
    assert_eq!(q.capacity(), 1024);
    assert_eq!(q.max_message(), 1016);
    send_random_messages(&q, "bytes_random", 20_000, 600);
}

#[test]
fn messages_of_pages_cross_processes_intact_across_the_wrap() {
    let _w = Watchdog::new("bytes_pages", PATIENCE);
    // A 64 KiB ring, messages up to 16 KiB: most are copied in with
    // streaming stores (a page or more, a quarter of the ring at most),
    // and those that meet the wrap in two pieces, some streamed, some not.
    let q = ByteQueue::new(64 * 1024).unwrap();
    send_random_messages(&q, "bytes_pages", 2_000, 16 * 1024);
}

#[test]
fn two_producers_and_two_consumers_of_bytes_lose_and_repeat_nothing() {
    let _w = Watchdog::new("bytes_mpmc", PATIENCE);
    const N: u64 = 10_000;
    let q = ByteQueue::new(2048).unwrap();
    let seen = queue_helpers::SharedBits::new(2 * N as usize);
    let producers: Vec<_> = (0..2u64)
        .map(|p| {
            Process::spawn(|| {
                for i in 0..N {
                    let mut msg = message(p, i, 300);
                    msg.splice(0..0, (p << 32 | i).to_le_bytes());
                    q.put(&msg).unwrap();
                }
            })
            .unwrap()
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| {
            Process::spawn(|| loop {
                let msg = match q.get_timeout(PATIENCE) {
                    Ok(msg) => msg,
                    Err(GetError::ShutDown) => break,
                    Err(e) => panic!("{e}"),
                };
                let id = u64::from_le_bytes(msg[..8].try_into().unwrap());
                let (p, i) = (id >> 32, id & 0xFFFF_FFFF);
                assert_eq!(msg[8..], message(p, i, 300)[..]);
                assert!(!seen.set((p * N + i) as usize), "{p}/{i} twice");
            })
            .unwrap()
        })
        .collect();
    for p in &producers {
        join_ok(p);
    }
    q.shutdown(false);
    for c in &consumers {
        join_ok(c);
    }
    assert_eq!(seen.count(2 * N as usize), 2 * N as usize);
}

#[test]
fn a_message_larger_than_the_ring_is_an_error_naming_both_sizes() {
    let q = ByteQueue::new(256).unwrap();
    let err = q.put(&[0; 300]).unwrap_err();
    assert!(matches!(
        err,
        PutError::TooLarge {
            len: 300,
            capacity: 248,
            ..
        }
    ));
    let text = err.to_string();
    assert!(text.contains("300") && text.contains("248"), "{text}");
    // The largest that fits does fit, alone.
    q.put(&[1; 248]).unwrap();
    assert!(matches!(q.try_put(&[1]), Err(PutError::Full(()))));
    assert_eq!(q.get().unwrap().len(), 248);
    assert_eq!(q.try_get(), Err(GetError::Empty));
    assert_eq!(
        q.get_timeout(Duration::from_millis(5)),
        Err(GetError::Timeout)
    );
}

#[test]
fn a_handle_with_a_smaller_largest_message_drops_longer_ones_without_allocating_them() {
    let seg = shmsync::Segment::anonymous(64 * 1024).unwrap();
    let big = ByteQueue::get_or_init_in(&seg, "q", 4096, None).unwrap();
    let small = ByteQueue::open_in(&seg, "q", 4096, Some(100)).unwrap();
    assert_eq!(small.max_message(), 100);
    big.put(&[1; 101]).unwrap();
    big.put(&[2; 100]).unwrap();
    assert_eq!(small.get(), Err(GetError::TooLarge { len: 101, max: 100 }));
    assert_eq!(small.get().unwrap(), vec![2; 100]);
    assert!(matches!(
        small.put(&[0; 101]),
        Err(PutError::TooLarge {
            len: 101,
            capacity: 100,
            ..
        })
    ));
    // An opener without a bound of its own takes the creator's.
    let same = ByteQueue::open_in(&seg, "q", 4096, None).unwrap();
    assert_eq!(same.max_message(), big.max_message());
}

#[test]
fn shutdown_drains_byte_messages_then_fails() {
    let q = ByteQueue::new(512).unwrap();
    q.put(b"one").unwrap();
    q.shutdown(false);
    assert!(matches!(q.put(b"two"), Err(PutError::ShutDown(()))));
    assert_eq!(q.get().unwrap(), b"one");
    assert_eq!(q.get(), Err(GetError::ShutDown));
}

#[cfg(feature = "serde")]
mod serde_values {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    enum Job {
        Resize {
            path: String,
            sizes: Vec<(u32, u32)>,
        },
        Stop,
        Blob(Vec<u8>),
    }

    fn job(rng: &mut Rng, i: u64) -> Job {
        match rng.below(3) {
            0 => Job::Resize {
                path: format!("/images/{i}.png"),
                sizes: (0..rng.below(20)).map(|k| (k as u32, i as u32)).collect(),
            },
            1 => Job::Stop,
            _ => Job::Blob(vec![i as u8; rng.below(700) as usize]),
        }
    }

    #[test]
    fn serde_values_of_random_sizes_cross_processes_across_the_wrap() {
        let _w = Watchdog::new("serde_random", PATIENCE);
        const N: u64 = 5_000;
        let seed = Rng::from_time("serde_random").next();
        let q = ByteQueue::new(2048).unwrap();
        let child = Process::spawn(|| {
            let mut rng = Rng(seed);
            for i in 0..N {
                q.put_value(&job(&mut rng, i)).unwrap();
            }
        })
        .unwrap();
        let mut rng = Rng(seed);
        for i in 0..N {
            let got: Job = q.get_value_timeout(PATIENCE).unwrap();
            assert_eq!(got, job(&mut rng, i), "value {i}");
        }
        join_ok(&child);
    }

    #[test]
    fn a_message_of_another_type_is_a_decode_error_and_is_taken() {
        let q = ByteQueue::new(256).unwrap();
        q.put(&[0xFF; 3]).unwrap();
        q.put_value(&7u8).unwrap();
        assert!(matches!(q.get_value::<Job>(), Err(GetError::Decode(_))));
        assert_eq!(q.get_value::<u8>(), Ok(7));
        assert!(matches!(
            q.put_value(&vec![0u8; 300]),
            Err(PutError::TooLarge { .. })
        ));
        // A zero timeout is a timed wait that ran out, as for the byte
        // calls; only the try_ calls say Empty / Full.
        assert_eq!(
            q.get_value_timeout::<u8>(Duration::ZERO),
            Err(GetError::Timeout)
        );
        assert_eq!(q.get_timeout(Duration::ZERO), Err(GetError::Timeout));
        assert_eq!(q.try_get(), Err(GetError::Empty));
        let full = ByteQueue::new(64).unwrap();
        full.put(&[1; 48]).unwrap();
        assert!(matches!(
            full.put_value_timeout(&[2u8; 4], Duration::ZERO),
            Err(PutError::Timeout(()))
        ));
        assert!(matches!(
            full.put_timeout(&[2; 4], Duration::ZERO),
            Err(PutError::Timeout(()))
        ));
        assert!(matches!(full.try_put(&[2; 4]), Err(PutError::Full(()))));
    }
}
