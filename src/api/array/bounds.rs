//! Indexes, ranges and lengths checked against an array's length in this
//! process's mapping (never against a length read from shared memory), and
//! the errors that say which did not fit.

use crate::api::value::claim::{AccessError, Denied};
use std::fmt;
use std::ops::{Bound, Range, RangeBounds};

/// An index, range or length that does not fit an array. Nothing was read
/// or written.
///
/// # Examples
///
/// ```
/// use shmsync::{BoundsError, RawArray};
///
/// let a = RawArray::<u32>::new(3)?;
/// assert_eq!(a.get(3), Err(BoundsError::OutOfRange { index: 3, len: 3 }));
/// assert_eq!(
///     a.write_range(0..2, &[1, 2, 3]),
///     Err(BoundsError::LengthMismatch { expected: 2, found: 3 }),
/// );
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BoundsError {
    /// `index` is not below the array's length (Python's `IndexError`).
    OutOfRange {
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// The range `start..end` does not lie within `0..len` (or ends before
    /// it starts).
    RangeOutOfRange {
        /// Where the range starts.
        start: usize,
        /// Where the range ends (exclusive).
        end: usize,
        /// The array's length.
        len: usize,
    },
    /// A slice to copy into or out of a range has another length than the
    /// range (Python's "can only assign sequence of same size").
    LengthMismatch {
        /// The range's length.
        expected: usize,
        /// The slice's length.
        found: usize,
    },
    /// A byte string longer than the byte array (Python's "byte string too
    /// long").
    TooLong {
        /// The byte string's length.
        len: usize,
        /// The array's length.
        capacity: usize,
    },
}

impl fmt::Display for BoundsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BoundsError::OutOfRange { index, len } => write!(
                f,
                "index {index} is out of range for an array of length {len}"
            ),
            BoundsError::RangeOutOfRange { start, end, len } => write!(
                f,
                "range {start}..{end} does not lie within an array of length {len}"
            ),
            BoundsError::LengthMismatch { expected, found } => write!(
                f,
                "the range holds {expected} elements but the slice has {found}: give a slice of the range's length"
            ),
            BoundsError::TooLong { len, capacity } => write!(
                f,
                "a byte string of {len} bytes does not fit a byte array of {capacity}"
            ),
        }
    }
}

impl std::error::Error for BoundsError {}

impl From<BoundsError> for crate::Error {
    fn from(e: BoundsError) -> crate::Error {
        crate::Error::Bounds(e)
    }
}

/// Checks `index` against `len`.
#[inline]
pub(crate) fn check_index(index: usize, len: usize) -> Result<(), BoundsError> {
    if index < len {
        Ok(())
    } else {
        Err(BoundsError::OutOfRange { index, len })
    }
}

/// The range `range` stands for in an array of `len` elements, if it lies
/// within it.
pub(crate) fn check_range(
    range: impl RangeBounds<usize>,
    len: usize,
) -> Result<Range<usize>, BoundsError> {
    // A bound one past usize::MAX never fits: it is reported as usize::MAX.
    let past = |bound: usize| bound.checked_add(1);
    let start = match range.start_bound() {
        Bound::Included(&start) => Some(start),
        Bound::Excluded(&start) => past(start),
        Bound::Unbounded => Some(0),
    };
    let end = match range.end_bound() {
        Bound::Included(&end) => past(end),
        Bound::Excluded(&end) => Some(end),
        Bound::Unbounded => Some(len),
    };
    let (Some(start), Some(end)) = (start, end) else {
        return Err(BoundsError::RangeOutOfRange {
            start: start.unwrap_or(usize::MAX),
            end: end.unwrap_or(usize::MAX),
            len,
        });
    };
    if start <= end && end <= len {
        Ok(start..end)
    } else {
        Err(BoundsError::RangeOutOfRange { start, end, len })
    }
}

/// Checks that a slice of `found` elements matches `range`.
pub(crate) fn check_length(range: &Range<usize>, found: usize) -> Result<(), BoundsError> {
    if range.len() == found {
        Ok(())
    } else {
        Err(BoundsError::LengthMismatch {
            expected: range.len(),
            found,
        })
    }
}

/// Why a locked [`Array`](crate::Array) access did not simply succeed: an
/// index, range or length that does not fit (checked first, without
/// taking the lock), or the lock (see [`AccessError`]; on
/// [`AccessError::OwnerDied`] the access was made and `G` is its guard).
///
/// # Examples
///
/// ```
/// use shmsync::{AccessError, Array, ArrayError, BoundsError};
///
/// let a = Array::<u8>::new(4)?;
/// assert!(matches!(
///     a.get(9),
///     Err(ArrayError::Bounds(BoundsError::OutOfRange { index: 9, len: 4 }))
/// ));
/// let guard = a.get_lock()?;
/// assert!(matches!(a.get(0), Err(ArrayError::Access(AccessError::AlreadyHeld))));
/// # drop(guard);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub enum ArrayError<G> {
    /// The index, range or length does not fit; the lock was not taken.
    Bounds(BoundsError),
    /// The lock refused, or was taken after its holder died.
    Access(AccessError<G>),
}

impl<G> From<BoundsError> for ArrayError<G> {
    fn from(e: BoundsError) -> ArrayError<G> {
        ArrayError::Bounds(e)
    }
}

impl<G> From<AccessError<G>> for ArrayError<G> {
    fn from(e: AccessError<G>) -> ArrayError<G> {
        ArrayError::Access(e)
    }
}

impl<G> From<Denied> for ArrayError<G> {
    fn from(denied: Denied) -> ArrayError<G> {
        ArrayError::Access(denied.into())
    }
}

impl<G> fmt::Debug for ArrayError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArrayError::Bounds(e) => f.debug_tuple("Bounds").field(e).finish(),
            ArrayError::Access(e) => f.debug_tuple("Access").field(e).finish(),
        }
    }
}

impl<G> fmt::Display for ArrayError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArrayError::Bounds(e) => e.fmt(f),
            ArrayError::Access(e) => e.fmt(f),
        }
    }
}

impl<G> std::error::Error for ArrayError<G> {}

impl<G> From<ArrayError<G>> for crate::Error {
    fn from(e: ArrayError<G>) -> crate::Error {
        match e {
            ArrayError::Bounds(e) => e.into(),
            ArrayError::Access(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_every_shape_are_checked_against_the_length() {
        assert_eq!(check_range(.., 4), Ok(0..4));
        assert_eq!(check_range(1..=2, 4), Ok(1..3));
        assert_eq!(check_range(4.., 4), Ok(4..4));
        assert_eq!(
            check_range(2..5, 4),
            Err(BoundsError::RangeOutOfRange {
                start: 2,
                end: 5,
                len: 4
            })
        );
        let (start, end) = (3, 2);
        assert!(check_range(start..end, 4).is_err());
        assert!(check_range(0..=usize::MAX, usize::MAX).is_err());
        assert!(check_range((Bound::Excluded(usize::MAX), Bound::Unbounded), 4).is_err());
    }
}
