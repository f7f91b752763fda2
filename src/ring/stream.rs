//! Messages of any length through a byte ring: one record when the message
//! fits the ring, a stream of records when it does not. The framing under
//! `Pipe`.
//!
//! # The framing
//!
//! A message whose record fits the ring ([`record_size`]`(len) <= capacity`)
//! is one record flagged [`FIRST`]` | `[`LAST`], committed with one store:
//! a reader never sees part of it. A longer message is cut into pieces of
//! at most a quarter of the ring (so that the writer fills one piece while
//! the reader empties another): the first record carries [`FIRST`] and, as
//! its first [`LENGTH_PREFIX`] payload bytes, the whole message's length
//! (`u64`, native order); the middle ones carry no flag; the last one
//! carries [`LAST`]. The writer holds the producing side from the first
//! piece to the last, so pieces of two messages never interleave.
//!
//! # What a reader can meet
//!
//! - A piece without [`FIRST`] where a message should start: the rest of a
//!   message whose reader died while taking it (it held the consuming side
//!   and had taken the first piece). [`RawRing::begin_message`] drops such
//!   pieces: that message went with its reader, as a message taken just
//!   before a death does.
//! - A [`FIRST`] piece where the rest of a message should be: its writer
//!   died (or gave up) in the middle, and another writer took the
//!   producing side over and began a message of its own.
//!   [`RawRing::next_piece`] says [`Piece::Interrupted`]; the new message
//!   stays in the ring, intact.
//! - No piece at all in the middle of a message: the writer is slow, or
//!   gone. [`RawRing::producer_abandoned`] tells the two apart (nobody
//!   alive holds the producing side); the caller decides how long to wait.
//! - Lengths that do not add up (a prefix shorter than the first piece,
//!   pieces past the length, a last piece before the end):
//!   [`RingError::Corrupted`]. A reader never returns a short message.
//!
//! Every length is read once into a local and checked against the ring's
//! committed bytes ([`RawRing::peek_record`]) and the message's stated
//! length before it is used; the caller sizes its buffers by lengths so
//! checked, and can bound them further (the reader's `max`).

use super::records::{record_size, Record, FIRST, HEADER, LAST, WHOLE};
use super::sides::{Consuming, Producing};
use super::state::{RawRing, RingError, SHUTDOWN};
use crate::shim::{self, Deadline, Ordering, RingBuf};

/// The bytes of the whole-message length that start a streamed message's
/// first record.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, RawRing, Record, FIRST, LENGTH_PREFIX};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// // A message longer than the ring: streamed; its first piece goes in.
/// ring.push_message(&buf, &mut tx, &[7u8; 100], &mut Outgoing::new())?;
/// let Some(first) = ring.peek_record(&buf, &mut rx)? else { panic!("a record is in") };
/// assert_eq!(first, Record { len: 56, flags: FIRST });
/// let mut len = [0u8; LENGTH_PREFIX];
/// ring.read_record(&buf, &rx, first, 0, &mut len)?;
/// assert_eq!(u64::from_ne_bytes(len), 100); // then 48 bytes of the message
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
pub const LENGTH_PREFIX: usize = 8;

/// A message on its way in: what has been committed of it.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, Pushed, RawRing};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// let (msg, mut out) = ([7u8; 100], Outgoing::new());
/// assert_eq!(ring.push_message(&buf, &mut tx, &msg, &mut out)?, Pushed::NeedRoom(64));
/// assert_eq!(out.sent(), 48);
/// if let Some(rec) = ring.peek_record(&buf, &mut rx)? {
///     ring.pop_record(&mut rx, rec); // a reader takes the piece (here: unread)
/// }
/// // The writer goes on where `out` says it stopped.
/// assert_eq!(ring.push_message(&buf, &mut tx, &msg, &mut out)?, Pushed::Done);
/// assert_eq!(out.sent(), 100);
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outgoing {
    sent: u64,
    started: bool,
}

