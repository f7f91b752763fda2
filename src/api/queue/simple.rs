//! `SimpleQueue`: Python's `multiprocessing.SimpleQueue`, the four-method
//! queue, over the same ring as [`Queue`].

use super::error::{GetError, PutError};
use super::pod::Queue;
use crate::api::error::Error;
use bytemuck::Pod;
use std::fmt;

/// Python's `multiprocessing.SimpleQueue`: `put`, `get`, `empty` and
/// `close`, nothing else. Unlike Python's, it is bounded (a ring of
/// `capacity` items): `put` waits while it is full.
///
/// # Examples
///
/// ```
/// use shmsync::{Process, SimpleQueue};
///
/// let q = SimpleQueue::<i64>::new(4)?;
/// let child = Process::spawn(|| q.put(-1).unwrap())?;
/// assert_eq!(q.get()?, -1);
/// assert!(q.empty());
/// assert_eq!(child.join()?, 0);
/// q.close();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SimpleQueue<T: Pod> {
    queue: Queue<T>,
}

impl<T: Pod> SimpleQueue<T> {
    /// An empty queue of at most `capacity` items in its own shared
    /// mapping.
    ///
    /// # Errors
    ///
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::SimpleQueue::<u32>::new(2)?;
    /// assert!(q.empty());
    /// assert_eq!(q.queue().capacity(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(capacity: usize) -> Result<SimpleQueue<T>, Error> {
        Ok(SimpleQueue {
            queue: Queue::new(capacity)?,
        })
    }

    /// Puts `value`, waiting as long as it takes for room.
    ///
    /// # Errors
    ///
    /// As [`Queue::put`] (a `SimpleQueue` is only shut down through
    /// [`queue`](SimpleQueue::queue)).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::SimpleQueue::<[u16; 2]>::new(2)?;
    /// q.put([1, 2])?;
    /// assert_eq!(q.get()?, [1, 2]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put(&self, value: T) -> Result<(), PutError<T>> {
        self.queue.put(value)
    }

    /// Takes the oldest value, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`Queue::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::SimpleQueue::<u8>::new(2)?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.get()?, 1);
    /// assert_eq!(q.get()?, 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.queue.get()
    }

    /// Whether the queue is empty now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::SimpleQueue::<u8>::new(2)?;
    /// assert!(q.empty());
    /// q.put(1)?;
    /// assert!(!q.empty());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.queue.empty()
    }

    /// Python's `close()`: this handle stops using the queue; other handles
    /// and processes are not affected. The same as dropping it.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::SimpleQueue::<u8>::new(2)?;
    /// let other = q.clone();
    /// q.put(1)?;
    /// q.close();
    /// assert_eq!(other.get()?, 1, "nothing lost");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn close(self) {}

    /// The [`Queue`] underneath, for what Python's `SimpleQueue` lacks.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, SimpleQueue};
    /// use std::time::Duration;
    ///
    /// let q = SimpleQueue::<u8>::new(2)?;
    /// let briefly = Duration::from_millis(5);
    /// assert_eq!(q.queue().get_timeout(briefly), Err(GetError::Timeout));
    /// q.queue().shutdown(false);
    /// assert!(q.put(1).unwrap_err().is_shut_down());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn queue(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T: Pod> Clone for SimpleQueue<T> {
    fn clone(&self) -> Self {
        SimpleQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Pod> fmt::Debug for SimpleQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimpleQueue")
            .field("empty", &self.empty())
            .finish()
    }
}
