//! What every queue handle holds: the ring's state and its buffer in one
//! shared object, a few words of queue-level state beside the ring, and the
//! ring's geometry checked once against the buffer this process mapped.

use crate::raw::CachePadded;
use crate::ring::{Geometry, RawRing, RingBuf, RingError, Signal, MAX_CAPACITY};
use crate::shm::{Segment, SegmentError, SharedTail, ShmSafe};
use crate::Deadline;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::super::error::{mismatch, opened_as, Error};

/// `kind` of a queue of `Pod` values in fixed-size slots.
pub(crate) const KIND_SLOTS: u32 = 0x5155_0001;
/// `kind` of a queue of length-framed records in a byte ring.
pub(crate) const KIND_RECORDS: u32 = 0x5155_0002;

/// The buffer's alignment: a cache line, so the first slot starts one.
const BUFFER_ALIGN: usize = 64;

/// The queue-level words beside the ring.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Meta {
    /// [`KIND_SLOTS`] or [`KIND_RECORDS`]: what an opener expects to find.
    kind: AtomicU32,
    /// Bytes per item (slot queues); 0 for record queues.
    item_size: AtomicU32,
    /// The creator's largest message (record queues): an opener that does
    /// not choose its own takes this one, clamped to what the ring holds.
    max_message: AtomicU32,
    /// `task_done` calls, ever (wrapping): a joinable queue's unfinished
    /// count is the ring's committed puts minus this.
    pub(crate) tasks_done: AtomicU32,
    /// Where `join` sleeps; notified when the unfinished count reaches 0
    /// and at shutdown.
    pub(crate) joined: Signal,
}

/// A queue's shared state: the ring, then the queue's own words on a line
/// of their own. The buffer follows in the same object.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct QueueState {
    pub(crate) ring: RawRing,
    pub(crate) meta: CachePadded<Meta>,
}

// SAFETY: a RawRing (ShmSafe: repr(C), atomics and wait cells, every field
// checked before use) and atomic words plus a Signal (an atomic word and a
// wait cell, as in the ring): no pointers, no Drop, any bytes a valid value.
unsafe impl ShmSafe for QueueState {}

/// How long an operation may wait.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// As long as it takes.
    Block,
    /// Not for room or data; for a side only within the spin bound (a put
    /// or get of another thread holds it for a copy's time).
    Never,
    /// Until the deadline.
    Until(Deadline),
    /// For this long from the first moment the call has to wait: the
    /// clock is read only then ([`Wait::resolve`]), so a timed call that
    /// finds room or data at once costs no more than a blocking one.
    Within(Duration),
}

impl Wait {
    /// `None`: block; `Some(t)`: for `t` (from when the call first has
    /// to wait).
    pub(crate) fn timeout(timeout: Option<Duration>) -> Wait {
        match timeout {
            None => Wait::Block,
            Some(t) => Wait::Within(t),
        }
    }

    /// [`Wait::Within`] turned into a deadline from now; the others as
    /// they are.
    #[inline]
    pub(crate) fn resolve(self) -> Wait {
        match self {
            Wait::Within(t) => Wait::Until(Deadline::after(t)),
            wait => wait,
        }
    }

    /// The deadline for taking the side: for a call that does not wait,
    /// the spin bound from now (a put or get of another thread holds the
    /// side for a copy's time).
    #[inline]
    pub(crate) fn side_deadline(self) -> Deadline {
        match self {
            Wait::Block => Deadline::NEVER,
            Wait::Never => Deadline::after(crate::spin_duration()),
            Wait::Until(d) => d,
            Wait::Within(t) => Deadline::after(t),
        }
    }

    /// The deadline for room or data, or `None` if not to wait at all.
    #[inline]
    pub(crate) fn data_deadline(self) -> Option<Deadline> {
        match self {
            Wait::Block => Some(Deadline::NEVER),
            Wait::Never => None,
            Wait::Until(d) => Some(d),
            Wait::Within(t) => Some(Deadline::after(t)),
        }
    }
}

