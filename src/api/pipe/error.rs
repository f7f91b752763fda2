//! What can go wrong sending and receiving on a [`Connection`](super::Connection).

use crate::api::error::Error;
use crate::ring::RingError;
use std::fmt;
use std::io;

/// Why a send failed. Nothing of the message was delivered.
///
/// # Examples
///
/// ```
/// use shmsync::{Pipe, SendError};
/// use std::io;
///
/// let (a, b) = Pipe::new(true)?;
/// drop(b);
/// let err = a.send_bytes(b"anyone there?").unwrap_err();
/// assert!(matches!(err, SendError::BrokenPipe));
/// assert_eq!(io::Error::from(err).kind(), io::ErrorKind::BrokenPipe);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SendError {
    /// Every handle of the other end is gone (closed, dropped, or its
    /// processes exited or were killed): nobody will ever read.
    BrokenPipe,
    /// This end of a one-way pipe only receives.
    ReadOnly,
    /// The range to send lies outside the buffer.
    OutOfRange {
        /// The range's first byte.
        offset: usize,
        /// The range's length.
        size: usize,
        /// The buffer's length.
        len: usize,
    },
    /// The value could not be encoded (feature `serde`).
    #[cfg(feature = "serde")]
    Encode(postcard::Error),
    /// A timed send ran out of time before the message was in (internal
    /// and fuzzing paths only; the public sends block).
    Timeout,
    /// The pipe's shared state is impossible: a process wrote over it.
    Corrupted(&'static str),
}

/// Why a receive failed.
///
/// # Examples
///
/// ```
/// use shmsync::{Pipe, RecvError};
/// use std::io;
///
/// let (a, b) = Pipe::new(true)?;
/// assert!(matches!(b.try_recv_bytes(16), Err(RecvError::WouldBlock)));
/// a.send_bytes(b"0123456789")?;
/// assert!(matches!(b.recv_bytes(4), Err(RecvError::TooLong { len: 10, max: 4 })));
/// drop(a);
/// assert_eq!(b.recv_bytes(16)?, b"0123456789"); // still there, then
/// let eof = b.recv_bytes(16).unwrap_err();
/// assert!(matches!(eof, RecvError::Eof));
/// assert_eq!(io::Error::from(eof).kind(), io::ErrorKind::UnexpectedEof);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum RecvError {
    /// End of file: every handle of the other end is gone and everything
    /// it sent has been received.
    Eof,
    /// The next message is longer than the `max` asked for. It is still in
    /// the pipe: receive it with a larger `max`. (Python raises `OSError`
    /// here and leaves the connection unusable.)
    TooLong {
        /// The message's length.
        len: u64,
        /// The limit asked for.
        max: usize,
    },
    /// The message did not fit the buffer (from `recv_bytes_into`); it has
    /// been received, and here it is, whole (Python's `BufferTooShort`).
    BufferTooShort(Vec<u8>),
    /// The writer stopped in the middle of a message longer than the ring
    /// (it died, or it was interrupted): the part received is dropped.
    Truncated {
        /// The length the message announced.
        len: u64,
        /// How much of it arrived.
        received: u64,
    },
    /// This end of a one-way pipe only sends.
    WriteOnly,
    /// `recv_bytes_into`'s offset is past the end of the buffer.
    OffsetTooLarge {
        /// The offset asked for.
        offset: usize,
        /// The buffer's length.
        len: usize,
    },
    /// No message is there yet (from the `try_` receives); with an event
    /// loop, wait for the connection's descriptor to poll readable.
    WouldBlock,
    /// A message too large for this process's memory.
    NoMemory {
        /// Its length.
        len: u64,
    },
    /// The message could not be decoded as the type asked for (feature
    /// `serde`); it has been received.
    #[cfg(feature = "serde")]
    Decode(postcard::Error),
    /// No message began before the timeout of
    /// [`recv_bytes_timeout`](crate::Connection::recv_bytes_timeout).
    Timeout,
    /// The pipe's shared state is impossible: a process wrote over it.
    Corrupted(&'static str),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::BrokenPipe => f.write_str("broken pipe: the other end is closed"),
            SendError::ReadOnly => {
                f.write_str("this end of a one-way pipe only receives: send on the other end")
            }
            SendError::OutOfRange { offset, size, len } => write!(
                f,
                "range of {size} bytes at offset {offset} lies outside a buffer of {len} bytes"
            ),
            #[cfg(feature = "serde")]
            SendError::Encode(e) => write!(f, "value could not be encoded: {e}"),
            SendError::Timeout => f.write_str("send timed out"),
            SendError::Corrupted(what) => write!(
                f,
                "pipe state corrupted ({what}): a process wrote over the shared memory"
            ),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Eof => f.write_str("end of file: the other end is closed"),
            RecvError::TooLong { len, max } => write!(
                f,
                "message of {len} bytes is longer than the {max} asked for; it stays in the pipe: receive it with a larger limit"
            ),
            RecvError::BufferTooShort(msg) => write!(
                f,
                "buffer too short for a message of {} bytes (the error holds the message)",
                msg.len()
            ),
            RecvError::Truncated { len, received } => write!(
                f,
                "message truncated: its writer stopped after {received} of {len} bytes"
            ),
            RecvError::WriteOnly => {
                f.write_str("this end of a one-way pipe only sends: receive on the other end")
            }
            RecvError::OffsetTooLarge { offset, len } => {
                write!(f, "offset {offset} is past the end of a buffer of {len} bytes")
            }
            RecvError::WouldBlock => f.write_str("no message yet"),
            RecvError::NoMemory { len } => {
                write!(f, "no memory for a message of {len} bytes")
            }
            #[cfg(feature = "serde")]
            RecvError::Decode(e) => write!(f, "message could not be decoded: {e}"),
            RecvError::Timeout => f.write_str("receive timed out"),
            RecvError::Corrupted(what) => write!(
                f,
                "pipe state corrupted ({what}): a process wrote over the shared memory"
            ),
        }
    }
}

