//! Processes killed inside `put` and `get` (feature `test-hooks`): first at
//! each step on purpose (side taken, message copied, committed, woken;
//! asleep), then by 100 SIGKILLs at random instants. Each time the others
//! go on within a second; every message whose `put` returned is received
//! exactly once, unless the consumer that took it died before its `get`
//! returned; nothing is received twice; each producer's messages keep their
//! order. A sleeper killed asleep costs the next put one wake-up call, not
//! one per put.
#![cfg(feature = "test-hooks")]

mod queue_helpers;

use queue_helpers::SharedBits;
use shmsync::ring::hooks::{self, Step};
use shmsync::{ByteQueue, GetError, Process, Queue, Shared};
use shmsync_testkit::{join_ok, join_within, KillOnDrop, Rng, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How soon the survivors must go on after a death.
const GO_ON: Duration = Duration::from_secs(1);

/// Joins a child that must have been killed by SIGKILL.
fn join_killed(child: &Process) {
    assert_eq!(
        join_within(child, PATIENCE),
        -libc::SIGKILL,
        "child was not killed"
    );
}

/// Runs `op` in a child armed to die at the first pass through `step`,
/// and reaps it, killed there.
fn killed_at(step: Step, op: impl FnOnce()) {
    let child = Process::spawn(|| {
        hooks::crash_at(step, 0);
        op();
        unreachable!("the child should have been killed at {step:?}");
    })
    .unwrap();
    join_killed(&child);
}

/// A producer killed at `step` of its put number `k` (the first `k` puts
/// returned): the message in progress is delivered only if the step is
/// past its commit, everything before it exactly once, and the next
/// producer and consumer go on at once.
fn producer_killed_at(step: Step, committed: bool) {
    const K: u64 = 2;
    let q = Queue::<u64>::new(4).unwrap();
    let returned = Shared::new(AtomicU64::new(0)).unwrap();
    let child = Process::spawn(|| {
        hooks::crash_at(step, K as u32);
        for i in 0..=K {
            q.put(i).unwrap();
            returned.store(i + 1, Ordering::SeqCst);
        }
        unreachable!("put {K} should have been killed at {step:?}");
    })
    .unwrap();
    join_killed(&child);
    assert_eq!(returned.load(Ordering::SeqCst), K);
    let t0 = Instant::now();
    q.put_timeout(100, GO_ON).unwrap();
    let mut got = Vec::new();
    while let Ok(v) = q.try_get() {
        got.push(v);
    }
    assert!(t0.elapsed() < GO_ON, "{step:?}: took {:?}", t0.elapsed());
    let mut expected: Vec<u64> = (0..K).collect();
    if committed {
        expected.push(K);
    }
    expected.push(100);
    assert_eq!(got, expected, "{step:?}");
}

/// A consumer killed at `step` of its get number `k`: the message in
/// progress stays for the next consumer unless the step is past the
/// commit (then it went with the dead consumer); nothing is received
/// twice.
fn consumer_killed_at(step: Step, committed: bool) {
    const K: u64 = 2;
    let q = Queue::<u64>::new(8).unwrap();
    q.put_many(&[0, 1, 2, 3], None).unwrap();
    let returned = SharedBits::new(8);
    let child = Process::spawn(|| {
        hooks::crash_at(step, K as u32);
        loop {
            let v = q.get().unwrap();
            returned.set(v as usize);
        }
    })
    .unwrap();
    join_killed(&child);
    let t0 = Instant::now();
    q.put_timeout(4, GO_ON).unwrap();
    // The first get takes the dead consumer's side over.
    let mut got = vec![q.get_timeout(GO_ON).unwrap()];
    while let Ok(v) = q.try_get() {
        got.push(v);
    }
    assert!(t0.elapsed() < GO_ON, "{step:?}: took {:?}", t0.elapsed());
    assert_eq!((0..8).filter(|&i| returned.get(i)).count() as u64, K);
    let mut expected: Vec<u64> = if committed { vec![3, 4] } else { vec![2, 3, 4] };
    expected.retain(|&v| !returned.get(v as usize));
    assert_eq!(got, expected, "{step:?}");
}

#[test]
fn a_producer_killed_at_each_step_of_put_loses_only_its_uncommitted_message() {
    let _w = Watchdog::new("producer_steps", PATIENCE);
    producer_killed_at(Step::PutSideTaken, false);
    producer_killed_at(Step::PutCopied, false);
    producer_killed_at(Step::PutCommitted, true);
    producer_killed_at(Step::PutWoken, true);
}

#[test]
fn a_consumer_killed_at_each_step_of_get_leaves_its_message_unless_it_had_taken_it() {
    let _w = Watchdog::new("consumer_steps", PATIENCE);
    consumer_killed_at(Step::GetSideTaken, false);
    consumer_killed_at(Step::GetCopied, false);
    consumer_killed_at(Step::GetCommitted, true);
    consumer_killed_at(Step::GetWoken, true);
}

/// [`producer_killed_at`] for a byte queue: records of several sizes.
fn byte_producer_killed_at(step: Step, committed: bool) {
    const K: usize = 2;
    let q = ByteQueue::new(4096).unwrap();
    let msg = |i: usize| vec![i as u8; 10 + 100 * i];
    let child = Process::spawn(|| {
        hooks::crash_at(step, K as u32);
        for i in 0..=K {
            q.put(&msg(i)).unwrap();
        }
        unreachable!("put {K} should have been killed at {step:?}");
    })
    .unwrap();
    join_killed(&child);
    let t0 = Instant::now();
    q.put_timeout(b"after", GO_ON).unwrap();
    let mut got = Vec::new();
    while let Ok(m) = q.try_get() {
        got.push(m);
    }
    assert!(t0.elapsed() < GO_ON, "{step:?}: took {:?}", t0.elapsed());
    let mut expected: Vec<Vec<u8>> = (0..K).map(msg).collect();
    if committed {
        expected.push(msg(K));
    }
    expected.push(b"after".to_vec());
    assert_eq!(got, expected, "{step:?}");
}

/// [`consumer_killed_at`] for a byte queue.
fn byte_consumer_killed_at(step: Step, committed: bool) {
    const K: usize = 2;
    let q = ByteQueue::new(4096).unwrap();
    let msg = |i: usize| vec![i as u8; 3 + 50 * i];
    for i in 0..4 {
        q.put(&msg(i)).unwrap();
    }
    let returned = SharedBits::new(8);
    let child = Process::spawn(|| {
        hooks::crash_at(step, K as u32);
        loop {
            let m = q.get().unwrap();
            returned.set(m[0] as usize);
        }
    })
    .unwrap();
    join_killed(&child);
    let t0 = Instant::now();
    q.put_timeout(&msg(4), GO_ON).unwrap();
    let mut got = vec![q.get_timeout(GO_ON).unwrap()];
    while let Ok(m) = q.try_get() {
        got.push(m);
    }
    assert!(t0.elapsed() < GO_ON, "{step:?}: took {:?}", t0.elapsed());
    assert_eq!((0..8).filter(|&i| returned.get(i)).count(), K);
    let first = if committed { K + 1 } else { K };
    let expected: Vec<Vec<u8>> = (first..5).map(msg).collect();
    assert_eq!(got, expected, "{step:?}");
}

#[test]
fn a_byte_queue_producer_or_consumer_killed_at_each_step_loses_only_what_it_had() {
    let _w = Watchdog::new("byte_steps", PATIENCE);
    byte_producer_killed_at(Step::PutSideTaken, false);
    byte_producer_killed_at(Step::PutCopied, false);
    byte_producer_killed_at(Step::PutCommitted, true);
    byte_producer_killed_at(Step::PutWoken, true);
    byte_consumer_killed_at(Step::GetSideTaken, false);
    byte_consumer_killed_at(Step::GetCopied, false);
    byte_consumer_killed_at(Step::GetCommitted, true);
    byte_consumer_killed_at(Step::GetWoken, true);
}

/// How long a blocked call is given to fall asleep in the kernel (its
/// spins and yields last well under a millisecond).
const FALL_ASLEEP: Duration = Duration::from_millis(200);

#[test]
fn a_sleeper_goes_on_when_the_peer_that_should_wake_it_dies_between_commit_and_wake_up() {
    let _w = Watchdog::new("killed_before_wake", PATIENCE);
    // A consumer asleep in `get`; a producer killed after it committed,
    // before it woke anyone.
    let q = Queue::<u64>::new(4).unwrap();
    let consumer = KillOnDrop(Process::spawn(|| assert_eq!(q.get(), Ok(7))).unwrap());
    std::thread::sleep(FALL_ASLEEP);
    killed_at(Step::PutCommitted, || drop(q.put(7)));
    let t0 = Instant::now();
    assert_eq!(join_within(&consumer.0, GO_ON + FALL_ASLEEP), 0);
    assert!(t0.elapsed() < GO_ON, "the get took {:?}", t0.elapsed());

    // A producer asleep in `put` on a full queue; a consumer killed after
    // it committed its get, before it woke anyone.
    let q = Queue::<u64>::new(2).unwrap();
    q.put_many(&[1, 2], None).unwrap();
    let producer = KillOnDrop(Process::spawn(|| q.put(3).unwrap()).unwrap());
    std::thread::sleep(FALL_ASLEEP);
    killed_at(Step::GetCommitted, || drop(q.get()));
    let t0 = Instant::now();
    assert_eq!(join_within(&producer.0, GO_ON + FALL_ASLEEP), 0);
    assert!(t0.elapsed() < GO_ON, "the put took {:?}", t0.elapsed());
    let mut rest = [0u64; 3];
    // The first get takes the dead consumer's side over.
    assert_eq!(q.get_many(&mut rest, Some(GO_ON)), Ok(2));
    assert_eq!(rest[..2], [2, 3]);
}

#[test]
fn a_producer_killed_asleep_on_a_full_queue_costs_one_wake_call_and_blocks_nobody() {
    let _w = Watchdog::new("producer_asleep", PATIENCE);
    let q = Queue::<u64>::new(2).unwrap();
    q.put_many(&[1, 2], None).unwrap();
    killed_at(Step::Asleep, || drop(q.put(3)));
    // Counted in a process of its own: the counter is per process, and
    // other tests run in this one.
    let calls = Shared::new(AtomicU64::new(u64::MAX)).unwrap();
    let survivor = Process::spawn(|| {
        let wakes = hooks::wake_calls();
        // Gets: the first finds the dead sleeper's flag and wakes (nobody);
        // the flag is cleared, so later gets make no wake-up call.
        let mut tx = q.producer_timeout(GO_ON).unwrap();
        assert!(tx.took_over(), "the dead sleeper held the producing side");
        for i in 0..10_000u64 {
            assert_eq!(q.get(), Ok(i + 1));
            tx.put(i + 3).unwrap();
        }
        calls.store(hooks::wake_calls() - wakes, Ordering::SeqCst);
    })
    .unwrap();
    join_ok(&survivor);
    let calls = calls.load(Ordering::SeqCst);
    assert!(calls <= 1, "{calls} wake-up calls after one death");
}

#[test]
fn a_consumer_killed_asleep_makes_the_next_put_pay_one_wake_call_not_every_put() {
    let _w = Watchdog::new("consumer_asleep", PATIENCE);
    let q = Queue::<u64>::new(1024).unwrap();
    killed_at(Step::Asleep, || drop(q.get()));
    const PUTS: u64 = 200_000;
    // Counted in a process of its own, as above.
    let calls = Shared::new(AtomicU64::new(u64::MAX)).unwrap();
    let survivor = Process::spawn(|| {
        let wakes = hooks::wake_calls();
        let t0 = Instant::now();
        let mut drained = 0;
        let mut out = [0u64; 1024];
        for i in 0..PUTS {
            q.put(i).unwrap();
            if (i + 1) % 1024 == 0 {
                // Drain through a consumer handle (the first takes the
                // dead consumer's side over).
                let mut rx = q.consumer_timeout(GO_ON).unwrap();
                drained += rx.get_many(&mut out, Some(Duration::ZERO)).unwrap();
            }
        }
        let elapsed = t0.elapsed();
        let n = hooks::wake_calls() - wakes;
        eprintln!(
            "after a consumer died asleep: {PUTS} puts in {elapsed:?} ({:.1} M puts/s), {n} wake-up call(s)",
            PUTS as f64 / elapsed.as_secs_f64() / 1e6
        );
        assert_eq!(drained as u64, PUTS / 1024 * 1024);
        calls.store(n, Ordering::SeqCst);
    })
    .unwrap();
    join_ok(&survivor);
    let calls = calls.load(Ordering::SeqCst);
    assert!(
        calls <= 1,
        "{calls} wake-up calls: the sleepers flag did not heal"
    );
    // And a consumer goes on within the bound.
    let t0 = Instant::now();
    assert!(q.get_timeout(GO_ON).is_ok());
    assert!(t0.elapsed() < GO_ON);
}

/// One round of the random-kill test: two producers and two consumers,
/// one of them killed at a random instant.
struct Round<'a> {
    q: &'a Queue<u64>,
    /// Bit `producer * PER + i`: producer's put of `i` returned.
    put: &'a SharedBits,
    /// Bit `producer * PER + i`: a get of it returned.
    got: &'a SharedBits,
}

