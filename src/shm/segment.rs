//! `Segment`: a shared memory object that unrelated processes open by name
//! (`shm_open`) or inherit as a file descriptor (`memfd_create`), holding a
//! directory of named objects: the role of Boost.Interprocess's managed
//! segments and of Python's `Manager`, for [`ShmSafe`](crate::ShmSafe) values.
//!
//! The bytes (see `header.rs`): a header (magic, format version, this
//! build's layout fingerprint, size, directory capacity, allocation cursor,
//! and a [`RawLock`](crate::raw::RawLock) guarding the directory), a
//! fixed-capacity directory of entries (name, state, type tag, offset,
//! size), then the objects, bump-allocated and never freed. Handles are
//! offsets into this process's mapping, never pointers.
//!
//! # Creation race
//!
//! The creator makes the object with `O_CREAT | O_EXCL`, sizes it, reserves
//! its pages, maps it, writes the header and stores the magic number last,
//! with `Release`. An opener that finds the object shorter than a header
//! polls for up to a second ([`INIT_WAIT`]); one that finds the magic still
//! zero polls until a second has passed without the object's reserved
//! pages growing (reserving a large segment takes a while). Then it gives
//! up with [`SegmentError::NotInitialised`]: nobody waits forever on a
//! creator that died.
//!
//! # Crashes and stops during `get_or_init`
//!
//! Looking up, reserving and initialising an object all happen under the
//! directory lock. An entry goes `EMPTY` → `INITIALISING` (name, type,
//! offset and size written, cursor moved past it) → `READY` (value written;
//! the entry never changes again). Every step is one atomic store, so the
//! directory is consistent at every instant; the only thing a dead (or
//! panicking) initialiser can leave behind is an `INITIALISING` entry. The
//! lock hands the next acquirer `OwnerDied` (or, after a panic, is simply
//! free), and since initialisation only ever runs under the lock, an
//! `INITIALISING` entry seen by a lock holder is abandoned: `get_or_init`
//! runs its own `init` into the reserved space and marks the entry ready.
//! A holder that is alive but does not let go (stopped, stuck in `init`, or
//! a thread id a peer wrote into the lock word) is waited for up to a bound
//! ([`SegmentOptions::directory_lock_timeout`]), then reported as
//! [`SegmentError::DirectoryBusy`].
//!
//! # Hostile peers and bytes
//!
//! Peers can change any byte at any time. Every header and entry field is
//! copied out before it is checked, every check is against this process's
//! mapping length (never a length the segment states), and it is re-done on
//! every lookup: a corrupted segment gives [`SegmentError`]s, never an
//! access outside the mapping.
//!
//! What no check can prevent: a named object truncated by a process with
//! write access to it, under live mappings, makes the kernel raise `SIGBUS`
//! in every process that then touches a page past the cut. Hence named
//! segments are made with mode `0600` and [`Segment::open`] refuses objects
//! of another owner or with a mode open to group or others unless told to
//! trust them ([`SegmentOptions`]); anonymous (memfd) segments are sealed
//! against shrinking and growing, so theirs cannot be truncated at all.
//! Objects cannot be freed; segments cannot grow.

mod directory;
mod name;
mod object;
mod options;

pub use options::SegmentOptions;

use super::error::SegmentError;
use super::header::{self, HeaderInfo};
use super::Region;
use core::mem::size_of;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an opener waits for a creator to finish the header.
pub(crate) const INIT_WAIT: Duration = Duration::from_secs(1);
/// The pause between two looks at an unfinished header.
const INIT_POLL: Duration = Duration::from_millis(1);

