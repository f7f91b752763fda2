//! `RawRing`: the state of a ring, as it lies in shared memory, and what it
//! says once checked against the buffer this process mapped.

use super::signal::Signal;
use crate::raw::{CachePadded, RawLock};
use crate::shim::{loom_const_fn, AtomicU32, Ordering, RingBuf};
use core::fmt;

/// The most messages (or bytes) a ring holds: counters are `u32` and wrap,
/// so the distance between them must stay below 2³¹.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{RawRing, MAX_CAPACITY};
///
/// assert_eq!(RawRing::byte_capacity(MAX_CAPACITY), Some(MAX_CAPACITY));
/// assert_eq!(RawRing::byte_capacity(MAX_CAPACITY + 1), None);
/// assert_eq!(RawRing::buffer_len(MAX_CAPACITY + 1, 8), None);
/// ```
pub const MAX_CAPACITY: u32 = 1 << 30;

/// `state`: no more messages may be put.
pub(crate) const SHUTDOWN: u32 = 1;
/// `state`: messages left in the ring are to be discarded, not delivered.
pub(crate) const IMMEDIATE: u32 = 2;

/// What can go wrong with a ring itself (not with one message).
///
/// # Examples
///
/// ```
/// use shmsync::ring::{RawRing, RingBuf, RingError, FIRST, LAST};
/// use shmsync::Deadline;
/// use std::{ptr::NonNull, time::Duration};
///
/// let ring = RawRing::new_bytes(64);
/// let mut bytes = [0u8; 64];
/// // SAFETY: `bytes` outlives `buf` and is only used through it.
/// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes).cast(), 64) };
/// let soon = Deadline::after(Duration::from_secs(2));
///
/// let mut tx = ring.take_producing(&buf, soon)?;
/// let huge = [0u8; 100];
/// let err = ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[&huge]);
/// assert_eq!(err, Err(RingError::TooLarge { len: 100, capacity: 56 }));
/// // The side is held (by this thread): another taker gives up at its deadline.
/// let busy = ring.take_producing(&buf, Deadline::now());
/// assert!(matches!(busy, Err(RingError::Busy { holder: Some(_) })));
/// ring.shut_down(false);
/// let late = ring.try_push_record(&buf, &mut tx, FIRST | LAST, &[b"hi"]);
/// assert_eq!(late, Err(RingError::ShutDown));
/// ring.release_producing(tx);
/// # Ok::<(), RingError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RingError {
    /// The ring's state in shared memory cannot be right (a counter out of
    /// range, a geometry that does not match the buffer): a peer wrote over
    /// it. The string says what was found.
    Corrupted(&'static str),
    /// The side's lock stayed held until the deadline, by another thread
    /// or by the calling one (a side is not reentrant).
    Busy {
        /// The thread id the lock named when the wait gave up.
        holder: Option<u32>,
    },
    /// The ring was shut down: no more puts (and, once it is empty or for
    /// an immediate shutdown, no more gets).
    ShutDown,
    /// A record longer than the whole ring can ever hold; or, from
    /// [`RawRing::wait_for_room_for`] on a ring of slots, more slots than
    /// it has.
    TooLarge {
        /// The record's payload, in bytes (or the slots asked for).
        len: usize,
        /// The longest payload the ring holds (or its slots).
        capacity: usize,
    },
}

#[cfg(feature = "std")]
impl std::error::Error for RingError {}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::Corrupted(what) => write!(
                f,
                "ring state corrupted ({what}): a process wrote over the shared memory; make a new one"
            ),
            RingError::Busy { holder: Some(tid) } => write!(
                f,
                "ring side busy: its lock stayed held by thread {tid} until the deadline"
            ),
            RingError::Busy { holder: None } => {
                f.write_str("ring side busy: its lock stayed held until the deadline")
            }
            RingError::ShutDown => f.write_str("ring shut down"),
            RingError::TooLarge { len, capacity } => write!(
                f,
                "{len} bytes (or slots) can never fit a ring that holds at most {capacity}: make the ring larger"
            ),
        }
    }
}

/// One side of the ring: its lock and its cached copy of the other side's
/// counter, on a line the other side never reads (so that a side taken per
/// message pays no cache miss for its lock). Written only by the holder of
/// `lock`.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Side {
    pub(crate) lock: RawLock,
    /// The other side's counter, as this side last read it.
    pub(crate) seen: AtomicU32,
    /// Whether this side's next look at the other side's counter waits a
    /// moment first (`ring::slip`); any value only times a pause.
    pub(crate) slip: AtomicU32,
    /// Set by a thread about to sleep waiting for `lock`, cleared by the
    /// holder that wakes it: the lock is given back with a plain store,
    /// which cannot see the lock's own waiters flag (see
    /// `RawLock::unlock_announced`). A peer's scribble costs one spare
    /// wake-up, or a sleep until the waiter's next probe.
    pub(crate) sleepers: AtomicU32,
}

