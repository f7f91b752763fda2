//! Open-file-description locks (`F_OFD_SETLK`, Linux 3.15): how an end of a
//! pipe in a named segment says "some process still has me", in a way the
//! kernel undoes by itself when the last holder goes.
//!
//! Each handle of an end opens the segment's object once more (a fresh open
//! file description of its own) and puts a shared (read) lock on one byte
//! that stands for its end, far past the object's data (locks may lie
//! beyond the end of a file and change nothing in it). The lock belongs to
//! the open file description: a forked child shares it, and the kernel
//! drops it when the last descriptor of that description is closed, at
//! `close` or at the death of the last process that had it, however it
//! died. Whether an end lives is asked with `F_OFD_GETLK` for an exclusive
//! lock on its byte: any shared lock held through another description
//! conflicts and is reported. No pid is involved, so none can be reused.

use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::io::Errno;

/// Opens the object behind `fd` once more, read-only and close-on-exec, as
/// a new open file description (through `/proc/self/fd`).
///
/// # Errors
///
/// The errno of `open` (`ENOENT` without `/proc`, `EMFILE`).
pub(crate) fn reopen(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let path = std::format!("/proc/self/fd/{}", fd.as_raw_fd());
    rustix::fs::open(
        path.as_str(),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
}

/// A one-byte lock request at `offset`.
fn request(kind: libc::c_int, offset: i64) -> libc::flock {
    // SAFETY: flock is a plain C struct; all zeroes is a valid value.
    let mut lock: libc::flock = unsafe { core::mem::zeroed() };
    lock.l_type = kind as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = offset;
    lock.l_len = 1;
    // l_pid must be 0 for OFD locks.
    lock
}

/// Puts a shared lock on the byte at `offset` through `fd`'s open file
/// description (never waits: shared locks only conflict with exclusive
/// ones, which nobody takes).
///
/// # Errors
///
/// The errno of `fcntl` (`EINVAL` before Linux 3.15, `ENOLCK`).
pub(crate) fn hold_shared(fd: BorrowedFd<'_>, offset: i64) -> Result<(), Errno> {
    let lock = request(libc::F_RDLCK, offset);
    // SAFETY: F_OFD_SETLK reads one flock, which `lock` is, and touches no
    // other memory.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::from_raw_os_error(last_errno()))
    }
}

/// Whether another open file description holds a lock on the byte at
/// `offset` (`F_OFD_GETLK`).
///
/// # Errors
///
/// The errno of `fcntl`.
pub(crate) fn held_elsewhere(fd: BorrowedFd<'_>, offset: i64) -> Result<bool, Errno> {
    let mut lock = request(libc::F_WRLCK, offset);
    // SAFETY: F_OFD_GETLK reads and writes back one flock, which `lock` is.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if rc == 0 {
        Ok(lock.l_type != libc::F_UNLCK as libc::c_short)
    } else {
        Err(Errno::from_raw_os_error(last_errno()))
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
