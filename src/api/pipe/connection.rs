//! `Connection`: one end of a pipe. The handle, sending, readiness, and
//! the event-loop descriptor; receiving is in `recv.rs`.
//!
//! # The event-loop descriptor
//!
//! Messages never go through the descriptor of a [`SocketEnd`]: a reader in
//! an event loop declares itself waiting (its end's `fd_waiting` word, set
//! by [`Connection::try_recv_bytes`] when it finds nothing), and a writer
//! that commits a message and finds the word set sends one wake token down
//! its socket, then takes the declaration back (in that order: a writer
//! killed in between leaves it up for the next writer, which sends a spare
//! token). A writer that finds the word clear pays one load: the fast path
//! makes no system call. The declaration and the commit form Dekker's
//! pattern, as the ring's sleepers do: the reader sets the word, fences
//! heavily, looks at the ring; the writer commits (its commit's light fence
//! follows), then looks at the word. Either the reader sees the message, or
//! the writer sees the word.

use super::end::{EndKind, SocketEnd};
use super::error::{send_error, SendError};
use super::shared::PipeMem;
use crate::raw::Probe;
use crate::ring::{Outgoing, Producing, Pushed, RawRing, RingBuf};
use crate::shim::Deadline;
use crate::sys;
use std::fmt;
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// How often a sender asks the kernel whether the other end is still
/// there, at most: a message sent to a dead end fails within this (plus the
/// coarse clock's tick).
const SEND_CHECK_EVERY: Duration = Duration::from_millis(100);

/// One end of a pipe: sends and receives messages of bytes (and, with the
/// `serde` feature, values), like Python's
/// `multiprocessing.connection.Connection`.
///
/// Made by [`Pipe::new`](super::Pipe::new) (a [`SocketEnd`], the default
/// type parameter) or found in a named segment
/// ([`PipeOptions::open_in`](super::PipeOptions::open_in), a
/// [`SegmentEnd`](super::SegmentEnd)). The messages go through shared
/// memory; the end-of-file mechanism is the only kernel object involved.
///
/// A connection is `Send` and `Sync`: threads may share it, and a forked
/// child may use its copy; each direction has a lock, so two processes (or
/// threads) sending on one end at once never interleave their messages
/// (Python's connections have no such lock and warn against it). It is not
/// `Clone`: a pipe's end is one object, as in Python; share it by
/// reference, or in an `Arc`.
///
/// Dropping the connection (or [`close`](Connection::close)) closes this
/// handle of its end. The end closes when its last handle, in every
/// process, is gone: the other end then receives what was sent and then
/// [`RecvError::Eof`](super::RecvError::Eof), and its sends fail with
/// [`SendError::BrokenPipe`].
///
/// A forked child inherits every handle its parent has at the fork, as it
/// inherits descriptors: a handle of the parent's end that the child keeps
/// keeps that end open in the child too (as with Python under `fork`), so
/// a child that waits for end of file from its parent must not hold one
/// (move the parent's handle into an `Option` the child can take and
/// drop).
///
/// # Examples
///
/// ```
/// use shmsync::{Pipe, Process, RecvError};
///
/// let (parent, child) = Pipe::new(true)?;
/// let worker = Process::spawn(move || {
///     for _ in 0..2 {
///         let msg = child.recv_bytes(1024).unwrap();
///         child.send_bytes(&msg.to_ascii_uppercase()).unwrap();
///     }
/// })?;
/// parent.send_bytes(b"hello")?;
/// parent.send_bytes(b"world")?;
/// assert_eq!(parent.recv_bytes(1024)?, b"HELLO");
/// assert_eq!(parent.recv_bytes(1024)?, b"WORLD");
/// // The worker returned: its end is gone.
/// assert!(matches!(parent.recv_bytes(1024), Err(RecvError::Eof)));
/// assert_eq!(worker.join()?, 0);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Connection<E: EndKind = SocketEnd> {
    pub(super) mem: PipeMem,
    /// 0 for end A, 1 for end B.
    pub(super) me: usize,
    pub(super) can_send: bool,
    pub(super) can_recv: bool,
    pub(super) end: ManuallyDrop<E>,
    /// `coarse_nanos` after which the next send asks whether the other end
    /// is still there.
    next_check: AtomicU64,
    /// The other end's [`closes`](super::shared::EndWords::closes) count
    /// as this handle last asked the kernel about it: a send, or a wait,
    /// that finds it moved asks at once.
    seen_closes: AtomicU32,
    /// The other end was seen gone, for good ([`SocketEnd`] only).
    peer_gone: AtomicBool,
    /// A message whose body stopped arriving before a timed receive's
    /// deadline, kept for the next receive on this handle.
    pub(super) partial: std::sync::Mutex<Option<Box<super::recv::Partial>>>,
    /// Whether `partial` may hold one: read with the consuming side held,
    /// which orders it after the receive that set it.
    pub(super) has_partial: AtomicBool,
}