/// What a handle keeps: the shared object, its buffer as this process maps
/// it, and the geometry checked against that buffer once.
#[derive(Clone)]
pub(crate) struct Ring {
    shared: SharedTail<QueueState>,
    pub(crate) buf: RingBuf,
    pub(crate) geo: Geometry,
    /// How this handle's gets wait.
    pub(crate) pace: super::ops::Pace,
}

/// How a queue is laid out: what `new` and the segment constructors ask.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) kind: u32,
    /// Messages (slots) or bytes (records) the ring holds.
    pub(crate) capacity: u32,
    /// Bytes per slot (1 for records).
    pub(crate) slot_size: u32,
    pub(crate) item_size: u32,
    pub(crate) max_message: u32,
}

impl Shape {
    /// A queue of `capacity` items of `item_size` bytes.
    pub(crate) fn slots(capacity: usize, item_size: usize) -> Result<Shape, Error> {
        let capacity = u32::try_from(capacity)
            .ok()
            .filter(|&c| c > 0 && c <= MAX_CAPACITY)
            .ok_or(Error::InvalidArgument(
                "queue capacity must be between 1 and 2^30 items",
            ))?;
        let item_size =
            u32::try_from(item_size)
                .ok()
                .filter(|&s| s > 0)
                .ok_or(Error::InvalidArgument(
                    "queue items must be between 1 byte and 4 GiB",
                ))?;
        if RawRing::buffer_len(capacity, item_size).is_none() {
            return Err(Error::InvalidArgument("queue buffer larger than memory"));
        }
        Ok(Shape {
            kind: KIND_SLOTS,
            capacity,
            slot_size: item_size,
            item_size,
            max_message: 0,
        })
    }

    /// A byte ring of at least `capacity` bytes (a power of two) whose
    /// messages are at most `max_message` bytes (`None`: the most the
    /// ring holds).
    pub(crate) fn records(capacity: usize, max_message: Option<usize>) -> Result<Shape, Error> {
        let bytes = u32::try_from(capacity)
            .ok()
            .and_then(RawRing::byte_capacity)
            .ok_or(Error::InvalidArgument(
                "byte queue capacity must be between 1 byte and 1 GiB",
            ))?;
        let most = record_capacity(bytes);
        let max_message = match max_message {
            None => most,
            Some(max) => u32::try_from(max).unwrap_or(u32::MAX).min(most),
        };
        Ok(Shape {
            kind: KIND_RECORDS,
            capacity: bytes,
            slot_size: 1,
            item_size: 0,
            max_message,
        })
    }

    fn buffer_len(&self) -> usize {
        // Checked by the constructors above.
        RawRing::buffer_len(self.capacity, self.slot_size).unwrap_or(0)
    }

    fn state(&self) -> QueueState {
        QueueState {
            ring: RawRing::new(self.capacity, self.slot_size),
            meta: CachePadded(Meta {
                kind: AtomicU32::new(self.kind),
                item_size: AtomicU32::new(self.item_size),
                max_message: AtomicU32::new(self.max_message),
                tasks_done: AtomicU32::new(0),
                joined: Signal::new(),
            }),
        }
    }
}

/// The longest payload of one record in a byte ring of `bytes` bytes.
pub(crate) fn record_capacity(bytes: u32) -> u32 {
    bytes.saturating_sub(crate::ring::HEADER as u32) & !7
}

impl Ring {
    /// A fresh queue in its own shared mapping.
    pub(crate) fn new(shape: Shape) -> Result<Ring, Error> {
        let shared = SharedTail::new(shape.state(), shape.buffer_len(), BUFFER_ALIGN)?;
        Ring::checked(shared, shape, "a queue")
    }

