//! Helpers shared by the benches: the real alternatives shmsync is measured
//! against (process-shared pthread mutexes, POSIX semaphores), one trait to
//! drive every lock the same way, and a runner that times work split between
//! the bench process and one forked child.
//!
//! Every peer is placed in a [`Shared`] mapping (`MAP_SHARED`) and
//! initialised there, in place: pthread and semaphore objects must never
//! move once initialised. Their `*_destroy` never runs — `Shared` runs no
//! destructors — which is harmless on Linux, where process-shared mutexes
//! and semaphores own no kernel resources.
//!
//! Every wait in the runner is bounded: a child that hangs is killed and
//! the bench fails, a child whose parent dies is killed by the kernel
//! (`PR_SET_PDEATHSIG`).
#![allow(dead_code)]

use shmsync::raw::RawLock;
use shmsync::{Process, Shared, ShmSafe};
use std::cell::UnsafeCell;
use std::hint::spin_loop;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Generous bound for anything a healthy bench waits for.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A lock the benches can drive: acquire, then release on the same thread.
pub trait BenchLock: ShmSafe {
    /// Acquires the lock, blocking as long as it takes.
    fn lock(&self);
    /// Releases the lock, which the calling thread holds.
    fn unlock(&self);
}

impl BenchLock for RawLock {
    #[inline]
    fn lock(&self) {
        // A bench never kills a holder: the outcome is always Clean.
        let _ = RawLock::lock(self);
    }

    #[inline]
    fn unlock(&self) {
        RawLock::release(self).expect("release of a held RawLock");
    }
}

/// Reports a pthread/semaphore call that failed; kept out of the measured
/// loops' code.
#[cold]
#[inline(never)]
fn failed(what: &str, rc: i32) -> ! {
    panic!("{what} failed: {}", std::io::Error::from_raw_os_error(rc))
}

/// What kind of pthread mutex to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexKind {
    /// `PTHREAD_PROCESS_SHARED`, default type, not robust.
    Pshared,
    /// `PTHREAD_PROCESS_SHARED` and `PTHREAD_MUTEX_ROBUST`: a holder's death
    /// is reported (`EOWNERDEAD`), shmsync's `RawLock` contract.
    Robust,
}

/// A `pthread_mutexattr_t` on the caller's stack, destroyed when the guard
/// drops. The attribute object never moves while initialised.
struct MutexAttrGuard(*mut libc::pthread_mutexattr_t);

impl Drop for MutexAttrGuard {
    fn drop(&mut self) {
        // SAFETY: the pointer is to an attribute object that
        // pthread_mutexattr_init initialised (the guard is only made after
        // it succeeded) and that outlives the guard.
        unsafe { libc::pthread_mutexattr_destroy(self.0) };
    }
}

/// A process-shared `pthread_mutex_t`, meant to live in a [`Shared`]
/// mapping and to be initialised there with [`PthreadMutex::init`].
#[repr(C)]
pub struct PthreadMutex(UnsafeCell<libc::pthread_mutex_t>);

// SAFETY: a pthread mutex is made for concurrent use through its own API;
// this type only touches it through pthread_mutex_* calls.
unsafe impl Sync for PthreadMutex {}
// SAFETY: a process-shared pthread mutex is plain bytes without pointers
// (glibc's robust-list links live in the holding thread, not in the mutex),
// needs no Drop on Linux, and is used in place, never moved after `init`.
unsafe impl ShmSafe for PthreadMutex {}

impl PthreadMutex {
    /// Zeroed bytes, to be placed in shared memory and then [`init`]ed.
    ///
    /// [`init`]: PthreadMutex::init
    pub const fn zeroed() -> PthreadMutex {
        // SAFETY: pthread_mutex_t is a C union of integers, for which all
        // zero bytes are a valid value (glibc's PTHREAD_MUTEX_INITIALIZER).
        PthreadMutex(UnsafeCell::new(unsafe { std::mem::zeroed() }))
    }

    /// A mutex of `kind` in its own shared mapping, initialised in place.
    pub fn new_shared(kind: MutexKind) -> Shared<PthreadMutex> {
        let m = Shared::new(PthreadMutex::zeroed()).expect("mmap");
        // SAFETY: the mapping was just made; nobody else uses it yet.
        unsafe { m.init(kind) };
        m
    }

