//! `SegmentOptions`: creating or opening a [`Segment`] otherwise than by the
//! defaults: the mode a new object gets, whether to trust objects of other
//! users or with a mode open to them, and how long to wait for the directory
//! lock.

use super::{check_size, name, object, Segment, SegmentError};
use crate::shm::header::HeaderInfo;
use crate::shm::Region;
use rustix::shm::{Mode, OFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// How to create or open a [`Segment`]: the mode of a new named segment,
/// which existing ones to trust, and how long to wait for a segment's
/// directory lock.
///
/// Set what differs from the defaults, then finish with
/// [`create`](SegmentOptions::create), [`open`](SegmentOptions::open),
/// [`open_or_create`](SegmentOptions::open_or_create),
/// [`anonymous`](SegmentOptions::anonymous) or
/// [`from_fd`](SegmentOptions::from_fd); the options can be reused. The
/// defaults are what [`Segment::create`] and its siblings use: mode `0600`,
/// only this user's objects with no access for group or others are opened,
/// and the directory lock is waited for at most
/// [`DEFAULT_DIRECTORY_LOCK_TIMEOUT`](SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT).
///
/// # Sharing between users
///
/// Whoever can write a named segment's object can truncate it, and every
/// process that then touches a lost page dies of `SIGBUS`; they can also
/// rewrite the directory lock or any object. So by default a segment is
/// shared only between processes of one user. To share with a group, the
/// creator gives the object a mode that lets the group in, and every other
/// user opens it trusting its owner and its mode, deliberately:
///
/// ```
/// use shmsync::{Segment, SegmentError};
///
/// let name = format!("/shmsync-doc-shared-mode-{}", std::process::id());
/// // The creator lets its group read and write the segment (the mode is
/// // set exactly, whatever the umask).
/// let created = Segment::options().mode(0o660).create(&name, 64 * 1024)?;
///
/// // By default, opening refuses an object the group can write ...
/// assert!(matches!(Segment::open(&name), Err(SegmentError::Untrusted { .. })));
/// // ... and a member of the group opts in (this doctest runs as the
/// // creator, so trusting the owner changes nothing here).
/// let opened = Segment::options()
///     .trust_other_owners(true)
///     .trust_shared_mode(true)
///     .open(&name)?;
/// assert_eq!(opened.size(), created.size());
/// Segment::unlink(&name)?;
/// # Ok::<(), SegmentError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use = "options do nothing until create, open, open_or_create, anonymous or from_fd uses them"]
pub struct SegmentOptions {
    mode: u32,
    trust_other_owners: bool,
    trust_shared_mode: bool,
    directory_lock_timeout: Duration,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        SegmentOptions::new()
    }
}

impl SegmentOptions {
    /// The mode of a new named segment unless [`mode`](SegmentOptions::mode)
    /// says otherwise: read and write for its owner only.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentOptions};
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let name = format!("/shmsync-doc-default-mode-{}", std::process::id());
    /// let seg = Segment::create(&name, Segment::MIN_SIZE)?;
    /// let file = std::fs::File::from(seg.fd().try_clone_to_owned()?);
    /// assert_eq!(file.metadata()?.permissions().mode() & 0o777, SegmentOptions::DEFAULT_MODE);
    /// seg.remove()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const DEFAULT_MODE: u32 = 0o600;

    /// How long [`Segment::get_or_init`] and [`Segment::get`] wait for the
    /// directory lock unless
    /// [`directory_lock_timeout`](SegmentOptions::directory_lock_timeout)
    /// says otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentOptions};
    /// use std::time::Duration;
    ///
    /// assert_eq!(SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT, Duration::from_secs(5));
    /// let spelled_out = SegmentOptions::new()
    ///     .directory_lock_timeout(SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT);
    /// assert_eq!(Segment::options(), spelled_out);
    /// ```
    pub const DEFAULT_DIRECTORY_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

    /// The defaults: mode `0600`, trust only this user's objects with no
    /// access for group or others, wait for the directory lock at most
    /// [`DEFAULT_DIRECTORY_LOCK_TIMEOUT`](SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentOptions};
    ///
    /// assert_eq!(SegmentOptions::new(), Segment::options());
    /// ```
    pub const fn new() -> SegmentOptions {
        SegmentOptions {
            mode: SegmentOptions::DEFAULT_MODE,
            trust_other_owners: false,
            trust_shared_mode: false,
            directory_lock_timeout: SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT,
        }
    }

    /// The permission bits a new named segment gets, exactly (not reduced
    /// by the umask): e.g. `0o660` to let the owner's group in. Must give
    /// the owner read and write (`0o600`) and hold nothing beyond `0o777`.
    /// Only [`create`](SegmentOptions::create) and
    /// [`open_or_create`](SegmentOptions::open_or_create) use it.
    ///
    /// Openers other than the owner, or of a mode beyond `0o600`, must opt
    /// in: see [`trust_other_owners`](SegmentOptions::trust_other_owners)
    /// and [`trust_shared_mode`](SegmentOptions::trust_shared_mode).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Segment, SegmentError};
    ///
    /// let name = format!("/shmsync-doc-mode-{}", std::process::id());
    /// let seg = Segment::options().mode(0o640).create(&name, 8192)?;
    /// # use std::os::unix::fs::PermissionsExt;
    /// let file = std::fs::File::from(seg.fd().try_clone_to_owned().unwrap());
    /// assert_eq!(file.metadata().unwrap().permissions().mode() & 0o777, 0o640);
    /// assert!(matches!(
    ///     Segment::options().mode(0o444).create("/shmsync-doc-mode-bad", 8192),
    ///     Err(SegmentError::BadMode { mode: 0o444 })
    /// ));
    /// seg.remove()?;
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub const fn mode(mut self, mode: u32) -> SegmentOptions {
        self.mode = mode;
        self
    }

