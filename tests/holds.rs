//! A guard gives back only its own hold: after Python's any-thread
//! `Lock.release()` (or an `RLock`'s full release) and a new acquisition,
//! dropping the stale guard leaves the new holder alone. Across threads and
//! processes, for `Lock`, `RLock`, `Condition` and `lock_api::Mutex` guards,
//! and for a guard kept across a `Condition` wait. Every wait is bounded.
//!
//! The stale-guard tests fail on the old guards, whose drop called the
//! lock's `release()`: for a `Lock` that frees whoever holds it (the new
//! holder), for an `RLock` it releases a level of the caller's new hold
//! (one test, marked, pins a case the old guards got right). The
//! condition-wait tests fail if a wait takes the lock back under a new hold:
//! the guard's drop then gives nothing back and the lock stays held.

use shmsync::raw::{Lockable, NotHeld, NotOwner};
use shmsync::{Condition, Lock, Mutex, Process, RLock, Shared, SharedLock, ShmSafe, TryLockError};
use shmsync_testkit::{join_ok, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

mod raw_bytes;
use raw_bytes::gettid;

/// Receives the next message, failing the test after [`PATIENCE`].
#[track_caller]
fn recv<T>(rx: &mpsc::Receiver<T>) -> T {
    rx.recv_timeout(PATIENCE)
        .expect("the other thread went quiet")
}

/// Steps of a test run by several processes, in shared memory.
struct Steps(Shared<AtomicU32>);

impl Steps {
    fn new() -> Steps {
        Steps(Shared::new(AtomicU32::new(0)).unwrap())
    }
    fn reach(&self, step: u32) {
        self.0.store(step, Ordering::SeqCst);
    }
    #[track_caller]
    fn await_step(&self, step: u32) {
        wait_until(PATIENCE, "the next step", || {
            self.0.load(Ordering::SeqCst) >= step
        });
    }
}

#[test]
fn a_lock_guard_dropped_after_another_threads_release_and_reacquire_leaves_the_new_holder_alone() {
    let _w = Watchdog::new("lock_guard_threads", PATIENCE);
    let lock = &Lock::new().unwrap();
    std::thread::scope(|s| {
        // A takes the lock with a guard and drops it when told.
        let (a_tx, a_rx) = mpsc::channel();
        let (drop_tx, drop_rx) = mpsc::channel::<()>();
        s.spawn(move || {
            let guard = lock.lock().unwrap();
            a_tx.send(()).unwrap();
            recv(&drop_rx);
            drop(guard);
            a_tx.send(()).unwrap();
        });
        recv(&a_rx);

        // B (this thread) releases A's hold, as Python allows.
        lock.release().unwrap();

        // C acquires, then releases when told.
        let (c_tx, c_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let c = s.spawn(move || {
            assert!(lock.acquire(true, Some(PATIENCE)).unwrap());
            c_tx.send(gettid()).unwrap();
            recv(&release_rx);
            assert!(lock.is_held_by_current_thread(), "C lost its hold");
            lock.release()
        });
        let c_tid = recv(&c_rx);

        // A's stale guard drops: C must still hold the lock.
        drop_tx.send(()).unwrap();
        recv(&a_rx);
        assert!(lock.locked(), "the stale guard released C's hold");
        assert_eq!(lock.raw().holder_tid(), Some(c_tid));
        assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
        assert!(!lock.acquire(false, None).unwrap());

        release_tx.send(()).unwrap();
        assert_eq!(c.join().unwrap(), Ok(()), "C's release");
    });
    assert!(!lock.locked());
    drop(lock.try_lock().expect("free after C's release"));
}

#[test]
fn a_lock_guard_dropped_after_another_processs_release_and_reacquire_leaves_the_new_holder_alone() {
    let _w = Watchdog::new("lock_guard_processes", PATIENCE);
    let lock = Lock::new().unwrap();
    let steps = Steps::new();
    let c_released = Shared::new(AtomicU32::new(0)).unwrap();

    // A: this process, with a guard.
    let guard = lock.lock().unwrap();

    // B: another process releases A's hold.
    let b = Process::spawn(|| lock.release().unwrap()).unwrap();
    join_ok(&b);
    assert!(!lock.locked());

    // C: a third process acquires, holds until step 2, then releases.
    let c = KillOnDrop(
        Process::spawn(|| {
            let held = lock.lock().unwrap();
            steps.reach(1);
            steps.await_step(2);
            assert!(lock.is_held_by_current_thread(), "C lost its hold");
            drop(held);
            c_released.store(1, Ordering::SeqCst);
            assert!(!lock.locked());
        })
        .unwrap(),
    );
    steps.await_step(1);

    // A's stale guard drops: C must still hold the lock.
    drop(guard);
    assert!(lock.locked(), "the stale guard released C's hold");
    assert_eq!(lock.raw().holder_tid(), Some(c.pid()));
    assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    let fourth = Process::spawn(|| {
        assert!(!lock.acquire(true, Some(Duration::from_millis(20))).unwrap());
    })
    .unwrap();
    join_ok(&fourth);

    steps.reach(2);
    join_ok(&c);
    assert_eq!(c_released.load(Ordering::SeqCst), 1);
    drop(lock.try_lock().expect("free after C's release"));
}

#[test]
fn an_rlock_guard_dropped_after_a_full_release_and_reacquire_leaves_the_new_hold_alone() {
    let lock = RLock::new().unwrap();
    let guard = lock.lock().unwrap();
    lock.release().unwrap();
    assert_eq!(lock.depth(), 0);
    assert!(lock.acquire(false, None).unwrap());
    assert_eq!(lock.depth(), 1);

    drop(guard);
    assert_eq!(lock.depth(), 1, "the stale guard released the new hold");
    assert!(lock.locked());
    std::thread::scope(|s| {
        s.spawn(|| assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock))));
    });
    lock.release().unwrap();
    assert!(!lock.locked());
    assert_eq!(lock.release(), Err(NotOwner));
}

