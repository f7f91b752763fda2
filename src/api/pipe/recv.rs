//! Receiving on a [`Connection`]: waiting for a message, sizing it against
//! what the caller asked for, taking it piece by piece.
//!
//! The consuming side of the ring is held from the look at the message's
//! length to its last piece, so two receivers on one end (threads, or
//! processes sharing it after a fork) never split a message between them.
//! A timed receive whose deadline passes in the middle of a streamed
//! message gives the side back and keeps what came in its handle
//! ([`Partial`]); the handle's next receive goes on with it, unless
//! another reader took the side in between (it then dropped the rest).
//! A message longer than asked for is left whole where it is. Buffers are
//! sized by lengths the ring has checked (and, for a streamed message, grow
//! with the pieces that actually arrive), never by a length alone.

use super::connection::{Connection, PeerWatch};
use super::end::EndKind;
use super::error::{recv_error, RecvError};
use crate::ring::{Consuming, Incoming, Piece, RawRing, RingBuf};
use crate::shim::{self, Deadline, Ordering};
use crate::sys;
use core::time::Duration;

/// Where a message goes.
pub(super) enum Sink<'a> {
    /// A vector that grows with the message, up to `max` bytes.
    Vec { vec: &'a mut Vec<u8>, max: usize },
    /// A caller's buffer.
    Slice(&'a mut [u8]),
}

impl Sink<'_> {
    /// The bytes the `len` bytes at `at` of a message of `total` go to.
    fn room_for(&mut self, at: u64, len: usize, total: u64) -> Result<&mut [u8], RecvError> {
        let at = usize::try_from(at).map_err(|_| RecvError::NoMemory { len: total })?;
        let end = at
            .checked_add(len)
            .ok_or(RecvError::NoMemory { len: total })?;
        match self {
            Sink::Vec { vec, .. } => {
                if vec.capacity() < end {
                    // Grow by doubling, but never past the stated length: a
                    // peer that states a huge one gets memory only as its
                    // pieces arrive.
                    let total = usize::try_from(total).unwrap_or(usize::MAX);
                    let want = end.max(total.min(vec.capacity().saturating_mul(2)));
                    vec.try_reserve_exact(want - vec.len())
                        .map_err(|_| RecvError::NoMemory { len: total as u64 })?;
                }
                vec.resize(end, 0);
                Ok(&mut vec[at..end])
            }
            Sink::Slice(buf) => buf
                .get_mut(at..end)
                .ok_or(RecvError::Corrupted("message longer than it said")),
        }
    }
}

/// How long each part of a receive may wait.
#[derive(Clone, Copy)]
pub(super) struct Waits {
    /// For the side's lock and for a message to begin.
    pub(super) start: Deadline,
    /// For the rest of a message that has begun: past it, what came is
    /// kept for the next receive on the handle (see `Partial`).
    pub(super) body: Deadline,
    /// Declare this reader waiting on its descriptor instead of sleeping
    /// when no message is there (event loops).
    pub(super) arm: bool,
}

impl Waits {
    /// A blocking receive.
    pub(super) const BLOCKING: Waits = Waits {
        start: Deadline::NEVER,
        body: Deadline::NEVER,
        arm: false,
    };
}

/// A message whose body stopped arriving before a timed receive's
/// deadline: what came of it, kept by the handle for its next receive, so
/// that a deadline never costs a message (nor leaves half of one to be
/// taken for the start of the next).
#[derive(Debug)]
pub(super) struct Partial {
    msg: Incoming,
    bytes: Vec<u8>,
    /// The consuming side's counter when the receive stopped: moved since,
    /// another reader of this end took the side and dropped the rest.
    head: u32,
}

/// How many times a receiver that finds the ring empty looks again, with a
/// spin hint in between, before it starts its clocked wait: the answer of a
/// round trip often comes within a microsecond, sooner than the two clock
/// reads that start a wait (the probe schedule, the spin bound).
const QUICK_POLLS: u32 = 128;

/// The short, clock-free poll before a wait; skipped when spinning is
/// turned off ([`crate::set_spin_duration`]).
#[inline]
fn quick_poll(ring: &RawRing, side: &mut Consuming) -> Result<bool, RecvError> {
    if crate::spin_duration().is_zero() {
        return Ok(false);
    }
    for _ in 0..QUICK_POLLS {
        if ring.has_data(side).map_err(recv_error)? {
            return Ok(true);
        }
        core::hint::spin_loop();
    }
    Ok(false)
}

