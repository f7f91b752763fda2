//! Signalling another process: shmsync's `RawEvent` and `RawCondition`
//! against the kernel's pipes and eventfds and a bare spin, in the same run.
//!
//! - `pingpong`: round trips between the bench process and one forked child
//!   (a fresh child per timed batch, pinned to the other CPU by
//!   [`Pair`]). The parent signals "ping" and waits for "pong"; the child
//!   waits for "ping" and answers "pong". Functions:
//!   - `shmsync_event`: two `RawEvent`s; each side waits for its event,
//!     clears it and sets the other's.
//!   - `shmsync_condition`: one `RawCondition` with its `RawLock` and a
//!     turn counter under the lock; each side waits until it is its turn,
//!     moves the turn on and notifies.
//!   - `pipe`: two OS pipes, a 1-byte write and a blocking read each way.
//!   - `eventfd`: two eventfds, a blocking write and read of a `u64` each
//!     way.
//!   - `spin`: both sides spin on one shared cache line (an `AtomicU32`
//!     turn): the hardware floor.
//!
//!   Besides criterion's wall times, each batch records the CPU time both
//!   processes spent in it (`CLOCK_PROCESS_CPUTIME_ID` read around the
//!   batch on each side; the child leaves its figure in shared memory). At
//!   the end of the group a table gives, per round trip, the median wall
//!   time and CPU time (parent + child) of the measured batches, with the
//!   ratios the issue sets as goals; it is also written as JSON to
//!   `target/criterion/pingpong_cpu.json` (the latest run's figures, of
//!   the functions a command-line filter let run).
//! - `pingpong_spin_off`: `shmsync_event` and `shmsync_condition` again
//!   with `shmsync::set_spin_duration(Duration::ZERO)`: waiters sleep at
//!   once. Shows what the bounded spin buys and that it is a setting; the
//!   previous spin (20 µs by default) is restored afterwards. After this
//!   group, a probe that is not a criterion function (`spin bound`) runs
//!   both again with a child that sleeps 300 µs before every answer, under
//!   spins of 0, 5, 20 and 100 µs: the waiter's CPU time per round trip is
//!   then the spin plus the cost of sleeping, which shows that the spin is
//!   bounded and follows the setting (also in the JSON, as `spin_bound`).
//! - `semaphore_uncontended`: acquire + release of one semaphore by one
//!   thread: `RawSemaphore` against a process-shared POSIX semaphore.
//!
//! Every wait is bounded: shmsync waits take a deadline, spins look at the
//! clock, blocking reads are cut short by a [`Watchdog`] alarm; the child
//! is killed if the parent dies (`PR_SET_PDEATHSIG`) or gives up, and is
//! always reaped. Run with `cargo bench --bench signal`.

mod common;

use common::{process_cpu_time, BenchLock, Padded, Pair, PosixSem, Watchdog, PATIENCE};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use shmsync::raw::{RawCondition, RawEvent, RawLock, RawSemaphore, SEM_VALUE_MAX};
use shmsync::{Deadline, Shared, ShmSafe};
use std::fmt::Write as _;
use std::hint::{black_box, spin_loop};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Samples per function in the pingpong groups; the summary table uses the
/// batches of these samples (the warm-up's are left out).
const PINGPONG_SAMPLES: usize = 20;
/// Samples per function in `semaphore_uncontended`.
const SEMAPHORE_SAMPLES: usize = 50;

// ---------------------------------------------------------------------------
// The mechanisms

/// One way of sending a signal to the other process and waiting for its
/// answer.
trait PingPong {
    /// Puts the shared state back to its start; nobody else runs.
    fn reset(&self) {}
    /// The parent's side of round trip `round`: ping, then wait for pong.
    fn parent_round(&self, round: u64, deadline: Deadline);
    /// The child's side of round trip `round`: wait for ping, then pong.
    fn child_round(&self, round: u64, deadline: Deadline);
    /// Checks the shared state after `iters` round trips; nobody else runs.
    fn check(&self, _iters: u64) {}
}

/// Two events, on cache lines of their own: `[ping, pong]`.
struct Events(Shared<[Padded<RawEvent>; 2]>);

