//! A deadline for blocking system calls that have none of their own.

use super::fail_errno;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set by the `SIGALRM` handler that [`Alarm::arm`] installs.
static ALARM_FIRED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_alarm(_signal: libc::c_int) {
    // Relaxed: a lone flag, read by the same thread after its system call
    // returns EINTR; storing to an atomic is async-signal-safe.
    ALARM_FIRED.store(true, Ordering::Relaxed);
}

/// Bounds blocking system calls that have no timeout of their own (a
/// `read` on a pipe or an eventfd), for benches: while armed, a `SIGALRM`
/// arrives after the limit and, as its handler is installed without
/// `SA_RESTART`, makes the blocked call fail with `EINTR`; the caller then
/// asks [`Alarm::fired`] and panics, which fails the bench (and
/// [`Pair::run`] kills its child). Disarmed on drop.
///
/// One per process at a time (there is one alarm clock per process); a
/// forked child does not inherit the parent's pending alarm and arms its
/// own.
///
/// # Examples
///
/// ```
/// use shmsync_testkit::{Alarm, PATIENCE};
///
/// let _alarm = Alarm::arm(PATIENCE);
/// // ... a blocking read; on EINTR:
/// assert!(!Alarm::fired(), "no answer in time");
/// ```
///
/// [`Pair::run`]: crate::Pair::run
pub struct Alarm(());

impl Alarm {
    /// Installs the handler and arms the alarm for `limit` (whole seconds,
    /// at least one).
    ///
    /// # Panics
    ///
    /// If the handler cannot be installed.
    pub fn arm(limit: Duration) -> Alarm {
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
            fail_errno("sigaction(SIGALRM)");
        }
        // Relaxed: only this thread reads it, after an EINTR.
        ALARM_FIRED.store(false, Ordering::Relaxed);
        let secs = u32::try_from(limit.as_secs().max(1)).unwrap_or(u32::MAX);
        // SAFETY: alarm has no preconditions.
        unsafe { libc::alarm(secs) };
        Alarm(())
    }

    /// Whether the alarm went off since [`Alarm::arm`].
    pub fn fired() -> bool {
        // Relaxed: see `on_alarm`.
        ALARM_FIRED.load(Ordering::Relaxed)
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        // SAFETY: alarm has no preconditions; 0 cancels a pending alarm.
        unsafe { libc::alarm(0) };
    }
}