    /// Initialises the mutex where it lies.
    ///
    /// # Safety
    ///
    /// No thread or process is using the mutex, and it will not move (it
    /// lives in a mapping) while anyone uses it afterwards.
    pub unsafe fn init(&self, kind: MutexKind) {
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is writable memory for an attribute object.
        let rc = unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) };
        if rc != 0 {
            failed("pthread_mutexattr_init", rc);
        }
        let guard = MutexAttrGuard(attr.as_mut_ptr());
        // SAFETY: the attribute object is initialised (above) and stays on
        // this frame, unmoved, until the guard destroys it.
        let rc =
            unsafe { libc::pthread_mutexattr_setpshared(guard.0, libc::PTHREAD_PROCESS_SHARED) };
        if rc != 0 {
            failed("pthread_mutexattr_setpshared", rc);
        }
        if kind == MutexKind::Robust {
            // SAFETY: as above.
            let rc =
                unsafe { libc::pthread_mutexattr_setrobust(guard.0, libc::PTHREAD_MUTEX_ROBUST) };
            if rc != 0 {
                failed("pthread_mutexattr_setrobust", rc);
            }
        }
        // SAFETY: the mutex memory is valid and unused (caller's promise);
        // the attribute object is initialised.
        let rc = unsafe { libc::pthread_mutex_init(self.0.get(), guard.0) };
        if rc != 0 {
            failed("pthread_mutex_init", rc);
        }
    }
}

impl BenchLock for PthreadMutex {
    #[inline]
    fn lock(&self) {
        // SAFETY: the mutex was initialised in place (`init`) and has not
        // moved since; pthread mutexes are for concurrent use.
        let rc = unsafe { libc::pthread_mutex_lock(self.0.get()) };
        if rc != 0 {
            self.lock_failed(rc);
        }
    }

    #[inline]
    fn unlock(&self) {
        // SAFETY: as in `lock`; the calling thread holds the mutex
        // (BenchLock's contract).
        let rc = unsafe { libc::pthread_mutex_unlock(self.0.get()) };
        if rc != 0 {
            failed("pthread_mutex_unlock", rc);
        }
    }
}

impl PthreadMutex {
    /// A robust mutex whose holder died: take it over like a `RawLock`
    /// waiter would. Benches kill no holder, so this does not happen.
    #[cold]
    #[inline(never)]
    fn lock_failed(&self, rc: i32) {
        if rc != libc::EOWNERDEAD {
            failed("pthread_mutex_lock", rc);
        }
        // SAFETY: EOWNERDEAD means the calling thread now holds the robust
        // mutex, which is what pthread_mutex_consistent requires.
        let rc = unsafe { libc::pthread_mutex_consistent(self.0.get()) };
        if rc != 0 {
            failed("pthread_mutex_consistent", rc);
        }
    }
}

/// A process-shared POSIX semaphore used as a lock (initial value 1),
/// which is what Python's `multiprocessing.Lock` is on Linux.
#[repr(C)]
pub struct PosixSem(UnsafeCell<libc::sem_t>);

// SAFETY: a semaphore is made for concurrent use through its own API; this
// type only touches it through sem_* calls.
unsafe impl Sync for PosixSem {}
// SAFETY: a process-shared sem_t is plain integers (no pointers), needs no
// Drop on Linux, and is used in place, never moved after `init`.
unsafe impl ShmSafe for PosixSem {}

impl PosixSem {
    /// Zeroed bytes, to be placed in shared memory and then [`init`]ed.
    ///
    /// [`init`]: PosixSem::init
    pub const fn zeroed() -> PosixSem {
        // SAFETY: sem_t is a C union of integers; all zero bytes are a
        // valid (if not yet initialised) value of it.
        PosixSem(UnsafeCell::new(unsafe { std::mem::zeroed() }))
    }

    /// A semaphore with value 1 in its own shared mapping.
    pub fn new_shared() -> Shared<PosixSem> {
        let s = Shared::new(PosixSem::zeroed()).expect("mmap");
        // SAFETY: the mapping was just made; nobody else uses it yet.
        unsafe { s.init(1) };
        s
    }

    /// Initialises the semaphore where it lies, process-shared, with
    /// `value`.
    ///
    /// # Safety
    ///
    /// No thread or process is using the semaphore, and it will not move
    /// while anyone uses it afterwards.
    pub unsafe fn init(&self, value: u32) {
        // SAFETY: valid, unused memory for a sem_t (caller's promise);
        // pshared = 1 because it lives in a MAP_SHARED mapping.
        let rc = unsafe { libc::sem_init(self.0.get(), 1, value) };
        if rc != 0 {
            failed(
                "sem_init",
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            );
        }
    }
}

impl BenchLock for PosixSem {
    #[inline]
    fn lock(&self) {
        loop {
            // SAFETY: the semaphore was initialised in place (`init`) and
            // has not moved since; semaphores are for concurrent use.
            if unsafe { libc::sem_wait(self.0.get()) } == 0 {
                return;
            }
            let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            if errno != libc::EINTR {
                failed("sem_wait", errno);
            }
        }
    }

