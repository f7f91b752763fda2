//! The two-process runner: times work split between the bench process and
//! one forked child.
//!
//! Every wait here is bounded: a child that hangs is killed and the bench
//! fails, a child whose parent dies is killed by the kernel
//! (`PR_SET_PDEATHSIG`).

use super::cpu::{two_cpus, PinGuard};
use super::preempt::{involuntary_switches, Preemptions};
use super::Padded;
use crate::{KillOnDrop, PATIENCE};
use shmsync::{Process, Shared, ShmSafe};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The start line of a two-process run, on its own cache lines so that
/// polling it does not disturb the data under test.
#[repr(C)]
struct StartLine {
    /// Set to the run number by that run's child once it is ready.
    ready: AtomicU32,
    /// Set to the run number when the parent lets the child start.
    go: AtomicU32,
    /// Set to the run number when the child has finished its work.
    done: AtomicU32,
    /// How often the child was preempted during its work (written before
    /// `done`).
    child_preempted: AtomicU32,
}

// SAFETY: four atomics: no pointers, any bytes valid, no Drop.
unsafe impl ShmSafe for StartLine {}

/// Times work split between the bench process and one forked child.
///
/// # Examples
///
/// ```
/// use shmsync::Shared;
/// use shmsync_testkit::{Padded, Pair};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let hits = Shared::new(Padded(AtomicU64::new(0))).expect("mmap");
/// let mut pair = Pair::new();
/// let elapsed = pair.run(
///     || drop(hits.0.fetch_add(1, Ordering::Relaxed)),
///     || drop(hits.0.fetch_add(1, Ordering::Relaxed)),
/// );
/// assert_eq!(hits.0.load(Ordering::Relaxed), 2);
/// println!("both halves took {elapsed:?}");
/// ```
pub struct Pair {
    start: Shared<Padded<StartLine>>,
    runs: u32,
    /// `(parent's CPU, child's CPU)` while a run lasts, if pinned.
    cpus: Option<(usize, usize)>,
    /// Runs, and runs in which either side was preempted, since the last
    /// [`Pair::take_preemptions`].
    counted: Preemptions,
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

impl Pair {
    /// A runner that pins the parent and the child to two different CPUs
    /// for each run (when this process may use two), so that they really
    /// run at once: left to itself, the scheduler now and then puts both
    /// on one CPU, where they take turns by time slice and never contend.
    ///
    /// # Panics
    ///
    /// If the shared start line cannot be mapped.
    pub fn new() -> Pair {
        Pair {
            cpus: two_cpus(),
            ..Pair::unpinned()
        }
    }

    /// A runner that leaves CPU placement to the scheduler.
    ///
    /// # Panics
    ///
    /// If the shared start line cannot be mapped.
    pub fn unpinned() -> Pair {
        let start = Shared::new(Padded(StartLine {
            ready: AtomicU32::new(0),
            go: AtomicU32::new(0),
            done: AtomicU32::new(0),
            child_preempted: AtomicU32::new(0),
        }))
        .expect("mmap");
        Pair {
            start,
            runs: 0,
            cpus: None,
            counted: Preemptions::default(),
        }
    }

    /// The median time for a value to go to the child and back through one
    /// shared cache line, both sides spinning: the floor under every
    /// cross-process handoff, and the best clue to what a contended figure
    /// means. On the 2-vCPU KVM guest it is bimodal, ~0.22 µs or ~0.025 µs
    /// (the host at times runs both vCPUs on one physical core), and lock
    /// throughputs jump by 2x with it.
    ///
    /// # Panics
    ///
    /// As [`Pair::run`] does, or if a side waits [`PATIENCE`] for its turn.
    pub fn cache_line_round_trip(&mut self) -> Duration {
        const ROUNDS: u64 = 50_000;
        let ball = Shared::new(Padded(AtomicU64::new(0))).expect("mmap");
        let ball = &ball.0;
        let mut times: Vec<Duration> = (0..5)
            .map(|_| {
                ball.store(0, Ordering::Relaxed);
                // Each side waits for its turn, then passes the ball on.
                let play = |first_turn: u64| {
                    let limit = Instant::now() + PATIENCE;
                    for round in 0..ROUNDS {
                        let mine = 2 * round + first_turn;
                        let mut spins: u32 = 0;
                        // Acquire/Release: pair with each other's stores, so
                        // every turn follows the previous one.
                        while ball.load(Ordering::Acquire) != mine {
                            spin_loop();
                            spins = spins.wrapping_add(1);
                            if spins % 65_536 == 0 {
                                assert!(Instant::now() < limit, "ping-pong partner stopped");
                            }
                        }
                        ball.store(mine + 1, Ordering::Release);
                    }
                };
                self.run(|| play(0), || play(1)) / ROUNDS as u32
            })
            .collect();
        self.take_preemptions();
        times.sort();
        times[times.len() / 2]
    }

