//! `Queue<T>`: Python's `multiprocessing.Queue` for `Pod` values, in a ring
//! of fixed-size slots.

use super::error::{GetError, HandleError, PutError};
use super::handles::{Consumer, Producer};
use super::shared::{Ring, Shape, Wait};
use crate::api::error::Error;
use crate::shm::Segment;
use bytemuck::Pod;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A bounded FIFO queue of `T` shared between processes: Python's
/// `multiprocessing.Queue`, for plain-data values.
///
/// The capacity is fixed at creation. Every handle (clones, and the copies
/// a forked child inherits) refers to the same queue. Values are copied in
/// and out byte for byte (`T: Pod`): no pointers can cross, any bytes are a
/// valid `T`.
///
/// Any number of processes may put and get at once: producers are
/// serialized among themselves by one lock, consumers by another, and the
/// two sides never wait for each other except on a full or empty queue
/// (see [`crate::ring`]). A put or get made while nobody waits makes no
/// system call. A process killed at any instant leaves the queue usable:
/// the next producer (consumer) takes the side over within about 100 ms,
/// every message whose `put` returned is delivered exactly once (unless the
/// consumer that took it died before its `get` returned), and each
/// producer's messages stay in order.
///
/// For one producer and one consumer, [`producer`](Queue::producer) and
/// [`consumer`](Queue::consumer) hold their side for their lifetime: no
/// atomic read-modify-write per message at all.
///
/// # Waiting
///
/// A put on a full queue (a get on an empty one) holds its side and looks
/// again after pauses that grow from about half a microsecond to a few
/// (so that a stream does not pull the other side's cache lines away on
/// every message), then yields its CPU a few times, then spins within the
/// process's spin bound ([`set_spin_duration`](crate::set_spin_duration))
/// and finally sleeps on a futex word until the other side's next commit
/// or a shutdown wakes it. With `set_spin_duration(Duration::ZERO)` it
/// goes to sleep at once. A put or get that needs no wait makes no system
/// call; one that wakes a sleeper makes one.
///
/// A handle whose last get waited for a message that came alone (the
/// answer to a request, say) waits eagerly instead: its next get pauses a
/// few spin hints before its first look (giving the answer time to be
/// written), then looks after every hint, so that a request and its
/// answer through two queues take a couple of hundred nanoseconds, not a
/// pause more. A wait that finds a batch returns it to the longer pauses,
/// and a get that keeps finding its message there at once soon stops
/// pausing first. Messages longer than 256 bytes do not change the pace.
///
/// # Python's names
///
/// | Python | here |
/// |---|---|
/// | `put(obj)`, `put(obj, timeout=t)`, `put_nowait(obj)` | [`put`](Queue::put), [`put_timeout`](Queue::put_timeout), [`try_put`](Queue::try_put) |
/// | `get()`, `get(timeout=t)`, `get_nowait()` | [`get`](Queue::get), [`get_timeout`](Queue::get_timeout), [`try_get`](Queue::try_get) |
/// | `qsize()`, `empty()`, `full()` | [`qsize`](Queue::qsize), [`empty`](Queue::empty), [`full`](Queue::full) |
/// | `shutdown(immediate)` (3.13, `queue.Queue`) | [`shutdown`](Queue::shutdown) |
/// | `close()`: this process stops using the queue | [`close`](Queue::close) (or drop the handle) |
/// | `join_thread()`, `cancel_join_thread()` | not needed: there is no feeder thread, a put has happened when it returns |
///
/// # Examples
///
/// ```
/// use shmsync::{Process, Queue};
///
/// let q = Queue::<u64>::new(16)?;
/// let child = Process::spawn(|| {
///     for i in 0..100 {
///         q.put(i).unwrap();
///     }
/// })?;
/// let sum: u64 = (0..100).map(|_| q.get().unwrap()).sum();
/// assert_eq!(sum, 4950);
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Queue<T: Pod> {
    pub(crate) ring: Ring,
    _items: PhantomData<fn(T) -> T>,
}

