//! `SegmentError`: the one error of the `shm` layer. What can go wrong
//! mapping a [`Shared`](crate::Shared) value or creating, opening or using a
//! [`Segment`](crate::Segment), each variant saying what to do about it.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why a shared mapping or segment could not be made, opened or used.
///
/// [`SegmentError::Os`] is a failed system call with its errno; the other
/// variants are what shmsync itself finds wrong. Each one converts into
/// `shmsync::Error` (its `Segment` variant), so callers can use `?` in
/// functions returning that.
///
/// # Examples
///
/// ```
/// use shmsync::{Segment, SegmentError};
///
/// let e = Segment::open("/shmsync-doc-no-such-segment").unwrap_err();
/// assert!(matches!(e, SegmentError::NotFound { .. }));
/// assert!(e.to_string().starts_with("no shared memory segment named"));
///
/// let os = SegmentError::Os { op: "mmap", errno: 12 };
/// assert_eq!(os.raw_os_error(), Some(12));
/// assert_eq!(os.to_string(), "mmap failed: Cannot allocate memory (os error 12)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentError {
    /// A system call failed.
    Os {
        /// The call, e.g. `"shm_open"` or `"mmap"`.
        op: &'static str,
        /// Its errno (see [`raw_os_error`](SegmentError::raw_os_error)).
        errno: i32,
    },
    /// The pages of a new segment could not be reserved: its filesystem
    /// (`/dev/shm`, for a named segment) is too full, or the machine or a
    /// memory limit has too little memory. Reported at creation, instead of
    /// a `SIGBUS` on a later write.
    NoSpace {
        /// The size asked for, in bytes.
        size: usize,
        /// The errno: `ENOSPC`, `ENOMEM` (also when `size` exceeds the
        /// machine's memory and swap) or `EFBIG`.
        errno: i32,
    },
    /// No shared memory object has this name.
    NotFound {
        /// The segment name, with its leading `/`.
        name: String,
    },
    /// `create` found a shared memory object with this name already.
    AlreadyExists {
        /// The segment name, with its leading `/`.
        name: String,
    },
    /// The segment's header was not complete within the wait (a second
    /// without progress): its creator may have died while creating it.
    NotInitialised,
    /// The object does not start with shmsync's magic number: it is not a
    /// shmsync segment.
    BadMagic,
    /// The segment was made with another format version.
    Version {
        /// The version in the segment.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The segment was made by a build with another layout fingerprint:
    /// another shmsync version, another wait backend (`futex`/`posix-sem`),
    /// or another architecture.
    Layout {
        /// The fingerprint in the segment.
        found: u64,
        /// This build's fingerprint.
        expected: u64,
    },
    /// The shared memory object is too short to hold a header.
    Truncated {
        /// Its size in bytes.
        size: u64,
        /// The least a header needs.
        minimum: u64,
    },
    /// The header's recorded size differs from the object's actual size:
    /// the object was truncated or resized after creation.
    SizeMismatch {
        /// The size the header records.
        header: u64,
        /// The size of the object (of this process's mapping).
        actual: u64,
    },
    /// `open_or_create` found the segment already there, smaller than the
    /// size asked for.
    TooSmall {
        /// The segment name, with its leading `/`.
        name: String,
        /// Its size in bytes.
        size: usize,
        /// The size asked for.
        requested: usize,
    },
    /// `open` or `open_or_create` found an object that another user owns,
    /// or whose mode gives group or others access, and was not told to
    /// trust it (see [`SegmentOptions`](crate::SegmentOptions)).
    Untrusted {
        /// The segment name, with its leading `/`.
        name: String,
        /// The object's owner.
        owner_uid: u32,
        /// The object's permission bits.
        mode: u32,
        /// What is wrong, and how to opt in if it is deliberate.
        reason: &'static str,
    },
    /// A creation mode that lacks read and write for the owner (`0o600`)
    /// or has bits beyond `0o777`.
    BadMode {
        /// The mode given.
        mode: u32,
    },
    /// A size asked of `create`/`anonymous` is too small for the header
    /// and directory, or too large to map.
    BadSize {
        /// The size asked for.
        size: usize,
        /// The least that works ([`Segment::MIN_SIZE`](crate::Segment::MIN_SIZE)).
        minimum: usize,
    },
    /// The header or directory holds values that cannot be right; the
    /// string says which. Possibly a peer wrote garbage into the segment.
    Corrupted(&'static str),
    /// A segment or object name is longer than allowed.
    NameTooLong {
        /// The name given.
        name: String,
        /// The longest allowed, in bytes.
        max: usize,
    },
    /// A segment or object name breaks the naming rules.
    InvalidName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// Every directory entry is used.
    DirectoryFull {
        /// How many entries the directory has.
        capacity: u32,
    },
    /// Not enough free space left for the object.
    OutOfSpace {
        /// Bytes the object needs (including alignment padding).
        needed: u64,
        /// Bytes left in the segment.
        available: u64,
    },
    /// An object with this name exists but has another type (by name,
    /// size or alignment).
    TypeMismatch {
        /// The object name.
        name: String,
        /// The type asked for.
        requested: &'static str,
    },
    /// `get` found no object with this name.
    NoSuchObject {
        /// The object name.
        name: String,
    },
    /// `get` found the object reserved but never finished: whoever was
    /// initialising it died or panicked.
    Abandoned {
        /// The object name.
        name: String,
    },
    /// `get_or_init` or `get` was called from inside an `init` closure of
    /// the same segment, which holds the directory lock.
    Reentrant,
    /// `get_or_init` or `get` waited for the segment's directory lock for
    /// its whole bound while a live thread held it: a process inside (or
    /// stopped inside) a long `init` closure, or a thread id a peer wrote
    /// into the lock word.
    DirectoryBusy {
        /// The kernel thread id holding the lock when the wait ended, if
        /// any.
        holder: Option<u32>,
        /// How long it waited: the segment's
        /// [`directory_lock_timeout`](crate::SegmentOptions::directory_lock_timeout).
        waited: Duration,
    },
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentError::Os { op, errno } => {
                write!(f, "{op} failed: {}", io::Error::from_raw_os_error(*errno))
            }
            SegmentError::NoSpace { size, errno } => write!(
                f,
                "no room for a segment of {size} bytes: {}; free space in /dev/shm (see `df /dev/shm`) or memory, or create a smaller segment",
                io::Error::from_raw_os_error(*errno)
            ),
            SegmentError::TooSmall {
                name,
                size,
                requested,
            } => write!(
                f,
                "segment {name:?} already exists with {size} bytes, fewer than the {requested} asked for: it was created smaller; ask for at most {size}, or unlink it and create it again"
            ),
            SegmentError::Untrusted {
                name,
                owner_uid,
                mode,
                reason,
            } => write!(
                f,
                "refusing segment {name:?} (owner uid {owner_uid}, mode {mode:04o}): {reason}"
            ),
            SegmentError::BadMode { mode } => write!(
                f,
                "segment mode {mode:04o} is unusable: it must give the owner read and write (0600) and have no bits beyond 0777"
            ),
            SegmentError::NotFound { name } => write!(
                f,
                "no shared memory segment named {name:?}: create it first (Segment::create or open_or_create)"
            ),
            SegmentError::AlreadyExists { name } => write!(
                f,
                "a shared memory segment named {name:?} already exists: open it, or unlink it if it is stale"
            ),
            SegmentError::NotInitialised => f.write_str(
                "segment not initialised: its creator may have died before finishing; unlink it and create it again",
            ),
            SegmentError::BadMagic => f.write_str(
                "not a shmsync segment (bad magic number): check the name, or unlink the object",
            ),
            SegmentError::Version { found, expected } => write!(
                f,
                "segment has format version {found}, this shmsync reads version {expected}: use the same shmsync in every process, or unlink it"
            ),
            SegmentError::Layout { found, expected } => write!(
                f,
                "segment layout fingerprint {found:#018x} differs from this build's {expected:#018x}: it was created by another shmsync version, wait backend (futex/posix-sem) or architecture; use the same build in every process"
            ),
            SegmentError::Truncated { size, minimum } => write!(
                f,
                "segment is truncated: {size} bytes, a header needs {minimum}; unlink it"
            ),
            SegmentError::SizeMismatch { header, actual } => write!(
                f,
                "segment size mismatch: its header says {header} bytes, the object has {actual}; it was truncated or resized, unlink it"
            ),
            SegmentError::BadSize { size, minimum } => write!(
                f,
                "segment size {size} is unusable: at least {minimum} bytes are needed for the header and directory, and at most isize::MAX"
            ),
            SegmentError::Corrupted(what) => {
                write!(f, "segment is corrupted ({what}); unlink it and create it again")
            }
            SegmentError::NameTooLong { name, max } => {
                write!(f, "name {name:?} is too long: at most {max} bytes")
            }
            SegmentError::InvalidName { name, reason } => {
                write!(f, "invalid name {name:?}: {reason}")
            }
            SegmentError::DirectoryFull { capacity } => write!(
                f,
                "segment directory is full ({capacity} objects): put more objects in another segment"
            ),
            SegmentError::OutOfSpace { needed, available } => write!(
                f,
                "segment out of space: {needed} bytes needed, {available} left; create a larger segment"
            ),
            SegmentError::TypeMismatch { name, requested } => write!(
                f,
                "object {name:?} exists with another type, capacity or length than {requested}: every process must open a name with the type (and the capacity or length) it was made with"
            ),
            SegmentError::NoSuchObject { name } => write!(
                f,
                "no object named {name:?} in the segment: create it with get_or_init"
            ),
            SegmentError::Abandoned { name } => write!(
                f,
                "object {name:?} was never finished (its initialiser died or panicked): get_or_init initialises it again"
            ),
            SegmentError::Reentrant => f.write_str(
                "segment used from inside one of its own get_or_init closures, which hold the directory lock: initialise objects one at a time",
            ),
            SegmentError::DirectoryBusy { holder, waited } => {
                f.write_str("segment directory lock still held")?;
                if let Some(tid) = holder {
                    write!(f, " by thread {tid}")?;
                }
                write!(
                    f,
                    " after {waited:?}: a process is running (or is stopped in) a long get_or_init closure, or the lock word was overwritten; retry, look at that thread, or wait longer with SegmentOptions::directory_lock_timeout"
                )
            }
        }
    }
}

impl SegmentError {
    /// A failed system call, from the errno rustix reports.
    pub(crate) fn os(op: &'static str, errno: rustix::io::Errno) -> SegmentError {
        SegmentError::Os {
            op,
            errno: errno.raw_os_error(),
        }
    }

    /// A failed system call, from a `std::io::Error` (memmap2 reports
    /// those). Errors without an errno are memmap2's own argument checks.
    pub(crate) fn os_io(op: &'static str, error: &io::Error) -> SegmentError {
        SegmentError::Os {
            op,
            errno: error
                .raw_os_error()
                .unwrap_or(rustix::io::Errno::INVAL.raw_os_error()),
        }
    }

    /// The errno of a failed system call ([`SegmentError::Os`], and
    /// [`SegmentError::NoSpace`]); `None` for the other variants.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::SegmentError;
    ///
    /// assert_eq!(SegmentError::Os { op: "fstat", errno: 9 }.raw_os_error(), Some(9));
    /// assert_eq!(SegmentError::BadMagic.raw_os_error(), None);
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            SegmentError::Os { errno, .. } | SegmentError::NoSpace { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

impl std::error::Error for SegmentError {}
