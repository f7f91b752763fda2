//! `Segment` across real processes: named and memfd segments, the object
//! directory, crashes of creators and initialisers, and corrupted, truncated
//! or foreign bytes (which must give errors, never crashes). Every wait is
//! bounded; every named segment is unlinked when its test ends.

mod common;

use common::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use shmsync::raw::RawLock;
use shmsync::{Error, Lock, Process, Segment, SegmentError, Shared, ShmSafe};
use std::cell::UnsafeCell;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

// Header and entry field offsets (pinned by static assertions in
// src/shm/header.rs).
const MAGIC_AT: u64 = 0;
const VERSION_AT: u64 = 8;
const CAPACITY_AT: u64 = 12;
const FINGERPRINT_AT: u64 = 16;
const SIZE_AT: u64 = 24;
const CURSOR_AT: u64 = 32;
const ENTRY_STATE_AT: u64 = 48;
const ENTRY_OFFSET_AT: u64 = 64;
const ENTRY_SIZE_AT: u64 = 72;

/// The increments each process makes in the cross-process lock tests.
const INCREMENTS: u64 = 10_000;

/// A segment name unique to this test run; unlinked when dropped.
struct Name(String);

impl Name {
    fn new(test: &str) -> Name {
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

/// A counter that is deliberately not atomic: only the lock keeps the
/// increments from being lost.
#[repr(C)]
struct Racy(UnsafeCell<u64>);
// SAFETY: every access in these tests happens under a lock.
unsafe impl Sync for Racy {}
// SAFETY: a plain u64: any bytes valid, no pointers, no Drop.
unsafe impl ShmSafe for Racy {}

impl Racy {
    fn bump(&self) {
        let p = self.0.get();
        // SAFETY: the caller holds the lock that guards this counter.
        unsafe { std::ptr::write_volatile(p, std::ptr::read_volatile(p) + 1) };
    }
    fn get(&self) -> u64 {
        // SAFETY: read after every writer has finished.
        unsafe { std::ptr::read_volatile(self.0.get()) }
    }
}

/// What both sides of the cross-process tests do: find the lock and the
/// counter by name, and bump the counter `n` times under the lock.
fn bump_under_lock(seg: &Segment, n: u64) -> Shared<Racy> {
    let lock = Lock::from_shared(seg.get_or_init("lock", RawLock::new).unwrap());
    let counter = seg
        .get_or_init("counter", || Racy(UnsafeCell::new(0)))
        .unwrap();
    for _ in 0..n {
        let _held = lock.lock().unwrap_or_else(|_| panic!("a lock holder died"));
        counter.bump();
    }
    counter
}

fn segment_error(result: Result<impl std::fmt::Debug, SegmentError>) -> SegmentError {
    match result {
        Err(e) => e,
        other => panic!("expected a segment error, got {other:?}"),
    }
}

/// Writes `bytes` at `at` in the segment's object, through its descriptor.
fn poke(fd: BorrowedFd<'_>, at: u64, bytes: &[u8]) {
    File::from(fd.try_clone_to_owned().unwrap())
        .write_all_at(bytes, at)
        .unwrap();
}

/// The whole segment, read through its descriptor.
fn image(fd: BorrowedFd<'_>) -> Vec<u8> {
    // Positioned reads: duplicated descriptors share one file offset.
    let file = File::from(fd.try_clone_to_owned().unwrap());
    let mut bytes = vec![0; file.metadata().unwrap().len() as usize];
    file.read_exact_at(&mut bytes, 0).unwrap();
    bytes
}

/// A second view of the segment, as an exec'd child would attach.
fn reattach(seg: &Segment) -> Result<Segment, SegmentError> {
    Segment::from_fd(seg.as_fd().try_clone_to_owned().unwrap())
}

/// Where directory entry `index` starts.
fn entry_at(seg: &Segment, index: u64) -> u64 {
    let info = Segment::parse_header(&image(seg.fd())).unwrap();
    info.directory_offset as u64 + index * info.entry_size as u64
}

/// The raw shared memory object behind `name`, bypassing `Segment`.
fn raw_object(name: &str, create: bool) -> File {
    use rustix::shm::{Mode, OFlags};
    let flags = if create {
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR
    } else {
        OFlags::RDWR
    };
    File::from(rustix::shm::open(name, flags, Mode::RUSR | Mode::WUSR).unwrap())
}

/// Re-runs this test binary as an unrelated process, in `peer_mode`.
fn spawn_peer(spec: &str, inherit: Option<RawFd>) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "peer_mode", "--nocapture", "--test-threads=1"])
        .env("SHMSYNC_PEER", spec)
        .stdout(Stdio::null());
    if let Some(fd) = inherit {
        // SAFETY: runs in the forked child before exec, and only calls
        // fcntl, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                // Let the descriptor survive exec.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
    }
    cmd.spawn().unwrap()
}

