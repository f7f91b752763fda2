//! The operating-system seam: sleeping on and waking a shared 32-bit word,
//! the monotonic clock, thread identity, and the bounded spin before sleep.
//! Nothing else in the crate calls the OS for these.
//!
//! One wait backend is chosen here, at compile time, and both export the
//! same [`WaitCell`] with the same three operations:
//!
//! | backend | when | cell |
//! |---|---|---|
//! | `futex` | Linux (default) | empty: the kernel queues sleepers by address |
//! | `posix-sem` | feature `posix-sem` (alias `pthread`), or not Linux | process-shared POSIX semaphore + sleeper count |
//!
//! Besides, each backend exports `wait_any(words, deadline)`, which sleeps
//! on several words at once where the backend can (`futex_waitv` on Linux
//! 5.16 and later) and returns `None` where it cannot (older kernels, and
//! POSIX semaphores, which sleep on one semaphore each): its callers then
//! sleep otherwise.
//!
//! The contract: `wait(word, expected, deadline)` sleeps only while
//! `*word == expected` (checked atomically with going to sleep), and returns
//! when woken, spuriously, or at `deadline`. It returns [`Wake::TimedOut`]
//! whenever `deadline` has passed by the time it returns, whatever woke it,
//! so a caller that loops until `TimedOut` honours its deadline even if a
//! peer keeps changing the word or posting. A waker changes the word first
//! and wakes after, and changes it with read-modify-write operations only (a
//! swap rather than a store): like the kernel's futex check, the
//! POSIX-semaphore cell (and the loom cell of [`crate::shim`]) compares
//! `expected` with the word's latest value by a compare-and-swap.
//!
//! In loom builds the shim replaces the cell, the clock, the identity and
//! the spin with loom's; this module is then compiled but unused.

pub(crate) mod barrier;
pub(crate) mod copy;
mod ident;
// What pipes ask the kernel about their ends: the socket pair of
// `Pipe::new`, the open-file-description locks of a pipe in a segment.
#[cfg(all(target_os = "linux", feature = "std"))]
pub(crate) mod ofd;
#[cfg(feature = "std")]
pub(crate) mod socket;
mod spin;
mod time;

#[cfg(all(target_os = "linux", not(feature = "posix-sem")))]
#[path = "futex.rs"]
mod backend;

#[cfg(any(feature = "posix-sem", not(target_os = "linux")))]
#[path = "posix_sem.rs"]
mod backend;

pub use backend::WaitCell;
pub(crate) use backend::{wait_any, WAIT_ANY_MAX};
#[cfg(feature = "std")]
pub(crate) use ident::MadeIn;
pub(crate) use ident::{current_thread, next_hold, thread_is_gone, Caller};
pub use spin::{set_spin_duration, spin_duration, MAX_SPIN};
pub(crate) use spin::{spin_until, yield_until, Poll};
#[cfg(feature = "std")]
pub(crate) use time::coarse_nanos;
pub(crate) use time::may_ask_kernel;
pub use time::Deadline;

/// The name of the compiled-in wait backend: `"futex"` or `"posix-sem"`.
///
/// # Examples
///
/// ```
/// let backend = shmsync::BACKEND;
/// assert!(backend == "futex" || backend == "posix-sem");
/// if cfg!(not(target_os = "linux")) {
///     assert_eq!(backend, "posix-sem", "futexes are Linux only");
/// }
/// ```
pub const BACKEND: &str = if cfg!(all(target_os = "linux", not(feature = "posix-sem"))) {
    "futex"
} else {
    "posix-sem"
};

/// Why a [`WaitCell::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken, or the word had changed, or spuriously: look again.
    Woken,
    /// The deadline has passed.
    TimedOut,
}

impl Wake {
    /// `TimedOut` if `deadline` has passed by now, whatever `woke` says: the
    /// last step of every backend's `wait`.
    #[inline]
    pub(crate) fn checked(woke: Wake, deadline: Deadline) -> Wake {
        if woke == Wake::TimedOut || deadline.has_passed() {
            Wake::TimedOut
        } else {
            Wake::Woken
        }
    }
}
