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
pub const HEADER: usize = 8;
/// Marks a valid `kind`: its upper 16 bits.
pub const RECORD_MAGIC: u32 = 0x5EC0_0000;
/// `kind` flag: the record starts a message.
pub const FIRST: u32 = 1;
/// `kind` flag: the record ends a message.
pub const LAST: u32 = 2;
/// `kind` of a message in one record.
pub const WHOLE: u32 = RECORD_MAGIC | FIRST | LAST;

/// The ring's bytes a record of `len` payload bytes takes: its header and
/// its payload padded to 8 bytes; `None` if that overflows `u32`.
#[inline]
pub const fn record_size(len: u32) -> Option<u32> {
    match len.checked_add(HEADER as u32 + 7) {
        Some(size) => Some(size & !7),
        None => None,
    }
}

/// A record's header, checked against the ring it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// Payload bytes.
    pub len: u32,
    /// [`FIRST`] and [`LAST`] flags (without the magic).
    pub flags: u32,
}

impl Record {
    /// Whether this record starts a message.
    pub fn is_first(&self) -> bool {
        self.flags & FIRST != 0
    }

    /// Whether this record ends a message.
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
    /// `capacity` bytes.
    pub fn record_capacity(&self, capacity: u32) -> usize {
        (capacity as usize).saturating_sub(HEADER) & !7
    }
}