impl Events {
    fn new() -> Events {
        let events = [Padded(RawEvent::new()), Padded(RawEvent::new())];
        Events(Shared::new(events).expect("mmap"))
    }

    fn ping(&self) -> &RawEvent {
        &self.0[0].0
    }

    fn pong(&self) -> &RawEvent {
        &self.0[1].0
    }
}

impl PingPong for Events {
    fn reset(&self) {
        self.ping().clear();
        self.pong().clear();
    }

    #[inline]
    fn parent_round(&self, _round: u64, deadline: Deadline) {
        self.ping().set();
        assert!(self.pong().wait_until(deadline), "event: no pong in time");
        self.pong().clear();
    }

    #[inline]
    fn child_round(&self, _round: u64, deadline: Deadline) {
        assert!(self.ping().wait_until(deadline), "event: no ping in time");
        self.ping().clear();
        self.pong().set();
    }

    fn check(&self, _iters: u64) {
        assert!(
            !self.ping().is_set() && !self.pong().is_set(),
            "event: a signal was left over"
        );
    }
}

/// A condition variable and the lock it waits with, and the data the lock
/// guards: whose turn it is (even: the parent's, odd: the child's).
#[repr(C)]
struct TurnState {
    /// The lock and the turn it guards, on one line (as in a
    /// `lock_api::Mutex<RawLock, u64>`).
    guarded: Padded<(RawLock, AtomicU64)>,
    cond: Padded<RawCondition>,
}

// SAFETY: a RawLock, a RawCondition (both made for shared memory) and an
// atomic, with padding: no pointers, any bytes valid, no Drop.
unsafe impl ShmSafe for TurnState {}

struct Turns(Shared<TurnState>);

impl Turns {
    fn new() -> Turns {
        Turns(
            Shared::new(TurnState {
                guarded: Padded((RawLock::new(), AtomicU64::new(0))),
                cond: Padded(RawCondition::new()),
            })
            .expect("mmap"),
        )
    }

    fn lock(&self) -> &RawLock {
        &self.0.guarded.0 .0
    }

    /// Read and written only under `lock`, which orders the accesses: all
    /// Relaxed.
    fn turn(&self) -> &AtomicU64 {
        &self.0.guarded.0 .1
    }

    fn cond(&self) -> &RawCondition {
        &self.0.cond.0
    }

    /// Takes the lock; a bench never kills a holder.
    #[inline]
    fn acquire(&self, deadline: Deadline) {
        let acquired = self.lock().try_lock_until(deadline);
        assert!(acquired.is_some(), "condition: lock not free in time");
    }

    /// Waits, with the lock held, until the turn is `turn`.
    #[inline]
    fn wait_for_turn(&self, turn: u64, deadline: Deadline) {
        while self.turn().load(Ordering::Relaxed) != turn {
            let waited = self
                .cond()
                .wait_until(self.lock(), deadline)
                .expect("the waiter holds the lock");
            if !waited.notified && deadline.has_passed() {
                let _ = self.lock().release();
                panic!("condition: turn {turn} did not come in time");
            }
        }
    }

    /// Moves the turn on to `turn`, notifies the other side and lets go of
    /// the lock.
    #[inline]
    fn pass_turn(&self, turn: u64) {
        self.turn().store(turn, Ordering::Relaxed);
        self.cond()
            .notify(self.lock(), 1)
            .expect("the notifier holds the lock");
        self.lock().release().expect("release of a held lock");
    }
}

impl PingPong for Turns {
    fn reset(&self) {
        self.turn().store(0, Ordering::Relaxed);
    }

    #[inline]
    fn parent_round(&self, round: u64, deadline: Deadline) {
        self.acquire(deadline);
        debug_assert_eq!(self.turn().load(Ordering::Relaxed), 2 * round);
        self.turn().store(2 * round + 1, Ordering::Relaxed);
        self.cond()
            .notify(self.lock(), 1)
            .expect("the notifier holds the lock");
        self.wait_for_turn(2 * round + 2, deadline);
        self.lock().release().expect("release of a held lock");
    }

    #[inline]
    fn child_round(&self, round: u64, deadline: Deadline) {
        self.acquire(deadline);
        self.wait_for_turn(2 * round + 1, deadline);
        self.pass_turn(2 * round + 2);
    }

