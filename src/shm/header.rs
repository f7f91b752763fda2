//! The bytes at the start of a [`Segment`](crate::Segment): a header that
//! says what the segment is, then a fixed-capacity directory of named
//! objects, then the objects themselves.
//!
//! ```text
//! 0                 directory_offset            heap_offset            size
//! | Header          | Entry 0 | Entry 1 | ...   | objects, bump-allocated |
//! ```
//!
//! Everything here is `#[repr(C)]` and pointer-free: objects are found by
//! offset, never by address. Every field is an atomic, so that reading the
//! bytes while a peer writes them is well defined; readers copy the fields
//! out ([`HeaderFields`], [`EntryFields`]) and validate the copies with pure
//! functions ([`check_header`], [`check_entry`]), which are also what
//! [`parse_header`] and [`HeaderInfo::entry`] run on plain bytes (and what
//! the fuzz target drives). Nothing a segment's bytes say can make a reader
//! form a reference outside the mapping. The writer of a new header,
//! [`format`], sits beside them.
//!
//! Publication: the creator writes the whole header, then stores `magic`
//! last with `Release`; openers load it with `Acquire` (see
//! [`Header::magic`]). A directory entry is published the same way through
//! its `state`.

use super::error::SegmentError;
use super::region::Region;
use crate::raw::{RawLock, RawRLock};
use core::mem::{align_of, offset_of, size_of};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use static_assertions::const_assert_eq;

/// `b"SHMSYNC\0"`, as the first eight bytes of every segment. Zero means the
/// creator has not finished writing the header yet.
pub(crate) const MAGIC: u64 = u64::from_ne_bytes(*b"SHMSYNC\0");

/// The version of the format described in this file. Bump it when the
/// header or entry layout, or their meaning, changes.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// The longest object name, in bytes: entry names are NUL-padded to 48.
pub(crate) const MAX_OBJECT_NAME: usize = NAME_BYTES - 1;

/// Bytes of an entry's name field.
pub(crate) const NAME_BYTES: usize = 48;

/// The directory capacity of the segments this build creates.
pub(crate) const DEFAULT_CAPACITY: u32 = 64;

/// The largest capacity an opener accepts, so a corrupted header cannot
/// make lookups scan for ever.
pub(crate) const MAX_CAPACITY: u32 = 1 << 16;

/// Where the directory starts: the header rounded up to a cache line.
pub(crate) const DIRECTORY_OFFSET: usize = align_up_const(size_of::<Header>(), 64);

/// The bytes of one directory entry.
pub(crate) const ENTRY_SIZE: usize = size_of::<Entry>();

/// `Entry::state`: a free slot; its other fields mean nothing.
pub(crate) const EMPTY: u32 = 0;
/// `Entry::state`: the slot's name, type, offset and size are reserved and
/// the cursor covers them; the value is being written (or its writer died
/// or panicked: whoever next holds the directory lock writes it again).
pub(crate) const INITIALISING: u32 = 1;
/// `Entry::state`: the value is written; the entry never changes again.
pub(crate) const READY: u32 = 2;

/// The segment header, at offset 0.
///
/// `magic` and `version` come first and keep their place in every format
/// version, so that any build can tell what it is looking at.
#[repr(C)]
pub(crate) struct Header {
    /// [`MAGIC`] once the header is complete; 0 before. Stored last by the
    /// creator with `Release`, loaded first by openers with `Acquire`.
    pub(crate) magic: AtomicU64,
    /// [`FORMAT_VERSION`] of the creator.
    pub(crate) version: AtomicU32,
    /// How many entries the directory has.
    pub(crate) capacity: AtomicU32,
    /// [`FINGERPRINT`] of the creator's build.
    pub(crate) fingerprint: AtomicU64,
    /// The size of the shared memory object, in bytes.
    pub(crate) size: AtomicU64,
    /// The first free byte of the object area; moves up, under `lock`.
    pub(crate) cursor: AtomicU64,
    /// Guards the directory and the cursor.
    pub(crate) lock: RawLock,
}

