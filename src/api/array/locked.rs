//! `Array<T>`: Python's `multiprocessing.Array`, `len` elements in shared
//! memory behind a lock, and its guard.

use super::bounds::{check_index, check_length, check_range, ArrayError};
use super::{ArrayHead, Buffer};
use crate::api::error::Error;
use crate::api::lock::{Lock, LockGuard};
use crate::api::outcome::OwnerDied;
use crate::api::value::claim::{Access, AccessError, Claim, Denied};
use crate::raw::{Acquired, RawLock};
use crate::shm::{Segment, Shared, ShmSafe};
use bytemuck::Pod;
use std::convert::Infallible;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut, RangeBounds};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header of an [`Array`]: its own lock (unused when it shares
/// another's), its claim word (used only then) and its length, on the
/// first elements' cache line, as a [`Value`](crate::Value)'s are.
#[repr(C)]
pub(crate) struct LockedHead<T> {
    lock: RawLock,
    claim: Claim,
    len: AtomicU64,
    _elements: PhantomData<fn() -> T>,
}

// SAFETY: a RawLock and two atomics: no pointers, any bytes valid (the
// length is only compared, never trusted), no Drop.
unsafe impl<T: Pod> ShmSafe for LockedHead<T> {}

impl<T: Pod> ArrayHead for LockedHead<T> {
    fn new(len: u64) -> Self {
        LockedHead {
            lock: RawLock::new(),
            claim: Claim::new(),
            len: AtomicU64::new(len),
            _elements: PhantomData,
        }
    }

    fn recorded_len(&self) -> u64 {
        // Relaxed: written before the object was published (by the
        // mapping's creation or the segment's directory protocol).
        self.len.load(Ordering::Relaxed)
    }
}

/// `len` elements of `T` in shared memory, guarded by a lock: Python's
/// `multiprocessing.Array`.
///
/// Every access copies under the lock, as Python's does: [`get`](Array::get)
/// and [`set`](Array::set) one element, [`read_range`](Array::read_range),
/// [`to_vec`](Array::to_vec) and [`write_range`](Array::write_range) a
/// range; [`get_lock`](Array::get_lock) returns a guard that derefs to
/// `&mut [T]`. An index or range outside the array is an error naming it
/// and the length (checked before the lock is taken), never a panic. The
/// lock behaves as a [`Value`](crate::Value)'s: not recursive
/// ([`AccessError::AlreadyHeld`]), owner death reported with the guard
/// ([`AccessError::OwnerDied`]), shareable ([`Array::with_lock`]).
///
/// `Array<u8>` is also Python's `Array('c', n)`, with
/// [`value`](Array::value) and [`raw`](Array::raw).
///
/// # Examples
///
/// A child computes prefix sums in place; the parent reads them:
///
/// ```
/// use shmsync::{Array, Process};
///
/// let a = Array::from_slice(&[1u64, 2, 3, 4])?;
/// let child = Process::spawn(|| {
///     let mut guard = a.get_lock().unwrap();
///     for i in 1..guard.len() {
///         guard[i] += guard[i - 1];
///     }
/// })?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(a.to_vec(..)?, [1, 3, 6, 10]);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Array<T: Pod> {
    buf: Buffer<LockedHead<T>, T>,
    /// The lock this array shares with others, if it was made with one;
    /// otherwise the header's own lock guards it.
    shared_lock: Option<Shared<RawLock>>,
}

