//! `Queue` and `ByteQueue` against the channels they replace, producer and
//! consumer in separate processes, in the same run.
//!
//! - `spsc_u64`: one producer process puts `u64`s, one consumer process
//!   gets them (the bench process and a forked child, pinned to two CPUs
//!   by the testkit's [`Pair`]). Functions: `shmsync` (the exclusive
//!   `producer()` / `consumer()` handles), `shmsync_put_get` (plain `put`
//!   / `get`, which take and give back a side per message), `pipe` (8-byte
//!   writes and reads on an OS pipe) and `crossbeam_array_queue` (two
//!   threads of this process on crossbeam's `ArrayQueue`, spinning when
//!   full or empty: the best in-process bounded queue, as a reference).
//! - `roundtrip_u64`: a request and its answer, a `u64` each way through
//!   two queues between the bench process and a forked child: `shmsync`
//!   (exclusive handles), `shmsync_put_get` (plain `put` / `get`) and
//!   `pipe` (two OS pipes), beside the cache line's round trip (a note).
//! - `mpmc_u64`: two producer and two consumer processes ([`crew::Crew`]):
//!   `shmsync` (plain `put` / `get`) and `pipe`.
//! - `bytes_4k`: 4 KiB messages from one process to another: `shmsync`
//!   (`ByteQueue`, a 256 KiB ring), `pipe` and `socketpair`.
//!
//! Queues hold 1024 items (the crossbeam one too). Every figure is per
//! message. After the groups, if `python3` is on the path,
//! `benches/python_reference.py` times Python's `multiprocessing.Queue` on
//! `spsc_u64`, `bytes_4k` and `roundtrip_u64`, and the factor to a one-off
//! shmsync batch is printed. Every wait is bounded (shmsync timeouts, the
//! testkit's [`Alarm`](shmsync_testkit::Alarm) for the kernel's calls,
//! children killed when the bench fails). Run with `cargo bench --bench queue`.

mod crew;
mod peers;
mod python;

use crew::Crew;
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use peers::Channel;
use shmsync::{ByteQueue, GetError, Queue, Shared};
use shmsync_testkit::{Alarm, Padded, Pair, PATIENCE};
use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

const CAPACITY: usize = 1024;
const MESSAGE: usize = 4096;

/// A group of two-process figures per message, after a note of what a
/// cache line's round trip between the two processes costs right now.
fn per_message<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(1));
    let round_trip = Pair::new().cache_line_round_trip();
    eprintln!("note: cache-line round trip between the two processes: {round_trip:?}");
    group
}

fn spsc(c: &mut Criterion) {
    let mut group = per_message(c, "spsc_u64");

    let q = Queue::<u64>::new(CAPACITY).expect("queue");
    let sum = Shared::new(Padded(AtomicU64::new(0))).expect("mmap");
    let mut pair = Pair::new();
    group.bench_function("shmsync", |b| {
        b.iter_custom(|iters| {
            let elapsed = pair.run(
                || {
                    let mut rx = q.consumer_timeout(PATIENCE).expect("consumer");
                    let mut total = 0u64;
                    for _ in 0..iters {
                        total = total.wrapping_add(rx.get_timeout(PATIENCE).expect("get"));
                    }
                    sum.0.store(total, Ordering::Relaxed);
                },
                || {
                    let mut tx = q.producer_timeout(PATIENCE).expect("producer");
                    for i in 0..iters {
                        tx.put(black_box(i)).expect("put");
                    }
                },
            );
            assert_eq!(sum.0.load(Ordering::Relaxed), (0..iters).sum::<u64>());
            elapsed
        })
    });
    pair.take_preemptions().warn("spsc_u64/shmsync");

    group.bench_function("shmsync_put_get", |b| {
        b.iter_custom(|iters| {
            let elapsed = pair.run(
                || {
                    let mut total = 0u64;
                    for _ in 0..iters {
                        total = total.wrapping_add(q.get().expect("get"));
                    }
                    sum.0.store(total, Ordering::Relaxed);
                },
                || {
                    for i in 0..iters {
                        q.put(black_box(i)).expect("put");
                    }
                },
            );
            assert_eq!(sum.0.load(Ordering::Relaxed), (0..iters).sum::<u64>());
            elapsed
        })
    });
    pair.take_preemptions().warn("spsc_u64/shmsync_put_get");

    let pipe = Channel::pipe();
    group.bench_function("pipe", |b| {
        b.iter_custom(|iters| {
            pair.run(
                || {
                    let _alarm = Alarm::arm(PATIENCE);
                    let mut buf = [0u8; 8];
                    for i in 0..iters {
                        pipe.recv(&mut buf);
                        assert_eq!(u64::from_ne_bytes(buf), i);
                    }
                },
                || {
                    let _alarm = Alarm::arm(PATIENCE);
                    for i in 0..iters {
                        pipe.send(&i.to_ne_bytes());
                    }
                },
            )
        })
    });
    pair.take_preemptions().warn("spsc_u64/pipe");

    group.bench_function("crossbeam_array_queue", |b| {
        b.iter_custom(|iters| {
            let q = ArrayQueue::<u64>::new(CAPACITY);
            let t0 = std::time::Instant::now();
            std::thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..iters {
                        let mut v = black_box(i);
                        while let Err(back) = q.push(v) {
                            v = back;
                            spin_loop();
                        }
                    }
                });
                let mut total = 0u64;
                for _ in 0..iters {
                    loop {
                        if let Some(v) = q.pop() {
                            total = total.wrapping_add(v);
                            break;
                        }
                        spin_loop();
                    }
                }
                assert_eq!(total, (0..iters).sum::<u64>());
            });
            t0.elapsed()
        })
    });
    group.finish();
}