    /// The queue `name` in `segment`, made with `shape` if no process has
    /// yet (`create`), or only found.
    pub(crate) fn in_segment(
        segment: &Segment,
        name: &str,
        shape: Shape,
        create: bool,
        type_name: &'static str,
    ) -> Result<Ring, Error> {
        // Another item size or capacity shows as another type: named as
        // the handle the caller asked for, not the shared state inside it.
        let len = shape.buffer_len();
        let shared = if create {
            segment.get_or_init_with_tail(name, len, BUFFER_ALIGN, || shape.state())
        } else {
            segment.get_with_tail::<QueueState>(name, len, BUFFER_ALIGN)
        };
        let shared = shared.map_err(opened_as(type_name))?;
        Ring::checked(shared, shape, type_name).map_err(|e| match e {
            Error::InvalidArgument(_) => mismatch(name, type_name),
            e => e,
        })
    }

    /// Checks the shared state against what this handle expects (the
    /// kind, the item size, the geometry against the buffer) once; every
    /// operation then uses the checked copy.
    fn checked(
        shared: SharedTail<QueueState>,
        shape: Shape,
        type_name: &'static str,
    ) -> Result<Ring, Error> {
        let _ = type_name;
        // Once per process, before its first commit or sleep (a forked
        // child inherits it): the sleepers' heavy fence must reach this
        // process's threads (`sys::barrier`). The ring's `*_checked` side
        // takers rely on it.
        crate::shim::register_fences();
        // SAFETY: the buffer is `tail_len` bytes at `tail()`, inside the
        // mapping that `shared` keeps alive as long as this Ring (which
        // owns it) and every RingBuf copy made from it (each lives in a
        // handle that also owns `shared`); it is only ever accessed through
        // RingBuf's copies, never through Rust references.
        let buf = unsafe { RingBuf::from_raw(shared.tail(), shared.tail_len()) };
        let state = &**shared.head();
        // Relaxed: fixed at creation, published with the object.
        let kind = state.meta.kind.load(Ordering::Relaxed);
        let item_size = state.meta.item_size.load(Ordering::Relaxed);
        if kind != shape.kind || item_size != shape.item_size {
            return Err(Error::InvalidArgument(
                "the shared queue holds another kind of item",
            ));
        }
        let geo = state.ring.geometry(&buf).map_err(|e| match e {
            RingError::Corrupted(what) => Error::Segment(SegmentError::Corrupted(what)),
            _ => Error::Segment(SegmentError::Corrupted("queue state")),
        })?;
        if geo.slot_size != shape.slot_size as usize {
            return Err(Error::InvalidArgument(
                "the shared queue holds another kind of item",
            ));
        }
        Ok(Ring {
            shared,
            buf,
            geo,
            pace: super::ops::Pace::default(),
        })
    }

    /// The shared state.
    #[inline]
    pub(crate) fn state(&self) -> &QueueState {
        self.shared.head()
    }

    /// The ring.
    #[inline]
    pub(crate) fn raw(&self) -> &RawRing {
        &self.state().ring
    }

    /// The creator's largest message, clamped to what the ring holds.
    pub(crate) fn shared_max_message(&self) -> u32 {
        // Relaxed: fixed at creation.
        let max = self.state().meta.max_message.load(Ordering::Relaxed);
        max.min(record_capacity(self.geo.capacity))
    }

    /// Shuts the queue down (see `Queue::shutdown`) and wakes `join`ers.
    pub(crate) fn shut_down(&self, immediate: bool) {
        self.raw().shut_down(immediate);
        self.state().meta.joined.notify_fenced();
    }

    /// Messages (or bytes) in the ring now; 0 after an immediate shutdown,
    /// whose leftovers are discarded.
    pub(crate) fn len(&self) -> u32 {
        if self.is_discarding() {
            0
        } else {
            self.raw().len()
        }
    }

    /// Whether the queue was shut down with `immediate`.
    pub(crate) fn is_discarding(&self) -> bool {
        self.raw().state() & crate::ring::IMMEDIATE != 0
    }
}