    fn check(&self, iters: u64) {
        assert_eq!(
            self.turn().load(Ordering::Relaxed),
            2 * iters,
            "condition: turns were lost"
        );
        assert!(!self.lock().is_locked(), "condition: lock left held");
        assert_eq!(self.cond().waiting(), 0, "condition: a waiter left behind");
    }
}

/// The bare spin: one shared turn counter, polled with spin hints.
struct Spin(Shared<Padded<AtomicU32>>);

impl Spin {
    fn new() -> Spin {
        Spin(Shared::new(Padded(AtomicU32::new(0))).expect("mmap"))
    }

    #[inline]
    fn await_turn(&self, turn: u32) {
        let ball = &self.0 .0;
        let mut spins: u32 = 0;
        // Acquire: pairs with the other side's Release store, so every turn
        // follows the previous one.
        while ball.load(Ordering::Acquire) != turn {
            spin_loop();
            spins = spins.wrapping_add(1);
            if spins % 65_536 == 0 {
                assert!(!Watchdog::fired(), "spin: turn {turn} did not come in time");
            }
        }
    }
}

impl PingPong for Spin {
    fn reset(&self) {
        self.0 .0.store(0, Ordering::Relaxed);
    }

    #[inline]
    fn parent_round(&self, round: u64, _deadline: Deadline) {
        let turn = (2 * round) as u32;
        // Release: pairs with the child's Acquire load in `await_turn`.
        self.0 .0.store(turn.wrapping_add(1), Ordering::Release);
        self.await_turn(turn.wrapping_add(2));
    }

    #[inline]
    fn child_round(&self, round: u64, _deadline: Deadline) {
        let turn = (2 * round) as u32;
        self.await_turn(turn.wrapping_add(1));
        // Release: pairs with the parent's Acquire load in `await_turn`.
        self.0 .0.store(turn.wrapping_add(2), Ordering::Release);
    }

    fn check(&self, iters: u64) {
        assert_eq!(
            self.0 .0.load(Ordering::Relaxed),
            (2 * iters) as u32,
            "spin: turns were lost"
        );
    }
}

/// Reports a failed system call; kept out of the measured loops' code.
#[cold]
#[inline(never)]
fn os_failed(what: &str) -> ! {
    panic!("{what} failed: {}", std::io::Error::last_os_error())
}

/// Writes all of `buf` to `fd` in one call, retrying after a signal.
#[inline]
fn write_once(fd: &OwnedFd, buf: &[u8], what: &str) {
    loop {
        // SAFETY: `buf` is valid for reading `buf.len()` bytes; `fd` is an
        // open descriptor owned by the caller's mechanism.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n == buf.len() as isize {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            assert!(!Watchdog::fired(), "{what}: write blocked too long");
            continue;
        }
        os_failed(what);
    }
}

/// Fills `buf` from `fd` in one blocking read; the [`Watchdog`] bounds it.
#[inline]
fn read_once(fd: &OwnedFd, buf: &mut [u8], what: &str) {
    loop {
        // SAFETY: `buf` is valid for writing `buf.len()` bytes; `fd` is an
        // open descriptor owned by the caller's mechanism.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n == buf.len() as isize {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            assert!(!Watchdog::fired(), "{what}: no answer in time");
            continue;
        }
        os_failed(what);
    }
}

/// Two OS pipes: `(read end, write end)` for ping and for pong. The child
/// inherits all four ends.
struct Pipes {
    ping: (OwnedFd, OwnedFd),
    pong: (OwnedFd, OwnedFd),
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        os_failed("pipe2");
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Pipes {
    fn new() -> Pipes {
        Pipes {
            ping: pipe(),
            pong: pipe(),
        }
    }
}

impl PingPong for Pipes {
    #[inline]
    fn parent_round(&self, _round: u64, _deadline: Deadline) {
        write_once(&self.ping.1, &[1], "pipe: ping");
        let mut byte = [0u8];
        read_once(&self.pong.0, &mut byte, "pipe: pong");
    }

