//! Taking and giving back a side of the ring, and moving fixed-size
//! messages through it.
//!
//! A side is given back with a plain store of its lock word, not a
//! read-modify-write, which would wait for the message's stores to reach
//! the cache; a thread about to sleep waiting for the side announces
//! itself in the side's `sleepers` word, which the giver reads after its
//! store (`RawLock::unlock_announced`).
//!
//! A side is taken by locking its lock; the counters are then copied into
//! the [`Producing`] or [`Consuming`] value, which the operations keep up to
//! date, and the cached copy of the other side's counter is written back
//! when the side is given back. One holder at a time per side: the copies
//! cannot go stale except by a peer scribbling, which the range checks
//! catch.
//!
//! Orderings: a commit is a `Release` store of the side's counter after the
//! copy of the message; the other side reads the counter with `Acquire`
//! before touching the slots it covers. So a consumer reads a slot only
//! after the producer's copy into it is complete, and a producer reuses a
//! slot only after the consumer's copy out of it is complete. The side's own
//! counter and cache are read `Relaxed` after taking the lock, whose
//! Acquire orders them after the previous holder's last writes.

use super::hooks::{self, Step};
use super::slip;
use super::state::{Geometry, RawRing, RingError, Side, IMMEDIATE, SHUTDOWN};
use crate::raw::LockHold;
use crate::shim::{Caller, Deadline, Ordering, RingBuf};

/// The producing side of a ring, taken: the side's lock is held by the
/// thread that took it, and the counters are in here.
///
/// Give it back with [`RawRing::release_producing`]. Not `Send`: the lock
/// names the thread that took it.
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
/// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
/// for i in 0..3u64 {
///     assert!(ring.try_push_value(&buf, &mut tx, &i)?);
/// }
/// assert_eq!(tx.room(), 1);
/// ring.release_producing(tx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Debug)]
#[must_use = "a taken side holds its lock until given back"]
pub struct Producing {
    hold: LockHold,
    pub(crate) geo: Geometry,
    /// Messages committed, ever (wrapping): the next slot to fill.
    pub(crate) tail: u32,
    /// The consumers' counter as last read.
    pub(crate) head: u32,
    /// Whether the next look at the consumers' counter slips first (see
    /// `ring::slip`).
    pub(crate) slip: u16,
    /// Whether the side was taken over from a holder that died.
    took_over: bool,
    _not_send: core::marker::PhantomData<*const ()>,
}

/// The consuming side of a ring, taken; see [`Producing`].
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
/// # let mut tx = ring.take_producing(&buf, soon)?;
/// # ring.try_push(&buf, &mut tx, &[1u64, 2].map(u64::to_ne_bytes).concat())?;
/// # ring.release_producing(tx);
/// // Two messages are in.
/// let mut rx = ring.take_consuming(&buf, soon)?;
/// let mut got = Vec::new();
/// while let Some(v) = ring.try_pop_value::<u64>(&buf, &mut rx)? {
///     got.push(v);
/// }
/// assert_eq!(got, [1, 2]);
/// ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[derive(Debug)]
#[must_use = "a taken side holds its lock until given back"]
pub struct Consuming {
    hold: LockHold,
    pub(crate) geo: Geometry,
    /// The producers' counter as last read.
    pub(crate) tail: u32,
    /// Messages taken, ever (wrapping): the next slot to read.
    pub(crate) head: u32,
    /// Whether the next look at the producers' counter slips first (see
    /// `ring::slip`).
    pub(crate) slip: u16,
    /// Whether the side was taken over from a holder that died.
    took_over: bool,
    _not_send: core::marker::PhantomData<*const ()>,
}

impl Producing {
    /// Messages (bytes, in a byte ring) that fit now, as far as this side
    /// knows: a lower bound, as of its last look at the consumers' counter
    /// (operations look again when they find too little room).
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
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// assert_eq!(tx.room(), 4);
    /// ring.try_push(&buf, &mut tx, &[0u8; 24])?; // three messages
    /// assert_eq!(tx.room(), 1);
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn room(&self) -> u32 {
        self.geo.capacity - self.tail.wrapping_sub(self.head)
    }

    /// Whether the side was taken over from a holder that died holding it
    /// (its lock said `OwnerDied`); nothing needed repair.
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
    /// let soon = Deadline::after(Duration::from_secs(5));
    /// // A thread (or a process) that ends holding the side:
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let _never_given_back = ring.take_producing(&buf, soon);
    ///     });
    /// });
    /// let tx = ring.take_producing(&buf, soon)?; // once the lock sees it gone
    /// assert!(tx.took_over());
    /// ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn took_over(&self) -> bool {
        self.took_over
    }

    /// The next look at the consumers' counter does not pause first: for a
    /// call that must not wait (see `ring::slip`).
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn look_without_slipping(&mut self) {
        self.slip = slip::without_pause(self.slip);
    }
}

impl Consuming {
    /// Messages (bytes, in a byte ring) known to be in the ring: a lower
    /// bound, as of this side's last look at the producers' counter.
    /// Taking the side does not look; an operation that finds too little
    /// does, and so does [`RawRing::has_data`].
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
    /// ring.try_push(&buf, &mut tx, &[0u8; 16])?; // two messages
    /// assert_eq!(rx.available(), 0); // this side has not looked since
    /// assert!(ring.has_data(&mut rx)?); // it looks
    /// assert_eq!(rx.available(), 2);
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn available(&self) -> u32 {
        self.tail.wrapping_sub(self.head)
    }

