//! The operating-system seam: sleeping on and waking a shared 32-bit word,
//! monotonic deadlines, thread identity, and the bounded spin before sleep.
//!
//! One backend is chosen here, at compile time, and every backend exports the
//! same [`WaitCell`] with the same three operations:
//!
//! | backend | when | cell |
//! |---|---|---|
//! | `futex` | Linux (default) | empty: the kernel queues sleepers by address |
//! | `pthread` | feature `pthread`, or not Linux | process-shared mutex + condvar |
//! | `loom` | `cfg(loom)` | loom's mutex + condvar |
//!
//! The contract, for all three: `wait(word, expected, deadline)` sleeps only
//! while `*word == expected` (checked atomically with going to sleep), wakes
//! when woken, at `deadline`, or spuriously; the caller re-checks its
//! condition. A waker changes the word first and wakes after, and changes
//! it with read-modify-write operations only (a swap rather than a store):
//! like the kernel's futex check, the pthread and loom cells compare
//! `expected` with the word's latest value by a compare-and-swap, and loom
//! orders such a compare-and-swap soundly only against other
//! read-modify-writes. Only this module calls the OS.

mod ident;
mod spin;
mod time;

#[cfg(loom)]
#[path = "loom.rs"]
mod backend;

#[cfg(all(not(loom), target_os = "linux", not(feature = "pthread")))]
#[path = "futex.rs"]
mod backend;

#[cfg(all(not(loom), any(feature = "pthread", not(target_os = "linux"))))]
#[path = "pthread.rs"]
mod backend;

pub use backend::WaitCell;
pub(crate) use ident::{current_tid, thread_is_gone};
pub(crate) use spin::spin_until;
#[cfg(not(loom))]
pub use spin::{set_spin_duration, spin_duration, MAX_SPIN};
pub use time::Deadline;

/// The name of the compiled-in wait backend: `"futex"`, `"pthread"` or
/// `"loom"`.
pub const BACKEND: &str = if cfg!(loom) {
    "loom"
} else if cfg!(all(target_os = "linux", not(feature = "pthread"))) {
    "futex"
} else {
    "pthread"
};

/// When a waiter that has slept `interval` should next check whether the
/// thread it waits for still lives. Loom models no deaths: never.
#[inline]
pub(crate) fn probe_deadline(interval: core::time::Duration) -> Deadline {
    if cfg!(loom) {
        Deadline::NEVER
    } else {
        Deadline::after(interval)
    }
}

/// Why a [`WaitCell::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken, or the word had changed, or spuriously: look again.
    Woken,
    /// The deadline passed.
    TimedOut,
}