    #[inline]
    fn child_round(&self, _round: u64, _deadline: Deadline) {
        let mut byte = [0u8];
        read_once(&self.ping.0, &mut byte, "pipe: ping");
        write_once(&self.pong.1, &byte, "pipe: pong");
    }
}

/// Two blocking eventfds, ping and pong.
struct EventFds {
    ping: OwnedFd,
    pong: OwnedFd,
}

fn eventfd() -> OwnedFd {
    // SAFETY: eventfd takes an initial value and flags, touches no memory.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        os_failed("eventfd");
    }
    // SAFETY: eventfd succeeded, so `fd` is open and ours alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

impl EventFds {
    fn new() -> EventFds {
        EventFds {
            ping: eventfd(),
            pong: eventfd(),
        }
    }
}

impl PingPong for EventFds {
    #[inline]
    fn parent_round(&self, _round: u64, _deadline: Deadline) {
        write_once(&self.ping, &1u64.to_ne_bytes(), "eventfd: ping");
        let mut value = [0u8; 8];
        read_once(&self.pong, &mut value, "eventfd: pong");
        debug_assert_eq!(u64::from_ne_bytes(value), 1);
    }

    #[inline]
    fn child_round(&self, _round: u64, _deadline: Deadline) {
        let mut value = [0u8; 8];
        read_once(&self.ping, &mut value, "eventfd: ping");
        write_once(&self.pong, &value, "eventfd: pong");
    }
}

/// `P` with a child that sleeps for `delay` before each answer, so that
/// every wait of the parent outlasts the spin: the parent's CPU time then
/// shows what a wait costs when the spin runs out.
struct SlowAnswer<P> {
    inner: P,
    delay: Duration,
}

impl<P: PingPong> PingPong for SlowAnswer<P> {
    fn reset(&self) {
        self.inner.reset();
    }

    fn parent_round(&self, round: u64, deadline: Deadline) {
        self.inner.parent_round(round, deadline);
    }

    fn child_round(&self, round: u64, deadline: Deadline) {
        // The parent's ping is out by the time the child wakes (it pings
        // as soon as it has the previous pong), so only the parent waits.
        std::thread::sleep(self.delay);
        self.inner.child_round(round, deadline);
    }

    fn check(&self, iters: u64) {
        self.inner.check(iters);
    }
}

// ---------------------------------------------------------------------------
// Recording wall and CPU time per batch

/// One timed batch of round trips.
#[derive(Clone, Copy, Debug)]
struct Batch {
    iters: u64,
    wall: Duration,
    cpu_parent: Duration,
    cpu_child: Duration,
}

/// Per-operation figures of one function: medians over its measured
/// batches.
#[derive(Clone, Debug)]
struct Figures {
    name: String,
    wall_ns: f64,
    cpu_ns: f64,
    cpu_parent_ns: f64,
    cpu_child_ns: f64,
    batches: usize,
    round_trips: u64,
}

fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[mid]
    } else {
        (xs[mid - 1] + xs[mid]) / 2.0
    }
}

impl Figures {
    /// Medians over the last `samples` batches: criterion runs its measured
    /// samples after the warm-up, one batch each.
    fn of(name: &str, batches: &[Batch], samples: usize) -> Option<Figures> {
        let measured = &batches[batches.len().saturating_sub(samples)..];
        if measured.is_empty() {
            return None;
        }
        let per = |f: &dyn Fn(&Batch) -> Duration| {
            median(
                measured
                    .iter()
                    .map(|b| f(b).as_nanos() as f64 / b.iters.max(1) as f64)
                    .collect(),
            )
        };
        Some(Figures {
            name: name.to_owned(),
            wall_ns: per(&|b| b.wall),
            cpu_ns: per(&|b| b.cpu_parent + b.cpu_child),
            cpu_parent_ns: per(&|b| b.cpu_parent),
            cpu_child_ns: per(&|b| b.cpu_child),
            batches: measured.len(),
            round_trips: measured.iter().map(|b| b.iters).sum(),
        })
    }
}

/// The figures of one pingpong group.
#[derive(Clone, Debug)]
struct GroupFigures {
    group: &'static str,
    spin: Duration,
    functions: Vec<Figures>,
}

