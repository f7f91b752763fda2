//! What can go wrong with a queue operation: a put hands its value back,
//! a get says why nothing came.

use crate::ring::RingError;
use std::fmt;

/// Why a put did not put its value; the value comes back.
///
/// Which variants a call can return is listed in its `# Errors` section:
/// `Full` only from the non-blocking puts, `Timeout` only from the timed
/// ones, `TooLarge` only from byte queues.
///
/// # Examples
///
/// ```
/// use shmsync::{PutError, Queue};
///
/// let q = Queue::<u32>::new(1)?;
/// q.put(1)?;
/// let err = q.try_put(2).unwrap_err();
/// assert!(matches!(err, PutError::Full(2)));
/// assert_eq!(err.to_string(), "queue full");
/// assert_eq!(err.into_inner(), 2, "the value comes back");
/// # Ok::<(), shmsync::Error>(())
/// ```
#[non_exhaustive]
pub enum PutError<T> {
    /// No room now (non-blocking put): Python's `queue.Full`.
    Full(T),
    /// Still no room when the timeout ran out.
    Timeout(T),
    /// The queue was shut down (Python's `ShutDown`): no more puts.
    ShutDown(T),
    /// The message can never fit: longer than the whole ring, or than the
    /// queue's configured largest message.
    TooLarge {
        /// The message.
        value: T,
        /// Its length in bytes.
        len: usize,
        /// The most the queue takes, in bytes.
        capacity: usize,
    },
    /// The queue's shared state cannot be right: a process wrote over it.
    Corrupted {
        /// The message.
        value: T,
        /// What was found.
        what: &'static str,
    },
    /// The value could not be encoded (serde queues).
    #[cfg(feature = "serde")]
    Encode {
        /// The value.
        value: T,
        /// postcard's error.
        error: postcard::Error,
    },
}

impl<T> PutError<T> {
    /// The value that was not put.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<[u8; 4]>::new(1)?;
    /// q.shutdown(false);
    /// let err = q.put(*b"data").unwrap_err();
    /// assert_eq!(err.into_inner(), *b"data");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(v) | PutError::Timeout(v) | PutError::ShutDown(v) => v,
            PutError::TooLarge { value, .. } | PutError::Corrupted { value, .. } => value,
            #[cfg(feature = "serde")]
            PutError::Encode { value, .. } => value,
        }
    }

    /// Whether the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(1)?;
    /// q.put(1)?;
    /// assert!(!q.try_put(2).unwrap_err().is_shut_down(), "full, not shut down");
    /// q.shutdown(false);
    /// assert!(q.try_put(2).unwrap_err().is_shut_down());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_shut_down(&self) -> bool {
        matches!(self, PutError::ShutDown(_))
    }

    /// The same error holding `f(value)` instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PutError, Queue};
    ///
    /// let q = Queue::<u64>::new(1)?;
    /// q.put(1)?;
    /// let doubled = q.try_put(2).unwrap_err().map(|v| v * 2);
    /// assert!(matches!(doubled, PutError::Full(4)));
    /// let without: PutError<()> = q.try_put(3).unwrap_err().map(drop);
    /// assert!(matches!(without, PutError::Full(())));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> PutError<U> {
        match self {
            PutError::Full(v) => PutError::Full(f(v)),
            PutError::Timeout(v) => PutError::Timeout(f(v)),
            PutError::ShutDown(v) => PutError::ShutDown(f(v)),
            PutError::TooLarge {
                value,
                len,
                capacity,
            } => PutError::TooLarge {
                value: f(value),
                len,
                capacity,
            },
            PutError::Corrupted { value, what } => PutError::Corrupted {
                value: f(value),
                what,
            },
            #[cfg(feature = "serde")]
            PutError::Encode { value, error } => PutError::Encode {
                value: f(value),
                error,
            },
        }
    }

    /// The error for `e`, a ring's answer, holding `value`.
    pub(crate) fn from_ring(e: RingError, value: T) -> PutError<T> {
        match e {
            RingError::ShutDown => PutError::ShutDown(value),
            RingError::TooLarge { len, capacity } => PutError::TooLarge {
                value,
                len,
                capacity,
            },
            RingError::Corrupted(what) => PutError::Corrupted { value, what },
            // A side that stayed held: only timed and non-blocking puts
            // give up on it (the blocking ones wait forever).
            RingError::Busy { .. } => PutError::Timeout(value),
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("Full(..)"),
            PutError::Timeout(_) => f.write_str("Timeout(..)"),
            PutError::ShutDown(_) => f.write_str("ShutDown(..)"),
            PutError::TooLarge { len, capacity, .. } => f
                .debug_struct("TooLarge")
                .field("len", len)
                .field("capacity", capacity)
                .finish_non_exhaustive(),
            PutError::Corrupted { what, .. } => f
                .debug_struct("Corrupted")
                .field("what", what)
                .finish_non_exhaustive(),
            #[cfg(feature = "serde")]
            PutError::Encode { error, .. } => f
                .debug_struct("Encode")
                .field("error", error)
                .finish_non_exhaustive(),
        }
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::Full(_) => f.write_str("queue full"),
            PutError::Timeout(_) => f.write_str("timed out waiting for room in the queue"),
            PutError::ShutDown(_) => f.write_str("queue shut down: no more puts"),
            PutError::TooLarge { len, capacity, .. } => write!(
                f,
                "a message of {len} bytes can never fit a queue that takes at most {capacity}: make the queue larger (or, for a byte queue, this handle's largest message)"
            ),
            PutError::Corrupted { what, .. } => corrupted(f, what),
            #[cfg(feature = "serde")]
            PutError::Encode { error, .. } => write!(f, "cannot encode the value: {error}"),
        }
    }
}