    /// Whether [`open`](SegmentOptions::open) and
    /// [`open_or_create`](SegmentOptions::open_or_create) accept a segment
    /// owned by another user than this process's effective uid (by default
    /// they refuse with [`SegmentError::Untrusted`]). That user can
    /// truncate the object, making every process that touches the lost
    /// pages die of `SIGBUS`, hold its directory lock, or rewrite any of
    /// its objects: opt in only for a user you trust.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// // A service that opens a segment made by another (trusted) account;
    /// // that account created it with a mode that lets this one in.
    /// let options = Segment::options().trust_other_owners(true).trust_shared_mode(true);
    /// # let _ = options;
    /// ```
    pub const fn trust_other_owners(mut self, trust: bool) -> SegmentOptions {
        self.trust_other_owners = trust;
        self
    }

    /// Whether [`open`](SegmentOptions::open) and
    /// [`open_or_create`](SegmentOptions::open_or_create) accept a segment
    /// whose mode gives group or others any access (by default they refuse
    /// with [`SegmentError::Untrusted`]): every user it lets write can
    /// truncate or rewrite it, and every user it lets read can read it.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// let name = format!("/shmsync-doc-trust-mode-{}", std::process::id());
    /// let _created = Segment::options().mode(0o660).create(&name, 8192)?;
    /// assert!(Segment::open(&name).is_err());
    /// assert!(Segment::options().trust_shared_mode(true).open(&name).is_ok());
    /// Segment::unlink(&name)?;
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub const fn trust_shared_mode(mut self, trust: bool) -> SegmentOptions {
        self.trust_shared_mode = trust;
        self
    }

    /// How long [`Segment::get_or_init`] and [`Segment::get`] on the
    /// segment wait for its directory lock before failing with
    /// [`SegmentError::DirectoryBusy`].
    ///
    /// The lock is held while some process runs an `init` closure of
    /// `get_or_init`; a holder that dies is noticed within about 100 ms
    /// whatever the bound, so the bound only matters for a holder that is
    /// alive but does not let go (stopped, stuck in `init`, or a thread id
    /// that a peer wrote into the lock). `Duration::MAX` waits without
    /// bound.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::time::Duration;
    ///
    /// let seg = Segment::options()
    ///     .directory_lock_timeout(Duration::from_secs(30))
    ///     .anonymous(Segment::MIN_SIZE + 4096)?;
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub const fn directory_lock_timeout(mut self, timeout: Duration) -> SegmentOptions {
        self.directory_lock_timeout = timeout;
        self
    }