impl<E: EndKind> Connection<E> {
    /// Receives the next message (Python's `recv_bytes(maxlength)`),
    /// waiting for one as long as it takes.
    ///
    /// # Errors
    ///
    /// - [`RecvError::Eof`] once every handle of the other end is gone and
    ///   everything it sent has been received (noticed at once when its
    ///   last handle is closed or dropped, within 100 ms when the last
    ///   process holding one dies);
    /// - [`RecvError::TooLong`] if the message is longer than `max`: it
    ///   stays in the pipe, whole, for a later call with a larger `max`
    ///   (Python instead makes the connection unreadable);
    /// - [`RecvError::Truncated`] if the writer stopped in the middle of a
    ///   message longer than the ring (it died, or was interrupted);
    /// - [`RecvError::WriteOnly`] on the sending end of a one-way pipe;
    /// - [`RecvError::NoMemory`], [`RecvError::Corrupted`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// a.send_bytes(b"a long message")?;
    /// assert!(matches!(b.recv_bytes(4), Err(RecvError::TooLong { len: 14, max: 4 })));
    /// assert_eq!(b.recv_bytes(100)?, b"a long message"); // still there
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn recv_bytes(&self, max: usize) -> Result<Vec<u8>, RecvError> {
        self.recv_vec(max, Waits::BLOCKING)
    }