#[test]
fn nested_rlock_guards_made_stale_by_a_full_release_give_back_nothing() {
    let lock = RLock::new().unwrap();
    let outer = lock.lock().unwrap();
    let inner = lock.lock().unwrap();
    lock.release().unwrap();
    lock.release().unwrap();
    assert!(!lock.locked());
    assert!(lock.acquire(false, None).unwrap());
    assert!(lock.acquire(false, None).unwrap());

    drop(inner);
    drop(outer);
    assert_eq!(
        lock.depth(),
        2,
        "stale guards released levels of the new hold"
    );
    lock.release().unwrap();
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn an_rlock_guard_dropped_after_its_thread_let_go_leaves_another_owner_alone() {
    // The old guard called the owner-only `RLock.release()`, so this one
    // held before too; it pins the behaviour across threads and processes.
    let _w = Watchdog::new("rlock_guard_other_owner", PATIENCE);
    let lock = &RLock::new().unwrap();
    let guard = lock.lock().unwrap();
    lock.release().unwrap();
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let owner = s.spawn(move || {
            assert!(lock.acquire(true, Some(PATIENCE)).unwrap());
            tx.send(()).unwrap();
            recv(&go_rx);
            let depth = lock.depth();
            lock.release().unwrap();
            depth
        });
        recv(&rx);
        drop(guard);
        assert!(lock.locked());
        go_tx.send(()).unwrap();
        assert_eq!(owner.join().unwrap(), 1);
    });

    let guard = lock.lock().unwrap();
    lock.release().unwrap();
    let steps = Steps::new();
    let owner = KillOnDrop(
        Process::spawn(|| {
            assert!(lock.acquire(true, Some(PATIENCE)).unwrap());
            steps.reach(1);
            steps.await_step(2);
            assert_eq!(lock.depth(), 1);
            lock.release().unwrap();
        })
        .unwrap(),
    );
    steps.await_step(1);
    drop(guard);
    assert_eq!(lock.raw().holder_tid(), Some(owner.pid()));
    steps.reach(2);
    join_ok(&owner);
    assert!(!lock.locked());
}

#[test]
fn a_condition_guard_over_a_lock_dropped_after_release_and_reacquire_leaves_the_new_holder_alone() {
    let _w = Watchdog::new("condition_guard_lock", PATIENCE);
    let cond = &Condition::with_lock(Lock::new().unwrap()).unwrap();
    let guard = cond.lock().unwrap();
    std::thread::scope(|s| {
        // B releases this thread's hold; C acquires and holds until told.
        s.spawn(|| cond.lock_handle().release().unwrap())
            .join()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let c = s.spawn(move || {
            assert!(cond.acquire(true, Some(PATIENCE)).unwrap());
            tx.send(()).unwrap();
            recv(&go_rx);
            // Notifying needs the lock held: C still holds it.
            cond.notify_all()?;
            cond.release()
        });
        recv(&rx);
        drop(guard);
        assert!(
            cond.lock_handle().locked(),
            "the stale guard released C's hold"
        );
        assert!(!cond.acquire(false, None).unwrap());
        go_tx.send(()).unwrap();
        assert_eq!(c.join().unwrap(), Ok(()));
    });
    assert!(!cond.lock_handle().locked());
}

