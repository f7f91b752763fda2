//! The one-message fast path of a slot ring: one value of a type whose size
//! is the slot size, copied with a size known at compile time (a few moves,
//! not a `memcpy` call) into a slot that never straddles the end of the
//! buffer. Same protocol, orderings and crash analysis as
//! [`RawRing::try_push`] and [`RawRing::try_pop`] (see `sides.rs`), for one
//! message.

use super::hooks::{self, Step};
use super::sides::{Consuming, Producing};
use super::state::{RawRing, RingError, IMMEDIATE, SHUTDOWN};
use crate::shim::{Ordering, RingBuf};
use core::mem::size_of;

/// How far ahead of the value it takes a consumer asks for the slots'
/// line, in bytes.
const PREFETCH_AHEAD: usize = 256;

/// How far ahead of the value it puts a producer asks for the slots' line,
/// in bytes.
const WRITE_AHEAD: usize = 512;

impl RawRing {
    /// Puts `value` if there is room, with one commit; returns whether it
    /// was put.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] after a shutdown; [`RingError::Corrupted`]
    /// if the consumers' counter is out of range or `T` is not the size of
    /// a slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new(2, 8); // slots of 8 bytes: u64, [u32; 2], ...
    /// # let mut bytes = [0u8; 16];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 16) };
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// assert!(ring.try_push_value(&buf, &mut tx, &1u64)?);
    /// assert!(ring.try_push_value(&buf, &mut tx, &[2u32, 3])?);
    /// assert!(!ring.try_push_value(&buf, &mut tx, &4u64)?); // full
    /// assert!(ring.try_push_value(&buf, &mut tx, &5u32).is_err()); // not a slot's size
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    ///
    /// Always inlined: it is the whole per-message path of an exclusive
    /// producer, and the compiler's own choice once kept it out of line
    /// (measured between two pinned processes: the producer handle's
    /// stream 25% slower a message).
    #[inline(always)]
    pub fn try_push_value<T: bytemuck::Pod>(
        &self,
        buf: &RingBuf,
        side: &mut Producing,
        value: &T,
    ) -> Result<bool, RingError> {
        if side.geo.slot_size != size_of::<T>() {
            return Err(RingError::Corrupted("message size differs from slot size"));
        }
        if self.state() & SHUTDOWN != 0 {
            return Err(RingError::ShutDown);
        }
        if side.room() == 0 {
            self.look_for_room(side)?;
            if side.room() == 0 {
                return Ok(false);
            }
        }
        // A slot starts at a multiple of the slot size in a buffer of whole
        // slots (the geometry matches the buffer): it is whole, and the
        // bounds-checked copy cannot fail.
        let at = (side.tail & side.geo.mask) as usize * size_of::<T>();
        buf.write(at, bytemuck::bytes_of(value));
        if at % 64 == 0 {
            write_ahead::<T>(buf, side);
        }
        hooks::point(Step::PutCopied);
        side.tail = side.tail.wrapping_add(1);
        // Release: the commit; pairs with the consumers' Acquire load.
        self.tail.store(side.tail, Ordering::Release);
        hooks::point(Step::PutCommitted);
        self.waiting.data.notify();
        hooks::point(Step::PutWoken);
        Ok(true)
    }

    /// Takes the oldest value if there is one, with one commit.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] if the ring is empty and shut down (or shut
    /// down immediately); [`RingError::Corrupted`] if the producers'
    /// counter is out of range or `T` is not the size of a slot.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new(4, 8);
    /// # let mut bytes = [0u8; 32];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 32) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.try_push_value(&buf, &mut tx, &-7i64)?;
    /// assert_eq!(ring.try_pop_value::<i64>(&buf, &mut rx)?, Some(-7));
    /// assert_eq!(ring.try_pop_value::<i64>(&buf, &mut rx)?, None); // empty
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn try_pop_value<T: bytemuck::Pod>(
        &self,
        buf: &RingBuf,
        side: &mut Consuming,
    ) -> Result<Option<T>, RingError> {
        if side.geo.slot_size != size_of::<T>() {
            return Err(RingError::Corrupted("message size differs from slot size"));
        }
        // The state first, then the counter: see `try_pop`.
        let state = self.state();
        if side.available() == 0 {
            self.look_for_data(side)?;
        }
        let available = side.available();
        if state & IMMEDIATE != 0 || (available == 0 && state & SHUTDOWN != 0) {
            return Err(RingError::ShutDown);
        }
        if available == 0 {
            return Ok(None);
        }
        let mut value = T::zeroed();
        let at = (side.head & side.geo.mask) as usize * size_of::<T>();
        buf.read(at, bytemuck::bytes_of_mut(&mut value));
        // Ask for a line a few ahead among those known committed (never one
        // the producer may still be filling: that would pull it away from
        // the producer mid-write). Without it, each new line the consumer
        // reads is a cache miss on the producer's core (measured between
        // two pinned processes, plain get: 14.7-14.9 ns a message without,
        // 13.2-13.8 with; prefetching 128 bytes ahead is too late).
        let ahead = (PREFETCH_AHEAD / size_of::<T>()).max(1) as u32;
        if available > ahead {
            buf.prefetch(side.geo.offset(side.head.wrapping_add(ahead)));
        }
        hooks::point(Step::GetCopied);
        side.head = side.head.wrapping_add(1);
        // Release: the commit; pairs with the producers' Acquire load, after
        // which they may overwrite the slot just read.
        self.head.store(side.head, Ordering::Release);
        hooks::point(Step::GetCommitted);
        self.waiting.room.notify();
        hooks::point(Step::GetWoken);
        Ok(Some(value))
    }
}

/// Once per line of slots, a producer asks for the line a few ahead, among
/// the free ones (never one the consumers may still be reading), for
/// writing: the consumer last read it a lap ago, and taking it back at the
/// store is a cache miss that a plain `put`'s unlock then waits for
/// (measured between two pinned processes, plain put/get: 13.6-13.9 ns a
/// message without, 12.2-12.4 with; 256 bytes ahead, or at every put, was
/// slower than none). Out of line: the per-message path stays small.
#[inline(never)]
fn write_ahead<T>(buf: &RingBuf, side: &Producing) {
    let ahead = (WRITE_AHEAD / size_of::<T>()).max(1) as u32;
    if side.room() > ahead {
        buf.prefetch_write(side.geo.offset(side.tail.wrapping_add(ahead)));
    }
}