impl<E: EndKind> Connection<E> {
    pub(super) fn new(mem: PipeMem, me: usize, duplex: bool, end: E) -> Connection<E> {
        // Relaxed: a flag for the other end's end-of-file check, which
        // asks the kernel before trusting it.
        mem.state().ends[me].opened.store(1, Ordering::Relaxed);
        let closes = mem.state().ends[1 - me].closes();
        Connection {
            mem,
            me,
            // A one-way pipe: A receives, B sends.
            can_send: duplex || me == 1,
            can_recv: duplex || me == 0,
            end: ManuallyDrop::new(end),
            next_check: AtomicU64::new(0),
            seen_closes: AtomicU32::new(closes),
            peer_gone: AtomicBool::new(false),
            partial: std::sync::Mutex::new(None),
            has_partial: AtomicBool::new(false),
        }
    }

    /// Sends `buf` as one message, whole (Python's `send_bytes(buf)`).
    ///
    /// A message that fits the pipe's ring is committed with one store
    /// once there is room for it; a longer one is streamed through the ring
    /// in pieces while the other end receives it (a writer killed in the
    /// middle leaves the reader [`RecvError::Truncated`], never a short
    /// message). Blocks while the ring is full.
    ///
    /// # Errors
    ///
    /// [`SendError::BrokenPipe`] once every handle of the other end is
    /// gone: at once when its last handle was closed or dropped, within
    /// 100 ms when the last process holding one died (at once again after
    /// this handle's `recv`, `poll` or [`wait`](crate::wait) saw end of
    /// file); [`SendError::ReadOnly`] on
    /// the receiving end of a one-way pipe; [`SendError::Corrupted`] if a
    /// process wrote over the pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = shmsync::Pipe::new(true)?;
    /// a.send_bytes(b"")?; // empty messages keep their place too
    /// a.send_bytes(b"two")?;
    /// assert_eq!(b.recv_bytes(16)?, b"");
    /// assert_eq!(b.recv_bytes(16)?, b"two");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    ///
    /// [`RecvError::Truncated`]: super::RecvError::Truncated
    pub fn send_bytes(&self, buf: &[u8]) -> Result<(), SendError> {
        self.send_until(buf, Deadline::NEVER)
    }