/// One directory slot.
#[repr(C)]
pub(crate) struct Entry {
    /// UTF-8, at most [`MAX_OBJECT_NAME`] bytes, NUL-padded.
    pub(crate) name: [AtomicU8; NAME_BYTES],
    /// [`EMPTY`], [`INITIALISING`] or [`READY`].
    pub(crate) state: AtomicU32,
    /// Zero; room for flags.
    pub(crate) reserved: AtomicU32,
    /// [`type_tag`] of the object's type.
    pub(crate) type_tag: AtomicU64,
    /// Where the object starts, from the start of the segment.
    pub(crate) offset: AtomicU64,
    /// The object's size in bytes.
    pub(crate) size: AtomicU64,
}

// The parts of the layout every build shares; the lock (and so the header's
// size) differs between the futex and posix-sem backends, which the
// fingerprint tells apart.
const_assert_eq!(offset_of!(Header, magic), 0);
const_assert_eq!(offset_of!(Header, version), 8);
const_assert_eq!(offset_of!(Header, capacity), 12);
const_assert_eq!(offset_of!(Header, fingerprint), 16);
const_assert_eq!(offset_of!(Header, size), 24);
const_assert_eq!(offset_of!(Header, cursor), 32);
const_assert_eq!(offset_of!(Header, lock), 40);
const_assert_eq!(align_of::<Header>(), 8);
const_assert_eq!(offset_of!(Entry, state), 48);
const_assert_eq!(offset_of!(Entry, type_tag), 56);
const_assert_eq!(offset_of!(Entry, offset), 64);
const_assert_eq!(offset_of!(Entry, size), 72);
const_assert_eq!(size_of::<Entry>(), 80);
const_assert_eq!(align_of::<Entry>(), 8);
#[cfg(all(target_os = "linux", not(feature = "posix-sem")))]
const_assert_eq!(size_of::<Header>(), 56);
#[cfg(all(target_os = "linux", not(feature = "posix-sem")))]
const_assert_eq!(DIRECTORY_OFFSET, 64);
static_assertions::assert_impl_all!(Header: Send, Sync);
static_assertions::assert_impl_all!(Entry: Send, Sync);

/// 64-bit FNV-1a over `bytes`, continuing from `hash`.
const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

const fn fnv1a_usize(hash: u64, value: usize) -> u64 {
    fnv1a(hash, &(value as u64).to_le_bytes())
}

/// Mixes a type's size and alignment into `hash`.
const fn layout_of<T>(hash: u64) -> u64 {
    fnv1a_usize(fnv1a_usize(hash, size_of::<T>()), align_of::<T>())
}

/// The layout fingerprint of this build: a hash of the wait backend, the
/// pointer width and byte order, and the size and alignment of every raw
/// primitive and of the header and entry. Two builds that agree on it place
/// the same objects at the same offsets with the same meaning.
///
/// When a primitive is added to `crate::raw`, add it here.
pub(crate) const FINGERPRINT: u64 = {
    let mut hash = fnv1a(FNV_OFFSET, crate::sys::BACKEND.as_bytes());
    hash = fnv1a_usize(hash, usize::BITS as usize);
    hash = fnv1a(
        hash,
        if cfg!(target_endian = "little") {
            b"le"
        } else {
            b"be"
        },
    );
    hash = layout_of::<RawLock>(hash);
    hash = layout_of::<RawRLock>(hash);
    hash = layout_of::<crate::raw::RawSemaphore>(hash);
    hash = layout_of::<crate::raw::RawEvent>(hash);
    hash = layout_of::<crate::raw::RawCondition>(hash);
    hash = layout_of::<crate::raw::RawBarrier>(hash);
    hash = layout_of::<crate::ring::RawRing>(hash);
    hash = layout_of::<Header>(hash);
    hash = layout_of::<Entry>(hash);
    hash
};

/// The tag a directory entry records for objects of type `T`: a hash of
/// `core::any::type_name::<T>()`, size and alignment. The type name is not
/// guaranteed stable across compiler versions, which the layout fingerprint
/// does not cover either: use one build of a program in every process.
pub(crate) fn type_tag<T>() -> u64 {
    layout_of::<T>(fnv1a(FNV_OFFSET, core::any::type_name::<T>().as_bytes()))
}

