//! Waiting and waking with process-shared POSIX semaphores: the portable
//! backend (feature `posix-sem`, alias `pthread`, and every target but
//! Linux).
//!
//! Each primitive carries one [`WaitCell`]: a `sem_t` made with `pshared`
//! set, and a count of the threads that may be asleep on it. A wait
//! registers, compares the word with `expected`, and sleeps on the
//! semaphore; a wake posts once per registered sleeper (at most), so a post
//! that comes before its sleeper has gone to sleep is kept, not lost. A
//! sleeper that finds the word changed, or a post meant for someone else,
//! returns early: the contract allows spurious wake-ups.
//!
//! A post is not addressed: a thread that starts sleeping just after a
//! wake can take the post meant for one already asleep, which then sleeps
//! on (the thief re-checks its own word and sleeps again). So no sleep on
//! this backend lasts longer than [`MAX_SLEEP`]: a sleeper whose post was
//! taken notices the change to its word at its next look, at most that
//! much later. Futexes wake the sleepers queued at the time of the wake and
//! need no such bound.
//!
//! Why not a process-shared `pthread_mutex_t` and `pthread_cond_t`, the
//! obvious design: glibc's condition variable keeps a count of the waiters
//! inside `pthread_cond_wait`, and a waiter killed there is never taken off
//! it; the next signal or broadcast that has to switch waiter groups then
//! waits for it forever (`__condvar_quiesce_and_switch_g1`, seen here with
//! glibc 2.36: an `Event::set` after a waiter's `SIGKILL` hung). A POSIX
//! semaphore has no such state: a killed sleeper leaves a count one too
//! high, which costs spurious posts, never a hang.
//!
//! `sem_init` must run where the semaphore will stay, and [`WaitCell::new`]
//! must be `const`, so a cell starts as plain bytes and is initialised by
//! whoever touches it first (the `state` word below). A raw primitive on
//! this backend must therefore not be moved after first use; the `shm`
//! layer places them once and never moves them.
//!
//! Hostile or stuck state never makes a call spin or post without bound. A
//! waiter that finds the cell being initialised by another (live, perhaps
//! stopped) thread naps for at most [`INIT_NAP`] and reports a spurious
//! wake-up, so its caller's loop, and its deadline, stay in charge; a waker
//! that finds the cell not ready posts nothing (nobody can be asleep on an
//! uninitialised semaphore, and nappers look again by themselves). A wake
//! posts at most [`MAX_POSTS`] times whatever the sleeper count says, and
//! a wait returns [`Wake::TimedOut`] once its deadline has passed, however
//! many posts the semaphore holds.
//!
//! Orderings: the sleeper count and the word form a Dekker pair. A waiter
//! counts itself, then (after a `SeqCst` fence) reads the word; a waker has
//! changed the word, then (after a `SeqCst` fence) reads the count. At
//! least one of them sees the other, so either the waiter does not sleep or
//! the waker posts.

use super::{ident, Deadline, Wake};
use core::cell::UnsafeCell;
use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// The longest one sleep lasts before the sleeper looks at its word again
/// (see the module docs): the worst-case delay of a wake-up on this
/// backend, and the period of a sleeper's wasted wake-ups (a few
/// microseconds of CPU each).
pub const MAX_SLEEP: core::time::Duration = core::time::Duration::from_millis(10);

/// The longest nap of a waiter that finds another thread initialising the
/// cell: it then reports a spurious wake-up and its caller looks again.
pub const INIT_NAP: core::time::Duration = core::time::Duration::from_millis(1);

/// The most posts one wake makes, whatever the sleeper count says (a count
/// a peer scribbled, or one inflated by sleepers that died). Sleepers beyond
/// it notice their word within [`MAX_SLEEP`].
pub const MAX_POSTS: u32 = 1024;

/// How long a thread may sit on an unfinished initialisation before others
/// check whether it still exists.
const INIT_PATIENCE: core::time::Duration = core::time::Duration::from_millis(5);

/// `state`: nobody has initialised the semaphore yet.
const UNINIT: u32 = 0;
/// `state`: the semaphore is ready. Any other value is the thread id of the
/// thread initialising it right now.
const READY: u32 = u32::MAX;

/// A process-shared semaphore that sleepers wait on, initialised on first
/// use.
#[repr(C)]
pub struct WaitCell {
    /// `UNINIT`, `READY`, or the id of the initialising thread.
    state: AtomicU32,
    /// Threads that may be asleep on `sem` (or about to be).
    sleepers: AtomicU32,
    /// When (CLOCK_MONOTONIC nanoseconds) a waiter first found `state`
    /// naming an initialiser; 0 if none did. Only a hint for patience.
    init_seen: AtomicU64,
    sem: UnsafeCell<libc::sem_t>,
}