/// Waits for a peer, killing it and failing the test after `limit`.
fn wait_peer(mut child: Child, limit: Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "peer failed: {status}");
            return;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("peer still running after {limit:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Not a test of its own: the body of the peer processes that the
/// cross-process tests start from this binary (`SHMSYNC_PEER` says what to
/// do: `named:<increments>:<name>` or `fd:<increments>:<fd>`).
#[test]
fn peer_mode() {
    let Ok(spec) = std::env::var("SHMSYNC_PEER") else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let (kind, n, arg) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let n: u64 = n.parse().unwrap();
    let seg = match kind {
        "named" => Segment::open(arg).unwrap(),
        "fd" => {
            let raw: RawFd = arg.parse().unwrap();
            // SAFETY: the parent passed this descriptor down to us alone.
            Segment::from_fd(unsafe { OwnedFd::from_raw_fd(raw) }).unwrap()
        }
        other => panic!("unknown peer kind {other}"),
    };
    bump_under_lock(&seg, n);
}

#[test]
fn create_then_open_round_trips() {
    let name = Name::new("roundtrip");
    let created = Segment::create(&name, 64 * 1024).unwrap();
    assert_eq!(created.name(), Some(&*name));
    assert_eq!(created.size(), 64 * 1024);
    let opened = Segment::open(&name).unwrap();
    assert_eq!(opened.size(), 64 * 1024);
    assert_eq!(opened.name(), Some(&*name));
    // Without the leading slash, the same segment.
    let bare = Segment::open(name.trim_start_matches('/')).unwrap();
    assert_eq!(bare.name(), Some(&*name));

    let info = Segment::parse_header(&image(opened.fd())).unwrap();
    assert_eq!(info.capacity, Segment::DIRECTORY_CAPACITY);
    assert_eq!(info.size, 64 * 1024);
    assert_eq!(info.cursor, info.heap_offset);
    assert!(info.heap_offset <= Segment::MIN_SIZE);
}

#[test]
fn get_or_init_gives_every_handle_the_same_object() {
    let name = Name::new("same-object");
    let a = Segment::create(&name, 64 * 1024).unwrap();
    let b = Segment::open(&name).unwrap();
    let runs = AtomicU32::new(0);
    let x = a
        .get_or_init("x", || {
            runs.fetch_add(1, Ordering::Relaxed);
            AtomicU64::new(1)
        })
        .unwrap();
    let y = b
        .get_or_init("x", || {
            runs.fetch_add(1, Ordering::Relaxed);
            AtomicU64::new(2)
        })
        .unwrap();
    assert_eq!(runs.load(Ordering::Relaxed), 1, "init ran twice");
    assert_eq!(y.load(Ordering::Relaxed), 1);
    x.store(99, Ordering::Relaxed);
    assert_eq!(y.load(Ordering::Relaxed), 99);
    assert_eq!(b.get::<AtomicU64>("x").unwrap().load(Ordering::Relaxed), 99);

    // Objects do not overlap, whatever their alignment.
    let small = a.get_or_init("small", || 7u8).unwrap();
    let wide = b
        .get_or_init("wide", || 0x0102_0304_0506_0708_u128)
        .unwrap();
    let after = a.get_or_init("after", || [3u16; 5]).unwrap();
    assert_eq!((*small, *wide, *after), (7, 0x0102_0304_0506_0708, [3; 5]));
    assert_eq!(
        &*wide as *const u128 as usize % std::mem::align_of::<u128>(),
        0
    );
    assert_eq!(x.load(Ordering::Relaxed), 99);
}

#[test]
fn handles_outlive_their_segment() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 64).unwrap();
    let v = seg.get_or_init("v", || AtomicU64::new(5)).unwrap();
    drop(seg);
    v.fetch_add(1, Ordering::Relaxed);
    assert_eq!(v.load(Ordering::Relaxed), 6);
}