impl GroupFigures {
    fn get(&self, name: &str) -> Option<&Figures> {
        self.functions.iter().find(|f| f.name == name)
    }
}

/// Every pingpong group run so far in this process, for the JSON file.
static GROUPS: Mutex<Vec<GroupFigures>> = Mutex::new(Vec::new());

/// `a / b` of the wall figures, if both functions ran.
fn ratio(a: Option<&Figures>, b: Option<&Figures>) -> Option<f64> {
    Some(a?.wall_ns / b?.wall_ns)
}

/// The ratios the issue sets goals for, as `(label, ratio, goal, met)`:
/// the group's shmsync round trips against `spin` and `pipe` of `floor`
/// (the group with the default spin). The goals apply to `pingpong` only;
/// for other groups the ratios are for comparison.
fn ratios(group: &GroupFigures, floor: &GroupFigures) -> Vec<(String, f64, &'static str, bool)> {
    let mut out = Vec::new();
    for ours in ["shmsync_event", "shmsync_condition"] {
        if let Some(r) = ratio(group.get(ours), floor.get("spin")) {
            out.push((format!("{ours}/spin"), r, "<= 3", r <= 3.0));
        }
    }
    for ours in ["shmsync_event", "shmsync_condition"] {
        if let Some(r) = ratio(floor.get("pipe"), group.get(ours)) {
            out.push((format!("pipe/{ours}"), r, ">= 20", r >= 20.0));
        }
    }
    out
}

fn print_table(group: &GroupFigures, floor: Option<&GroupFigures>) {
    println!();
    println!(
        "{}: per round trip, medians of the measured batches (spin before sleeping: {:?})",
        group.group, group.spin
    );
    println!(
        "  {:<18} {:>12} {:>12} {:>12} {:>12} {:>9}",
        "function", "wall ns", "CPU ns", "parent ns", "child ns", "CPU/wall"
    );
    for f in &group.functions {
        println!(
            "  {:<18} {:>12.1} {:>12.1} {:>12.1} {:>12.1} {:>9.2}",
            f.name,
            f.wall_ns,
            f.cpu_ns,
            f.cpu_parent_ns,
            f.cpu_child_ns,
            f.cpu_ns / f.wall_ns
        );
    }
    if let Some(floor) = floor {
        for (label, r, goal, met) in ratios(group, floor) {
            if group.group == "pingpong" {
                let verdict = if met { "met" } else { "MISSED" };
                println!("  {label:<32} {r:>9.2}   (goal {goal}: {verdict})");
            } else {
                println!("  {label:<32} {r:>9.2}   (spin and pipe from `pingpong`)");
            }
        }
    }
    println!();
}

fn json_figures(out: &mut String, f: &Figures) {
    let _ = write!(
        out,
        "{{\"wall_ns_per_round_trip\": {:.1}, \"cpu_ns_per_round_trip\": {:.1}, \
         \"cpu_parent_ns_per_round_trip\": {:.1}, \"cpu_child_ns_per_round_trip\": {:.1}, \
         \"cpu_per_wall\": {:.3}, \"batches\": {}, \"round_trips\": {}}}",
        f.wall_ns,
        f.cpu_ns,
        f.cpu_parent_ns,
        f.cpu_child_ns,
        f.cpu_ns / f.wall_ns,
        f.batches,
        f.round_trips
    );
}

/// JSON numbers cannot be NaN or infinite.
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".to_owned()
    }
}

/// Where criterion writes its results, as criterion itself decides it
/// (short of asking `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from("target/criterion")
    }
}

