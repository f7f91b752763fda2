//! A peer that writes garbage into a pipe's shared memory (here through the
//! segment's file, as another process with write access could): calls fail
//! with errors, never read or write out of bounds, never allocate by a
//! length that was not checked. Every wait is bounded.

use shmsync::{End, Pipe, PipeOptions, Process, RecvError, Segment, SendError, Shared};
use shmsync_testkit::{join_within, KillOnDrop, Watchdog, PATIENCE};
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Tests of this file run one at a time: a child forked by one test would
/// inherit the sockets of a pipe another test has just made (the harness
/// runs tests on parallel threads), keeping that pipe's end open, and its
/// end of file late, until the child exits.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const CAPACITY: usize = 256;

/// A segment holding the pipe `p` (both ends open here), and where its
/// object and its ring buffers lie in the segment's file.
struct Scene {
    seg: Segment,
    file: File,
    /// The object's first byte (the pipe's state).
    object: u64,
    /// Ring 1's buffer (B to A), the one `b` sends on.
    ring_b_to_a: u64,
}

fn options() -> PipeOptions {
    Pipe::options().capacity(CAPACITY)
}

fn scene() -> Scene {
    let seg = Segment::anonymous(1 << 20).unwrap();
    // Make the pipe, so that the directory has its entry.
    drop(options().open_in(&seg, "p", End::A).unwrap());
    let file = File::from(seg.as_fd().try_clone_to_owned().unwrap());
    let mut bytes = Vec::new();
    (&file).read_to_end(&mut bytes).unwrap();
    let info = Segment::parse_header(&bytes).unwrap();
    let entry = (0..)
        .map_while(|i| info.entry(&bytes, i).ok().flatten())
        .find(|e| e.name() == "p")
        .expect("the pipe's entry");
    // The object is the state, then two buffers of CAPACITY bytes.
    let buffers = (entry.offset + entry.size - 2 * CAPACITY) as u64;
    Scene {
        seg,
        file,
        object: entry.offset as u64,
        ring_b_to_a: buffers + CAPACITY as u64,
    }
}

impl Scene {
    fn scribble(&self, at: u64, bytes: &[u8]) {
        self.file.write_all_at(bytes, at).unwrap();
    }
}

#[test]
fn a_garbled_record_header_is_an_error_and_allocates_nothing() {
    let _serial = serial();
    let _w = Watchdog::new("header", PATIENCE);
    let s = scene();
    let a = options().open_in(&s.seg, "p", End::A).unwrap();
    let b = options().open_in(&s.seg, "p", End::B).unwrap();
    b.send_bytes(b"hello").unwrap();
    // The record's length becomes huge, its kind garbage.
    s.scribble(s.ring_b_to_a, &[0xff; 8]);
    assert!(matches!(
        a.recv_bytes(usize::MAX),
        Err(RecvError::Corrupted(_))
    ));
    // A plausible kind with a length past what was committed.
    let mut header = [0u8; 8];
    header[..4].copy_from_slice(&200u32.to_ne_bytes());
    header[4..].copy_from_slice(&shmsync::ring::WHOLE.to_ne_bytes());
    s.scribble(s.ring_b_to_a, &header);
    let mut buf = [0u8; 8];
    assert!(matches!(
        a.recv_bytes_into(&mut buf, 0),
        Err(RecvError::Corrupted(_))
    ));
}

#[test]
fn a_huge_stated_length_is_refused_by_max_and_never_allocated() {
    let _serial = serial();
    let _w = Watchdog::new("huge_length", PATIENCE);
    let s = scene();
    let a = options().open_in(&s.seg, "p", End::A).unwrap();
    // The child inherits a copy of A, so its send may wait for room for
    // ever once the parent stops reading: it is killed at the end.
    let child = KillOnDrop(
        Process::spawn(|| {
            let b = options().open_in(&s.seg, "p", End::B).unwrap();
            // Streamed: 1000 bytes through a 256-byte ring.
            let _ = b.send_bytes(&[3u8; 1000]);
        })
        .unwrap(),
    );
    assert!(a.poll(Some(PATIENCE)).unwrap());
    // The first record's length prefix (after its 8-byte header) now says
    // 2^40 bytes.
    s.scribble(s.ring_b_to_a + 8, &(1u64 << 40).to_ne_bytes());
    match a.recv_bytes(1 << 20) {
        Err(RecvError::TooLong { len, .. }) => assert_eq!(len, 1 << 40),
        other => panic!("{other:?}"),
    }
    // Without a limit, memory comes only with the pieces that arrive, and
    // they do not add up to 2^40.
    match a.recv_bytes(usize::MAX) {
        Err(RecvError::Corrupted(_) | RecvError::Truncated { .. }) => {}
        other => panic!("{other:?}"),
    }
    child.kill().unwrap();
    join_within(&child, PATIENCE);
}

