//! The exclusive `Producer` and `Consumer` of a [`Queue`](super::Queue):
//! each holds its side's lock for its whole life, so a message costs a
//! copy and one store, and no atomic read-modify-write.

use super::error::{GetError, PutError};
use super::shared::{Ring, Wait};
use crate::ring::{Consuming, Producing};
use crate::sys::MadeIn;
use bytemuck::Pod;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// The only producer of a [`Queue`](super::Queue) while it lives, made by
/// [`Queue::producer`](super::Queue::producer). Dropping it gives the
/// producing side back.
///
/// `!Send` and `!Sync`: the side's lock names the thread that took it, so
/// that a waiter can tell when that thread has died. If it dies holding
/// the handle (its process killed, say), the next producer takes the side
/// over within about 100 ms and the queue goes on; the dead producer's
/// message in progress, if it was not committed, is not delivered.
///
/// # Panics
///
/// Every method panics in a forked child that captured the handle from its
/// parent (a [`Process`](crate::Process) closure): the side is the
/// parent's. Dropped there, the copy gives nothing back.
///
/// # Examples
///
/// ```
/// let q = shmsync::Queue::<u32>::new(4)?;
/// let mut tx = q.producer()?;
/// tx.put(1)?;
/// tx.put_many(&[2, 3], None)?;
/// assert!(tx.try_put(4).is_ok());
/// assert!(tx.try_put(5).is_err(), "full");
/// drop(tx);
/// assert_eq!(q.get()?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Producer<'q, T: Pod> {
    ring: &'q Ring,
    side: Option<Producing>,
    /// The process that took the side: a forked copy of the handle (one a
    /// `Process` closure captured) neither uses nor gives it back.
    made_in: MadeIn,
    _items: PhantomData<fn(T)>,
}

/// The only consumer of a [`Queue`](super::Queue) while it lives, made by
/// [`Queue::consumer`](super::Queue::consumer); see [`Producer`] (which
/// also says when its methods panic).
///
/// # Examples
///
/// ```
/// let q = shmsync::Queue::<u32>::new(4)?;
/// q.put_many(&[1, 2, 3], None)?;
/// let mut rx = q.consumer()?;
/// assert_eq!(rx.get()?, 1);
/// let mut out = [0; 4];
/// assert_eq!(rx.get_many(&mut out, None)?, 2);
/// assert!(rx.try_get().is_err(), "empty");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Consumer<'q, T: Pod> {
    ring: &'q Ring,
    side: Option<Consuming>,
    /// The process that took the side: a forked copy of the handle (one a
    /// `Process` closure captured) neither uses nor gives it back.
    made_in: MadeIn,
    _items: PhantomData<fn() -> T>,
}

impl<'q, T: Pod> Producer<'q, T> {
    pub(crate) fn new(ring: &'q Ring, side: Producing) -> Self {
        Producer {
            ring,
            side: Some(side),
            made_in: MadeIn::here(),
            _items: PhantomData,
        }
    }

    #[inline]
    #[track_caller]
    fn side(&mut self) -> &mut Producing {
        self.made_in.check("Producer");
        // Some from `new` until `drop`.
        self.side.as_mut().expect("side held until drop")
    }

    /// Puts `value`, waiting as long as it takes for room.
    ///
    /// # Errors
    ///
    /// As [`Queue::put`](super::Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u32>::new(4)?;
    /// let mut tx = q.producer()?;
    /// tx.put(1)?;
    /// tx.put(2)?;
    /// drop(tx);
    /// assert_eq!(q.get()?, 1);
    /// assert_eq!(q.get()?, 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn put(&mut self, value: T) -> Result<(), PutError<T>> {
        self.put_with(value, Wait::Block)
    }

    /// Puts `value` if there is room now.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if there is none; as [`put`](Producer::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PutError, Queue};
    ///
    /// let q = Queue::<u32>::new(1)?;
    /// let mut tx = q.producer()?;
    /// tx.try_put(1)?;
    /// assert!(matches!(tx.try_put(2), Err(PutError::Full(2))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn try_put(&mut self, value: T) -> Result<(), PutError<T>> {
        self.put_with(value, Wait::Never)
    }

    /// Puts `value`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutError::Timeout`]; as [`put`](Producer::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PutError, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(1)?;
    /// let mut tx = q.producer()?;
    /// tx.put_timeout(1, Duration::from_millis(5))?;
    /// let late = tx.put_timeout(2, Duration::from_millis(5));
    /// assert!(matches!(late, Err(PutError::Timeout(2))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put_timeout(&mut self, value: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_with(value, Wait::timeout(Some(timeout)))
    }

    /// Puts all of `values`, in order, waiting for room at most `timeout`
    /// (`None`: as long as it takes).
    ///
    /// # Errors
    ///
    /// As [`Queue::put_many`](super::Queue::put_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PutError, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// let mut tx = q.producer()?;
    /// tx.put_many(&[1, 2], None)?;
    /// let more = tx.put_many(&[3, 4, 5], Some(Duration::from_millis(5)));
    /// assert!(matches!(more, Err(PutError::Timeout(2))), "two of the three fit");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put_many(
        &mut self,
        values: &[T],
        timeout: Option<Duration>,
    ) -> Result<(), PutError<usize>> {
        let ring = self.ring;
        ring.push_slots(
            self.side(),
            bytemuck::cast_slice(values),
            Wait::timeout(timeout),
        )
        .map_err(|(done, fail)| fail.put(done))
    }

    #[inline]
    fn put_with(&mut self, value: T, wait: Wait) -> Result<(), PutError<T>> {
        let ring = self.ring;
        ring.push_value(self.side(), &value, wait)
            .map_err(|fail| fail.put(value))
    }

    /// Whether this handle took the side over from a producer that died
    /// holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Queue;
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// assert!(!q.producer()?.took_over());
    /// // A thread that ends holding the side (it forgets its handle).
    /// std::thread::scope(|s| {
    ///     s.spawn(|| q.producer().map(std::mem::forget));
    /// });
    /// let tx = q.producer_timeout(Duration::from_secs(2))?;
    /// assert!(tx.took_over());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn took_over(&self) -> bool {
        self.side.as_ref().is_some_and(Producing::took_over)
    }
}