impl Outgoing {
    /// A message not yet begun.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::Outgoing;
    ///
    /// let out = Outgoing::new();
    /// assert!(!out.is_started());
    /// assert_eq!(out.sent(), 0);
    /// assert_eq!(out, Outgoing::default());
    /// ```
    pub const fn new() -> Outgoing {
        Outgoing {
            sent: 0,
            started: false,
        }
    }

    /// Whether its first record is committed: from then on the message
    /// must be finished (or its reader will see it interrupted).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Pushed, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, b"hi", &mut Outgoing::new())?;
    /// let (msg, mut out) = ([7u8; 100], Outgoing::new());
    /// assert_eq!(ring.push_message(&buf, &mut tx, &msg, &mut out)?, Pushed::NeedRoom(64));
    /// assert!(!out.is_started()); // nothing committed: the writer may give up
    /// if let Some(rec) = ring.peek_record(&buf, &mut rx)? {
    ///     ring.pop_record(&mut rx, rec); // a reader takes "hi"
    /// }
    /// assert_eq!(ring.push_message(&buf, &mut tx, &msg, &mut out)?, Pushed::NeedRoom(64));
    /// assert!(out.is_started()); // its first piece is in: finish the message
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Payload bytes committed so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// let mut out = Outgoing::new();
    /// ring.push_message(&buf, &mut tx, &[7u8; 100], &mut out)?;
    /// assert_eq!(out.sent(), 48); // the first piece, after the length prefix
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn sent(&self) -> u64 {
        self.sent
    }
}

/// What [`RawRing::push_message`] did.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, Pushed, RawRing};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
/// let hello = ring.push_message(&buf, &mut tx, b"hello", &mut Outgoing::new())?;
/// assert_eq!(hello, Pushed::Done); // 16 bytes of the ring
/// // The first piece of a longer message needs 64 bytes; 48 are free.
/// let long = ring.push_message(&buf, &mut tx, &[7u8; 100], &mut Outgoing::new())?;
/// assert_eq!(long, Pushed::NeedRoom(64));
/// # ring.release_producing(tx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The whole message is committed.
    Done,
    /// The ring lacks room for the next record, of this many bytes: wait
    /// for it ([`RawRing::wait_for_room_bytes`]) and call again.
    NeedRoom(u32),
}

/// A message on its way out: its length and what has been taken of it.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, RawRing};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// ring.push_message(&buf, &mut tx, &[7u8; 100], &mut Outgoing::new())?;
/// let msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
/// assert_eq!((msg.len(), msg.is_streamed(), msg.received()), (100, true, 0));
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incoming {
    len: u64,
    got: u64,
    started: bool,
    streamed: bool,
    /// The first record, as `begin_message` checked it: the consuming side
    /// is held from then on, so it is still the one at `head`.
    first: Record,
}

impl Incoming {
    /// The whole message's length, in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, b"hello", &mut Outgoing::new())?;
    /// let msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// assert_eq!(msg.len(), 5);
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the message is empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, b"", &mut Outgoing::new())?;
    /// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// assert!(msg.is_empty()); // an empty message is a message all the same
    /// let Piece::Data(chunk) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
    /// ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut [])?;
    /// assert!(msg.is_complete());
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes taken so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, &[7u8; 100], &mut Outgoing::new())?; // its first piece
    /// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// let Piece::Data(chunk) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
    /// ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut vec![0; chunk.len()])?;
    /// assert_eq!((msg.received(), msg.len()), (48, 100));
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn received(&self) -> u64 {
        self.got
    }

    /// Whether every byte has been taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, b"hello", &mut Outgoing::new())?;
    /// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// assert!(!msg.is_complete());
    /// let Piece::Data(chunk) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
    /// ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut [0u8; 5])?;
    /// assert!(msg.is_complete());
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_complete(&self) -> bool {
        self.started && self.got == self.len
    }

    /// Whether the message comes in several records (it did not fit the
    /// ring whole).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64); // a record holds at most 56 bytes
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// for (len, streamed) in [(56, false), (57, true)] {
    ///     ring.push_message(&buf, &mut tx, &vec![0; len], &mut Outgoing::new())?;
    ///     let msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    ///     assert_eq!(msg.is_streamed(), streamed);
    ///     ring.discard(&mut rx)?; // make room for the next
    /// }
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_streamed(&self) -> bool {
        self.streamed
    }
}