/// What is fixed when the ring is made, and the lifecycle flags.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Config {
    /// The most messages (or bytes) the ring holds at once.
    pub(crate) capacity: AtomicU32,
    /// Slots in the buffer: a power of two, at least `capacity`.
    pub(crate) slots: AtomicU32,
    /// Bytes per slot.
    pub(crate) slot_size: AtomicU32,
    /// `SHUTDOWN | IMMEDIATE`.
    pub(crate) state: AtomicU32,
}

/// Who sleeps, and on what.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Waiting {
    /// Consumers waiting for messages; notified by producers' commits.
    pub(crate) data: Signal,
    /// Producers waiting for room; notified by consumers' commits.
    pub(crate) room: Signal,
}

/// A ring's state in shared memory: the counters, the two side locks, the
/// waiting words. The buffer lives elsewhere ([`RingBuf`]), so that one
/// state type serves every capacity.
///
/// `RawRing` is `#[repr(C)]`, pointer-free and needs no `Drop`; the
/// crate's `Queue` places it, with its buffer, in shared memory. Its
/// operations take the buffer as this process maps it and check the state
/// against it before trusting anything.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{RawRing, RingBuf};
/// use shmsync::Deadline;
/// use std::{ptr::NonNull, time::Duration};
///
/// // A ring of 4 messages of 8 bytes and its buffer: here both on the stack,
/// // between processes both in shared memory (as `Queue` places them).
/// let ring = RawRing::new(4, 8);
/// let mut bytes = [0u8; 32];
/// assert_eq!(RawRing::buffer_len(4, 8), Some(bytes.len()));
/// // SAFETY: `bytes` outlives `buf` and is only used through it.
/// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes).cast(), 32) };
/// let soon = Deadline::after(Duration::from_secs(2));
///
/// let mut tx = ring.take_producing(&buf, soon)?;
/// assert!(ring.try_push_value(&buf, &mut tx, &7u64)?);
/// ring.release_producing(tx);
///
/// let mut rx = ring.take_consuming(&buf, soon)?;
/// assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx)?, Some(7));
/// ring.release_consuming(rx);
/// # Ok::<(), shmsync::ring::RingError>(())
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawRing {
    pub(crate) config: CachePadded<Config>,
    pub(crate) producer: CachePadded<Side>,
    /// Messages (or bytes) the producers committed, ever, wrapping: written
    /// by the producing side, read by the consumers.
    pub(crate) tail: CachePadded<AtomicU32>,
    pub(crate) consumer: CachePadded<Side>,
    /// Messages (or bytes) the consumers took, ever, wrapping.
    pub(crate) head: CachePadded<AtomicU32>,
    pub(crate) waiting: CachePadded<Waiting>,
}

/// A ring's geometry, checked against the buffer: copies in locals that no
/// peer can change afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub(crate) capacity: u32,
    /// `slots - 1`: slots are a power of two.
    pub(crate) mask: u32,
    pub(crate) slot_size: usize,
}

impl Geometry {
    /// Where slot `index` (a counter value) starts in the buffer.
    #[inline]
    pub(crate) fn offset(&self, index: u32) -> usize {
        (index & self.mask) as usize * self.slot_size
    }

    /// Whether `tail - head` is a possible number of messages.
    #[inline]
    pub(crate) fn holds(&self, tail: u32, head: u32) -> bool {
        tail.wrapping_sub(head) <= self.capacity
    }
}

impl Side {
    loom_const_fn! {
        fn new() -> Side {
            Side {
                lock: RawLock::new(),
                seen: AtomicU32::new(0),
                slip: AtomicU32::new(0),
                sleepers: AtomicU32::new(0),
            }
        }
    }
}

