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
    ///
    /// # Examples
    ///
    /// End of file through either mechanism:
    ///
    /// ```
    /// use shmsync::{Connection, End, EndKind, Pipe, RecvError, Segment};
    ///
    /// fn eof_once_dropped<E: EndKind>(a: Connection<E>, b: Connection<E>) -> bool {
    ///     drop(b);
    ///     matches!(a.recv_bytes(8), Err(RecvError::Eof))
    /// }
    /// let (a, b) = Pipe::new(true)?; // SocketEnd
    /// assert!(eof_once_dropped(a, b));
    /// let segment = Segment::anonymous(1 << 20)?;
    /// let options = Pipe::options().capacity(4096);
    /// let (a, b) = (options.open_in(&segment, "p", End::A)?, options.open_in(&segment, "p", End::B)?);
    /// assert!(eof_once_dropped(a, b)); // SegmentEnd
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub trait Mechanism {
        /// Whether the other end, `peer`, is gone now (a system call);
        /// `opened` says whether it was ever opened.
        ///
        /// # Examples
        ///
        /// A pipe in a segment: an end never opened yet is not gone.
        ///
        /// ```
        /// use shmsync::{End, Pipe, Segment};
        /// use std::time::Duration;
        ///
        /// let segment = Segment::anonymous(1 << 20)?;
        /// let options = Pipe::options().capacity(4096);
        /// let a = options.open_in(&segment, "chat", End::A)?;
        /// assert!(!a.poll(Some(Duration::from_millis(5)))?, "B not opened yet: no end of file");
        /// drop(options.open_in(&segment, "chat", End::B)?);
        /// assert!(a.poll(Some(Duration::from_secs(5)))?, "B opened and gone: end of file");
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn peer_gone(&self, peer: usize, opened: bool) -> bool;
        /// The descriptor that polls readable for an event loop, if any.
        ///
        /// # Examples
        ///
        /// A [`SocketEnd`](super::SocketEnd)'s socket, through `AsFd`:
        ///
        /// ```
        /// use shmsync::{Pipe, RecvError};
        /// use std::os::fd::AsRawFd;
        ///
        /// let (a, b) = Pipe::new(true)?;
        /// assert!(matches!(b.try_recv_bytes(8), Err(RecvError::WouldBlock))); // declares b waiting
        /// a.send_bytes(b"wake")?; // so a wake token goes down b's socket
        /// let mut fd = libc::pollfd { fd: b.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        /// // SAFETY: one valid pollfd, for the length given.
        /// assert_eq!(unsafe { libc::poll(&mut fd, 1, 5000) }, 1, "readable");
        /// assert_eq!(b.try_recv_bytes(8)?, b"wake");
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn token_fd(&self) -> Option<BorrowedFd<'_>>;
        /// Whether an end, once gone, stays gone (no process can open it
        /// again): true for a [`SocketEnd`](super::SocketEnd), false for a
        /// [`SegmentEnd`](super::SegmentEnd).
        ///
        /// # Examples
        ///
        /// An end of a pipe in a segment can come back:
        ///
        /// ```
        /// use shmsync::{End, Pipe, RecvError, Segment};
        ///
        /// let segment = Segment::anonymous(1 << 20)?;
        /// let options = Pipe::options().capacity(4096);
        /// let a = options.open_in(&segment, "p", End::A)?;
        /// drop(options.open_in(&segment, "p", End::B)?);
        /// assert!(matches!(a.recv_bytes(64), Err(RecvError::Eof)), "B is gone...");
        /// let b = options.open_in(&segment, "p", End::B)?; // ...but not for good
        /// b.send_bytes(b"back")?;
        /// assert_eq!(a.recv_bytes(64)?, b"back");
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        const FINAL: bool;
    }
}

/// How a [`Connection`](super::Connection) learns that the other end is
/// gone (sealed): [`SocketEnd`] for pipes made by `Pipe::new`,
/// [`SegmentEnd`] for pipes in a named segment.
///
/// # Examples
///
/// Code for connections of either kind:
///
/// ```
/// use shmsync::{Connection, End, EndKind, Pipe, Segment};
///
/// fn ping<E: EndKind>(a: &Connection<E>, b: &Connection<E>) -> Result<Vec<u8>, shmsync::Error> {
///     a.send_bytes(b"ping")?;
///     Ok(b.recv_bytes(64)?)
/// }
/// let (a, b) = Pipe::new(true)?;
/// assert_eq!(ping(&a, &b)?, b"ping");
/// let segment = Segment::anonymous(1 << 20)?;
/// let options = Pipe::options().capacity(4096);
/// let (a, b) = (options.open_in(&segment, "p", End::A)?, options.open_in(&segment, "p", End::B)?);
/// assert_eq!(ping(&a, &b)?, b"ping");
/// # Ok::<(), shmsync::Error>(())
/// ```
pub trait EndKind: sealed::Mechanism + fmt::Debug + Send + Sync + 'static {}

/// The end-of-file mechanism of a pipe made by
/// [`Pipe::new`](super::Pipe::new): one socket of a pair per end, which is
/// also the connection's descriptor for event loops
/// ([`AsFd`](std::os::fd::AsFd)).
///
/// # Examples
///
/// A forked child's copy of an end and the parent's count as one end:
///
/// ```
/// use shmsync::{Pipe, Process, RecvError};
/// use std::time::Duration;
///
/// let (a, b) = Pipe::new(true)?;
/// let child = Process::spawn(|| b.send_bytes(b"from the child").unwrap())?;
/// assert_eq!(child.join()?, 0); // its copy of `b` is gone with it...
/// assert_eq!(a.recv_bytes(64)?, b"from the child");
/// assert!(!a.poll(Some(Duration::from_millis(5)))?, "...but ours keeps the end open");
/// drop(b);
/// assert!(matches!(a.recv_bytes(64), Err(RecvError::Eof)));
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Debug)]
pub struct SocketEnd {
    sock: OwnedFd,
}

/// The end-of-file mechanism of a pipe in a named [`Segment`]: an
/// open-file-description lock per end on the segment's file.
///
/// Several handles of one end, in one process or several, count as one
/// end.
///
/// # Examples
///
/// ```
/// use shmsync::{Connection, End, Pipe, RecvError, Segment, SegmentEnd};
///
/// let segment = Segment::anonymous(1 << 20)?;
/// let options = Pipe::options().capacity(4096);
/// let a: Connection<SegmentEnd> = options.open_in(&segment, "log", End::A)?;
/// let b1 = options.open_in(&segment, "log", End::B)?;
/// let b2 = options.open_in(&segment, "log", End::B)?; // a second handle of B
/// drop(b1);
/// b2.send_bytes(b"B is still open")?;
/// assert_eq!(a.recv_bytes(64)?, b"B is still open");
/// drop(b2);
/// assert!(matches!(a.recv_bytes(64), Err(RecvError::Eof)));
/// # Ok::<(), shmsync::Error>(())
/// ```
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