    #[inline]
    fn unlock(&self) {
        // SAFETY: as in `lock`.
        if unsafe { libc::sem_post(self.0.get()) } != 0 {
            failed(
                "sem_post",
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            );
        }
    }
}

/// Pads and aligns `T` to its own pair of cache lines (adjacent-line
/// prefetch pulls lines in pairs on x86).
#[repr(C, align(128))]
pub struct Padded<T>(pub T);

// SAFETY: `T` plus padding bytes, which nobody reads.
unsafe impl<T: ShmSafe> ShmSafe for Padded<T> {}

/// A lock and the plain (non-atomic) counter it guards, side by side as in
/// `lock_api::Mutex<RawLock, u64>`: only the lock keeps increments from
/// being lost.
#[repr(C)]
pub struct Guarded<L> {
    /// The lock under test.
    pub lock: L,
    counter: UnsafeCell<u64>,
}

// SAFETY: the counter is only touched while `lock` is held (`bump`), or by
// `get`/`reset` while no other process runs (their contracts).
unsafe impl<L: Sync> Sync for Guarded<L> {}
// SAFETY: a ShmSafe lock and a u64: no pointers, any counter bytes valid,
// no Drop.
unsafe impl<L: ShmSafe> ShmSafe for Guarded<L> {}

impl<L: BenchLock> Guarded<L> {
    /// `lock` with a zero counter.
    pub fn new(lock: L) -> Guarded<L> {
        Guarded {
            lock,
            counter: UnsafeCell::new(0),
        }
    }

    /// Takes the lock, adds one to the counter, releases the lock.
    #[inline]
    pub fn bump(&self) {
        self.lock.lock();
        // SAFETY: the lock is held, so no other thread or process touches
        // the counter; its Acquire/Release orders the accesses.
        unsafe { *self.counter.get() += 1 };
        self.lock.unlock();
    }

    /// Reads the counter while nobody else runs.
    pub fn get(&self) -> u64 {
        self.lock.lock();
        // SAFETY: under the lock, as in `bump`.
        let n = unsafe { *self.counter.get() };
        self.lock.unlock();
        n
    }

    /// Sets the counter to zero.
    pub fn reset(&self) {
        self.lock.lock();
        // SAFETY: under the lock, as in `bump`.
        unsafe { *self.counter.get() = 0 };
        self.lock.unlock();
    }
}

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
/// ```ignore
/// let pair = Pair::new();
/// let elapsed = pair.run(|| parent_half(), || child_half());
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

/// Involuntary context switches per second (parent and child together)
/// that a quiet machine still causes: kernel threads and timers preempt
/// briefly now and then (50-80/s measured on the 2-vCPU VM). A CPU-bound
/// neighbour time-slicing with one side causes several hundred per second.
const QUIET_SWITCHES_PER_SEC: f64 = 150.0;

/// How much other tasks disturbed the timed runs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Preemptions {
    /// Timed runs.
    pub runs: u32,
    /// Runs with more involuntary context switches than a quiet machine
    /// causes (see `QUIET_SWITCHES_PER_SEC`).
    pub disturbed: u32,
    /// Involuntary context switches of both sides over all runs.
    pub switches: u64,
    /// Wall time of all runs.
    pub timed: Duration,
}

impl Preemptions {
    /// Counts one run of `elapsed` with `switches` involuntary context
    /// switches; returns whether it was disturbed.
    fn count(&mut self, elapsed: Duration, switches: u64) -> bool {
        self.runs += 1;
        self.switches += switches;
        self.timed += elapsed;
        let disturbed = switches as f64 > 2.0 + QUIET_SWITCHES_PER_SEC * elapsed.as_secs_f64();
        if disturbed {
            self.disturbed += 1;
        }
        disturbed
    }

    /// Warns on stderr that `name`'s figures are unreliable, if other tasks
    /// took the CPU from the bench during more than a tenth of the runs (a
    /// stray kernel thread now and then does not count).
    pub fn warn(&self, name: &str) {
        if self.disturbed * 10 > self.runs {
            eprintln!(
                "note: {name}: {} of {} runs were time-sliced with other tasks \
                 ({:.0} involuntary context switches/s; a quiet machine: < {}); \
                 these figures mix contention with time-slicing, rerun when idle",
                self.disturbed,
                self.runs,
                self.switches as f64 / self.timed.as_secs_f64().max(1e-9),
                QUIET_SWITCHES_PER_SEC
            );
        }
    }
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
    pub fn new() -> Pair {
        Pair {
            cpus: two_cpus(),
            ..Pair::unpinned()
        }
    }