/// A request and its answer: the bench process puts a `u64` into one
/// queue, the child gets it and puts it into another, the bench process
/// gets it back. What a task queue and a result queue cost a caller that
/// waits for each answer.
fn roundtrip(c: &mut Criterion) {
    let mut group = per_message(c, "roundtrip_u64");
    let (ask, answer) = (
        Queue::<u64>::new(CAPACITY).expect("queue"),
        Queue::<u64>::new(CAPACITY).expect("queue"),
    );
    let mut pair = Pair::new();
    group.bench_function("shmsync", |b| {
        b.iter_custom(|iters| {
            pair.run(
                || {
                    let mut tx = ask.producer_timeout(PATIENCE).expect("producer");
                    let mut rx = answer.consumer_timeout(PATIENCE).expect("consumer");
                    for i in 0..iters {
                        tx.put(black_box(i)).expect("put");
                        assert_eq!(rx.get_timeout(PATIENCE), Ok(i));
                    }
                },
                || {
                    let mut rx = ask.consumer_timeout(PATIENCE).expect("consumer");
                    let mut tx = answer.producer_timeout(PATIENCE).expect("producer");
                    for _ in 0..iters {
                        tx.put(rx.get_timeout(PATIENCE).expect("get")).expect("put");
                    }
                },
            )
        })
    });
    pair.take_preemptions().warn("roundtrip_u64/shmsync");

    group.bench_function("shmsync_put_get", |b| {
        b.iter_custom(|iters| put_get_round_trips(&mut pair, &ask, &answer, iters))
    });
    pair.take_preemptions()
        .warn("roundtrip_u64/shmsync_put_get");

    let (there, back) = (Channel::pipe(), Channel::pipe());
    group.bench_function("pipe", |b| {
        b.iter_custom(|iters| {
            pair.run(
                || {
                    let _alarm = Alarm::arm(PATIENCE);
                    let mut buf = [0u8; 8];
                    for i in 0..iters {
                        there.send(&i.to_ne_bytes());
                        back.recv(&mut buf);
                        assert_eq!(u64::from_ne_bytes(buf), i);
                    }
                },
                || {
                    let _alarm = Alarm::arm(PATIENCE);
                    let mut buf = [0u8; 8];
                    for _ in 0..iters {
                        there.recv(&mut buf);
                        back.send(&buf);
                    }
                },
            )
        })
    });
    pair.take_preemptions().warn("roundtrip_u64/pipe");
    group.finish();
}

/// `trips` round trips with plain `put` / `get`: this process puts into
/// `ask`, a forked child gets from it and puts into `answer`, this process
/// gets the answer back. The wall time, as [`Pair::run`] measures it.
fn put_get_round_trips(
    pair: &mut Pair,
    ask: &Queue<u64>,
    answer: &Queue<u64>,
    trips: u64,
) -> Duration {
    pair.run(
        || {
            for i in 0..trips {
                ask.put(black_box(i)).expect("put");
                assert_eq!(answer.get_timeout(PATIENCE), Ok(i));
            }
        },
        || {
            for _ in 0..trips {
                let v = ask.get_timeout(PATIENCE).expect("get");
                answer.put(v).expect("put");
            }
        },
    )
}

