//! `Semaphore` and `BoundedSemaphore`: Python's counting semaphores as
//! handles to a [`RawSemaphore`] in shared memory.

use super::error::{mismatch, opened_as, Error};
use crate::raw::{RawSemaphore, ReleasedTooManyTimes, SEM_VALUE_MAX};
use crate::shm::{Segment, Shared};
use crate::sys::MadeIn;
use std::fmt;
use std::ops::Deref;
use std::time::Duration;

/// A counting semaphore shared between processes: Python's
/// `multiprocessing.Semaphore`.
///
/// `acquire` takes a unit, waiting while there is none; `release` gives one
/// back. The count never exceeds `SEM_VALUE_MAX`.
///
/// # Examples
///
/// ```
/// use shmsync::{Process, Semaphore};
/// use std::time::Duration;
///
/// let sem = Semaphore::new(0)?;
/// let child = Process::spawn(|| sem.release().unwrap())?;
/// assert!(sem.acquire(true, Some(Duration::from_secs(10))));
/// assert_eq!(child.join()?, 0);
/// assert_eq!(sem.get_value(), 0);
/// assert!(!sem.acquire(false, None));
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    raw: Shared<RawSemaphore>,
}

impl Semaphore {
    /// A semaphore holding `value` units, in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `value` exceeds `SEM_VALUE_MAX`;
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Error, Semaphore, SEM_VALUE_MAX};
    ///
    /// let sem = Semaphore::new(2)?;
    /// assert_eq!(sem.get_value(), 2);
    /// let too_many = Semaphore::new(SEM_VALUE_MAX + 1);
    /// assert!(matches!(too_many, Err(Error::InvalidArgument(_))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(value: u32) -> Result<Semaphore, Error> {
        Semaphore::with_bound(value, SEM_VALUE_MAX)
    }

    fn with_bound(value: u32, max: u32) -> Result<Semaphore, Error> {
        check_value(value)?;
        Ok(Semaphore {
            raw: Shared::new(RawSemaphore::new(value, max))?,
        })
    }

    /// The semaphore called `name` in `segment`, made with `value` units
    /// if no process has made it yet: how unrelated processes share a
    /// semaphore. A process that finds it made takes it as it is (`value`
    /// unused), as [`Value::open_in`](crate::Value::open_in) does.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `value` exceeds `SEM_VALUE_MAX`;
    /// [`Error::Segment`] as for [`Segment::get_or_init`], with
    /// [`SegmentError::TypeMismatch`] if the name holds a
    /// [`BoundedSemaphore`] or another type.
    ///
    /// [`SegmentError::TypeMismatch`]: crate::SegmentError::TypeMismatch
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{BoundedSemaphore, Segment, Semaphore};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let slots = Semaphore::open_in(&segment, "slots", 3)?; // each process does this
    /// assert!(slots.acquire(false, None));
    /// let again = Semaphore::open_in(&segment, "slots", 3)?; // found: 3 unused
    /// assert_eq!(again.get_value(), 2);
    /// assert!(BoundedSemaphore::open_in(&segment, "slots", 3).is_err(), "not bounded");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, value: u32) -> Result<Semaphore, Error> {
        Semaphore::in_segment(segment, name, value, SEM_VALUE_MAX, "shmsync::Semaphore")
    }

    /// The semaphore called `name` in `segment`, made with `value` units
    /// and bound `max` if missing; a found one must have that bound.
    fn in_segment(
        segment: &Segment,
        name: &str,
        value: u32,
        max: u32,
        requested: &'static str,
    ) -> Result<Semaphore, Error> {
        check_value(value)?;
        let raw = segment
            .get_or_init(name, || RawSemaphore::new(value, max))
            .map_err(opened_as(requested))?;
        if raw.max() != max {
            return Err(mismatch(name, requested));
        }
        Ok(Semaphore { raw })
    }

    /// Wraps a semaphore that already lives in shared memory, e.g. one
    /// found in a [`Segment`](crate::Segment). Its bound is the raw
    /// semaphore's own (the `max` it was made with).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    /// use shmsync::{Segment, Semaphore, SEM_VALUE_MAX};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let raw = segment.get_or_init("slots", || RawSemaphore::new(3, SEM_VALUE_MAX))?;
    /// let slots = Semaphore::from_shared(raw);
    /// assert!(slots.acquire(false, None));
    /// assert_eq!(slots.get_value(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_shared(raw: Shared<RawSemaphore>) -> Semaphore {
        Semaphore { raw }
    }

    /// Python's `acquire(block=True, timeout=None)`: takes a unit and
    /// returns true, or returns false if `block` is false and none is
    /// available, or `timeout` ran out first (a zero timeout is one try).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = shmsync::Semaphore::new(1)?;
    /// assert!(sem.acquire(true, None), "took the unit");
    /// assert!(!sem.acquire(false, None), "none left: no wait");
    /// assert!(!sem.acquire(true, Some(Duration::from_millis(5))), "none came");
    /// sem.release()?;
    /// assert!(sem.acquire(true, Some(Duration::ZERO)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> bool {
        match (block, timeout) {
            (false, _) => self.raw.try_acquire(),
            (true, None) => {
                self.raw.acquire();
                true
            }
            (true, Some(timeout)) => self.raw.acquire_for(timeout),
        }
    }

    /// Gives a unit back, waking a waiter.
    ///
    /// # Errors
    ///
    /// [`ReleasedTooManyTimes`] if the count is at its bound (for a
    /// [`BoundedSemaphore`], its initial value).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{BoundedSemaphore, ReleasedTooManyTimes, Semaphore};
    ///
    /// let sem = Semaphore::new(0)?;
    /// sem.release()?;
    /// sem.release()?; // a plain semaphore may go above its initial value
    /// assert_eq!(sem.get_value(), 2);
    /// let bounded = BoundedSemaphore::new(1)?;
    /// assert_eq!(bounded.release(), Err(ReleasedTooManyTimes { max: 1 }));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), ReleasedTooManyTimes> {
        self.raw.release()
    }

    /// Units available now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = shmsync::Semaphore::new(3)?;
    /// let _unit = sem.access();
    /// assert_eq!(sem.get_value(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_value(&self) -> u32 {
        self.raw.value()
    }

    /// Takes a unit, waiting as long as it takes; the guard gives it back.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = shmsync::Semaphore::new(1)?;
    /// {
    ///     let _unit = sem.access();
    ///     assert_eq!(sem.get_value(), 0);
    /// }
    /// assert_eq!(sem.get_value(), 1, "the guard gave it back");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn access(&self) -> SemaphoreGuard<'_> {
        self.raw.acquire();
        SemaphoreGuard {
            raw: &self.raw,
            made_in: MadeIn::here(),
        }
    }

    /// Takes a unit if one is available now; the guard gives it back.
    ///
    /// # Examples
    ///
    /// ```
    /// let slots = shmsync::Semaphore::new(1)?;
    /// let first = slots.try_access().expect("one unit");
    /// assert!(slots.try_access().is_none());
    /// drop(first);
    /// assert!(slots.try_access().is_some());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn try_access(&self) -> Option<SemaphoreGuard<'_>> {
        // Built only on success: a guard releases its unit when dropped.
        self.raw.try_acquire().then(|| SemaphoreGuard {
            raw: &self.raw,
            made_in: MadeIn::here(),
        })
    }

    /// Takes a unit if one comes within `timeout`; the guard gives it back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = shmsync::Semaphore::new(1)?;
    /// let unit = sem.try_access_for(Duration::from_millis(5)).expect("one unit is free");
    /// assert!(sem.try_access_for(Duration::from_millis(5)).is_none(), "none came");
    /// drop(unit);
    /// assert!(sem.try_access_for(Duration::ZERO).is_some());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn try_access_for(&self, timeout: Duration) -> Option<SemaphoreGuard<'_>> {
        // Built only on success: a guard releases its unit when dropped.
        self.raw.acquire_for(timeout).then(|| SemaphoreGuard {
            raw: &self.raw,
            made_in: MadeIn::here(),
        })
    }

    /// The raw semaphore in shared memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{BoundedSemaphore, Semaphore, SEM_VALUE_MAX};
    ///
    /// assert_eq!(Semaphore::new(2)?.raw().max(), SEM_VALUE_MAX);
    /// let bounded = BoundedSemaphore::new(2)?;
    /// assert_eq!(bounded.raw().max(), 2);
    /// assert_eq!(bounded.raw().value(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn raw(&self) -> &Shared<RawSemaphore> {
        &self.raw
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("value", &self.raw.value())
            .field("max", &self.raw.max())
            .finish()
    }
}

