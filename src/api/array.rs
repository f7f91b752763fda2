//! Python's `multiprocessing.Array` family, for `len` elements in shared
//! memory:
//!
//! | type | Python | access |
//! |---|---|---|
//! | [`Array<T>`](Array) | `Array(t, n)` | `get` / `set` / ranges copied under a lock, a `&mut [T]` guard |
//! | [`RawArray<T>`](RawArray) | `RawArray(t, n)`, `Array(t, n, lock=False)` | copies through word-sized atomics |
//! | [`AtomicArray<T>`](AtomicArray) | — | a `[AtomicU64]` (etc.) slice |
//!
//! `Array<u8>` and `RawArray<u8>` are also Python's `Array('c', n)`:
//! `value` (bytes up to the first NUL) and `raw` (all of them).
//!
//! Each array is one shared object: a header (the lock and claim for
//! `Array`, and the length) followed by the elements, made with
//! `SharedTail`. The length a handle checks indexes against is the one this
//! process mapped; the header's copy is only compared with it when a
//! segment object is opened.

mod atomic;
mod bounds;
mod bytes;
mod locked;
mod raw;

pub use atomic::AtomicArray;
pub use bounds::{ArrayError, BoundsError};
pub use locked::{Array, ArrayGuard};
pub use raw::RawArray;

use crate::api::error::Error;
use crate::shm::{Segment, SegmentError, SharedTail, ShmSafe};
use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ptr::NonNull;

/// The header of an array of some kind: it records the length it was made
/// with.
trait ArrayHead: ShmSafe {
    /// A header for `len` elements.
    fn new(len: u64) -> Self;
    /// The length the header records; any value a peer wrote.
    fn recorded_len(&self) -> u64;
}

/// An array's header and elements in this process's mapping: a header `H`,
/// then `len` elements of type `E`, aligned for `E`.
struct Buffer<H: ShmSafe, E> {
    tail: SharedTail<H>,
    /// The element count this process mapped: the only length ever used
    /// to bound an access.
    len: usize,
    _elements: PhantomData<E>,
}

impl<H: ArrayHead, E> Buffer<H, E> {
    /// The size in bytes of `len` elements.
    fn bytes(len: usize) -> Result<usize, Error> {
        const {
            assert!(
                size_of::<E>() > 0,
                "arrays of zero-sized types are not supported"
            )
        };
        len.checked_mul(size_of::<E>())
            .filter(|&bytes| bytes <= isize::MAX as usize)
            .ok_or(Error::InvalidArgument(
                "array too large: its length times the element size overflows the address space",
            ))
    }

    /// `len` zeroed elements in a mapping of their own.
    fn new(len: usize) -> Result<Buffer<H, E>, Error> {
        let bytes = Buffer::<H, E>::bytes(len)?;
        let tail = SharedTail::new(H::new(len as u64), bytes, align_of::<E>())?;
        Ok(Buffer {
            tail,
            len,
            _elements: PhantomData,
        })
    }

    /// The array `name` of `len` elements in `segment`, zeroed by whoever
    /// makes it.
    fn open_in(segment: &Segment, name: &str, len: usize) -> Result<Buffer<H, E>, Error> {
        let bytes = Buffer::<H, E>::bytes(len)?;
        let tail =
            segment.get_or_init_with_tail(name, bytes, align_of::<E>(), || H::new(len as u64))?;
        if tail.head().recorded_len() != len as u64 || tail.tail_len() != bytes {
            return Err(
                SegmentError::Corrupted("an array's header disagrees with its size").into(),
            );
        }
        Ok(Buffer {
            tail,
            len,
            _elements: PhantomData,
        })
    }

    /// The header.
    fn head(&self) -> &H {
        self.tail.head()
    }
}

impl<H: ShmSafe, E> Buffer<H, E> {
    /// The first element: valid for `len` elements, aligned for `E`, for as
    /// long as this buffer lives.
    fn elements(&self) -> NonNull<E> {
        self.tail.tail().cast()
    }
}

impl<H: ShmSafe, E> Clone for Buffer<H, E> {
    fn clone(&self) -> Self {
        Buffer {
            tail: self.tail.clone(),
            len: self.len,
            _elements: PhantomData,
        }
    }
}
