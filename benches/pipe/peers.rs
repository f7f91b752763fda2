//! What a pipe is measured against, behind one trait: shmsync's `Pipe`, an
//! OS pipe, a socket pair, and the bare floors (a spinning cache line, one
//! core's memcpy).

use shmsync::{Connection, Pipe, Shared};
use shmsync_testkit::{fail_errno, Alarm, Padded};
use std::hint::spin_loop;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// Moves messages between the bench process (`a`) and a forked child
/// (`b`): each side's calls take the bytes to send or the buffer to fill.
pub trait Channel {
    /// Sends `msg` from side `a` (`true`) or `b`.
    fn send(&self, a: bool, msg: &[u8]);
    /// Receives one message of `buf.len()` bytes on side `a` or `b`.
    fn recv(&self, a: bool, buf: &mut [u8]);
}

/// shmsync's `Pipe`: `send_bytes` and `recv_bytes_into` (no allocation).
pub struct ShmPipe(Connection, Connection);

impl ShmPipe {
    pub fn new(capacity: usize) -> ShmPipe {
        let (a, b) = Pipe::options().capacity(capacity).create().expect("pipe");
        ShmPipe(a, b)
    }

    fn end(&self, a: bool) -> &Connection {
        if a {
            &self.0
        } else {
            &self.1
        }
    }
}

impl Channel for ShmPipe {
    #[inline]
    fn send(&self, a: bool, msg: &[u8]) {
        self.end(a).send_bytes(msg).expect("send_bytes");
    }

    #[inline]
    fn recv(&self, a: bool, buf: &mut [u8]) {
        let n = self
            .end(a)
            .recv_bytes_into(buf, 0)
            .expect("recv_bytes_into");
        assert_eq!(n, buf.len());
    }
}

/// Two descriptors per direction pair: an OS pipe each way, or one socket
/// pair (whose two sockets are both ways at once).
pub struct Fds {
    /// Side a writes to `a_out`, reads from `a_in`; side b the others.
    a_out: OwnedFd,
    a_in: OwnedFd,
    b_out: OwnedFd,
    b_in: OwnedFd,
}

fn pipe2() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        fail_errno("pipe");
    }
    // SAFETY: fresh descriptors owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

impl Fds {
    /// Two OS pipes, one each way.
    pub fn os_pipe() -> Fds {
        let (a_to_b_r, a_to_b_w) = pipe2();
        let (b_to_a_r, b_to_a_w) = pipe2();
        Fds {
            a_out: a_to_b_w,
            a_in: b_to_a_r,
            b_out: b_to_a_w,
            b_in: a_to_b_r,
        }
    }

    /// One `AF_UNIX` stream socket pair.
    pub fn socketpair() -> Fds {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors written.
        if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) } != 0 {
            fail_errno("socketpair");
        }
        // SAFETY: fresh descriptors owned by nobody else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Fds {
            a_out: a.try_clone().expect("dup"),
            a_in: a,
            b_out: b.try_clone().expect("dup"),
            b_in: b,
        }
    }
}

impl Channel for Fds {
    fn send(&self, a: bool, mut msg: &[u8]) {
        let fd = if a { &self.a_out } else { &self.b_out }.as_raw_fd();
        while !msg.is_empty() {
            // SAFETY: writes from a live slice of the length given.
            let n = unsafe { libc::write(fd, msg.as_ptr().cast(), msg.len()) };
            if n < 0 {
                assert!(!Alarm::fired(), "write: no room in time");
                fail_errno("write");
            }
            msg = &msg[n as usize..];
        }
    }

    fn recv(&self, a: bool, mut buf: &mut [u8]) {
        let fd = if a { &self.a_in } else { &self.b_in }.as_raw_fd();
        while !buf.is_empty() {
            // SAFETY: reads into a live slice of the length given.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                assert!(!Alarm::fired(), "read: no message in time");
                fail_errno("read");
            }
            buf = &mut buf[n as usize..];
        }
    }
}

/// The bare spin: a turn counter on one shared cache line, and nothing
/// moved (the round trip's floor).
pub struct Spin(Shared<Padded<AtomicU32>>);

impl Spin {
    pub fn new() -> Spin {
        Spin(Shared::new(Padded(AtomicU32::new(0))).expect("mmap"))
    }

    /// Passes the turn from `mine` to the other side and waits for it to
    /// come back: side a holds even turns.
    fn turn(&self, a: bool, wait: bool) {
        let ball = &self.0 .0;
        let parity = u32::from(!a);
        let mut spins: u32 = 0;
        if wait {
            // Acquire: pairs with the other side's Release store.
            while ball.load(Ordering::Acquire) % 2 != parity {
                spin_loop();
                spins = spins.wrapping_add(1);
                if spins % 65_536 == 0 {
                    assert!(!Alarm::fired(), "spin: the turn did not come in time");
                }
            }
        } else {
            // Release: pairs with the other side's Acquire load.
            ball.fetch_add(1, Ordering::Release);
        }
    }

    pub fn reset(&self) {
        self.0 .0.store(0, Ordering::Relaxed);
    }
}

impl Channel for Spin {
    fn send(&self, a: bool, _msg: &[u8]) {
        self.turn(a, false);
    }

    fn recv(&self, a: bool, _buf: &mut [u8]) {
        self.turn(a, true);
    }
}
