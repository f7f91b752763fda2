//! `Value<T>`: Python's `multiprocessing.Value`, a `T` in shared memory
//! behind a lock, and its guard.

use super::claim::{Access, AccessError, Claim, Denied};
use crate::api::error::Error;
use crate::api::lock::{Lock, LockGuard};
use crate::api::outcome::OwnerDied;
use crate::raw::{Acquired, RawLock};
use crate::shm::{Segment, Shared, ShmSafe};
use bytemuck::Pod;
use std::cell::UnsafeCell;
use std::convert::Infallible;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// What a [`Value`] keeps in shared memory: its own lock (unused when the
/// value shares another's), its claim word (used only then), and the
/// value, all on one cache line for a small `T`.
///
/// One line: with its own lock, a value is the lock and the data side by
/// side, as a pthread mutex beside its counter. (Two processes incrementing
/// one counter, in alternating runs on a 2-vCPU guest: 1.31–1.39× the
/// increments of such a pthread mutex with the lock on the counter's line,
/// 1.19–1.27× with the lock on lines of its own.)
#[repr(C)]
pub(crate) struct ValueCell<T> {
    lock: RawLock,
    claim: Claim,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only read or written through an `Access`, which
// makes it exclusive (see `claim.rs`); the lock and the claim are atomics.
unsafe impl<T: Pod> Sync for ValueCell<T> {}
// SAFETY: a RawLock, an atomic and a Pod value: no pointers that mean
// anything to this crate, any bytes a valid value, no Drop.
unsafe impl<T: Pod> ShmSafe for ValueCell<T> {}

impl<T: Pod> ValueCell<T> {
    fn new(value: T) -> ValueCell<T> {
        ValueCell {
            lock: RawLock::new(),
            claim: Claim::new(),
            value: UnsafeCell::new(value),
        }
    }
}

/// A `T` in shared memory, guarded by a lock: Python's
/// `multiprocessing.Value`.
///
/// [`get`](Value::get) and [`set`](Value::set) copy the value out and in
/// under the lock; [`get_lock`](Value::get_lock) returns a guard that holds
/// the lock and derefs to `&mut T`, for read-modify-write. `T` is any
/// [`Pod`] type: integers, floats, arrays of them, `#[repr(C)]` structs
/// deriving `Pod`. Children forked after `Value::new` share it; clones of
/// the handle refer to the same value; unrelated processes meet through a
/// [`Segment`] ([`Value::open_in`]).
///
/// The lock is not recursive: a thread that holds it and asks again gets
/// [`AccessError::AlreadyHeld`], never a deadlock. If a holder dies holding
/// it, the next access is made and reported as [`AccessError::OwnerDied`],
/// which carries the guard. Several values may share one [`Lock`]
/// ([`Value::with_lock`], Python's `lock=` argument).
///
/// Without a lock: [`RawValue`](crate::RawValue) (Python's `RawValue`),
/// or [`AtomicValue`](crate::AtomicValue) for integers and `bool`.
///
/// # Examples
///
/// Four processes add to one counter:
///
/// ```
/// use shmsync::{Process, Value};
///
/// let counter = Value::new(0u64)?;
/// let children = (0..4)
///     .map(|_| Process::spawn(|| {
///         for _ in 0..1000 {
///             *counter.get_lock().unwrap() += 1;
///         }
///     }))
///     .collect::<Result<Vec<_>, _>>()?;
/// for child in &children {
///     assert_eq!(child.join()?, 0);
/// }
/// assert_eq!(counter.get()?, 4000);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Value<T: Pod> {
    cell: Shared<ValueCell<T>>,
    /// The lock this value shares with others, if it was made with one;
    /// otherwise the cell's own lock guards it.
    shared_lock: Option<Shared<RawLock>>,
}