/// A shared memory segment with a directory of named objects.
///
/// Processes that open the same segment (by name, or through an inherited
/// file descriptor) find the same objects with
/// [`get_or_init`](Segment::get_or_init): the first caller for a name runs
/// its `init` closure, every other caller, in any process, gets a handle to
/// that value. Handles ([`Shared`](crate::Shared)) keep the mapping alive after the
/// `Segment` is dropped.
///
/// A named segment outlives every process that uses it until someone calls
/// [`Segment::unlink`] (or [`remove`](Segment::remove)), like a file. An
/// anonymous segment ([`Segment::anonymous`]) has no name and disappears
/// with its last file descriptor and mapping; pass its [`fd`](Segment::fd)
/// to a child process, which attaches with [`Segment::from_fd`].
///
/// [`Segment::create`], [`open`](Segment::open),
/// [`open_or_create`](Segment::open_or_create) and
/// [`anonymous`](Segment::anonymous) use the default
/// [`SegmentOptions`]: mode `0600`, only objects of this user with that
/// mode are trusted, and the directory lock is waited for at most
/// [`SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT`].
/// [`Segment::options`] chooses others.
///
/// # Examples
///
/// Two handles (standing for two processes) on one named segment:
///
/// ```
/// use shmsync::{Lock, Segment};
/// use shmsync::raw::RawLock;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let name = format!("/shmsync-doc-segment-{}", std::process::id());
/// let creator = Segment::create(&name, 64 * 1024)?;
/// let other = Segment::open(&name)?;
///
/// let lock = Lock::from_shared(creator.get_or_init("lock", RawLock::new)?);
/// let hits = creator.get_or_init("hits", || AtomicU64::new(0))?;
/// {
///     let _held = lock.lock()?;
///     hits.fetch_add(1, Ordering::Relaxed);
/// }
///
/// // The other handle finds the same objects; its `init` does not run.
/// let seen = other.get_or_init("hits", || AtomicU64::new(1000))?;
/// assert_eq!(seen.load(Ordering::Relaxed), 1);
///
/// Segment::unlink(&name)?;
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Segment {
    region: Arc<Region>,
    fd: OwnedFd,
    name: Option<String>,
    /// The header as validated when this handle was made: the capacity and
    /// object area used for every access, whatever the bytes say later.
    info: HeaderInfo,
    /// How long `get_or_init` and `get` wait for the directory lock.
    lock_timeout: Duration,
}

impl Segment {
    /// The smallest size [`create`](Segment::create) and
    /// [`anonymous`](Segment::anonymous) accept: header and directory, no
    /// room for objects yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE)?;
    /// assert!(matches!(seg.get_or_init("n", || 0u64), Err(SegmentError::OutOfSpace { .. })));
    /// let small = Segment::anonymous(Segment::MIN_SIZE - 1);
    /// assert!(matches!(small, Err(SegmentError::BadSize { .. })));
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub const MIN_SIZE: usize = header::MIN_SIZE;

    /// How many objects a segment made by this build can hold.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// for i in 0..Segment::DIRECTORY_CAPACITY {
    ///     seg.get_or_init(&format!("n{i}"), || 0u32)?;
    /// }
    /// let one_more = seg.get_or_init("one more", || 0u32);
    /// assert!(matches!(one_more, Err(SegmentError::DirectoryFull { .. })));
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub const DIRECTORY_CAPACITY: u32 = header::DEFAULT_CAPACITY;

    /// The longest object name, in bytes of UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// seg.get_or_init(&"x".repeat(Segment::MAX_OBJECT_NAME), || 0u64)?;
    /// // Bytes, not characters: each 'é' takes two.
    /// let too_long = "é".repeat(Segment::MAX_OBJECT_NAME / 2 + 1);
    /// let refused = seg.get_or_init(&too_long, || 0u64);
    /// assert!(matches!(refused, Err(SegmentError::NameTooLong { .. })));
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub const MAX_OBJECT_NAME: usize = header::MAX_OBJECT_NAME;