#[test]
fn get_of_a_missing_object_errors() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 64).unwrap();
    assert_eq!(
        segment_error(seg.get::<u64>("nothing")),
        SegmentError::NoSuchObject {
            name: "nothing".into()
        }
    );
}

#[test]
fn another_type_under_the_same_name_errors() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 64).unwrap();
    seg.get_or_init("n", || 1u64).unwrap();
    // Same size, different type.
    assert!(matches!(
        segment_error(seg.get::<i64>("n")),
        SegmentError::TypeMismatch { .. }
    ));
    assert!(matches!(
        segment_error(seg.get_or_init("n", || 1u32)),
        SegmentError::TypeMismatch { .. }
    ));
    assert_eq!(*seg.get::<u64>("n").unwrap(), 1);
}

#[test]
fn create_of_an_existing_name_errors() {
    let name = Name::new("exists");
    let _seg = Segment::create(&name, 8192).unwrap();
    assert_eq!(
        segment_error(Segment::create(&name, 8192)),
        SegmentError::AlreadyExists {
            name: name.0.clone()
        }
    );
}

#[test]
fn open_and_unlink_of_a_missing_segment_error() {
    let name = Name::new("missing");
    assert_eq!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound {
            name: name.0.clone()
        }
    );
    assert_eq!(
        segment_error(Segment::unlink(&name)),
        SegmentError::NotFound {
            name: name.0.clone()
        }
    );
}

#[test]
fn open_or_create_creates_once_then_opens() {
    let name = Name::new("ooc");
    let first = Segment::open_or_create(&name, 16 * 1024).unwrap();
    first.get_or_init("v", || 11u32).unwrap();
    // A smaller size is enough for an opener: it gets the whole segment.
    let second = Segment::open_or_create(&name, 8 * 1024).unwrap();
    assert_eq!(second.size(), 16 * 1024);
    assert_eq!(*second.get::<u32>("v").unwrap(), 11);
}

#[test]
fn remove_unlinks_the_name_but_keeps_the_memory() {
    let name = Name::new("remove");
    let seg = Segment::create(&name, 8192).unwrap();
    let v = seg.get_or_init("v", || AtomicU64::new(1)).unwrap();
    seg.remove().unwrap();
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound { .. }
    ));
    assert!(matches!(
        segment_error(seg.remove()),
        SegmentError::NotFound { .. }
    ));
    v.fetch_add(1, Ordering::Relaxed);
    assert_eq!(
        seg.get::<AtomicU64>("v").unwrap().load(Ordering::Relaxed),
        2
    );
    // The name is free for a new segment.
    let fresh = Segment::create(&name, 8192).unwrap();
    assert!(fresh.get::<AtomicU64>("v").is_err());
    // Removing an anonymous segment does nothing.
    Segment::anonymous(8192).unwrap().remove().unwrap();
}