/// The tag of an object made of a header with tag `head` and a buffer of
/// `tail_len` bytes aligned to `tail_align`: the buffer's size is part of
/// the type.
pub(crate) fn tail_tag(head: u64, tail_len: usize, tail_align: usize) -> u64 {
    fnv1a_usize(fnv1a_usize(fnv1a(head, b"+tail"), tail_len), tail_align)
}

pub(crate) const fn align_up_const(value: usize, align: usize) -> usize {
    value.div_ceil(align) * align
}

/// `value` rounded up to a multiple of `align` (a power of two), or `None`
/// on overflow.
pub(crate) fn align_up(value: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    value.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// Where objects start after a directory of `capacity` entries, or `None`
/// if that overflows.
pub(crate) fn heap_offset(capacity: u32) -> Option<u64> {
    (capacity as u64)
        .checked_mul(ENTRY_SIZE as u64)
        .and_then(|dir| dir.checked_add(DIRECTORY_OFFSET as u64))
        .and_then(|end| align_up(end, 64))
}

/// The smallest segment this build creates: header and default directory.
pub(crate) const MIN_SIZE: usize = align_up_const(
    DIRECTORY_OFFSET + DEFAULT_CAPACITY as usize * ENTRY_SIZE,
    64,
);

/// The header fields, copied out of a segment or decoded from bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderFields {
    pub(crate) magic: u64,
    pub(crate) version: u32,
    pub(crate) capacity: u32,
    pub(crate) fingerprint: u64,
    pub(crate) size: u64,
    pub(crate) cursor: u64,
}

impl Header {
    /// Copies the fields out.
    ///
    /// `magic` is loaded first, with `Acquire`: it pairs with the creator's
    /// `Release` store of `magic` (in [`format`]), so once it reads
    /// non-zero every other field reads as the creator wrote it. The other
    /// loads are Relaxed: they only need to follow that one.
    pub(crate) fn fields(&self) -> HeaderFields {
        let magic = self.magic.load(Ordering::Acquire);
        HeaderFields {
            magic,
            version: self.version.load(Ordering::Relaxed),
            capacity: self.capacity.load(Ordering::Relaxed),
            fingerprint: self.fingerprint.load(Ordering::Relaxed),
            size: self.size.load(Ordering::Relaxed),
            cursor: self.cursor.load(Ordering::Relaxed),
        }
    }
}

/// What a valid header says, checked against the length of the bytes (or
/// the mapping) it came from.
///
/// Returned by [`Segment::parse_header`](crate::Segment::parse_header).
///
/// # Examples
///
/// ```
/// use shmsync::Segment;
/// use std::io::Read;
/// use std::os::fd::AsFd;
///
/// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
/// seg.get_or_init("answer", || 42u64)?;
/// let mut bytes = Vec::new();
/// std::fs::File::from(seg.as_fd().try_clone_to_owned()?).read_to_end(&mut bytes)?;
/// let info = Segment::parse_header(&bytes)?;
/// assert_eq!(info.size, seg.size());
/// assert_eq!(info.capacity, Segment::DIRECTORY_CAPACITY);
/// assert!(info.heap_offset <= Segment::MIN_SIZE);
/// assert!(info.cursor >= info.heap_offset + 8); // one u64 allocated
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderInfo {
    /// The format version (this build's).
    pub version: u32,
    /// The layout fingerprint (this build's).
    pub fingerprint: u64,
    /// The segment's size in bytes: equal to the length checked against.
    pub size: usize,
    /// How many entries the directory has.
    pub capacity: u32,
    /// Where the directory starts.
    pub directory_offset: usize,
    /// The size of one directory entry.
    pub entry_size: usize,
    /// Where the object area starts: the end of the directory, rounded up.
    pub heap_offset: usize,
    /// The first free byte of the object area when the header was read.
    pub cursor: usize,
}