/// One piece of a message, ready to be taken with [`RawRing::take_piece`].
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, Piece, RawRing};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// ring.push_message(&buf, &mut tx, b"hello", &mut Outgoing::new())?;
/// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
/// let Piece::Data(chunk) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
/// let mut got = vec![0; chunk.len()];
/// ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut got)?;
/// assert_eq!(got, b"hello");
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    record: Record,
    /// Payload bytes before the message's own (the length prefix).
    skip: u32,
    len: u32,
}

impl Chunk {
    /// The message bytes in this piece.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, &[7u8; 100], &mut Outgoing::new())?;
    /// let msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// let Piece::Data(first) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
    /// assert_eq!(first.len(), 48); // the message's bytes, without the length prefix
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the piece carries no message bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, b"", &mut Outgoing::new())?;
    /// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// let Piece::Data(chunk) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
    /// assert!(chunk.is_empty());
    /// ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut [])?;
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What [`RawRing::next_piece`] found.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, Piece, RawRing};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// ring.push_message(&buf, &mut tx, &[7u8; 100], &mut Outgoing::new())?; // its first piece
/// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
/// let Piece::Data(first) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
/// ring.take_piece(&buf, &mut rx, &mut msg, first, &mut vec![0; first.len()])?;
/// assert_eq!(ring.next_piece(&buf, &mut rx, &msg)?, Piece::Pending); // more to come
/// // Its writer stops there, and a new message begins.
/// ring.push_message(&buf, &mut tx, b"next", &mut Outgoing::new())?;
/// assert_eq!(ring.next_piece(&buf, &mut rx, &msg)?, Piece::Interrupted);
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// The next piece of the message.
    Data(Chunk),
    /// Nothing committed yet: the message goes on later (or its writer is
    /// gone, see [`RawRing::producer_abandoned`]).
    Pending,
    /// Another message begins before this one ended: its writer stopped in
    /// the middle. The new message is left in the ring.
    Interrupted,
}

/// The record size of one piece of a streamed message in a ring of
/// `capacity` bytes (a power of two of at least 16): a quarter of the ring,
/// but at least 64 bytes (or the whole of a smaller ring).
#[inline]
fn piece_record(capacity: u32) -> u32 {
    (capacity / 4).max(capacity.min(64))
}