#[test]
fn invalid_or_too_long_names_error() {
    let long = format!("/{}", "x".repeat(Segment::MAX_NAME));
    for bad in ["", "/", "a/b", "/a/b", "//a", ".", "/..", "a\0b"] {
        assert!(
            matches!(
                segment_error(Segment::create(bad, 8192)),
                SegmentError::InvalidName { .. }
            ),
            "create {bad:?}"
        );
        assert!(
            matches!(
                segment_error(Segment::open(bad)),
                SegmentError::InvalidName { .. }
            ),
            "open {bad:?}"
        );
        assert!(
            matches!(
                segment_error(Segment::unlink(bad)),
                SegmentError::InvalidName { .. }
            ),
            "unlink {bad:?}"
        );
    }
    assert!(matches!(
        segment_error(Segment::create(&long, 8192)),
        SegmentError::NameTooLong { max: 255, .. }
    ));
    assert!(matches!(
        segment_error(Segment::open(&long)),
        SegmentError::NameTooLong { .. }
    ));

    let seg = Segment::anonymous(Segment::MIN_SIZE + 1024).unwrap();
    let max = "o".repeat(Segment::MAX_OBJECT_NAME);
    let over = "o".repeat(Segment::MAX_OBJECT_NAME + 1);
    assert_eq!(*seg.get_or_init(&max, || 1u8).unwrap(), 1);
    assert_eq!(*seg.get_or_init(&"é".repeat(23), || 2u8).unwrap(), 2);
    assert!(matches!(
        segment_error(seg.get_or_init(&over, || 1u8)),
        SegmentError::NameTooLong { max: 47, .. }
    ));
    assert!(matches!(
        segment_error(seg.get_or_init(&"é".repeat(24), || 1u8)),
        SegmentError::NameTooLong { .. }
    ));
    assert!(matches!(
        segment_error(seg.get_or_init("", || 1u8)),
        SegmentError::InvalidName { .. }
    ));
    assert!(matches!(
        segment_error(seg.get::<u8>("a\0")),
        SegmentError::InvalidName { .. }
    ));
}

#[test]
fn sizes_below_the_minimum_error() {
    let name = Name::new("small");
    assert!(matches!(
        segment_error(Segment::create(&name, Segment::MIN_SIZE - 1)),
        SegmentError::BadSize { .. }
    ));
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::NotFound { .. }
    ));
    assert!(matches!(
        segment_error(Segment::anonymous(0)),
        SegmentError::BadSize { .. }
    ));
    // Exactly the minimum: a directory, no room for objects.
    let seg = Segment::anonymous(Segment::MIN_SIZE).unwrap();
    assert!(matches!(
        segment_error(seg.get_or_init("x", || 1u8)),
        SegmentError::OutOfSpace { .. }
    ));
}

#[test]
fn a_full_directory_or_segment_errors() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    for i in 0..Segment::DIRECTORY_CAPACITY {
        seg.get_or_init(&format!("o{i}"), || i).unwrap();
    }
    assert_eq!(
        segment_error(seg.get_or_init("one-more", || 0u32)),
        SegmentError::DirectoryFull {
            capacity: Segment::DIRECTORY_CAPACITY
        }
    );
    assert_eq!(*seg.get::<u32>("o63").unwrap(), 63);

    let seg = Segment::anonymous(Segment::MIN_SIZE + 16).unwrap();
    assert_eq!(
        segment_error(seg.get_or_init("big", || [0u8; 32])),
        SegmentError::OutOfSpace {
            needed: 32,
            available: 16
        }
    );
    seg.get_or_init("fits", || [1u8; 16]).unwrap();
    assert!(matches!(
        segment_error(seg.get_or_init("more", || 1u8)),
        SegmentError::OutOfSpace { .. }
    ));
}