    /// [`recv_bytes`](Connection::recv_bytes), waiting at most `timeout`
    /// (zero: not at all). Safe with several readers on one end, where
    /// `poll` followed by `recv_bytes` is not (another reader may take the
    /// message in between).
    ///
    /// A message longer than the ring whose pieces stop coming before the
    /// deadline (its writer stopped or slow) is not lost: this handle keeps
    /// what came, and its next receive goes on with it. Another reader of
    /// the same end that takes the side in between drops the rest (it
    /// cannot tell it from the rest of a dead reader's message), and this
    /// handle's next receive then says [`RecvError::Truncated`].
    ///
    /// # Errors
    ///
    /// [`RecvError::Timeout`] if no message began, or the one begun did not
    /// end, in time (and the other end is still there); as
    /// [`recv_bytes`](Connection::recv_bytes) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    /// use std::time::Duration;
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// let soon = Duration::from_millis(5);
    /// assert!(matches!(b.recv_bytes_timeout(64, soon), Err(RecvError::Timeout)));
    /// a.send_bytes(b"in time")?;
    /// assert_eq!(b.recv_bytes_timeout(64, soon)?, b"in time");
    /// drop(a);
    /// assert!(matches!(b.recv_bytes_timeout(64, soon), Err(RecvError::Eof)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn recv_bytes_timeout(&self, max: usize, timeout: Duration) -> Result<Vec<u8>, RecvError> {
        let deadline = Deadline::after(timeout);
        self.recv_vec(
            max,
            Waits {
                start: deadline,
                body: deadline,
                arm: false,
            },
        )
    }

    /// Receives the next message into `buf` from `offset` on and returns its
    /// length (Python's `recv_bytes_into(buf, offset)`).
    ///
    /// # Errors
    ///
    /// [`RecvError::BufferTooShort`] if the message does not fit
    /// `buf[offset..]`: it is received and handed back in the error, whole;
    /// [`RecvError::OffsetTooLarge`] if `offset > buf.len()`; as
    /// [`recv_bytes`](Connection::recv_bytes) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// let mut buf = [0u8; 8];
    /// a.send_bytes(b"abc")?;
    /// assert_eq!(b.recv_bytes_into(&mut buf, 2)?, 3);
    /// assert_eq!(&buf[..5], b"\0\0abc");
    /// a.send_bytes(b"0123456789")?;
    /// match b.recv_bytes_into(&mut buf, 0) {
    ///     Err(RecvError::BufferTooShort(msg)) => assert_eq!(msg, b"0123456789"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn recv_bytes_into(&self, buf: &mut [u8], offset: usize) -> Result<usize, RecvError> {
        let len = buf.len();
        let Some(dst) = buf.get_mut(offset..) else {
            return Err(RecvError::OffsetTooLarge { offset, len });
        };
        let got = self.recv_into_sink(&mut Sink::Slice(dst), Waits::BLOCKING)?;
        // The message fitted the slice, so its length fits a usize.
        Ok(got as usize)
    }

    /// Receives the next message if one is there, without waiting for one
    /// to begin: the receive of an event loop. When none is there, declares
    /// this reader waiting, so that the connection's descriptor polls
    /// readable once a message (or end of file) arrives, and fails with
    /// [`RecvError::WouldBlock`] (whose `io::Error` has kind `WouldBlock`,
    /// what tokio's `AsyncFd::try_io` looks for).
    ///
    /// Call it first, and wait for the descriptor only after
    /// `WouldBlock`: a writer sends a wake token only to a reader that has
    /// declared itself waiting, so an event loop that waits before trying
    /// may wait for ever. (With tokio: `match conn.get_ref().try_recv_bytes(max)`,
    /// and on `WouldBlock`, `conn.readable().await?.clear_ready()`; see
    /// `examples/pipe_tokio.rs`.) A writer killed between its commit and
    /// its token (a few instructions) leaves that message unannounced until
    /// the next send on the pipe or the close of the writing end; so does
    /// another reader of the same end (a process sharing it) that drops
    /// the token while it waits itself. An event loop that must bound this
    /// also calls `try_recv_bytes` on a timer of its choice. A message
    /// longer than the ring is taken as far as its pieces have come; the
    /// handle keeps them, the call fails with
    /// `WouldBlock` (the descriptor polls readable at the next piece), and
    /// a later call goes on with the message (as for
    /// [`recv_bytes_timeout`](Connection::recv_bytes_timeout)).
    ///
    /// # Errors
    ///
    /// [`RecvError::WouldBlock`]; as [`recv_bytes`](Connection::recv_bytes)
    /// otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// assert!(matches!(b.try_recv_bytes(64), Err(RecvError::WouldBlock)));
    /// a.send_bytes(b"now")?;
    /// assert_eq!(b.try_recv_bytes(64)?, b"now");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn try_recv_bytes(&self, max: usize) -> Result<Vec<u8>, RecvError> {
        self.recv_vec(
            max,
            Waits {
                start: Deadline::now(),
                body: Deadline::now(),
                arm: true,
            },
        )
    }

    /// Receives one message of at most `max` bytes into a new `Vec`.
    fn recv_vec(&self, max: usize, waits: Waits) -> Result<Vec<u8>, RecvError> {
        let mut vec = Vec::new();
        self.recv_into_sink(&mut Sink::Vec { vec: &mut vec, max }, waits)?;
        Ok(vec)
    }

    /// Receives one message into `sink`; returns its length.
    pub(super) fn recv_into_sink(
        &self,
        sink: &mut Sink<'_>,
        waits: Waits,
    ) -> Result<u64, RecvError> {
        if !self.can_recv {
            return Err(RecvError::WriteOnly);
        }
        let (ring, buf) = self.mem.ring(1 - self.me);
        let mut side = match ring.take_consuming(buf, waits.start) {
            Ok(side) => side,
            Err(e) => {
                let e = recv_error(e);
                return Err(match e {
                    RecvError::Timeout if waits.arm => {
                        // Another reader holds the side; be told of the
                        // next message all the same.
                        self.arm_event_loop();
                        RecvError::WouldBlock
                    }
                    e => e,
                });
            }
        };
        let got = match self.take_partial() {
            Some(partial) => self.resume(ring, buf, &mut side, sink, waits, partial),
            None => self.take_message(ring, buf, &mut side, sink, waits),
        };
        ring.release_consuming_in_call(side);
        got
    }

    /// The message an earlier timed receive on this handle left part way,
    /// if any. Called with the consuming side held.
    fn take_partial(&self) -> Option<Partial> {
        // Relaxed: the consuming side's lock orders it after the receive
        // that set it (in this process: `Partial`s are not shared).
        if !self.has_partial.load(Ordering::Relaxed) {
            return None;
        }
        let mut slot = self.partial.lock().unwrap_or_else(|p| p.into_inner());
        self.has_partial.store(false, Ordering::Relaxed);
        slot.take().map(|partial| *partial)
    }

    /// Keeps `partial` for the next receive on this handle.
    fn keep_partial(&self, partial: Partial) {
        *self.partial.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(partial));
        // Relaxed: published by the release of the consuming side.
        self.has_partial.store(true, Ordering::Relaxed);
    }

    /// Goes on with a message an earlier receive left part way, into
    /// `sink`, as [`take_message`](Connection::take_message) would have.
    fn resume(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        sink: &mut Sink<'_>,
        waits: Waits,
        partial: Partial,
    ) -> Result<u64, RecvError> {
        let msg = partial.msg;
        if side.head != partial.head {
            // Another reader of this end took the side meanwhile: it took
            // the rest of the message for the rest of a dead reader's, and
            // dropped it.
            return Err(RecvError::Truncated {
                len: msg.len(),
                received: msg.received(),
            });
        }
        if let Sink::Vec { max, .. } = sink {
            if msg.len() > *max as u64 {
                let max = *max;
                self.keep_partial(partial);
                return Err(RecvError::TooLong {
                    len: msg.len(),
                    max,
                });
            }
        }
        self.finish(ring, buf, side, partial, sink, waits)
    }

    /// Takes the rest of `begun.msg`, of which `begun.bytes` came already,
    /// into `sink` (or, for a buffer too short for it, whole into the
    /// error); the caller has held it against a vector's `max`.
    #[inline(always)]
    fn finish(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        begun: Partial,
        sink: &mut Sink<'_>,
        waits: Waits,
    ) -> Result<u64, RecvError> {
        let Partial {
            mut msg,
            bytes: came,
            ..
        } = begun;
        match sink {
            Sink::Slice(dst) if msg.len() > dst.len() as u64 => {
                let mut whole = came;
                let mut into = Sink::Vec {
                    vec: &mut whole,
                    max: usize::MAX,
                };
                self.read_rest(ring, buf, side, &mut msg, &mut into, waits)?;
                return Err(RecvError::BufferTooShort(whole));
            }
            Sink::Slice(dst) => dst[..came.len()].copy_from_slice(&came),
            Sink::Vec { vec, .. } => **vec = came,
        }
        self.read_rest(ring, buf, side, &mut msg, sink, waits)?;
        Ok(msg.len())
    }

    /// Takes the rest of `msg` into `sink` until `waits.body`; if it stops
    /// arriving by then, keeps what came for the next receive and fails
    /// with [`RecvError::Timeout`] (an event loop's receive: declares the
    /// reader waiting and fails with [`RecvError::WouldBlock`]).
    #[inline(always)]
    fn read_rest(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        msg: &mut Incoming,
        sink: &mut Sink<'_>,
        waits: Waits,
    ) -> Result<(), RecvError> {
        match self.read_pieces(ring, buf, side, msg, sink, waits.body) {
            Err(RecvError::Timeout) => self.stalled(ring, buf, side, msg, sink, waits),
            done => done,
        }
    }

    /// [`read_rest`](Connection::read_rest) past `waits.body` with pieces
    /// still to come. Out of line: the per-message path stays as small as
    /// it was without it (measured: inline, a round trip of 8-byte
    /// messages between two processes took 25-35 ns longer).
    #[cold]
    #[inline(never)]
    fn stalled(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        msg: &mut Incoming,
        sink: &mut Sink<'_>,
        waits: Waits,
    ) -> Result<(), RecvError> {
        loop {
            if waits.arm {
                self.arm_event_loop();
                // A piece committed before the declaration sent no token:
                // take it now.
                if ring.next_piece(buf, side, msg).map_err(recv_error)? != Piece::Pending {
                    match self.read_pieces(ring, buf, side, msg, sink, Deadline::now()) {
                        Err(RecvError::Timeout) => continue,
                        done => return done,
                    }
                }
            }
            let received = usize::try_from(msg.received()).unwrap_or(usize::MAX);
            let bytes = match sink {
                Sink::Vec { vec, .. } => core::mem::take(*vec),
                Sink::Slice(dst) => dst.get(..received).unwrap_or_default().to_vec(),
            };
            self.keep_partial(Partial {
                msg: *msg,
                bytes,
                head: side.head,
            });
            return Err(if waits.arm {
                RecvError::WouldBlock
            } else {
                RecvError::Timeout
            });
        }
    }

    fn take_message(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        sink: &mut Sink<'_>,
        waits: Waits,
    ) -> Result<u64, RecvError> {
        let msg = self.await_message(ring, buf, side, waits)?;
        if let Sink::Vec { max, .. } = sink {
            if msg.len() > *max as u64 {
                return Err(RecvError::TooLong {
                    len: msg.len(),
                    max: *max,
                });
            }
        }
        let head = side.head;
        let begun = Partial {
            msg,
            bytes: Vec::new(),
            head,
        };
        self.finish(ring, buf, side, begun, sink, waits)
    }

    /// Waits, with the consuming side held, for a message to begin; end of
    /// file once the other end is gone and the ring is empty.
    fn await_message(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        waits: Waits,
    ) -> Result<Incoming, RecvError> {
        let mut watch: Option<PeerWatch> = None;
        loop {
            if let Some(msg) = ring.begin_message(buf, side).map_err(recv_error)? {
                return Ok(msg);
            }
            if waits.arm {
                self.arm_event_loop();
                if let Some(msg) = ring.begin_message(buf, side).map_err(recv_error)? {
                    return Ok(msg);
                }
                if self.peer_is_gone() {
                    return self.last_look(ring, buf, side);
                }
                return Err(RecvError::WouldBlock);
            }
            if watch.is_none() && quick_poll(ring, side)? {
                continue;
            }
            let watch = watch.get_or_insert_with(|| PeerWatch::start(self));
            let until = waits.start.min(watch.at());
            if ring
                .wait_for_data_or(side, until, || watch.closed(self))
                .map_err(recv_error)?
            {
                continue;
            }
            if watch.due(self) && self.peer_is_gone() {
                return self.last_look(ring, buf, side);
            }
            if waits.start.has_passed() {
                return Err(RecvError::Timeout);
            }
        }
    }

    /// The other end is gone: the message it committed before it went, if
    /// any, else end of file.
    fn last_look(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
    ) -> Result<Incoming, RecvError> {
        // The writer's last commits came before its end went; after the
        // fence, this look sees them.
        shim::heavy_fence();
        ring.begin_message(buf, side)
            .map_err(recv_error)?
            .ok_or(RecvError::Eof)
    }

    /// Takes the pieces of `msg` into `sink`, waiting for those still to
    /// come until `deadline`.
    fn read_pieces(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Consuming,
        msg: &mut Incoming,
        sink: &mut Sink<'_>,
        deadline: Deadline,
    ) -> Result<(), RecvError> {
        let truncated = |msg: &Incoming| RecvError::Truncated {
            len: msg.len(),
            received: msg.received(),
        };
        let mut watch: Option<PeerWatch> = None;
        while !msg.is_complete() {
            match ring.next_piece(buf, side, msg).map_err(recv_error)? {
                Piece::Data(chunk) => {
                    let dst = if chunk.is_empty() {
                        &mut []
                    } else {
                        sink.room_for(msg.received(), chunk.len(), msg.len())?
                    };
                    ring.take_piece(buf, side, msg, chunk, dst)
                        .map_err(recv_error)?;
                }
                Piece::Interrupted => return Err(truncated(msg)),
                Piece::Pending => {
                    let watch = watch.get_or_insert_with(|| PeerWatch::start(self));
                    if ring
                        .wait_for_data_or(side, deadline.min(watch.at()), || watch.closed(self))
                        .map_err(recv_error)?
                    {
                        continue;
                    }
                    // At the deadline too: one shorter than the first
                    // probe would never ask, and a message whose writer
                    // died would be kept for the next receive for ever
                    // rather than end as `Truncated`.
                    let passed = deadline.has_passed();
                    if (watch.due(self) || passed)
                        && (self.peer_is_gone() || ring.producer_abandoned())
                    {
                        shim::heavy_fence();
                        if ring.next_piece(buf, side, msg).map_err(recv_error)? == Piece::Pending {
                            return Err(truncated(msg));
                        }
                        continue;
                    }
                    if passed {
                        return Err(RecvError::Timeout);
                    }
                }
            }
        }
        Ok(())
    }

    /// Declares this reader waiting on its descriptor (see the module docs
    /// of `connection`): drops the tokens of earlier waits, sets the word,
    /// fences heavily. The caller looks at the ring afterwards.
    fn arm_event_loop(&self) {
        if let Some(fd) = self.end.token_fd() {
            sys::socket::drain_tokens(fd);
            self.mem.state().ends[self.me].declare_fd_waiting();
            shim::heavy_fence();
        }
    }
}
