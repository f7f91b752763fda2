//! Crash points and counters for tests (cargo feature `test-hooks`): the
//! ring's put and get mark each [`Step`] of their work, and a test process
//! that armed a step with `crash_at` is killed with `SIGKILL` there, so
//! that every narrow window of the crash analysis in the module docs of
//! [`ring`](crate::ring) is hit on purpose rather than by luck;
//! `wake_calls` counts the wake-up calls of the rings' signals.
//!
//! Without the feature, a step mark is an empty inline function and no
//! counter is kept: the hooks cost nothing in normal builds.

/// A step of a put or a get, where an armed process dies.
///
/// # Examples
///
/// With the feature `test-hooks`, a producer process armed to die just
/// after its commit: its message is delivered all the same.
///
/// ```
/// use shmsync::ring::hooks::Step;
/// use shmsync::{Process, Queue};
/// use std::time::Duration;
///
/// let q = Queue::<u64>::new(4)?;
/// let child = Process::spawn(|| {
///     # #[cfg(feature = "test-hooks")]
///     shmsync::ring::hooks::crash_at(Step::PutCommitted, 0);
///     let _ = q.put(7);
/// })?;
/// # #[cfg(feature = "test-hooks")]
/// assert_eq!(child.join()?, -9); // SIGKILL, inside `put`
/// # #[cfg(not(feature = "test-hooks"))]
/// # assert_eq!(child.join()?, 0);
/// assert_eq!(q.get_timeout(Duration::from_secs(2))?, 7);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[non_exhaustive]
pub enum Step {
    /// The producing side was just taken (its lock is held).
    PutSideTaken = 1,
    /// The message is copied into the ring but not committed.
    PutCopied = 2,
    /// The message is committed (`tail` stored), sleepers not yet woken.
    PutCommitted = 3,
    /// Sleepers were woken (if any); the side is still held.
    PutWoken = 4,
    /// The consuming side was just taken.
    GetSideTaken = 5,
    /// The message is copied out of the ring but not committed.
    GetCopied = 6,
    /// The message is taken (`head` stored), sleepers not yet woken.
    GetCommitted = 7,
    /// Sleepers were woken (if any); the side is still held.
    GetWoken = 8,
    /// About to sleep on a ring's signal, its sleepers flag set: a death
    /// here is a death in the sleep.
    Asleep = 9,
    /// A pipe's writer committed a message and found the reader waiting
    /// in an event loop; its wake token is not sent yet.
    TokenDue = 10,
}

#[cfg(feature = "test-hooks")]
mod imp {
    use super::Step;
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    /// The armed step (0: none).
    static ARMED: AtomicU32 = AtomicU32::new(0);
    /// How many more times the armed step is passed before it kills.
    static COUNTDOWN: AtomicU32 = AtomicU32::new(0);
    /// Wake-up calls made by this process's ring signals.
    static WAKES: AtomicU64 = AtomicU64::new(0);

    // All Relaxed in this file: per-process test settings and counters that
    // publish no other memory.

    /// Arms `step`: the calling process lets it pass `passes_before`
    /// times, then kills itself with `SIGKILL` the next time it gets there.
    /// A forked child inherits the setting as it is at the fork.
    pub fn crash_at(step: Step, passes_before: u32) {
        COUNTDOWN.store(passes_before, Ordering::Relaxed);
        ARMED.store(step as u32, Ordering::Relaxed);
    }

    /// Disarms the crash point of the calling process.
    pub fn disarm() {
        ARMED.store(0, Ordering::Relaxed);
    }

    /// Kills the process if `step` is armed and its countdown is over.
    #[inline]
    pub fn point(step: Step) {
        if ARMED.load(Ordering::Relaxed) != step as u32 {
            return;
        }
        if COUNTDOWN
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return;
        }
        let me = rustix::process::getpid();
        let _ = rustix::process::kill_process(me, rustix::process::Signal::KILL);
        // SIGKILL to oneself is delivered before kill returns; should it
        // not be, stop anyway rather than go on past the step.
        loop {
            core::hint::spin_loop();
        }
    }

    /// Counts one wake-up call.
    pub fn count_wake() {
        WAKES.fetch_add(1, Ordering::Relaxed);
    }

    /// How many wake-up calls this process's ring signals have made: a
    /// put or get that found the sleepers flag set makes one.
    pub fn wake_calls() -> u64 {
        WAKES.load(Ordering::Relaxed)
    }
}

#[cfg(feature = "test-hooks")]
pub use imp::{crash_at, disarm, wake_calls};

/// Marks `step` of a put or get: kills the process if the step is armed.
#[inline(always)]
pub(crate) fn point(step: Step) {
    #[cfg(feature = "test-hooks")]
    imp::point(step);
    #[cfg(not(feature = "test-hooks"))]
    let _ = step;
}

/// Counts one wake-up call (a `FUTEX_WAKE` or its equivalent) by a ring
/// signal.
#[inline(always)]
pub(crate) fn count_wake() {
    #[cfg(feature = "test-hooks")]
    imp::count_wake();
}