    /// A runner that leaves CPU placement to the scheduler.
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
    /// If the child fails or does not finish within [`PATIENCE`] (it is
    /// killed then).
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
            // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and
            // touches no memory of ours.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
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

/// The calling thread's involuntary context switches so far: how often the
/// scheduler took its CPU away while it could have run on.
fn involuntary_switches() -> u64 {
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is writable memory for one rusage; RUSAGE_THREAD
    // asks about the calling thread only.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded, so it filled the struct (and zeroed
    // bytes are a valid rusage anyway).
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_nivcsw).unwrap_or(0)
}

/// The first two CPUs this process may run on, if it may run on two.
fn two_cpus() -> Option<(usize, usize)> {
    let set = current_affinity()?;
    let mut allowed = (0..libc::CPU_SETSIZE as usize).filter(|&cpu| {
        // SAFETY: `cpu` is below CPU_SETSIZE, the number of CPUs a
        // cpu_set_t holds.
        unsafe { libc::CPU_ISSET(cpu, &set) }
    });
    Some((allowed.next()?, allowed.next()?))
}

/// The calling thread's CPU affinity mask.
fn current_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is a bit array, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    (rc == 0).then_some(set)
}

/// Sets the calling thread's affinity mask; false if the kernel refuses.
fn set_affinity(set: &libc::cpu_set_t) -> bool {
    // SAFETY: `set` is a valid cpu_set_t of the size passed; the call only
    // reads it.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) == 0 }
}

/// The calling thread pinned to one CPU; the previous mask comes back on
/// drop.
struct PinGuard(Option<libc::cpu_set_t>);

impl PinGuard {
    fn pin(cpu: usize) -> PinGuard {
        let old = current_affinity();
        // SAFETY: cpu_set_t is a bit array, valid when zeroed.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` came from `two_cpus`, so it is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(cpu, &mut one) };
        let pinned = set_affinity(&one);
        PinGuard(if pinned { old } else { None })
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            set_affinity(old);
        }
    }
}

/// Spins until `cond` holds; fails if the child exits first or `PATIENCE`
/// runs out.
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

/// Kills and reaps the child if the run ends (or panics) before it does.
struct KillOnDrop(Process);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.exitcode().is_none() {
            let _ = self.0.kill();
            let _ = self.0.join_timeout(Duration::from_secs(5));
        }
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.0
    }
}

/// The CPU time the calling process has used so far, all its threads
/// together (`CLOCK_PROCESS_CPUTIME_ID`). A forked child starts from zero.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec; the clock id is one Linux always
    // supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        failed(
            "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
        );
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// Set by the `SIGALRM` handler that [`Watchdog`] installs.
static ALARM_FIRED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_alarm(_signal: libc::c_int) {
    // Relaxed: a lone flag, read by the same thread after its system call
    // returns EINTR; storing to an atomic is async-signal-safe.
    ALARM_FIRED.store(true, Ordering::Relaxed);
}

/// Bounds blocking system calls that have no timeout of their own (a
/// `read` on a pipe or an eventfd): while armed, a `SIGALRM` arrives after
/// the limit and, as its handler is installed without `SA_RESTART`, makes
/// the blocked call fail with `EINTR`; the caller then asks
/// [`Watchdog::fired`] and gives up. Disarmed on drop.
///
/// One per process at a time (there is one alarm clock per process); a
/// forked child does not inherit the parent's pending alarm and arms its
/// own.
pub struct Watchdog(());

impl Watchdog {
    /// Installs the handler and arms the alarm for `limit` (whole seconds,
    /// at least one).
    pub fn arm(limit: Duration) -> Watchdog {
        // SAFETY: sigaction is a plain C struct for which zero bytes are a
        // valid value (no flags, empty mask, SIG_DFL).
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_alarm as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // No SA_RESTART: the point is that blocked calls return EINTR.
        action.sa_flags = 0;
        // SAFETY: `action.sa_mask` is a writable sigset_t.
        unsafe { libc::sigemptyset(&mut action.sa_mask) };
        // SAFETY: `action` is initialised, its handler only stores to an
        // atomic (async-signal-safe); the old action is not asked for.
        let rc = unsafe { libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut()) };
        if rc != 0 {
            failed(
                "sigaction(SIGALRM)",
                std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
            );
        }
        // Relaxed: only this thread reads it, after an EINTR.
        ALARM_FIRED.store(false, Ordering::Relaxed);
        let secs = u32::try_from(limit.as_secs().max(1)).unwrap_or(u32::MAX);
        // SAFETY: alarm has no preconditions.
        unsafe { libc::alarm(secs) };
        Watchdog(())
    }

    /// Whether the alarm went off since [`Watchdog::arm`].
    pub fn fired() -> bool {
        // Relaxed: see `on_alarm`.
        ALARM_FIRED.load(Ordering::Relaxed)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // SAFETY: alarm has no preconditions; 0 cancels a pending alarm.
        unsafe { libc::alarm(0) };
    }
}