fn mpmc(c: &mut Criterion) {
    let mut group = c.benchmark_group("mpmc_u64");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(10)
        .throughput(Throughput::Elements(1));
    let mut crew = Crew::new();
    let received = Shared::new(Padded([const { AtomicU64::new(0) }; 2])).expect("mmap");
    let received = &received.0;

    group.bench_function("shmsync", |b| {
        b.iter_custom(|iters| {
            let q = Queue::<u64>::new(CAPACITY).expect("queue");
            let finished = Shared::new(AtomicU32::new(0)).expect("mmap");
            let (q, finished) = (&q, &finished);
            let share = iters / 2;
            let mut members: Vec<Box<dyn FnOnce()>> = Vec::new();
            for p in 0..2 {
                let n = if p == 0 { iters - share } else { share };
                members.push(Box::new(move || {
                    for i in 0..n {
                        q.put(black_box(i)).expect("put");
                    }
                    if finished.fetch_add(1, Ordering::AcqRel) == 1 {
                        q.shutdown(false);
                    }
                }));
            }
            for slot in received {
                members.push(Box::new(move || {
                    let mut count = 0;
                    loop {
                        match q.get_timeout(PATIENCE) {
                            Ok(v) => {
                                black_box(v);
                                count += 1;
                            }
                            Err(GetError::ShutDown) => break,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    slot.store(count, Ordering::Relaxed);
                }));
            }
            let elapsed = crew.run(members);
            let total: u64 = received.iter().map(|r| r.load(Ordering::Relaxed)).sum();
            assert_eq!(total, iters);
            elapsed
        })
    });

    group.bench_function("pipe", |b| {
        b.iter_custom(|iters| {
            let pipe = Channel::pipe();
            let finished = Shared::new(AtomicU32::new(0)).expect("mmap");
            let (pipe, finished) = (&pipe, &finished);
            let share = iters / 2;
            let mut members: Vec<Box<dyn FnOnce()>> = Vec::new();
            for p in 0..2 {
                let n = if p == 0 { iters - share } else { share };
                members.push(Box::new(move || {
                    let _alarm = Alarm::arm(PATIENCE);
                    for i in 0..n {
                        pipe.send(&black_box(i).to_ne_bytes());
                    }
                    if finished.fetch_add(1, Ordering::AcqRel) == 1 {
                        // One end-of-stream mark per reader.
                        pipe.send(&u64::MAX.to_ne_bytes());
                        pipe.send(&u64::MAX.to_ne_bytes());
                    }
                }));
            }
            for slot in received {
                members.push(Box::new(move || {
                    let _alarm = Alarm::arm(PATIENCE);
                    let mut buf = [0u8; 8];
                    let mut count = 0;
                    loop {
                        pipe.recv(&mut buf);
                        if u64::from_ne_bytes(buf) == u64::MAX {
                            break;
                        }
                        count += 1;
                    }
                    slot.store(count, Ordering::Relaxed);
                }));
            }
            let elapsed = crew.run(members);
            let total: u64 = received.iter().map(|r| r.load(Ordering::Relaxed)).sum();
            assert_eq!(total, iters);
            elapsed
        })
    });
    group.finish();
}

fn bytes(c: &mut Criterion) {
    let mut group = c.benchmark_group("bytes_4k");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Bytes(MESSAGE as u64));
    let mut pair = Pair::new();
    let msg = [7u8; MESSAGE];

    let q = ByteQueue::new(256 * 1024).expect("queue");
    group.bench_function("shmsync", |b| {
        b.iter_custom(|iters| {
            pair.run(
                || {
                    for _ in 0..iters {
                        let got = q.get_timeout(PATIENCE).expect("get");
                        assert_eq!(got.len(), MESSAGE);
                        black_box(got);
                    }
                },
                || {
                    for _ in 0..iters {
                        q.put(black_box(&msg)).expect("put");
                    }
                },
            )
        })
    });
    pair.take_preemptions().warn("bytes_4k/shmsync");

    for (name, channel) in [
        ("pipe", Channel::pipe()),
        ("socketpair", Channel::socketpair()),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                pair.run(
                    || {
                        let _alarm = Alarm::arm(PATIENCE);
                        for _ in 0..iters {
                            let mut got = vec![0u8; MESSAGE];
                            channel.recv(&mut got);
                            black_box(got);
                        }
                    },
                    || {
                        let _alarm = Alarm::arm(PATIENCE);
                        for _ in 0..iters {
                            channel.send(black_box(&msg));
                        }
                    },
                )
            })
        });
        pair.take_preemptions().warn(&format!("bytes_4k/{name}"));
    }
    group.finish();
}

fn python_reference(_c: &mut Criterion) {
    python::compare();
}

criterion_group!(benches, spsc, roundtrip, mpmc, bytes, python_reference);
criterion_main!(benches);
