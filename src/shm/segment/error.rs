//! `SegmentError`: what can go wrong creating, opening or using a segment,
//! each variant saying what to do about it.

use std::fmt;

/// Why a segment could not be created, opened or used.
///
/// Failures of the system calls themselves (`shm_open`, `ftruncate`,
/// `mmap`, ...) are [`Error::Os`](crate::Error::Os) instead, with their
/// errno; the variants here are what shmsync itself finds wrong. Each one
/// converts into [`Error::Segment`](crate::Error::Segment).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SegmentError {
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
    /// The segment's header was not complete within the wait (one second):
    /// its creator may have died while creating it.
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
    /// another shmsync version, another wait backend (`futex`/`pthread`),
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
}

impl fmt::Display for SegmentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
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
                "segment layout fingerprint {found:#018x} differs from this build's {expected:#018x}: it was created by another shmsync version, wait backend (futex/pthread) or architecture; use the same build in every process"
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
                "object {name:?} exists with another type than {requested}: every process must use the same type for a name"
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
        }
    }
}

impl std::error::Error for SegmentError {}
