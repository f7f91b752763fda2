//! The pipe's object in shared memory: one byte ring per direction, the
//! words each end keeps, and the rings' buffers behind them, in one
//! mapping (its own, or a segment's).

use super::PipeOptions;
use crate::api::error::{mismatch, opened_as, Error};
use crate::raw::CachePadded;
use crate::ring::{RawRing, RingBuf};
use crate::shm::{Segment, SharedTail, ShmSafe};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where each ring's buffer starts: on a line pair of its own.
const BUFFER_ALIGN: usize = 128;

/// Ring `e` carries what end `e` sends: ring 0 from end A to end B, ring 1
/// from B to A. End `e` sends on ring `e` and receives on ring `1 - e`.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct PipeState {
    pub(crate) rings: [RawRing; 2],
    pub(crate) ends: [CachePadded<EndWords>; 2],
    pub(crate) info: CachePadded<Info>,
}

/// The words one end keeps, on a line of their own: its reader writes them
/// rarely, the other end's writer reads them after every commit.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct EndWords {
    /// Odd while this end's reader waits on its descriptor in an event
    /// loop and wants a wake token: `declarations << 1 | 1`. Each
    /// declaration of a reader counts up; the writer that has sent the
    /// token clears bit 0 of the declaration it answered, never of a newer
    /// one. See [`EndWords::declare_fd_waiting`].
    pub(crate) fd_waiting: AtomicU32,
    /// Nonzero once a process has opened this end. In a segment, the other
    /// end's absence means end of file only after it has been there once.
    pub(crate) opened: AtomicU32,
    /// How many handles of this end were closed (dropped), in every
    /// process, wrapping: the other end's waiting calls and sends ask the
    /// kernel whether this end is gone as soon as it moves, rather than on
    /// their schedule. A hint only: the kernel's answer decides, so a peer
    /// that writes it can cost a system call, never a wrong end of file.
    pub(crate) closes: AtomicU32,
}