impl<T: Pod> Array<T> {
    /// `len` zeroed elements in their own shared mapping, with a lock of
    /// their own: Python's `Array(t, n)`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `len` elements do not fit the address
    /// space; [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::<f64>::new(3)?;
    /// assert_eq!(a.to_vec(..)?, [0.0; 3]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<Array<T>, Error> {
        Ok(Array {
            buf: Buffer::new(len)?,
            shared_lock: None,
        })
    }

    /// A copy of `values` in its own shared mapping: Python's
    /// `Array(t, sequence)`.
    ///
    /// # Errors
    ///
    /// As for [`new`](Array::new).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::from_slice(&[3i32, 1, 2])?;
    /// assert_eq!(a.len(), 3);
    /// assert_eq!(a.get(0)?, 3);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<Array<T>, Error> {
        let array = Array::new(values.len())?;
        // SAFETY: the mapping is fresh, so nobody else uses it; it holds
        // `values.len()` elements, aligned for T, and does not overlap
        // `values`.
        unsafe {
            std::ptr::copy_nonoverlapping(
                values.as_ptr(),
                array.buf.elements().as_ptr(),
                values.len(),
            );
        }
        Ok(array)
    }

    /// `len` zeroed elements in their own shared mapping, guarded by
    /// `lock`, which other arrays and values may share: Python's
    /// `Array(t, n, lock=lock)`.
    ///
    /// # Errors
    ///
    /// As for [`new`](Array::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Array, Lock, Value};
    ///
    /// let lock = Lock::new()?;
    /// let items = Array::<u32>::with_lock(8, &lock)?;
    /// let count = Value::with_lock(0usize, &lock)?;
    /// {
    ///     let held = lock.lock()?;
    ///     let mut n = count.borrow_under(&held)?;
    ///     items.borrow_under(&held)?[*n] = 42;
    ///     *n += 1;
    /// }
    /// assert_eq!((items.get(0)?, count.get()?), (42, 1));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn with_lock(len: usize, lock: &Lock) -> Result<Array<T>, Error> {
        Ok(Array {
            buf: Buffer::new(len)?,
            shared_lock: Some(lock.raw().clone()),
        })
    }

    /// The array called `name` in `segment`, made of `len` zeroed elements
    /// (and a lock of its own) by the first process that asks.
    ///
    /// The length is part of the object's type there: opening the name
    /// with another `len` (or another `T`, or as another kind of array) is
    /// an error.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`]:
    /// [`SegmentError::TypeMismatch`](crate::SegmentError::TypeMismatch)
    /// for another length or type, no room left, a corrupted segment;
    /// [`Error::InvalidArgument`] as for [`new`](Array::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Array, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let a = Array::<u16>::open_in(&segment, "slots", 16)?;
    /// a.set(3, 7)?;
    /// assert_eq!(Array::<u16>::open_in(&segment, "slots", 16)?.get(3)?, 7);
    /// assert!(Array::<u16>::open_in(&segment, "slots", 17).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, len: usize) -> Result<Array<T>, Error> {
        Ok(Array {
            buf: Buffer::open_in(segment, name, len)?,
            shared_lock: None,
        })
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(shmsync::Array::<u8>::new(5)?.len(), 5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.buf.len
    }

    /// Whether the array has no elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(shmsync::Array::<u8>::new(0)?.is_empty());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buf.len == 0
    }

    /// Python's `a[index]`: a copy of one element, read under the lock.
    ///
    /// # Errors
    ///
    /// [`BoundsError::OutOfRange`](super::BoundsError::OutOfRange) naming
    /// the index and the length; otherwise as for
    /// [`Value::get`](crate::Value::get): on `OwnerDied` the element was
    /// read and the error's guard (the whole array) holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::from_slice(&[10u8, 20])?;
    /// assert_eq!(a.get(1)?, 20);
    /// assert!(a.get(2).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub fn get(&self, index: usize) -> Result<T, ArrayError<ArrayGuard<'_, T>>> {
        check_index(index, self.len())?;
        let (guard, acquired) = self.guard()?;
        let value = guard[index];
        settle(guard, acquired)?;
        Ok(value)
    }

    /// Python's `a[index] = value`: stores one element under the lock.
    ///
    /// # Errors
    ///
    /// As for [`get`](Array::get); on `OwnerDied` the element was stored.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::<i32>::new(2)?;
    /// a.set(1, -7)?;
    /// assert_eq!(a.to_vec(..)?, [0, -7]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub fn set(&self, index: usize, value: T) -> Result<(), ArrayError<ArrayGuard<'_, T>>> {
        check_index(index, self.len())?;
        let (mut guard, acquired) = self.guard()?;
        guard[index] = value;
        settle(guard, acquired)
    }

    /// Copies the elements in `range` into `out` under the lock: Python's
    /// `a[start:end]`, into a buffer of yours.
    ///
    /// # Errors
    ///
    /// [`BoundsError::RangeOutOfRange`](super::BoundsError::RangeOutOfRange)
    /// if `range` does not lie within the array;
    /// [`BoundsError::LengthMismatch`](super::BoundsError::LengthMismatch)
    /// naming both lengths if `out` is not as long as `range`; otherwise as
    /// for [`get`](Array::get) (on `OwnerDied`, `out` was filled).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::from_slice(&[1u32, 2, 3, 4])?;
    /// let mut out = [0; 2];
    /// a.read_range(1..3, &mut out)?;
    /// assert_eq!(out, [2, 3]);
    /// assert!(a.read_range(3..5, &mut out).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn read_range(
        &self,
        range: impl RangeBounds<usize>,
        out: &mut [T],
    ) -> Result<(), ArrayError<ArrayGuard<'_, T>>> {
        let range = check_range(range, self.len())?;
        check_length(&range, out.len())?;
        let (guard, acquired) = self.guard()?;
        out.copy_from_slice(&guard[range]);
        settle(guard, acquired)
    }

    /// The elements in `range`, copied under the lock into a new `Vec`
    /// (`..` for all of them).
    ///
    /// # Errors
    ///
    /// As for [`read_range`](Array::read_range), without the length
    /// mismatch.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::from_slice(b"hello")?;
    /// assert_eq!(a.to_vec(1..=2)?, b"el");
    /// assert_eq!(a.to_vec(..)?, b"hello");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn to_vec(
        &self,
        range: impl RangeBounds<usize>,
    ) -> Result<Vec<T>, ArrayError<ArrayGuard<'_, T>>> {
        let range = check_range(range, self.len())?;
        let (guard, acquired) = self.guard()?;
        let values = guard[range].to_vec();
        settle(guard, acquired)?;
        Ok(values)
    }

    /// Copies `values` into the elements in `range` under the lock:
    /// Python's `a[start:end] = values`.
    ///
    /// # Errors
    ///
    /// As for [`read_range`](Array::read_range) (on `OwnerDied`, the
    /// values were stored).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ArrayError, BoundsError};
    ///
    /// let a = shmsync::Array::<u8>::new(4)?;
    /// a.write_range(2.., &[7, 8])?;
    /// assert_eq!(a.to_vec(..)?, [0, 0, 7, 8]);
    /// assert!(matches!(
    ///     a.write_range(..3, &[1]),
    ///     Err(ArrayError::Bounds(BoundsError::LengthMismatch { expected: 3, found: 1 }))
    /// ));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn write_range(
        &self,
        range: impl RangeBounds<usize>,
        values: &[T],
    ) -> Result<(), ArrayError<ArrayGuard<'_, T>>> {
        let range = check_range(range, self.len())?;
        check_length(&range, values.len())?;
        let (mut guard, acquired) = self.guard()?;
        guard[range].copy_from_slice(values);
        settle(guard, acquired)
    }

    /// Takes the lock, waiting as long as it takes, and returns a guard
    /// that derefs to the elements (`&mut [T]`) and gives the lock back
    /// when dropped.
    ///
    /// # Errors
    ///
    /// As for [`Value::get_lock`](crate::Value::get_lock).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::<u32>::new(4)?;
    /// {
    ///     let mut guard = a.get_lock()?;
    ///     guard.fill(9);
    ///     guard[0] = 1;
    /// }
    /// assert_eq!(a.to_vec(..)?, [1, 9, 9, 9]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    pub fn get_lock(&self) -> Result<ArrayGuard<'_, T>, AccessError<ArrayGuard<'_, T>>> {
        let (guard, acquired) = self.guard()?;
        match acquired {
            Acquired::Clean => Ok(guard),
            Acquired::OwnerDied => Err(AccessError::OwnerDied(OwnerDied::new(guard))),
        }
    }

    /// A guard of this array under a hold the calling thread already has
    /// of its [`Lock`] (`held`), as
    /// [`Value::borrow_under`](crate::Value::borrow_under).
    ///
    /// # Errors
    ///
    /// As for [`Value::borrow_under`](crate::Value::borrow_under).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Array, Lock};
    ///
    /// let lock = Lock::new()?;
    /// let a = Array::<u8>::with_lock(2, &lock)?;
    /// let held = lock.lock()?;
    /// a.borrow_under(&held)?[1] = 5;
    /// drop(held);
    /// assert_eq!(a.get(1)?, 5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn borrow_under<'a>(
        &'a self,
        held: &'a LockGuard<'_>,
    ) -> Result<ArrayGuard<'a, T>, AccessError<Infallible>> {
        let _ = held;
        let (lock, claim) = self.locking();
        let access = Access::under(lock, claim)?;
        Ok(self.wrap(access))
    }

    /// Whether anyone holds this array's lock (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::<u8>::new(1)?;
    /// assert!(!a.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw_lock().is_locked()
    }

    /// The lock guarding the elements: the shared one, or the header's own.
    #[inline]
    fn raw_lock(&self) -> &RawLock {
        self.locking().0
    }

    /// The lock guarding the elements, and the claim if that lock is a
    /// shared [`Lock`], which anyone may release (see `claim.rs`).
    #[inline]
    fn locking(&self) -> (&RawLock, Option<&Claim>) {
        let head = self.buf.head();
        match &self.shared_lock {
            Some(lock) => (lock, Some(&head.claim)),
            None => (&head.lock, None),
        }
    }

    /// The lock and the claim, as a guard, and how the lock was taken.
    // Always, as `Access::lock` (see there): left to itself the compiler
    // keeps this out of line.
    #[inline(always)]
    pub(super) fn guard(&self) -> Result<(ArrayGuard<'_, T>, Acquired), Denied> {
        let (lock, claim) = self.locking();
        let (access, acquired) = Access::lock(lock, claim)?;
        Ok((self.wrap(access), acquired))
    }

    fn wrap<'a>(&'a self, access: Access<'a>) -> ArrayGuard<'a, T> {
        ArrayGuard {
            access,
            elements: self.buf.elements(),
            len: self.buf.len,
            _elements: PhantomData,
        }
    }
}