impl std::error::Error for SendError {}
impl std::error::Error for RecvError {}

impl SendError {
    /// The `io::ErrorKind` that says the same.
    fn kind(&self) -> io::ErrorKind {
        match self {
            SendError::BrokenPipe => io::ErrorKind::BrokenPipe,
            SendError::ReadOnly => io::ErrorKind::PermissionDenied,
            SendError::OutOfRange { .. } => io::ErrorKind::InvalidInput,
            #[cfg(feature = "serde")]
            SendError::Encode(_) => io::ErrorKind::InvalidInput,
            SendError::Timeout => io::ErrorKind::TimedOut,
            SendError::Corrupted(_) => io::ErrorKind::InvalidData,
        }
    }
}

impl RecvError {
    /// The `io::ErrorKind` that says the same.
    fn kind(&self) -> io::ErrorKind {
        match self {
            RecvError::Eof | RecvError::Truncated { .. } => io::ErrorKind::UnexpectedEof,
            RecvError::TooLong { .. } | RecvError::BufferTooShort(_) => io::ErrorKind::InvalidData,
            RecvError::WriteOnly => io::ErrorKind::PermissionDenied,
            RecvError::OffsetTooLarge { .. } => io::ErrorKind::InvalidInput,
            RecvError::WouldBlock => io::ErrorKind::WouldBlock,
            RecvError::NoMemory { .. } => io::ErrorKind::OutOfMemory,
            #[cfg(feature = "serde")]
            RecvError::Decode(_) => io::ErrorKind::InvalidData,
            RecvError::Timeout => io::ErrorKind::TimedOut,
            RecvError::Corrupted(_) => io::ErrorKind::InvalidData,
        }
    }
}

/// As an `io::Error` of the matching kind (`BrokenPipe`), holding this one.
impl From<SendError> for io::Error {
    fn from(e: SendError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// As an `io::Error` of the matching kind (`UnexpectedEof` for end of file,
/// `WouldBlock` for [`RecvError::WouldBlock`], which is what an event loop's
/// `try_io` looks for), holding this one.
impl From<RecvError> for io::Error {
    fn from(e: RecvError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// Into the crate-wide error, as it is: [`Error::Send`].
impl From<SendError> for Error {
    fn from(e: SendError) -> Error {
        Error::Send(e)
    }
}

/// Into the crate-wide error, as it is: [`Error::Recv`].
impl From<RecvError> for Error {
    fn from(e: RecvError) -> Error {
        Error::Recv(e)
    }
}

/// What a ring error means to a sender. The pipe's rings are never shut
/// down and never see records too large (they stream), so both can only
/// come from a peer that wrote over the state; and no pipe call holds a
/// side past its end, so neither can a side whose lock names the calling
/// thread (an untimed call would otherwise fail with a time-out).
pub(super) fn send_error(e: RingError) -> SendError {
    match e {
        RingError::Busy { holder } if held_here(holder) => SendError::Corrupted(HELD_HERE),
        RingError::Busy { .. } => SendError::Timeout,
        RingError::Corrupted(what) => SendError::Corrupted(what),
        _ => SendError::Corrupted("ring state impossible for a pipe"),
    }
}

/// What a ring error means to a receiver; see [`send_error`].
pub(super) fn recv_error(e: RingError) -> RecvError {
    match e {
        RingError::Busy { holder } if held_here(holder) => RecvError::Corrupted(HELD_HERE),
        RingError::Busy { .. } => RecvError::Timeout,
        RingError::Corrupted(what) => RecvError::Corrupted(what),
        _ => RecvError::Corrupted("ring state impossible for a pipe"),
    }
}

/// Why a side whose lock names the calling thread is an error.
const HELD_HERE: &str = "the side's lock names this thread, which holds no side: overwritten";

/// Whether `holder`, the thread a busy side's lock named, is the caller.
fn held_here(holder: Option<u32>) -> bool {
    holder == Some(crate::shim::current_thread().tid)
}
