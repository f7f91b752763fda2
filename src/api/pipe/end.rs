//! How an end learns that the other end is gone: the two mechanisms the
//! kernel releases by itself when the last handle of an end goes, never a
//! pid that could be reused.
//!
//! - [`SocketEnd`] (`Pipe::new`): each end holds one socket of a pair; once
//!   every descriptor of the other socket is closed, this one polls
//!   `POLLHUP`. The socket is also the end's descriptor for event loops
//!   (wake tokens, see `connection`).
//! - [`SegmentEnd`] (a pipe in a named segment): each handle of an end
//!   holds a shared open-file-description lock on a byte standing for its
//!   end; the other end is gone once no such lock is left on its byte (and
//!   it had opened once).
//!
//! Both are shared by a fork, like the descriptors they are: two handles of
//! one end in a parent and a forked child count as one end, which closes
//! when both are gone.

use crate::sys;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// Where the first of a pipe's lock bytes lie in a segment's file: far past
/// its data (a lock may lie beyond the end of a file, and changes nothing
/// in it).
const LOCK_BASE: i64 = 1 << 60;

pub(super) mod sealed {
    use std::os::fd::BorrowedFd;

    /// What a connection asks its end-of-file mechanism.
    pub trait Mechanism {
        /// Whether the other end, `peer`, is gone now (a system call);
        /// `opened` says whether it was ever opened.
        fn peer_gone(&self, peer: usize, opened: bool) -> bool;
        /// The descriptor that polls readable for an event loop, if any.
        fn token_fd(&self) -> Option<BorrowedFd<'_>>;
        /// Whether an end, once gone, stays gone (no process can open it
        /// again).
        const FINAL: bool;
    }
}

/// How a [`Connection`](super::Connection) learns that the other end is
/// gone (sealed): [`SocketEnd`] for pipes made by `Pipe::new`,
/// [`SegmentEnd`] for pipes in a named segment.
pub trait EndKind: sealed::Mechanism + fmt::Debug + Send + Sync + 'static {}

/// The end-of-file mechanism of a pipe made by
/// [`Pipe::new`](super::Pipe::new): one socket of a pair per end, which is
/// also the connection's descriptor for event loops
/// ([`AsFd`](std::os::fd::AsFd)).
#[derive(Debug)]
pub struct SocketEnd {
    sock: OwnedFd,
}

/// The end-of-file mechanism of a pipe in a named [`Segment`]: an
/// open-file-description lock per end on the segment's file.
///
/// [`Segment`]: crate::Segment
#[derive(Debug)]
pub struct SegmentEnd {
    /// A description of the segment's file of this handle's own, holding
    /// the lock on this end's byte.
    lock: OwnedFd,
    /// The byte of end A; end B's follows it.
    base: i64,
}

impl SocketEnd {
    /// A new socket pair, one per end.
    pub(super) fn pair() -> Result<(SocketEnd, SocketEnd), crate::Error> {
        let (a, b) = sys::socket::pair().map_err(|e| crate::Error::os("socketpair", e))?;
        Ok((SocketEnd { sock: a }, SocketEnd { sock: b }))
    }
}

impl SocketEnd {
    /// The socket.
    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl sealed::Mechanism for SocketEnd {
    fn peer_gone(&self, _peer: usize, _opened: bool) -> bool {
        sys::socket::hung_up(self.sock.as_fd())
    }

    fn token_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.sock.as_fd())
    }

    const FINAL: bool = true;
}

impl EndKind for SocketEnd {}

impl SegmentEnd {
    /// Takes end `me` of the pipe `name` in the segment whose file is
    /// `segment_fd`: opens the file once more and locks this end's byte.
    pub(super) fn open(
        segment_fd: BorrowedFd<'_>,
        name: &str,
        me: usize,
    ) -> Result<SegmentEnd, crate::Error> {
        let lock = sys::ofd::reopen(segment_fd).map_err(|e| crate::Error::os("open", e))?;
        let base = LOCK_BASE + (name_hash(name) & ((1 << 56) - 1)) as i64 * 2;
        sys::ofd::hold_shared(lock.as_fd(), base + me as i64)
            .map_err(|e| crate::Error::os("fcntl(F_OFD_SETLK)", e))?;
        Ok(SegmentEnd { lock, base })
    }
}

impl sealed::Mechanism for SegmentEnd {
    fn peer_gone(&self, peer: usize, opened: bool) -> bool {
        if !opened {
            return false;
        }
        // A failed query is not a death.
        sys::ofd::held_elsewhere(self.lock.as_fd(), self.base + peer as i64) == Ok(false)
    }

    fn token_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    const FINAL: bool = false;
}

impl EndKind for SegmentEnd {}

/// FNV-1a of a pipe's name: where its lock bytes lie. Names are unique in
/// a segment's directory; two of them share bytes with odds of 2⁻⁵⁶.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