/// Writes every pingpong group run so far, and the spin-bound probe if it
/// ran, to `pingpong_cpu.json`.
fn write_json() {
    let groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let bound = SPIN_BOUND.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if groups.is_empty() && bound.is_empty() {
        return;
    }
    let floor = groups.iter().find(|g| g.group == "pingpong");
    let mut out = String::from(
        "{\n  \"unit\": \"nanoseconds per round trip, medians of the measured batches\",\n  \"groups\": {",
    );
    for (i, g) in groups.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(
            out,
            "{sep}\n    \"{}\": {{\n      \"spin_duration_ns\": {},\n      \"functions\": {{",
            g.group,
            g.spin.as_nanos()
        );
        for (j, f) in g.functions.iter().enumerate() {
            let sep = if j == 0 { "" } else { "," };
            let _ = write!(out, "{sep}\n        \"{}\": ", f.name);
            json_figures(&mut out, f);
        }
        out.push_str("\n      }");
        if let Some(floor) = floor {
            let goals = g.group == "pingpong";
            out.push_str(if goals {
                ",\n      \"goals\": {"
            } else {
                ",\n      \"ratios_to_pingpong_spin_and_pipe\": {"
            });
            for (j, (label, r, goal, met)) in ratios(g, floor).into_iter().enumerate() {
                let sep = if j == 0 { "" } else { "," };
                let r = json_number(r);
                if goals {
                    let _ = write!(
                        out,
                        "{sep}\n        \"{label}\": {{\"ratio\": {r}, \"goal\": \"{goal}\", \"met\": {met}}}"
                    );
                } else {
                    let _ = write!(out, "{sep}\n        \"{label}\": {r}");
                }
            }
            out.push_str("\n      }");
        }
        out.push_str("\n    }");
    }
    out.push_str("\n  }");
    if !bound.is_empty() {
        let _ = write!(
            out,
            ",\n  \"spin_bound\": {{\n    \"answer_delay_ns\": {},\n    \"rows\": [",
            SLOW_ANSWER.as_nanos()
        );
        for (i, row) in bound.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(
                out,
                "{sep}\n      {{\"function\": \"{}\", \"spin_duration_ns\": {}, \
                 \"wall_ns_per_round_trip\": {:.1}, \"waiter_cpu_ns_per_round_trip\": {:.1}, \
                 \"answerer_cpu_ns_per_round_trip\": {:.1}}}",
                row.function,
                row.spin.as_nanos(),
                row.wall_ns,
                row.waiter_cpu_ns,
                row.answerer_cpu_ns
            );
        }
        out.push_str("\n    ]\n  }");
    }
    out.push_str("\n}\n");
    let dir = criterion_dir();
    let path = dir.join("pingpong_cpu.json");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, out)) {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => eprintln!("note: could not write {}: {e}", path.display()),
    }
}

// ---------------------------------------------------------------------------
// The groups

/// Where the child leaves the CPU time it spent on a batch.
type ChildCpu = Shared<Padded<AtomicU64>>;

/// Runs one batch of `iters` round trips of `mech` between this process
/// and a child forked by `pair`, timed end to end in the parent, and the
/// CPU time each side spent on it.
fn run_batch<P: PingPong>(pair: &mut Pair, mech: &P, iters: u64, child_cpu: &ChildCpu) -> Batch {
    let child_cpu = &child_cpu.0;
    mech.reset();
    child_cpu.store(0, Ordering::Relaxed);
    let mut cpu_parent = Duration::ZERO;
    let wall = pair.run(
        || {
            let _watchdog = Watchdog::arm(PATIENCE);
            let deadline = Deadline::after(PATIENCE);
            let t0 = process_cpu_time();
            for round in 0..iters {
                mech.parent_round(round, deadline);
            }
            cpu_parent = process_cpu_time() - t0;
        },
        || {
            let _watchdog = Watchdog::arm(PATIENCE);
            let deadline = Deadline::after(PATIENCE);
            let t0 = process_cpu_time();
            for round in 0..iters {
                mech.child_round(round, deadline);
            }
            let spent = process_cpu_time() - t0;
            // Relaxed: `Pair::run` publishes it with its Release store of
            // `done`.
            child_cpu.store(spent.as_nanos() as u64, Ordering::Relaxed);
        },
    );
    mech.check(iters);
    Batch {
        iters,
        wall,
        cpu_parent,
        cpu_child: Duration::from_nanos(child_cpu.load(Ordering::Relaxed)),
    }
}

/// Benches `name`: batches of round trips of `mech` (see [`run_batch`]),
/// each recorded in `batches`.
fn pingpong<P: PingPong>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mech: &P,
    child_cpu: &ChildCpu,
    batches: &mut Vec<Batch>,
) {
    let mut pair = Pair::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let batch = run_batch(&mut pair, mech, iters, child_cpu);
            batches.push(batch);
            batch.wall
        })
    });
    pair.take_preemptions().warn(name);
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(PINGPONG_SAMPLES);
}