#[test]
fn a_write_in_a_forked_child_is_seen_by_the_parent() {
    let _w = Watchdog::new("forked_child", PATIENCE);
    let name = Name::new("fork");
    let seg = Segment::create(&name, 64 * 1024).unwrap();
    let v = seg.get_or_init("v", || AtomicU64::new(0)).unwrap();
    let child = Process::spawn(|| {
        // Release: pairs with the parent's Acquire load after the join.
        v.store(42, Ordering::Release);
        seg.get_or_init("from-child", || 7u64).unwrap();
    })
    .unwrap();
    join_ok(&child);
    // Acquire: pairs with the child's Release store.
    assert_eq!(v.load(Ordering::Acquire), 42);
    assert_eq!(*seg.get::<u64>("from-child").unwrap(), 7);
    assert_eq!(
        *Segment::open(&name)
            .unwrap()
            .get::<u64>("from-child")
            .unwrap(),
        7
    );
}

#[test]
fn an_unrelated_process_shares_a_lock_in_a_named_segment() {
    let _w = Watchdog::new("unrelated_named", PATIENCE * 2);
    let name = Name::new("peer");
    let seg = Segment::create(&name, 64 * 1024).unwrap();
    let peer = spawn_peer(&format!("named:{INCREMENTS}:{}", &*name), None);
    let counter = bump_under_lock(&seg, INCREMENTS);
    wait_peer(peer, PATIENCE);
    assert_eq!(counter.get(), 2 * INCREMENTS);
}

#[test]
fn an_exec_child_shares_a_memfd_segment_through_its_descriptor() {
    let _w = Watchdog::new("unrelated_memfd", PATIENCE * 2);
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    let fd = seg.fd().as_raw_fd();
    let peer = spawn_peer(&format!("fd:{INCREMENTS}:{fd}"), Some(fd));
    let counter = bump_under_lock(&seg, INCREMENTS);
    wait_peer(peer, PATIENCE);
    assert_eq!(counter.get(), 2 * INCREMENTS);
}

#[test]
fn a_killed_initialiser_does_not_hang_get_or_init() {
    let _w = Watchdog::new("killed_initialiser", PATIENCE);
    let name = Name::new("killed-init");
    let seg = Segment::create(&name, 64 * 1024).unwrap();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            // Dies inside init, holding the directory lock.
            let _ = seg.get_or_init("slow", || -> u64 {
                // Release: pairs with the parent's Acquire in wait_until.
                started.store(1, Ordering::Release);
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to start initialising", || {
        started.load(Ordering::Acquire) == 1
    });
    child.kill().unwrap();
    assert_eq!(join_within(&child, PATIENCE), -9);

    let other = Segment::open(&name).unwrap();
    let start = Instant::now();
    assert_eq!(
        segment_error(other.get::<u64>("slow")),
        SegmentError::Abandoned {
            name: "slow".into()
        }
    );
    let value = other.get_or_init("slow", || 7u64).unwrap();
    assert_eq!(*value, 7);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    // Finished now, for everyone; the directory works as before.
    assert_eq!(*seg.get::<u64>("slow").unwrap(), 7);
    assert_eq!(*seg.get_or_init("next", || 8u64).unwrap(), 8);
}

#[test]
fn a_panicking_initialiser_leaves_the_object_to_the_next_caller() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 256).unwrap();
    let panicked =
        std::panic::catch_unwind(|| seg.get_or_init("p", || -> u64 { panic!("init fails") }));
    assert!(panicked.is_err());
    assert_eq!(
        segment_error(seg.get::<u64>("p")),
        SegmentError::Abandoned { name: "p".into() }
    );
    assert_eq!(*seg.get_or_init("p", || 5u64).unwrap(), 5);
    assert_eq!(*seg.get::<u64>("p").unwrap(), 5);
}

#[test]
fn get_or_init_inside_init_errors_instead_of_deadlocking() {
    let _w = Watchdog::new("reentrant", PATIENCE);
    let seg = Segment::anonymous(Segment::MIN_SIZE + 256).unwrap();
    let outer = seg
        .get_or_init("outer", || {
            assert_eq!(
                segment_error(seg.get_or_init("inner", || 1u8)),
                SegmentError::Reentrant
            );
            2u8
        })
        .unwrap();
    assert_eq!(*outer, 2);
}

