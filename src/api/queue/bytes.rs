//! `ByteQueue`: messages of any length in one byte ring, as length-framed
//! records (not capacity × largest-message slots), and, with the `serde`
//! feature, any serde value encoded with postcard.

use super::error::{GetError, PutError};
use super::ops::{Backoff, Fail};
use super::shared::{Ring, Shape, Wait};
use crate::api::error::Error;
use crate::ring::{record_size, RingError, FIRST, LAST};
use crate::shm::Segment;
use std::fmt;
use std::time::Duration;

/// A bounded FIFO queue of byte messages of any length, shared between
/// processes: the queue under Python's pickled objects.
///
/// The queue is one ring of bytes (its capacity, rounded up to a power of
/// two); each message takes 8 bytes of header plus its length rounded up
/// to 8, so many small messages or a few large ones fit the same ring. A
/// message longer than the ring can ever hold is an error that names both
/// sizes, never a wait. Every handle has a largest message (by default the
/// creator's, at most what the ring holds): a get never allocates more
/// than that, whatever length a peer wrote into the ring.
///
/// With the `serde` feature, `put_value` and `get_value` carry any serde
/// value (postcard
/// encoding, done before the queue's lock is taken and decoded after it is
/// released).
///
/// Puts, gets, shutdown and crashes behave as for [`Queue`](crate::Queue).
///
/// # Examples
///
/// ```
/// use shmsync::{ByteQueue, Process};
///
/// let q = ByteQueue::new(4096)?;
/// let child = Process::spawn(|| {
///     q.put(b"hello").unwrap();
///     q.put(&[7; 1000]).unwrap();
/// })?;
/// assert_eq!(q.get()?, b"hello");
/// assert_eq!(q.get()?.len(), 1000);
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ByteQueue {
    pub(crate) ring: Ring,
    /// This handle's largest message.
    max_message: u32,
}