const PER: u64 = 2_000;

impl Round<'_> {
    fn producer(&self, p: u64) -> KillOnDrop {
        KillOnDrop(
            Process::spawn(|| {
                for i in 0..PER {
                    self.q.put_timeout(p << 32 | i, PATIENCE).unwrap();
                    self.put.set((p * PER + i) as usize);
                }
            })
            .unwrap(),
        )
    }

    fn consumer(&self) -> KillOnDrop {
        KillOnDrop(
            Process::spawn(|| {
                let mut last = [None::<u64>; 2];
                loop {
                    let m = match self.q.get_timeout(PATIENCE) {
                        Ok(m) => m,
                        Err(GetError::ShutDown) => return,
                        Err(e) => panic!("{e}"),
                    };
                    let (p, i) = (m >> 32, m & 0xFFFF_FFFF);
                    assert!(p < 2 && i < PER, "garbage {m:#x}");
                    assert!(
                        !matches!(last[p as usize], Some(l) if l >= i),
                        "out of order"
                    );
                    last[p as usize] = Some(i);
                    assert!(!self.got.set((p * PER + i) as usize), "{p}/{i} twice");
                }
            })
            .unwrap(),
        )
    }
}

#[test]
fn a_hundred_random_kills_in_put_and_get_lose_nothing_returned_and_repeat_nothing() {
    let _w = Watchdog::new("random_kills", Duration::from_secs(300));
    let mut rng = Rng::from_time("random_kills");
    let mut slowest = Duration::ZERO;
    let mut landed = 0;
    for round in 0..100 {
        let q = Queue::<u64>::new(1 + rng.below(8) as usize).unwrap();
        let put = SharedBits::new(2 * PER as usize);
        let got = SharedBits::new(2 * PER as usize);
        let r = Round {
            q: &q,
            put: &put,
            got: &got,
        };
        let producers = [r.producer(0), r.producer(1)];
        let consumers = [r.consumer(), r.consumer()];
        let victim = rng.below(4) as usize;
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        let killed = if victim < 2 {
            &producers[victim]
        } else {
            &consumers[victim - 2]
        };
        let _ = killed.kill();
        if join_within(killed, PATIENCE) == -libc::SIGKILL {
            landed += 1;
        }
        let t0 = Instant::now();
        for (i, p) in producers.iter().enumerate() {
            if i != victim {
                join_ok(p);
            }
        }
        q.shutdown(false);
        for (i, c) in consumers.iter().enumerate() {
            if i + 2 != victim {
                join_ok(c);
            }
        }
        slowest = slowest.max(t0.elapsed());
        let lost = (0..2 * PER as usize)
            .filter(|&m| put.get(m) && !got.get(m))
            .count();
        // A consumer killed inside a get may take one message with it.
        let allowed = usize::from(victim >= 2);
        assert!(
            lost <= allowed,
            "round {round}: {lost} returned puts never received (victim {victim})"
        );
        // What survivors put after the kill went through too: a producer
        // that lived put everything.
        for p in 0..2 {
            if p != victim {
                let mine = (0..PER as usize)
                    .filter(|&i| put.get(p * PER as usize + i))
                    .count();
                assert_eq!(mine, PER as usize, "round {round}: producer {p}");
            }
        }
    }
    eprintln!(
        "100 random kills, {landed} in a live process; survivors finished at most {slowest:?} after a kill"
    );
    // A victim that had finished its work is not killed: most must land.
    assert!(landed >= 60, "only {landed} kills landed");
    assert!(
        slowest < Duration::from_secs(5),
        "survivors took {slowest:?}"
    );
}