// SAFETY: the semaphore is a process-shared synchronization object, meant to
// be used from many threads at once; `state` orders its initialisation
// before any use.
unsafe impl Sync for WaitCell {}
// SAFETY: nothing in the cell is tied to the thread that created it.
unsafe impl Send for WaitCell {}

impl core::fmt::Debug for WaitCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaitCell")
            .field("ready", &self.is_ready())
            .field("sleepers", &self.sleepers.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for WaitCell {
    fn default() -> Self {
        WaitCell::new()
    }
}

impl WaitCell {
    /// A cell in its uninitialised state; the semaphore is built in place
    /// on first use.
    pub const fn new() -> WaitCell {
        WaitCell {
            state: AtomicU32::new(UNINIT),
            sleepers: AtomicU32::new(0),
            init_seen: AtomicU64::new(0),
            // SAFETY: an all-zero sem_t is plain storage for sem_init; it is
            // never used before `try_init` has initialised it.
            sem: UnsafeCell::new(unsafe { core::mem::zeroed() }),
        }
    }

    /// Sleeps while `*word == expected`, until woken or `deadline` passes.
    /// May return [`Wake::Woken`] spuriously; returns [`Wake::TimedOut`]
    /// whenever `deadline` has passed.
    pub fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Wake {
        if !self.try_init() {
            // Another thread is initialising the semaphore (or is stuck doing
            // so): nap briefly and let the caller look at its word again.
            nap(deadline.min(Deadline::after(INIT_NAP)));
            return Wake::checked(Wake::Woken, deadline);
        }
        // Relaxed + fence: the waiter's half of the Dekker pair (module docs).
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // Like the kernel's futex check, compare against the word's latest
        // value: a read-modify-write always reads it (a plain load may, by
        // the memory model, read an older one), and writes back what is
        // there.
        let woke = if word
            .compare_exchange(expected, expected, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            Wake::Woken
        } else {
            self.sleep(deadline)
        };
        // Relaxed: a late decrement costs a waker one spare post at most.
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
        Wake::checked(woke, deadline)
    }

    /// Wakes one sleeper on `word`, if there may be one.
    pub fn wake_one(&self, _word: &AtomicU32) {
        self.post_up_to(1);
    }

    /// Wakes every sleeper on `word`.
    pub fn wake_all(&self, _word: &AtomicU32) {
        self.post_up_to(u32::MAX);
    }

    /// Posts until the semaphore holds one post per registered sleeper, but
    /// no more than `most` new ones, nor [`MAX_POSTS`]: posts nobody takes
    /// stay bounded by the number of sleepers (dead ones included).
    fn post_up_to(&self, most: u32) {
        // Fence + Relaxed: the waker's half of the Dekker pair; the caller
        // changed the word before.
        fence(Ordering::SeqCst);
        let sleepers = self.sleepers.load(Ordering::Relaxed);
        // Not ready: nobody sleeps on the semaphore yet (see the module docs).
        if sleepers == 0 || !self.is_ready() {
            return;
        }
        let pending = self.value();
        let posts = sleepers.saturating_sub(pending).min(most).min(MAX_POSTS);
        for _ in 0..posts {
            // SAFETY: the semaphore is initialised (is_ready) and never
            // moves while in use (module docs). EOVERFLOW cannot happen
            // below SEM_VALUE_MAX posts, which MAX_POSTS rules out.
            unsafe { libc::sem_post(self.sem.get()) };
        }
    }

    /// Posts not yet taken.
    fn value(&self) -> u32 {
        let mut value: libc::c_int = 0;
        // SAFETY: initialised semaphore; `value` is a valid out-pointer.
        unsafe { libc::sem_getvalue(self.sem.get(), &mut value) };
        // glibc reports 0 while there are sleepers; others may report
        // minus their number.
        value.max(0) as u32
    }

    fn sleep(&self, deadline: Deadline) -> Wake {
        let look_again = Deadline::after(MAX_SLEEP);
        if timed_wait(self.sem.get(), deadline.min(look_again)) == 0 {
            return Wake::Woken;
        }
        match errno() {
            libc::ETIMEDOUT if deadline <= look_again => Wake::TimedOut,
            // ETIMEDOUT of the capped sleep: a spurious wake-up, so that the
            // caller looks at its word. EINTR: a signal; the caller retries
            // against the same deadline.
            _ => Wake::Woken,
        }
    }

    /// Whether the semaphore is initialised.
    #[inline]
    fn is_ready(&self) -> bool {
        // Acquire: pairs with the Release store of READY in `init_slow`, so
        // the initialised semaphore is visible here.
        self.state.load(Ordering::Acquire) == READY
    }

    /// Makes sure the semaphore is initialised, initialising it if nobody
    /// has or its initialiser died; false if another thread is at it.
    #[inline]
    fn try_init(&self) -> bool {
        self.is_ready() || self.init_slow()
    }

    #[cold]
    fn init_slow(&self) -> bool {
        // Acquire: pairs with the Release store of READY below.
        let state = self.state.load(Ordering::Acquire);
        if state == READY {
            return true;
        }
        // A thread that died half-way through initialising (a few
        // instructions) must not block everyone: claim the cell from it.
        // Its id was read from shared memory: `thread_is_gone` treats an
        // impossible id as gone. The liveness check costs a syscall, so
        // it is made only once the first look found the same initialiser
        // a while ago: the caller naps in between (see `wait`).
        let claimable = state == UNINIT || self.initialiser_is_gone(state);
        let me = ident::current_thread().tid;
        if !claimable
            || self
                .state
                .compare_exchange(state, me, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        // SAFETY: this thread owns the initialisation (the CAS above);
        // nobody uses the semaphore until READY is published. pshared = 1:
        // shared between processes. sem_init only fails for values above
        // SEM_VALUE_MAX (not 0) or without pshared support, where this
        // backend cannot work at all.
        let rc = unsafe { libc::sem_init(self.sem.get(), 1, 0) };
        assert_eq!(
            rc, 0,
            "sem_init(pshared) failed: this platform lacks process-shared semaphores"
        );
        // Release: publishes the initialised semaphore to every Acquire load
        // of `state`.
        self.state.store(READY, Ordering::Release);
        true
    }

    /// Whether the thread recorded as initialising the cell is gone, once it
    /// has had [`INIT_PATIENCE`] to finish: the first time a thread sees an
    /// initialiser it only notes when; it asks the kernel on a later look.
    fn initialiser_is_gone(&self, state: u32) -> bool {
        let first_seen = self.init_seen.load(Ordering::Relaxed);
        let now = Deadline::now().as_nanos();
        if first_seen == 0 || first_seen > now {
            // Relaxed: a hint of when someone first saw this initialiser.
            self.init_seen.store(now, Ordering::Relaxed);
            return false;
        }
        now - first_seen >= INIT_PATIENCE.as_nanos() as u64 && ident::thread_is_gone(state)
    }
}

/// Sleeps until `until` (at most [`INIT_NAP`] in practice), ignoring
/// signals' early returns: the caller looks again either way.
fn nap(until: Deadline) {
    let remaining = until.remaining();
    let ts = rustix::thread::Timespec {
        tv_sec: remaining.as_secs() as _,
        tv_nsec: remaining.subsec_nanos() as _,
    };
    let _ = rustix::thread::nanosleep(&ts);
}

/// `sem_clockwait` on `CLOCK_MONOTONIC` (glibc 2.30 and later).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn timed_wait(sem: *mut libc::sem_t, deadline: Deadline) -> libc::c_int {
    extern "C" {
        fn sem_clockwait(
            sem: *mut libc::sem_t,
            clock: libc::clockid_t,
            abstime: *const libc::timespec,
        ) -> libc::c_int;
    }
    let (tv_sec, tv_nsec) = deadline.as_secs_nanos();
    let ts = libc::timespec {
        tv_sec: tv_sec as libc::time_t,
        tv_nsec: tv_nsec as _,
    };
    // SAFETY: initialised semaphore that never moves while in use; `ts` is
    // an absolute CLOCK_MONOTONIC time.
    unsafe { sem_clockwait(sem, libc::CLOCK_MONOTONIC, &ts) }
}

/// `sem_timedwait` takes a `CLOCK_REALTIME` instant: convert the remaining
/// monotonic time, re-done on every retry, so a wall-clock step can make
/// one sleep longer or shorter but never the whole wait (the caller checks
/// its monotonic deadline).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn timed_wait(sem: *mut libc::sem_t, deadline: Deadline) -> libc::c_int {
    let remaining = deadline.remaining();
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let nanos = now.tv_nsec as u64 + u64::from(remaining.subsec_nanos());
    let ts = libc::timespec {
        tv_sec: now
            .tv_sec
            .saturating_add((remaining.as_secs() + nanos / 1_000_000_000) as libc::time_t),
        tv_nsec: (nanos % 1_000_000_000) as _,
    };
    // SAFETY: initialised semaphore; `ts` is an absolute CLOCK_REALTIME time.
    unsafe { libc::sem_timedwait(sem, &ts) }
}

fn errno() -> libc::c_int {
    #[cfg(target_os = "linux")]
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe {
        *libc::__errno_location()
    }
    #[cfg(not(target_os = "linux"))]
    // SAFETY: __error returns this thread's errno slot (BSDs, macOS).
    unsafe {
        *libc::__error()
    }
}

/// How many words [`wait_any`] could sleep on: none, see there.
pub const WAIT_ANY_MAX: usize = 0;

/// Sleeping on several words at once: a POSIX semaphore sleeps on one, so
/// this backend cannot; always `None`, and the caller sleeps otherwise (on
/// file descriptors, or on one word with a bounded sleep).
pub fn wait_any(_words: &[(&AtomicU32, u32)], _deadline: Deadline) -> Option<Wake> {
    None
}