    /// Whether the side was taken over from a holder that died holding it;
    /// see [`Producing::took_over`]. A consumer that died before its commit
    /// left its message in the ring for this one.
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
    /// let soon = Deadline::after(Duration::from_secs(5));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let _never_given_back = ring.take_consuming(&buf, soon);
    ///     });
    /// });
    /// let rx = ring.take_consuming(&buf, soon)?;
    /// assert!(rx.took_over());
    /// ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn took_over(&self) -> bool {
        self.took_over
    }

    /// The next look at the producers' counter does not pause first; see
    /// [`Producing::look_without_slipping`].
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn look_without_slipping(&mut self) {
        self.slip = slip::without_pause(self.slip);
    }
}

impl RawRing {
    /// Takes the producing side: locks it (giving up at `deadline`) and
    /// checks the ring's state against `buf`, the buffer this process
    /// mapped for it. A previous producer that died holding the side left
    /// nothing to repair: its uncommitted message is invisible.
    ///
    /// # Errors
    ///
    /// [`RingError::Busy`] if the lock stays held until `deadline`, and at
    /// once if the calling thread holds the side already (sides are not
    /// re-entrant: the wait would be for itself); [`RingError::Corrupted`]
    /// if the state is impossible.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, RingError};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new(4, 8);
    /// # let mut bytes = [0u8; 32];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 32) };
    /// let tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// assert!(!tx.took_over());
    /// // One holder at a time: a second taker gives up at its deadline.
    /// let again = ring.take_producing(&buf, Deadline::after(Duration::from_millis(5)));
    /// assert!(matches!(again, Err(RingError::Busy { .. })));
    /// ring.release_producing(tx);
    /// # Ok::<(), RingError>(())
    /// ```
    #[inline(always)]
    pub fn take_producing(
        &self,
        buf: &RingBuf,
        deadline: Deadline,
    ) -> Result<Producing, RingError> {
        // Once per process, before its first commit or sleep: the sleepers'
        // heavy fence must reach this process's threads (`sys::barrier`).
        crate::shim::register_fences();
        let geo = self.geometry(buf)?;
        self.take_producing_checked(geo, Some(deadline))
    }

    /// [`take_producing`](RawRing::take_producing) with a geometry the
    /// caller checked against its buffer before ([`RawRing::geometry`]) and
    /// kept in a local of its own: the per-message path of a handle, which
    /// need not read and check the configuration again. The caller has
    /// also registered this process for asymmetric fences
    /// (`shim::register_fences`) when it checked the geometry. A `deadline`
    /// of `None` makes one try, without looking at the clock.
    ///
    /// Always inlined: returned through memory, the side costs the caller
    /// store-forwarding stalls when it copies the side about (measured in
    /// one thread: `put` then `get`, 30 ns a pair out of line, 22 inlined).
    ///
    /// # Errors
    ///
    /// As [`RawRing::take_producing`].
    #[inline(always)]
    pub(crate) fn take_producing_checked(
        &self,
        geo: Geometry,
        deadline: Option<Deadline>,
    ) -> Result<Producing, RingError> {
        let (hold, took_over) = self.lock_side(&self.producer, deadline)?;
        hooks::point(Step::PutSideTaken);
        // Relaxed: this side's own words, ordered by the lock's Acquire.
        let tail = self.tail.load(Ordering::Relaxed);
        let mut side = Producing {
            hold,
            geo,
            tail,
            head: self.producer.seen.load(Ordering::Relaxed),
            // Any value is safe here: it only times a pause.
            slip: slip::clamp(self.producer.slip.load(Ordering::Relaxed)),
            took_over,
            _not_send: core::marker::PhantomData,
        };
        if !geo.holds(tail, side.head) {
            // Acquire: pairs with the consumers' Release commits.
            side.head = self.head.load(Ordering::Acquire);
            if !geo.holds(tail, side.head) {
                self.release_producing(side);
                return Err(RingError::Corrupted("message counters out of range"));
            }
        }
        Ok(side)
    }