/// The state of a used directory entry.
///
/// # Examples
///
/// ```
/// use shmsync::{EntryState, Segment};
/// use std::io::Read;
/// use std::os::fd::AsFd;
/// use std::panic::{catch_unwind, AssertUnwindSafe};
///
/// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
/// seg.get_or_init("done", || 1u64)?;
/// let failed = catch_unwind(AssertUnwindSafe(|| {
///     seg.get_or_init("half", || -> u64 { panic!("init failed") })
/// }));
/// assert!(failed.is_err());
/// let mut bytes = Vec::new();
/// std::fs::File::from(seg.as_fd().try_clone_to_owned()?).read_to_end(&mut bytes)?;
/// let info = Segment::parse_header(&bytes)?;
/// let state = |i| info.entry(&bytes, i).map(|entry| entry.map(|e| e.state));
/// assert_eq!(state(0)?, Some(EntryState::Ready));
/// assert_eq!(state(1)?, Some(EntryState::Initialising)); // the next get_or_init finishes it
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryState {
    /// Space is reserved; the object is being written, or its writer died
    /// or panicked before finishing.
    Initialising,
    /// The object is written.
    Ready,
}

/// A used directory entry, validated against the segment it came from.
///
/// Returned by [`HeaderInfo::entry`].
///
/// # Examples
///
/// ```
/// use shmsync::{EntryState, Segment};
/// use std::io::Read;
/// use std::os::fd::AsFd;
///
/// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
/// seg.get_or_init("answer", || 42u64)?;
/// let mut bytes = Vec::new();
/// std::fs::File::from(seg.as_fd().try_clone_to_owned()?).read_to_end(&mut bytes)?;
/// let info = Segment::parse_header(&bytes)?;
/// let entry = info.entry(&bytes, 0)?.expect("one object");
/// assert_eq!((entry.name(), entry.state, entry.size), ("answer", EntryState::Ready, 8));
/// assert_eq!(bytes[entry.offset..entry.offset + entry.size], 42u64.to_ne_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EntryInfo {
    /// Whether the object is written.
    pub state: EntryState,
    /// The type tag of the object's type.
    pub type_tag: u64,
    /// Where the object starts: `heap_offset <= offset` and
    /// `offset + size <= segment size`.
    pub offset: usize,
    /// The object's size in bytes.
    pub size: usize,
    name: [u8; NAME_BYTES],
}

impl EntryInfo {
    /// The object's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::io::Read;
    /// use std::os::fd::AsFd;
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// seg.get_or_init("jobs", || 0u64)?;
    /// seg.get_or_init("results", || 0u64)?;
    /// let mut bytes = Vec::new();
    /// std::fs::File::from(seg.as_fd().try_clone_to_owned()?).read_to_end(&mut bytes)?;
    /// let info = Segment::parse_header(&bytes)?;
    /// let mut names = Vec::new();
    /// for i in 0..info.capacity {
    ///     if let Some(entry) = info.entry(&bytes, i)? {
    ///         names.push(entry.name().to_owned());
    ///     }
    /// }
    /// assert_eq!(names, ["jobs", "results"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        let len = self.name.iter().position(|&b| b == 0).unwrap_or(NAME_BYTES);
        // check_entry verified that the name is UTF-8.
        core::str::from_utf8(&self.name[..len]).unwrap_or("")
    }

    /// The name field as stored: the name, NUL-padded.
    pub(crate) fn raw_name(&self) -> &[u8; NAME_BYTES] {
        &self.name
    }
}

/// One entry's fields, copied out of a segment or decoded from bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntryFields {
    pub(crate) name: [u8; NAME_BYTES],
    pub(crate) state: u32,
    pub(crate) type_tag: u64,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

impl Entry {
    /// Copies the fields out.
    ///
    /// `state` is loaded first, with `Acquire`: it pairs with the `Release`
    /// store of `READY` (in `Segment::get_or_init`), so a `READY` entry's
    /// fields and object read as written. The other loads are Relaxed.
    pub(crate) fn fields(&self) -> EntryFields {
        let state = self.state.load(Ordering::Acquire);
        EntryFields {
            name: core::array::from_fn(|i| self.name[i].load(Ordering::Relaxed)),
            state,
            type_tag: self.type_tag.load(Ordering::Relaxed),
            offset: self.offset.load(Ordering::Relaxed),
            size: self.size.load(Ordering::Relaxed),
        }
    }
}