/// Runs the shmsync functions (and, if `peers`, the others) as group
/// `group_name`, then prints and stores its figures; returns false if the
/// command line filtered them all out.
fn pingpong_group(c: &mut Criterion, group_name: &'static str, peers: bool) -> bool {
    let child_cpu: ChildCpu = Shared::new(Padded(AtomicU64::new(0))).expect("mmap");
    let mut group = c.benchmark_group(group_name);
    configure(&mut group);

    let mut recorded: Vec<(&str, Vec<Batch>)> = Vec::new();
    let mut run = |group: &mut BenchmarkGroup<'_, WallTime>, name, mech: &dyn Run| {
        let mut batches = Vec::new();
        mech.run(group, name, &child_cpu, &mut batches);
        recorded.push((name, batches));
    };
    run(&mut group, "shmsync_event", &Events::new());
    run(&mut group, "shmsync_condition", &Turns::new());
    if peers {
        run(&mut group, "pipe", &Pipes::new());
        run(&mut group, "eventfd", &EventFds::new());
        run(&mut group, "spin", &Spin::new());
    }
    group.finish();

    let figures = GroupFigures {
        group: group_name,
        spin: shmsync::spin_duration(),
        functions: recorded
            .iter()
            .filter_map(|(name, batches)| Figures::of(name, batches, PINGPONG_SAMPLES))
            .collect(),
    };
    if figures.functions.is_empty() {
        return false;
    }
    let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
    groups.retain(|g| g.group != group_name);
    groups.push(figures.clone());
    let floor = groups.iter().find(|g| g.group == "pingpong").cloned();
    drop(groups);
    print_table(&figures, floor.as_ref());
    true
}

/// Object-safe access to [`pingpong`] for the list of mechanisms.
trait Run {
    fn run(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        child_cpu: &ChildCpu,
        batches: &mut Vec<Batch>,
    );
}

impl<P: PingPong> Run for P {
    fn run(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        child_cpu: &ChildCpu,
        batches: &mut Vec<Batch>,
    ) {
        pingpong(group, name, self, child_cpu, batches);
    }
}

fn pingpong_default(c: &mut Criterion) {
    if pingpong_group(c, "pingpong", true) {
        write_json();
    }
}

/// Sets the process-wide spin bound and puts the previous one back on drop
/// (also if a bench panics). Forked children inherit the setting.
struct SpinSetting(Duration);

impl SpinSetting {
    fn set(spin: Duration) -> SpinSetting {
        let previous = shmsync::spin_duration();
        shmsync::set_spin_duration(spin);
        SpinSetting(previous)
    }
}

impl Drop for SpinSetting {
    fn drop(&mut self) {
        shmsync::set_spin_duration(self.0);
    }
}

fn pingpong_spin_off(c: &mut Criterion) {
    let default = shmsync::spin_duration();
    let ran = {
        let _spin = SpinSetting::set(Duration::ZERO);
        pingpong_group(c, "pingpong_spin_off", false)
    };
    if ran {
        let rows = spin_bound_probe();
        print_spin_bound(&rows);
        *SPIN_BOUND.lock().unwrap_or_else(|e| e.into_inner()) = rows;
        write_json();
    }
    assert_eq!(
        shmsync::spin_duration(),
        default,
        "the spin setting was not restored"
    );
}

/// How long the child sleeps before each answer in the spin-bound probe:
/// longer than every spin tried there.
const SLOW_ANSWER: Duration = Duration::from_micros(300);
/// Round trips per row of the probe.
const SLOW_ROUNDS: u64 = 200;
/// The spin bounds the probe tries: off, short, the default, long.
const PROBE_SPINS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_micros(5),
    Duration::from_micros(20),
    Duration::from_micros(100),
];

/// One row of the spin-bound probe: per round trip with a slow answerer.
#[derive(Clone, Debug)]
struct BoundRow {
    function: &'static str,
    spin: Duration,
    wall_ns: f64,
    waiter_cpu_ns: f64,
    answerer_cpu_ns: f64,
}

