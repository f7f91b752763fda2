//! `Pipe`: Python's `multiprocessing.Pipe`, as one single-producer
//! single-consumer byte ring per direction in shared memory.
//!
//! # Design
//!
//! A pipe is one object in shared memory (`shared.rs`): two byte rings of
//! the crate's ring core ([`crate::ring`]), one per direction, and a few
//! words per end. Messages are length-framed records committed with one
//! store; a message longer than the ring is streamed through it in pieces
//! (`ring::stream`). Each direction has the ring's two side locks, so any
//! number of threads and processes may use one end at once without
//! corrupting the stream, and one killed in the middle leaves the others
//! going (a killed writer leaves its reader [`RecvError::Truncated`]).
//!
//! End of file comes from the kernel, never from polling pids (`end.rs`):
//! a socket pair for [`Pipe::new`] (whose sockets also serve event loops,
//! see [`Connection::try_recv_bytes`]), open-file-description locks for a
//! pipe in a named [`Segment`]. Sleepers are woken by the other end's
//! commits; for the death of an end they look on a schedule (1 ms, then
//! doubling to every 100 ms), and at once when a handle is closed.
//!
//! # Differences from Python
//!
//! - A message longer than `recv_bytes`'s `max` stays in the pipe, whole
//!   ([`RecvError::TooLong`]); Python raises `OSError` and the connection
//!   becomes unreadable.
//! - Two processes using one end at once are safe (each direction has a
//!   crash-aware lock); Python warns that they corrupt it.
//! - Connections made by [`Pipe::new`] have a descriptor for event loops
//!   (`AsFd`): tokio, mio, epoll.
//! - Values (`send` / `recv`, feature `serde`) are encoded with postcard,
//!   not pickled: Rust to Rust.
//! - Sends block while the ring is full, as writes to an OS pipe do. A
//!   send to an end that is gone fails at once when its last handle was
//!   closed or dropped, as in Python; when the last process holding one
//!   died, within 100 ms (Python: at once), and a message sent in between
//!   is lost with the end, as one an OS pipe's reader never read.

mod connection;
mod end;
mod error;
#[cfg(fuzzing)]
mod fuzz;
#[cfg(feature = "serde")]
mod objects;
mod recv;
mod shared;
mod wait;

pub use connection::Connection;
pub use end::{EndKind, SegmentEnd, SocketEnd};
pub use error::{RecvError, SendError};
pub use wait::wait;

use super::error::Error;
use crate::shm::Segment;
use shared::PipeMem;
use std::os::fd::AsFd;

/// Python's `multiprocessing.Pipe`: [`Pipe::new`] makes the two ends of a
/// new pipe; [`Pipe::options`] chooses its size, or finds a pipe in a
/// named segment.
///
/// # Examples
///
/// A child that answers what it receives until an empty message:
///
/// ```
/// use shmsync::{Pipe, Process, RecvError};
///
/// let (ours, theirs) = Pipe::new(true)?;
/// let child = Process::spawn(move || loop {
///     let msg = theirs.recv_bytes(1 << 20).unwrap();
///     if msg.is_empty() {
///         break;
///     }
///     theirs.send_bytes(&msg).unwrap();
/// })?;
/// for msg in [&b"ping"[..], &[7; 100_000]] {
///     ours.send_bytes(msg)?;
///     assert_eq!(ours.recv_bytes(1 << 20)?, msg);
/// }
/// ours.send_bytes(b"")?;
/// assert!(matches!(ours.recv_bytes(16), Err(RecvError::Eof)));
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Debug)]
pub struct Pipe(());

/// Which end of a pipe: [`Pipe::new`] returns `(A, B)`. In a one-way pipe,
/// A receives and B sends.
///
/// # Examples
///
/// Naming the end to open in a segment:
///
/// ```
/// use shmsync::{End, Pipe, Segment};
///
/// let segment = Segment::anonymous(1 << 20)?;
/// let options = Pipe::options().duplex(false).capacity(4096);
/// let reader = options.open_in(&segment, "jobs", End::A)?; // one-way: A receives
/// let writer = options.open_in(&segment, "jobs", End::B)?; // and B sends
/// writer.send_bytes(b"job 1")?;
/// assert_eq!(reader.recv_bytes(64)?, b"job 1");
/// assert!(!reader.writable() && !writer.readable());
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// The first end (Python's `conn1`).
    A,
    /// The second end (Python's `conn2`).
    B,
}