impl<T: Pod> Value<T> {
    /// `value` in its own shared mapping, with a lock of its own.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new(2.5f64)?;
    /// assert_eq!(v.get()?, 2.5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(value: T) -> Result<Value<T>, Error> {
        Ok(Value {
            cell: Shared::new(ValueCell::new(value))?,
            shared_lock: None,
        })
    }

    /// `value` in its own shared mapping, guarded by `lock`, which other
    /// values (and code holding the lock itself) may share: Python's
    /// `Value(type, value, lock=lock)`.
    ///
    /// A thread that holds `lock` (through any value's guard or the lock's
    /// own) gets [`AccessError::AlreadyHeld`] from every value it guards;
    /// to use several of them under one hold, take the lock and call
    /// [`borrow_under`](Value::borrow_under) on each.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AccessError, Lock, Value};
    ///
    /// let lock = Lock::new()?;
    /// let a = Value::with_lock(1i32, &lock)?;
    /// let b = Value::with_lock(2i32, &lock)?;
    /// let guard = a.get_lock()?;
    /// assert!(matches!(b.get_lock(), Err(AccessError::AlreadyHeld)));
    /// drop(guard);
    /// assert_eq!(b.get()?, 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn with_lock(value: T, lock: &Lock) -> Result<Value<T>, Error> {
        Ok(Value {
            cell: Shared::new(ValueCell::new(value))?,
            shared_lock: Some(lock.raw().clone()),
        })
    }

    /// The value called `name` in `segment`, made with `init` (and a lock
    /// of its own) by the first process that asks: every process that opens
    /// the same name gets the same value.
    ///
    /// The name's type is `Value<T>`: a segment object of another type (a
    /// `Value` of another `T`, a [`RawValue`](crate::RawValue)) is an
    /// error. A value in a segment always uses its own lock.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`] (another type
    /// under the name, no room left, a corrupted segment).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, Value};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let a = Value::open_in(&segment, "hits", 0u32)?;
    /// let b = Value::open_in(&segment, "hits", 99u32)?; // found: 99 unused
    /// a.set(7)?;
    /// assert_eq!(b.get()?, 7);
    /// assert!(Value::<u64>::open_in(&segment, "hits", 0).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, init: T) -> Result<Value<T>, Error> {
        Ok(Value {
            cell: segment.get_or_init(name, || ValueCell::new(init))?,
            shared_lock: None,
        })
    }

    /// Python's `v.value`: a copy of the value, read under the lock.
    ///
    /// # Errors
    ///
    /// [`AccessError::AlreadyHeld`] if the calling thread holds the lock;
    /// [`AccessError::Borrowed`] (a value made [`with_lock`](Value::with_lock)
    /// only) if a guard whose lock was released under it is still alive in
    /// another thread; [`AccessError::OwnerDied`] if a
    /// holder died holding the lock: the value was read, and the error's
    /// guard (which derefs to it) still holds the lock, so the caller can
    /// repair the value and [`mark_consistent`](ValueGuard::mark_consistent).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new([1u8, 2, 3])?;
    /// assert_eq!(v.get()?, [1, 2, 3]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub fn get(&self) -> Result<T, AccessError<ValueGuard<'_, T>>> {
        let (guard, acquired) = self.guard()?;
        let value = *guard;
        match acquired {
            Acquired::Clean => Ok(value),
            Acquired::OwnerDied => Err(AccessError::OwnerDied(OwnerDied::new(guard))),
        }
    }

    /// Python's `v.value = value`: stores `value` under the lock.
    ///
    /// # Errors
    ///
    /// As for [`get`](Value::get); on [`AccessError::OwnerDied`] the value
    /// was stored, and the error's guard still holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new(0i64)?;
    /// v.set(-5)?;
    /// assert_eq!(v.get()?, -5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub fn set(&self, value: T) -> Result<(), AccessError<ValueGuard<'_, T>>> {
        let (mut guard, acquired) = self.guard()?;
        *guard = value;
        match acquired {
            Acquired::Clean => Ok(()),
            Acquired::OwnerDied => Err(AccessError::OwnerDied(OwnerDied::new(guard))),
        }
    }

    /// Takes the lock, waiting as long as it takes, and returns a guard
    /// that derefs to the value (`&mut T`) and gives the lock back when
    /// dropped: Python's `with v.get_lock(): v.value += 1`.
    ///
    /// # Errors
    ///
    /// [`AccessError::AlreadyHeld`] at once if the calling thread holds the
    /// lock (the lock is not recursive); [`AccessError::Borrowed`] as for
    /// [`get`](Value::get); [`AccessError::OwnerDied`] carrying the guard
    /// if a holder died holding the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new(10u32)?;
    /// {
    ///     let mut guard = v.get_lock()?;
    ///     *guard *= 3;
    /// }
    /// assert_eq!(v.get()?, 30);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub fn get_lock(&self) -> Result<ValueGuard<'_, T>, AccessError<ValueGuard<'_, T>>> {
        let (guard, acquired) = self.guard()?;
        match acquired {
            Acquired::Clean => Ok(guard),
            Acquired::OwnerDied => Err(AccessError::OwnerDied(OwnerDied::new(guard))),
        }
    }

    /// A guard of this value under a hold the calling thread already has
    /// of its [`Lock`] (`held`): how one thread uses several values that
    /// share a lock at once. The guard gives the lock back never; `held`
    /// does. Drop the guard before a [`Condition::wait`] on that lock: the
    /// wait releases the lock, and until the guard is dropped every other
    /// thread's access fails with [`AccessError::Borrowed`] (see
    /// [`Condition::wait`]).
    ///
    /// [`Condition::wait`]: crate::Condition::wait
    ///
    /// # Errors
    ///
    /// [`AccessError::NotOwner`] if the calling thread does not hold this
    /// value's lock (`held` guards another lock, or this value has its
    /// own); [`AccessError::AlreadyHeld`] if the calling thread already
    /// has a guard of this value; [`AccessError::Borrowed`] as for
    /// [`get`](Value::get). Never `OwnerDied`: taking `held` reported that.
    ///
    /// # Examples
    ///
    /// A transfer between two values, atomic for every process that uses
    /// them:
    ///
    /// ```
    /// use shmsync::{Lock, Value};
    ///
    /// let lock = Lock::new()?;
    /// let from = Value::with_lock(100u64, &lock)?;
    /// let to = Value::with_lock(0u64, &lock)?;
    /// {
    ///     let held = lock.lock()?;
    ///     let mut a = from.borrow_under(&held)?;
    ///     let mut b = to.borrow_under(&held)?;
    ///     *a -= 30;
    ///     *b += 30;
    /// }
    /// assert_eq!((from.get()?, to.get()?), (70, 30));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn borrow_under<'a>(
        &'a self,
        held: &'a LockGuard<'_>,
    ) -> Result<ValueGuard<'a, T>, AccessError<Infallible>> {
        let _ = held;
        let (lock, claim) = self.locking();
        let access = Access::under(lock, claim)?;
        Ok(ValueGuard {
            access,
            value: &self.cell.value,
        })
    }

    /// Whether anyone holds this value's lock (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new(0u8)?;
    /// let guard = v.get_lock()?;
    /// assert!(v.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw_lock().is_locked()
    }

    /// The lock guarding the value: the shared one, or the cell's own.
    #[inline]
    fn raw_lock(&self) -> &RawLock {
        self.locking().0
    }

    /// The lock guarding the value, and the claim if that lock is a shared
    /// [`Lock`], which anyone may release (see `claim.rs`).
    #[inline]
    fn locking(&self) -> (&RawLock, Option<&Claim>) {
        match &self.shared_lock {
            Some(lock) => (lock, Some(&self.cell.claim)),
            None => (&self.cell.lock, None),
        }
    }

    /// The lock and the claim, as a guard, and how the lock was taken.
    // Always, as `Access::lock` (see there): left to itself the compiler
    // keeps this out of line.
    #[inline(always)]
    fn guard(&self) -> Result<(ValueGuard<'_, T>, Acquired), Denied> {
        let (lock, claim) = self.locking();
        let (access, acquired) = Access::lock(lock, claim)?;
        let guard = ValueGuard {
            access,
            value: &self.cell.value,
        };
        Ok((guard, acquired))
    }
}

