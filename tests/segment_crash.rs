//! Peers that die, panic or stop half-way: a creator that never finishes
//! the header, an initialiser killed, panicking or stopped inside
//! `get_or_init`. Nobody waits for them beyond a bound. Every wait in the
//! tests is bounded too.

mod segment_helpers;

use segment_helpers::{image, raw_object, reattach, segment_error, Name};
use shmsync::{Process, Segment, SegmentError, Shared};
use shmsync_testkit::{
    is_stopped, join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE,
};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The bound the stopped-initialiser tests give their directory lock.
const BOUND: Duration = Duration::from_millis(300);

/// Sends `signal` to `child`.
fn signal(child: &Process, signal: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.pid() as i32).unwrap();
    rustix::process::kill_process(pid, signal).unwrap();
}

/// A child that starts initialising "slow" in `seg` and stops itself
/// (SIGSTOP) inside `init`, alive and holding the directory lock; returns
/// once it is stopped.
fn stopped_initialiser(seg: &Segment) -> KillOnDrop {
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let value = seg
                .get_or_init("slow", || -> u64 {
                    // Release: pairs with the parent's Acquire in wait_until.
                    started.store(1, Ordering::Release);
                    rustix::process::kill_process(
                        rustix::process::getpid(),
                        rustix::process::Signal::STOP,
                    )
                    .unwrap();
                    5
                })
                .unwrap();
            assert_eq!(*value, 5);
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to start initialising", || {
        started.load(Ordering::Acquire) == 1
    });
    wait_until(PATIENCE, "the child to stop", || is_stopped(child.pid()));
    child
}

/// The parent's view of `seg`, with a short directory lock bound.
fn impatient_view(seg: &Segment) -> Segment {
    Segment::options()
        .directory_lock_timeout(BOUND)
        .from_fd(seg.as_fd().try_clone_to_owned().unwrap())
        .unwrap()
}

/// Asserts that `result` is the busy error naming `holder`, and that the
/// call returned after the bound but well within the test's patience.
#[track_caller]
fn assert_busy<T: std::fmt::Debug>(call: impl FnOnce() -> Result<T, SegmentError>, holder: u32) {
    let start = Instant::now();
    let e = segment_error(call());
    let waited = start.elapsed();
    assert_eq!(
        e,
        SegmentError::DirectoryBusy {
            holder: Some(holder),
            waited: BOUND
        }
    );
    assert!(
        waited >= BOUND && waited < PATIENCE / 2,
        "returned after {waited:?}"
    );
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
fn open_waits_for_a_creator_still_reserving_a_large_segment() {
    let _w = Watchdog::new("reserving_creator", PATIENCE);
    const SIZE: usize = 32 << 20;
    const CHUNKS: usize = 16;
    let name = Name::new("reserving-creator");
    let template = Segment::anonymous(SIZE).unwrap();
    template.get_or_init("v", || 78u64).unwrap();
    // Header, directory and the first object.
    let header = image(template.fd())[..Segment::MIN_SIZE + 4096].to_vec();
    drop(template);

    // A creator that takes longer than the opener's one-second wait to
    // reserve its pages, but keeps making progress.
    let object = raw_object(&name, true);
    object.set_len(SIZE as u64).unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = (SIZE / CHUNKS) as u64;
        for i in 0..CHUNKS as u64 {
            rustix::fs::fallocate(
                &object,
                rustix::fs::FallocateFlags::empty(),
                i * chunk,
                chunk,
            )
            .unwrap();
            std::thread::sleep(Duration::from_millis(120));
        }
        object.write_all_at(&header[8..], 8).unwrap();
        object.write_all_at(&header[..8], 0).unwrap(); // the magic, last
    });
    let seg = Segment::open(&name).unwrap();
    writer.join().unwrap();
    assert_eq!(seg.size(), SIZE);
    assert_eq!(*seg.get::<u64>("v").unwrap(), 78);
}

#[test]
fn an_initialiser_stopped_inside_init_makes_lookups_fail_busy_until_it_resumes() {
    let _w = Watchdog::new("stopped_initialiser_resumes", PATIENCE);
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    seg.get_or_init("before", || 1u64).unwrap();
    let child = stopped_initialiser(&seg);
    let view = impatient_view(&seg);

    // The entry it reserved, another new one, and a bare lookup of it all
    // need the lock that the stopped child holds: each gives up in time.
    assert_busy(|| view.get_or_init("slow", || 6u64), child.pid());
    assert_busy(|| view.get::<u64>("slow"), child.pid());
    assert_busy(|| view.get_or_init("other", || 7u64), child.pid());
    // Finished objects need no lock.
    assert_eq!(*view.get::<u64>("before").unwrap(), 1);

    signal(&child, rustix::process::Signal::CONT);
    join_ok(&child);
    assert_eq!(*view.get::<u64>("slow").unwrap(), 5);
    assert_eq!(*view.get_or_init("other", || 7u64).unwrap(), 7);
}

#[test]
fn an_initialiser_killed_while_stopped_leaves_the_object_to_the_next_caller() {
    let _w = Watchdog::new("stopped_initialiser_killed", PATIENCE);
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    let child = stopped_initialiser(&seg);
    let view = impatient_view(&seg);
    assert_busy(|| view.get::<u64>("slow"), child.pid());

    child.kill().unwrap();
    assert_eq!(join_within(&child, PATIENCE), -9);
    assert_eq!(
        segment_error(view.get::<u64>("slow")),
        SegmentError::Abandoned {
            name: "slow".into()
        }
    );
    assert_eq!(*view.get_or_init("slow", || 8u64).unwrap(), 8);
    assert_eq!(*reattach(&seg).unwrap().get::<u64>("slow").unwrap(), 8);
}

#[test]
fn the_default_bound_is_used_by_the_shorthand_constructors() {
    let _w = Watchdog::new("default_bound", PATIENCE);
    let seg = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    let child = stopped_initialiser(&seg);
    let start = Instant::now();
    let e = segment_error(seg.get_or_init("other", || 1u8));
    let waited = start.elapsed();
    assert_eq!(
        e,
        SegmentError::DirectoryBusy {
            holder: Some(child.pid()),
            waited: shmsync::SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT
        }
    );
    assert!(
        waited >= shmsync::SegmentOptions::DEFAULT_DIRECTORY_LOCK_TIMEOUT && waited < PATIENCE / 2,
        "returned after {waited:?}"
    );
}