impl End {
    fn index(self) -> usize {
        match self {
            End::A => 0,
            End::B => 1,
        }
    }
}

impl Pipe {
    /// The ring size per direction that [`Pipe::new`] uses: 256 KiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Pipe;
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// let big = vec![7u8; Pipe::DEFAULT_CAPACITY / 2];
    /// a.send_bytes(&big)?; // fits the ring whole: in before anyone reads
    /// assert_eq!(b.recv_bytes(Pipe::DEFAULT_CAPACITY)?, big);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub const DEFAULT_CAPACITY: usize = 256 * 1024;

    /// A new pipe and its two ends, with rings of
    /// [`DEFAULT_CAPACITY`](Pipe::DEFAULT_CAPACITY) bytes (Python's
    /// `Pipe(duplex)`). Two-way if `duplex`; otherwise the first end only
    /// receives and the second only sends.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails; [`Error::Os`] if the socket
    /// pair cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError, SendError};
    ///
    /// let (reader, writer) = Pipe::new(false)?;
    /// writer.send_bytes(b"one way")?;
    /// assert_eq!(reader.recv_bytes(64)?, b"one way");
    /// assert!(matches!(reader.send_bytes(b"back"), Err(SendError::ReadOnly)));
    /// assert!(matches!(writer.recv_bytes(64), Err(RecvError::WriteOnly)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    // Python's `Pipe()` returns its two ends; so does this.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(duplex: bool) -> Result<(Connection, Connection), Error> {
        PipeOptions::new().duplex(duplex).create()
    }

    /// Options for a pipe other than the defaults, or in a segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Pipe;
    ///
    /// let (a, b) = Pipe::options().duplex(false).capacity(64 * 1024).create()?;
    /// b.send_bytes(b"one way, through a 64 KiB ring")?;
    /// assert_eq!(a.recv_bytes(64)?, b"one way, through a 64 KiB ring");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn options() -> PipeOptions {
        PipeOptions::new()
    }
}

/// How to make a pipe: both directions or one, and the ring size.
///
/// # Examples
///
/// ```
/// use shmsync::{Pipe, Process};
///
/// let (a, b) = Pipe::options().capacity(4096).create()?;
/// let child = Process::spawn(move || {
///     a.send_bytes(&[1; 100_000]).unwrap(); // longer than the ring: streamed
/// })?;
/// assert_eq!(b.recv_bytes(1 << 20)?, [1; 100_000]);
/// # child.join()?;
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PipeOptions {
    duplex: bool,
    capacity: usize,
}

impl Default for PipeOptions {
    fn default() -> Self {
        PipeOptions::new()
    }
}