    /// Sends `buf[offset..offset + size]` as one message (Python's
    /// `send_bytes(buf, offset, size)`); `size` `None` means to the end of
    /// `buf`.
    ///
    /// # Errors
    ///
    /// [`SendError::OutOfRange`] if the range does not lie in `buf`; as
    /// [`send_bytes`](Connection::send_bytes) otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, SendError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// a.send_bytes_range(b"0123456789", 2, Some(3))?;
    /// a.send_bytes_range(b"0123456789", 7, None)?;
    /// assert_eq!(b.recv_bytes(16)?, b"234");
    /// assert_eq!(b.recv_bytes(16)?, b"789");
    /// assert!(matches!(
    ///     a.send_bytes_range(b"0123", 3, Some(2)),
    ///     Err(SendError::OutOfRange { offset: 3, size: 2, len: 4 })
    /// ));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn send_bytes_range(
        &self,
        buf: &[u8],
        offset: usize,
        size: Option<usize>,
    ) -> Result<(), SendError> {
        let len = buf.len();
        let size = size.unwrap_or(len.saturating_sub(offset));
        let range = offset
            .checked_add(size)
            .filter(|&end| end <= len)
            .map(|end| &buf[offset..end]);
        match range {
            Some(msg) => self.send_bytes(msg),
            None => Err(SendError::OutOfRange { offset, size, len }),
        }
    }

    /// Sends with every wait bounded by `deadline` (the public sends pass
    /// `NEVER`). A message streamed in part when the deadline passes is
    /// left interrupted: its reader sees it truncated.
    pub(super) fn send_until(&self, msg: &[u8], deadline: Deadline) -> Result<(), SendError> {
        if !self.can_send {
            return Err(SendError::ReadOnly);
        }
        self.check_peer_if_due()?;
        let (ring, buf) = self.mem.ring(self.me);
        let mut side = ring.take_producing(buf, deadline).map_err(send_error)?;
        let sent = self.push(ring, buf, &mut side, msg, deadline);
        ring.release_producing_in_call(side);
        sent
    }

    /// Commits `msg` with the producing side held, waiting for room as
    /// needed and asking on the probe schedule whether the reader is gone.
    fn push(
        &self,
        ring: &RawRing,
        buf: &RingBuf,
        side: &mut Producing,
        msg: &[u8],
        deadline: Deadline,
    ) -> Result<(), SendError> {
        let mut out = Outgoing::new();
        let mut watch: Option<PeerWatch> = None;
        loop {
            let pushed = ring
                .push_message(buf, side, msg, &mut out)
                .map_err(send_error)?;
            self.wake_event_loop_reader();
            let Pushed::NeedRoom(want) = pushed else {
                return Ok(());
            };
            let watch = watch.get_or_insert_with(|| PeerWatch::start(self));
            let until = deadline.min(watch.at());
            if ring
                .wait_for_room_bytes_or(side, want, until, || watch.closed(self))
                .map_err(send_error)?
            {
                continue;
            }
            if watch.due(self) && self.peer_is_gone() {
                return Err(SendError::BrokenPipe);
            }
            if deadline.has_passed() {
                return Err(SendError::Timeout);
            }
        }
    }

    /// After a commit: sends a wake token if the other end's reader waits
    /// in an event loop (see the module docs).
    #[inline]
    fn wake_event_loop_reader(&self) {
        let reader = &self.mem.state().ends[1 - self.me];
        if let Some(declaration) = reader.fd_waiter() {
            // The token before taking the declaration back: see
            // `EndWords::answered`. Writers racing here may each send one.
            crate::ring::hooks::point(crate::ring::hooks::Step::TokenDue);
            if let Some(fd) = self.end.token_fd() {
                sys::socket::send_token(fd);
            }
            reader.answered(declaration);
        }
    }

    /// Asks whether the other end is gone if the last time was long enough
    /// ago, or a handle of it was closed since: one coarse clock read and
    /// one load (of the line the commit's wake check reads) per send, one
    /// system call per [`SEND_CHECK_EVERY`] or per close.
    #[inline]
    fn check_peer_if_due(&self) -> Result<(), SendError> {
        let closes = self.peer_closes();
        let now = sys::coarse_nanos();
        // Relaxed: a per-handle schedule; racing threads at worst both ask.
        if now < self.next_check.load(Ordering::Relaxed) && closes == self.seen_peer_closes() {
            return Ok(());
        }
        if self.peer_is_gone() {
            // The schedule stays due: every later send fails at once too.
            return Err(SendError::BrokenPipe);
        }
        self.saw_peer_closes(closes);
        self.next_check.store(
            now.saturating_add(SEND_CHECK_EVERY.as_nanos() as u64),
            Ordering::Relaxed,
        );
        Ok(())
    }

    /// How many handles of the other end were closed so far.
    #[inline]
    pub(super) fn peer_closes(&self) -> u32 {
        self.mem.state().ends[1 - self.me].closes()
    }

    /// The other end's close count as this handle last asked the kernel
    /// about it.
    pub(super) fn seen_peer_closes(&self) -> u32 {
        // Relaxed: a handle's own hint; the kernel's answer decides.
        self.seen_closes.load(Ordering::Relaxed)
    }

    /// The kernel is being asked about the other end at close count
    /// `closes`.
    pub(super) fn saw_peer_closes(&self, closes: u32) {
        // Relaxed: as `seen_peer_closes`.
        self.seen_closes.store(closes, Ordering::Relaxed);
    }

    /// Whether every handle of the other end is gone (a system call, unless
    /// seen before for good).
    pub(super) fn peer_is_gone(&self) -> bool {
        // Relaxed: a sticky verdict of this handle's own.
        if self.peer_gone.load(Ordering::Relaxed) {
            return true;
        }
        let peer = 1 - self.me;
        // Relaxed: a flag that only goes from 0 to 1; the kernel's answer
        // is what decides.
        let opened = self.mem.state().ends[peer].opened.load(Ordering::Relaxed) != 0;
        let gone = self.end.peer_gone(peer, opened);
        if gone {
            if E::FINAL {
                self.peer_gone.store(true, Ordering::Relaxed);
            }
            // The next send asks again rather than waiting for its
            // schedule: a handle that has seen the end gone (in `recv`,
            // `poll`, `wait`) fails its next send at once; a segment's end,
            // which may come back, is asked about afresh. (A send racing
            // on another thread may store its schedule over this: that
            // send's own verdict then comes at most one period late.)
            self.next_check.store(0, Ordering::Relaxed);
        }
        gone
    }

    /// Whether a message is waiting, or the other end is gone (end of file
    /// is waiting), without taking anything (Python's `poll(timeout)`).
    ///
    /// `timeout` `Some(Duration::ZERO)` looks and returns at once (Python's
    /// default); `None` waits as long as it takes. Sleeps in the kernel
    /// while it waits; an end of file is noticed at once when the other
    /// end's last handle is closed or dropped, within 100 ms when the last
    /// process holding one dies.
    ///
    /// # Errors
    ///
    /// [`RecvError::WriteOnly`] on the sending end of a one-way pipe.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (a, b) = shmsync::Pipe::new(true)?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send_bytes(b"x")?;
    /// assert!(b.poll(Some(Duration::ZERO))?);
    /// assert!(b.poll(None)?); // still there: poll takes nothing
    /// drop(a);
    /// assert_eq!(b.recv_bytes(8)?, b"x");
    /// assert!(b.poll(Some(Duration::ZERO))?); // end of file is waiting
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    ///
    /// [`RecvError::WriteOnly`]: super::RecvError::WriteOnly
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, super::RecvError> {
        if !self.can_recv {
            return Err(super::RecvError::WriteOnly);
        }
        let deadline = timeout.map_or(Deadline::NEVER, Deadline::after);
        Ok(!super::wait::wait_deadline(&[self], deadline).is_empty())
    }

    /// Whether a message is there to receive now (a snapshot of the ring;
    /// pieces left by a reader that died are not counted once the consuming
    /// side can be taken to look), or a receive would fail at once (counters
    /// a peer overwrote, which `RawRing::len` reports as empty).
    pub(super) fn has_message(&self) -> bool {
        let (ring, buf) = self.mem.ring(1 - self.me);
        if !ring.is_ready_to_get() {
            return false;
        }
        match ring.take_consuming(buf, Deadline::now()) {
            Ok(mut side) => {
                let there = !matches!(ring.begin_message(buf, &mut side), Ok(None));
                ring.release_consuming(side);
                there
            }
            // Another reader holds the side: it sees the message.
            Err(_) => true,
        }
    }

    /// Whether this end sends (false for the receiving end of a one-way
    /// pipe), Python's `writable`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (reader, writer) = shmsync::Pipe::new(false)?;
    /// assert!(!reader.writable());
    /// assert!(writer.writable());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn writable(&self) -> bool {
        self.can_send
    }

    /// Whether this end receives (false for the sending end of a one-way
    /// pipe), Python's `readable`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = shmsync::Pipe::new(true)?;
    /// assert!(a.readable() && b.readable());
    /// let (reader, writer) = shmsync::Pipe::new(false)?;
    /// assert!(reader.readable() && !writer.readable());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn readable(&self) -> bool {
        self.can_recv
    }

    /// Closes this handle of its end (the same as dropping it). The end
    /// closes when its last handle in every process is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Pipe, RecvError};
    ///
    /// let (a, b) = Pipe::new(true)?;
    /// a.send_bytes(b"last words")?;
    /// a.close();
    /// assert_eq!(b.recv_bytes(64)?, b"last words", "what was sent still arrives");
    /// assert!(matches!(b.recv_bytes(64), Err(RecvError::Eof)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn close(self) {}

    /// The ring this end receives on (`in`) and the one it sends on.
    pub(super) fn rings(&self) -> [&RawRing; 2] {
        let state = self.mem.state();
        [&state.rings[1 - self.me], &state.rings[self.me]]
    }
}