    /// Takes the consuming side; see [`RawRing::take_producing`]. A
    /// previous consumer that died holding the side left its message (if
    /// it had not committed) for this one.
    ///
    /// # Errors
    ///
    /// As [`RawRing::take_producing`].
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
    /// # let mut tx = ring.take_producing(&buf, soon)?;
    /// # ring.try_push_value(&buf, &mut tx, &5u64)?;
    /// # ring.release_producing(tx);
    /// // A consumer among several takes the side for one message.
    /// let mut rx = ring.take_consuming(&buf, soon)?;
    /// let got = ring.try_pop_value::<u64>(&buf, &mut rx)?;
    /// ring.release_consuming(rx);
    /// assert_eq!(got, Some(5));
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline(always)]
    pub fn take_consuming(
        &self,
        buf: &RingBuf,
        deadline: Deadline,
    ) -> Result<Consuming, RingError> {
        crate::shim::register_fences();
        let geo = self.geometry(buf)?;
        self.take_consuming_checked(geo, Some(deadline))
    }

    /// [`take_consuming`](RawRing::take_consuming) with a geometry checked
    /// before; see [`RawRing::take_producing_checked`].
    ///
    /// Always inlined, as [`RawRing::take_producing_checked`] is.
    ///
    /// # Errors
    ///
    /// As [`RawRing::take_producing`].
    #[inline(always)]
    pub(crate) fn take_consuming_checked(
        &self,
        geo: Geometry,
        deadline: Option<Deadline>,
    ) -> Result<Consuming, RingError> {
        let (hold, took_over) = self.lock_side(&self.consumer, deadline)?;
        hooks::point(Step::GetSideTaken);
        // Relaxed: this side's own words, ordered by the lock's Acquire.
        let head = self.head.load(Ordering::Relaxed);
        let mut side = Consuming {
            hold,
            geo,
            tail: self.consumer.seen.load(Ordering::Relaxed),
            head,
            // Any value is safe here: it only times a pause.
            slip: slip::clamp(self.consumer.slip.load(Ordering::Relaxed)),
            took_over,
            _not_send: core::marker::PhantomData,
        };
        if !geo.holds(side.tail, head) {
            // Acquire: pairs with the producers' Release commits.
            side.tail = self.tail.load(Ordering::Acquire);
            if !geo.holds(side.tail, head) {
                self.release_consuming(side);
                return Err(RingError::Corrupted("message counters out of range"));
            }
        }
        Ok(side)
    }

    /// Gives the producing side back. The side must have been taken from
    /// this ring: given to another, it releases nothing there (it may
    /// leave a stale hint, which the next holder checks), and this ring's
    /// side stays held.
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
    /// let tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// ring.release_producing(tx);
    /// // Free again: taken at the first try.
    /// let tx = ring.take_producing(&buf, Deadline::now())?;
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn release_producing(&self, side: Producing) {
        self.keep_producing(&side);
        let me = crate::shim::current_thread();
        let _ = self.producer.give_back(me, side.hold);
    }

    /// Gives the consuming side back; as
    /// [`release_producing`](RawRing::release_producing), to the ring it
    /// was taken from.
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
    /// let rx = ring.take_consuming(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// ring.release_consuming(rx);
    /// // Free again: taken at the first try.
    /// let rx = ring.take_consuming(&buf, Deadline::now())?;
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn release_consuming(&self, side: Consuming) {
        self.keep_consuming(&side);
        let me = crate::shim::current_thread();
        let _ = self.consumer.give_back(me, side.hold);
    }

    /// [`release_producing`](RawRing::release_producing) for a side taken
    /// in the same call on this thread: the side's hold names this thread,
    /// so its identity is not looked up again. Not for a side that may
    /// have crossed a `fork` (an exclusive handle's): a child must not give
    /// back its parent's hold.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn release_producing_in_call(&self, side: Producing) {
        self.keep_producing(&side);
        let _ = self
            .producer
            .give_back(crate::raw::RawLock::own_caller(side.hold), side.hold);
    }

    /// [`release_consuming`](RawRing::release_consuming) for a side taken
    /// in the same call; see [`RawRing::release_producing_in_call`].
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn release_consuming_in_call(&self, side: Consuming) {
        self.keep_consuming(&side);
        let _ = self
            .consumer
            .give_back(crate::raw::RawLock::own_caller(side.hold), side.hold);
    }

    /// Writes back what the producing side keeps for its next holder.
    #[inline]
    fn keep_producing(&self, side: &Producing) {
        // Relaxed: the unlock's Release publishes them to the next holder.
        self.producer.seen.store(side.head, Ordering::Relaxed);
        self.producer
            .slip
            .store(u32::from(side.slip), Ordering::Relaxed);
    }

    /// Writes back what the consuming side keeps for its next holder.
    #[inline]
    fn keep_consuming(&self, side: &Consuming) {
        // Relaxed: the unlock's Release publishes them to the next holder.
        self.consumer.seen.store(side.tail, Ordering::Relaxed);
        self.consumer
            .slip
            .store(u32::from(side.slip), Ordering::Relaxed);
    }

    /// Copies as many of `msgs` (whole slots of `slot_size` bytes each) as
    /// fit into the ring and commits them with one store; returns how many.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] after a shutdown (nothing is put);
    /// [`RingError::Corrupted`] if the consumers' counter is out of range,
    /// or `msgs` is not a whole number of slots.
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
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// let msgs: Vec<u8> = (1..=6u64).flat_map(u64::to_ne_bytes).collect();
    /// assert_eq!(ring.try_push(&buf, &mut tx, &msgs)?, 4); // as many as fit
    /// assert_eq!(ring.try_push(&buf, &mut tx, &msgs[32..])?, 0); // full
    /// assert!(ring.try_push(&buf, &mut tx, &[0u8; 5]).is_err()); // not a whole slot
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn try_push(
        &self,
        buf: &RingBuf,
        side: &mut Producing,
        msgs: &[u8],
    ) -> Result<u32, RingError> {
        if self.state() & SHUTDOWN != 0 {
            return Err(RingError::ShutDown);
        }
        let size = side.geo.slot_size;
        if msgs.len() % size != 0 {
            return Err(RingError::Corrupted("message size differs from slot size"));
        }
        let wanted = u32::try_from(msgs.len() / size).unwrap_or(u32::MAX);
        if side.room() == 0 {
            self.look_for_room(side)?;
        } else if side.room() < wanted {
            // Room it knows of: a look to fill more, never a slip first.
            self.refresh_head(side)?;
        }
        let n = wanted.min(side.room());
        if n == 0 {
            return Ok(0);
        }
        self.copy_in(buf, &side.geo, side.tail, &msgs[..n as usize * size]);
        hooks::point(Step::PutCopied);
        side.tail = side.tail.wrapping_add(n);
        // Release: the commit; pairs with the consumers' Acquire load.
        self.tail.store(side.tail, Ordering::Release);
        hooks::point(Step::PutCommitted);
        self.waiting.data.notify();
        hooks::point(Step::PutWoken);
        Ok(n)
    }

    /// Copies up to `out.len() / slot_size` messages out of the ring into
    /// `out` and commits them with one store; returns how many.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] if the ring is empty and shut down, or was
    /// shut down with `immediate` ([`RawRing::discard`] drops what is
    /// left); [`RingError::Corrupted`] if the producers' counter is out of
    /// range, or `out` is not a whole number of slots.
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
    /// ring.try_push(&buf, &mut tx, &[1u64, 2].map(u64::to_ne_bytes).concat())?;
    /// let mut out = [0u8; 24]; // room for three
    /// assert_eq!(ring.try_pop(&buf, &mut rx, &mut out)?, 2);
    /// assert_eq!(out[..16], [1u64, 2].map(u64::to_ne_bytes).concat());
    /// assert_eq!(ring.try_pop(&buf, &mut rx, &mut out)?, 0); // empty
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[inline]
    pub fn try_pop(
        &self,
        buf: &RingBuf,
        side: &mut Consuming,
        out: &mut [u8],
    ) -> Result<u32, RingError> {
        let size = side.geo.slot_size;
        if out.len() % size != 0 {
            return Err(RingError::Corrupted("message size differs from slot size"));
        }
        let wanted = u32::try_from(out.len() / size).unwrap_or(u32::MAX);
        // The state first: a shutdown seen here was made after every commit
        // of the shutter, which the counter read below then sees (loom
        // found an empty ring reported shut down with a message still in).
        let state = self.state();
        if side.available() == 0 {
            self.look_for_data(side)?;
        } else if side.available() < wanted {
            self.refresh_tail(side)?;
        }
        let n = wanted.min(side.available());
        if state & IMMEDIATE != 0 || (n == 0 && state & SHUTDOWN != 0) {
            return Err(RingError::ShutDown);
        }
        if n == 0 {
            return Ok(0);
        }
        self.copy_out(buf, &side.geo, side.head, &mut out[..n as usize * size]);
        hooks::point(Step::GetCopied);
        side.head = side.head.wrapping_add(n);
        // Release: the commit; pairs with the producers' Acquire load, after
        // which they may overwrite the slots just read.
        self.head.store(side.head, Ordering::Release);
        hooks::point(Step::GetCommitted);
        self.waiting.room.notify();
        hooks::point(Step::GetWoken);
        Ok(n)
    }

    /// Drops every message in the ring (after an immediate shutdown, or to
    /// empty it); returns how many.
    ///
    /// # Errors
    ///
    /// [`RingError::Corrupted`] if the producers' counter is out of range.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{RawRing, RingError};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new(4, 8);
    /// # let mut bytes = [0u8; 32];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 32) };
    /// let soon = Deadline::after(Duration::from_secs(2));
    /// let (mut tx, mut rx) = (ring.take_producing(&buf, soon)?, ring.take_consuming(&buf, soon)?);
    /// ring.try_push(&buf, &mut tx, &[0u8; 24])?; // three messages
    /// ring.shut_down(true);
    /// assert_eq!(ring.try_pop(&buf, &mut rx, &mut [0u8; 8]), Err(RingError::ShutDown));
    /// assert_eq!(ring.discard(&mut rx)?, 3);
    /// assert!(ring.is_empty());
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), RingError>(())
    /// ```
    pub fn discard(&self, side: &mut Consuming) -> Result<u32, RingError> {
        self.refresh_tail(side)?;
        let n = side.available();
        if n > 0 {
            side.head = side.tail;
            // Release: as in `try_pop`.
            self.head.store(side.head, Ordering::Release);
            self.waiting.room.notify();
        }
        Ok(n)
    }

    /// Waits, with the producing side held, until there is room for one
    /// message, the ring is shut down, or `deadline` passes; returns
    /// whether there is room.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`]; [`RingError::Corrupted`] as for
    /// [`RawRing::try_push`].
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
    /// ring.try_push(&buf, &mut tx, &[0u8; 32])?; // full
    /// let brief = Deadline::after(Duration::from_millis(5));
    /// assert!(!ring.wait_for_room(&mut tx, brief)?); // still full at the deadline
    /// ring.try_pop(&buf, &mut rx, &mut [0u8; 8])?; // a consumer takes one
    /// assert!(ring.wait_for_room(&mut tx, soon)?);
    /// assert_eq!(tx.room(), 1);
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn wait_for_room(
        &self,
        side: &mut Producing,
        deadline: Deadline,
    ) -> Result<bool, RingError> {
        self.wait_room(side, 1, deadline, || false)
    }

    /// Waits, with the producing side held, until there is room for `need`
    /// messages (bytes, in a byte ring: a whole record's size), the ring is
    /// shut down, or `deadline` passes; returns whether there is room.
    /// A `need` of 0 waits as 1 does.
    ///
    /// # Errors
    ///
    /// [`RingError::TooLarge`] if `need` exceeds the capacity, which no
    /// wait could meet; otherwise as [`RawRing::wait_for_room`].
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
    /// ring.try_push(&buf, &mut tx, &[0u8; 32])?; // full
    /// ring.try_pop(&buf, &mut rx, &mut [0u8; 8])?; // room for one
    /// let brief = Deadline::after(Duration::from_millis(5));
    /// assert!(!ring.wait_for_room_for(&mut tx, 2, brief)?); // not for two
    /// ring.try_pop(&buf, &mut rx, &mut [0u8; 8])?;
    /// assert!(ring.wait_for_room_for(&mut tx, 2, soon)?);
    /// assert!(ring.wait_for_room_for(&mut tx, 5, soon).is_err(), "4 slots at most");
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn wait_for_room_for(
        &self,
        side: &mut Producing,
        need: u32,
        deadline: Deadline,
    ) -> Result<bool, RingError> {
        let capacity = side.geo.capacity;
        if need > capacity {
            return Err(RingError::TooLarge {
                len: need as usize,
                capacity: capacity as usize,
            });
        }
        self.wait_room(side, need.max(1), deadline, || false)
    }

    /// The wait under every `wait_for_room*`: until `need` units are free
    /// (or the ring is shut down, or `deadline` passes, or `stop()` holds);
    /// whether they are.
    pub(crate) fn wait_room(
        &self,
        side: &mut Producing,
        need: u32,
        deadline: Deadline,
        mut stop: impl FnMut() -> bool,
    ) -> Result<bool, RingError> {
        let geo = side.geo;
        let tail = side.tail;
        let mut head = side.head;
        self.waiting.room.wait_until(deadline, None, || {
            // Acquire: pairs with the consumers' Release commits.
            head = self.head.load(Ordering::Acquire);
            !geo.holds(tail, head)
                || geo.capacity - tail.wrapping_sub(head) >= need
                || self.state() & SHUTDOWN != 0
                || stop()
        });
        if !geo.holds(tail, head) {
            return Err(RingError::Corrupted("message counters out of range"));
        }
        side.head = head;
        if self.state() & SHUTDOWN != 0 {
            return Err(RingError::ShutDown);
        }
        Ok(side.room() >= need)
    }

    /// Waits, with the consuming side held, until a message is there, the
    /// ring is shut down, or `deadline` passes; returns whether a message is
    /// there.
    ///
    /// # Errors
    ///
    /// [`RingError::ShutDown`] once the ring is shut down and empty (or
    /// immediately); [`RingError::Corrupted`] as for [`RawRing::try_pop`].
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
    /// let mut rx = ring.take_consuming(&buf, soon)?;
    /// std::thread::scope(|s| {
    ///     // A producer on another thread (or in another process).
    ///     s.spawn(|| -> Result<(), shmsync::ring::RingError> {
    ///         let mut tx = ring.take_producing(&buf, soon)?;
    ///         ring.try_push_value(&buf, &mut tx, &42u64)?;
    ///         ring.release_producing(tx);
    ///         Ok(())
    ///     });
    ///     assert!(ring.wait_for_data(&mut rx, soon)?);
    ///     assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx)?, Some(42));
    ///     Ok::<(), shmsync::ring::RingError>(())
    /// })?;
    /// ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn wait_for_data(
        &self,
        side: &mut Consuming,
        deadline: Deadline,
    ) -> Result<bool, RingError> {
        self.wait_for_data_or(side, deadline, || false)
    }

    /// [`wait_for_data`](RawRing::wait_for_data) that also returns, with
    /// `Ok(false)` if no message has come, as soon as `stop()` holds: for a
    /// consumer that waits for something outside the ring too (a pipe's
    /// reader, for its writer's end to be closed). Whoever makes `stop()`
    /// hold then calls [`nudge`](RawRing::nudge), which wakes the sleeper
    /// to look at it again.
    ///
    /// # Errors
    ///
    /// As [`RawRing::wait_for_data`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    /// use shmsync::Deadline;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::{Duration, Instant};
    ///
    /// let ring = RawRing::new(4, 8);
    /// # let mut bytes = [0u8; 32];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 32) };
    /// let closed = AtomicBool::new(false); // say, a flag in shared memory
    /// let mut rx = ring.take_consuming(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// let start = Instant::now();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         std::thread::sleep(Duration::from_millis(10));
    ///         closed.store(true, Ordering::SeqCst);
    ///         ring.nudge(); // the sleeper looks at `closed` again
    ///     });
    ///     let forever = Deadline::after(Duration::from_secs(60));
    ///     let data = ring.wait_for_data_or(&mut rx, forever, || closed.load(Ordering::SeqCst))?;
    ///     assert!(!data, "no message: the wait ended for `closed`");
    ///     Ok::<(), shmsync::ring::RingError>(())
    /// })?;
    /// assert!(start.elapsed() < Duration::from_secs(60));
    /// ring.release_consuming(rx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn wait_for_data_or(
        &self,
        side: &mut Consuming,
        deadline: Deadline,
        mut stop: impl FnMut() -> bool,
    ) -> Result<bool, RingError> {
        let geo = side.geo;
        let head = side.head;
        let mut tail = side.tail;
        self.waiting.data.wait_until(deadline, None, || {
            // Acquire: pairs with the producers' Release commits.
            tail = self.tail.load(Ordering::Acquire);
            !geo.holds(tail, head) || tail != head || self.state() & SHUTDOWN != 0 || stop()
        });
        // The state, then the counter again: see `try_pop`.
        let state = self.state();
        if state & SHUTDOWN != 0 {
            // Acquire: pairs with the producers' Release commits.
            tail = self.tail.load(Ordering::Acquire);
        }
        if !geo.holds(tail, head) {
            return Err(RingError::Corrupted("message counters out of range"));
        }
        side.tail = tail;
        if state & IMMEDIATE != 0 || (tail == head && state & SHUTDOWN != 0) {
            return Err(RingError::ShutDown);
        }
        Ok(tail != head)
    }

    /// Locks one side's lock by `deadline` (`None`: one try), and says
    /// whether a holder died holding it. A holder that died left nothing to
    /// repair (see the module docs): the lock is marked consistent.
    #[inline(always)]
    fn lock_side(
        &self,
        side: &Side,
        deadline: Option<Deadline>,
    ) -> Result<(LockHold, bool), RingError> {
        let lock = &side.lock;
        let locked = match (lock.try_lock_before_waiting(), deadline) {
            (Some(locked), _) => Some(locked),
            // Sides are not re-entrant: a thread that holds this side (an
            // exclusive handle up its own stack) would wait for itself
            // until its deadline, or for ever. Checked only once the one
            // try failed, so the fast path pays nothing for it.
            (None, _) if lock.is_held_by_current_thread() => None,
            (None, Some(deadline)) => lock.try_lock_announced(deadline, &side.sleepers),
            // One try, no wait: a dead holder is taken over as
            // `RawLock::try_lock` does.
            (None, None) => lock.take_over_if_gone(),
        };
        let Some(locked) = locked else {
            return Err(RingError::Busy {
                holder: lock.holder_tid(),
            });
        };
        let died = locked.owner_died();
        if died {
            // This thread holds the lock: cannot fail.
            let _ = lock.mark_consistent();
        }
        Ok((locked.hold, died))
    }

    /// Reads the consumers' counter afresh.
    #[inline]
    pub(super) fn refresh_head(&self, side: &mut Producing) -> Result<(), RingError> {
        // Acquire: pairs with the consumers' Release commits; the slots
        // they freed are no longer read once this is seen.
        let head = self.head.load(Ordering::Acquire);
        if !side.geo.holds(side.tail, head) {
            return Err(RingError::Corrupted("message counters out of range"));
        }
        side.head = head;
        Ok(())
    }

    /// Reads the consumers' counter afresh when this side has filled the
    /// room it knew of, slipping first if the last look found little room
    /// (`ring::slip`: a producer that keeps filling a full ring would
    /// otherwise meet its consumer on the counter's line every few
    /// messages).
    ///
    /// Out of line: it runs once per batch, and keeps the per-message path
    /// of its callers small enough to inline.
    #[inline(never)]
    pub(super) fn look_for_room(&self, side: &mut Producing) -> Result<(), RingError> {
        slip::before_look(side.slip);
        self.refresh_head(side)?;
        side.slip = slip::after_look(side.slip, side.room(), &side.geo);
        Ok(())
    }

    /// Reads the producers' counter afresh when this side has taken every
    /// message it knew of, slipping first if the last look found the
    /// producers barely ahead (`ring::slip`: a consumer that keeps up with
    /// its producer would otherwise meet it on the counter's line every few
    /// messages).
    ///
    /// Out of line, as [`RawRing::look_for_room`] is.
    #[inline(never)]
    pub(super) fn look_for_data(&self, side: &mut Consuming) -> Result<(), RingError> {
        slip::before_look(side.slip);
        self.refresh_tail(side)?;
        side.slip = slip::after_look(side.slip, side.available(), &side.geo);
        Ok(())
    }

    /// Reads the producers' counter afresh.
    #[inline]
    pub(super) fn refresh_tail(&self, side: &mut Consuming) -> Result<(), RingError> {
        // Acquire: pairs with the producers' Release commits; the slots
        // they filled are complete once this is seen.
        let tail = self.tail.load(Ordering::Acquire);
        if !side.geo.holds(tail, side.head) {
            return Err(RingError::Corrupted("message counters out of range"));
        }
        side.tail = tail;
        Ok(())
    }

    /// Copies whole slots starting at slot `index`, wrapping at the end of
    /// the buffer.
    #[inline]
    pub(super) fn copy_in(&self, buf: &RingBuf, geo: &Geometry, index: u32, msgs: &[u8]) {
        let at = geo.offset(index);
        let first = msgs.len().min(buf.len() - at);
        let (a, b) = msgs.split_at(first);
        // The geometry matches the buffer (checked when the side was
        // taken): both copies are in bounds, so neither can fail. Most
        // copies do not wrap: no second call then.
        buf.write(at, a);
        if !b.is_empty() {
            buf.write(0, b);
        }
    }

    /// Copies whole slots out, starting at slot `index`, wrapping.
    #[inline]
    pub(super) fn copy_out(&self, buf: &RingBuf, geo: &Geometry, index: u32, out: &mut [u8]) {
        let at = geo.offset(index);
        let first = out.len().min(buf.len() - at);
        let (a, b) = out.split_at_mut(first);
        buf.read(at, a);
        if !b.is_empty() {
            buf.read(0, b);
        }
    }
}