impl PipeOptions {
    /// Two-way, [`Pipe::DEFAULT_CAPACITY`]: what [`Pipe::new`]`(true)`
    /// makes, and [`Pipe::options`] starts from.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::PipeOptions;
    ///
    /// let (a, b) = PipeOptions::new().create()?;
    /// a.send_bytes(b"to b")?;
    /// b.send_bytes(b"to a")?;
    /// assert_eq!(b.recv_bytes(8)?, b"to b");
    /// assert_eq!(a.recv_bytes(8)?, b"to a");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new() -> PipeOptions {
        PipeOptions {
            duplex: true,
            capacity: Pipe::DEFAULT_CAPACITY,
        }
    }

    /// Two-way (the default), or one-way: end A receives, end B sends.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{PipeOptions, SendError};
    ///
    /// let (a, b) = PipeOptions::new().duplex(false).create()?;
    /// b.send_bytes(b"B sends")?;
    /// assert_eq!(a.recv_bytes(16)?, b"B sends");
    /// assert!(matches!(a.send_bytes(b"A only receives"), Err(SendError::ReadOnly)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn duplex(mut self, duplex: bool) -> PipeOptions {
        self.duplex = duplex;
        self
    }

    /// The ring size per direction, in bytes: rounded up to a power of
    /// two, at least 16, at most 1 GiB. A message whose record (8 bytes of
    /// header, the message padded to 8) fits is committed whole; a longer
    /// one is streamed. Checked by [`create`](PipeOptions::create) and
    /// [`open_in`](PipeOptions::open_in): 0 and sizes above 1 GiB are
    /// refused there.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Error, Pipe};
    ///
    /// let (a, b) = Pipe::options().capacity(100).create()?; // a 128-byte ring
    /// a.send_bytes(&[1; 64])?; // fits whole: in before anyone reads
    /// assert_eq!(b.recv_bytes(128)?, [1; 64]);
    /// let long = std::thread::scope(|s| {
    ///     s.spawn(|| a.send_bytes(&[2; 1000]).unwrap()); // streamed while b reads
    ///     b.recv_bytes(1000)
    /// })?;
    /// assert_eq!(long, [2; 1000]);
    /// assert!(matches!(Pipe::options().capacity(0).create(), Err(Error::InvalidArgument(_))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn capacity(mut self, bytes: usize) -> PipeOptions {
        self.capacity = bytes;
        self
    }

    /// A new pipe and its two ends.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a capacity out of range;
    /// [`Error::Segment`] if the mapping fails; [`Error::Os`] if the socket
    /// pair cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Pipe;
    ///
    /// let options = Pipe::options().capacity(4096);
    /// let (a1, b1) = options.create()?;
    /// let (a2, b2) = options.create()?; // a second pipe, apart from the first
    /// a1.send_bytes(b"one")?;
    /// a2.send_bytes(b"two")?;
    /// assert_eq!(b2.recv_bytes(8)?, b"two");
    /// assert_eq!(b1.recv_bytes(8)?, b"one");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn create(&self) -> Result<(Connection, Connection), Error> {
        let mem = PipeMem::new(self)?;
        let (a, b) = SocketEnd::pair()?;
        Ok((
            Connection::new(mem.clone(), 0, self.duplex, a),
            Connection::new(mem, 1, self.duplex, b),
        ))
    }

    /// Opens `end` of the pipe called `name` in `segment`, making the pipe
    /// if it is not there yet: two unrelated programs that open the same
    /// segment, one end each, talk through it. Both must use the same
    /// options.
    ///
    /// End of file works as for [`Pipe::new`]: once every handle of the
    /// other end is gone, in every process, however they went (but only
    /// after the other end has been opened once: before, receives wait).
    /// Several handles of one end, in one program or several, count as one
    /// end. Linux only (open-file-description locks).
    ///
    /// # Errors
    ///
    /// The segment's errors ([`Error::Segment`]: no room; another object
    /// under the name, or a pipe made with another capacity or duplex
    /// setting: [`SegmentError::TypeMismatch`]); [`Error::InvalidArgument`]
    /// for a capacity out of range; [`Error::Os`] if the segment's file
    /// cannot be opened again or locked.
    ///
    /// [`SegmentError::TypeMismatch`]: crate::SegmentError::TypeMismatch
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{End, Pipe, Process, Segment};
    ///
    /// let seg = Segment::anonymous(1 << 20)?;
    /// let options = Pipe::options().capacity(64 * 1024);
    /// let a = options.open_in(&seg, "chat", End::A)?;
    /// let child = Process::spawn(|| {
    ///     // What another program would do after `Segment::open`:
    ///     let b = options.open_in(&seg, "chat", End::B).unwrap();
    ///     b.send_bytes(b"hello over the segment").unwrap();
    /// })?;
    /// assert_eq!(a.recv_bytes(64)?, b"hello over the segment");
    /// child.join()?;
    /// assert!(matches!(a.recv_bytes(64), Err(shmsync::RecvError::Eof)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[cfg(target_os = "linux")]
    pub fn open_in(
        &self,
        segment: &Segment,
        name: &str,
        end: End,
    ) -> Result<Connection<SegmentEnd>, Error> {
        let mem = PipeMem::in_segment(segment, name, self)?;
        let me = end.index();
        let mechanism = SegmentEnd::open(segment.as_fd(), name, me)?;
        Ok(Connection::new(mem, me, self.duplex, mechanism))
    }
}