#[test]
fn state_overwritten_with_ones_or_zeroes_gives_errors_not_hangs() {
    let _serial = serial();
    // The portable backend keeps a `sem_t` in each wait cell, which glibc
    // aborts on when it is overwritten (the README's known limits): only
    // the futex backend is valid for any bytes.
    if shmsync::BACKEND != "futex" {
        return;
    }
    let _w = Watchdog::new("state", PATIENCE);
    for fill in [0xffu8, 0x00, 0x5a] {
        let s = scene();
        let a = options().open_in(&s.seg, "p", End::A).unwrap();
        let b = options().open_in(&s.seg, "p", End::B).unwrap();
        b.send_bytes(b"before").unwrap();
        // Every word of both rings' state: counters, capacities, locks.
        let state_len = (s.ring_b_to_a - CAPACITY as u64 - s.object) as usize;
        s.scribble(s.object, &vec![fill; state_len]);
        let got = a.recv_bytes(64);
        let sent = b.send_bytes(b"after");
        // Zeroes make an empty ring of capacity 0 (impossible: an error);
        // ones and the pattern make impossible counters and capacities.
        assert!(
            matches!(got, Err(RecvError::Corrupted(_))),
            "fill {fill:#x}: {got:?}"
        );
        assert!(
            matches!(sent, Err(SendError::Corrupted(_))),
            "fill {fill:#x}: {sent:?}"
        );
    }
}

#[test]
fn a_counter_rewritten_out_of_range_makes_poll_ready_and_recv_an_error() {
    let _serial = serial();
    let _w = Watchdog::new("counter_out_of_range", PATIENCE);
    let s = scene();
    let a = options().open_in(&s.seg, "p", End::A).unwrap();
    let b = options().open_in(&s.seg, "p", End::B).unwrap();
    b.send_bytes(b"one").unwrap();
    assert_eq!(a.recv_bytes(64).unwrap(), b"one");
    // Ring 1 (B to A) follows ring 0; its producers' counter (`tail`) is
    // 256 bytes in, its consumers' (`head`) 512: both past one record now,
    // and equal. Checked before anything is written.
    let ring_1 = s.object + std::mem::size_of::<shmsync::ring::RawRing>() as u64;
    let word = |at: u64| {
        let mut bytes = [0u8; 4];
        s.file.read_exact_at(&mut bytes, at).unwrap();
        u32::from_ne_bytes(bytes)
    };
    let (tail, head) = (word(ring_1 + 256), word(ring_1 + 512));
    assert!(
        tail == head && tail != 0,
        "layout: tail {tail}, head {head}"
    );
    // More messages than the ring can hold: the counters are out of range.
    s.scribble(ring_1 + 256, &(head ^ 1 << 31).to_ne_bytes());
    // A receive would fail at once: nothing to wait for (a wait that
    // sleeps instead reaches its timeout and fails the test).
    let soon = Some(Duration::from_secs(2));
    assert!(a.poll(soon).unwrap(), "poll slept on a corrupted ring");
    assert!(!shmsync::wait(&[&a], soon).is_empty(), "so did wait");
    assert!(matches!(a.recv_bytes(64), Err(RecvError::Corrupted(_))));
}

#[test]
fn a_capacity_rewritten_below_the_smallest_ring_is_an_error_not_a_panic() {
    let _serial = serial();
    // Found by the `pipe_hostile` fuzz target: a capacity of 9 (still no
    // more than the buffer, so the geometry check let it through) made the
    // streaming writer's piece size underflow.
    let s = scene();
    let a = options().open_in(&s.seg, "p", End::A).unwrap();
    // Ring 0 (A to B) starts the object, its capacity first.
    s.scribble(s.object, &9u32.to_ne_bytes());
    assert!(matches!(
        a.send_bytes(&[1; 100]),
        Err(SendError::Corrupted(_))
    ));
    assert!(matches!(
        a.send_bytes(&[1; 4]),
        Err(SendError::Corrupted(_)) | Ok(())
    ));
}

#[test]
fn a_replayed_hold_naming_the_caller_is_corruption_not_a_time_out() {
    let _serial = serial();
    let _w = Watchdog::new("replayed_hold", PATIENCE);
    let s = scene();
    let a = options().open_in(&s.seg, "p", End::A).unwrap();
    let state_len = (s.ring_b_to_a - CAPACITY as u64 - s.object) as usize;
    let go = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let b = options().open_in(&s.seg, "p", End::B).unwrap();
            // Streamed: the sending side stays held from the first piece to
            // the last, while the parent takes its snapshot.
            b.send_bytes(&[5u8; 4 * CAPACITY]).unwrap();
            let start = Instant::now();
            while go.load(Ordering::Acquire) == 0 && start.elapsed() < PATIENCE {
                std::thread::yield_now();
            }
            // The sending side's lock now names this thread again, which
            // holds no side: an untimed send must not say "timed out".
            let code = match b.send_bytes(b"x") {
                Err(SendError::Corrupted(_)) => 0,
                Err(SendError::Timeout) => 2,
                Ok(()) => 3,
                Err(_) => 4,
            };
            // SAFETY: _exit is always sound.
            unsafe { libc::_exit(code) }
        })
        .unwrap(),
    );
    assert!(a.poll(Some(PATIENCE)).unwrap());
    std::thread::sleep(Duration::from_millis(20)); // the writer waits for room
    let mut held = vec![0u8; state_len];
    s.file.read_exact_at(&mut held, s.object).unwrap();
    assert_eq!(a.recv_bytes(usize::MAX).unwrap().len(), 4 * CAPACITY);
    // Replay the state as it was while the child held its side.
    s.scribble(s.object, &held);
    go.store(1, Ordering::Release);
    assert_eq!(join_within(&child, PATIENCE), 0);
}