impl<T: Pod> Queue<T> {
    /// An empty queue of at most `capacity` items, in its own shared
    /// mapping: children forked afterwards share it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `capacity` is 0 or above 2³⁰, or `T`
    /// has no bytes; [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<[u32; 4]>::new(100)?;
    /// assert_eq!(q.capacity(), 100);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(capacity: usize) -> Result<Queue<T>, Error> {
        Ok(Queue::from_ring(Ring::new(Queue::<T>::shape(capacity)?)?))
    }

    /// The queue called `name` in `segment`, made empty with `capacity` if
    /// no process has made it yet: how unrelated processes share a queue.
    /// Every process must ask with the same `T` and `capacity`.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] with [`SegmentError::TypeMismatch`] if the name
    /// holds something else (another item size or capacity), or the
    /// segment's other errors ([`Segment::get_or_init`]); as
    /// [`Queue::new`] for the arguments.
    ///
    /// [`SegmentError::TypeMismatch`]: crate::SegmentError::TypeMismatch
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Queue, Segment};
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let a = Queue::<u32>::get_or_init_in(&seg, "jobs", 8)?;
    /// let b = Queue::<u32>::open_in(&seg, "jobs", 8)?; // another process would
    /// a.put(7)?;
    /// assert_eq!(b.get()?, 7);
    /// assert!(Queue::<u64>::open_in(&seg, "jobs", 8).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_or_init_in(segment: &Segment, name: &str, capacity: usize) -> Result<Self, Error> {
        let shape = Queue::<T>::shape(capacity)?;
        Ring::in_segment(segment, name, shape, true, core::any::type_name::<Self>())
            .map(Queue::from_ring)
    }

    /// The queue called `name` in `segment`, which another process made
    /// with [`get_or_init_in`](Queue::get_or_init_in).
    ///
    /// # Errors
    ///
    /// As [`get_or_init_in`](Queue::get_or_init_in), and
    /// [`SegmentError::NoSuchObject`](crate::SegmentError::NoSuchObject)
    /// if nobody made it.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Error, Queue, Segment, SegmentError};
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let missing = Queue::<u32>::open_in(&seg, "jobs", 8);
    /// assert!(matches!(missing, Err(Error::Segment(SegmentError::NoSuchObject { .. }))));
    /// let made = Queue::<u32>::get_or_init_in(&seg, "jobs", 8)?;
    /// let found = Queue::<u32>::open_in(&seg, "jobs", 8)?;
    /// made.put(3)?;
    /// assert_eq!(found.get()?, 3);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, capacity: usize) -> Result<Self, Error> {
        let shape = Queue::<T>::shape(capacity)?;
        Ring::in_segment(segment, name, shape, false, core::any::type_name::<Self>())
            .map(Queue::from_ring)
    }

    fn shape(capacity: usize) -> Result<Shape, Error> {
        Shape::slots(capacity, core::mem::size_of::<T>())
    }

    pub(crate) fn from_ring(ring: Ring) -> Queue<T> {
        Queue {
            ring,
            _items: PhantomData,
        }
    }

    /// Puts `value`, waiting as long as it takes for room.
    ///
    /// # Errors
    ///
    /// [`PutError::ShutDown`] after a shutdown; [`PutError::Corrupted`] if
    /// the shared state was overwritten. The value comes back in either.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(1)?;
    /// q.put(1)?;
    /// q.shutdown(false);
    /// assert!(q.put(2).unwrap_err().is_shut_down());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn put(&self, value: T) -> Result<(), PutError<T>> {
        self.put_with(value, Wait::Block)
    }

    /// Puts `value` if there is room now: Python's `put_nowait`.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if there is no room now (or the producing side
    /// stays held by an exclusive [`Producer`] or a blocked put, which
    /// means the same); otherwise as [`put`](Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PutError, Queue};
    ///
    /// let q = Queue::<u8>::new(1)?;
    /// q.try_put(1)?;
    /// assert!(matches!(q.try_put(2), Err(PutError::Full(2))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn try_put(&self, value: T) -> Result<(), PutError<T>> {
        self.put_with(value, Wait::Never)
    }

    /// Puts `value`, waiting at most `timeout` for room (and for the
    /// producing side).
    ///
    /// # Errors
    ///
    /// [`PutError::Timeout`] if the time ran out; otherwise as
    /// [`put`](Queue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PutError, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u8>::new(1)?;
    /// q.put_timeout(1, Duration::from_millis(10))?;
    /// let late = q.put_timeout(2, Duration::from_millis(10));
    /// assert!(matches!(late, Err(PutError::Timeout(2))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put_timeout(&self, value: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_with(value, Wait::timeout(Some(timeout)))
    }

    #[inline]
    fn put_with(&self, value: T, wait: Wait) -> Result<(), PutError<T>> {
        self.ring
            .put_value(&value, wait)
            .map_err(|fail| fail.put(value))
    }

    /// Takes the oldest value, waiting as long as it takes for one.
    ///
    /// # Errors
    ///
    /// [`GetError::ShutDown`] once the queue is shut down and empty (at
    /// once after an immediate shutdown); [`GetError::Corrupted`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Queue};
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.get()?, 1); // oldest first
    /// assert_eq!(q.get()?, 2);
    /// q.shutdown(false);
    /// assert_eq!(q.get(), Err(GetError::ShutDown)); // shut down and empty: no wait
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn get(&self) -> Result<T, GetError> {
        self.get_with(Wait::Block)
    }

    /// Takes the oldest value if there is one now: Python's `get_nowait`.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if there is none now (or the consuming side
    /// stays held by an exclusive [`Consumer`] or a blocked get); otherwise
    /// as [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Queue};
    ///
    /// let q = Queue::<u8>::new(1)?;
    /// assert_eq!(q.try_get(), Err(GetError::Empty));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn try_get(&self) -> Result<T, GetError> {
        self.get_with(Wait::Never)
    }

    /// Takes the oldest value, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`] if the time ran out; otherwise as
    /// [`get`](Queue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Process, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// assert_eq!(q.get_timeout(Duration::from_millis(5)), Err(GetError::Timeout));
    /// let child = Process::spawn(|| assert!(q.put(42).is_ok()))?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, 42);
    /// assert_eq!(child.join_timeout(Duration::from_secs(5))?, Some(0));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_with(Wait::timeout(Some(timeout)))
    }

    #[inline]
    fn get_with(&self, wait: Wait) -> Result<T, GetError> {
        self.ring.get_value(wait).map_err(|fail| fail.get())
    }

    /// Puts every value of `values`, in order, under one hold of the
    /// producing side (no other producer's message comes between them),
    /// waiting for room as needed, at most `timeout` (`None`: as long as
    /// it takes).
    ///
    /// # Errors
    ///
    /// As [`put_timeout`](Queue::put_timeout) (or [`put`](Queue::put)),
    /// holding how many values were put before the failure.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u16>::new(8)?;
    /// q.put_many(&[1, 2, 3], None)?;
    /// let mut out = [0; 8];
    /// assert_eq!(q.get_many(&mut out, None)?, 3);
    /// assert_eq!(out[..3], [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_many(&self, values: &[T], timeout: Option<Duration>) -> Result<(), PutError<usize>> {
        self.ring
            .put_slots(bytemuck::cast_slice(values), Wait::timeout(timeout))
            .map_err(|(done, fail)| fail.put(done))
    }

    /// Takes between 1 and `out.len()` values, oldest first, into `out`
    /// under one hold of the consuming side and with one commit; waits at
    /// most `timeout` (`None`: as long as it takes) for the first. Returns
    /// how many (0 at once if `out` is empty).
    ///
    /// # Errors
    ///
    /// As [`get_timeout`](Queue::get_timeout) (or [`get`](Queue::get)).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(8)?;
    /// q.put_many(&[1, 2, 3], None)?;
    /// let mut out = [0; 2];
    /// assert_eq!(q.get_many(&mut out, None)?, 2);
    /// assert_eq!(out, [1, 2]);
    /// let briefly = Some(Duration::from_millis(5));
    /// assert_eq!(q.get_many(&mut out, briefly)?, 1);
    /// assert_eq!(out[0], 3);
    /// assert_eq!(q.get_many(&mut out, briefly), Err(GetError::Timeout));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_many(&self, out: &mut [T], timeout: Option<Duration>) -> Result<usize, GetError> {
        if out.is_empty() {
            return Ok(0);
        }
        self.ring
            .get_slots(bytemuck::cast_slice_mut(out), Wait::timeout(timeout))
            .map_err(|fail| fail.get())
    }

    /// The exclusive producer: holds the producing side until dropped, so
    /// its puts cost no atomic read-modify-write. Waits only within the
    /// spin bound for a put or `put_many` of another thread to finish.
    ///
    /// The handle is `!Send`: the side's lock records this thread. While
    /// it lives, other producers wait (their `try_put` says `Full`), and
    /// this thread must put through it: a plain [`put`](Queue::put) (or
    /// `put_timeout`, or another `producer`) on the same thread would wait
    /// for itself, so it fails at once instead, with
    /// [`PutError::Timeout`] ([`HandleError::Busy`] naming this thread).
    /// The same goes for [`consumer`](Queue::consumer) and `get`. If its
    /// thread dies holding it,
    /// the next producer takes the side over within about 100 ms.
    ///
    /// # Errors
    ///
    /// [`HandleError::Busy`] if another handle (or a blocked put) holds the
    /// side, this thread's included; [`producer_timeout`](Queue::producer_timeout)
    /// waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Process, Queue};
    ///
    /// let q = Queue::<u64>::new(64)?;
    /// let child = Process::spawn(|| {
    ///     let mut tx = q.producer().unwrap();
    ///     for i in 0..1000 {
    ///         tx.put(i).unwrap();
    ///     }
    /// })?;
    /// let mut rx = q.consumer()?;
    /// for i in 0..1000 {
    ///     assert_eq!(rx.get()?, i);
    /// }
    /// assert!(q.consumer().is_err(), "one consumer handle at a time");
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producer(&self) -> Result<Producer<'_, T>, HandleError> {
        self.producer_with(Wait::Never)
    }

    /// [`producer`](Queue::producer), waiting at most `timeout` for the
    /// side to be free.
    ///
    /// # Errors
    ///
    /// [`HandleError::Busy`] if it is still held then.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{HandleError, Queue};
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// let first = q.producer()?;
    /// let second = q.producer_timeout(Duration::from_millis(5));
    /// assert!(matches!(second, Err(HandleError::Busy { .. })));
    /// drop(first);
    /// let mut tx = q.producer_timeout(Duration::from_millis(5))?;
    /// tx.put(1)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn producer_timeout(&self, timeout: Duration) -> Result<Producer<'_, T>, HandleError> {
        self.producer_with(Wait::timeout(Some(timeout)))
    }

    fn producer_with(&self, wait: Wait) -> Result<Producer<'_, T>, HandleError> {
        let side = self
            .ring
            .raw()
            .take_producing_checked(self.ring.geo, Some(wait.side_deadline()))
            .map_err(HandleError::from_ring)?;
        Ok(Producer::new(&self.ring, side))
    }

    /// The exclusive consumer; see [`producer`](Queue::producer).
    ///
    /// # Errors
    ///
    /// [`HandleError::Busy`] if another handle (or a blocked get) holds the
    /// side.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Queue};
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// q.put_many(&[1, 2], None)?;
    /// let mut rx = q.consumer()?;
    /// assert_eq!(rx.get()?, 1);
    /// assert_eq!(q.try_get(), Err(GetError::Empty), "the side is held");
    /// drop(rx);
    /// assert_eq!(q.try_get(), Ok(2));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn consumer(&self) -> Result<Consumer<'_, T>, HandleError> {
        self.consumer_with(Wait::Never)
    }

    /// [`consumer`](Queue::consumer), waiting at most `timeout` for the
    /// side to be free.
    ///
    /// # Errors
    ///
    /// [`HandleError::Busy`] if it is still held then.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Queue;
    /// use std::time::Duration;
    ///
    /// let q = Queue::<u32>::new(4)?;
    /// q.put(7)?;
    /// let first = q.consumer()?;
    /// assert!(q.consumer_timeout(Duration::from_millis(5)).is_err());
    /// drop(first);
    /// let mut rx = q.consumer_timeout(Duration::from_millis(5))?;
    /// assert_eq!(rx.get()?, 7);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn consumer_timeout(&self, timeout: Duration) -> Result<Consumer<'_, T>, HandleError> {
        self.consumer_with(Wait::timeout(Some(timeout)))
    }

    fn consumer_with(&self, wait: Wait) -> Result<Consumer<'_, T>, HandleError> {
        let side = self
            .ring
            .raw()
            .take_consuming_checked(self.ring.geo, Some(wait.side_deadline()))
            .map_err(HandleError::from_ring)?;
        Ok(Consumer::new(&self.ring, side))
    }

    /// Shuts the queue down, as Python 3.13's `Queue.shutdown`: later puts
    /// fail with `ShutDown`; gets take what is left, then fail with
    /// `ShutDown` (with `immediate`, at once: what is left is discarded).
    /// Every blocked producer and consumer, in every process, wakes now.
    /// A shutdown cannot be undone.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{GetError, Queue};
    ///
    /// let q = Queue::<u8>::new(4)?;
    /// q.put(1)?;
    /// q.shutdown(false);
    /// assert_eq!(q.get()?, 1);
    /// assert_eq!(q.get(), Err(GetError::ShutDown));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        self.ring.shut_down(immediate);
    }

    /// Whether the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(2)?;
    /// let other = q.clone();
    /// assert!(!q.is_shut_down());
    /// other.shutdown(false);
    /// assert!(q.is_shut_down(), "seen through every handle");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.ring.raw().is_shut_down()
    }

    /// Python's `close()`: this handle stops using the queue (its share of
    /// the mapping goes). Other handles and other processes are not
    /// affected, and nothing is lost: to stop everyone, use
    /// [`shutdown`](Queue::shutdown). The same as dropping the handle.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(2)?;
    /// let other = q.clone();
    /// q.put(5)?;
    /// q.close();
    /// assert_eq!(other.get()?, 5, "nothing lost");
    /// assert!(!other.is_shut_down());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn close(self) {}

    /// How many values the queue holds now (a snapshot; 0 after an
    /// immediate shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(4)?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// assert_eq!(q.qsize(), 2);
    /// q.shutdown(true);
    /// assert_eq!(q.qsize(), 0, "an immediate shutdown discards what is left");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn qsize(&self) -> usize {
        self.ring.len() as usize
    }

    /// Whether the queue holds nothing now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(4)?;
    /// assert!(q.empty());
    /// q.put(1)?;
    /// assert!(!q.empty());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Whether the queue holds `capacity` values now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u8>::new(2)?;
    /// q.put(1)?;
    /// assert!(!q.full());
    /// q.put(2)?;
    /// assert!(q.full());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn full(&self) -> bool {
        self.qsize() == self.capacity()
    }

    /// The most values the queue holds: Python's `maxsize`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::Queue::<u64>::new(10)?;
    /// assert_eq!(q.capacity(), 10);
    /// q.put_many(&[0; 10], None)?;
    /// assert!(q.full());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.geo.capacity as usize
    }
}

impl<T: Pod> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue::from_ring(self.ring.clone())
    }
}

impl<T: Pod> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("qsize", &self.qsize())
            .field("capacity", &self.capacity())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}
