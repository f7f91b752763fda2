//! Hostile bytes give errors or bounded waits, never panics, overflows or
//! spinning: an `RLock` whose bytes say the caller owns it `u32::MAX` (or 0)
//! times; on the POSIX-semaphore backend, a wait cell stuck "being
//! initialised" by a live thread, and one whose sleeper count says
//! `u32::MAX`. Every wait is bounded.

use shmsync::{Condition, RLock, TryLockError};
use shmsync_testkit::{Watchdog, PATIENCE};
use std::sync::atomic::Ordering;
use std::time::Duration;

mod raw_bytes;
use raw_bytes::rlock_count;

// The old `RLock` added one to the count with `+`: a debug build panicked
// at "attempt to add with overflow" on the first acquire below.
#[test]
fn an_rlock_whose_count_says_u32_max_saturates_instead_of_overflowing() {
    let _w = Watchdog::new("rlock_count_max", PATIENCE);
    let lock = RLock::new().unwrap();
    let count = rlock_count(lock.raw());
    assert!(lock.acquire(false, None).unwrap());
    count.store(u32::MAX, Ordering::SeqCst);
    assert_eq!(lock.depth(), u32::MAX);

    assert!(lock.acquire(false, None).unwrap());
    assert!(lock.acquire(true, None).unwrap());
    assert!(lock.acquire(true, Some(Duration::from_millis(1))).unwrap());
    let a = lock.try_lock().unwrap();
    let b = lock.try_lock_for(Duration::from_millis(1)).unwrap();
    let c = lock.lock().unwrap();
    assert_eq!(lock.depth(), u32::MAX, "saturated");

    // Other threads still find it owned.
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(lock.depth(), 0);
            assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
        });
    });

    lock.release().unwrap();
    assert_eq!(lock.depth(), u32::MAX - 1);
    drop(c);
    drop(b);
    drop(a);
    assert_eq!(lock.depth(), u32::MAX - 4);

    count.store(1, Ordering::SeqCst);
    lock.release().unwrap();
    assert!(!lock.locked());
    assert_eq!(lock.depth(), 0);
    assert!(lock.release().is_err());
}

#[test]
fn a_condition_wait_on_an_rlock_at_depth_u32_max_gives_the_depth_back() {
    let cond = Condition::new().unwrap();
    let count = rlock_count(cond.lock_handle().raw());
    assert!(cond.acquire(false, None).unwrap());
    count.store(u32::MAX, Ordering::SeqCst);
    assert!(!cond.wait(Some(Duration::from_millis(1))).unwrap());
    assert_eq!(cond.lock_handle().depth(), u32::MAX);
    count.store(1, Ordering::SeqCst);
    cond.release().unwrap();
    assert!(!cond.lock_handle().locked());
}

#[test]
fn an_rlock_owned_by_the_caller_with_a_count_of_0_counts_as_one_level() {
    let lock = RLock::new().unwrap();
    let count = rlock_count(lock.raw());
    assert!(lock.acquire(false, None).unwrap());
    count.store(0, Ordering::SeqCst);
    assert_eq!(lock.depth(), 1);
    assert!(lock.acquire(false, None).unwrap());
    assert_eq!(lock.depth(), 2);
    lock.release().unwrap();
    lock.release().unwrap();
    assert!(!lock.locked());
}

/// The POSIX-semaphore wait cell under hostile bytes.
#[cfg(feature = "posix-sem")]
mod posix_sem {
    use super::raw_bytes::{event_cell, event_word, thread_cpu_time, LiveThread, CELL_READY};
    use shmsync::Event;
    use shmsync_testkit::{wait_until, Watchdog, PATIENCE};
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    /// How much longer than asked a timed wait may take on a loaded machine
    /// before we call it stuck.
    const SLACK: Duration = Duration::from_secs(2);

    /// The most posts one wake may make (`sys::posix_sem::MAX_POSTS`).
    const MAX_POSTS: i32 = 1024;

    /// Bit 1 of an event's word: some thread may sleep on it.
    const SLEEPERS_BIT: u32 = 2;

    /// Runs a timed `event.wait(asked)` on this thread and checks that it
    /// returned false at its deadline, having used less CPU than half the
    /// time it took (it slept, it did not spin): a resource bound, not a
    /// speed one.
    #[track_caller]
    fn times_out_asleep(event: &Event, asked: Duration) {
        let cpu_before = thread_cpu_time();
        let start = Instant::now();
        let set = event.wait(Some(asked));
        let took = start.elapsed();
        let cpu = thread_cpu_time() - cpu_before;
        assert!(!set);
        assert!(took >= asked, "returned after {took:?}, before {asked:?}");
        assert!(took < asked + SLACK, "{asked:?} asked, took {took:?}");
        assert!(cpu < took / 2, "the wait spun: {cpu:?} of CPU in {took:?}");
    }

    // The old cell spun (yielding) while another thread initialised it,
    // at 100% CPU for as long as that thread stayed stopped.
    #[test]
    fn a_wait_on_a_cell_a_live_thread_is_initialising_naps_until_its_deadline() {
        let _w = Watchdog::new("cell_stuck_initialising", PATIENCE);
        let event = Event::new().unwrap();
        let cell = event_cell(event.raw());
        let live = LiveThread::spawn();
        cell.state.store(live.tid(), Ordering::SeqCst);

        times_out_asleep(&event, Duration::from_millis(50));
        assert_eq!(
            cell.state.load(Ordering::SeqCst),
            live.tid(),
            "a live initialiser's cell was taken from it"
        );
        // Setting needs no semaphore while nobody can sleep on it.
        event.set();
        assert!(event.wait(Some(Duration::ZERO)));
        event.clear();

        // The initialiser goes: the next waiter initialises the cell and
        // sleeps on it, and a set wakes it.
        live.end();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| event.wait(Some(PATIENCE)));
            wait_until(PATIENCE, "the waiter to sleep on a ready cell", || {
                cell.state.load(Ordering::SeqCst) == CELL_READY
                    && cell.sleepers.load(Ordering::SeqCst) == 1
            });
            event.set();
            assert!(waiter.join().unwrap());
        });
    }

    // The old cell posted once per counted sleeper: some four billion
    // posts here (the semaphore overflows long before).
    #[test]
    fn a_sleeper_count_of_u32_max_costs_at_most_1024_posts_and_waits_keep_their_deadline() {
        let _w = Watchdog::new("cell_sleepers_max", PATIENCE);
        let event = Event::new().unwrap();
        let cell = event_cell(event.raw());
        assert!(
            !event.wait(Some(Duration::from_millis(1))),
            "initialises the cell"
        );
        assert_eq!(cell.sem_value(), 0);
        cell.sleepers.store(u32::MAX, Ordering::SeqCst);
        event_word(event.raw()).fetch_or(SLEEPERS_BIT, Ordering::SeqCst);

        let start = Instant::now();
        event.set();
        let took = start.elapsed();
        assert!(took < SLACK, "set took {took:?}");
        assert_eq!(cell.sem_value(), MAX_POSTS);

        // The posts are nobody's: a timed wait takes them and still times
        // out at its deadline, asleep.
        event.clear();
        times_out_asleep(&event, Duration::from_millis(50));
        let left = cell.sem_value();
        assert!((0..=MAX_POSTS).contains(&left));
        // The next wake posts at most as many again.
        event_word(event.raw()).fetch_or(SLEEPERS_BIT, Ordering::SeqCst);
        event.set();
        assert!(cell.sem_value() <= left + MAX_POSTS);
    }
}