impl EndWords {
    /// This end's reader waits on its descriptor (a new declaration). The
    /// caller fences heavily next, then looks at the ring.
    pub(crate) fn declare_fd_waiting(&self) {
        // Relaxed: ordered by the caller's heavy fence (the reader's half
        // of the Dekker pair with a writer's commit).
        let _ = self
            .fd_waiting
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |word| {
                Some(((word >> 1).wrapping_add(1) << 1) | 1)
            });
    }

    /// After a commit: whether this end's reader waits for a token, and
    /// which declaration the token answers.
    #[inline]
    pub(crate) fn fd_waiter(&self) -> Option<u32> {
        // Relaxed: the commit's light fence orders this load after it.
        let word = self.fd_waiting.load(Ordering::Relaxed);
        (word & 1 != 0).then_some(word)
    }

    /// A handle of this end is closed; the caller nudges the rings next,
    /// so that the other end's sleepers look at [`EndWords::closes`].
    pub(crate) fn closed_one(&self) {
        // Release: after the handle's kernel object is released, so a peer
        // that sees the count move asks the kernel after it.
        self.closes.fetch_add(1, Ordering::Release);
    }

    /// How many handles of this end were closed so far (see
    /// [`EndWords::closes`]).
    #[inline]
    pub(crate) fn closes(&self) -> u32 {
        // Acquire: pairs with `closed_one`.
        self.closes.load(Ordering::Acquire)
    }

    /// The token for `declaration` is sent: takes the declaration back,
    /// unless the reader has made a newer one meanwhile (which wants a
    /// token of its own). The token goes first: a writer killed between
    /// the two leaves the declaration up, and the next writer sends
    /// another token (a spare one, never a missing one).
    pub(crate) fn answered(&self, declaration: u32) {
        // Relaxed: the word only says whether a token is wanted.
        let _ = self.fd_waiting.compare_exchange(
            declaration,
            declaration & !1,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// What the pipe was made with, for those who open it later.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Info {
    /// 1 for a two-way pipe, 0 for a one-way one (A receives, B sends).
    pub(crate) duplex: AtomicU32,
}

// SAFETY: two rings (ShmSafe themselves), and atomics: no pointers, any
// bytes valid (checked before use), no Drop.
unsafe impl ShmSafe for PipeState {}

impl PipeState {
    fn new(duplex: bool, capacities: [u32; 2]) -> PipeState {
        let end = || {
            CachePadded(EndWords {
                fd_waiting: AtomicU32::new(0),
                opened: AtomicU32::new(0),
                closes: AtomicU32::new(0),
            })
        };
        PipeState {
            rings: [
                RawRing::new_bytes(capacities[0]),
                RawRing::new_bytes(capacities[1]),
            ],
            ends: [end(), end()],
            info: CachePadded(Info {
                duplex: AtomicU32::new(u32::from(duplex)),
            }),
        }
    }
}

/// This process's handle on a pipe's object: the state and the two ring
/// buffers as mapped here.
#[derive(Clone, Debug)]
pub(crate) struct PipeMem {
    obj: SharedTail<PipeState>,
    bufs: [RingBuf; 2],
}

impl PipeMem {
    /// The ring sizes, in bytes, for `options`: a one-way pipe only uses
    /// ring 1 (B to A); ring 0 gets the smallest size.
    fn capacities(options: &PipeOptions) -> Result<[u32; 2], Error> {
        let bytes = u32::try_from(options.capacity)
            .ok()
            .and_then(RawRing::byte_capacity)
            .ok_or(Error::InvalidArgument(
                "pipe capacity must be between 1 byte and 1 GiB",
            ))?;
        let unused = RawRing::byte_capacity(1).unwrap_or(16);
        Ok([if options.duplex { bytes } else { unused }, bytes])
    }

    /// A fresh pipe in its own shared mapping.
    pub(crate) fn new(options: &PipeOptions) -> Result<PipeMem, Error> {
        let caps = PipeMem::capacities(options)?;
        let obj = SharedTail::new(
            PipeState::new(options.duplex, caps),
            caps[0] as usize + caps[1] as usize,
            BUFFER_ALIGN,
        )?;
        Ok(PipeMem::with_buffers(obj, caps))
    }

    /// The pipe `name` in `segment`, made with `options` if it is not there
    /// yet.
    pub(crate) fn in_segment(
        segment: &Segment,
        name: &str,
        options: &PipeOptions,
    ) -> Result<PipeMem, Error> {
        // Other options make another size of object, or (same size) another
        // duplex setting: either way not the pipe asked for, and named as
        // the pipe, not the state inside it.
        const PIPE: &str = "shmsync::Pipe";
        let caps = PipeMem::capacities(options)?;
        let obj = segment
            .get_or_init_with_tail(
                name,
                caps[0] as usize + caps[1] as usize,
                BUFFER_ALIGN,
                || PipeState::new(options.duplex, caps),
            )
            .map_err(opened_as(PIPE))?;
        // Relaxed: fixed at creation, published with the object.
        let duplex = obj
            .head()
            .info
            .duplex
            .load(std::sync::atomic::Ordering::Relaxed);
        if duplex != u32::from(options.duplex) {
            return Err(mismatch(name, PIPE));
        }
        Ok(PipeMem::with_buffers(obj, caps))
    }

    fn with_buffers(obj: SharedTail<PipeState>, caps: [u32; 2]) -> PipeMem {
        let base = obj.tail();
        // SAFETY: the tail is `caps[0] + caps[1]` bytes inside the mapping
        // that `obj` keeps alive as long as this PipeMem (which holds both);
        // the two buffers do not overlap, and are only used as ring buffers.
        let bufs = unsafe {
            [
                RingBuf::from_raw(base, caps[0] as usize),
                RingBuf::from_raw(base.add(caps[0] as usize), caps[1] as usize),
            ]
        };
        PipeMem { obj, bufs }
    }

    /// The shared state.
    #[inline]
    pub(crate) fn state(&self) -> &PipeState {
        self.obj.head()
    }

    /// Ring `i` and its buffer.
    #[inline]
    pub(crate) fn ring(&self, i: usize) -> (&RawRing, &RingBuf) {
        (&self.state().rings[i], &self.bufs[i])
    }

    /// The whole object's bytes as mapped here: the state, then the
    /// buffers (for the hostile-bytes fuzz hook).
    #[cfg(fuzzing)]
    pub(crate) fn raw_bytes(&self) -> (std::ptr::NonNull<u8>, usize) {
        let start = std::ptr::NonNull::from(self.state()).cast::<u8>();
        let end = self.bufs[1].len()
            + (self.obj.tail().as_ptr() as usize - start.as_ptr() as usize)
            + self.bufs[0].len();
        (start, end)
    }
}
