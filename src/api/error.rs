//! The crate-wide error type.
//!
//! Each operation returns a small error of its own that says only what can
//! happen there (and hands back what it must: a guard, a value); every one
//! of those converts into [`Error`], so callers that do not care which
//! operation failed can use `?`.

use crate::raw::{BarrierBusy, BrokenBarrier, NotHeld, NotOwner, ReleasedTooManyTimes};
use crate::shm::SegmentError;
use std::fmt;
use std::io;

/// Any shmsync failure.
///
/// # Examples
///
/// ```
/// use shmsync::{Barrier, Error, Lock};
///
/// fn release_twice(lock: &Lock) -> Result<(), Error> {
///     lock.acquire(true, None)?; // OwnerDied<()> converts
///     lock.release()?;
///     lock.release()?; // so does NotHeld
///     Ok(())
/// }
/// assert!(matches!(release_twice(&Lock::new()?), Err(Error::NotHeld)));
/// assert!(matches!(Barrier::new(0), Err(Error::InvalidArgument(_))));
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed; `op` names it, `source` keeps the errno.
    Os {
        /// The call that failed, e.g. `"mmap"` or `"fork"`.
        op: &'static str,
        /// The OS error (see [`io::Error::raw_os_error`]).
        source: io::Error,
    },
    /// A timed operation ran out of time.
    Timeout,
    /// A non-blocking operation could not proceed without waiting.
    WouldBlock,
    /// A lock was acquired after its previous holder died holding it; the
    /// guarded data may be inconsistent, and the lock stays marked so until
    /// someone calls `mark_consistent`. Converted from
    /// [`OwnerDied`](crate::OwnerDied): from a guard-returning call, the
    /// guard was dropped with the conversion, releasing the lock; from
    /// Python-style `acquire` (`OwnerDied<()>`), the lock is still held by
    /// the caller, who must release it.
    OwnerDied,
    /// Release of a lock that is not held.
    NotHeld,
    /// Release of a recursive lock by a thread that does not own it.
    NotOwner,
    /// A segment could not be created, opened or used.
    Segment(SegmentError),
    /// A semaphore release above its bound.
    ReleasedTooManyTimes {
        /// The bound.
        max: u32,
    },
    /// The barrier is broken (Python's `BrokenBarrierError`).
    BrokenBarrier,
    /// A barrier's internal lock stayed held by another thread until the
    /// deadline (a party stopped inside the barrier?).
    BarrierBusy {
        /// The thread id the lock named when the wait gave up.
        holder: Option<u32>,
    },
    /// An argument out of range; the text says which and why.
    InvalidArgument(&'static str),
    /// A thread asked for a lock it holds already, through a
    /// [`Value`](crate::Value) or [`Array`](crate::Array) (whose locks are
    /// not recursive): converted from
    /// [`AccessError::AlreadyHeld`](crate::AccessError::AlreadyHeld).
    AlreadyHeld,
    /// A locked value's or array's data is still used by a guard in another
    /// thread, whose lock was released under it: converted from
    /// [`AccessError::Borrowed`](crate::AccessError::Borrowed).
    Borrowed {
        /// The kernel thread id of the guard's thread.
        holder: u32,
    },
    /// An index, range or length that does not fit an array: see
    /// [`BoundsError`](crate::BoundsError).
    Bounds(crate::BoundsError),
    /// A non-blocking put found the queue full (Python's `queue.Full`); the
    /// value went with the conversion from [`PutError`](crate::PutError).
    Full,
    /// A non-blocking get found the queue empty (Python's `queue.Empty`).
    Empty,
    /// The queue was shut down (Python 3.13's `ShutDown`).
    ShutDown,
    /// A message longer than the queue (or the handle) takes.
    TooLarge {
        /// Its length in bytes.
        len: usize,
        /// The most that fits, in bytes.
        capacity: usize,
    },
    /// A queue's shared state cannot be right: a process wrote over it.
    Corrupted(&'static str),
    /// A queue's side was held by another handle (or a blocked call) until
    /// the timeout.
    Busy {
        /// The thread id its lock named when the wait gave up.
        holder: Option<u32>,
    },
    /// `task_done` called more times than items were put.
    TaskDoneTooManyTimes,
    /// A value could not be encoded or decoded by a serde queue (a pipe's
    /// encoding errors stay in [`Error::Send`] and [`Error::Recv`]).
    #[cfg(feature = "serde")]
    Serde(postcard::Error),
    /// A pipe's send failed: the [`SendError`](crate::SendError) as it was
    /// (end of file at the other end, a range outside the buffer, ...).
    Send(crate::SendError),
    /// A pipe's receive failed: the [`RecvError`](crate::RecvError) as it
    /// was (end of file, a message longer than asked for, ...).
    Recv(crate::RecvError),
}

impl Error {
    pub(crate) fn os(op: &'static str, source: impl Into<io::Error>) -> Error {
        Error::Os {
            op,
            source: source.into(),
        }
    }

    /// The errno of an [`Error::Os`], or of a segment's failed system call
    /// ([`SegmentError::raw_os_error`]); `None` for every other variant.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Error, SegmentError};
    /// use std::io;
    ///
    /// let os = Error::Os { op: "mmap", source: io::Error::from_raw_os_error(12) };
    /// assert_eq!(os.raw_os_error(), Some(12)); // ENOMEM
    /// let segment = Error::from(SegmentError::Os { op: "ftruncate", errno: 28 });
    /// assert_eq!(segment.raw_os_error(), Some(28)); // ENOSPC
    /// let pipe = Error::from(shmsync::SendError::BrokenPipe); // no system call failed
    /// assert_eq!(pipe.raw_os_error(), None);
    /// assert_eq!(Error::Timeout.raw_os_error(), None);
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Os { source, .. } => source.raw_os_error(),
            Error::Segment(e) => e.raw_os_error(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Os { op, source } => write!(f, "{op} failed: {source}"),
            Error::Timeout => f.write_str("timed out"),
            Error::WouldBlock => f.write_str("operation would block"),
            Error::OwnerDied => f.write_str(
                "lock acquired after its holder died holding it; repair the data and mark the lock consistent",
            ),
            Error::NotHeld => NotHeld.fmt(f),
            Error::NotOwner => NotOwner.fmt(f),
            Error::Segment(e) => e.fmt(f),
            Error::ReleasedTooManyTimes { max } => ReleasedTooManyTimes { max: *max }.fmt(f),
            Error::BrokenBarrier => BrokenBarrier.fmt(f),
            Error::BarrierBusy { holder } => BarrierBusy { holder: *holder }.fmt(f),
            Error::InvalidArgument(what) => write!(f, "invalid argument: {what}"),
            Error::Full => f.write_str("queue full: nothing was put; try again later or wait with a timeout"),
            Error::Empty => f.write_str("queue empty: nothing was taken; try again later or wait with a timeout"),
            Error::ShutDown => f.write_str("queue shut down: no more puts, and gets only drain what is left"),
            Error::TooLarge { len, capacity } => write!(
                f,
                "message of {len} bytes is longer than the {capacity} bytes the queue takes: make the queue (or the handle's largest message) larger"
            ),
            Error::Corrupted(what) => write!(
                f,
                "shared state corrupted ({what}): a process wrote over the shared memory; make a new one"
            ),
            Error::Busy { holder } => match holder {
                Some(tid) => write!(f, "queue side busy: held by thread {tid} until the timeout"),
                None => f.write_str("queue side busy until the timeout"),
            },
            Error::TaskDoneTooManyTimes => crate::TaskDoneTooManyTimes.fmt(f),
            #[cfg(feature = "serde")]
            Error::Serde(e) => write!(f, "serde encoding failed: {e}"),
            Error::AlreadyHeld => f.write_str(
                "the calling thread already holds this lock, which is not recursive: use the guard it has, or drop it first",
            ),
            Error::Borrowed { holder } => write!(
                f,
                "thread {holder} still uses the data through a guard whose lock was released under it (Lock::release, or Condition::wait, while the guard was alive); try again once that guard is dropped"
            ),
            Error::Bounds(e) => e.fmt(f),
            Error::Send(e) => e.fmt(f),
            Error::Recv(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { source, .. } => Some(source),
            Error::Segment(e) => Some(e),
            Error::Bounds(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::Recv(e) => Some(e),
            _ => None,
        }
    }
}

impl<T> From<crate::PutError<T>> for Error {
    fn from(e: crate::PutError<T>) -> Error {
        use crate::PutError;
        match e {
            PutError::Full(_) => Error::Full,
            PutError::Timeout(_) => Error::Timeout,
            PutError::ShutDown(_) => Error::ShutDown,
            PutError::TooLarge { len, capacity, .. } => Error::TooLarge { len, capacity },
            PutError::Corrupted { what, .. } => Error::Corrupted(what),
            #[cfg(feature = "serde")]
            PutError::Encode { error, .. } => Error::Serde(error),
        }
    }
}

impl From<crate::GetError> for Error {
    fn from(e: crate::GetError) -> Error {
        use crate::GetError;
        match e {
            GetError::Empty => Error::Empty,
            GetError::Timeout => Error::Timeout,
            GetError::ShutDown => Error::ShutDown,
            GetError::TooLarge { len, max } => Error::TooLarge { len, capacity: max },
            GetError::Corrupted(what) => Error::Corrupted(what),
            #[cfg(feature = "serde")]
            GetError::Decode(error) => Error::Serde(error),
        }
    }
}

impl From<crate::HandleError> for Error {
    fn from(e: crate::HandleError) -> Error {
        match e {
            crate::HandleError::Busy { holder } => Error::Busy { holder },
            crate::HandleError::Corrupted(what) => Error::Corrupted(what),
        }
    }
}

impl From<crate::TaskDoneTooManyTimes> for Error {
    fn from(_: crate::TaskDoneTooManyTimes) -> Error {
        Error::TaskDoneTooManyTimes
    }
}

impl From<NotHeld> for Error {
    fn from(_: NotHeld) -> Error {
        Error::NotHeld
    }
}

impl From<NotOwner> for Error {
    fn from(_: NotOwner) -> Error {
        Error::NotOwner
    }
}

/// The `shm` layer's error, whole: a failed system call stays
/// [`SegmentError::Os`] inside [`Error::Segment`], and
/// [`Error::raw_os_error`] finds its errno there.
impl From<SegmentError> for Error {
    fn from(e: SegmentError) -> Error {
        Error::Segment(e)
    }
}

/// A segment's answer to a handle's `open_in`: a type mismatch is named as
/// the handle asked for (`shmsync::Lock`), not the raw type inside it.
pub(crate) fn opened_as(handle: &'static str) -> impl FnOnce(SegmentError) -> Error {
    move |e| match e {
        SegmentError::TypeMismatch { name, .. } => mismatch(&name, handle),
        e => Error::Segment(e),
    }
}

/// The object `name` is not the `handle` asked for: another type, or the
/// same one made with another capacity, bound or number of parties.
pub(crate) fn mismatch(name: &str, handle: &'static str) -> Error {
    Error::Segment(SegmentError::TypeMismatch {
        name: name.into(),
        requested: handle,
    })
}

impl From<ReleasedTooManyTimes> for Error {
    fn from(e: ReleasedTooManyTimes) -> Error {
        Error::ReleasedTooManyTimes { max: e.max }
    }
}

impl From<BrokenBarrier> for Error {
    fn from(_: BrokenBarrier) -> Error {
        Error::BrokenBarrier
    }
}

impl From<BarrierBusy> for Error {
    fn from(e: BarrierBusy) -> Error {
        Error::BarrierBusy { holder: e.holder }
    }
}

impl std::error::Error for NotHeld {}
impl std::error::Error for NotOwner {}
impl std::error::Error for ReleasedTooManyTimes {}
impl std::error::Error for BrokenBarrier {}
impl std::error::Error for BarrierBusy {}