impl RawRing {
    loom_const_fn! {
        /// An empty ring holding at most `capacity` messages of `slot_size`
        /// bytes each, in a buffer of [`RawRing::buffer_len`] bytes.
        ///
        /// # Panics
        ///
        /// If `capacity` is 0 or above [`MAX_CAPACITY`], or `slot_size` is
        /// 0; use [`RawRing::buffer_len`] first to check the arguments.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::ring::RawRing;
        ///
        /// let ring = RawRing::new(10, 8);
        /// assert_eq!(ring.capacity(), 10);
        /// assert!(ring.is_empty());
        /// // Its buffer has 16 slots (a power of two) of 8 bytes.
        /// assert_eq!(RawRing::buffer_len(10, 8), Some(128));
        /// ```
        pub fn new(capacity: u32, slot_size: u32) -> RawRing {
            assert!(capacity > 0 && capacity <= MAX_CAPACITY, "ring capacity out of range");
            assert!(slot_size > 0, "ring slots need at least one byte");
            RawRing {
                config: CachePadded(Config {
                    capacity: AtomicU32::new(capacity),
                    slots: AtomicU32::new(capacity.next_power_of_two()),
                    slot_size: AtomicU32::new(slot_size),
                    state: AtomicU32::new(0),
                }),
                producer: CachePadded(Side::new()),
                tail: CachePadded(AtomicU32::new(0)),
                consumer: CachePadded(Side::new()),
                head: CachePadded(AtomicU32::new(0)),
                waiting: CachePadded(Waiting {
                    data: Signal::new(),
                    room: Signal::new(),
                }),
            }
        }
    }

    loom_const_fn! {
        /// An empty byte ring (for records, see [`RawRing::try_push_record`])
        /// of [`RawRing::byte_capacity`]`(capacity)` bytes; its buffer is
        /// that long.
        ///
        /// # Panics
        ///
        /// If `capacity` is 0 or above [`MAX_CAPACITY`].
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::ring::{RawRing, HEADER};
        ///
        /// let ring = RawRing::new_bytes(1000);
        /// assert_eq!(ring.capacity(), 1024); // bytes: rounded up to a power of two
        /// assert_eq!(RawRing::byte_capacity(1000), Some(1024)); // its buffer's length
        /// // The longest record: all but its header.
        /// assert_eq!(ring.record_capacity(ring.capacity()), 1024 - HEADER);
        /// ```
        pub fn new_bytes(capacity: u32) -> RawRing {
            match RawRing::byte_capacity(capacity) {
                Some(bytes) => RawRing::new(bytes, 1),
                None => panic!("byte ring capacity out of range"),
            }
        }
    }

    /// The bytes a byte ring asked to hold `capacity` bytes really holds
    /// (and its buffer's length): a power of two of at least 16; `None` if
    /// `capacity` is 0 or above [`MAX_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    ///
    /// assert_eq!(RawRing::byte_capacity(1000), Some(1024));
    /// assert_eq!(RawRing::byte_capacity(3), Some(16));
    /// ```
    pub const fn byte_capacity(capacity: u32) -> Option<u32> {
        if capacity == 0 || capacity > MAX_CAPACITY {
            return None;
        }
        let bytes = capacity.next_power_of_two();
        Some(if bytes < 16 { 16 } else { bytes })
    }

    /// The buffer a ring of `capacity` messages of `slot_size` bytes needs,
    /// in bytes; `None` if no such ring can be made (a zero, a capacity above
    /// [`MAX_CAPACITY`], or a size that overflows).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    ///
    /// // Slots are a power of two: 10 messages take 16 slots.
    /// assert_eq!(RawRing::buffer_len(10, 8), Some(128));
    /// assert_eq!(RawRing::buffer_len(0, 8), None);
    /// ```
    pub const fn buffer_len(capacity: u32, slot_size: u32) -> Option<usize> {
        if capacity == 0 || capacity > MAX_CAPACITY || slot_size == 0 {
            return None;
        }
        (capacity.next_power_of_two() as usize).checked_mul(slot_size as usize)
    }

    /// The most messages the ring holds (as its state says).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    ///
    /// // Messages, not slots: the 3-message ring has 4 slots.
    /// assert_eq!(RawRing::new(3, 16).capacity(), 3);
    /// assert_eq!(RawRing::buffer_len(3, 16), Some(64));
    /// ```
    pub fn capacity(&self) -> u32 {
        // Relaxed: fixed at creation; clamped, as a peer could have
        // written anything.
        self.config
            .capacity
            .load(Ordering::Relaxed)
            .min(MAX_CAPACITY)
    }

    /// Messages in the ring now (a snapshot; 0 if the counters are out of
    /// range).
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
    /// ring.try_push(&buf, &mut tx, &[0u8; 16])?; // two messages of 8 bytes
    /// assert_eq!(ring.len(), 2);
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn len(&self) -> u32 {
        // Relaxed: a snapshot. Head first: tail only grows meanwhile, so
        // a torn pair reads as more, never negative.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        let len = tail.wrapping_sub(head);
        if len <= self.capacity() {
            len
        } else {
            0
        }
    }

