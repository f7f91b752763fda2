//! `RawArray<T>`: Python's `multiprocessing.RawArray`, `len` elements in
//! shared memory without a lock.

use super::bounds::{check_index, check_length, check_range, BoundsError};
use super::{ArrayHead, Buffer};
use crate::api::error::Error;
use crate::api::value::units;
use crate::shm::{Segment, ShmSafe};
use bytemuck::Pod;
use std::fmt;
use std::marker::PhantomData;
use std::mem::size_of;
use std::ops::{Range, RangeBounds};
use std::sync::atomic::{AtomicU64, Ordering};

/// The header of a [`RawArray`]: its length.
#[repr(C)]
pub(crate) struct RawHead<T> {
    len: AtomicU64,
    _elements: PhantomData<fn() -> T>,
}

// SAFETY: one atomic: no pointers, any bytes valid (the length is only
// compared), no Drop.
unsafe impl<T: Pod> ShmSafe for RawHead<T> {}

impl<T: Pod> ArrayHead for RawHead<T> {
    fn new(len: u64) -> Self {
        RawHead {
            len: AtomicU64::new(len),
            _elements: PhantomData,
        }
    }

    fn recorded_len(&self) -> u64 {
        // Relaxed: written before the object was published.
        self.len.load(Ordering::Relaxed)
    }
}

/// `len` elements of `T` in shared memory without a lock: Python's
/// `RawArray` (or `Array(..., lock=False)`).
///
/// Every read and write goes through word-sized atomic accesses (the width
/// of `T`'s alignment, at most 8 bytes), so processes that use it at once
/// race on atomics, never on plain memory. An element of one word is read
/// and written whole; a wider element, or a range, can be read **torn**
/// (partly before and partly after a write that lands meanwhile). The
/// accesses are Relaxed. An index or range outside the array is an error,
/// never a panic.
///
/// `RawArray<u8>` is also Python's `RawArray('c', n)`, with
/// [`value`](RawArray::value) and [`raw`](RawArray::raw).
///
/// # Examples
///
/// ```
/// use shmsync::{Process, RawArray};
///
/// let a = RawArray::<u32>::new(4)?;
/// let child = Process::spawn(|| a.write_range(.., &[1, 2, 3, 4]).unwrap())?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(a.to_vec(2..)?, [3, 4]);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct RawArray<T: Pod> {
    buf: Buffer<RawHead<T>, T>,
}