impl<T> std::error::Error for PutError<T> {}

/// Why a get returned no message.
///
/// Which variants a call can return is listed in its `# Errors` section.
///
/// # Examples
///
/// ```
/// use shmsync::{GetError, Queue};
/// use std::time::Duration;
///
/// let q = Queue::<u8>::new(1)?;
/// assert_eq!(q.try_get(), Err(GetError::Empty));
/// assert_eq!(q.get_timeout(Duration::from_millis(1)), Err(GetError::Timeout));
/// q.shutdown(false);
/// let err = q.get().unwrap_err();
/// assert_eq!(err, GetError::ShutDown);
/// assert_eq!(err.to_string(), "queue shut down and empty: no more gets");
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetError {
    /// Nothing there now (non-blocking get): Python's `queue.Empty`.
    Empty,
    /// Still nothing when the timeout ran out.
    Timeout,
    /// The queue was shut down and is empty (or was shut down with
    /// `immediate`): Python's `ShutDown`.
    ShutDown,
    /// The next message is longer than this handle's largest message
    /// (byte queues); it was dropped without being read.
    TooLarge {
        /// Its length in bytes, as the record says.
        len: usize,
        /// This handle's largest message.
        max: usize,
    },
    /// The queue's shared state cannot be right: a process wrote over it.
    Corrupted(&'static str),
    /// The message could not be decoded as the type asked for (serde
    /// queues); it was taken out of the queue.
    #[cfg(feature = "serde")]
    Decode(postcard::Error),
}

impl GetError {
    /// The error for `e`, a ring's answer.
    pub(crate) fn from_ring(e: RingError) -> GetError {
        match e {
            RingError::ShutDown => GetError::ShutDown,
            RingError::Corrupted(what) => GetError::Corrupted(what),
            RingError::Busy { .. } => GetError::Timeout,
            _ => GetError::Corrupted("unexpected ring error"),
        }
    }
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Empty => f.write_str("queue empty"),
            GetError::Timeout => f.write_str("timed out waiting for a message"),
            GetError::ShutDown => f.write_str("queue shut down and empty: no more gets"),
            GetError::TooLarge { len, max } => write!(
                f,
                "a message of {len} bytes exceeds this queue's largest message of {max} bytes: it was dropped"
            ),
            GetError::Corrupted(what) => corrupted(f, what),
            #[cfg(feature = "serde")]
            GetError::Decode(error) => write!(f, "cannot decode the message: {error}"),
        }
    }
}

impl std::error::Error for GetError {}

fn corrupted(f: &mut fmt::Formatter<'_>, what: &str) -> fmt::Result {
    write!(
        f,
        "queue state corrupted ({what}): a process wrote over the shared memory; make a new queue"
    )
}

/// Why an exclusive `producer()` or `consumer()` handle was not made.
///
/// # Examples
///
/// ```
/// use shmsync::{HandleError, Queue};
///
/// let q = Queue::<u8>::new(1)?;
/// let _rx = q.consumer()?;
/// let err = q.consumer().unwrap_err();
/// assert!(matches!(err, HandleError::Busy { .. }));
/// assert!(err.to_string().starts_with("queue side busy"));
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandleError {
    /// The side is held by another handle, or by a put or get blocked on a
    /// full (empty) queue, and stayed so until the timeout.
    Busy {
        /// The thread id its lock named when the wait gave up (this
        /// thread's own, if the caller already holds the side).
        holder: Option<u32>,
    },
    /// The queue's shared state cannot be right.
    Corrupted(&'static str),
}

impl HandleError {
    pub(crate) fn from_ring(e: RingError) -> HandleError {
        match e {
            RingError::Busy { holder } => HandleError::Busy { holder },
            RingError::Corrupted(what) => HandleError::Corrupted(what),
            _ => HandleError::Corrupted("unexpected ring error"),
        }
    }
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::Busy { holder: Some(tid) } => write!(
                f,
                "queue side busy: held by thread {tid} (another exclusive handle, or a blocked put or get)"
            ),
            HandleError::Busy { holder: None } => f.write_str("queue side busy"),
            HandleError::Corrupted(what) => corrupted(f, what),
        }
    }
}

impl std::error::Error for HandleError {}

/// `task_done` called more times than items were put: Python's
/// `ValueError('task_done() called too many times')`.
///
/// # Examples
///
/// ```
/// use shmsync::{JoinableQueue, TaskDoneTooManyTimes};
///
/// let q = JoinableQueue::<u8>::new(1)?;
/// assert_eq!(q.task_done(), Err(TaskDoneTooManyTimes));
/// let msg = TaskDoneTooManyTimes.to_string();
/// assert_eq!(msg, "task_done called more times than items were put");
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskDoneTooManyTimes;

impl fmt::Display for TaskDoneTooManyTimes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done called more times than items were put")
    }
}

impl std::error::Error for TaskDoneTooManyTimes {}