    /// Whether the ring holds no message now (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new(4, 8);
    /// assert!(ring.is_empty());
    /// # let mut bytes = [0u8; 32];
    /// # // SAFETY: `bytes` outlives `buf` and is only used through it.
    /// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 32) };
    /// let mut tx = ring.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
    /// ring.try_push_value(&buf, &mut tx, &1u64)?;
    /// assert!(!ring.is_empty());
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the ring holds `capacity` messages now (a snapshot).
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
    /// assert_eq!(ring.try_push(&buf, &mut tx, &[0u8; 40])?, 4); // 4 of the 5 fit
    /// assert!(ring.is_full());
    /// # ring.release_producing(tx);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Whether a get would return without waiting for a message now (a
    /// snapshot): one is there, the ring is shut down, or its counters are
    /// out of range (the get fails at once, `Corrupted`).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    ///
    /// let ring = RawRing::new(4, 8);
    /// assert!(!ring.is_ready_to_get());
    /// ring.shut_down(false);
    /// assert!(ring.is_ready_to_get(), "a get fails at once");
    /// ```
    pub fn is_ready_to_get(&self) -> bool {
        // Relaxed: a snapshot, as in `len`; the get that follows reads the
        // counters again, synchronizing then.
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Relaxed);
        tail != head || self.is_shut_down()
    }

    /// Whether the ring was shut down.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::RawRing;
    ///
    /// let ring = RawRing::new(4, 8);
    /// assert!(!ring.is_shut_down());
    /// ring.shut_down(false);
    /// assert!(ring.is_shut_down());
    /// ```
    pub fn is_shut_down(&self) -> bool {
        self.state() & SHUTDOWN != 0
    }

    /// The lifecycle flags.
    #[inline]
    pub(crate) fn state(&self) -> u32 {
        // Acquire: pairs with the Release in `shut_down`; a side that sees
        // the flag sees what the shutter did before.
        self.config.state.load(Ordering::Acquire)
    }

    /// Shuts the ring down: later puts fail with [`RingError::ShutDown`];
    /// gets drain what is left and then fail (or, with `immediate`, fail at
    /// once: what is left is discarded). Every sleeper on either side wakes.
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
    /// ring.try_push_value(&buf, &mut tx, &1u64)?;
    /// ring.shut_down(false);
    /// assert_eq!(ring.try_push_value(&buf, &mut tx, &2u64), Err(RingError::ShutDown));
    /// assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx), Ok(Some(1))); // drained
    /// assert_eq!(ring.try_pop_value::<u64>(&buf, &mut rx), Err(RingError::ShutDown));
    /// # ring.release_producing(tx);
    /// # ring.release_consuming(rx);
    /// # Ok::<(), RingError>(())
    /// ```
    pub fn shut_down(&self, immediate: bool) {
        let flags = if immediate {
            SHUTDOWN | IMMEDIATE
        } else {
            SHUTDOWN
        };
        // Release: pairs with the Acquire in `state`.
        self.config.state.fetch_or(flags, Ordering::Release);
        // A full fence: this is the notifier's half of the sleepers'
        // Dekker pair, on a rare path.
        crate::shim::heavy_fence();
        self.waiting.data.notify_fenced();
        self.waiting.room.notify_fenced();
    }

    /// Checks the fixed state against `buf`, the buffer this process
    /// mapped for the ring, and returns it in locals.
    ///
    /// # Errors
    ///
    /// [`RingError::Corrupted`] if the capacity, slot count or slot size
    /// are impossible or do not match the buffer's length.
    #[inline]
    pub(crate) fn geometry(&self, buf: &RingBuf) -> Result<Geometry, RingError> {
        // Relaxed: fixed at creation, published with the ring itself.
        let capacity = self.config.capacity.load(Ordering::Relaxed);
        let slots = self.config.slots.load(Ordering::Relaxed);
        let slot_size = self.config.slot_size.load(Ordering::Relaxed);
        if capacity == 0 || capacity > MAX_CAPACITY || capacity > slots {
            return Err(RingError::Corrupted("capacity out of range"));
        }
        if !slots.is_power_of_two() || slot_size == 0 {
            return Err(RingError::Corrupted("slot geometry impossible"));
        }
        if (slots as usize).checked_mul(slot_size as usize) != Some(buf.len()) {
            return Err(RingError::Corrupted(
                "slot geometry does not match the buffer",
            ));
        }
        Ok(Geometry {
            capacity,
            mask: slots - 1,
            slot_size: slot_size as usize,
        })
    }
}
