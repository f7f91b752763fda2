//! The one place that knows about loom: everything primitive code takes from
//! the world that `loom::model` has to replace.
//!
//! | what | normal builds | `cfg(loom)` |
//! |---|---|---|
//! | atomics, fences | `core::sync::atomic` | `loom::sync::atomic` |
//! | [`WaitCell`] | the `sys` backend (futex or POSIX semaphore) | loom's mutex and condition variable |
//! | [`Deadline`] (the clock) | `CLOCK_MONOTONIC` | a clock that stands still: every finite deadline has passed |
//! | [`current_thread`], [`next_hold`] | kernel thread id, per-thread stamp and counter | small ids per loom thread |
//! | [`thread_is_gone`] | `kill(tid, 0)` and `/proc` | never: loom models no deaths |
//! | [`spin_until`] | a bounded, clock-checked spin | one look |
//!
//! Code in `raw/` and `ring/` imports these from here and nothing from
//! `core::sync` or `sys` directly, so the same source runs unchanged inside
//! `loom::model`. No other file holds a `cfg(loom)` switch: constructors
//! that are `const` outside loom use [`loom_const_fn!`], items that cannot
//! exist under loom (a `const` lock for `lock_api`, layout assertions on
//! core's atomics) use [`outside_loom!`].

pub(crate) use crate::sys::{Caller, Poll, Wake};
pub use imp::Deadline;
pub(crate) use imp::*;

#[cfg(not(loom))]
mod imp {
    pub use crate::sys::Deadline;
    pub(crate) use crate::sys::{current_thread, next_hold, spin_until, thread_is_gone, WaitCell};
    pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    /// Whether waiters can see threads die: they look for dead lock holders
    /// and barrier parties only where they can.
    pub(crate) const DEATHS_OBSERVABLE: bool = true;

    /// `N` atomics, all zero.
    pub(crate) const fn zeroed_u32s<const N: usize>() -> [AtomicU32; N] {
        [const { AtomicU32::new(0) }; N]
    }
}

#[cfg(loom)]
mod imp {
    use super::{Caller, Poll, Wake};
    use core::time::Duration;
    pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use loom::sync::{Condvar, Mutex};

    /// Loom models no thread deaths.
    pub(crate) const DEATHS_OBSERVABLE: bool = false;

    /// `N` atomics, all zero.
    pub(crate) fn zeroed_u32s<const N: usize>() -> [AtomicU32; N] {
        core::array::from_fn(|_| AtomicU32::new(0))
    }

    /// A deadline under loom, where time stands still: a finite deadline
    /// has always passed, so models take the time-out paths without
    /// sleeping, and [`Deadline::NEVER`] never passes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Deadline {
        /// Whether this is [`Deadline::NEVER`]; finite deadlines sort first.
        never: bool,
    }

    impl Deadline {
        /// A deadline that never passes.
        pub const NEVER: Deadline = Deadline { never: true };

        /// Now: a finite deadline.
        pub fn now() -> Deadline {
            Deadline { never: false }
        }

        /// A finite deadline, whatever `timeout` is.
        pub fn after(_timeout: Duration) -> Deadline {
            Deadline::now()
        }

        /// This deadline; time does not move under loom.
        pub fn saturating_add(self, _d: Duration) -> Deadline {
            self
        }

        /// Whether this deadline is finite.
        pub fn has_passed(self) -> bool {
            !self.never
        }

        /// Zero for a finite deadline, `Duration::MAX` for `NEVER`.
        pub fn remaining(self) -> Duration {
            if self.never {
                Duration::MAX
            } else {
                Duration::ZERO
            }
        }

        /// Whether this is [`Deadline::NEVER`].
        pub fn is_never(self) -> bool {
            self.never
        }
    }

    /// Loom's mutex and condition variable standing in for a futex queue,
    /// so that loom sees every sleep and wake-up and reports lost ones as
    /// deadlocks.
    #[derive(Debug)]
    pub struct WaitCell {
        mutex: Mutex<()>,
        cond: Condvar,
    }

    impl Default for WaitCell {
        fn default() -> Self {
            WaitCell::new()
        }
    }

    impl WaitCell {
        /// A cell ready for use.
        pub fn new() -> WaitCell {
            WaitCell {
                mutex: Mutex::new(()),
                cond: Condvar::new(),
            }
        }

        /// Sleeps while `*word == expected`. A wait with a deadline does not
        /// sleep (there is no clock): it reports a time-out at once. (Not
        /// after a yield: loom runs a thread that yielded only once the
        /// others cannot go on, so a yield here would hide every
        /// interleaving in which the timed waiter acts first.)
        pub fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Wake {
            let guard = self.mutex.lock().unwrap();
            // The kernel compares against the word's latest value; a plain
            // load could read an older one, so read with a read-modify-write
            // (which always sees the latest), writing back what is there.
            if word
                .compare_exchange(expected, expected, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                return if deadline.has_passed() {
                    Wake::TimedOut
                } else {
                    Wake::Woken
                };
            }
            if deadline.has_passed() {
                return Wake::TimedOut;
            }
            drop(self.cond.wait(guard).unwrap());
            Wake::Woken
        }

        /// Wakes one sleeper on `word`.
        pub fn wake_one(&self, _word: &AtomicU32) {
            let _guard = self.mutex.lock().unwrap();
            self.cond.notify_one();
        }

        /// Wakes every sleeper on `word`.
        pub fn wake_all(&self, _word: &AtomicU32) {
            let _guard = self.mutex.lock().unwrap();
            self.cond.notify_all();
        }
    }

    loom::lazy_static! {
        static ref NEXT_TID: AtomicU32 = AtomicU32::new(1);
    }
    loom::thread_local! {
        static TID: u32 = NEXT_TID.fetch_add(1, Ordering::Relaxed);
        static HOLDS: core::cell::Cell<u32> = core::cell::Cell::new(0);
    }

    /// Loom threads get small distinct ids, fresh for every execution; the
    /// stamp is the id (loom threads never reuse one).
    pub(crate) fn current_thread() -> Caller {
        let tid = TID.with(|t| *t);
        Caller {
            tid,
            stamp: u64::from(tid),
        }
    }

    /// A new number per acquisition on this loom thread.
    pub(crate) fn next_hold() -> u32 {
        HOLDS.with(|holds| {
            let next = holds.get().wrapping_add(1);
            holds.set(next);
            next
        })
    }

    /// Loom models no thread deaths.
    pub(crate) fn thread_is_gone(_tid: u32) -> bool {
        false
    }

    /// A spin under loom is one look: loom's preemptions explore the
    /// interleavings a longer spin would only repeat. (No yield: loom runs
    /// a thread that yielded only once the others cannot go on, which would
    /// hide every interleaving in which the spinner acts first.)
    pub(crate) fn spin_until(
        _limit: Deadline,
        _poll: Poll,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        done()
    }
}

/// Declares a constructor that is `const` in normal builds and a plain `fn`
/// under loom, whose atomics cannot be built in const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

/// Items that exist only outside loom: what needs a `const` primitive
/// (`lock_api`'s `INIT`) or core's atomics (layout assertions).
macro_rules! outside_loom {
    ($($item:item)*) => {
        $(
            #[cfg(not(loom))]
            $item
        )*
    };
}
pub(crate) use outside_loom;