impl<T: Pod> RawArray<T> {
    /// `len` zeroed elements in their own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `len` elements do not fit the address
    /// space; [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::<i64>::new(2)?;
    /// assert_eq!(a.get(1)?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<RawArray<T>, Error> {
        Ok(RawArray {
            buf: Buffer::new(len)?,
        })
    }

    /// A copy of `values` in its own shared mapping.
    ///
    /// # Errors
    ///
    /// As for [`new`](RawArray::new).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::from_slice(&[1.0f32, 2.0])?;
    /// assert_eq!(a.get(1)?, 2.0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<RawArray<T>, Error> {
        let array = RawArray::new(values.len())?;
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

    /// The raw array called `name` in `segment`, made of `len` zeroed
    /// elements by the first process that asks. The length is part of the
    /// object's type there, as for [`Array::open_in`](crate::Array::open_in).
    ///
    /// # Errors
    ///
    /// As for [`Array::open_in`](crate::Array::open_in).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{RawArray, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// RawArray::<u8>::open_in(&segment, "buf", 8)?.set(0, 1)?;
    /// assert_eq!(RawArray::<u8>::open_in(&segment, "buf", 8)?.get(0)?, 1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, len: usize) -> Result<RawArray<T>, Error> {
        Ok(RawArray {
            buf: Buffer::open_in(segment, name, len)?,
        })
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(shmsync::RawArray::<u8>::new(3)?.len(), 3);
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
    /// assert!(!shmsync::RawArray::<u8>::new(3)?.is_empty());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buf.len == 0
    }

    /// A copy of one element.
    ///
    /// # Errors
    ///
    /// [`BoundsError::OutOfRange`] naming the index and the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{BoundsError, RawArray};
    ///
    /// let a = RawArray::from_slice(&[5u16, 6])?;
    /// assert_eq!(a.get(0), Ok(5));
    /// assert_eq!(a.get(2), Err(BoundsError::OutOfRange { index: 2, len: 2 }));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get(&self, index: usize) -> Result<T, BoundsError> {
        check_index(index, self.len())?;
        let mut value = T::zeroed();
        self.load(index..index + 1, std::slice::from_mut(&mut value));
        Ok(value)
    }

    /// Stores one element.
    ///
    /// # Errors
    ///
    /// [`BoundsError::OutOfRange`] naming the index and the length.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::<u16>::new(2)?;
    /// a.set(1, 9)?;
    /// assert!(a.set(2, 9).is_err());
    /// assert_eq!(a.to_vec(..)?, [0, 9]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn set(&self, index: usize, value: T) -> Result<(), BoundsError> {
        check_index(index, self.len())?;
        self.store(index..index + 1, std::slice::from_ref(&value));
        Ok(())
    }

    /// Copies the elements in `range` into `out`.
    ///
    /// # Errors
    ///
    /// [`BoundsError::RangeOutOfRange`] if `range` does not lie within the
    /// array; [`BoundsError::LengthMismatch`] naming both lengths if `out`
    /// is not as long as `range`.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::from_slice(&[1u8, 2, 3])?;
    /// let mut out = [0; 2];
    /// a.read_range(1.., &mut out)?;
    /// assert_eq!(out, [2, 3]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn read_range(
        &self,
        range: impl RangeBounds<usize>,
        out: &mut [T],
    ) -> Result<(), BoundsError> {
        let range = check_range(range, self.len())?;
        check_length(&range, out.len())?;
        self.load(range, out);
        Ok(())
    }

    /// The elements in `range`, copied into a new `Vec` (`..` for all).
    ///
    /// # Errors
    ///
    /// [`BoundsError::RangeOutOfRange`] if `range` does not lie within the
    /// array.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::from_slice(&[1i8, 2, 3])?;
    /// assert_eq!(a.to_vec(..2)?, [1, 2]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn to_vec(&self, range: impl RangeBounds<usize>) -> Result<Vec<T>, BoundsError> {
        let range = check_range(range, self.len())?;
        let mut values = vec![T::zeroed(); range.len()];
        self.load(range, &mut values);
        Ok(values)
    }

    /// Copies `values` into the elements in `range`.
    ///
    /// # Errors
    ///
    /// As for [`read_range`](RawArray::read_range).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = shmsync::RawArray::<u64>::new(3)?;
    /// a.write_range(1..3, &[4, 5])?;
    /// assert_eq!(a.to_vec(..)?, [0, 4, 5]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn write_range(
        &self,
        range: impl RangeBounds<usize>,
        values: &[T],
    ) -> Result<(), BoundsError> {
        let range = check_range(range, self.len())?;
        check_length(&range, values.len())?;
        self.store(range, values);
        Ok(())
    }

    /// Copies the checked `range` into `out`, of the same length.
    fn load(&self, range: Range<usize>, out: &mut [T]) {
        debug_assert!(range.end <= self.len() && range.len() == out.len());
        // SAFETY: `range` lies within the `len` elements this process
        // mapped, aligned for T (so for its unit), and a whole number of
        // units long; the elements are only ever accessed through `units`
        // with T's unit; `out` has room for the range and is private.
        unsafe {
            units::load(
                self.buf
                    .elements()
                    .as_ptr()
                    .add(range.start)
                    .cast_const()
                    .cast(),
                out.as_mut_ptr().cast(),
                range.len() * size_of::<T>(),
                units::unit_of::<T>(),
            );
        }
    }

    /// Copies `values` into the checked `range`, of the same length.
    fn store(&self, range: Range<usize>, values: &[T]) {
        debug_assert!(range.end <= self.len() && range.len() == values.len());
        // SAFETY: as in `load`, with the roles swapped.
        unsafe {
            units::store(
                values.as_ptr().cast(),
                self.buf.elements().as_ptr().add(range.start).cast(),
                range.len() * size_of::<T>(),
                units::unit_of::<T>(),
            );
        }
    }
}

impl<T: Pod> Clone for RawArray<T> {
    fn clone(&self) -> Self {
        RawArray {
            buf: self.buf.clone(),
        }
    }
}

impl<T: Pod> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawArray")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shm::SegmentError;

    #[test]
    fn a_header_length_that_disagrees_with_the_mapping_is_corruption() {
        let segment = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
        let array = RawArray::<u32>::open_in(&segment, "a", 4).unwrap();
        // A peer scribbles over the recorded length; handles already open
        // keep using the length they mapped.
        array.buf.head().len.store(1 << 40, Ordering::Relaxed);
        assert!(matches!(
            RawArray::<u32>::open_in(&segment, "a", 4),
            Err(Error::Segment(SegmentError::Corrupted(_)))
        ));
        assert_eq!(array.len(), 4);
        array.set(3, 1).unwrap();
        assert_eq!(
            array.get(4),
            Err(BoundsError::OutOfRange { index: 4, len: 4 })
        );
    }
}
