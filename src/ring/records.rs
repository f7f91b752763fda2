//! Length-framed records of any size in a byte ring: the ring under the
//! byte and serde queues and under `Pipe`.
//!
//! A byte ring is a ring whose slots are single bytes (`slot_size` 1) and
//! whose counters count bytes. A record is an 8-byte header at an 8-byte
//! boundary, `len: u32` then `kind: u32` (native byte order: both ends run
//! the same build), followed by `len` bytes of payload, padded to the next
//! 8-byte boundary. The header never straddles the end of the buffer (the
//! buffer is a power of two of at least 16 bytes, and records start at
//! multiples of 8); the payload wraps around like the slots of any ring. A
//! record is committed, header and payload together, with one store of the
//! producers' counter, so a reader never sees part of one.
//!
//! `kind` carries [`RECORD_MAGIC`] in its upper half, so a header that a
//! peer scribbled, or a counter pointing into the middle of a record, is
//! recognised as garbage rather than read as a length; its lower half holds
//! [`FIRST`] and [`LAST`]. A message that fits the ring is one record with
//! both. A longer one (a pipe streams it) is several: the first carries
//! `FIRST` and, as its first 8 payload bytes, the whole message's length;
//! the last carries `LAST`.

use super::hooks::{self, Step};
use super::sides::{Consuming, Producing};
use super::state::{RawRing, RingError};
use crate::shim::{Ordering, RingBuf};

/// The bytes of a record header.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{record_size, RawRing, RingBuf, FIRST, HEADER, LAST};
/// use shmsync::Deadline;
/// use std::{ptr::NonNull, time::Duration};
///
/// let ring = RawRing::new_bytes(64);
/// let mut bytes = [0u8; 64];
/// // SAFETY: `bytes` outlives `buf`, and is read below only once `buf` is no
/// // longer used.
/// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes).cast(), 64) };
/// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
/// ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"hello"])?;
/// ring.release_producing(tx);
/// // The header, then the payload, padded to 8 bytes.
/// assert_eq!(&bytes[HEADER..HEADER + 5], b"hello");
/// assert_eq!(record_size(5), Some(16));
/// assert_eq!(ring.len(), 16);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
pub const HEADER: usize = 8;
/// Marks a valid `kind`: its upper 16 bits.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{FIRST, LAST, RECORD_MAGIC, WHOLE};
///
/// // A record's kind: the magic in the upper half, the flags in the lower.
/// assert_eq!(WHOLE, RECORD_MAGIC | FIRST | LAST);
/// assert_eq!(RECORD_MAGIC & 0xFFFF, 0);
/// ```
pub const RECORD_MAGIC: u32 = 0x5EC0_0000;
/// `kind` flag: the record starts a message.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{RawRing, Record, FIRST};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// // The first record of a message that goes on in later ones.
/// ring.try_push_record(&buf, &mut tx, FIRST, &[b"part 1"])?;
/// let rec = ring.peek_record(&buf, &mut rx)?;
/// assert_eq!(rec, Some(Record { len: 6, flags: FIRST }));
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
pub const FIRST: u32 = 1;
/// `kind` flag: the record ends a message.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{RawRing, FIRST, LAST};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// ring.try_push_record(&buf, &mut tx, FIRST, &[b"part 1"])?;
/// ring.try_push_record(&buf, &mut tx, LAST, &[b"part 2"])?;
/// let mut ends = Vec::new();
/// while let Some(rec) = ring.peek_record(&buf, &mut rx)? {
///     ends.push(rec.is_last());
///     ring.pop_record(&mut rx, rec);
/// }
/// assert_eq!(ends, [false, true]);
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
pub const LAST: u32 = 2;
/// `kind` of a message in one record.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{Outgoing, RawRing, RingBuf, WHOLE};
/// use shmsync::Deadline;
/// use std::{ptr::NonNull, time::Duration};
///
/// let ring = RawRing::new_bytes(64);
/// let mut bytes = [0u8; 64];
/// // SAFETY: `bytes` outlives `buf`, and is read below only once `buf` is no
/// // longer used.
/// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes).cast(), 64) };
/// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
/// ring.push_message(&buf, &mut tx, b"short", &mut Outgoing::new())?;
/// ring.release_producing(tx);
/// // The header: the length, then the kind (native byte order).
/// assert_eq!(bytes[..4], 5u32.to_ne_bytes());
/// assert_eq!(bytes[4..8], WHOLE.to_ne_bytes());
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
pub const WHOLE: u32 = RECORD_MAGIC | FIRST | LAST;

/// The ring's bytes a record of `len` payload bytes takes: its header and
/// its payload padded to 8 bytes; `None` if that overflows `u32`.
///
/// # Examples
///
/// ```
/// use shmsync::ring::record_size;
///
/// assert_eq!(record_size(0), Some(8)); // the header alone
/// assert_eq!(record_size(5), Some(16)); // padded to 8 bytes
/// assert_eq!(record_size(8), Some(16));
/// assert_eq!(record_size(u32::MAX), None);
/// ```
#[inline]
pub const fn record_size(len: u32) -> Option<u32> {
    match len.checked_add(HEADER as u32 + 7) {
        Some(size) => Some(size & !7),
        None => None,
    }
}

