//! `RawEvent`: a flag that processes wait for, Python's `Event`.
//!
//! One word: bit 0 is the flag, bit 1 says some thread may sleep on the
//! word, and the remaining 30 bits count the times the flag was set. A
//! waiter returns once the flag is set *or* the count moved since it began,
//! so a `set` followed at once by a `clear` still releases everyone who was
//! waiting, as in Python. `set` wakes sleepers only if the sleeper bit says
//! there may be some, and clears that bit: a waiter that dies asleep costs
//! one needless wake-up, once.
//!
//! Orderings: `set` publishes with `Release` and waiters read with
//! `Acquire`, so what the setter wrote before `set` is visible to a waiter
//! that returns true. Everything else is `Relaxed`.

use super::wait::sleep_flagged;
use crate::shim::{self, loom_const_fn, AtomicU32, Deadline, Ordering, Poll, WaitCell, Wake};
use core::time::Duration;

/// The flag.
const SET: u32 = 1;
/// Some thread may be asleep on the word; `set` must wake them.
const SLEEPERS: u32 = 2;
/// One step of the set counter in bits 2..32.
const ONE_SET: u32 = 4;

#[inline]
fn sets(word: u32) -> u32 {
    word >> 2
}

/// A flag that threads of any process can set, clear and wait for.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawEvent;
/// use std::time::Duration;
///
/// static READY: RawEvent = RawEvent::new();
/// assert!(!READY.wait_for(Duration::from_millis(1)));
/// READY.set();
/// assert!(READY.is_set());
/// assert!(READY.wait_for(Duration::ZERO));
/// READY.clear();
/// assert!(!READY.is_set());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawEvent {
    /// `sets << 2 | SLEEPERS | SET`.
    word: AtomicU32,
    cell: WaitCell,
}

impl Default for RawEvent {
    fn default() -> Self {
        RawEvent::new()
    }
}

impl RawEvent {
    loom_const_fn! {
        /// A cleared event. `const`, so it can be a `static`; to share it
        /// with other processes, place it in shared memory.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::raw::RawEvent;
        /// use shmsync::Shared;
        ///
        /// static IN_PROCESS: RawEvent = RawEvent::new();
        /// let across_processes = Shared::new(RawEvent::new())?;
        /// assert!(!IN_PROCESS.is_set());
        /// assert!(!across_processes.is_set());
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        pub fn new() -> RawEvent {
            RawEvent {
                word: AtomicU32::new(0),
                cell: WaitCell::new(),
            }
        }
    }

    /// Sets the flag and wakes every waiter. Setting a set flag does
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// let ready = Shared::new(RawEvent::new())?;
    /// let child = Process::spawn({
    ///     let ready = ready.clone();
    ///     move || ready.set()
    /// })?;
    /// assert!(ready.wait_for(Duration::from_secs(5)), "set by the child");
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn set(&self) {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & SET != 0 {
                return;
            }
            let new = (word & !SLEEPERS).wrapping_add(ONE_SET) | SET;
            // Release: pairs with the Acquire loads of waiters and `is_set`.
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        if word & SLEEPERS != 0 {
            self.cell.wake_all(&self.word);
        }
    }

    /// Clears the flag; later waits wait again until the next
    /// [`set`](RawEvent::set).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    /// use std::time::Duration;
    ///
    /// let event = RawEvent::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// assert!(!event.wait_for(Duration::from_millis(1)));
    /// ```
    #[inline]
    pub fn clear(&self) {
        // Relaxed: clearing publishes nothing.
        self.word.fetch_and(!SET, Ordering::Relaxed);
    }

    /// Whether the flag is set (a snapshot); never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    ///
    /// let event = RawEvent::new();
    /// assert!(!event.is_set());
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set`.
        self.word.load(Ordering::Acquire) & SET != 0
    }

    /// Waits until the flag is set; returns at once if it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    ///
    /// let event = RawEvent::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| event.set());
    ///     event.wait(); // sleeps until the thread sets it
    /// });
    /// assert!(event.is_set());
    /// ```
    #[inline]
    pub fn wait(&self) {
        let set = self.wait_until(Deadline::NEVER);
        debug_assert!(set, "a wait without deadline timed out");
    }

    /// Waits until the flag is set or `timeout` passes; returns the flag
    /// (true also if it was set and cleared again meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    /// use std::time::Duration;
    ///
    /// let event = RawEvent::new();
    /// assert!(!event.wait_for(Duration::from_millis(2)), "nobody set it");
    /// std::thread::scope(|s| {
    ///     s.spawn(|| event.set());
    ///     assert!(event.wait_for(Duration::from_secs(5)));
    /// });
    /// ```
    #[inline]
    pub fn wait_for(&self, timeout: Duration) -> bool {
        self.is_set() || self.wait_slow(Deadline::after(timeout))
    }

    /// Waits until the flag is set or `deadline`; returns as
    /// [`RawEvent::wait_for`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let event = RawEvent::new();
    /// let deadline = Deadline::after(Duration::from_millis(2));
    /// assert!(!event.wait_until(deadline));
    /// assert!(deadline.has_passed());
    /// event.set();
    /// assert!(event.wait_until(deadline), "set: true even after the deadline");
    /// ```
    #[inline]
    pub fn wait_until(&self, deadline: Deadline) -> bool {
        self.is_set() || self.wait_slow(deadline)
    }

    #[cold]
    fn wait_slow(&self, deadline: Deadline) -> bool {
        // Acquire, here and below: pairs with the Release in `set`.
        let first = self.word.load(Ordering::Acquire);
        if first & SET != 0 {
            return true;
        }
        let start = sets(first);
        let released = |word: u32| word & SET != 0 || sets(word) != start;
        if shim::spin_until(deadline, Poll::Eager, || {
            released(self.word.load(Ordering::Relaxed))
        }) {
            return released(self.word.load(Ordering::Acquire));
        }
        loop {
            let slept = sleep_flagged(&self.cell, &self.word, SLEEPERS, deadline, released);
            let gave_up = slept == Some(Wake::TimedOut) && deadline.has_passed();
            if slept.is_none() || gave_up {
                return released(self.word.load(Ordering::Acquire));
            }
        }
    }
}
