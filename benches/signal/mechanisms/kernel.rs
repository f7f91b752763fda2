//! The kernel's signals: pipes and eventfds, with blocking reads and
//! writes that an [`Alarm`] cuts short.

use super::PingPong;
use shmsync::Deadline;
use shmsync_testkit::{fail_errno, Alarm};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Writes all of `buf` to `fd` in one call, retrying after a signal.
#[inline]
fn write_once(fd: &OwnedFd, buf: &[u8], what: &str) {
    loop {
        // SAFETY: `buf` is valid for reading `buf.len()` bytes; `fd` is an
        // open descriptor owned by the caller's mechanism.
        let n = unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
        if n == buf.len() as isize {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            assert!(!Alarm::fired(), "{what}: write blocked too long");
            continue;
        }
        fail_errno(what);
    }
}

/// Fills `buf` from `fd` in one blocking read; the [`Alarm`] bounds it.
#[inline]
fn read_once(fd: &OwnedFd, buf: &mut [u8], what: &str) {
    loop {
        // SAFETY: `buf` is valid for writing `buf.len()` bytes; `fd` is an
        // open descriptor owned by the caller's mechanism.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n == buf.len() as isize {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            assert!(!Alarm::fired(), "{what}: no answer in time");
            continue;
        }
        fail_errno(what);
    }
}

/// Two OS pipes: `(read end, write end)` for ping and for pong. The child
/// inherits all four ends.
pub struct Pipes {
    ping: (OwnedFd, OwnedFd),
    pong: (OwnedFd, OwnedFd),
}

/// A pipe whose ends close on exec: `(read end, write end)`.
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [-1; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        fail_errno("pipe2");
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours alone.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Pipes {
    pub fn new() -> Pipes {
        Pipes {
            ping: pipe(),
            pong: pipe(),
        }
    }
}

impl PingPong for Pipes {
    #[inline]
    fn parent_round(&self, _round: u64, _deadline: Deadline) {
        write_once(&self.ping.1, &[1], "pipe: ping");
        let mut byte = [0u8];
        read_once(&self.pong.0, &mut byte, "pipe: pong");
    }

    #[inline]
    fn child_round(&self, _round: u64, _deadline: Deadline) {
        let mut byte = [0u8];
        read_once(&self.ping.0, &mut byte, "pipe: ping");
        write_once(&self.pong.1, &byte, "pipe: pong");
    }
}

/// Two blocking eventfds, ping and pong.
pub struct EventFds {
    ping: OwnedFd,
    pong: OwnedFd,
}

/// A blocking eventfd that closes on exec, its counter at zero.
fn eventfd() -> OwnedFd {
    // SAFETY: eventfd takes an initial value and flags, touches no memory.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        fail_errno("eventfd");
    }
    // SAFETY: eventfd succeeded, so `fd` is open and ours alone.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

impl EventFds {
    pub fn new() -> EventFds {
        EventFds {
            ping: eventfd(),
            pong: eventfd(),
        }
    }
}

impl PingPong for EventFds {
    #[inline]
    fn parent_round(&self, _round: u64, _deadline: Deadline) {
        write_once(&self.ping, &1u64.to_ne_bytes(), "eventfd: ping");
        let mut value = [0u8; 8];
        read_once(&self.pong, &mut value, "eventfd: pong");
        debug_assert_eq!(u64::from_ne_bytes(value), 1);
    }

    #[inline]
    fn child_round(&self, _round: u64, _deadline: Deadline) {
        let mut value = [0u8; 8];
        read_once(&self.ping, &mut value, "eventfd: ping");
        write_once(&self.pong, &value, "eventfd: pong");
    }
}
