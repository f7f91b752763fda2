//! `RawSemaphore`: a counting semaphore with an upper bound, for Python's
//! `Semaphore` and `BoundedSemaphore`.
//!
//! One word holds `count << 1 | SLEEPERS`, the scheme glibc's semaphores use
//! on 32-bit targets: acquire and release are one compare-and-swap each,
//! and a release makes a wake-up syscall only when the `SLEEPERS` bit says
//! someone may be asleep. Sleepers also count themselves in `sleepers`
//! (touched only on the slow path), so the last one to leave can clear the
//! bit; if it guessed wrong because another sleeper arrived meanwhile, it
//! sets the bit again and wakes one if units are available (see
//! `leave_sleepers`).
//!
//! A process killed while asleep leaves `sleepers` one too high, so the bit
//! stays set: releases then make a wake-up syscall that may find nobody,
//! which costs time, never correctness.
//!
//! Orderings: taking a unit is `Acquire` and giving one back `Release`, so
//! what a releaser wrote before `release` is visible to the acquirer that
//! takes its unit. The sleeper bookkeeping is `Relaxed` apart from the
//! clearing of the bit (`Acquire`) and the departure (`Release`), which
//! order a departing sleeper's guess against the arrival it missed.

use super::wait::sleep_flagged;
use crate::shim::{self, loom_const_fn, AtomicU32, Deadline, Ordering, Poll, WaitCell, Wake};
use core::fmt;
use core::time::Duration;

/// The largest count a semaphore can hold (POSIX's `SEM_VALUE_MAX`): the
/// bound of an unbounded `Semaphore`.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{RawSemaphore, SEM_VALUE_MAX};
///
/// assert_eq!(SEM_VALUE_MAX, i32::MAX as u32);
/// let unbounded = RawSemaphore::new(0, SEM_VALUE_MAX);
/// unbounded.release()?;
/// assert_eq!(unbounded.max(), SEM_VALUE_MAX);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub const SEM_VALUE_MAX: u32 = i32::MAX as u32;

/// A release that would raise the count above its bound: Python's
/// `ValueError` from `BoundedSemaphore.release()`.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{RawSemaphore, ReleasedTooManyTimes};
///
/// let sem = RawSemaphore::new(1, 1);
/// assert_eq!(sem.release(), Err(ReleasedTooManyTimes { max: 1 }));
/// assert_eq!(sem.value(), 1, "nothing changed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReleasedTooManyTimes {
    /// The bound the release would have crossed.
    pub max: u32,
}

impl fmt::Display for ReleasedTooManyTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "semaphore released too many times (its bound is {})",
            self.max
        )
    }
}

/// Bit 0 of the word: some thread may be asleep on it.
const SLEEPERS: u32 = 1;
/// One unit, in bits 1..32.
const ONE: u32 = 2;

#[inline]
fn units(word: u32) -> u32 {
    word >> 1
}

/// A counting semaphore across processes.
///
/// `acquire` takes one unit, sleeping while there is none; `release` gives
/// one back, and fails instead of raising the count above `max`. A
/// `BoundedSemaphore(n)` is `RawSemaphore::new(n, n)`, a `Semaphore(n)` is
/// `RawSemaphore::new(n, SEM_VALUE_MAX)`.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawSemaphore;
///
/// static SLOTS: RawSemaphore = RawSemaphore::new(2, 2);
/// assert!(SLOTS.try_acquire());
/// assert!(SLOTS.try_acquire());
/// assert!(!SLOTS.try_acquire());
/// SLOTS.release().unwrap();
/// SLOTS.release().unwrap();
/// assert!(SLOTS.release().is_err(), "bounded at 2");
/// assert_eq!(SLOTS.value(), 2);
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawSemaphore {
    /// `count << 1 | SLEEPERS`: the futex word.
    word: AtomicU32,
    /// Threads in the slow path of an acquire, which may sleep.
    sleepers: AtomicU32,
    /// The bound `release` enforces; fixed at creation (atomic only
    /// because another process could write it).
    max: AtomicU32,
    cell: WaitCell,
}

impl RawSemaphore {
    loom_const_fn! {
        /// A semaphore holding `value` units that `release` never raises
        /// above `max`.
        ///
        /// # Panics
        ///
        /// If `value > max` or `max > SEM_VALUE_MAX`.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::raw::{RawSemaphore, SEM_VALUE_MAX};
        /// use shmsync::Shared;
        ///
        /// static BOUNDED: RawSemaphore = RawSemaphore::new(2, 2); // BoundedSemaphore(2)
        /// let shared = Shared::new(RawSemaphore::new(2, SEM_VALUE_MAX))?; // Semaphore(2)
        /// assert_eq!((BOUNDED.value(), BOUNDED.max()), (2, 2));
        /// assert_eq!((shared.value(), shared.max()), (2, SEM_VALUE_MAX));
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        pub fn new(value: u32, max: u32) -> RawSemaphore {
            assert!(max <= SEM_VALUE_MAX, "semaphore bound above SEM_VALUE_MAX");
            assert!(value <= max, "semaphore value above its bound");
            RawSemaphore {
                word: AtomicU32::new(value << 1),
                sleepers: AtomicU32::new(0),
                max: AtomicU32::new(max),
                cell: WaitCell::new(),
            }
        }
    }