/// `Ok` after a clean acquisition; the guard inside `OwnerDied` otherwise.
pub(super) fn settle<G>(guard: G, acquired: Acquired) -> Result<(), ArrayError<G>> {
    match acquired {
        Acquired::Clean => Ok(()),
        Acquired::OwnerDied => Err(ArrayError::Access(AccessError::OwnerDied(OwnerDied::new(
            guard,
        )))),
    }
}

impl<T: Pod> Clone for Array<T> {
    fn clone(&self) -> Self {
        Array {
            buf: self.buf.clone(),
            shared_lock: self.shared_lock.clone(),
        }
    }
}

impl<T: Pod> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("len", &self.len())
            .field("locked", &self.is_locked())
            .field("shared_lock", &self.shared_lock.is_some())
            .finish_non_exhaustive()
    }
}

/// Holds an [`Array`]'s lock and lends out its elements (`&[T]`,
/// `&mut [T]`); gives the lock back when dropped: its own hold, and nothing
/// else.
///
/// No other access to the elements is made while the guard lives, even if
/// someone releases a shared lock meanwhile. Not `Send`.
///
/// # Panics
///
/// Lending the elements out panics in a forked child that captured the
/// guard from its parent (a [`Process`](crate::Process) closure): the hold
/// is the parent's. Dropped there, the copy gives nothing back.
///
/// That check runs at every lending, each index of a loop included, and
/// keeps such a loop from being vectorised (64 increments of `u32`s:
/// 42-47 ns instead of 15). Take the slice once for a loop over many
/// elements: `let elements = &mut *guard;`.
///
/// # Examples
///
/// ```
/// let a = shmsync::Array::from_slice(&[3u8, 1, 2])?;
/// let mut guard = a.get_lock()?;
/// guard.sort();
/// assert_eq!(&guard[..], [1, 2, 3]);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct ArrayGuard<'a, T: Pod> {
    access: Access<'a>,
    elements: NonNull<T>,
    len: usize,
    _elements: PhantomData<&'a mut [T]>,
}

