//! `Array`, `RawArray` and `AtomicArray` across real processes: work done
//! in a child seen by the parent, exact counts, byte strings, bounds
//! errors, owner death, and arrays in a named segment. Every wait is
//! bounded.

use shmsync::{
    AccessError, Array, ArrayError, AtomicArray, BoundsError, Error, Lock, Process, RawArray,
    Segment, SegmentError, Shared, Value,
};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

#[test]
fn a_childs_prefix_sums_over_an_array_are_seen_by_the_parent() {
    let _w = Watchdog::new("prefix_sums", PATIENCE);
    let values: Vec<u64> = (1..=1000).collect();
    let array = Array::from_slice(&values).unwrap();
    let child = Process::spawn(|| {
        let mut a = array.get_lock().unwrap();
        for i in 1..a.len() {
            a[i] += a[i - 1];
        }
    })
    .unwrap();
    join_ok(&child);
    let sums = array.to_vec(..).unwrap();
    assert_eq!(sums.len(), 1000);
    assert!(sums
        .iter()
        .enumerate()
        .all(|(i, &s)| s == (i as u64 + 1) * (i as u64 + 2) / 2));
    let mut tail = [0u64; 3];
    array.read_range(997.., &mut tail).unwrap();
    assert_eq!(tail, [998 * 999 / 2, 999 * 1000 / 2, 1000 * 1001 / 2]);
}