    /// The disturbance counts since the last call, then starts over.
    pub fn take_preemptions(&mut self) -> Preemptions {
        std::mem::take(&mut self.counted)
    }

    /// Forks a child; once it is ready, starts the clock, lets the child run
    /// `child` while this process runs `parent`, and stops the clock when
    /// both have finished. The child is reaped before this returns.
    ///
    /// # Panics
    ///
    /// If the child cannot be forked, fails, or does not finish within
    /// [`PATIENCE`] (it is killed then).
    pub fn run(&mut self, parent: impl FnOnce(), child: impl FnOnce()) -> Duration {
        self.runs = self.runs.wrapping_add(1).max(1);
        let run = self.runs;
        let line = &self.start.0;
        let cpus = self.cpus;
        let _pinned = cpus.map(|(mine, _)| PinGuard::pin(mine));
        // SAFETY: getpid has no preconditions.
        let parent_pid = unsafe { libc::getpid() };
        let kid = Process::spawn(|| {
            if let Some((_, theirs)) = cpus {
                std::mem::forget(PinGuard::pin(theirs));
            }
            crate::die_with_parent();
            // SAFETY: getppid has no preconditions.
            if unsafe { libc::getppid() } != parent_pid {
                return; // The parent died before the signal was armed.
            }
            // Release: pairs with the parent's Acquire load of `ready`.
            line.ready.store(run, Ordering::Release);
            let limit = Instant::now() + PATIENCE;
            // Acquire: pairs with the parent's Release store of `go`, so the
            // parent's preparations are seen.
            while line.go.load(Ordering::Acquire) != run {
                spin_loop();
                if Instant::now() > limit {
                    panic!("never started");
                }
            }
            let before = involuntary_switches();
            child();
            let switches = involuntary_switches().saturating_sub(before);
            line.child_preempted.store(
                u32::try_from(switches).unwrap_or(u32::MAX),
                Ordering::Relaxed,
            );
            // Release: pairs with the parent's Acquire load of `done`, which
            // publishes the child's work with it.
            line.done.store(run, Ordering::Release);
        })
        .expect("fork");
        let kid = KillOnDrop(kid);

        // Acquire: pairs with the child's Release store of `ready`.
        spin_bounded(&kid, "child ready", || {
            line.ready.load(Ordering::Acquire) == run
        });
        let before = involuntary_switches();
        let t0 = Instant::now();
        // Release: pairs with the child's Acquire load of `go`.
        line.go.store(run, Ordering::Release);
        parent();
        // Acquire: pairs with the child's Release store of `done`.
        spin_bounded(&kid, "child done", || {
            line.done.load(Ordering::Acquire) == run
        });
        let elapsed = t0.elapsed();
        let switches = involuntary_switches().saturating_sub(before)
            + u64::from(line.child_preempted.load(Ordering::Relaxed));
        self.counted.count(elapsed, switches);

        match kid.join_timeout(PATIENCE).expect("waitpid") {
            Some(0) => {}
            Some(code) => panic!("bench child {} exited with {code}", kid.pid()),
            None => panic!("bench child {} did not exit after its work", kid.pid()),
        }
        elapsed
    }
}

/// Spins until `cond` holds; fails if the child exits first or [`PATIENCE`]
/// runs out. Unlike [`wait_until`](crate::wait_until) it never sleeps: the
/// clock is running.
fn spin_bounded(kid: &Process, what: &str, mut cond: impl FnMut() -> bool) {
    let limit = Instant::now() + PATIENCE;
    let mut i: u32 = 0;
    while !cond() {
        spin_loop();
        i = i.wrapping_add(1);
        if i % 4096 == 0 {
            if cond() {
                return;
            }
            if let Some(code) = kid.exitcode() {
                panic!("waiting for {what}: child exited with {code}");
            }
            assert!(
                Instant::now() < limit,
                "gave up waiting for {what} after {PATIENCE:?}"
            );
        }
    }
}