/// The header at the start of a mapping; its bytes may say anything.
///
/// # Panics
///
/// If the mapping is shorter than a header (callers map at least that).
pub(crate) fn header_of(region: &Region) -> &Header {
    assert!(
        region.len() >= size_of::<Header>(),
        "mapping shorter than a header"
    );
    // SAFETY: the mapping is at least a Header long (checked above) and
    // page-aligned; a Header is atomics and a RawLock, valid for any bytes
    // (RawLock is ShmSafe), and meant to be shared with other processes.
    // The reference lives no longer than the borrow of the region.
    unsafe { &*region.base().as_ptr().cast::<Header>() }
}

/// Writes the header of a new segment into `region`, magic last, and
/// returns what it says: the writer of what [`Header::fields`] and
/// [`check_header`] read.
///
/// `region` maps the whole of a fresh, zero-filled object (so every
/// directory entry is already `EMPTY`) of at least [`MIN_SIZE`] bytes.
/// Openers may map it already, but touch nothing before they see the magic.
///
/// # Errors
///
/// [`SegmentError::BadSize`] if `region` is shorter than [`MIN_SIZE`].
pub(crate) fn format(region: &Region) -> Result<HeaderInfo, SegmentError> {
    let size = region.len();
    if size < MIN_SIZE {
        return Err(SegmentError::BadSize {
            size,
            minimum: MIN_SIZE,
        });
    }
    let heap = heap_offset(DEFAULT_CAPACITY).expect("the default directory fits");
    // SAFETY: the mapping is at least MIN_SIZE bytes (checked above), more
    // than a Header, and its page-aligned base is aligned for RawLock.
    // Nobody touches the lock before the magic is published below; the
    // pointer comes from the mapping's base, not from a reference.
    unsafe {
        region
            .base()
            .as_ptr()
            .add(offset_of!(Header, lock))
            .cast::<RawLock>()
            .write(RawLock::new())
    };
    let header = header_of(region);
    // All Relaxed: the Release store of the magic publishes them.
    header.version.store(FORMAT_VERSION, Ordering::Relaxed);
    header.capacity.store(DEFAULT_CAPACITY, Ordering::Relaxed);
    header.fingerprint.store(FINGERPRINT, Ordering::Relaxed);
    header.size.store(size as u64, Ordering::Relaxed);
    header.cursor.store(heap, Ordering::Relaxed);
    // Release: pairs with the Acquire load of `magic` in `Header::fields`,
    // by openers.
    header.magic.store(MAGIC, Ordering::Release);
    check_header(&header.fields(), size)
}

/// Validates copied header fields against the length `len` of the bytes or
/// mapping they came from.
///
/// # Errors
///
/// [`SegmentError::Truncated`] if `len` cannot hold the header,
/// [`SegmentError::NotInitialised`] for a zero magic,
/// [`SegmentError::BadMagic`], [`SegmentError::Version`],
/// [`SegmentError::Layout`], [`SegmentError::SizeMismatch`], or
/// [`SegmentError::Corrupted`] for a directory or cursor that does not fit.
pub(crate) fn check_header(fields: &HeaderFields, len: usize) -> Result<HeaderInfo, SegmentError> {
    if len < size_of::<Header>() {
        return Err(SegmentError::Truncated {
            size: len as u64,
            minimum: size_of::<Header>() as u64,
        });
    }
    if fields.magic == 0 {
        return Err(SegmentError::NotInitialised);
    }
    if fields.magic != MAGIC {
        return Err(SegmentError::BadMagic);
    }
    if fields.version != FORMAT_VERSION {
        return Err(SegmentError::Version {
            found: fields.version,
            expected: FORMAT_VERSION,
        });
    }
    if fields.fingerprint != FINGERPRINT {
        return Err(SegmentError::Layout {
            found: fields.fingerprint,
            expected: FINGERPRINT,
        });
    }
    if fields.size != len as u64 {
        return Err(SegmentError::SizeMismatch {
            header: fields.size,
            actual: len as u64,
        });
    }
    if fields.capacity == 0 || fields.capacity > MAX_CAPACITY {
        return Err(SegmentError::Corrupted("directory capacity out of range"));
    }
    // MAX_CAPACITY keeps this far from overflow; checked all the same.
    let heap = match heap_offset(fields.capacity) {
        Some(heap) if heap <= len as u64 => heap as usize,
        _ => return Err(SegmentError::Corrupted("directory larger than the segment")),
    };
    let cursor = check_cursor(fields.cursor, heap, len)?;
    Ok(HeaderInfo {
        version: fields.version,
        fingerprint: fields.fingerprint,
        size: len,
        capacity: fields.capacity,
        directory_offset: DIRECTORY_OFFSET,
        entry_size: ENTRY_SIZE,
        heap_offset: heap,
        cursor,
    })
}

