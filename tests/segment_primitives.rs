//! The synchronization primitives' `open_in`: every process names them in
//! a segment it opened by name, as unrelated programs do, and all of them
//! reach the same lock, event, semaphore, barrier and condition.

use shmsync::{
    Barrier, BoundedSemaphore, Condition, Event, Lock, Process, RLock, Segment, SegmentError,
    Semaphore, Value,
};
use shmsync_testkit::{die_with_parent, join_ok, KillOnDrop, Watchdog, PATIENCE};

/// The primitives one program opens, by name, in the segment it opened by
/// name.
struct Opened {
    segment: Segment,
    lock: Lock,
    started: Event,
    slots: Semaphore,
    workers: BoundedSemaphore,
    both: Barrier,
    cond: Condition<RLock>,
}

fn open(segment_name: &str) -> Opened {
    let segment = Segment::open_or_create(segment_name, 64 * 1024).unwrap();
    Opened {
        lock: Lock::open_in(&segment, "lock").unwrap(),
        started: Event::open_in(&segment, "started").unwrap(),
        slots: Semaphore::open_in(&segment, "slots", 0).unwrap(),
        workers: BoundedSemaphore::open_in(&segment, "workers", 2).unwrap(),
        both: Barrier::open_in(&segment, "both", 2).unwrap(),
        cond: Condition::open_in(
            &segment,
            "cond",
            RLock::open_in(&segment, "cond-lock").unwrap(),
        )
        .unwrap(),
        segment,
    }
}

/// Unlinks a segment's name however the test ends.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

#[test]
fn two_programs_that_open_the_same_names_share_every_primitive() {
    let _w = Watchdog::new("open_in", PATIENCE);
    let name = format!("/shmsync-test-primitives-{}", std::process::id());
    let parent = open(&name);
    let _unlink = Unlink(name.clone());
    let count = Value::open_in(&parent.segment, "count", 0u32).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            die_with_parent();
            // As an unrelated program would: everything by name.
            let its = open(&name);
            let count = Value::open_in(&its.segment, "count", 99u32).unwrap();
            its.started.set();
            its.slots.release().unwrap();
            assert!(its.workers.acquire(true, Some(PATIENCE)));
            its.both.wait(Some(PATIENCE)).unwrap();
            // The parent holds the lock until the barrier: taken only now.
            assert!(its.lock.acquire(true, Some(PATIENCE)).unwrap());
            its.lock.release().unwrap();
            let held = its.cond.lock().unwrap();
            count.set(1).unwrap();
            its.cond.notify_all().unwrap();
            drop(held);
        })
        .unwrap(),
    );

    let held = parent.lock.lock().unwrap();
    assert!(parent.started.wait(Some(PATIENCE)), "the child's set");
    assert!(parent.slots.acquire(true, Some(PATIENCE)), "its release");
    let held_cond = parent.cond.lock().unwrap();
    parent.both.wait(Some(PATIENCE)).unwrap();
    assert_eq!(parent.workers.get_value(), 1, "the child took one");
    drop(held);
    let done = parent
        .cond
        .wait_for(|| matches!(count.get(), Ok(1)), Some(PATIENCE))
        .unwrap();
    assert!(done, "the child's notify");
    drop(held_cond);
    join_ok(&child);
}

#[test]
fn a_name_opened_as_another_primitive_or_shape_is_refused() {
    let segment = Segment::anonymous(Segment::MIN_SIZE + 8192).unwrap();
    let mismatch = |r: Result<(), shmsync::Error>| {
        matches!(
            r,
            Err(shmsync::Error::Segment(SegmentError::TypeMismatch { .. }))
        )
    };
    Lock::open_in(&segment, "lock").unwrap();
    assert!(mismatch(RLock::open_in(&segment, "lock").map(drop)));
    assert!(mismatch(Event::open_in(&segment, "lock").map(drop)));
    // Named as the handle asked for, not the raw type inside it.
    for (told, handle) in [
        (RLock::open_in(&segment, "lock").map(drop), "shmsync::RLock"),
        (Event::open_in(&segment, "lock").map(drop), "shmsync::Event"),
        (
            Semaphore::open_in(&segment, "lock", 1).map(drop),
            "shmsync::Semaphore",
        ),
        (
            Barrier::open_in(&segment, "lock", 2).map(drop),
            "shmsync::Barrier",
        ),
    ] {
        let told = told.unwrap_err().to_string();
        assert!(told.contains(&format!("than {handle}:")), "{told}");
    }
    Lock::open_in(&segment, "a lock").unwrap();
    let told = Condition::open_in(&segment, "a lock", RLock::new().unwrap())
        .map(drop)
        .unwrap_err()
        .to_string();
    assert!(told.contains("than shmsync::Condition:"), "{told}");

    Semaphore::open_in(&segment, "sem", 3).unwrap();
    assert!(mismatch(
        BoundedSemaphore::open_in(&segment, "sem", 3).map(drop)
    ));
    BoundedSemaphore::open_in(&segment, "bounded", 3).unwrap();
    assert!(mismatch(
        BoundedSemaphore::open_in(&segment, "bounded", 4).map(drop)
    ));
    assert!(mismatch(
        Semaphore::open_in(&segment, "bounded", 3).map(drop)
    ));

    Barrier::open_in(&segment, "barrier", 3).unwrap();
    let told = Barrier::open_in(&segment, "barrier", 4).unwrap_err();
    assert!(told.to_string().contains("shmsync::Barrier"), "{told}");
    assert!(mismatch(Err(told)));
    assert!(matches!(
        Barrier::open_in(&segment, "none", 0),
        Err(shmsync::Error::InvalidArgument(_))
    ));

    // A name found made keeps its state: the arguments only make it.
    let slots = Semaphore::open_in(&segment, "sem", 100).unwrap();
    assert_eq!(slots.get_value(), 3);
}