impl ByteQueue {
    /// An empty queue of at least `capacity` bytes (rounded up to a power
    /// of two, at least 16) in its own shared mapping; messages may be as
    /// long as the ring holds (its capacity less 8).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] if `capacity` is 0 or above 1 GiB;
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ByteQueue;
    ///
    /// let q = ByteQueue::new(1000)?;
    /// assert_eq!(q.capacity(), 1024);
    /// assert_eq!(q.max_message(), 1016);
    /// q.put(&[1; 1016])?;
    /// assert_eq!(q.get()?.len(), 1016);
    /// assert_eq!(ByteQueue::new(1)?.capacity(), 16);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(capacity: usize) -> Result<ByteQueue, Error> {
        ByteQueue::with_max_message(capacity, usize::MAX)
    }

    /// [`ByteQueue::new`] whose messages are at most `max_message` bytes:
    /// longer puts fail, and no get allocates more.
    ///
    /// # Errors
    ///
    /// As [`ByteQueue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, PutError};
    ///
    /// let q = ByteQueue::with_max_message(1 << 16, 100)?;
    /// assert!(matches!(
    ///     q.put(&[0; 101]),
    ///     Err(PutError::TooLarge { len: 101, capacity: 100, .. })
    /// ));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn with_max_message(capacity: usize, max_message: usize) -> Result<ByteQueue, Error> {
        let shape = Shape::records(capacity, Some(max_message))?;
        let ring = Ring::new(shape)?;
        Ok(ByteQueue {
            max_message: shape.max_message,
            ring,
        })
    }

    /// The byte queue called `name` in `segment`, made with `capacity` (and
    /// `max_message`, `None` for the most the ring holds) if no process has
    /// made it yet. A process that finds it made uses `max_message` as its
    /// own largest message, or the creator's if `None`. The bound is each
    /// handle's own: a message longer than a getter's bound is dropped by
    /// that getter ([`GetError::TooLarge`]), so a process that puts larger
    /// messages than the others take loses them. Pass `None` to agree with
    /// the creator.
    ///
    /// # Errors
    ///
    /// As [`Queue::get_or_init_in`](crate::Queue::get_or_init_in).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, Segment};
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let a = ByteQueue::get_or_init_in(&seg, "log", 4096, Some(256))?;
    /// let b = ByteQueue::get_or_init_in(&seg, "log", 4096, None)?; // another process would
    /// assert_eq!(b.max_message(), 256, "the creator's");
    /// a.put(b"started")?;
    /// assert_eq!(b.get()?, b"started");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_or_init_in(
        segment: &Segment,
        name: &str,
        capacity: usize,
        max_message: Option<usize>,
    ) -> Result<ByteQueue, Error> {
        ByteQueue::in_segment(segment, name, capacity, max_message, true)
    }

    /// The byte queue called `name` in `segment`, made by another process.
    ///
    /// # Errors
    ///
    /// As [`Queue::open_in`](crate::Queue::open_in).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, Error, Segment, SegmentError};
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let missing = ByteQueue::open_in(&seg, "log", 4096, None);
    /// assert!(matches!(missing, Err(Error::Segment(SegmentError::NoSuchObject { .. }))));
    /// let made = ByteQueue::get_or_init_in(&seg, "log", 4096, None)?;
    /// let small = ByteQueue::open_in(&seg, "log", 4096, Some(64))?;
    /// assert_eq!(small.max_message(), 64);
    /// made.put(b"hi")?;
    /// assert_eq!(small.get()?, b"hi");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(
        segment: &Segment,
        name: &str,
        capacity: usize,
        max_message: Option<usize>,
    ) -> Result<ByteQueue, Error> {
        ByteQueue::in_segment(segment, name, capacity, max_message, false)
    }

    fn in_segment(
        segment: &Segment,
        name: &str,
        capacity: usize,
        max_message: Option<usize>,
        create: bool,
    ) -> Result<ByteQueue, Error> {
        let shape = Shape::records(capacity, max_message)?;
        let ring = Ring::in_segment(segment, name, shape, create, "shmsync::ByteQueue")?;
        let max_message = match max_message {
            Some(_) => shape.max_message,
            None => ring.shared_max_message(),
        };
        Ok(ByteQueue { ring, max_message })
    }

    /// Puts `msg`, waiting as long as it takes for room for all of it.
    ///
    /// # Errors
    ///
    /// [`PutError::TooLarge`] if `msg` is longer than this handle's
    /// largest message (or the ring); [`PutError::ShutDown`];
    /// [`PutError::Corrupted`]. The caller keeps `msg`: the errors hold
    /// `()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::ByteQueue::new(4096)?;
    /// let msg = vec![1u8, 2, 3];
    /// q.put(&msg)?; // the caller keeps `msg`
    /// q.put(b"")?; // an empty message is a message
    /// assert_eq!(q.get()?, msg);
    /// assert_eq!(q.get()?, b"");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put(&self, msg: &[u8]) -> Result<(), PutError<()>> {
        self.put_with(msg, Wait::Block).map_err(|f| f.put(()))
    }

    /// Puts `msg` if there is room for it now.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if there is not; as [`put`](ByteQueue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, PutError};
    ///
    /// let q = ByteQueue::new(64)?;
    /// q.try_put(&[0; 48])?; // 56 bytes of the 64, with its header
    /// assert!(matches!(q.try_put(b"more"), Err(PutError::Full(()))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn try_put(&self, msg: &[u8]) -> Result<(), PutError<()>> {
        self.put_with(msg, Wait::Never).map_err(|f| f.put(()))
    }

    /// Puts `msg`, waiting at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutError::Timeout`]; as [`put`](ByteQueue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, PutError};
    /// use std::time::Duration;
    ///
    /// let q = ByteQueue::new(64)?;
    /// q.put_timeout(&[0; 48], Duration::from_millis(10))?;
    /// let late = q.put_timeout(b"more", Duration::from_millis(10));
    /// assert!(matches!(late, Err(PutError::Timeout(()))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put_timeout(&self, msg: &[u8], timeout: Duration) -> Result<(), PutError<()>> {
        self.put_with(msg, Wait::timeout(Some(timeout)))
            .map_err(|f| f.put(()))
    }

    fn put_with(&self, msg: &[u8], wait: Wait) -> Result<(), Fail> {
        let wait = wait.resolve();
        if msg.len() > self.max_message as usize {
            return Err(Fail::Ring(RingError::TooLarge {
                len: msg.len(),
                capacity: self.max_message as usize,
            }));
        }
        // Fits: at most the ring's capacity less the header.
        let need = record_size(msg.len() as u32).unwrap_or(u32::MAX);
        let raw = self.ring.raw();
        let mut side = self.ring.take_producing(wait)?;
        let mut backoff = Backoff::new(wait);
        let result = loop {
            match raw.try_push_record(&self.ring.buf, &mut side, FIRST | LAST, &[msg]) {
                Ok(true) => break Ok(()),
                Ok(false) => {}
                Err(e) => break Err(e.into()),
            }
            if backoff.pause() {
                continue;
            }
            let Some(deadline) = wait.data_deadline() else {
                break Err(Fail::NotNow);
            };
            match raw.wait_for_room_for(&mut side, need, deadline) {
                Ok(true) => {}
                Ok(false) => break Err(Fail::Timeout),
                Err(e) => break Err(e.into()),
            }
        };
        raw.release_producing(side);
        result
    }

    /// Takes the oldest message, waiting as long as it takes for one.
    ///
    /// # Errors
    ///
    /// [`GetError::ShutDown`] once the queue is shut down and empty;
    /// [`GetError::TooLarge`] if the message is longer than this handle's
    /// largest (it is dropped unread); [`GetError::Corrupted`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::ByteQueue::new(4096)?;
    /// q.put(b"first")?;
    /// q.put(&[9; 300])?;
    /// assert_eq!(q.get()?, b"first");
    /// assert_eq!(q.get()?, [9; 300]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get(&self) -> Result<Vec<u8>, GetError> {
        self.get_with(Wait::Block).map_err(Fail::get)?
    }

    /// Takes the oldest message if there is one now.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if there is none; as [`get`](ByteQueue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, GetError};
    ///
    /// let q = ByteQueue::new(4096)?;
    /// assert_eq!(q.try_get(), Err(GetError::Empty));
    /// q.put(b"x")?;
    /// assert_eq!(q.try_get()?, b"x");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn try_get(&self) -> Result<Vec<u8>, GetError> {
        self.get_with(Wait::Never).map_err(Fail::get)?
    }

    /// Takes the oldest message, waiting at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`]; as [`get`](ByteQueue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, GetError, Process};
    /// use std::time::Duration;
    ///
    /// let q = ByteQueue::new(4096)?;
    /// assert_eq!(q.get_timeout(Duration::from_millis(5)), Err(GetError::Timeout));
    /// let child = Process::spawn(|| assert!(q.put(b"done").is_ok()))?;
    /// assert_eq!(q.get_timeout(Duration::from_secs(5))?, b"done");
    /// assert_eq!(child.join_timeout(Duration::from_secs(5))?, Some(0));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<Vec<u8>, GetError> {
        self.get_with(Wait::timeout(Some(timeout)))
            .map_err(Fail::get)?
    }

    /// The outer error is the ring's; the inner one a message refused.
    fn get_with(&self, wait: Wait) -> Result<Result<Vec<u8>, GetError>, Fail> {
        let wait = wait.resolve();
        let raw = self.ring.raw();
        let buf = &self.ring.buf;
        let mut side = self.ring.take_consuming(wait)?;
        let held_off = self.ring.before_first_get(&mut side, wait);
        let mut backoff = self.ring.pace.backoff(wait);
        let mut waited = false;
        let result = loop {
            let record = match raw.peek_record(buf, &mut side) {
                Ok(Some(record)) => {
                    if waited {
                        let size = record_size(record.len).unwrap_or(u32::MAX);
                        let alone = side.available() <= size;
                        self.ring.pace.settle(alone);
                    } else if held_off {
                        self.ring.pace.found_at_once();
                    }
                    record
                }
                Ok(None) => {
                    waited = true;
                    if backoff.pause() {
                        continue;
                    }
                    let Some(deadline) = wait.data_deadline() else {
                        break Err(Fail::NotNow);
                    };
                    match raw.wait_for_data(&mut side, deadline) {
                        Ok(true) => continue,
                        Ok(false) => break Err(Fail::Timeout),
                        Err(e) => break Err(e.into()),
                    }
                }
                Err(e) => break Err(e.into()),
            };
            if !record.is_first() || !record.is_last() {
                break Err(Fail::Ring(RingError::Corrupted(
                    "a queue record that is part of a message",
                )));
            }
            // The length is a peer's word: allocate only within this
            // handle's bound, and drop what exceeds it.
            if record.len > self.max_message {
                raw.pop_record(&mut side, record);
                break Ok(Err(GetError::TooLarge {
                    len: record.len as usize,
                    max: self.max_message as usize,
                }));
            }
            let mut msg = vec![0; record.len as usize];
            match raw.read_record(buf, &side, record, 0, &mut msg) {
                Ok(()) => {
                    raw.pop_record(&mut side, record);
                    break Ok(Ok(msg));
                }
                Err(e) => break Err(e.into()),
            }
        };
        raw.release_consuming(side);
        result
    }

    /// Shuts the queue down; see [`Queue::shutdown`](crate::Queue::shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, GetError};
    ///
    /// let q = ByteQueue::new(4096)?;
    /// q.put(b"last")?;
    /// q.shutdown(false);
    /// assert!(q.put(b"late").unwrap_err().is_shut_down());
    /// assert_eq!(q.get()?, b"last");
    /// assert_eq!(q.get(), Err(GetError::ShutDown));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        self.ring.shut_down(immediate);
    }

    /// Whether the queue was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::ByteQueue::new(64)?;
    /// assert!(!q.is_shut_down());
    /// q.shutdown(true);
    /// assert!(q.is_shut_down());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.ring.raw().is_shut_down()
    }

    /// This handle stops using the queue; see [`Queue::close`](crate::Queue::close).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::ByteQueue::new(64)?;
    /// let other = q.clone();
    /// q.put(b"kept")?;
    /// q.close();
    /// assert_eq!(other.get()?, b"kept");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn close(self) {}

    /// Bytes the queue's messages take now, headers and padding included
    /// (a snapshot; 0 after an immediate shutdown).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::ByteQueue::new(4096)?;
    /// q.put(b"hello")?; // 8 bytes of header, then 5 rounded up to 8
    /// assert_eq!(q.bytes_used(), 16);
    /// q.put(b"")?;
    /// assert_eq!(q.bytes_used(), 24);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn bytes_used(&self) -> usize {
        self.ring.len() as usize
    }

    /// Whether the queue holds no message now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::ByteQueue::new(64)?;
    /// assert!(q.empty());
    /// q.put(b"")?;
    /// assert!(!q.empty(), "an empty message is still a message");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn empty(&self) -> bool {
        self.bytes_used() == 0
    }

    /// The ring's size in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ByteQueue;
    ///
    /// assert_eq!(ByteQueue::new(3000)?.capacity(), 4096);
    /// assert_eq!(ByteQueue::new(4096)?.capacity(), 4096);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.geo.capacity as usize
    }

    /// This handle's largest message, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, GetError, Segment};
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let big = ByteQueue::get_or_init_in(&seg, "q", 4096, None)?;
    /// let small = ByteQueue::open_in(&seg, "q", 4096, Some(16))?;
    /// assert_eq!((big.max_message(), small.max_message()), (4088, 16));
    /// big.put(&[0; 100])?;
    /// assert_eq!(small.get(), Err(GetError::TooLarge { len: 100, max: 16 }));
    /// assert!(big.empty(), "dropped unread");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn max_message(&self) -> usize {
        self.max_message as usize
    }
}