#[test]
fn corrupted_header_fields_give_errors() {
    type Case = (&'static str, u64, Vec<u8>, fn(&SegmentError) -> bool);
    let cases: Vec<Case> = vec![
        ("magic", MAGIC_AT, b"NOTSHMSY".to_vec(), |e| {
            *e == SegmentError::BadMagic
        }),
        ("version", VERSION_AT, 2u32.to_ne_bytes().to_vec(), |e| {
            matches!(
                e,
                SegmentError::Version {
                    found: 2,
                    expected: 1
                }
            )
        }),
        (
            "fingerprint",
            FINGERPRINT_AT,
            0xdead_beefu64.to_ne_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    SegmentError::Layout {
                        found: 0xdead_beef,
                        ..
                    }
                )
            },
        ),
        ("size", SIZE_AT, 1u64.to_ne_bytes().to_vec(), |e| {
            matches!(e, SegmentError::SizeMismatch { header: 1, .. })
        }),
        (
            "capacity huge",
            CAPACITY_AT,
            u32::MAX.to_ne_bytes().to_vec(),
            |e| matches!(e, SegmentError::Corrupted(_)),
        ),
        (
            "capacity past the end",
            CAPACITY_AT,
            60_000u32.to_ne_bytes().to_vec(),
            |e| matches!(e, SegmentError::Corrupted(_)),
        ),
        (
            "capacity zero",
            CAPACITY_AT,
            0u32.to_ne_bytes().to_vec(),
            |e| matches!(e, SegmentError::Corrupted(_)),
        ),
        (
            "cursor past the end",
            CURSOR_AT,
            u64::MAX.to_ne_bytes().to_vec(),
            |e| matches!(e, SegmentError::Corrupted(_)),
        ),
        (
            "cursor in the directory",
            CURSOR_AT,
            8u64.to_ne_bytes().to_vec(),
            |e| matches!(e, SegmentError::Corrupted(_)),
        ),
    ];
    for (what, at, bytes, expected) in cases {
        let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
        let v = seg.get_or_init("v", || AtomicU64::new(3)).unwrap();
        poke(seg.fd(), at, &bytes);
        // A new opener refuses the segment...
        let e = segment_error(reattach(&seg));
        assert!(expected(&e), "{what}: opening gave {e:?}");
        assert!(!e.to_string().is_empty());
        // ... and a handle opened before refuses to use it ...
        let e = segment_error(seg.get::<AtomicU64>("v"));
        assert!(expected(&e), "{what}: get gave {e:?}");
        let e = segment_error(seg.get_or_init("w", || 1u8));
        assert!(expected(&e), "{what}: get_or_init gave {e:?}");
        // ... while handles made before keep working.
        assert_eq!(v.load(Ordering::Relaxed), 3);
    }
    let seg = Segment::anonymous(Segment::MIN_SIZE).unwrap();
    poke(seg.fd(), MAGIC_AT, &[0; 8]);
    let start = Instant::now();
    assert_eq!(segment_error(reattach(&seg)), SegmentError::NotInitialised);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn corrupted_directory_entries_give_errors() {
    type Case = (&'static str, u64, Vec<u8>);
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    let len = seg.size() as u64;
    let cases: Vec<Case> = vec![
        (
            "offset past the end",
            ENTRY_OFFSET_AT,
            len.to_ne_bytes().to_vec(),
        ),
        (
            "offset huge",
            ENTRY_OFFSET_AT,
            (u64::MAX - 3).to_ne_bytes().to_vec(),
        ),
        (
            "offset in the header",
            ENTRY_OFFSET_AT,
            0u64.to_ne_bytes().to_vec(),
        ),
        ("size huge", ENTRY_SIZE_AT, u64::MAX.to_ne_bytes().to_vec()),
        (
            "size past the end",
            ENTRY_SIZE_AT,
            len.to_ne_bytes().to_vec(),
        ),
        ("unknown state", ENTRY_STATE_AT, 7u32.to_ne_bytes().to_vec()),
        ("name not NUL-padded", 10, b"x".to_vec()),
        ("name not UTF-8", 0, b"\xff".to_vec()),
    ];
    for (what, at, bytes) in cases {
        let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
        let v = seg.get_or_init("v", || AtomicU64::new(3)).unwrap();
        let entry = entry_at(&seg, 0);
        let before = image(seg.fd());
        let info = Segment::parse_header(&before).unwrap();
        assert_eq!(info.entry(&before, 0).unwrap().unwrap().offset as u64, {
            let mut b = [0; 8];
            b.copy_from_slice(&before[(entry + ENTRY_OFFSET_AT) as usize..][..8]);
            u64::from_ne_bytes(b)
        });
        poke(seg.fd(), entry + at, &bytes);

        let e = segment_error(seg.get::<AtomicU64>("v"));
        assert!(
            matches!(e, SegmentError::Corrupted(_)),
            "{what}: get gave {e:?}"
        );
        let e = segment_error(seg.get_or_init("w", || 1u8));
        assert!(
            matches!(e, SegmentError::Corrupted(_)),
            "{what}: get_or_init gave {e:?}"
        );
        let after = image(seg.fd());
        assert!(
            Segment::parse_header(&after)
                .unwrap()
                .entry(&after, 0)
                .is_err(),
            "{what}"
        );
        // A fresh opener checks the header only; its lookups fail the same.
        let other = reattach(&seg).unwrap();
        assert!(other.get::<AtomicU64>("v").is_err(), "{what}");
        assert_eq!(v.load(Ordering::Relaxed), 3);
    }
}

#[test]
fn a_misaligned_entry_gives_an_error() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    seg.get_or_init("v", || AtomicU64::new(3)).unwrap();
    let heap = Segment::parse_header(&image(seg.fd())).unwrap().heap_offset as u64;
    poke(
        seg.fd(),
        entry_at(&seg, 0) + ENTRY_OFFSET_AT,
        &(heap + 1).to_ne_bytes(),
    );
    // Inside the object area, so the entry itself parses, but no u64 can
    // live there.
    let e = segment_error(seg.get::<AtomicU64>("v"));
    assert!(matches!(e, SegmentError::Corrupted(_)), "get gave {e:?}");
    let e = segment_error(seg.get_or_init("v", || AtomicU64::new(0)));
    assert!(
        matches!(e, SegmentError::Corrupted(_)),
        "get_or_init gave {e:?}"
    );
}