impl RawRing {
    /// Commits as much of `msg` as the ring has room for, record by record,
    /// continuing where `out` says the message stands.
    ///
    /// A message whose record fits the ring is committed whole, in one
    /// store, once there is room for all of it; a longer one is streamed in
    /// pieces (see the module docs). Hold the producing side from the
    /// first call for a message until [`Pushed::Done`]: the pieces of a
    /// message must not interleave with another's.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`]; [`RingError::Corrupted`] if the consumers'
    /// counter is out of range or the ring is not a byte ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Pushed, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// let (msg, mut out) = ([7u8; 200], Outgoing::new()); // more than the ring holds
    /// while let Pushed::NeedRoom(bytes) = ring.push_message(&buf, &mut tx, &msg, &mut out)? {
    ///     while let Some(rec) = ring.peek_record(&buf, &mut rx)? {
    ///         ring.pop_record(&mut rx, rec); // a reader (here: dropping the pieces)
    ///     }
    ///     assert!(ring.wait_for_room_bytes(&mut tx, bytes, soon)?);
    /// }
    /// assert_eq!(out.sent(), 200);
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn push_message(
        &self,
        buf: &RingBuf,
        side: &mut Producing,
        msg: &[u8],
        out: &mut Outgoing,
    ) -> Result<Pushed, RingError> {
        if side.geo.slot_size != 1 {
            return Err(RingError::Corrupted("messages need a byte ring"));
        }
        let capacity = side.geo.capacity;
        if !out.started {
            let whole = u32::try_from(msg.len())
                .ok()
                .and_then(record_size)
                .filter(|&size| size <= capacity);
            if let Some(size) = whole {
                if !self.try_push_whole(buf, side, msg, size)? {
                    return Ok(Pushed::NeedRoom(size));
                }
                out.started = true;
                out.sent = msg.len() as u64;
                return Ok(Pushed::Done);
            }
        }
        let total = msg.len() as u64;
        // A ring made by `new_bytes` holds at least 16 bytes; a capacity
        // below (a peer rewrote it) cannot carry a length prefix.
        let piece = u64::from(piece_record(capacity))
            .checked_sub(HEADER as u64)
            .filter(|&piece| piece >= LENGTH_PREFIX as u64)
            .ok_or(RingError::Corrupted("ring too small to stream a message"))?;
        loop {
            let prefix = if out.started { 0 } else { LENGTH_PREFIX as u64 };
            let rest = total - out.sent;
            // At most `piece`, a u32: the casts below cannot truncate.
            let payload = (rest + prefix).min(piece);
            let data = (payload - prefix) as usize;
            let size = record_size(payload as u32).unwrap_or(u32::MAX);
            let mut flags = 0;
            if !out.started {
                flags |= FIRST;
            }
            if data as u64 == rest {
                flags |= LAST;
            }
            let from = out.sent as usize;
            let part = &msg[from..from + data];
            let length = total.to_ne_bytes();
            let parts: &[&[u8]] = if out.started {
                &[part]
            } else {
                &[&length, part]
            };
            if !self.try_push_record(buf, side, flags, parts)? {
                return Ok(Pushed::NeedRoom(size));
            }
            out.started = true;
            out.sent += data as u64;
            if flags & LAST != 0 {
                return Ok(Pushed::Done);
            }
        }
    }