#[cfg(fuzzing)]
impl ByteQueue {
    /// The differential fuzz hook: bytes decoded into puts, gets, batches,
    /// handles and shutdowns on a `Queue<u32>` and a `ByteQueue`, checked
    /// against a `VecDeque`.
    #[doc(hidden)]
    pub fn fuzz_ops(data: &[u8]) {
        super::fuzz::differential(data);
    }

    /// The hostile fuzz hook: operations with random bytes written into
    /// the queues' shared state and buffers between them.
    #[doc(hidden)]
    pub fn fuzz_hostile(data: &[u8]) {
        super::fuzz::hostile(data);
    }
}

#[cfg(feature = "serde")]
impl ByteQueue {
    /// Encodes `value` with postcard (before taking the queue's lock) and
    /// puts it, waiting as long as it takes for room.
    ///
    /// # Errors
    ///
    /// [`PutError::Encode`] if postcard cannot encode it; otherwise as
    /// [`put`](ByteQueue::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// let q = shmsync::ByteQueue::new(4096)?;
    /// let job = (String::from("resize"), vec![640u32, 480], BTreeMap::from([(1u8, 'x')]));
    /// q.put_value(&job)?;
    /// let got: (String, Vec<u32>, BTreeMap<u8, char>) = q.get_value()?;
    /// assert_eq!(got, job);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_value<V: serde::Serialize + ?Sized>(&self, value: &V) -> Result<(), PutError<()>> {
        self.put_value_with(value, Wait::Block)
    }

    /// [`put_value`](ByteQueue::put_value), waiting at most `timeout` for
    /// room (zero: not at all).
    ///
    /// # Errors
    ///
    /// [`PutError::Timeout`] if there is still no room when the time runs
    /// out (a zero timeout included, as for
    /// [`put_timeout`](ByteQueue::put_timeout); [`try_put`](ByteQueue::try_put)
    /// says [`PutError::Full`]); otherwise as
    /// [`put_value`](ByteQueue::put_value).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, PutError};
    /// use std::time::Duration;
    ///
    /// let q = ByteQueue::new(64)?;
    /// q.put_value_timeout(&"x".repeat(40), Duration::ZERO)?;
    /// let now = q.put_value_timeout("y", Duration::ZERO);
    /// assert!(matches!(now, Err(PutError::Timeout(()))));
    /// let later = q.put_value_timeout("y", Duration::from_millis(5));
    /// assert!(matches!(later, Err(PutError::Timeout(()))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn put_value_timeout<V: serde::Serialize + ?Sized>(
        &self,
        value: &V,
        timeout: Duration,
    ) -> Result<(), PutError<()>> {
        self.put_value_with(value, Wait::timeout(Some(timeout)))
    }

    fn put_value_with<V: serde::Serialize + ?Sized>(
        &self,
        value: &V,
        wait: Wait,
    ) -> Result<(), PutError<()>> {
        let bytes =
            postcard::to_allocvec(value).map_err(|error| PutError::Encode { value: (), error })?;
        self.put_with(&bytes, wait).map_err(|f| f.put(()))
    }

    /// Takes the oldest message and decodes it as a `V` (after giving the
    /// queue's lock back), waiting as long as it takes for one.
    ///
    /// # Errors
    ///
    /// [`GetError::Decode`] if the message is not a `V` in postcard's
    /// encoding, or is one with bytes left over (a `(u8, &str)` got as a
    /// `u8`); it is taken nonetheless. Otherwise as
    /// [`get`](ByteQueue::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, GetError};
    ///
    /// let q = ByteQueue::new(4096)?;
    /// q.put_value(&(7u8, "seven"))?;
    /// let (n, name): (u8, String) = q.get_value()?;
    /// assert_eq!((n, name.as_str()), (7, "seven"));
    /// q.put(&[0xff; 8])?; // not a u32 in postcard's encoding
    /// assert!(matches!(q.get_value::<u32>(), Err(GetError::Decode(_))));
    /// assert!(q.empty(), "taken nonetheless");
    /// q.put_value(&(7u8, "seven"))?;
    /// assert!(matches!(q.get_value::<u8>(), Err(GetError::Decode(_))), "a pair is not a u8");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_value<V: serde::de::DeserializeOwned>(&self) -> Result<V, GetError> {
        decode(self.get()?)
    }

    /// [`get_value`](ByteQueue::get_value), waiting at most `timeout` for a
    /// message (zero: not at all).
    ///
    /// # Errors
    ///
    /// [`GetError::Timeout`] if nothing came before the time ran out (a
    /// zero timeout included, as for [`get_timeout`](ByteQueue::get_timeout);
    /// [`try_get`](ByteQueue::try_get) says [`GetError::Empty`]); otherwise
    /// as [`get_value`](ByteQueue::get_value).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{ByteQueue, GetError};
    /// use std::time::Duration;
    ///
    /// let q = ByteQueue::new(4096)?;
    /// assert_eq!(q.get_value_timeout::<u32>(Duration::ZERO), Err(GetError::Timeout));
    /// let briefly = Duration::from_millis(5);
    /// assert_eq!(q.get_value_timeout::<u32>(briefly), Err(GetError::Timeout));
    /// q.put_value(&vec![1.5f64, 2.5])?;
    /// let got: Vec<f64> = q.get_value_timeout(Duration::from_secs(1))?;
    /// assert_eq!(got, [1.5, 2.5]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_value_timeout<V: serde::de::DeserializeOwned>(
        &self,
        timeout: Duration,
    ) -> Result<V, GetError> {
        decode(self.get_timeout(timeout)?)
    }
}

#[cfg(feature = "serde")]
fn decode<V: serde::de::DeserializeOwned>(msg: Vec<u8>) -> Result<V, GetError> {
    crate::api::codec::decode_whole(&msg).map_err(GetError::Decode)
}

impl fmt::Debug for ByteQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteQueue")
            .field("bytes_used", &self.bytes_used())
            .field("capacity", &self.capacity())
            .field("max_message", &self.max_message)
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}