/// Validates an allocation cursor: inside the object area.
pub(crate) fn check_cursor(cursor: u64, heap: usize, len: usize) -> Result<usize, SegmentError> {
    if cursor < heap as u64 || cursor > len as u64 {
        return Err(SegmentError::Corrupted(
            "allocation cursor outside the object area",
        ));
    }
    Ok(cursor as usize)
}

/// Validates a copied entry against a checked header: `Ok(None)` for an
/// empty slot; otherwise a known state, a NUL-padded UTF-8 name, and an
/// object that lies inside the object area.
///
/// # Errors
///
/// [`SegmentError::Corrupted`] naming what is wrong.
pub(crate) fn check_entry(
    fields: &EntryFields,
    info: &HeaderInfo,
) -> Result<Option<EntryInfo>, SegmentError> {
    let state = match fields.state {
        EMPTY => return Ok(None),
        INITIALISING => EntryState::Initialising,
        READY => EntryState::Ready,
        _ => {
            return Err(SegmentError::Corrupted(
                "directory entry in an unknown state",
            ))
        }
    };
    let len = fields.name.iter().position(|&b| b == 0);
    match len {
        Some(len) if len > 0 && fields.name[len..].iter().all(|&b| b == 0) => {
            if core::str::from_utf8(&fields.name[..len]).is_err() {
                return Err(SegmentError::Corrupted("directory entry name is not UTF-8"));
            }
        }
        _ => {
            return Err(SegmentError::Corrupted(
                "directory entry name is not NUL-padded",
            ))
        }
    }
    let end = fields.offset.checked_add(fields.size);
    match end {
        Some(end) if fields.offset >= info.heap_offset as u64 && end <= info.size as u64 => {}
        _ => {
            return Err(SegmentError::Corrupted(
                "directory entry outside the object area",
            ))
        }
    }
    Ok(Some(EntryInfo {
        state,
        type_tag: fields.type_tag,
        offset: fields.offset as usize,
        size: fields.size as usize,
        name: fields.name,
    }))
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_ne_bytes(b)
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(b)
}

/// Decodes and validates a header from plain bytes (the whole segment).
pub(crate) fn parse_header(bytes: &[u8]) -> Result<HeaderInfo, SegmentError> {
    if bytes.len() < size_of::<Header>() {
        return Err(SegmentError::Truncated {
            size: bytes.len() as u64,
            minimum: size_of::<Header>() as u64,
        });
    }
    let fields = HeaderFields {
        magic: read_u64(bytes, offset_of!(Header, magic)),
        version: read_u32(bytes, offset_of!(Header, version)),
        capacity: read_u32(bytes, offset_of!(Header, capacity)),
        fingerprint: read_u64(bytes, offset_of!(Header, fingerprint)),
        size: read_u64(bytes, offset_of!(Header, size)),
        cursor: read_u64(bytes, offset_of!(Header, cursor)),
    };
    check_header(&fields, bytes.len())
}