#[test]
fn a_condition_guard_over_an_rlock_dropped_after_release_and_reacquire_leaves_the_new_hold_alone() {
    let cond = Condition::new().unwrap();
    let guard = cond.lock().unwrap();
    cond.release().unwrap();
    assert!(!cond.is_held_by_current_thread());
    assert!(cond.acquire(false, None).unwrap());

    drop(guard);
    assert!(
        cond.is_held_by_current_thread(),
        "the stale guard released the new hold"
    );
    cond.notify_all().unwrap();
    cond.release().unwrap();
    assert!(!cond.lock_handle().locked());
    assert_eq!(cond.release(), Err(NotOwner));
}

#[test]
fn a_guard_kept_across_a_timed_out_condition_wait_releases_the_lock_when_dropped() {
    let _w = Watchdog::new("guard_across_timeout", PATIENCE);
    let over_lock = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let guard = over_lock.lock().unwrap();
    assert!(!over_lock.wait(Some(Duration::from_millis(5))).unwrap());
    assert!(over_lock.is_held_by_current_thread());
    drop(guard);
    assert!(
        !over_lock.lock_handle().locked(),
        "the guard did not release"
    );

    let over_rlock = Condition::new().unwrap();
    let outer = over_rlock.lock().unwrap();
    let inner = over_rlock.lock().unwrap();
    assert!(!over_rlock.wait(Some(Duration::from_millis(5))).unwrap());
    assert_eq!(over_rlock.lock_handle().depth(), 2);
    drop(inner);
    assert_eq!(over_rlock.lock_handle().depth(), 1);
    drop(outer);
    assert!(
        !over_rlock.lock_handle().locked(),
        "the guards did not release"
    );
}

/// A child that waits for one waiter on `cond`, then takes the lock,
/// notifies, and keeps the lock a moment longer.
fn notify_once_waited<R: Lockable + ShmSafe>(cond: &Condition<SharedLock<R>>) -> KillOnDrop {
    KillOnDrop(
        Process::spawn(|| {
            wait_until(PATIENCE, "the waiter", || cond.n_waiting() == 1);
            let _held = cond.lock().unwrap();
            cond.notify_one().unwrap();
            std::thread::sleep(Duration::from_millis(5));
        })
        .unwrap(),
    )
}

#[test]
fn a_guard_kept_across_a_notified_condition_wait_releases_the_lock_when_dropped() {
    let _w = Watchdog::new("guard_across_notify", PATIENCE);
    // The notifier is another process, which holds the lock while it
    // notifies, so the waiter takes the lock back after contention.
    let cond = Condition::with_lock(Lock::new().unwrap()).unwrap();
    let rcond = Condition::new().unwrap();

    let guard = cond.lock().unwrap();
    let child = notify_once_waited(&cond);
    assert!(cond.wait(Some(PATIENCE)).unwrap(), "not notified");
    join_ok(&child);
    drop(guard);
    assert!(!cond.lock_handle().locked(), "the guard did not release");

    let outer = rcond.lock().unwrap();
    let inner = rcond.lock().unwrap();
    let child = notify_once_waited(&rcond);
    assert!(rcond.wait(Some(PATIENCE)).unwrap(), "not notified");
    join_ok(&child);
    assert_eq!(rcond.lock_handle().depth(), 2);
    drop(inner);
    drop(outer);
    assert!(!rcond.lock_handle().locked(), "the guards did not release");
}

#[test]
fn a_lock_api_guard_dropped_after_an_any_thread_release_and_reacquire_leaves_the_new_holder_alone()
{
    let _w = Watchdog::new("lock_api_guard", PATIENCE);
    let mutex = &Shared::new(Mutex::new(0u64)).unwrap();
    std::thread::scope(|s| {
        let (a_tx, a_rx) = mpsc::channel();
        let (drop_tx, drop_rx) = mpsc::channel::<()>();
        s.spawn(move || {
            let guard = mutex.lock();
            a_tx.send(()).unwrap();
            recv(&drop_rx);
            // Not dereferenced after B's release: C's guard has the data.
            drop(guard);
            a_tx.send(()).unwrap();
        });
        recv(&a_rx);

        // B releases A's hold through the raw lock, Python-style.
        // SAFETY: lock_api's caveat is that this can leave two guards
        // giving access to the data; A's guard is never dereferenced
        // again, so only C's ever touches it.
        let released: Result<(), NotHeld> = unsafe { mutex.raw() }.release();
        released.unwrap();

        let (c_tx, c_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let c = s.spawn(move || {
            let mut guard = mutex.try_lock_for(PATIENCE).expect("C acquires");
            *guard += 1;
            c_tx.send(()).unwrap();
            recv(&release_rx);
            *guard += 1;
        });
        recv(&c_rx);

        drop_tx.send(()).unwrap();
        recv(&a_rx);
        assert!(mutex.is_locked(), "the stale guard released C's hold");
        assert!(mutex.try_lock().is_none());
        release_tx.send(()).unwrap();
        c.join().unwrap();
    });
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.try_lock().expect("free after C's guard"), 2);
}
