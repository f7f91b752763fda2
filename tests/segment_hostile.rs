//! Segments that peers tampered with: corrupted, truncated or foreign
//! bytes, which must give errors, never crashes or out-of-bounds accesses
//! (except the `SIGBUS` of a truncation under a mapping, pinned down here
//! too); memfd seals; a directory lock word naming a live thread. (Objects
//! planted by other users: `segment_trust.rs`.) Every named segment is
//! unlinked when its test ends; every wait is bounded.

mod segment_helpers;

use segment_helpers::*;
use shmsync::{Process, Segment, SegmentError, Shared};
use shmsync_testkit::{join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EPERM: i32 = 1;

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
    // Sealed (F_SEAL_SHRINK, F_SEAL_GROW): ftruncate fails with EPERM, and
    // the seals themselves are sealed (F_SEAL_SEAL).
    assert_eq!(
        rustix::fs::ftruncate(seg.fd(), 100)
            .unwrap_err()
            .raw_os_error(),
        EPERM
    );
    assert_eq!(
        rustix::fs::ftruncate(seg.fd(), 0)
            .unwrap_err()
            .raw_os_error(),
        EPERM
    );
    assert_eq!(file.set_len(0).unwrap_err().raw_os_error(), Some(EPERM));
    assert_eq!(
        rustix::fs::fcntl_add_seals(seg.fd(), rustix::fs::SealFlags::WRITE)
            .unwrap_err()
            .raw_os_error(),
        EPERM
    );
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
fn a_named_segment_truncated_under_a_mapping_kills_whoever_touches_the_lost_pages() {
    let _w = Watchdog::new("truncated_sigbus", PATIENCE);
    const CUT: u64 = 8192;
    let name = Name::new("sigbus");
    let seg = Segment::create(&name, 64 * 1024).unwrap();
    // A filler pushes "far" beyond the cut.
    seg.get_or_init("filler", || [0u8; 16 * 1024]).unwrap();
    drop(seg.get_or_init("far", || AtomicU64::new(1)).unwrap());
    let bytes = image(seg.fd());
    let far = Segment::parse_header(&bytes)
        .unwrap()
        .entry(&bytes, 1)
        .unwrap()
        .unwrap();
    assert_eq!(far.name(), "far");
    assert!(far.offset as u64 >= CUT);

    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let cut = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            // The child maps the segment itself, by name.
            let seg = Segment::open(&name).unwrap();
            let far = seg.get::<AtomicU64>("far").unwrap();
            // Release/Acquire: pair with the parent's wait_until and store.
            ready.store(1, Ordering::Release);
            let start = Instant::now();
            while cut.load(Ordering::Acquire) == 0 {
                assert!(start.elapsed() < PATIENCE, "the cut never came");
                std::thread::sleep(Duration::from_millis(1));
            }
            // Past the cut: the kernel has no page to give.
            far.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to map the segment", || {
        ready.load(Ordering::Acquire) == 1
    });
    // Another party with write access truncates the object.
    raw_object(&name, false).set_len(CUT).unwrap();
    cut.store(1, Ordering::Release);
    assert_eq!(join_within(&child, PATIENCE), -7, "not killed by SIGBUS");

    // Nobody can open what is left; the parent touches nothing past the cut.
    assert_eq!(
        segment_error(Segment::open(&name)),
        SegmentError::SizeMismatch {
            header: 64 * 1024,
            actual: CUT
        }
    );
}

#[test]
fn a_lock_word_naming_a_live_thread_gives_busy_not_a_hang() {
    let _w = Watchdog::new("scribbled_lock_word", PATIENCE);
    let bound = Duration::from_millis(200);
    let seg = Segment::options()
        .directory_lock_timeout(bound)
        .anonymous(Segment::MIN_SIZE + 4096)
        .unwrap();
    seg.get_or_init("ready", || 1u64).unwrap();

    // Another live thread of this process, whose id a peer writes into the
    // directory lock word.
    let (tid_tx, tid_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let bystander = std::thread::spawn(move || {
        tid_tx
            .send(rustix::thread::gettid().as_raw_nonzero().get() as u32)
            .unwrap();
        let _ = done_rx.recv_timeout(PATIENCE);
    });
    let tid = tid_rx.recv_timeout(PATIENCE).unwrap();
    poke(seg.fd(), LOCK_WORD_AT, &tid.to_ne_bytes());

    let start = Instant::now();
    let e = segment_error(seg.get_or_init("new", || 2u64));
    let waited = start.elapsed();
    assert_eq!(
        e,
        SegmentError::DirectoryBusy {
            holder: Some(tid),
            waited: bound
        }
    );
    assert!(
        waited >= bound && waited < PATIENCE / 2,
        "returned after {waited:?}"
    );
    assert!(e.to_string().contains(&tid.to_string()), "{e}");
    // Finished objects are found without the lock ...
    assert_eq!(*seg.get::<u64>("ready").unwrap(), 1);
    assert_eq!(*seg.get_or_init("ready", || 9u64).unwrap(), 1);
    // ... an unfinished one waits for it, boundedly.
    let ready_state = entry_at(&seg, 0) + ENTRY_STATE_AT;
    poke(seg.fd(), ready_state, &INITIALISING.to_ne_bytes());
    assert!(matches!(
        segment_error(seg.get::<u64>("ready")),
        SegmentError::DirectoryBusy {
            holder: Some(h),
            ..
        } if h == tid
    ));

    // Repaired bytes: everything proceeds.
    poke(seg.fd(), LOCK_WORD_AT, &0u32.to_ne_bytes());
    poke(seg.fd(), ready_state, &2u32.to_ne_bytes());
    assert_eq!(*seg.get_or_init("new", || 2u64).unwrap(), 2);
    assert_eq!(*seg.get::<u64>("ready").unwrap(), 1);
    done_tx.send(()).unwrap();
    bystander.join().unwrap();
}
