//! The shared memory object behind a segment, through its file descriptor:
//! sizing it and reserving its pages at creation, and, at opening, its size
//! and whether its owner and mode can be trusted.
//!
//! Everything here works on the descriptor (`ftruncate`, `fallocate`,
//! `fstat`), never on a path, so what is checked is what gets mapped.

use super::SegmentError;
use std::os::fd::BorrowedFd;

/// The permission bits that give group or others any access.
const GROUP_OTHER_BITS: u32 = 0o077;

/// Sizes a fresh object to `size` bytes and reserves its pages (on Linux),
/// so that a full filesystem or a lack of memory is an error now, not a
/// `SIGBUS` on the first write to a page the kernel cannot supply.
///
/// # Errors
///
/// [`SegmentError::NoSpace`] if `size` exceeds the machine's memory and
/// swap, or the filesystem or memory limit refuses the pages;
/// [`SegmentError::Os`] for other failures of `ftruncate` or `fallocate`.
pub(crate) fn size_and_reserve(fd: BorrowedFd<'_>, size: usize) -> Result<(), SegmentError> {
    check_fits_in_memory(size)?;
    rustix::fs::ftruncate(fd, size as u64).map_err(|e| no_space_or_os("ftruncate", size, e))?;
    reserve(fd, size)
}

/// Allocates every page of the object now (`fallocate`, mode 0).
///
/// tmpfs refuses at once, with `ENOSPC`, a request larger than the whole
/// filesystem; a smaller one it allocates page by page and undoes on
/// failure. A signal interrupts a long allocation with `EINTR` (and undoes
/// it): tried again a few times, then reported.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn reserve(fd: BorrowedFd<'_>, size: usize) -> Result<(), SegmentError> {
    use rustix::fs::FallocateFlags;
    use rustix::io::Errno;

    const TRIES: u32 = 4;
    let mut tries = 0;
    loop {
        tries += 1;
        match rustix::fs::fallocate(fd, FallocateFlags::empty(), 0, size as u64) {
            Ok(()) => return Ok(()),
            Err(Errno::INTR) if tries < TRIES => {}
            // A filesystem that cannot reserve ahead: pages come on first
            // touch, as they would without this call.
            Err(Errno::OPNOTSUPP) => return Ok(()),
            Err(e) => return Err(no_space_or_os("fallocate", size, e)),
        }
    }
}

/// Elsewhere shared memory objects do not support reserving ahead.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn reserve(_fd: BorrowedFd<'_>, _size: usize) -> Result<(), SegmentError> {
    Ok(())
}

/// Refuses, before anything is allocated, a size larger than the machine's
/// RAM and swap together: no reservation of it can succeed, and a memfd's
/// (whose filesystem has no size limit) would first press every process on
/// the machine for memory.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn check_fits_in_memory(size: usize) -> Result<(), SegmentError> {
    let mut info = core::mem::MaybeUninit::<libc::sysinfo>::uninit();
    // SAFETY: sysinfo writes one `struct sysinfo` through the pointer,
    // which points to room for one.
    if unsafe { libc::sysinfo(info.as_mut_ptr()) } != 0 {
        // Cannot tell: let the reservation itself decide.
        return Ok(());
    }
    // SAFETY: sysinfo returned 0, so it filled the struct in.
    let info = unsafe { info.assume_init() };
    // `c_ulong` is 32 bits on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let memory = (info.totalram as u64)
        .saturating_add(info.totalswap as u64)
        .saturating_mul(u64::from(info.mem_unit.max(1)));
    if size as u64 > memory {
        return Err(SegmentError::NoSpace {
            size,
            errno: rustix::io::Errno::NOMEM.raw_os_error(),
        });
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn check_fits_in_memory(_size: usize) -> Result<(), SegmentError> {
    Ok(())
}

/// [`SegmentError::NoSpace`] for the errnos that mean "no room for `size`
/// bytes", [`SegmentError::Os`] for the rest.
fn no_space_or_os(op: &'static str, size: usize, errno: rustix::io::Errno) -> SegmentError {
    use rustix::io::Errno;
    match errno {
        Errno::NOSPC | Errno::NOMEM | Errno::FBIG => SegmentError::NoSpace {
            size,
            errno: errno.raw_os_error(),
        },
        _ => SegmentError::os(op, errno),
    }
}

/// The object's size in bytes (`fstat`).
pub(crate) fn size_of_object(fd: BorrowedFd<'_>) -> Result<u64, SegmentError> {
    let stat = rustix::fs::fstat(fd).map_err(|e| SegmentError::os("fstat", e))?;
    Ok(u64::try_from(stat.st_size).unwrap_or(0))
}

/// The bytes of storage allocated to the object (`fstat`'s `st_blocks`, in
/// 512-byte units): what a creator's reservation has filled in so far.
pub(crate) fn reserved_bytes(fd: BorrowedFd<'_>) -> Result<u64, SegmentError> {
    let stat = rustix::fs::fstat(fd).map_err(|e| SegmentError::os("fstat", e))?;
    Ok(u64::try_from(stat.st_blocks)
        .unwrap_or(0)
        .saturating_mul(512))
}

/// Refuses an object that another user owns (unless `other_owners`), or
/// whose mode gives group or others any access (unless `shared_mode`):
/// whoever can write it can truncate it under every mapping (`SIGBUS` for
/// each process that touches the lost pages) or rewrite it.
///
/// The owner is compared with the effective uid, for root too: a root
/// process must not trust an object that an unprivileged user planted
/// under the name it expects.
///
/// # Errors
///
/// [`SegmentError::Untrusted`] saying which check failed and how to opt in;
/// [`SegmentError::Os`] if `fstat` fails.
pub(crate) fn check_trust(
    fd: BorrowedFd<'_>,
    name: &str,
    other_owners: bool,
    shared_mode: bool,
) -> Result<(), SegmentError> {
    let stat = rustix::fs::fstat(fd).map_err(|e| SegmentError::os("fstat", e))?;
    // `mode_t` is 16 bits on some Unixes, 32 on Linux.
    #[allow(clippy::useless_conversion)]
    let mode = u32::from(rustix::fs::Mode::from_raw_mode(stat.st_mode).bits());
    let owner_uid = stat.st_uid;
    let untrusted = |reason| SegmentError::Untrusted {
        name: name.into(),
        owner_uid,
        mode,
        reason,
    };
    if !other_owners && owner_uid != rustix::process::geteuid().as_raw() {
        return Err(untrusted(
            "it belongs to another user, who can truncate or rewrite it at will; if that user is trusted, open it with Segment::options().trust_other_owners(true)",
        ));
    }
    if !shared_mode && mode & GROUP_OTHER_BITS != 0 {
        return Err(untrusted(
            "its mode gives group or others access, to read it or (with write permission) to truncate or rewrite it; if that sharing is deliberate, open it with Segment::options().trust_shared_mode(true), otherwise unlink it and create it again with mode 0600",
        ));
    }
    Ok(())
}
