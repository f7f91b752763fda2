//! Many producers and consumers in separate processes: every message
//! exactly once, each producer's messages in order at each consumer; a
//! `JoinableQueue` drained by four worker processes. Sizes scale with
//! `SHMSYNC_QUEUE_MESSAGES` (messages per producer; a million by default,
//! about 2 s in a debug build on a 2-core machine).

mod queue_helpers;

use queue_helpers::{messages, SharedBits};
use shmsync::{GetError, JoinableQueue, Process, Queue, Shared};
use shmsync_testkit::{join_ok, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Generous for the biggest default run on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(240);

/// Producer `p`'s `i`th message.
fn message(p: u64, i: u64) -> u64 {
    p << 40 | i
}

#[test]
fn two_producers_and_two_consumers_deliver_every_message_once_in_each_producers_order() {
    let _w = Watchdog::new("mpmc", LIMIT);
    let per_producer = messages(1_000_000);
    let q = Queue::<u64>::new(1024).unwrap();
    let seen = SharedBits::new(2 * per_producer as usize);
    let received = Shared::new([const { AtomicU64::new(0) }; 2]).unwrap();
    let t0 = Instant::now();
    let producers: Vec<KillOnDrop> = (0..2u64)
        .map(|p| {
            KillOnDrop(
                Process::spawn(|| {
                    for i in 0..per_producer {
                        q.put(message(p, i)).unwrap();
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    let consumers: Vec<KillOnDrop> = (0..2usize)
        .map(|c| {
            KillOnDrop(
                Process::spawn(|| {
                    let mut last = [None::<u64>; 2];
                    let mut count = 0;
                    loop {
                        let m = match q.get_timeout(PATIENCE) {
                            Ok(m) => m,
                            Err(GetError::ShutDown) => break,
                            Err(e) => panic!("consumer {c}: {e}"),
                        };
                        let (p, i) = ((m >> 40) as usize, m & ((1 << 40) - 1));
                        assert!(p < 2 && i < per_producer, "garbage message {m:#x}");
                        assert!(
                            !matches!(last[p], Some(l) if l >= i),
                            "producer {p}: {i} after {last:?}"
                        );
                        last[p] = Some(i);
                        assert!(
                            !seen.set(p * per_producer as usize + i as usize),
                            "message {m:#x} received twice"
                        );
                        count += 1;
                    }
                    received[c].store(count, Ordering::Relaxed);
                })
                .unwrap(),
            )
        })
        .collect();
    for p in &producers {
        join_ok(p);
    }
    q.shutdown(false);
    for c in &consumers {
        join_ok(c);
    }
    let counts = [0, 1].map(|c| received[c].load(Ordering::Relaxed));
    eprintln!(
        "{} messages through 2 producers and 2 consumers in {:?} (split {counts:?})",
        2 * per_producer,
        t0.elapsed()
    );
    assert_eq!(counts[0] + counts[1], 2 * per_producer);
    assert_eq!(
        seen.count(2 * per_producer as usize),
        2 * per_producer as usize
    );
}

#[test]
fn batches_from_two_producers_to_two_consumers_deliver_every_message_once() {
    let _w = Watchdog::new("mpmc_batches", LIMIT);
    let per_producer = messages(1_000_000);
    let q = Queue::<u64>::new(256).unwrap();
    let seen = SharedBits::new(2 * per_producer as usize);
    let producers: Vec<KillOnDrop> = (0..2u64)
        .map(|p| {
            KillOnDrop(
                Process::spawn(|| {
                    let mut batch = Vec::with_capacity(100);
                    for start in (0..per_producer).step_by(100) {
                        batch.clear();
                        batch.extend(
                            (start..(start + 100).min(per_producer)).map(|i| message(p, i)),
                        );
                        q.put_many(&batch, Some(PATIENCE)).unwrap();
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    let consumers: Vec<KillOnDrop> = (0..2)
        .map(|_| {
            KillOnDrop(
                Process::spawn(|| {
                    let mut out = [0u64; 64];
                    let mut last = [None::<u64>; 2];
                    loop {
                        let n = match q.get_many(&mut out, Some(PATIENCE)) {
                            Ok(n) => n,
                            Err(GetError::ShutDown) => break,
                            Err(e) => panic!("{e}"),
                        };
                        for &m in &out[..n] {
                            let (p, i) = ((m >> 40) as usize, m & ((1 << 40) - 1));
                            assert!(!matches!(last[p], Some(l) if l >= i), "out of order");
                            last[p] = Some(i);
                            assert!(!seen.set(p * per_producer as usize + i as usize));
                        }
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for p in &producers {
        join_ok(p);
    }
    q.shutdown(false);
    for c in &consumers {
        join_ok(c);
    }
    assert_eq!(
        seen.count(2 * per_producer as usize),
        2 * per_producer as usize
    );
}

#[test]
fn a_joinable_queue_drained_by_four_worker_processes_joins_once_every_task_is_done() {
    let _w = Watchdog::new("joinable", LIMIT);
    const JOBS: u64 = 20_000;
    let q = JoinableQueue::<u64>::new(64).unwrap();
    let seen = SharedBits::new(JOBS as usize);
    let workers: Vec<KillOnDrop> = (0..4)
        .map(|_| {
            KillOnDrop(
                Process::spawn(|| loop {
                    match q.get_timeout(PATIENCE) {
                        Ok(job) => {
                            assert!(!seen.set(job as usize), "job {job} twice");
                            q.task_done().unwrap();
                        }
                        Err(GetError::ShutDown) => break,
                        Err(e) => panic!("{e}"),
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for job in 0..JOBS {
        q.put(job).unwrap();
    }
    assert!(q.join(Some(PATIENCE)), "join timed out");
    // Every job was processed before join returned.
    assert_eq!(seen.count(JOBS as usize), JOBS as usize);
    assert_eq!(q.unfinished_tasks(), 0);
    assert!(q.task_done().is_err(), "one task_done too many");
    q.shutdown(false);
    for w in &workers {
        join_ok(w);
    }
}

#[test]
fn join_waits_for_a_task_taken_but_not_done_and_an_immediate_shutdown_counts_leftovers_done() {
    let _w = Watchdog::new("joinable_edges", PATIENCE);
    let q = JoinableQueue::<u8>::new(8).unwrap();
    assert!(q.join(Some(Duration::ZERO)), "nothing put: joined at once");
    q.put_many(&[1, 2, 3], None).unwrap();
    assert_eq!(q.get(), Ok(1));
    // Taken, not done: join times out (a worker that died with it would
    // keep it waiting the same way).
    assert!(!q.join(Some(Duration::from_millis(20))));
    assert_eq!(q.unfinished_tasks(), 3);
    // The two left in the queue count as done after an immediate shutdown;
    // the one taken still needs its task_done.
    q.shutdown(true);
    assert_eq!(q.unfinished_tasks(), 1);
    assert!(!q.join(Some(Duration::from_millis(20))));
    let child = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        q.task_done().unwrap();
    })
    .unwrap();
    assert!(q.join(Some(PATIENCE)));
    join_ok(&child);
    assert!(q.task_done().is_err());
}