#[test]
fn a_truncated_segment_errors() {
    let name = Name::new("truncated");
    drop(Segment::create(&name, 16 * 1024).unwrap());
    let object = raw_object(&name, false);

    object.set_len(8 * 1024).unwrap();
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::SizeMismatch {
            header: 16384,
            actual: 8192
        }
    ));

    object.set_len(10).unwrap();
    let start = Instant::now();
    assert!(matches!(
        segment_error(Segment::open(&name)),
        SegmentError::Truncated { size: 10, .. }
    ));
    assert!(start.elapsed() < Duration::from_secs(5));

    object.set_len(0).unwrap();
    assert_eq!(
        segment_error(Segment::open(&name)),
        SegmentError::NotInitialised
    );
}

#[test]
fn memfd_segments_cannot_be_truncated() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    let file = File::from(seg.fd().try_clone_to_owned().unwrap());
    assert!(file.set_len(100).is_err());
    assert!(file.set_len(1 << 20).is_err());
    assert_eq!(reattach(&seg).unwrap().size(), seg.size());
}

#[test]
fn a_foreign_object_is_not_a_segment() {
    let name = Name::new("foreign");
    let object = raw_object(&name, true);
    object
        .write_all_at(&b"hello, world\n".repeat(1000), 0)
        .unwrap();
    assert_eq!(segment_error(Segment::open(&name)), SegmentError::BadMagic);
}