/// Holds one unit of a semaphore; gives one back when dropped.
///
/// Units carry no identity, so there is nothing of anyone else's a guard
/// could give back: dropping it releases one unit, and never raises the
/// count above the semaphore's bound (if others released more than they
/// took, the guard's release is refused and the count stays at the bound).
/// A copy of the guard that a forked child captured (a
/// [`Process`](crate::Process) closure) gives nothing back there: the
/// parent's copy gives the unit back.
///
/// # Examples
///
/// ```
/// use shmsync::{BoundedSemaphore, SemaphoreGuard};
///
/// let sem = BoundedSemaphore::new(1)?;
/// let unit: SemaphoreGuard<'_> = sem.access();
/// sem.release()?; // someone gives back a unit they did not take
/// drop(unit); // would go above the bound: refused
/// assert_eq!(sem.get_value(), 1);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[must_use = "dropping the guard gives the unit back at once"]
pub struct SemaphoreGuard<'a> {
    raw: &'a RawSemaphore,
    /// The process that took the unit: a forked copy of the guard (one a
    /// `Process` closure captured) does not give it back a second time.
    made_in: MadeIn,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        if !self.made_in.is_here() {
            return;
        }
        // The guard took a unit, so there is room for it, unless someone
        // else released more than they took; then the bound holds anyway.
        let _ = self.raw.release();
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}