impl<T: Pod> Clone for Value<T> {
    fn clone(&self) -> Self {
        Value {
            cell: self.cell.clone(),
            shared_lock: self.shared_lock.clone(),
        }
    }
}

impl<T: Pod> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Value")
            .field("locked", &self.is_locked())
            .field("shared_lock", &self.shared_lock.is_some())
            .finish_non_exhaustive()
    }
}

/// Holds a [`Value`]'s lock and lends out the value (`&T`, `&mut T`); gives
/// the lock back when dropped: its own hold, and nothing else.
///
/// No other access to the value is made while the guard lives, even if
/// someone releases a shared lock meanwhile (see
/// [`AccessError::Borrowed`]). Not `Send`: the lock records the thread that
/// took it.
///
/// # Panics
///
/// Lending the value out panics in a forked child that captured the guard
/// from its parent (a [`Process`](crate::Process) closure): the hold is the
/// parent's. Dropped there, the copy gives nothing back.
///
/// # Examples
///
/// ```
/// let v = shmsync::Value::new([1u32, 2])?;
/// let mut guard = v.get_lock()?;
/// guard[0] += guard[1];
/// assert_eq!(*guard, [3, 2]);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct ValueGuard<'a, T: Pod> {
    access: Access<'a>,
    value: &'a UnsafeCell<T>,
}

// SAFETY: a shared guard only lends `&T` to other threads, which needs
// T: Sync; `mark_consistent` checks the calling thread.
unsafe impl<T: Pod + Sync> Sync for ValueGuard<'_, T> {}

impl<T: Pod> ValueGuard<'_, T> {
    /// Declares the value repaired after [`AccessError::OwnerDied`]: later
    /// acquisitions of the lock are ordinary again. Does nothing if the
    /// guard's hold has ended. (For a guard from
    /// [`borrow_under`](Value::borrow_under): while the calling thread
    /// holds the lock.)
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new(0u32)?;
    /// let guard = v.get_lock()?;
    /// guard.mark_consistent(); // nothing to repair here
    /// assert!(!guard.is_inconsistent());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn mark_consistent(&self) {
        self.access.mark_consistent();
    }

    /// Whether a holder died holding the lock and nobody has marked it
    /// consistent since.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::Value::new(0u32)?;
    /// assert!(!v.get_lock()?.is_inconsistent());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_inconsistent(&self) -> bool {
        self.access.is_inconsistent()
    }
}

impl<T: Pod> Deref for ValueGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.access.check("ValueGuard");
        // SAFETY: the guard holds the claim (and the lock), so no other
        // access to the value is made while it lives (and this process is
        // the holder: `check` refuses a forked copy); the cell lives in a
        // mapping the guard's borrow keeps; any bytes are a valid Pod T.
        unsafe { &*self.value.get() }
    }
}

impl<T: Pod> DerefMut for ValueGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.access.check("ValueGuard");
        // SAFETY: as in `deref`; `&mut self` makes this the only reference
        // lent out by this guard, and the claim the only guard.
        unsafe { &mut *self.value.get() }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for ValueGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ValueGuard").field(&**self).finish()
    }
}