impl<E: EndKind> Drop for Connection<E> {
    fn drop(&mut self) {
        // SAFETY: `end` is dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.end) };
        // The end may be gone now: the other end's sleepers and senders
        // ask the kernel when the count moves (after the release above),
        // and the nudge wakes the sleepers to look at it.
        self.mem.state().ends[self.me].closed_one();
        for ring in self.rings() {
            ring.nudge();
        }
    }
}

/// The connection's socket: it polls readable when a message or end of
/// file is waiting for a reader that found nothing with
/// [`try_recv_bytes`](Connection::try_recv_bytes) (which declared it
/// waiting), so it can join `poll`, epoll, mio or tokio's `AsyncFd`: call
/// `try_recv_bytes` first, and wait for the descriptor after `WouldBlock`.
/// It carries wake tokens only; never read from or write to it.
impl AsFd for Connection<SocketEnd> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.end.fd()
    }
}

/// The descriptor of [`AsFd`], for APIs that want a raw one (tokio's
/// `AsyncFd`): open and the same for the connection's whole life.
impl AsRawFd for Connection<SocketEnd> {
    fn as_raw_fd(&self) -> RawFd {
        self.end.fd().as_raw_fd()
    }
}

impl<E: EndKind> fmt::Debug for Connection<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("end", &if self.me == 0 { "A" } else { "B" })
            .field("readable", &self.can_recv)
            .field("writable", &self.can_send)
            .field("mechanism", &*self.end)
            .finish()
    }
}