/// A record's header, checked against the ring it was read from.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{RawRing, Record, FIRST, LAST};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let ring = RawRing::new_bytes(64);
/// # let mut bytes = [0u8; 64];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
/// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
/// ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"hello"])?;
/// let rec = ring.peek_record(&buf, &mut rx)?;
/// assert_eq!(rec, Some(Record { len: 5, flags: FIRST | LAST }));
/// # ring.release_producing(tx);
/// # ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// Payload bytes.
    pub len: u32,
    /// [`FIRST`] and [`LAST`] flags (without the magic).
    pub flags: u32,
}

impl Record {
    /// Whether this record starts a message.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Record, FIRST, LAST};
    ///
    /// assert!(Record { len: 3, flags: FIRST }.is_first());
    /// assert!(Record { len: 3, flags: FIRST | LAST }.is_first());
    /// assert!(!Record { len: 3, flags: LAST }.is_first());
    /// ```
    pub fn is_first(&self) -> bool {
        self.flags & FIRST != 0
    }

    /// Whether this record ends a message.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{Record, FIRST, LAST};
    ///
    /// assert!(Record { len: 3, flags: LAST }.is_last());
    /// assert!(Record { len: 3, flags: FIRST | LAST }.is_last());
    /// assert!(!Record { len: 3, flags: FIRST }.is_last());
    /// ```
    pub fn is_last(&self) -> bool {
        self.flags & LAST != 0
    }
}

impl RawRing {
    /// Puts one record made of `parts` (concatenated) with `flags` (of
    /// [`FIRST`] and [`LAST`]), if it fits now; all or nothing, one
    /// commit. Returns whether it was put.
    ///
    /// # Errors
    ///
    /// [`RingError::TooLarge`] if the record could never fit the ring;
    /// [`RingError::ShutDown`]; [`RingError::Corrupted`] if the consumers'
    /// counter is out of range or the ring is not a byte ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, FIRST, LAST};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// // One record of two parts: 5 payload bytes, 16 bytes of the ring.
    /// assert!(ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"id:", b"42"])?);
    /// assert!(ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[&[0; 40]])?); // 48 bytes
    /// assert!(ring.is_full());
    /// assert!(!ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"x"])?); // no room now
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn try_push_record(
        &self,
        buf: &RingBuf,
        side: &mut Producing,
        flags: u32,
        parts: &[&[u8]],
    ) -> Result<bool, RingError> {
        if side.geo.slot_size != 1 {
            return Err(RingError::Corrupted("records need a byte ring"));
        }
        let len: usize = parts.iter().map(|part| part.len()).sum();
        let size = u32::try_from(len)
            .ok()
            .and_then(record_size)
            .filter(|&size| size <= side.geo.capacity);
        let Some(size) = size else {
            return Err(RingError::TooLarge {
                len,
                capacity: self.record_capacity(side.geo.capacity),
            });
        };
        if self.state() & super::state::SHUTDOWN != 0 {
            return Err(RingError::ShutDown);
        }
        if side.room() < size {
            self.refresh_head(side)?;
            if side.room() < size {
                return Ok(false);
            }
        }
        let kind = RECORD_MAGIC | (flags & (FIRST | LAST));
        let mut header = [0u8; HEADER];
        header[..4].copy_from_slice(&(len as u32).to_ne_bytes());
        header[4..].copy_from_slice(&kind.to_ne_bytes());
        let mut at = side.tail;
        for bytes in core::iter::once(&header[..]).chain(parts.iter().copied()) {
            self.copy_in(buf, &side.geo, at, bytes);
            at = at.wrapping_add(bytes.len() as u32);
        }
        hooks::point(Step::PutCopied);
        side.tail = side.tail.wrapping_add(size);
        // Release: the commit of header and payload together; pairs with
        // the consumers' Acquire load.
        self.tail.store(side.tail, Ordering::Release);
        hooks::point(Step::PutCommitted);
        self.waiting.data.notify();
        hooks::point(Step::PutWoken);
        Ok(true)
    }