#[test]
fn element_and_range_copies_from_four_processes_stay_whole() {
    let _w = Watchdog::new("array_ranges", PATIENCE);
    // Each child writes whole rows of its own number; a copied range is
    // taken under the lock, so it never mixes two writers.
    let array = Array::<u32>::new(64).unwrap();
    let children: Vec<_> = (1..=4u32)
        .map(|n| {
            let array = &array;
            KillOnDrop(
                Process::spawn(move || {
                    for _ in 0..2_000 {
                        array.write_range(.., &[n; 64]).unwrap();
                        let row = array.to_vec(..).unwrap();
                        assert!(row.iter().all(|&x| x == row[0]), "mixed row {row:?}");
                        assert!((1..=4).contains(&array.get(63).unwrap()));
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
}

#[test]
fn atomic_array_increments_from_four_processes_are_exact() {
    let _w = Watchdog::new("atomic_array", PATIENCE);
    let counts = AtomicArray::<u64>::new(8).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            KillOnDrop(
                Process::spawn(|| {
                    for i in 0..80_000usize {
                        counts.at(i % 8).unwrap().fetch_add(1, Ordering::Relaxed);
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(counts.to_vec(Ordering::Relaxed), [40_000; 8]);
}

#[test]
fn a_raw_array_written_by_a_child_is_read_whole_by_the_parent() {
    let _w = Watchdog::new("raw_array", PATIENCE);
    let array = RawArray::<u64>::new(1024).unwrap();
    let child = Process::spawn(|| {
        let values: Vec<u64> = (0..1024).map(|i| i * i).collect();
        array.write_range(.., &values).unwrap();
        array.set(1023, 7).unwrap();
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(array.get(1000).unwrap(), 1_000_000);
    assert_eq!(array.get(1023).unwrap(), 7);
    let mut middle = [0u64; 2];
    array.read_range(2..4, &mut middle).unwrap();
    assert_eq!(middle, [4, 9]);
}

#[test]
fn out_of_range_indexes_and_ranges_are_errors_naming_index_and_length() {
    let locked = Array::<u16>::new(4).unwrap();
    let raw = RawArray::<u16>::new(4).unwrap();
    let atomic = AtomicArray::<u16>::new(4).unwrap();
    let out_of_range = BoundsError::OutOfRange { index: 4, len: 4 };

    assert!(matches!(locked.get(4), Err(ArrayError::Bounds(e)) if e == out_of_range));
    assert!(matches!(locked.set(4, 1), Err(ArrayError::Bounds(e)) if e == out_of_range));
    assert_eq!(raw.get(4), Err(out_of_range));
    assert_eq!(raw.set(4, 1), Err(out_of_range));
    assert_eq!(atomic.load(4, Ordering::Relaxed), Err(out_of_range));
    assert_eq!(atomic.store(4, 1, Ordering::Relaxed), Err(out_of_range));
    assert!(atomic.at(usize::MAX).is_err());

    let past_end = BoundsError::RangeOutOfRange {
        start: 2,
        end: 5,
        len: 4,
    };
    assert!(matches!(locked.to_vec(2..5), Err(ArrayError::Bounds(e)) if e == past_end));
    assert_eq!(raw.to_vec(2..5), Err(past_end));
    assert!(raw.to_vec(..=usize::MAX).is_err());

    let mismatch = BoundsError::LengthMismatch {
        expected: 2,
        found: 3,
    };
    assert!(matches!(
        locked.write_range(0..2, &[1, 2, 3]),
        Err(ArrayError::Bounds(e)) if e == mismatch
    ));
    assert!(matches!(
        locked.read_range(2.., &mut [0; 3]),
        Err(ArrayError::Bounds(e)) if e == mismatch
    ));
    assert_eq!(raw.write_range(0..2, &[1, 2, 3]), Err(mismatch));

    // Nothing was written by any of the refused calls.
    assert_eq!(locked.to_vec(..).unwrap(), [0; 4]);
    assert_eq!(raw.to_vec(..).unwrap(), [0; 4]);

    let messages: Vec<String> = [out_of_range, past_end, mismatch]
        .iter()
        .map(|&e| Error::from(e).to_string())
        .collect();
    assert_eq!(
        messages[0],
        "index 4 is out of range for an array of length 4"
    );
    assert_eq!(
        messages[1],
        "range 2..5 does not lie within an array of length 4"
    );
    assert!(
        messages[2].contains("holds 2 elements but the slice has 3"),
        "{}",
        messages[2]
    );
}

#[test]
fn byte_strings_round_trip_as_value_and_raw() {
    let _w = Watchdog::new("byte_strings", PATIENCE);
    let name = Array::<u8>::new(8).unwrap();
    let child = Process::spawn(|| name.set_value(b"hello").unwrap()).unwrap();
    join_ok(&child);
    assert_eq!(name.value().unwrap(), b"hello");
    assert_eq!(name.raw().unwrap(), b"hello\0\0\0");

    // Exactly full: no room for a NUL, none written.
    name.set_value(b"12345678").unwrap();
    assert_eq!(name.value().unwrap(), b"12345678");
    // Shorter again: a NUL after it, the rest left as it was.
    name.set_value(b"ab").unwrap();
    assert_eq!(name.value().unwrap(), b"ab");
    assert_eq!(name.raw().unwrap(), b"ab\x0045678");
    // Too long: an error, and nothing written.
    let too_long = BoundsError::TooLong {
        len: 9,
        capacity: 8,
    };
    assert!(matches!(
        name.set_value(b"123456789"),
        Err(ArrayError::Bounds(e)) if e == too_long
    ));
    assert!(matches!(
        name.set_raw(b"123456789"),
        Err(ArrayError::Bounds(e)) if e == too_long
    ));
    assert_eq!(name.raw().unwrap(), b"ab\x0045678");
    assert_eq!(
        Error::from(too_long).to_string(),
        "a byte string of 9 bytes does not fit a byte array of 8"
    );
    // `raw` writes no NUL.
    name.set_raw(b"xyz").unwrap();
    assert_eq!(name.value().unwrap(), b"xyz45678");

    let raw = RawArray::<u8>::new(4).unwrap();
    let child = Process::spawn(|| raw.set_value(b"hi").unwrap()).unwrap();
    join_ok(&child);
    assert_eq!(raw.value(), b"hi");
    assert_eq!(raw.raw(), b"hi\0\0");
    assert_eq!(
        raw.set_value(b"hello"),
        Err(BoundsError::TooLong {
            len: 5,
            capacity: 4
        })
    );
    raw.set_raw(b"abcd").unwrap();
    assert_eq!(raw.value(), b"abcd");
}

#[test]
fn a_holder_killed_holding_an_arrays_lock_is_reported_with_the_guard() {
    let _w = Watchdog::new("array_owner_died", PATIENCE);
    let array = Array::<u32>::new(4).unwrap();
    let ready = Shared::new(AtomicU32::new(0)).unwrap();
    let holder = KillOnDrop(
        Process::spawn(|| {
            let mut a = array.get_lock().unwrap();
            a[..2].fill(1); // half of an update to all four
            ready.store(1, Ordering::Release);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to hold the array", || {
        ready.load(Ordering::Acquire) == 1
    });
    holder.kill().unwrap();

    let guard = match array.get(3) {
        Err(ArrayError::Access(AccessError::OwnerDied(died))) => died.into_inner(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    assert_eq!(&guard[..], [1, 1, 0, 0]);
    drop(guard);
    assert!(matches!(
        array.write_range(2.., &[1, 1]),
        Err(ArrayError::Access(AccessError::OwnerDied(_)))
    ));
    let mut guard = match array.get_lock() {
        Err(AccessError::OwnerDied(died)) => died.into_inner(),
        other => panic!("expected OwnerDied, got {other:?}"),
    };
    guard.fill(1); // the repair
    guard.mark_consistent();
    drop(guard);
    assert_eq!(array.to_vec(..).unwrap(), [1; 4]);
    assert_eq!(join_within(&holder, PATIENCE), -libc::SIGKILL);
}

#[test]
fn arrays_and_a_value_can_share_one_lock() {
    let _w = Watchdog::new("array_shared_lock", PATIENCE);
    let lock = Lock::new().unwrap();
    let items = Array::<u64>::with_lock(16, &lock).unwrap();
    let count = Value::with_lock(0usize, &lock).unwrap();
    let children: Vec<_> = (0..4u64)
        .map(|n| {
            let (lock, items, count) = (&lock, &items, &count);
            KillOnDrop(
                Process::spawn(move || {
                    for k in 0..4 {
                        let held = lock.lock().unwrap();
                        let mut len = count.borrow_under(&held).unwrap();
                        items.borrow_under(&held).unwrap()[*len] = n * 10 + k;
                        *len += 1;
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(count.get().unwrap(), 16);
    let mut all = items.to_vec(..).unwrap();
    all.sort_unstable();
    let mut expected: Vec<u64> = (0..4)
        .flat_map(|n| (0..4).map(move |k| n * 10 + k))
        .collect();
    expected.sort_unstable();
    assert_eq!(all, expected);
    let guard = items.get_lock().unwrap();
    assert!(matches!(count.get(), Err(AccessError::AlreadyHeld)));
    drop(guard);
}

/// A segment name no other test run uses, unlinked when dropped (also
/// when the test fails).
struct UniqueName(String);

impl UniqueName {
    fn new(what: &str) -> UniqueName {
        UniqueName(format!("/shmsync-test-{what}-{}", std::process::id()))
    }
}

impl Drop for UniqueName {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

#[test]
fn arrays_in_a_named_segment_are_shared_by_two_processes_and_typed_by_length() {
    let _w = Watchdog::new("array_segment", PATIENCE);
    let name = UniqueName::new("array");
    let segment = Segment::create(&name.0, Segment::MIN_SIZE + 16 * 1024).unwrap();
    let child = Process::spawn(|| {
        // A process of its own opening the segment by name.
        let segment = Segment::open(&name.0).unwrap();
        Array::<u32>::open_in(&segment, "locked", 16)
            .unwrap()
            .write_range(.., &[3; 16])
            .unwrap();
        RawArray::<u8>::open_in(&segment, "bytes", 8)
            .unwrap()
            .set_value(b"child")
            .unwrap();
        AtomicArray::<i64>::open_in(&segment, "atomic", 2)
            .unwrap()
            .at(1)
            .unwrap()
            .fetch_sub(5, Ordering::Relaxed);
    })
    .unwrap();
    join_ok(&child);

    let locked = Array::<u32>::open_in(&segment, "locked", 16).unwrap();
    assert_eq!(locked.to_vec(..).unwrap(), [3; 16]);
    let bytes = RawArray::<u8>::open_in(&segment, "bytes", 8).unwrap();
    assert_eq!(bytes.value(), b"child");
    let atomic = AtomicArray::<i64>::open_in(&segment, "atomic", 2).unwrap();
    assert_eq!(atomic.to_vec(Ordering::Relaxed), [0, -5]);

    // The length, the element type and the kind are all part of the type.
    for wrong in [
        Array::<u32>::open_in(&segment, "locked", 15).map(drop),
        Array::<u32>::open_in(&segment, "locked", 17).map(drop),
        Array::<i32>::open_in(&segment, "locked", 16).map(drop),
        RawArray::<u32>::open_in(&segment, "locked", 16).map(drop),
        AtomicArray::<u32>::open_in(&segment, "locked", 16).map(drop),
        Array::<u8>::open_in(&segment, "bytes", 8).map(drop),
    ] {
        assert!(
            matches!(
                wrong,
                Err(Error::Segment(SegmentError::TypeMismatch { .. }))
            ),
            "{wrong:?}"
        );
    }
    Segment::unlink(&name.0).unwrap();
}

#[test]
fn an_array_too_large_for_the_address_space_is_an_error() {
    assert!(matches!(
        Array::<u64>::new(usize::MAX / 4),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        RawArray::<u8>::new(usize::MAX),
        Err(Error::InvalidArgument(_))
    ));
    let segment = Segment::anonymous(Segment::MIN_SIZE + 4096).unwrap();
    assert!(matches!(
        AtomicArray::<u32>::open_in(&segment, "big", 1 << 20),
        Err(Error::Segment(SegmentError::OutOfSpace { .. }))
    ));
}