impl<T: Pod> Drop for Producer<'_, T> {
    fn drop(&mut self) {
        if !self.made_in.is_here() {
            // A forked copy: the side is the parent's.
            return;
        }
        if let Some(side) = self.side.take() {
            self.ring.raw().release_producing(side);
        }
    }
}

impl<'q, T: Pod> Consumer<'q, T> {
    pub(crate) fn new(ring: &'q Ring, side: Consuming) -> Self {
        Consumer {
            ring,
            side: Some(side),
            made_in: MadeIn::here(),
            _items: PhantomData,
        }
    }

    #[inline]
    #[track_caller]
    fn side(&mut self) -> &mut Consuming {
        self.made_in.check("Consumer");
        self.side.as_mut().expect("side held until drop")
    }

    /// Takes the oldest value, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`Queue::get`](super::Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u32>::new(4)?;
    /// q.put_many(&[1, 2], None)?;
    /// let mut rx = q.consumer()?;
    /// assert_eq!(rx.get()?, 1);
    /// assert_eq!(rx.get()?, 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn get(&mut self) -> Result<T, GetError> {
        self.get_with(Wait::Block)
    }

    /// Takes the oldest value if there is one now.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if there is none; as [`get`](Consumer::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Queue};
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// let mut rx = q.consumer()?;
    /// assert_eq!(rx.try_get(), Err(GetError::Empty));
    /// q.put(5)?; // producers are not held up by the consumer
    /// assert_eq!(rx.try_get(), Ok(5));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn try_get(&mut self) -> Result<T, GetError> {
        self.get_with(Wait::Never)
    }

    /// Takes the oldest value, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`]; as [`get`](Consumer::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Process, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u64>::new(16)?;
    /// let mut rx = q.consumer()?;
    /// let child = Process::spawn(|| assert!(q.put_many(&[1, 2, 3], None).is_ok()))?;
    /// let mut sum = 0;
    /// for _ in 0..3 {
    ///     sum += rx.get_timeout(Duration::from_secs(5))?;
    /// }
    /// assert_eq!(sum, 6);
    /// assert_eq!(rx.get_timeout(Duration::from_millis(5)), Err(GetError::Timeout));
    /// assert_eq!(child.join_timeout(Duration::from_secs(5))?, Some(0));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<T, GetError> {
        self.get_with(Wait::timeout(Some(timeout)))
    }

    /// Takes between 1 and `out.len()` values, oldest first, with one
    /// commit, waiting at most `timeout` (`None`: as long as it takes) for
    /// the first. Returns how many (0 at once if `out` is empty).
    ///
    /// # Errors
    ///
    /// As [`Queue::get_many`](super::Queue::get_many).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = shmsync::Queue::<u32>::new(8)?;
    /// let mut rx = q.consumer()?;
    /// q.put_many(&[1, 2, 3], None)?;
    /// let mut out = [0; 8];
    /// let n = rx.get_many(&mut out, Some(Duration::from_millis(5)))?;
    /// assert_eq!(out[..n], [1, 2, 3]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_many(
        &mut self,
        out: &mut [T],
        timeout: Option<Duration>,
    ) -> Result<usize, GetError> {
        if out.is_empty() {
            return Ok(0);
        }
        let ring = self.ring;
        ring.pop_slots(
            self.side(),
            bytemuck::cast_slice_mut(out),
            Wait::timeout(timeout),
        )
        .map_err(|fail| fail.get())
    }

    #[inline]
    fn get_with(&mut self, wait: Wait) -> Result<T, GetError> {
        let ring = self.ring;
        ring.pop_value(self.side(), wait).map_err(|fail| fail.get())
    }

    /// Whether this handle took the side over from a consumer that died
    /// holding it.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Queue;
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// q.put(1)?;
    /// // A thread that ends holding the side (it forgets its handle).
    /// std::thread::scope(|s| {
    ///     s.spawn(|| q.consumer().map(std::mem::forget));
    /// });
    /// let mut rx = q.consumer_timeout(Duration::from_secs(2))?;
    /// assert!(rx.took_over());
    /// assert_eq!(rx.get()?, 1, "nothing lost");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn took_over(&self) -> bool {
        self.side.as_ref().is_some_and(Consuming::took_over)
    }
}

impl<T: Pod> Drop for Consumer<'_, T> {
    fn drop(&mut self) {
        if !self.made_in.is_here() {
            // A forked copy: the side is the parent's.
            return;
        }
        if let Some(side) = self.side.take() {
            self.ring.raw().release_consuming(side);
        }
    }
}

impl<T: Pod> fmt::Debug for Producer<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer").finish_non_exhaustive()
    }
}

impl<T: Pod> fmt::Debug for Consumer<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer").finish_non_exhaustive()
    }
}