/// A semaphore that may not be released above its initial value: Python's
/// `multiprocessing.BoundedSemaphore`.
///
/// Everything else is [`Semaphore`]'s, through `Deref`.
///
/// # Examples
///
/// ```
/// use shmsync::BoundedSemaphore;
///
/// let pool = BoundedSemaphore::new(2)?;
/// {
///     let _a = pool.access();
///     let _b = pool.access();
///     assert!(!pool.acquire(false, None));
/// }
/// assert!(pool.release().is_err(), "released above 2");
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone)]
pub struct BoundedSemaphore(Semaphore);

/// Refuses a count no semaphore can hold.
fn check_value(value: u32) -> Result<(), Error> {
    if value > SEM_VALUE_MAX {
        return Err(Error::InvalidArgument(
            "semaphore value above SEM_VALUE_MAX (2^31 - 1)",
        ));
    }
    Ok(())
}

impl BoundedSemaphore {
    /// A semaphore holding `value` units that `release` never raises above
    /// `value`.
    ///
    /// # Errors
    ///
    /// As [`Semaphore::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = shmsync::BoundedSemaphore::new(2)?;
    /// assert!(sem.acquire(false, None));
    /// sem.release()?;
    /// assert!(sem.release().is_err(), "2 is the bound");
    /// assert_eq!(sem.get_value(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(value: u32) -> Result<BoundedSemaphore, Error> {
        Ok(BoundedSemaphore(Semaphore::with_bound(value, value)?))
    }

    /// Wraps a bounded semaphore that already lives in shared memory. The
    /// bound is the raw semaphore's own: make it with
    /// `RawSemaphore::new(value, value)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawSemaphore;
    /// use shmsync::{BoundedSemaphore, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let raw = segment.get_or_init("workers", || RawSemaphore::new(4, 4))?;
    /// let workers = BoundedSemaphore::from_shared(raw);
    /// assert_eq!(workers.get_value(), 4);
    /// assert!(workers.release().is_err(), "already at its bound");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_shared(raw: Shared<RawSemaphore>) -> BoundedSemaphore {
        BoundedSemaphore(Semaphore { raw })
    }

    /// The bounded semaphore called `name` in `segment`, made with
    /// `value` units (its bound) if no process has made it yet; a process
    /// that finds it made takes its count as it is. See
    /// [`Semaphore::open_in`].
    ///
    /// # Errors
    ///
    /// As [`Semaphore::open_in`], with [`SegmentError::TypeMismatch`] if
    /// the name holds a semaphore with another bound (or none). A bound of
    /// `SEM_VALUE_MAX` is no bound: such a semaphore is a [`Semaphore`],
    /// and opens as either.
    ///
    /// [`SegmentError::TypeMismatch`]: crate::SegmentError::TypeMismatch
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{BoundedSemaphore, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let workers = BoundedSemaphore::open_in(&segment, "workers", 4)?;
    /// assert!(workers.release().is_err(), "already at its bound");
    /// assert!(BoundedSemaphore::open_in(&segment, "workers", 8).is_err(), "another bound");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, value: u32) -> Result<BoundedSemaphore, Error> {
        let sem = Semaphore::in_segment(segment, name, value, value, "shmsync::BoundedSemaphore")?;
        Ok(BoundedSemaphore(sem))
    }
}

impl Deref for BoundedSemaphore {
    type Target = Semaphore;

    fn deref(&self) -> &Semaphore {
        &self.0
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BoundedSemaphore").field(&self.0).finish()
    }
}