// SAFETY: a shared guard only lends `&[T]` to other threads, which needs
// T: Sync; `mark_consistent` checks the calling thread.
unsafe impl<T: Pod + Sync> Sync for ArrayGuard<'_, T> {}

impl<T: Pod> ArrayGuard<'_, T> {
    /// Declares the elements repaired after [`AccessError::OwnerDied`], as
    /// [`ValueGuard::mark_consistent`](crate::ValueGuard::mark_consistent).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::Array::<u8>::new(1)?;
    /// let guard = a.get_lock()?;
    /// guard.mark_consistent();
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
    /// let v = shmsync::Array::<u8>::new(1)?;
    /// assert!(!v.get_lock()?.is_inconsistent());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_inconsistent(&self) -> bool {
        self.access.is_inconsistent()
    }
}

impl<T: Pod> Deref for ArrayGuard<'_, T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        self.access.check("ArrayGuard");
        // SAFETY: `elements` is valid for `len` elements (this process's
        // mapping, which the guard's borrow keeps), aligned for T; the
        // guard holds the claim, so no other access is made while it
        // lives (and this process is the holder: `check` refuses a forked
        // copy); any bytes are valid Pod Ts.
        unsafe { std::slice::from_raw_parts(self.elements.as_ptr(), self.len) }
    }
}

impl<T: Pod> DerefMut for ArrayGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut [T] {
        self.access.check("ArrayGuard");
        // SAFETY: as in `deref`; `&mut self` makes this the only slice lent
        // out by this guard, and the claim the only guard.
        unsafe { std::slice::from_raw_parts_mut(self.elements.as_ptr(), self.len) }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for ArrayGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ArrayGuard").field(&&**self).finish()
    }
}