/// The other end's [`closes`](super::shared::EndWords::closes) count as a
/// wait last asked the kernel about it: a count that moved is a reason to
/// stop sleeping and ask at once.
#[derive(Clone, Copy, Debug)]
pub(super) struct CloseCount(u32);

impl CloseCount {
    /// Starts from the count `conn` last asked about (before this call,
    /// or before the wait started), so that a close since counts.
    pub(super) fn of<E: EndKind>(conn: &Connection<E>) -> CloseCount {
        CloseCount(conn.seen_peer_closes())
    }

    /// Whether a handle of the other end was closed since the last
    /// [`take`](CloseCount::take): the reason to stop sleeping.
    pub(super) fn moved<E: EndKind>(&self, conn: &Connection<E>) -> bool {
        conn.peer_closes() != self.0
    }

    /// Whether a handle of the other end was closed since the last take;
    /// if so, counts the close, for `conn`'s sends and later waits too (the
    /// caller asks the kernel next).
    pub(super) fn take<E: EndKind>(&mut self, conn: &Connection<E>) -> bool {
        let closes = conn.peer_closes();
        if closes == self.0 {
            return false;
        }
        self.0 = closes;
        conn.saw_peer_closes(closes);
        true
    }
}

/// When a waiting call asks the kernel whether the other end is gone: on
/// the probe schedule (1 ms into the wait, doubling up to every 100 ms),
/// for an end whose last process died; and at once when a handle of that
/// end was closed (its [`CloseCount`] moved), which also ends the ring's
/// sleep ([`PeerWatch::closed`] as the wait's `stop`, woken by the
/// closer's nudge).
pub(super) struct PeerWatch {
    probe: Probe,
    closes: CloseCount,
}

impl PeerWatch {
    /// The watch of a wait starting now.
    pub(super) fn start<E: EndKind>(conn: &Connection<E>) -> PeerWatch {
        PeerWatch {
            probe: Probe::start(),
            closes: CloseCount::of(conn),
        }
    }

    /// When the schedule next asks: the latest the wait may sleep until.
    pub(super) fn at(&self) -> Deadline {
        self.probe.at()
    }

    /// Whether a handle of the other end was closed since the last
    /// [`due`](PeerWatch::due): the reason to stop sleeping.
    pub(super) fn closed<E: EndKind>(&self, conn: &Connection<E>) -> bool {
        self.closes.moved(conn)
    }

    /// Whether to ask the kernel now: the schedule is due (then it
    /// schedules the next), or a handle was closed (then it is counted).
    pub(super) fn due<E: EndKind>(&mut self, conn: &Connection<E>) -> bool {
        // Both: the schedule moves on even when a close asks first.
        self.closes.take(conn) | self.probe.due()
    }
}