/// The spin-bound probe's rows, for the JSON file.
static SPIN_BOUND: Mutex<Vec<BoundRow>> = Mutex::new(Vec::new());

/// Not a criterion function: round trips in which the child answers only
/// after sleeping [`SLOW_ANSWER`], under each of [`PROBE_SPINS`]. Every
/// wait of the parent outlasts the spin, so its CPU time per round trip is
/// the spin bound plus the cost of sleeping and being woken: this is what
/// shows that the spin stays bounded and follows the setting.
fn spin_bound_probe() -> Vec<BoundRow> {
    let child_cpu: ChildCpu = Shared::new(Padded(AtomicU64::new(0))).expect("mmap");
    let mut pair = Pair::new();
    let events = SlowAnswer {
        inner: Events::new(),
        delay: SLOW_ANSWER,
    };
    let turns = SlowAnswer {
        inner: Turns::new(),
        delay: SLOW_ANSWER,
    };
    let mut rows = Vec::new();
    for spin in PROBE_SPINS {
        let _spin = SpinSetting::set(spin);
        let batches = [
            (
                "shmsync_event",
                run_batch(&mut pair, &events, SLOW_ROUNDS, &child_cpu),
            ),
            (
                "shmsync_condition",
                run_batch(&mut pair, &turns, SLOW_ROUNDS, &child_cpu),
            ),
        ];
        for (function, batch) in batches {
            let per = |d: Duration| d.as_nanos() as f64 / batch.iters as f64;
            rows.push(BoundRow {
                function,
                spin,
                wall_ns: per(batch.wall),
                waiter_cpu_ns: per(batch.cpu_parent),
                answerer_cpu_ns: per(batch.cpu_child),
            });
        }
    }
    pair.take_preemptions().warn("spin bound probe");
    rows
}

fn print_spin_bound(rows: &[BoundRow]) {
    println!();
    println!(
        "spin bound: the child answers {SLOW_ANSWER:?} after each ping (asleep), \
         {SLOW_ROUNDS} round trips per row; per round trip:"
    );
    println!(
        "  {:<18} {:>8} {:>12} {:>16} {:>18}",
        "function", "spin", "wall µs", "waiter CPU µs", "answerer CPU µs"
    );
    for row in rows {
        println!(
            "  {:<18} {:>8} {:>12.1} {:>16.1} {:>18.1}",
            row.function,
            format!("{:?}", row.spin),
            row.wall_ns / 1e3,
            row.waiter_cpu_ns / 1e3,
            row.answerer_cpu_ns / 1e3
        );
    }
    println!();
}

fn semaphore_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("semaphore_uncontended");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(SEMAPHORE_SAMPLES);

    // Timed by hand (as `b.iter` would) so that the ratio below comes from
    // the same batches criterion analyses.
    let mut bench = |name: &str, op: &dyn Fn()| {
        let mut per_op = Vec::new();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    op();
                }
                let elapsed = t0.elapsed();
                per_op.push(elapsed.as_nanos() as f64 / iters.max(1) as f64);
                elapsed
            })
        });
        let measured = per_op.len().saturating_sub(SEMAPHORE_SAMPLES);
        median(per_op.split_off(measured))
    };

    let sem = Shared::new(RawSemaphore::new(1, SEM_VALUE_MAX)).expect("mmap");
    let ours = bench("shmsync", &|| {
        black_box(&*sem).acquire();
        sem.release().expect("the count is below its bound");
    });

    let posix = PosixSem::new_shared();
    let theirs = bench("posix_sem", &|| {
        black_box(&*posix).lock();
        posix.unlock();
    });
    group.finish();

    if ours.is_finite() && theirs.is_finite() {
        let r = ours / theirs;
        let verdict = if r <= 1.0 { "met" } else { "MISSED" };
        println!();
        println!("semaphore_uncontended: per acquire+release, medians of the measured batches");
        println!("  shmsync {ours:.2} ns, posix_sem {theirs:.2} ns");
        println!("  shmsync/posix_sem {r:>24.3}   (goal <= 1.0: {verdict})");
        println!();
    }
}

criterion_group!(
    benches,
    pingpong_default,
    pingpong_spin_off,
    semaphore_uncontended
);
criterion_main!(benches);
