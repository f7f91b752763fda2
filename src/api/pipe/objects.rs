//! Values through a pipe (feature `serde`): encoded with postcard, the
//! counterpart of Python's pickling in `Connection.send` / `recv`.

use super::connection::Connection;
use super::end::EndKind;
use super::error::{RecvError, SendError};

impl<E: EndKind> Connection<E> {
    /// Sends `value`, encoded with postcard, as one message (Python's
    /// `send(obj)`).
    ///
    /// # Errors
    ///
    /// [`SendError::Encode`] if postcard cannot encode it; as
    /// [`send_bytes`](Connection::send_bytes) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = shmsync::Pipe::new(true)?;
    /// a.send(&("answer", 42u32))?;
    /// assert_eq!(b.recv::<(String, u32)>()?, ("answer".to_string(), 42));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn send<T: serde::Serialize + ?Sized>(&self, value: &T) -> Result<(), SendError> {
        let bytes = postcard::to_allocvec(value).map_err(SendError::Encode)?;
        self.send_bytes(&bytes)
    }

    /// Receives the next message and decodes it as a `T` (Python's
    /// `recv()`).
    ///
    /// # Errors
    ///
    /// [`RecvError::Decode`] if the message is not a `T` (it has been
    /// received): bytes that do not decode as one, or that decode with
    /// bytes left over, as a `(u64, String)` received as a `u64` would;
    /// as [`recv_bytes`](Connection::recv_bytes) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// a.send(&vec![1u16, 2, 3])?;
    /// a.send_bytes(&[0xff])?; // not a postcard String
    /// assert_eq!(b.recv::<Vec<u16>>()?, [1, 2, 3]);
    /// assert!(matches!(b.recv::<String>(), Err(RecvError::Decode(_))));
    /// a.send(&(7u64, "seven"))?;
    /// assert!(matches!(b.recv::<u64>(), Err(RecvError::Decode(_))), "a pair is not a u64");
    /// assert!(!b.poll(Some(std::time::Duration::ZERO))?, "it was received all the same");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn recv<T: serde::de::DeserializeOwned>(&self) -> Result<T, RecvError> {
        decode(&self.recv_bytes(usize::MAX)?)
    }

    /// [`recv`](Connection::recv), waiting at most `timeout` for the
    /// message: as [`recv_bytes_timeout`](Connection::recv_bytes_timeout),
    /// where Python would `poll(timeout)` and then `recv()`.
    ///
    /// # Errors
    ///
    /// [`RecvError::Timeout`] if no message came in time; as
    /// [`recv`](Connection::recv) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    /// use std::time::Duration;
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// let soon = Duration::from_millis(5);
    /// assert!(matches!(b.recv_timeout::<u64>(soon), Err(RecvError::Timeout)));
    /// a.send(&7u64)?;
    /// assert_eq!(b.recv_timeout::<u64>(soon)?, 7);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn recv_timeout<T: serde::de::DeserializeOwned>(
        &self,
        timeout: std::time::Duration,
    ) -> Result<T, RecvError> {
        decode(&self.recv_bytes_timeout(usize::MAX, timeout)?)
    }

    /// [`recv`](Connection::recv) for event loops: as
    /// [`try_recv_bytes`](Connection::try_recv_bytes).
    ///
    /// # Errors
    ///
    /// [`RecvError::WouldBlock`] when no message is there; as
    /// [`recv`](Connection::recv) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// assert!(matches!(b.try_recv::<u64>(), Err(RecvError::WouldBlock)));
    /// a.send(&7u64)?;
    /// assert_eq!(b.try_recv::<u64>()?, 7);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn try_recv<T: serde::de::DeserializeOwned>(&self) -> Result<T, RecvError> {
        decode(&self.try_recv_bytes(usize::MAX)?)
    }
}

/// A received message as one `T`.
fn decode<T: serde::de::DeserializeOwned>(msg: &[u8]) -> Result<T, RecvError> {
    crate::api::codec::decode_whole(msg).map_err(RecvError::Decode)
}
