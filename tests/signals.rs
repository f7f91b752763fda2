//! A hostile peer that signals and stops: processes blocked in every kind
//! of wait receive a storm of `SIGUSR1` (caught by a handler installed
//! without `SA_RESTART`, so each one interrupts the system call it lands
//! in with `EINTR`) and of `SIGSTOP`/`SIGCONT` pairs, at random instants.
//! Nothing may be lost, duplicated or reordered, no timed wait may give up
//! before its time, and nothing may hang.
//!
//! The children work until the storm has sent [`SIGNALS`] signals (so a
//! fast machine cannot finish before the storm has begun), then finish
//! under the storm.

use shmsync::{Barrier, Condition, Event, Pipe, Process, Queue, Semaphore, Shared};
use shmsync_testkit::{join_ok, KillOnDrop, Rng, Watchdog};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Generous: a debug build on a loaded 2-core machine, with the storm.
const LIMIT: Duration = Duration::from_secs(120);

/// Longer than any test: a timed wait that returns before it has what it
/// waits for gave up early, which is the bug these tests look for.
const LONG: Duration = Duration::from_secs(60);

/// Signals sent before the children are told to finish.
const SIGNALS: u64 = 2_000;

/// Set in [`Flags::ready`] by the storm when it begins.
const START: u32 = 1 << 31;

/// What the storm and the children tell each other, in shared memory.
struct Flags(Shared<[AtomicU32; 2]>);

impl Flags {
    fn new() -> Flags {
        Flags(Shared::new([const { AtomicU32::new(0) }; 2]).unwrap())
    }

    /// Children with their handler installed, and [`START`].
    fn ready(&self) -> &AtomicU32 {
        &self.0[0]
    }

    /// Whether [`SIGNALS`] signals have been sent: the children finish.
    fn stopped(&self) -> bool {
        self.0[1].load(Ordering::Relaxed) != 0
    }

    fn stop(&self) {
        self.0[1].store(1, Ordering::Relaxed);
    }
}

extern "C" fn ignore(_: libc::c_int) {}

