//! Guards and handles copied into a forked child with the rest of memory
//! (captured by a `Process` closure) stay the parent's: the copy lends out
//! no data and gives nothing back. A `ValueGuard` or `ArrayGuard` copy that
//! lent out `&mut` in the child would race with the parent, which still
//! holds the lock; a `Producer` copy would be a second producer on a side
//! that excludes one; a `SemaphoreGuard` copy would give its unit back a
//! second time.
//!
//! Each child reports through its exit code: 0 when the use of the copy
//! panicked with the crate's message (caught inside the child), 2 when it
//! went through.

use shmsync::{Array, Lock, Process, Queue, Semaphore, Shared, Value};
use shmsync_testkit::{join_within, Watchdog, PATIENCE};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

/// Moves `copy` into a child that drops it once the parent stores 1 in
/// the returned word (or after [`PATIENCE`]). The parent's own copy goes
/// when `spawn` returns, giving back what it held.
fn dropped_in_child_on_cue<T>(copy: T) -> (Process, Shared<AtomicU32>) {
    let cue = Shared::new(AtomicU32::new(0)).unwrap();
    let child_cue = cue.clone();
    let child = Process::spawn(move || {
        let start = Instant::now();
        while child_cue.load(Ordering::Acquire) == 0 && start.elapsed() < PATIENCE {
            std::thread::yield_now();
        }
        drop(copy);
    })
    .unwrap();
    (child, cue)
}

/// Runs `use_copy` in the child; the child exits 0 if it panicked with the
/// crate's message about forked copies, 2 if it returned, 3 on another
/// panic.
fn refused_in_child(use_copy: impl FnOnce()) -> i32 {
    let child = Process::spawn(move || {
        let code = match catch_unwind(AssertUnwindSafe(use_copy)) {
            Ok(()) => 2,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .unwrap_or_default();
                if message.contains("taken before a fork") {
                    0
                } else {
                    3
                }
            }
        };
        // SAFETY: _exit is always sound; it ends the child at once.
        unsafe { libc::_exit(code) }
    })
    .unwrap();
    join_within(&child, PATIENCE)
}

#[test]
fn a_value_guard_captured_by_a_child_lends_nothing_there() {
    let _w = Watchdog::new("value_guard_copy", PATIENCE);
    let value = Value::new(5u64).unwrap();
    let mut guard = value.get_lock().unwrap();
    assert_eq!(refused_in_child(|| *guard = 7), 0);
    assert_eq!(refused_in_child(|| assert_eq!(*guard, 5)), 0);
    assert_eq!(*guard, 5, "the child wrote under the parent's hold");
    *guard += 1;
    drop(guard);
    assert_eq!(value.get().unwrap(), 6);
}

#[test]
fn an_array_guard_captured_by_a_child_lends_nothing_there() {
    let _w = Watchdog::new("array_guard_copy", PATIENCE);
    let array = Array::from_slice(&[1u32, 2, 3]).unwrap();
    let mut guard = array.get_lock().unwrap();
    assert_eq!(refused_in_child(|| guard[0] = 9), 0);
    assert_eq!(refused_in_child(|| assert_eq!(guard.len(), 3)), 0);
    assert_eq!(&guard[..], &[1, 2, 3]);
}

#[test]
fn a_guard_moved_into_a_child_leaves_a_shared_locks_claim_to_the_parent() {
    let _w = Watchdog::new("claim_copy", PATIENCE);
    let lock = Lock::new().unwrap();
    let value = Value::with_lock(0u32, &lock).unwrap();
    let guard = value.get_lock().unwrap();
    // The child's copy goes once the parent has taken the claim and the
    // lock again, and must leave them be.
    let (child, cue) = dropped_in_child_on_cue(guard);
    let mut again = value.get_lock().unwrap();
    *again = 1;
    cue.store(1, Ordering::Release);
    assert_eq!(join_within(&child, PATIENCE), 0);
    // Python's semantics: any thread may release a `Lock`, here under the
    // guard; the claim, still the parent's, keeps another thread off the
    // value.
    lock.release().unwrap();
    let taken = std::thread::scope(|s| s.spawn(|| value.get_lock().is_ok()).join().unwrap());
    assert!(!taken, "the child's copy gave the parent's claim back");
    assert_eq!(*again, 1);
}

#[test]
fn a_producer_captured_by_a_child_puts_nothing_there() {
    let _w = Watchdog::new("producer_copy", PATIENCE);
    let q = Queue::<u64>::new(8).unwrap();
    let mut tx = q.producer().unwrap();
    assert_eq!(refused_in_child(|| drop(tx.put(1))), 0);
    tx.put(2).unwrap();
    drop(tx);
    assert_eq!(q.qsize(), 1, "only the parent's put is in");
    assert_eq!(q.get().unwrap(), 2);

    q.put(3).unwrap();
    let mut rx = q.consumer().unwrap();
    assert_eq!(refused_in_child(|| drop(rx.try_get())), 0);
    assert_eq!(
        rx.try_get().unwrap(),
        3,
        "the child took the parent's message"
    );
}

#[test]
fn a_producer_moved_into_a_child_is_given_back_once_by_the_parent() {
    let _w = Watchdog::new("producer_moved", PATIENCE);
    let q = Queue::<u64>::new(8).unwrap();
    let tx = q.producer().unwrap();
    // The parent gives the side back and takes it again before the cue;
    // dropping the child's copy then must not release the new hold.
    let (child, cue) = dropped_in_child_on_cue(tx);
    let mut again = q.producer().unwrap();
    cue.store(1, Ordering::Release);
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert!(
        q.try_put(9).is_err(),
        "the producing side was released under the parent's handle"
    );
    again.put(1).unwrap();
}

#[test]
fn a_semaphore_unit_moved_into_a_child_is_given_back_once() {
    let _w = Watchdog::new("semaphore_copy", PATIENCE);
    let sem = Semaphore::new(1).unwrap();
    let unit = sem.access();
    assert_eq!(sem.get_value(), 0);
    let child = Process::spawn(move || drop(unit)).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert_eq!(sem.get_value(), 1, "given back by the parent's copy only");
}
