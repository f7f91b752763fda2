//! The socket pair under a pipe made by `Pipe::new`: what the kernel tells
//! about the peer end (every descriptor of it closed: hang-up), and the wake
//! tokens that make a descriptor poll readable for event loops.
//!
//! A pipe's two ends each hold one socket of an `AF_UNIX` stream pair. The
//! messages themselves never go through it (they go through shared
//! memory); the kernel is used for two things only:
//!
//! - the pair's reference counting: once every descriptor of one socket is
//!   closed (by `close`, or by the death of every process that had it), the
//!   other socket polls `POLLHUP` at once, whatever killed the holders, and
//!   no reused pid can fake it;
//! - wake tokens: one byte sent on one socket makes the other poll
//!   readable, for a reader waiting in an event loop.
//!
//! Sockets are made non-blocking and close-on-exec; tokens are sent with
//! `MSG_NOSIGNAL`, so a peer that has gone raises no `SIGPIPE`.

use super::Deadline;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

/// A connected pair of `AF_UNIX` stream sockets, non-blocking and
/// close-on-exec.
///
/// # Errors
///
/// The errno of `socketpair` (`EMFILE`, `ENFILE`: no descriptors left).
pub(crate) fn pair() -> Result<(OwnedFd, OwnedFd), Errno> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )
}

/// Sends one wake token on `sock`, so that its peer polls readable. A full
/// socket buffer (the peer is readable already) and a gone peer are not
/// errors: nothing to wake, or nobody.
pub(crate) fn send_token(sock: BorrowedFd<'_>) {
    let _ = rustix::net::send(sock, &[1], SendFlags::DONTWAIT | SendFlags::NOSIGNAL);
}

/// Reads and drops every wake token waiting on `sock`; returns whether the
/// peer has hung up (a read returned end of file).
pub(crate) fn drain_tokens(sock: BorrowedFd<'_>) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match rustix::net::recv(sock, &mut buf, RecvFlags::DONTWAIT) {
            Ok((0, _)) => return true,
            Ok(_) | Err(Errno::INTR) => {}
            // AGAIN: drained. Anything else: not known to be gone.
            Err(_) => return false,
        }
    }
}

/// Whether every descriptor of `sock`'s peer is closed (`POLLHUP`), asked
/// without waiting.
pub(crate) fn hung_up(sock: BorrowedFd<'_>) -> bool {
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        let mut fds = [PollFd::new(&sock, PollFlags::empty())];
        match poll(&mut fds, Some(&zero)) {
            Ok(_) => return fds[0].revents().contains(PollFlags::HUP),
            Err(Errno::INTR) => {}
            Err(_) => return false,
        }
    }
}

/// Sleeps until one of `socks` polls readable or hung up, or `deadline`
/// passes, or a signal arrives; the caller looks at what it waits for
/// afterwards.
pub(crate) fn wait_readable(socks: &[BorrowedFd<'_>], deadline: Deadline) {
    let mut polled: std::vec::Vec<PollFd<'_>> = socks
        .iter()
        .map(|sock| PollFd::new(sock, PollFlags::IN))
        .collect();
    let ts;
    let timeout = if deadline.is_never() {
        None
    } else {
        let left = deadline.remaining();
        ts = rustix::time::Timespec {
            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: i64::from(left.subsec_nanos()),
        };
        Some(&ts)
    };
    let _ = poll(&mut polled, timeout);
}
