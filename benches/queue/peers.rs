//! The kernel's channels the queue is measured against: an OS pipe and a
//! Unix socketpair, written and read a whole message at a time; blocking
//! calls are bounded by the testkit's `Alarm`.

use shmsync_testkit::{fail_errno, Alarm};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A channel's two ends: `(read end, write end)`; a forked child inherits
/// both.
pub struct Channel {
    pub rx: OwnedFd,
    pub tx: OwnedFd,
}

impl Channel {
    /// An OS pipe.
    pub fn pipe() -> Channel {
        let mut fds = [-1; 2];
        // SAFETY: `fds` is a writable array of two descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            fail_errno("pipe2");
        }
        // SAFETY: pipe2 succeeded: both descriptors are open and ours.
        unsafe { Channel::from_fds(fds) }
    }

    /// A Unix stream socketpair, one direction used.
    pub fn socketpair() -> Channel {
        let mut fds = [-1; 2];
        // SAFETY: `fds` is a writable array of two descriptors.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            fail_errno("socketpair");
        }
        // SAFETY: socketpair succeeded: both descriptors are open and ours.
        unsafe { Channel::from_fds(fds) }
    }

    /// # Safety
    ///
    /// Both descriptors are open and owned by nobody else.
    unsafe fn from_fds(fds: [i32; 2]) -> Channel {
        // SAFETY: the caller's promise.
        unsafe {
            Channel {
                rx: OwnedFd::from_raw_fd(fds[0]),
                tx: OwnedFd::from_raw_fd(fds[1]),
            }
        }
    }

    /// Writes all of `buf`, retrying after a signal or a short write.
    #[inline]
    pub fn send(&self, mut buf: &[u8]) {
        while !buf.is_empty() {
            // SAFETY: `buf` is valid for reading `buf.len()` bytes; the
            // descriptor is open while `self` lives.
            let n = unsafe { libc::write(self.tx.as_raw_fd(), buf.as_ptr().cast(), buf.len()) };
            if n > 0 {
                buf = &buf[n as usize..];
            } else if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                assert!(!Alarm::fired(), "write blocked too long");
            } else {
                fail_errno("write");
            }
        }
    }

    /// Fills `buf`, retrying after a signal or a short read.
    #[inline]
    pub fn recv(&self, mut buf: &mut [u8]) {
        while !buf.is_empty() {
            // SAFETY: `buf` is valid for writing `buf.len()` bytes; the
            // descriptor is open while `self` lives.
            let n = unsafe { libc::read(self.rx.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                buf = &mut buf[n as usize..];
            } else if n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
            {
                assert!(!Alarm::fired(), "read blocked too long");
            } else {
                fail_errno("read");
            }
        }
    }
}