    /// The longest segment name, in bytes, counting the leading `/`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let prefix = format!("/shmsync-doc-max-{}-", std::process::id());
    /// let longest = format!("{prefix}{}", "x".repeat(Segment::MAX_NAME - prefix.len()));
    /// Segment::create(&longest, Segment::MIN_SIZE)?.remove()?;
    /// let too_long = format!("{longest}x");
    /// assert!(matches!(Segment::open(&too_long), Err(SegmentError::NameTooLong { .. })));
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub const MAX_NAME: usize = name::MAX_SEGMENT_NAME;

    /// Options for creating or opening a segment otherwise than by the
    /// defaults: the creation mode, sharing with other users, the bound on
    /// waits for the directory lock. The same as [`SegmentOptions::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::time::Duration;
    ///
    /// let seg = Segment::options()
    ///     .directory_lock_timeout(Duration::from_millis(500))
    ///     .anonymous(Segment::MIN_SIZE + 4096)?;
    /// assert_eq!(*seg.get_or_init("n", || 1u32)?, 1);
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn options() -> SegmentOptions {
        SegmentOptions::new()
    }

    /// Creates a named segment of `size` bytes (`shm_open` with
    /// `O_CREAT | O_EXCL`, mode `0600`), failing if the name is taken.
    ///
    /// `name` follows `shm_open`'s rules: a leading `/` (added if missing)
    /// and no other `/`, at most [`MAX_NAME`](Segment::MAX_NAME) bytes. The
    /// segment stays until [`Segment::unlink`]. Objects can use
    /// `size - MIN_SIZE` bytes, less alignment padding.
    ///
    /// On Linux all `size` bytes are reserved now (`fallocate`), so a full
    /// `/dev/shm` or a lack of memory is an error here, not a `SIGBUS` on a
    /// later write. Another mode: [`SegmentOptions::mode`].
    ///
    /// # Errors
    ///
    /// [`SegmentError::AlreadyExists`] if the name is taken;
    /// [`SegmentError::InvalidName`] / [`SegmentError::NameTooLong`];
    /// [`SegmentError::BadSize`] if `size < MIN_SIZE` or above
    /// `isize::MAX`;
    /// [`SegmentError::NoSpace`] if the pages cannot be reserved (`ENOSPC`
    /// in `/dev/shm`, or more than the machine's memory and swap);
    /// [`SegmentError::Os`] if `shm_open`, `fchmod`, `ftruncate` or `mmap`
    /// fails. After any failure past `shm_open` the name is unlinked again:
    /// nothing is left behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let name = format!("/shmsync-doc-create-{}", std::process::id());
    /// let seg = Segment::create(&name, Segment::MIN_SIZE + 4096)?;
    /// assert_eq!(seg.name(), Some(name.as_str()));
    /// assert!(matches!(
    ///     Segment::create(&name, 8192),
    ///     Err(SegmentError::AlreadyExists { .. })
    /// ));
    /// seg.remove()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn create(name: &str, size: usize) -> Result<Segment, SegmentError> {
        SegmentOptions::new().create(name, size)
    }

    /// Opens the named segment that another process created.
    ///
    /// If the segment is still being created, waits for its creator to
    /// finish: up to a second after the creator last made progress
    /// reserving its pages. Refuses an object that another user owns
    /// or whose mode lets group or others use it: such a peer could
    /// truncate it (every process touching the lost pages dies of
    /// `SIGBUS`) or rewrite it. To share with other users deliberately, see
    /// [`SegmentOptions::trust_other_owners`] and
    /// [`SegmentOptions::trust_shared_mode`].
    ///
    /// # Errors
    ///
    /// [`SegmentError::NotFound`] if no object has the name;
    /// [`SegmentError::Untrusted`] for another owner or a mode beyond
    /// `0600`; [`SegmentError::NotInitialised`] if its header stayed
    /// unfinished for a second without progress (its creator probably
    /// died: unlink it);
    /// [`SegmentError::BadMagic`], [`SegmentError::Version`],
    /// [`SegmentError::Layout`], [`SegmentError::Truncated`],
    /// [`SegmentError::SizeMismatch`], [`SegmentError::Corrupted`] if the
    /// object is not a segment this build can use; name errors as for
    /// [`create`](Segment::create); [`SegmentError::Os`] if `shm_open`,
    /// `fstat` or `mmap` fails (`EACCES`: another user's segment).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let name = format!("/shmsync-doc-open-{}", std::process::id());
    /// assert!(matches!(Segment::open(&name), Err(SegmentError::NotFound { .. })));
    /// let created = Segment::create(&name, 16 * 1024)?;
    /// let opened = Segment::open(&name)?;
    /// assert_eq!(opened.size(), created.size());
    /// Segment::unlink(&name)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<Segment, SegmentError> {
        SegmentOptions::new().open(name)
    }

    /// Opens the named segment, creating it with `size` bytes if it does
    /// not exist. An existing segment must be at least `size` bytes (see
    /// [`size`](Segment::size) for what was opened) and pass the checks of
    /// [`open`](Segment::open).
    ///
    /// # Errors
    ///
    /// As for [`create`](Segment::create) (except `AlreadyExists`) and
    /// [`open`](Segment::open); [`SegmentError::TooSmall`] if the existing
    /// segment is smaller than `size`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let name = format!("/shmsync-doc-ooc-{}", std::process::id());
    /// let first = Segment::open_or_create(&name, 1 << 20)?; // creates
    /// let second = Segment::open_or_create(&name, 32 * 1024)?; // opens
    /// assert_eq!(second.size(), 1 << 20);
    /// assert!(matches!(
    ///     Segment::open_or_create(&name, 2 << 20),
    ///     Err(SegmentError::TooSmall { .. })
    /// ));
    /// Segment::unlink(&name)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_or_create(name: &str, size: usize) -> Result<Segment, SegmentError> {
        SegmentOptions::new().open_or_create(name, size)
    }

    /// Creates an anonymous segment of `size` bytes in a memfd
    /// (`memfd_create`), its pages reserved (`fallocate`), sealed against
    /// shrinking and growing: nobody can truncate it under a mapping.
    ///
    /// Forked children share it; for a process started with `exec`, pass
    /// [`fd`](Segment::fd) down (the descriptor is close-on-exec: dup it,
    /// or clear `FD_CLOEXEC` in the child before `exec`) and call
    /// [`Segment::from_fd`] there.
    ///
    /// # Errors
    ///
    /// [`SegmentError::BadSize`] if `size < MIN_SIZE` or above
    /// `isize::MAX`;
    /// [`SegmentError::NoSpace`] if the pages cannot be reserved (more than
    /// the machine's memory and swap, or a memory limit);
    /// [`SegmentError::Os`] if `memfd_create`, `ftruncate`, sealing or
    /// `mmap` fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::os::fd::AsFd;
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let n = seg.get_or_init("n", || 7u32)?;
    /// // What an exec'd child would do with the inherited descriptor:
    /// let child_view = Segment::from_fd(seg.as_fd().try_clone_to_owned()?)?;
    /// assert_eq!(*child_view.get::<u32>("n")?, 7);
    /// assert_eq!(seg.name(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn anonymous(size: usize) -> Result<Segment, SegmentError> {
        SegmentOptions::new().anonymous(size)
    }

    /// Attaches to the segment behind a file descriptor: a memfd inherited
    /// from the process that made it with [`Segment::anonymous`], or any
    /// descriptor of a segment's shared memory object.
    ///
    /// The descriptor is trusted as it is (whoever handed it over chose
    /// to share): no owner or mode check.
    ///
    /// # Errors
    ///
    /// As for [`open`](Segment::open), less the name and trust errors.
    ///
    /// # Examples
    ///
    /// In a child started with the descriptor number in `SEGMENT_FD`:
    ///
    /// ```no_run
    /// use shmsync::Segment;
    /// use std::os::fd::{FromRawFd, OwnedFd};
    ///
    /// let raw: i32 = std::env::var("SEGMENT_FD").unwrap().parse().unwrap();
    /// // SAFETY: the parent passed this descriptor down for us alone.
    /// let seg = Segment::from_fd(unsafe { OwnedFd::from_raw_fd(raw) })?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<Segment, SegmentError> {
        SegmentOptions::new().from_fd(fd)
    }

    /// Removes the name `name` (`shm_unlink`). Processes that have the
    /// segment open keep using it; the memory is freed when the last one
    /// lets go. A later `create` of the name makes a new segment.
    ///
    /// # Errors
    ///
    /// [`SegmentError::NotFound`] if nothing has the name; name errors as
    /// for [`create`](Segment::create); [`SegmentError::Os`] otherwise
    /// (`EACCES`).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// let name = format!("/shmsync-doc-unlink-{}", std::process::id());
    /// let seg = Segment::create(&name, 8192)?;
    /// Segment::unlink(&name)?;
    /// assert!(Segment::open(&name).is_err());
    /// assert!(Segment::unlink(&name).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn unlink(name: &str) -> Result<(), SegmentError> {
        let name = name::segment_name(name)?;
        match rustix::shm::unlink(name.as_str()) {
            Ok(()) => Ok(()),
            Err(rustix::io::Errno::NOENT) => Err(SegmentError::NotFound { name }),
            Err(e) => Err(SegmentError::os("shm_unlink", e)),
        }
    }

    /// Unlinks this segment's name (see [`Segment::unlink`]); does nothing
    /// for an anonymous segment. It removes the name, whatever the name
    /// holds now: if this segment's name was unlinked and a new segment
    /// created under it since, that new segment's name goes.
    ///
    /// # Errors
    ///
    /// As for [`Segment::unlink`]: `NotFound` if the name was already
    /// unlinked (and not created again).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// let name = format!("/shmsync-doc-remove-{}", std::process::id());
    /// let seg = Segment::create(&name, 8192)?;
    /// seg.remove()?;
    /// assert!(Segment::open(&name).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn remove(&self) -> Result<(), SegmentError> {
        match &self.name {
            Some(name) => Segment::unlink(name),
            None => Ok(()),
        }
    }

    /// The segment's name, with its leading `/`; `None` for a segment made
    /// by [`anonymous`](Segment::anonymous) or attached by
    /// [`from_fd`](Segment::from_fd).
    ///
    /// # Examples
    ///
    /// ```
    /// # use shmsync::Segment;
    /// let name = format!("shmsync-doc-name-{}", std::process::id());
    /// let seg = Segment::create(&name, 8192)?;
    /// assert_eq!(seg.name(), Some(format!("/{name}").as_str()));
    /// # seg.remove()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The size of the segment (of this process's mapping), in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// # use shmsync::Segment;
    /// let seg = Segment::anonymous(10_000)?;
    /// assert_eq!(seg.size(), 10_000);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn size(&self) -> usize {
        self.info.size
    }

    /// The segment's file descriptor (close-on-exec), e.g. to pass a memfd
    /// segment to an exec'd child.
    ///
    /// # Examples
    ///
    /// ```
    /// # use shmsync::Segment;
    /// use std::os::fd::AsRawFd;
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE)?;
    /// assert!(seg.fd().as_raw_fd() >= 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Validates the header of a segment image: the checks
    /// [`open`](Segment::open) makes, on plain bytes (the whole segment,
    /// e.g. read from `/dev/shm`). [`HeaderInfo::entry`] then validates
    /// directory entries.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Truncated`], [`SegmentError::NotInitialised`] (zero
    /// magic), [`SegmentError::BadMagic`], [`SegmentError::Version`],
    /// [`SegmentError::Layout`], [`SegmentError::SizeMismatch`] (the header's
    /// size is not `bytes.len()`), [`SegmentError::Corrupted`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    /// use std::io::Read;
    /// use std::os::fd::AsFd;
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// seg.get_or_init("answer", || 42u64)?;
    /// let mut bytes = Vec::new();
    /// std::fs::File::from(seg.as_fd().try_clone_to_owned()?).read_to_end(&mut bytes)?;
    ///
    /// let info = Segment::parse_header(&bytes)?;
    /// assert_eq!(info.size, seg.size());
    /// assert_eq!(info.entry(&bytes, 0)?.unwrap().name(), "answer");
    ///
    /// bytes[0] ^= 0xff;
    /// assert_eq!(Segment::parse_header(&bytes), Err(SegmentError::BadMagic));
    /// assert!(Segment::parse_header(&bytes[..10]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_header(bytes: &[u8]) -> Result<HeaderInfo, SegmentError> {
        header::parse_header(bytes)
    }

    /// The fuzz hook: parses `bytes` as a segment and checks that every
    /// entry the parser accepts lies inside them.
    #[cfg(fuzzing)]
    #[doc(hidden)]
    pub fn fuzz_header(bytes: &[u8]) {
        header::fuzz_header(bytes)
    }

    /// Sizes a fresh, empty object and reserves its pages, maps it and
    /// writes the header.
    fn format(fd: &OwnedFd, size: usize) -> Result<(Arc<Region>, HeaderInfo), SegmentError> {
        object::size_and_reserve(fd.as_fd(), size)?;
        let region = Region::from_fd(fd, size)?;
        let info = header::format(&region)?;
        Ok((Arc::new(region), info))
    }

    /// Maps an existing object and validates its header, waiting (boundedly)
    /// for a creator that has not finished it: first for its size, up to
    /// [`INIT_WAIT`]; then for its magic number, up to `INIT_WAIT` after the
    /// object's reserved bytes last reached a new high (a live creator of a
    /// large segment spends a while reserving its pages; a dead one stops).
    /// The high-water mark is bounded by the filesystem's size, so no peer
    /// can stretch the wait for ever.
    fn attach(fd: &OwnedFd) -> Result<(Arc<Region>, HeaderInfo), SegmentError> {
        let deadline = Instant::now() + INIT_WAIT;
        let minimum = size_of::<header::Header>() as u64;
        let len = loop {
            let len = object::size_of_object(fd.as_fd())?;
            if len >= minimum {
                break len;
            }
            if Instant::now() >= deadline {
                return Err(if len == 0 {
                    SegmentError::NotInitialised
                } else {
                    SegmentError::Truncated { size: len, minimum }
                });
            }
            std::thread::sleep(INIT_POLL);
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= isize::MAX as usize)
            .ok_or(SegmentError::Corrupted(
                "object larger than the address space",
            ))?;
        let region = Region::from_fd(fd, len)?;
        let mut reserved = 0;
        let mut deadline = Instant::now() + INIT_WAIT;
        let fields = loop {
            let fields = header::header_of(&region).fields();
            if fields.magic != 0 {
                break fields;
            }
            let now_reserved = object::reserved_bytes(fd.as_fd())?;
            if now_reserved > reserved {
                reserved = now_reserved;
                deadline = Instant::now() + INIT_WAIT;
            } else if Instant::now() >= deadline {
                break fields;
            }
            std::thread::sleep(INIT_POLL);
        };
        let info = header::check_header(&fields, region.len())?;
        Ok((Arc::new(region), info))
    }
}

fn check_size(size: usize) -> Result<(), SegmentError> {
    if size < Segment::MIN_SIZE || size > isize::MAX as usize {
        return Err(SegmentError::BadSize {
            size,
            minimum: Segment::MIN_SIZE,
        });
    }
    Ok(())
}

impl AsFd for Segment {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("size", &self.info.size)
            .field("capacity", &self.info.capacity)
            .field("directory_lock_timeout", &self.lock_timeout)
            .finish_non_exhaustive()
    }
}
