//! `AtomicArray<T>`: `len` std atomics in shared memory.

use super::bounds::{check_index, BoundsError};
use super::{ArrayHead, Buffer};
use crate::api::error::Error;
use crate::api::value::atomic::sealed::Ops;
use crate::api::value::AtomicPrimitive;
use crate::shm::{Segment, ShmSafe};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// The header of an [`AtomicArray`]: its length.
#[repr(C)]
pub(crate) struct AtomicHead<T> {
    len: AtomicU64,
    _elements: PhantomData<fn() -> T>,
}

// SAFETY: one atomic: no pointers, any bytes valid (the length is only
// compared), no Drop.
unsafe impl<T: AtomicPrimitive> ShmSafe for AtomicHead<T> {}

impl<T: AtomicPrimitive> ArrayHead for AtomicHead<T> {
    fn new(len: u64) -> Self {
        AtomicHead {
            len: AtomicU64::new(len),
            _elements: PhantomData,
        }
    }

    fn recorded_len(&self) -> u64 {
        // Relaxed: written before the object was published.
        self.len.load(Ordering::Relaxed)
    }
}

/// `len` integers (or `bool`s) in shared memory, each a std atomic: what
/// [`AtomicValue`](crate::AtomicValue) is for one value, for many. No lock, no `&mut`.
///
/// [`at`](AtomicArray::at) returns one element's atomic (`&AtomicU64` for
/// `T = u64`), with the whole std API; [`as_slice`](AtomicArray::as_slice)
/// all of them. An index outside the array is an error, never a panic.
///
/// # Examples
///
/// A histogram that several processes fill:
///
/// ```
/// use shmsync::{AtomicArray, Process};
/// use std::sync::atomic::Ordering::Relaxed;
///
/// let buckets = AtomicArray::<u32>::new(4)?;
/// let child = Process::spawn(|| {
///     for x in 0..100u32 {
///         buckets.at((x % 4) as usize).unwrap().fetch_add(1, Relaxed);
///     }
/// })?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(buckets.to_vec(Relaxed), [25; 4]);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct AtomicArray<T: AtomicPrimitive> {
    buf: Buffer<AtomicHead<T>, T::Atomic>,
}

impl<T: AtomicPrimitive> AtomicArray<T> {
    /// `len` zeroes (or `false`s) in their own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `len` elements do not fit the address
    /// space; [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let flags = shmsync::AtomicArray::<bool>::new(3)?;
    /// assert_eq!(flags.to_vec(Relaxed), [false; 3]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(len: usize) -> Result<AtomicArray<T>, Error> {
        // Zero bytes are zero (or false) in every std atomic.
        Ok(AtomicArray {
            buf: Buffer::new(len)?,
        })
    }

    /// A copy of `values` in its own shared mapping.
    ///
    /// # Errors
    ///
    /// As for [`new`](AtomicArray::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let a = shmsync::AtomicArray::from_slice(&[1i64, -1])?;
    /// assert_eq!(a.load(1, Relaxed)?, -1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_slice(values: &[T]) -> Result<AtomicArray<T>, Error> {
        let array = AtomicArray::new(values.len())?;
        for (atomic, &value) in array.as_slice().iter().zip(values) {
            // Relaxed: nobody else sees the mapping yet; handing it to a
            // thread or a child orders these stores before their loads.
            Ops::store(atomic, value, Ordering::Relaxed);
        }
        Ok(array)
    }

    /// The atomic array called `name` in `segment`, made of `len` zeroes by
    /// the first process that asks. The length is part of the object's type
    /// there, as for [`Array::open_in`](crate::Array::open_in).
    ///
    /// # Errors
    ///
    /// As for [`Array::open_in`](crate::Array::open_in).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AtomicArray, Segment};
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// AtomicArray::<u64>::open_in(&segment, "counts", 2)?.at(1)?.fetch_add(3, Relaxed);
    /// let again = AtomicArray::<u64>::open_in(&segment, "counts", 2)?;
    /// assert_eq!(again.load(1, Relaxed)?, 3);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, len: usize) -> Result<AtomicArray<T>, Error> {
        Ok(AtomicArray {
            buf: Buffer::open_in(segment, name, len)?,
        })
    }

    /// The number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(shmsync::AtomicArray::<u8>::new(2)?.len(), 2);
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
    /// assert!(shmsync::AtomicArray::<u8>::new(0)?.is_empty());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buf.len == 0
    }

    /// All the elements, as std atomics.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let a = shmsync::AtomicArray::<u16>::new(3)?;
    /// for (i, x) in a.as_slice().iter().enumerate() {
    ///     x.store(i as u16, Relaxed);
    /// }
    /// assert_eq!(a.to_vec(Relaxed), [0, 1, 2]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn as_slice(&self) -> &[T::Atomic] {
        // SAFETY: the buffer holds `len` elements of T::Atomic in this
        // process's mapping, aligned for it, which `self` keeps mapped; any
        // bytes are a valid integer atomic (and AtomicBool reads its byte
        // as `!= 0`); atomics are made for concurrent use.
        unsafe { std::slice::from_raw_parts(self.buf.elements().as_ptr(), self.buf.len) }
    }

    /// The atomic at `index`, with the whole std API.
    ///
    /// # Errors
    ///
    /// [`BoundsError::OutOfRange`] naming the index and the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let a = shmsync::AtomicArray::<u32>::new(2)?;
    /// assert_eq!(a.at(1)?.fetch_add(2, Relaxed), 0);
    /// assert!(a.at(2).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn at(&self, index: usize) -> Result<&T::Atomic, BoundsError> {
        check_index(index, self.len())?;
        Ok(&self.as_slice()[index])
    }

    /// Loads the element at `index`.
    ///
    /// # Errors
    ///
    /// [`BoundsError::OutOfRange`] naming the index and the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Acquire;
    ///
    /// let a = shmsync::AtomicArray::from_slice(&[true, false])?;
    /// assert!(a.load(0, Acquire)?);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn load(&self, index: usize, order: Ordering) -> Result<T, BoundsError> {
        Ok(self.at(index)?.load(order))
    }

    /// Stores `value` at `index`.
    ///
    /// # Errors
    ///
    /// [`BoundsError::OutOfRange`] naming the index and the length.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::{Acquire, Release};
    ///
    /// let a = shmsync::AtomicArray::<u8>::new(1)?;
    /// a.store(0, 4, Release)?;
    /// assert_eq!(a.load(0, Acquire)?, 4);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn store(&self, index: usize, value: T, order: Ordering) -> Result<(), BoundsError> {
        self.at(index)?.store(value, order);
        Ok(())
    }

    /// Every element, each loaded with `order` (one at a time: not a
    /// snapshot of the whole array).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let a = shmsync::AtomicArray::from_slice(&[3u64, 4])?;
    /// assert_eq!(a.to_vec(Relaxed), [3, 4]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn to_vec(&self, order: Ordering) -> Vec<T> {
        self.as_slice().iter().map(|a| a.load(order)).collect()
    }
}

impl<T: AtomicPrimitive> Clone for AtomicArray<T> {
    fn clone(&self) -> Self {
        AtomicArray {
            buf: self.buf.clone(),
        }
    }
}

impl<T: AtomicPrimitive + fmt::Debug> fmt::Debug for AtomicArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicArray")
            .field(&self.to_vec(Ordering::Relaxed))
            .finish()
    }
}