/// Installs a handler for `SIGUSR1` without `SA_RESTART` (an interrupted
/// system call fails with `EINTR` instead of resuming), says so, and waits
/// for the storm to begin.
fn catch_usr1(flags: &Flags) {
    // SAFETY: a zeroed sigaction is valid; the handler is async-signal-safe
    // (it does nothing); the pointers are to live locals.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = ignore as extern "C" fn(libc::c_int) as usize;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
    flags.ready().fetch_add(1, Ordering::Release);
    while flags.ready().load(Ordering::Acquire) & START == 0 {
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Waits until every one of `children` has its handler, starts them, and
/// signals and stops them at random instants: [`SIGNALS`] signals, then
/// [`Flags::stop`], then on until they have all exited. Asserts that each
/// exited with 0.
fn storm(name: &str, children: &[KillOnDrop], flags: &Flags) {
    let seed = name.bytes().fold(u64::from(std::process::id()), |h, b| {
        h.wrapping_mul(31).wrapping_add(u64::from(b))
    }) | 1;
    eprintln!("{name}: storm seed {seed:#x}");
    let mut rng = Rng(seed);
    let t0 = Instant::now();
    while flags.ready().load(Ordering::Acquire) < children.len() as u32 {
        assert!(
            t0.elapsed() < LIMIT,
            "children never installed their handlers"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    flags.ready().fetch_or(START, Ordering::Release);
    let mut sent = 0;
    while children.iter().any(|c| c.0.is_alive()) {
        assert!(
            t0.elapsed() < LIMIT,
            "{name}: the children did not finish under the storm"
        );
        // One that failed fails the test now (the others are killed), not
        // after its partner's long waits run out.
        for child in children {
            if let Some(code) = child.0.exitcode().filter(|&code| code != 0) {
                panic!(
                    "{name}: child {} failed with {code} after {sent} signals",
                    child.0.pid()
                );
            }
        }
        let pid = children[rng.below(children.len() as u64) as usize].0.pid() as libc::pid_t;
        if rng.below(10) == 0 {
            // SAFETY: kill has no memory preconditions; the pid is our
            // unreaped child's, so it cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            std::thread::sleep(Duration::from_micros(rng.below(1000)));
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
        } else {
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGUSR1) };
        }
        sent += 1;
        if sent == SIGNALS {
            flags.stop();
        }
        std::thread::sleep(Duration::from_micros(rng.below(200)));
    }
    for child in children {
        join_ok(&child.0);
    }
    eprintln!("{name}: {sent} signals in {:?}", t0.elapsed());
    assert!(sent >= SIGNALS, "{name}: the children stopped on their own");
}

#[test]
fn a_queue_under_a_signal_storm_keeps_every_message_in_order() {
    let _w = Watchdog::new("queue storm", LIMIT);
    // Four slots: both sides block, and sleep, all the time.
    let q = Queue::<u64>::new(4).unwrap();
    let flags = Flags::new();
    let producer = Process::spawn(|| {
        catch_usr1(&flags);
        let mut i = 0;
        while !flags.stopped() {
            q.put_timeout(i, LONG).expect("put gave up early");
            i += 1;
        }
        q.put_timeout(u64::MAX, LONG).expect("put gave up early");
    })
    .unwrap();
    let consumer = Process::spawn(|| {
        catch_usr1(&flags);
        let mut expected = 0;
        loop {
            let got = q.get_timeout(LONG).expect("get gave up early");
            if got == u64::MAX {
                break;
            }
            assert_eq!(got, expected, "lost, duplicated or reordered");
            expected += 1;
        }
    })
    .unwrap();
    storm(
        "queue",
        &[KillOnDrop(producer), KillOnDrop(consumer)],
        &flags,
    );
    assert!(q.empty());
}

#[test]
fn a_pipe_under_a_signal_storm_keeps_every_message_whole() {
    let _w = Watchdog::new("pipe storm", LIMIT);
    // A 4 KiB ring: messages up to 10 KiB stream through it in pieces,
    // while the reader waits for each.
    let (reader, writer) = Pipe::options()
        .duplex(false)
        .capacity(4096)
        .create()
        .unwrap();
    let flags = Flags::new();
    let message = |i: u64| -> Vec<u8> {
        let len = (i * 7919 % 10_240) as usize;
        (0..len).map(|b| (b as u64 ^ i) as u8).collect()
    };
    const END: &[u8] = b"end";
    let sender = Process::spawn(|| {
        catch_usr1(&flags);
        let mut i = 0;
        while !flags.stopped() {
            writer.send_bytes(&message(i)).expect("send");
            i += 1;
        }
        writer.send_bytes(END).expect("send");
    })
    .unwrap();
    let receiver = Process::spawn(|| {
        catch_usr1(&flags);
        for i in 0.. {
            let got = reader
                .recv_bytes_timeout(1 << 20, LONG)
                .expect("recv gave up early");
            if got == END {
                break;
            }
            assert!(got == message(i), "message {i} damaged");
        }
    })
    .unwrap();
    storm("pipe", &[KillOnDrop(sender), KillOnDrop(receiver)], &flags);
}

#[test]
fn locks_conditions_semaphores_barriers_and_events_under_a_signal_storm() {
    let _w = Watchdog::new("sync storm", LIMIT);
    let flags = Flags::new();
    // Ping-pong on two semaphores with timed acquires.
    let (ping, pong) = (Semaphore::new(0).unwrap(), Semaphore::new(0).unwrap());
    // A counter that two processes take turns on through a condition.
    let cond = Condition::new().unwrap();
    let turn = Shared::new(AtomicU64::new(0)).unwrap();
    let barrier = Barrier::new(2).unwrap();
    let (go, done) = (Event::new().unwrap(), Event::new().unwrap());
    // Set by party 0 before the round's last barrier: both end after it.
    let last = Shared::new(AtomicU32::new(0)).unwrap();
    let party = |me: u64| {
        let (flags, ping, pong, cond, turn, barrier, go, done, last) = (
            &flags, &ping, &pong, &cond, &turn, &barrier, &go, &done, &last,
        );
        move || {
            catch_usr1(flags);
            let (mine, theirs) = if me == 0 { (ping, pong) } else { (pong, ping) };
            for round in 0.. {
                // Semaphores: 0 releases first, each waits for the other.
                if me == 0 {
                    mine.release().unwrap();
                    assert!(theirs.acquire(true, Some(LONG)), "semaphore gave up early");
                } else {
                    assert!(theirs.acquire(true, Some(LONG)), "semaphore gave up early");
                    mine.release().unwrap();
                }
                // Condition: the counter goes 0, 1, 2, ... alternately.
                let held = cond.lock().unwrap();
                let ok = cond
                    .wait_for(|| turn.load(Ordering::Relaxed) % 2 == me, Some(LONG))
                    .unwrap();
                assert!(ok, "condition gave up early");
                assert_eq!(turn.load(Ordering::Relaxed), 2 * round + me);
                turn.fetch_add(1, Ordering::Relaxed);
                cond.notify_all().unwrap();
                drop(held);
                // Barrier: both pass each round together.
                barrier.wait(Some(LONG)).expect("barrier broke");
                // Events: 0 sets `go` and waits for `done`; 1 the reverse.
                if me == 0 {
                    go.set();
                    assert!(done.wait(Some(LONG)), "event gave up early");
                    done.clear();
                    if flags.stopped() {
                        last.store(1, Ordering::Relaxed);
                    }
                } else {
                    assert!(go.wait(Some(LONG)), "event gave up early");
                    go.clear();
                    done.set();
                }
                // The barrier orders `last` for both.
                barrier.wait(Some(LONG)).expect("barrier broke");
                if last.load(Ordering::Relaxed) != 0 {
                    break;
                }
            }
        }
    };
    let a = Process::spawn(party(0)).unwrap();
    let b = Process::spawn(party(1)).unwrap();
    storm("sync", &[KillOnDrop(a), KillOnDrop(b)], &flags);
    assert_eq!(
        turn.load(Ordering::Relaxed) % 2,
        0,
        "a round left half done"
    );
}
