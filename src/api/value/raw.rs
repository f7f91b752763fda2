//! `RawValue<T>`: Python's `multiprocessing.RawValue` (`Value(...,
//! lock=False)`), a `T` in shared memory without a lock.

use super::units;
use crate::api::error::Error;
use crate::shm::{Segment, Shared, ShmSafe};
use bytemuck::Pod;
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::{size_of, MaybeUninit};

/// The shared bytes of a [`RawValue`].
#[repr(transparent)]
pub(crate) struct RawCell<T>(UnsafeCell<T>);

// SAFETY: the value is only read and written through `units`, whole atomic
// units at a time, so concurrent use is a race on atomics, not a data race.
unsafe impl<T: Pod> Sync for RawCell<T> {}
// SAFETY: a Pod value: no pointers that mean anything to this crate, any
// bytes valid, no Drop.
unsafe impl<T: Pod> ShmSafe for RawCell<T> {}

/// A `T` in shared memory without a lock: Python's `RawValue` (or
/// `Value(..., lock=False)`).
///
/// Every read and write goes through word-sized atomic accesses (the
/// width of `T`'s alignment, at most 8 bytes), so processes that use it at
/// once race on atomics, never on plain memory. A `T` of one such word
/// (`u64`, `f32`, `[u16; 1]` ...: as wide as its alignment) is therefore
/// read and written whole. A wider `T`, an array of smaller words included
/// (`[u8; 2]` is two one-byte words), can be read **torn**: half of one
/// write and half of another, when a write lands while it is read. The
/// accesses are Relaxed: a
/// `RawValue` orders nothing else. Use a [`Value`](crate::Value) (locked)
/// or an [`AtomicValue`](crate::AtomicValue) when that matters.
///
/// # Examples
///
/// ```
/// use shmsync::{Process, RawValue};
///
/// let v = RawValue::new(0u64)?;
/// let child = Process::spawn(|| v.set(42))?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(v.get(), 42);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct RawValue<T: Pod> {
    cell: Shared<RawCell<T>>,
}

impl<T: Pod> RawValue<T> {
    /// `value` in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::RawValue::new(1.5f32)?;
    /// assert_eq!(v.get(), 1.5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(value: T) -> Result<RawValue<T>, Error> {
        Ok(RawValue {
            cell: Shared::new(RawCell(UnsafeCell::new(value)))?,
        })
    }

    /// The raw value called `name` in `segment`, made with `init` by the
    /// first process that asks.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`] (the name holds
    /// another type, for instance a locked [`Value`](crate::Value)).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{RawValue, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let a = RawValue::open_in(&segment, "flag", 0u32)?;
    /// a.set(1);
    /// assert_eq!(RawValue::<u32>::open_in(&segment, "flag", 0)?.get(), 1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, init: T) -> Result<RawValue<T>, Error> {
        Ok(RawValue {
            cell: segment.get_or_init(name, || RawCell(UnsafeCell::new(init)))?,
        })
    }

    /// A copy of the value (torn if wider than a word and written
    /// meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::RawValue::new([7u16; 4])?;
    /// assert_eq!(v.get(), [7; 4]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn get(&self) -> T {
        let mut out = MaybeUninit::<T>::uninit();
        // SAFETY: the cell holds a T, aligned for T and so for its unit;
        // size_of::<T>() is a multiple of the unit; the cell is only ever
        // accessed through `units` with T's unit; `out` has room for a T.
        unsafe {
            units::load(
                self.cell.0.get().cast_const().cast(),
                out.as_mut_ptr().cast(),
                size_of::<T>(),
                units::unit_of::<T>(),
            );
        }
        // SAFETY: every byte of `out` was written, and any bytes are a
        // valid Pod T.
        unsafe { out.assume_init() }
    }

    /// Stores `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let v = shmsync::RawValue::new(0i8)?;
    /// v.set(-1);
    /// assert_eq!(v.get(), -1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn set(&self, value: T) {
        // SAFETY: as in `get`, with the roles swapped: `value` is a T on
        // this stack, the cell has room for one.
        unsafe {
            units::store(
                (&value as *const T).cast(),
                self.cell.0.get().cast(),
                size_of::<T>(),
                units::unit_of::<T>(),
            );
        }
    }
}

impl<T: Pod> Clone for RawValue<T> {
    fn clone(&self) -> Self {
        RawValue {
            cell: self.cell.clone(),
        }
    }
}

impl<T: Pod + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}
