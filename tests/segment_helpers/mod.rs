//! Helpers shared by the `segment_*` test files: unique segment names that
//! are unlinked when a test ends, raw access to a segment's bytes and
//! object (to corrupt, truncate or plant them as a hostile peer would), and
//! the byte offsets of the header and entry fields.
#![allow(dead_code)]

use shmsync::{Segment, SegmentError};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;

// Header and entry field offsets (pinned by static assertions in
// src/shm/header.rs).
pub const MAGIC_AT: u64 = 0;
pub const VERSION_AT: u64 = 8;
pub const CAPACITY_AT: u64 = 12;
pub const FINGERPRINT_AT: u64 = 16;
pub const SIZE_AT: u64 = 24;
pub const CURSOR_AT: u64 = 32;
/// The directory lock's word: the first field of the header's `RawLock`.
pub const LOCK_WORD_AT: u64 = 40;
pub const ENTRY_STATE_AT: u64 = 48;
pub const ENTRY_OFFSET_AT: u64 = 64;
pub const ENTRY_SIZE_AT: u64 = 72;

/// `Entry::state` of an entry being initialised.
pub const INITIALISING: u32 = 1;

/// A segment name unique to this test run; unlinked when dropped.
pub struct Name(pub String);

impl Name {
    pub fn new(test: &str) -> Name {
        let name = format!("/shmsync-test-{}-{test}", std::process::id());
        let _ = Segment::unlink(&name);
        Name(name)
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The error of a call that must fail.
#[track_caller]
pub fn segment_error(result: Result<impl std::fmt::Debug, SegmentError>) -> SegmentError {
    match result {
        Err(e) => e,
        other => panic!("expected a segment error, got {other:?}"),
    }
}

/// Writes `bytes` at `at` in the segment's object, through its descriptor.
pub fn poke(fd: BorrowedFd<'_>, at: u64, bytes: &[u8]) {
    File::from(fd.try_clone_to_owned().unwrap())
        .write_all_at(bytes, at)
        .unwrap();
}

/// The whole segment, read through its descriptor.
pub fn image(fd: BorrowedFd<'_>) -> Vec<u8> {
    // Positioned reads: duplicated descriptors share one file offset.
    let file = File::from(fd.try_clone_to_owned().unwrap());
    let mut bytes = vec![0; file.metadata().unwrap().len() as usize];
    file.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

/// A second view of the segment, as an exec'd child would attach.
pub fn reattach(seg: &Segment) -> Result<Segment, SegmentError> {
    Segment::from_fd(seg.as_fd().try_clone_to_owned().unwrap())
}

/// Where directory entry `index` starts.
pub fn entry_at(seg: &Segment, index: u64) -> u64 {
    let info = Segment::parse_header(&image(seg.fd())).unwrap();
    info.directory_offset as u64 + index * info.entry_size as u64
}

/// The raw shared memory object behind `name`, bypassing `Segment`.
pub fn raw_object(name: &str, create: bool) -> File {
    use rustix::shm::{Mode, OFlags};
    let flags = if create {
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR
    } else {
        OFlags::RDWR
    };
    File::from(rustix::shm::open(name, flags, Mode::RUSR | Mode::WUSR).unwrap())
}

/// The object's owner and permission bits, as `fstat` reports them.
pub fn owner_and_mode(fd: BorrowedFd<'_>) -> (u32, u32) {
    let stat = rustix::fs::fstat(fd).unwrap();
    (stat.st_uid, stat.st_mode & 0o7777)
}

/// Whether this process may give files away (root, here): the tests that
/// plant another user's object need it.
pub fn can_chown() -> bool {
    rustix::process::geteuid().is_root()
}