    /// Creates a named segment of `size` bytes with these options: as
    /// [`Segment::create`], with [`mode`](SegmentOptions::mode).
    ///
    /// # Errors
    ///
    /// As for [`Segment::create`]; [`SegmentError::BadMode`] if the mode
    /// lacks `0o600` or has bits beyond `0o777`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// let name = format!("/shmsync-doc-options-create-{}", std::process::id());
    /// let seg = Segment::options().mode(0o600).create(&name, 8192)?;
    /// assert_eq!(seg.size(), 8192);
    /// seg.remove()?;
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn create(&self, name: &str, size: usize) -> Result<Segment, SegmentError> {
        let name = name::segment_name(name)?;
        check_size(size)?;
        let mode = self.checked_mode()?;
        // Made for the owner alone; `fchmod` then sets the chosen mode
        // exactly, so the object is never more open than asked.
        let fd = match rustix::shm::open(
            name.as_str(),
            OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
            Mode::RUSR | Mode::WUSR,
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::EXIST) => return Err(SegmentError::AlreadyExists { name }),
            Err(e) => return Err(SegmentError::os("shm_open", e)),
        };
        let made = rustix::fs::fchmod(&fd, mode)
            .map_err(|e| SegmentError::os("fchmod", e))
            .and_then(|()| Segment::format(&fd, size));
        match made {
            Ok((region, info)) => Ok(self.segment(region, fd, Some(name), info)),
            Err(e) => {
                // Ours since O_EXCL succeeded: leave no half-made segment
                // behind.
                let _ = rustix::shm::unlink(name.as_str());
                Err(e)
            }
        }
    }

    /// Opens a named segment with these options: as [`Segment::open`],
    /// trusting what [`trust_other_owners`](SegmentOptions::trust_other_owners)
    /// and [`trust_shared_mode`](SegmentOptions::trust_shared_mode) allow.
    ///
    /// # Errors
    ///
    /// As for [`Segment::open`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::time::Duration;
    ///
    /// let name = format!("/shmsync-doc-options-open-{}", std::process::id());
    /// let _created = Segment::create(&name, 8192)?;
    /// let seg = Segment::options()
    ///     .directory_lock_timeout(Duration::from_millis(100))
    ///     .open(&name)?;
    /// assert_eq!(seg.size(), 8192);
    /// Segment::unlink(&name)?;
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn open(&self, name: &str) -> Result<Segment, SegmentError> {
        let name = name::segment_name(name)?;
        let fd = match rustix::shm::open(name.as_str(), OFlags::RDWR, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Err(SegmentError::NotFound { name }),
            Err(e) => return Err(SegmentError::os("shm_open", e)),
        };
        object::check_trust(
            fd.as_fd(),
            &name,
            self.trust_other_owners,
            self.trust_shared_mode,
        )?;
        let (region, info) = Segment::attach(&fd)?;
        Ok(self.segment(region, fd, Some(name), info))
    }

    /// Opens the named segment, or creates it with `size` bytes, with these
    /// options: as [`Segment::open_or_create`].
    ///
    /// # Errors
    ///
    /// As for [`create`](SegmentOptions::create) (except `AlreadyExists`)
    /// and [`open`](SegmentOptions::open); [`SegmentError::TooSmall`] if
    /// the existing segment is smaller than `size`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    ///
    /// let name = format!("/shmsync-doc-options-ooc-{}", std::process::id());
    /// let options = Segment::options().mode(0o660).trust_shared_mode(true);
    /// let first = options.open_or_create(&name, 16 * 1024)?; // creates
    /// let second = options.open_or_create(&name, 16 * 1024)?; // opens
    /// assert_eq!(second.size(), first.size());
    /// Segment::unlink(&name)?;
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn open_or_create(&self, name: &str, size: usize) -> Result<Segment, SegmentError> {
        // Between a create that finds the name taken and an open that finds
        // it gone, someone unlinked it: start over, a few times at most.
        let mut tries = 0;
        let opened = loop {
            tries += 1;
            match self.create(name, size) {
                Err(SegmentError::AlreadyExists { .. }) => {}
                created => return created,
            }
            match self.open(name) {
                Err(SegmentError::NotFound { .. }) if tries < 4 => {}
                opened => break opened?,
            }
        };
        if opened.size() < size {
            return Err(SegmentError::TooSmall {
                name: opened.name.clone().unwrap_or_default(),
                size: opened.size(),
                requested: size,
            });
        }
        Ok(opened)
    }

    /// Creates an anonymous (memfd) segment of `size` bytes with these
    /// options: as [`Segment::anonymous`]. The mode and trust settings do
    /// not apply (nobody opens a memfd by name).
    ///
    /// # Errors
    ///
    /// As for [`Segment::anonymous`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::time::Duration;
    ///
    /// let seg = Segment::options()
    ///     .directory_lock_timeout(Duration::from_millis(250))
    ///     .anonymous(Segment::MIN_SIZE + 4096)?;
    /// assert_eq!(*seg.get_or_init("n", || 3u8)?, 3);
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn anonymous(&self, size: usize) -> Result<Segment, SegmentError> {
        use rustix::fs::{MemfdFlags, SealFlags};

        check_size(size)?;
        let fd = rustix::fs::memfd_create(
            "shmsync-segment",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )
        .map_err(|e| SegmentError::os("memfd_create", e))?;
        let (region, info) = Segment::format(&fd, size)?;
        rustix::fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)
            .map_err(|e| SegmentError::os("fcntl(F_ADD_SEALS)", e))?;
        Ok(self.segment(region, fd, None, info))
    }

    /// Attaches to the segment behind a file descriptor with these options:
    /// as [`Segment::from_fd`]. The mode and trust settings do not apply.
    ///
    /// # Errors
    ///
    /// As for [`Segment::from_fd`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Segment;
    /// use std::os::fd::AsFd;
    /// use std::time::Duration;
    ///
    /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let view = Segment::options()
    ///     .directory_lock_timeout(Duration::from_secs(1))
    ///     .from_fd(seg.as_fd().try_clone_to_owned()?)?;
    /// assert_eq!(view.size(), seg.size());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(&self, fd: OwnedFd) -> Result<Segment, SegmentError> {
        let (region, info) = Segment::attach(&fd)?;
        Ok(self.segment(region, fd, None, info))
    }

    /// The mode to create with, if it is one a segment can have.
    fn checked_mode(&self) -> Result<Mode, SegmentError> {
        let owner_rw = SegmentOptions::DEFAULT_MODE;
        if self.mode & !0o777 != 0 || self.mode & owner_rw != owner_rw {
            return Err(SegmentError::BadMode { mode: self.mode });
        }
        Ok(Mode::from_raw_mode(self.mode as _))
    }

    fn segment(
        &self,
        region: Arc<Region>,
        fd: OwnedFd,
        name: Option<String>,
        info: HeaderInfo,
    ) -> Segment {
        Segment {
            region,
            fd,
            name,
            info,
            lock_timeout: self.directory_lock_timeout,
        }
    }
}