#[test]
fn open_gives_up_on_a_creator_that_died_before_finishing() {
    let name = Name::new("dead-creator");
    let object = raw_object(&name, true);
    object.set_len(Segment::MIN_SIZE as u64).unwrap();
    let start = Instant::now();
    assert_eq!(
        segment_error(Segment::open(&name)),
        SegmentError::NotInitialised
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(segment_error(Segment::open(&name))
        .to_string()
        .contains("unlink"));
}

#[test]
fn open_waits_for_a_creator_that_is_still_writing() {
    let _w = Watchdog::new("slow_creator", PATIENCE);
    let name = Name::new("slow-creator");
    // A finished segment's bytes, to write out slowly by hand.
    let template = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    template.get_or_init("v", || 77u64).unwrap();
    let bytes = image(template.fd());

    let object = raw_object(&name, true);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        object.set_len(bytes.len() as u64).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        object.write_all_at(&bytes[8..], 8).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        object.write_all_at(&bytes[..8], 0).unwrap(); // the magic, last
    });
    let seg = Segment::open(&name).unwrap();
    writer.join().unwrap();
    assert_eq!(*seg.get::<u64>("v").unwrap(), 77);
}

#[test]
fn random_corruptions_never_yield_entries_outside_the_segment() {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 512).unwrap();
    for i in 0..8u64 {
        seg.get_or_init(&format!("o{i}"), || i).unwrap();
    }
    let pristine = image(seg.fd());
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut bytes = pristine.clone();
        // Flip a few bytes, mostly in the header and directory.
        for _ in 0..(next() % 4 + 1) {
            let span = if next() % 4 == 0 {
                bytes.len()
            } else {
                64 + 10 * 80
            };
            let at = (next() as usize) % span;
            bytes[at] = next() as u8;
        }
        if next() % 8 == 0 {
            let cut = (next() as usize) % bytes.len();
            bytes.truncate(cut);
        }
        let Ok(info) = Segment::parse_header(&bytes) else {
            continue;
        };
        assert!(info.heap_offset <= bytes.len() && info.cursor <= bytes.len());
        for index in 0..info.capacity {
            if let Ok(Some(entry)) = info.entry(&bytes, index) {
                accepted += 1;
                assert!(entry.offset >= info.heap_offset);
                assert!(entry.offset + entry.size <= bytes.len());
            }
        }
    }
    assert!(accepted > 0);
}

#[test]
fn error_messages_are_lowercase_and_say_what_to_do() {
    let errors = [
        SegmentError::NotFound { name: "/x".into() },
        SegmentError::AlreadyExists { name: "/x".into() },
        SegmentError::NotInitialised,
        SegmentError::BadMagic,
        SegmentError::Version {
            found: 2,
            expected: 1,
        },
        SegmentError::Layout {
            found: 1,
            expected: 2,
        },
        SegmentError::Truncated {
            size: 1,
            minimum: 48,
        },
        SegmentError::SizeMismatch {
            header: 2,
            actual: 1,
        },
        SegmentError::Corrupted("what"),
        SegmentError::DirectoryFull { capacity: 64 },
        SegmentError::OutOfSpace {
            needed: 2,
            available: 1,
        },
        SegmentError::TypeMismatch {
            name: "x".into(),
            requested: "u8",
        },
        SegmentError::NoSuchObject { name: "x".into() },
        SegmentError::Abandoned { name: "x".into() },
        SegmentError::Reentrant,
    ];
    for e in errors {
        let text = e.to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(
            text.contains(':') || text.contains(';'),
            "no advice in {text}"
        );
        let e: Error = e.into();
        assert_eq!(e.to_string(), text);
    }
}