    /// The header of the next record, if one is there, without taking it.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] if the ring is empty and shut down (or shut
    /// down immediately); [`RingError::Corrupted`] if the header is not a
    /// record's, or the record reaches past what the producers committed.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, Record, FIRST, LAST};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// assert_eq!(ring.peek_record(&buf, &mut rx)?, None);
    /// ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"hello"])?;
    /// let rec = ring.peek_record(&buf, &mut rx)?;
    /// assert_eq!(rec, Some(Record { len: 5, flags: FIRST | LAST }));
    /// assert_eq!(ring.peek_record(&buf, &mut rx)?, rec); // not taken
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn peek_record(
        &self,
        buf: &RingBuf,
        side: &mut Consuming,
    ) -> Result<Option<Record>, RingError> {
        if side.geo.slot_size != 1 {
            return Err(RingError::Corrupted("records need a byte ring"));
        }
        // The state first, then the counter: see `RawRing::try_pop`.
        let state = self.state();
        if side.available() < HEADER as u32 {
            self.refresh_tail(side)?;
        }
        if state & super::state::IMMEDIATE != 0 {
            return Err(RingError::ShutDown);
        }
        let available = side.available();
        if available == 0 {
            return if state & super::state::SHUTDOWN != 0 {
                Err(RingError::ShutDown)
            } else {
                Ok(None)
            };
        }
        if available < HEADER as u32 || side.head % 8 != 0 {
            return Err(RingError::Corrupted(
                "record counters not on a record boundary",
            ));
        }
        let mut header = [0u8; HEADER];
        // A header never straddles the end of the buffer (records start at
        // multiples of 8, the buffer is a power of two of at least 16): one
        // fixed-size copy.
        buf.read(side.geo.offset(side.head), &mut header);
        let len = u32::from_ne_bytes([header[0], header[1], header[2], header[3]]);
        let kind = u32::from_ne_bytes([header[4], header[5], header[6], header[7]]);
        if kind & 0xFFFF_0000 != RECORD_MAGIC || kind & !(RECORD_MAGIC | FIRST | LAST) != 0 {
            return Err(RingError::Corrupted("record header garbled"));
        }
        match record_size(len) {
            Some(size) if size <= available => Ok(Some(Record {
                len,
                flags: kind & (FIRST | LAST),
            })),
            _ => Err(RingError::Corrupted(
                "record longer than what was committed",
            )),
        }
    }

    /// Copies `dst.len()` payload bytes of the record `peek_record` just
    /// returned, starting `from` bytes into its payload, without taking it.
    ///
    /// # Errors
    ///
    /// [`RingError::Corrupted`] if the range is not inside the record.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, FIRST, LAST};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"hello, world"])?;
    /// let Some(rec) = ring.peek_record(&buf, &mut rx)? else { panic!("a record is in") };
    /// let mut word = [0u8; 5];
    /// ring.read_record(&buf, &rx, rec, 7, &mut word)?;
    /// assert_eq!(&word, b"world");
    /// assert!(ring.read_record(&buf, &rx, rec, 10, &mut word).is_err()); // past its end
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn read_record(
        &self,
        buf: &RingBuf,
        side: &Consuming,
        record: Record,
        from: u32,
        dst: &mut [u8],
    ) -> Result<(), RingError> {
        let end = u32::try_from(dst.len())
            .ok()
            .and_then(|len| from.checked_add(len));
        if end.map_or(true, |end| end > record.len) {
            return Err(RingError::Corrupted("read outside the record"));
        }
        let at = side.head.wrapping_add(HEADER as u32).wrapping_add(from);
        self.copy_out(buf, &side.geo, at, dst);
        Ok(())
    }

    /// Takes the record `peek_record` just returned out of the ring (after
    /// reading what the caller wanted of it), with one commit.
    ///
    /// `record` must be that one, unchanged, with this side held since:
    /// its length is trusted, not checked again. Another value moves the
    /// consumers' counter to where no record starts, and the ring is then
    /// as good as scribbled over: later operations fail with
    /// [`RingError::Corrupted`] or read garbage (never outside the buffer).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, FIRST, LAST};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// for word in [&b"one"[..], b"three"] {
    ///     ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[word])?;
    /// }
    /// let mut got = Vec::new();
    /// while let Some(rec) = ring.peek_record(&buf, &mut rx)? {
    ///     let mut payload = vec![0; rec.len as usize];
    ///     ring.read_record(&buf, &rx, rec, 0, &mut payload)?;
    ///     ring.pop_record(&mut rx, rec);
    ///     got.push(payload);
    /// }
    /// assert_eq!(got, [&b"one"[..], b"three"]);
    /// assert!(ring.is_empty());
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn pop_record(&self, side: &mut Consuming, record: Record) {
        // The record was checked against the committed bytes by
        // `peek_record`: its size fits in `available`.
        let size = record_size(record.len).unwrap_or(0);
        hooks::point(Step::GetCopied);
        side.head = side.head.wrapping_add(size);
        // Release: the commit; pairs with the producers' Acquire load, after
        // which they may overwrite the bytes just read.
        self.head.store(side.head, Ordering::Release);
        hooks::point(Step::GetCommitted);
        self.waiting.room.notify();
        hooks::point(Step::GetWoken);
    }

    /// The longest payload a single record can carry in a byte ring of
    /// `capacity` bytes: usually this ring's own
    /// [`capacity`](RawRing::capacity), which it does not read itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, RingError, FIRST, LAST};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// assert_eq!(ring.record_capacity(ring.capacity()), 56);
    /// # let mut bytes = [0u8; 64];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 64) };
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// assert!(ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[&[0; 56]])?);
    /// let too_long = ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[&[0; 57]]);
    /// assert_eq!(too_long, Err(RingError::TooLarge { len: 57, capacity: 56 }));
    /// # ring.release_producing(tx);
    /// # Ok::<(), RingError>(())
    /// ```
    pub fn record_capacity(&self, capacity: u32) -> usize {
        (capacity as usize).saturating_sub(HEADER) & !7
    }
}
