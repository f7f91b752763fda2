//! Peers that die, panic or stop half-way: a creator that never finishes
//! the header, an initialiser killed, panicking or stopped inside
//! `get_or_init`. Nobody waits for them beyond a bound. Every wait in the
//! tests is bounded too.

mod common;
mod segment_helpers;

use common::{join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use segment_helpers::{image, raw_object, segment_error, Name};
use shmsync::{Process, Segment, SegmentError, Shared};
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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
