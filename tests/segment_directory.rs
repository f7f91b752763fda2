//! The object directory: `get_or_init` and `get` across handles, forked
//! children and unrelated (exec'd) processes; types, names, capacity and
//! space; re-entrance. Every wait is bounded.

mod segment_helpers;

use segment_helpers::{segment_error, Name};
use shmsync::raw::RawLock;
use shmsync::{Lock, Process, Segment, SegmentError, Shared, ShmSafe};
use shmsync_testkit::{join_ok, Watchdog, PATIENCE};
use std::cell::UnsafeCell;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The increments each process makes in the cross-process lock tests.
const INCREMENTS: u64 = 10_000;

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