impl HeaderInfo {
    /// Decodes and validates directory entry `index` of the segment
    /// `bytes` that this header was parsed from: `Ok(None)` for an empty
    /// slot. An entry this accepts lies inside `bytes`, past the directory.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Corrupted`] if `index` is not below the capacity,
    /// `bytes` is not the length the header was checked against, or the
    /// entry is malformed (unknown state, bad name, object outside the
    /// object area).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// use std::io::Read;
    /// use std::os::fd::AsFd;
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// seg.get_or_init("answer", || 42u64)?;
    /// let mut bytes = Vec::new();
    /// std::fs::File::from(seg.as_fd().try_clone_to_owned()?).read_to_end(&mut bytes)?;
    /// let info = Segment::parse_header(&bytes)?;
    /// let entry = info.entry(&bytes, 0)?.expect("one object");
    /// assert_eq!(entry.name(), "answer");
    /// assert_eq!(entry.size, 8);
    /// assert!(info.entry(&bytes, 1)?.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn entry(&self, bytes: &[u8], index: u32) -> Result<Option<EntryInfo>, SegmentError> {
        if index >= self.capacity {
            return Err(SegmentError::Corrupted(
                "directory index beyond the capacity",
            ));
        }
        if bytes.len() != self.size {
            return Err(SegmentError::Corrupted(
                "bytes differ in length from the parsed header",
            ));
        }
        // check_header verified that the directory ends before heap_offset,
        // which is within bytes.
        let at = self.directory_offset + index as usize * self.entry_size;
        let mut name = [0; NAME_BYTES];
        name.copy_from_slice(&bytes[at..at + NAME_BYTES]);
        let fields = EntryFields {
            name,
            state: read_u32(bytes, at + offset_of!(Entry, state)),
            type_tag: read_u64(bytes, at + offset_of!(Entry, type_tag)),
            offset: read_u64(bytes, at + offset_of!(Entry, offset)),
            size: read_u64(bytes, at + offset_of!(Entry, size)),
        };
        check_entry(&fields, self)
    }
}

/// An object name as stored in an entry, or why it cannot be one.
pub(crate) fn object_key(name: &str) -> Result<[u8; NAME_BYTES], SegmentError> {
    if name.is_empty() {
        return Err(SegmentError::InvalidName {
            name: name.into(),
            reason: "object names must not be empty",
        });
    }
    if name.len() > MAX_OBJECT_NAME {
        return Err(SegmentError::NameTooLong {
            name: name.into(),
            max: MAX_OBJECT_NAME,
        });
    }
    if name.contains('\0') {
        return Err(SegmentError::InvalidName {
            name: name.into(),
            reason: "object names must not contain NUL",
        });
    }
    let mut key = [0; NAME_BYTES];
    key[..name.len()].copy_from_slice(name.as_bytes());
    Ok(key)
}

/// The fuzz hook behind `Segment::fuzz_header`: parses `bytes` as they are
/// and again with the identity fields (magic, version, fingerprint, size)
/// made valid, so the fuzzer reaches the directory checks; every entry
/// either parse accepts must lie inside the bytes, past the directory.
#[cfg(fuzzing)]
pub(crate) fn fuzz_header(bytes: &[u8]) {
    fn check(bytes: &[u8]) {
        let Ok(info) = parse_header(bytes) else {
            return;
        };
        assert!(info.heap_offset <= bytes.len());
        assert!(info.cursor >= info.heap_offset && info.cursor <= bytes.len());
        let directory_end = info.directory_offset + info.capacity as usize * info.entry_size;
        assert!(directory_end <= info.heap_offset);
        for index in 0..info.capacity {
            if let Ok(Some(entry)) = info.entry(bytes, index) {
                assert!(entry.offset >= info.heap_offset);
                assert!(entry
                    .offset
                    .checked_add(entry.size)
                    .is_some_and(|end| end <= bytes.len()));
                assert!(!entry.name().is_empty());
            }
        }
    }
    check(bytes);
    if bytes.len() >= size_of::<Header>() {
        let mut patched = bytes.to_vec();
        let len = patched.len() as u64;
        patched[0..8].copy_from_slice(&MAGIC.to_ne_bytes());
        patched[8..12].copy_from_slice(&FORMAT_VERSION.to_ne_bytes());
        patched[16..24].copy_from_slice(&FINGERPRINT.to_ne_bytes());
        patched[24..32].copy_from_slice(&len.to_ne_bytes());
        check(&patched);
    }
}