    /// [`RawRing::try_push_record`] for one whole message whose record
    /// (`size` bytes) fits the ring: the per-message path, with the header
    /// written in one fixed-size copy (it never straddles the end of the
    /// buffer) and the payload in one copy unless it wraps.
    #[inline]
    fn try_push_whole(
        &self,
        buf: &RingBuf,
        side: &mut Producing,
        msg: &[u8],
        size: u32,
    ) -> Result<bool, RingError> {
        if self.state() & SHUTDOWN != 0 {
            return Err(RingError::ShutDown);
        }
        if side.tail % 8 != 0 {
            return Err(RingError::Corrupted(
                "record counters not on a record boundary",
            ));
        }
        if side.room() < size {
            self.refresh_head(side)?;
            if side.room() < size {
                return Ok(false);
            }
        }
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&(msg.len() as u32).to_ne_bytes());
        header[4..].copy_from_slice(&WHOLE.to_ne_bytes());
        // In bounds: `tail` is a multiple of 8 (every record's size is) and
        // the buffer a power of two of at least 16 bytes.
        buf.write(side.geo.offset(side.tail), &header);
        self.copy_in(buf, &side.geo, side.tail.wrapping_add(HEADER as u32), msg);
        side.tail = side.tail.wrapping_add(size);
        // Release: the commit of header and payload together; pairs with
        // the consumers' Acquire load.
        self.tail.store(side.tail, Ordering::Release);
        self.waiting.data.notify();
        Ok(true)
    }

    /// Waits, with the producing side held, until `want` bytes are free,
    /// the ring is shut down, or `deadline` passes; returns whether they
    /// are free.
    ///
    /// # Errors
    ///
    /// [`RingError::TooLarge`] if `want` exceeds the ring's capacity;
    /// [`RingError::ShutDown`]; [`RingError::Corrupted`] if the consumers'
    /// counter is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing, RingError};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let mut tx = ring.take_producing(&buf, soon)?;
    /// ring.push_message(&buf, &mut tx, &[0u8; 40], &mut Outgoing::new())?; // 48 bytes used
    /// let brief = Deadline::after(Duration::from_millis(5));
    /// assert!(!ring.wait_for_room_bytes(&mut tx, 32, brief)?); // no reader frees any
    /// assert!(ring.wait_for_room_bytes(&mut tx, 16, soon)?);
    /// let never = ring.wait_for_room_bytes(&mut tx, 65, soon);
    /// assert!(matches!(never, Err(RingError::TooLarge { .. })));
    /// # ring.release_producing(tx);
    /// # Ok::<(), RingError>(())
    /// ```
    pub fn wait_for_room_bytes(
        &self,
        side: &mut Producing,
        want: u32,
        deadline: Deadline,
    ) -> Result<bool, RingError> {
        self.wait_for_room_bytes_or(side, want, deadline, || false)
    }

    /// [`wait_for_room_bytes`](RawRing::wait_for_room_bytes) that also
    /// returns, with `Ok(false)` if the room is not free, as soon as
    /// `stop()` holds: for a producer that waits for something outside the
    /// ring too (a pipe's writer, for its reader's end to be closed), made
    /// to hold by whoever then calls [`nudge`](RawRing::nudge).
    ///
    /// # Errors
    ///
    /// As [`RawRing::wait_for_room_bytes`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing};
    /// use shmsync::Deadline;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let gone = AtomicBool::new(false); // say, the reader's end closed
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// ring.push_message(&buf, &mut tx, &[0u8; 40], &mut Outgoing::new())?; // 48 bytes used
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         gone.store(true, Ordering::SeqCst);
    ///         ring.nudge();
    ///     });
    ///     let forever = Deadline::after(Duration::from_secs(60));
    ///     let room = ring.wait_for_room_bytes_or(&mut tx, 32, forever, || gone.load(Ordering::SeqCst))?;
    ///     assert!(!room, "nobody read: the wait ended for `gone`");
    ///     Ok::<(), shmsync::ring::RingError>(())
    /// })?;
    /// ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn wait_for_room_bytes_or(
        &self,
        side: &mut Producing,
        want: u32,
        deadline: Deadline,
        stop: impl FnMut() -> bool,
    ) -> Result<bool, RingError> {
        let geo = side.geo;
        if want > geo.capacity {
            return Err(RingError::TooLarge {
                len: want as usize,
                capacity: geo.capacity as usize,
            });
        }
        self.wait_room(side, want, deadline, stop)
    }

    /// Looks at the next message without taking any of it: its length and
    /// whether it is streamed. Pieces left by a reader that died in the
    /// middle of a message are dropped on the way (see the module docs).
    /// `Ok(None)` if no message is there yet.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] if the ring is empty and shut down;
    /// [`RingError::Corrupted`] if a record is garbled or a streamed
    /// message's length is impossible.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing, LAST};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// assert_eq!(ring.begin_message(&buf, &mut rx)?, None);
    /// // The rest of a message whose reader died after its first piece, then a message:
    /// ring.try_push_record(&buf, &mut tx, LAST, &[b"...the end"])?;
    /// ring.push_message(&buf, &mut tx, b"hello", &mut Outgoing::new())?;
    /// let msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// assert_eq!((msg.len(), msg.is_streamed()), (5, false)); // the rest was dropped
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline(always)]
    pub fn begin_message(
        &self,
        buf: &RingBuf,
        side: &mut Consuming,
    ) -> Result<Option<Incoming>, RingError> {
        loop {
            let Some(record) = self.peek_record(buf, side)? else {
                return Ok(None);
            };
            if !record.is_first() {
                // Left by a reader that died after taking the first piece.
                self.pop_record(side, record);
                continue;
            }
            if record.is_last() {
                return Ok(Some(Incoming {
                    len: u64::from(record.len),
                    got: 0,
                    started: false,
                    streamed: false,
                    first: record,
                }));
            }
            let len = self.stream_length(buf, side, record)?;
            return Ok(Some(Incoming {
                len,
                got: 0,
                started: false,
                streamed: true,
                first: record,
            }));
        }
    }

    /// The next piece of `msg` (begun with [`RawRing::begin_message`]),
    /// without taking it.
    ///
    /// # Errors
    ///
    /// [`RingError::Corrupted`] if the pieces do not add up to the
    /// message's length (a peer wrote over the ring); as
    /// [`RawRing::peek_record`] otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// let (msg, mut out): (Vec<u8>, _) = ((0..100).collect(), Outgoing::new()); // two pieces
    /// ring.push_message(&buf, &mut tx, &msg, &mut out)?; // the first
    /// let mut incoming = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// let mut got = Vec::new();
    /// while !incoming.is_complete() {
    ///     match ring.next_piece(&buf, &mut rx, &incoming)? {
    ///         Piece::Data(chunk) => {
    ///             let at = got.len();
    ///             got.resize(at + chunk.len(), 0);
    ///             ring.take_piece(&buf, &mut rx, &mut incoming, chunk, &mut got[at..])?;
    ///         }
    ///         // A reader would wait for data (`wait_for_data`); here the writer goes on.
    ///         Piece::Pending => drop(ring.push_message(&buf, &mut tx, &msg, &mut out)?),
    ///         Piece::Interrupted => panic!("the writer stopped in the middle"),
    ///     }
    /// }
    /// assert_eq!(got, msg);
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline(always)]
    pub fn next_piece(
        &self,
        buf: &RingBuf,
        side: &mut Consuming,
        msg: &Incoming,
    ) -> Result<Piece, RingError> {
        if !msg.started {
            // The first record, checked by `begin_message` (with the
            // length prefix of a streamed one) while this side was held.
            let skip = if msg.streamed {
                LENGTH_PREFIX as u32
            } else {
                0
            };
            return Ok(Piece::Data(Chunk {
                record: msg.first,
                skip,
                len: msg.first.len - skip,
            }));
        }
        let state = self.state();
        let record = match self.peek_record(buf, side) {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(Piece::Pending),
            // Shut down in the middle of a message: the rest cannot come.
            Err(RingError::ShutDown) if state & SHUTDOWN != 0 => return Ok(Piece::Interrupted),
            Err(e) => return Err(e),
        };
        if record.is_first() {
            return Ok(Piece::Interrupted);
        }
        let after = msg.got + u64::from(record.len);
        if after > msg.len || record.is_last() != (after == msg.len) {
            return Err(RingError::Corrupted(
                "message pieces do not add up to its length",
            ));
        }
        Ok(Piece::Data(Chunk {
            record,
            skip: 0,
            len: record.len,
        }))
    }

    /// Copies `chunk` (from [`RawRing::next_piece`]) into `dst` and takes
    /// its record out of the ring, with one commit. An empty `dst` drops
    /// the piece unread.
    ///
    /// # Errors
    ///
    /// [`RingError::Corrupted`] if `dst` is neither empty nor exactly
    /// `chunk.len()` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, Piece, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.push_message(&buf, &mut tx, b"hello", &mut Outgoing::new())?;
    /// let mut msg = ring.begin_message(&buf, &mut rx)?.expect("a message is in");
    /// let Piece::Data(chunk) = ring.next_piece(&buf, &mut rx, &msg)? else { panic!("no piece") };
    /// let too_short = ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut [0u8; 3]);
    /// assert!(too_short.is_err()); // nothing taken
    /// let mut got = [0u8; 5];
    /// ring.take_piece(&buf, &mut rx, &mut msg, chunk, &mut got)?;
    /// assert_eq!(&got, b"hello");
    /// assert!(ring.is_empty());
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn take_piece(
        &self,
        buf: &RingBuf,
        side: &mut Consuming,
        msg: &mut Incoming,
        chunk: Chunk,
        dst: &mut [u8],
    ) -> Result<(), RingError> {
        if !dst.is_empty() {
            if dst.len() != chunk.len() {
                return Err(RingError::Corrupted(
                    "piece read into a buffer of another size",
                ));
            }
            self.read_record(buf, side, chunk.record, chunk.skip, dst)?;
        }
        self.pop_record(side, chunk.record);
        msg.started = true;
        msg.got += u64::from(chunk.len);
        Ok(())
    }

    /// Whether something is committed past what this consuming side has
    /// taken, looking at the producers' counter afresh: no wait and no
    /// clock, for a caller's own short poll before it sleeps.
    ///
    /// # Errors
    ///
    /// [`RingError::Corrupted`] if the producers' counter is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Outgoing, RawRing};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// assert!(!ring.has_data(&mut rx)?);
    /// ring.push_message(&buf, &mut tx, b"ping", &mut Outgoing::new())?;
    /// assert!(ring.has_data(&mut rx)?);
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn has_data(&self, side: &mut Consuming) -> Result<bool, RingError> {
        if side.available() == 0 {
            self.refresh_tail(side)?;
        }
        Ok(side.available() > 0)
    }

    /// Whether no live thread holds the producing side: it is free, or its
    /// holder's thread is gone. In the middle of a streamed message (whose
    /// writer holds the side to the end) this means the rest will never
    /// come; look at the ring once more afterwards, since the writer may
    /// have committed its last piece just before it let go.
    ///
    /// A holder that has just ended can still look alive for a moment (a
    /// thread is gone for the kernel a little after `join` returns for it),
    /// so a caller asks again until its own patience runs out.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// assert!(ring.producer_abandoned()); // nobody holds the producing side
    /// let tx = ring.take_producing(&buf, soon)?;
    /// assert!(!ring.producer_abandoned()); // this thread does, and lives
    /// ring.release_producing(tx);
    /// // A writer thread that ends holding it:
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let _never_given_back = ring.take_producing(&buf, soon);
    ///     });
    /// });
    /// let give_up = Deadline::after(Duration::from_secs(2));
    /// while !ring.producer_abandoned() && !give_up.has_passed() {
    ///     std::thread::sleep(Duration::from_millis(1)); // it may take a moment
    /// }
    /// assert!(ring.producer_abandoned());
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn producer_abandoned(&self) -> bool {
        let gone = match self.producer.lock.holder_tid() {
            None => true,
            Some(tid) => shim::thread_is_gone(tid),
        };
        // The holder's commits before its release (or death) are seen by
        // the caller's next look at the counter.
        shim::heavy_fence();
        gone
    }

    /// The whole length a streamed message's first record states, checked
    /// against the piece it comes with.
    fn stream_length(
        &self,
        buf: &RingBuf,
        side: &Consuming,
        record: Record,
    ) -> Result<u64, RingError> {
        if (record.len as usize) < LENGTH_PREFIX {
            return Err(RingError::Corrupted("streamed message without its length"));
        }
        let mut prefix = [0u8; LENGTH_PREFIX];
        self.read_record(buf, side, record, 0, &mut prefix)?;
        let len = u64::from_ne_bytes(prefix);
        // More must follow the first piece, and every length must fit this
        // address space.
        if len <= u64::from(record.len) - LENGTH_PREFIX as u64 || len > isize::MAX as u64 {
            return Err(RingError::Corrupted("streamed message length impossible"));
        }
        Ok(len)
    }
}
