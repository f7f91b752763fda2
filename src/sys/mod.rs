//! The operating-system seam: sleeping on and waking a shared 32-bit word,
//! monotonic deadlines, thread identity, and the bounded spin before sleep.
//!
//! One backend is chosen here, at compile time, and every backend exports the
//! same [`WaitCell`] with the same three operations:
//!
//! | backend | when | cell |
//! |---|---|---|
//! | `futex` | Linux (default) | empty: the kernel queues sleepers by address |
//! | `pthread` | feature `pthread`, or not Linux | process-shared POSIX semaphore + sleeper count |
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
#[cfg(not(loom))]
pub use spin::{set_spin_duration, spin_duration, MAX_SPIN};
pub(crate) use spin::{spin_until, Poll};
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

/// When a waiter next checks whether the thread it waits on still exists:
/// 1 ms into the wait, then at doubling intervals of at most 100 ms, so a
/// death is noticed within about 100 ms at a cost of at most ten checks a
/// second. Loom models no deaths: never.
pub(crate) struct Probe {
    interval: core::time::Duration,
    at: Deadline,
}

impl Probe {
    const FIRST: core::time::Duration = core::time::Duration::from_millis(1);
    const MAX: core::time::Duration = core::time::Duration::from_millis(100);

    /// The schedule of a wait starting now.
    pub(crate) fn start() -> Probe {
        Probe {
            interval: Probe::FIRST,
            at: Probe::after(Probe::FIRST),
        }
    }

    /// The next check.
    pub(crate) fn at(&self) -> Deadline {
        self.at
    }

    /// Whether the next check is due; if so, schedules the one after.
    pub(crate) fn due(&mut self) -> bool {
        if !self.at.has_passed() {
            return false;
        }
        self.interval = (self.interval * 2).min(Probe::MAX);
        self.at = Probe::after(self.interval);
        true
    }

    fn after(interval: core::time::Duration) -> Deadline {
        if cfg!(loom) {
            Deadline::NEVER
        } else {
            Deadline::after(interval)
        }
    }
}

/// Announces a sleeper and sleeps: sets `flag` in `word` unless
/// `ready(word)` says there is nothing to wait for, then sleeps while the
/// word stays exactly as it was left. Returns `None` if `ready` held,
/// otherwise how the sleep ended (perhaps spuriously).
///
/// This is the sleeper side of every "waiters bit" protocol: whoever changes
/// the word next sees the bit and wakes, or the change makes the sleep
/// return at once.
pub(crate) fn sleep_flagged(
    cell: &WaitCell,
    word: &crate::shim::AtomicU32,
    flag: u32,
    deadline: Deadline,
    ready: impl Fn(u32) -> bool,
) -> Option<Wake> {
    use crate::shim::Ordering;
    // Relaxed throughout: the caller re-reads with the ordering it needs
    // once `ready` holds; the flag only decides who wakes whom.
    let mut current = word.load(Ordering::Relaxed);
    loop {
        if ready(current) {
            return None;
        }
        if current & flag != 0 {
            break;
        }
        match word.compare_exchange_weak(
            current,
            current | flag,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                current |= flag;
                break;
            }
            Err(now) => current = now,
        }
    }
    Some(cell.wait(word, current, deadline))
}

/// Why a [`WaitCell::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// Woken, or the word had changed, or spuriously: look again.
    Woken,
    /// The deadline passed.
    TimedOut,
}