impl Side {
    /// Gives the side's lock back: `hold`, taken by `me` through
    /// [`RawRing::lock_side`], whose waiters announce their sleeps in
    /// `sleepers`. Nothing if `hold` is no longer the lock's (a side
    /// carried across a `fork`).
    #[inline]
    fn give_back(&self, me: Caller, hold: LockHold) -> Result<(), crate::raw::NotOwner> {
        self.lock.unlock_announced(me, hold, &self.sleepers)
    }
}

#[cfg(test)]
mod tests {
    use super::slip::{ARMED, COOLDOWN, EMPTIED, IDLE};
    use super::{RawRing, RingBuf};
    use crate::shim::Deadline;
    use core::ptr::NonNull;

    /// A ring of `capacity` `u64`s over `bytes` (which must outlive it).
    fn ring_over(capacity: u32, bytes: &mut [u64]) -> (RawRing, RingBuf) {
        let len = core::mem::size_of_val(bytes);
        assert_eq!(RawRing::buffer_len(capacity, 8), Some(len));
        // SAFETY: `bytes` outlives the returned buffer in every test below,
        // and is only used through it.
        let buf = unsafe { RingBuf::from_raw(NonNull::from(bytes).cast(), len) };
        (RawRing::new(capacity, 8), buf)
    }