    /// Takes a unit if one is available; never sleeps.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    ///
    /// let sem = RawSemaphore::new(1, 1);
    /// assert!(sem.try_acquire());
    /// assert!(!sem.try_acquire(), "no unit left");
    /// assert_eq!(sem.value(), 0);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> bool {
        let mut word = self.word.load(Ordering::Relaxed);
        while units(word) > 0 {
            // Acquire: pairs with the Release of the release that made this
            // unit, so what the releaser wrote before is visible.
            match self.word.compare_exchange_weak(
                word,
                word - ONE,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => word = now,
            }
        }
        false
    }

    /// Takes a unit, sleeping until one is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    ///
    /// let sem = RawSemaphore::new(0, 1);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| sem.release());
    ///     sem.acquire(); // sleeps until the thread's release
    /// });
    /// assert_eq!(sem.value(), 0);
    /// ```
    #[inline]
    pub fn acquire(&self) {
        if !self.try_acquire() {
            let acquired = self.acquire_slow(Deadline::NEVER);
            debug_assert!(acquired, "a wait without deadline timed out");
        }
    }

    /// Takes a unit, giving up at `deadline`; returns whether it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let sem = RawSemaphore::new(1, 1);
    /// let deadline = Deadline::after(Duration::from_millis(5));
    /// assert!(sem.acquire_until(deadline));
    /// assert!(!sem.acquire_until(deadline), "nobody released one in time");
    /// assert!(deadline.has_passed());
    /// ```
    #[inline]
    pub fn acquire_until(&self, deadline: Deadline) -> bool {
        self.try_acquire() || self.acquire_slow(deadline)
    }

    /// Takes a unit, giving up after `timeout` (zero: one try); returns
    /// whether it did.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// let sem = Shared::new(RawSemaphore::new(0, 1))?;
    /// assert!(!sem.acquire_for(Duration::ZERO));
    /// let child = Process::spawn({
    ///     let sem = sem.clone();
    ///     move || assert_eq!(sem.release(), Ok(()))
    /// })?;
    /// assert!(sem.acquire_for(Duration::from_secs(5)), "the child's unit");
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn acquire_for(&self, timeout: Duration) -> bool {
        self.try_acquire() || self.acquire_slow(Deadline::after(timeout))
    }

    /// Gives a unit back, waking a sleeper if there may be one.
    ///
    /// # Errors
    ///
    /// [`ReleasedTooManyTimes`] if the count is at its bound already.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    ///
    /// let sem = RawSemaphore::new(0, 2);
    /// sem.release()?;
    /// sem.release()?;
    /// assert_eq!(sem.value(), 2);
    /// assert!(sem.release().is_err(), "bounded at 2");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), ReleasedTooManyTimes> {
        let max = self.max();
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if units(word) >= max {
                return Err(ReleasedTooManyTimes { max });
            }
            // Release: pairs with the Acquire of the acquisition that takes
            // this unit.
            match self.word.compare_exchange_weak(
                word,
                word + ONE,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        if word & SLEEPERS != 0 {
            self.cell.wake_one(&self.word);
        }
        Ok(())
    }

    /// Units available now (a snapshot): Python's `get_value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    ///
    /// let sem = RawSemaphore::new(3, 3);
    /// assert_eq!(sem.value(), 3);
    /// sem.acquire();
    /// assert_eq!(sem.value(), 2);
    /// ```
    #[inline]
    pub fn value(&self) -> u32 {
        units(self.word.load(Ordering::Relaxed))
    }

    /// The bound `release` enforces.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    ///
    /// let sem = RawSemaphore::new(0, 4);
    /// assert_eq!(sem.max(), 4);
    /// assert_eq!(sem.value(), 0, "the bound is not the count");
    /// ```
    #[inline]
    pub fn max(&self) -> u32 {
        // Relaxed: written once, before the semaphore was shared; clamped,
        // as another process could have written anything.
        self.max.load(Ordering::Relaxed).min(SEM_VALUE_MAX)
    }

    #[cold]
    fn acquire_slow(&self, deadline: Deadline) -> bool {
        if deadline.has_passed() {
            return self.try_acquire();
        }
        if shim::spin_until(deadline, Poll::Eager, || {
            units(self.word.load(Ordering::Relaxed)) > 0
        }) && self.try_acquire()
        {
            return true;
        }
        // Relaxed: only sleepers read this count, in `leave_sleepers`.
        self.sleepers.fetch_add(1, Ordering::Relaxed);
        let acquired = loop {
            if self.try_acquire() {
                break true;
            }
            let ready = |word: u32| units(word) > 0;
            if sleep_flagged(&self.cell, &self.word, SLEEPERS, deadline, ready)
                == Some(Wake::TimedOut)
                && deadline.has_passed()
            {
                // A unit released at the last moment still counts.
                break self.try_acquire();
            }
        };
        self.leave_sleepers();
        acquired
    }

    /// Leaves the sleepers; the last one out clears the `SLEEPERS` bit.
    ///
    /// The guess "I am the last" is made before the departure is counted.
    /// If a sleeper arrived in between, it may have gone to sleep relying on
    /// the bit this thread just cleared: set it again, and wake one sleeper
    /// if there are units it could take.
    fn leave_sleepers(&self) {
        let guess = self.sleepers.load(Ordering::Relaxed);
        if guess == 1 {
            // Acquire: orders the guess before the departure below.
            self.word.fetch_and(!SLEEPERS, Ordering::Acquire);
        }
        // Release: the clearing above happens before a later arrival reads
        // this count.
        let before = self.sleepers.fetch_sub(1, Ordering::Release);
        if guess == 1 && before > 1 {
            let word = self.word.fetch_or(SLEEPERS, Ordering::Relaxed);
            if units(word) > 0 {
                self.cell.wake_one(&self.word);
            }
        }
    }
}