    fn soon() -> Deadline {
        Deadline::after(core::time::Duration::from_secs(5))
    }

    #[test]
    fn a_ring_whose_counters_were_overwritten_is_ready_to_get_and_the_get_fails_at_once() {
        let mut bytes = [0u64; 4];
        let (ring, buf) = ring_over(4, &mut bytes);
        assert!(!ring.is_ready_to_get());
        // A peer's scribble: more messages than the ring can hold.
        ring.tail.store(99, crate::shim::Ordering::Relaxed);
        assert_eq!(ring.len(), 0, "the snapshot hides it");
        assert!(ring.is_ready_to_get(), "but a get would not wait");
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).is_err());
        ring.release_consuming(rx);
    }

    #[test]
    fn a_consumer_that_finds_a_few_twice_in_a_row_slips_before_its_next_look() {
        let mut bytes = [0u64; 64];
        let (ring, buf) = ring_over(64, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        let mut put = |n: u64| {
            for i in 0..n {
                assert!(ring.try_push_value(&buf, &mut tx, &i).unwrap());
            }
        };
        put(2);
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        assert_eq!(
            rx.slip, ARMED,
            "two new messages: the producer is barely ahead"
        );
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        assert_eq!(
            rx.slip, ARMED,
            "no look while messages it knows of are left"
        );
        assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), None);
        assert_eq!(rx.slip, EMPTIED, "an empty ring: the consumer waits");
        put(2);
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        assert_eq!(rx.slip, IDLE, "found after finding none: a wait's find");
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        put(2);
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        assert_eq!(rx.slip, ARMED, "a few again, right behind the producer");
        put(1);
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        put(40);
        assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
        assert_eq!(rx.slip, IDLE, "the slip let a batch build up");
        ring.release_producing(tx);
        ring.release_consuming(rx);
    }

    #[test]
    fn a_consumer_that_waits_for_each_message_never_slips() {
        let mut bytes = [0u64; 64];
        let (ring, buf) = ring_over(64, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        // A request and its answer: every get finds the ring empty first.
        for i in 0..1000u64 {
            assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), None);
            ring.try_push_value(&buf, &mut tx, &i).unwrap();
            assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), Some(i));
            assert_ne!(rx.slip, ARMED, "answer {i}");
        }
        ring.release_producing(tx);
        ring.release_consuming(rx);
    }

    #[test]
    fn a_producer_that_finds_a_little_room_twice_in_a_row_slips_before_its_next_look() {
        let mut bytes = [0u64; 64];
        let (ring, buf) = ring_over(64, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        for i in 0..64u64 {
            assert!(ring.try_push_value(&buf, &mut tx, &i).unwrap());
        }
        assert_eq!(tx.slip, IDLE, "no look while the room it knows of lasts");
        assert!(!ring.try_push_value(&buf, &mut tx, &0u64).unwrap());
        assert_eq!(tx.slip, EMPTIED, "a full ring: the producer waits");
        let mut take = |n| {
            for _ in 0..n {
                assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
            }
        };
        take(2);
        assert!(ring.try_push_value(&buf, &mut tx, &0u64).unwrap());
        assert_eq!(tx.slip, IDLE, "room found after finding none");
        assert!(ring.try_push_value(&buf, &mut tx, &0u64).unwrap());
        take(2);
        assert!(ring.try_push_value(&buf, &mut tx, &0u64).unwrap());
        assert_eq!(
            tx.slip, ARMED,
            "a little room again, right behind the consumer"
        );
        assert!(ring.try_push_value(&buf, &mut tx, &0u64).unwrap());
        take(40);
        assert!(ring.try_push_value(&buf, &mut tx, &0u64).unwrap());
        assert_eq!(tx.slip, IDLE, "the slip let the consumer get ahead");
        ring.release_producing(tx);
        ring.release_consuming(rx);
    }

    #[test]
    fn a_batch_put_with_room_it_knows_of_looks_without_a_slip() {
        let mut bytes = [0u64; 64];
        let (ring, buf) = ring_over(64, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        assert_eq!(ring.try_push(&buf, &mut tx, &[0u8; 60 * 8]).unwrap(), 60);
        let mut out = [0u8; 2 * 8];
        assert_eq!(ring.try_pop(&buf, &mut rx, &mut out).unwrap(), 2);
        // Four slots known free, eight wanted: it looks, finds six, and
        // neither slipped nor armed (only a put that found none does).
        assert_eq!(ring.try_push(&buf, &mut tx, &[0u8; 8 * 8]).unwrap(), 6);
        assert_eq!(tx.slip, IDLE);
        ring.release_producing(tx);
        ring.release_consuming(rx);
    }

    #[test]
    fn a_slip_that_does_not_help_turns_slipping_off_for_a_while() {
        let mut bytes = [0u64; 64];
        let (ring, buf) = ring_over(64, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        // One thread puts, then gets: every look finds exactly one.
        let looks = 3 * u32::from(COOLDOWN);
        let mut slips = 0;
        for i in 0..u64::from(looks) {
            ring.try_push_value(&buf, &mut tx, &i).unwrap();
            slips += u32::from(rx.slip == ARMED);
            assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), Some(i));
        }
        let most = looks / u32::from(COOLDOWN - EMPTIED) + 1;
        assert!(
            (1..=most).contains(&slips),
            "{slips} slips in {looks} looks that each found one (at most {most})"
        );
        ring.release_producing(tx);
        ring.release_consuming(rx);
    }

    #[test]
    fn the_slip_outlives_the_side_so_a_call_per_take_slips_too() {
        let mut bytes = [0u64; 64];
        let (ring, buf) = ring_over(64, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        for i in 0..2u64 {
            ring.try_push_value(&buf, &mut tx, &i).unwrap();
        }
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), Some(0));
        ring.release_consuming(rx);
        let rx = ring.take_consuming(&buf, soon()).unwrap();
        assert_eq!(rx.slip, ARMED);
        ring.release_consuming(rx);
        tx.slip = ARMED;
        ring.release_producing(tx);
        let tx = ring.take_producing(&buf, soon()).unwrap();
        assert_eq!(tx.slip, ARMED);
        ring.release_producing(tx);
        // A scribbled word only times a pause: it is clamped, never trusted.
        for side in [&ring.producer, &ring.consumer] {
            side.slip.store(u32::MAX, crate::shim::Ordering::Relaxed);
        }
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        assert_eq!((tx.slip, rx.slip), (COOLDOWN, COOLDOWN));
        assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), Some(1));
        assert!(ring.try_push_value(&buf, &mut tx, &2u64).unwrap());
        ring.release_consuming(rx);
        ring.release_producing(tx);
    }

    #[test]
    fn a_ring_of_fewer_than_eight_slots_never_slips() {
        let mut bytes = [0u64; 4];
        let (ring, buf) = ring_over(4, &mut bytes);
        let mut tx = ring.take_producing(&buf, soon()).unwrap();
        let mut rx = ring.take_consuming(&buf, soon()).unwrap();
        // Each look finds one message, or one free slot, right after a look
        // that found one too: in a larger ring, the slip would arm.
        for i in 0..100u64 {
            ring.try_push_value(&buf, &mut tx, &i).unwrap();
            assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap(), Some(i));
            assert_ne!(rx.slip, ARMED, "consumer, message {i}");
        }
        while ring.try_push_value(&buf, &mut tx, &0u64).unwrap() {}
        for i in 0..100u64 {
            assert!(ring.try_pop_value::<u64>(&buf, &mut rx).unwrap().is_some());
            assert!(ring.try_push_value(&buf, &mut tx, &i).unwrap());
            assert_ne!(tx.slip, ARMED, "producer, message {i}");
        }
        ring.release_producing(tx);
        ring.release_consuming(rx);
    }

    #[test]
    fn a_sleeper_announcement_left_behind_costs_one_wake_up_then_heals() {
        let mut bytes = [0u64; 8];
        let (ring, buf) = ring_over(8, &mut bytes);
        // A taker that announced its sleep, then died asleep.
        ring.producer
            .sleepers
            .store(1, crate::shim::Ordering::Relaxed);
        let tx = ring.take_producing(&buf, soon()).unwrap();
        ring.release_producing(tx);
        assert_eq!(
            ring.producer.sleepers.load(crate::shim::Ordering::Relaxed),
            0,
            "the release that found it wakes once and clears it"
        );
        let tx = ring.take_producing(&buf, soon()).unwrap();
        assert!(!tx.took_over());
        ring.release_producing(tx);
        assert!(!ring.producer.lock.is_locked());
    }

    #[test]
    fn a_taker_that_sleeps_announces_itself_and_the_release_answers_it() {
        let mut bytes = [0u64; 8];
        let (ring, buf) = ring_over(8, &mut bytes);
        let sleepers = || ring.producer.sleepers.load(crate::shim::Ordering::Relaxed);
        let tx = ring.take_producing(&buf, soon()).unwrap();
        std::thread::scope(|s| {
            let taker = s.spawn(|| {
                let tx = ring.take_producing(&buf, soon()).unwrap();
                ring.release_producing(tx);
            });
            // The taker spins, yields, then announces its sleep.
            let give_up = std::time::Instant::now() + core::time::Duration::from_secs(5);
            while sleepers() == 0 && std::time::Instant::now() < give_up {
                std::thread::sleep(core::time::Duration::from_millis(1));
            }
            assert_eq!(sleepers(), 1, "the taker never announced a sleep");
            ring.release_producing(tx);
            taker.join().unwrap();
        });
        assert_eq!(sleepers(), 0, "the release that woke the taker cleared it");
        assert!(!ring.producer.lock.is_locked());
    }
}
