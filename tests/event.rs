//! `Event` across real processes: set, clear, is_set, timed waits, waking
//! one and many waiters, and Python's rule that a `set` followed at once by
//! a `clear` still releases everyone who was waiting. Every wait is bounded.

use shmsync::raw::RawEvent;
use shmsync::{Event, Process, Shared};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How much longer than asked a timed wait may take on a loaded machine
/// before we call it broken.
const SLACK: Duration = Duration::from_secs(1);

/// What a child's wait returned: not yet, true, false.
const PENDING: u32 = 0;
const TRUE: u32 = 1;
const FALSE: u32 = 2;

fn verdict(b: bool) -> u32 {
    if b {
        TRUE
    } else {
        FALSE
    }
}

/// The event's state word, read from shared memory.
///
/// `RawEvent` is `#[repr(C)]` with the word as its first field, laid out
/// as its module documents: `sets << 2 | SLEEPERS | SET`. Tests read it to
/// know *for certain* that a waiter has gone to sleep (bit 1), instead of
/// sleeping and hoping.
fn word(event: &Event) -> u32 {
    let raw: &RawEvent = event.raw();
    let first = (raw as *const RawEvent).cast::<AtomicU32>();
    // SAFETY: `RawEvent` is `#[repr(C)]` and starts with its `AtomicU32`
    // word, so the pointer is aligned and points at an initialised atomic
    // inside the live mapping `event` keeps; we only load from it.
    unsafe { (*first).load(Ordering::SeqCst) }
}

/// Bit 0 of the word: the flag.
const SET_BIT: u32 = 1;
/// Bit 1 of the word: some thread may be asleep on it.
const SLEEPERS_BIT: u32 = 2;

fn someone_sleeps(event: &Event) -> bool {
    word(event) & SLEEPERS_BIT != 0
}

#[test]
fn the_word_read_by_these_tests_is_the_events_state() {
    // Guards the layout `word` relies on: if it changed, the tests that
    // poll for sleepers would be polling the wrong bits.
    let event = Event::new().unwrap();
    assert_eq!(word(&event), 0);
    event.set();
    assert_eq!(word(&event) & SET_BIT, SET_BIT);
    let after_one_set = word(&event) >> 2;
    event.clear();
    assert_eq!(word(&event) & SET_BIT, 0);
    event.set();
    event.clear();
    assert_eq!(word(&event) >> 2, after_one_set + 1);
}

#[test]
fn set_clear_and_is_set_are_seen_across_processes() {
    let _w = Watchdog::new("set_clear_is_set", PATIENCE);
    let event = Event::new().unwrap();
    assert!(!event.is_set());
    event.set();
    assert!(event.is_set());
    event.set();
    assert!(event.is_set(), "setting a set event keeps it set");

    let child = Process::spawn(|| {
        assert!(event.is_set());
        event.clear();
        assert!(!event.is_set());
    })
    .unwrap();
    join_ok(&child);
    assert!(!event.is_set());
    event.clear();
    assert!(!event.is_set(), "clearing a clear event keeps it clear");

    let child = Process::spawn(|| event.set()).unwrap();
    join_ok(&child);
    assert!(event.is_set());
}

#[test]
fn wait_returns_true_at_once_when_the_event_is_set() {
    let _w = Watchdog::new("wait_set", PATIENCE);
    let event = Event::new().unwrap();
    event.set();
    let start = Instant::now();
    assert!(event.wait(None));
    assert!(event.wait(Some(PATIENCE)));
    assert!(event.wait(Some(Duration::ZERO)));
    assert!(start.elapsed() < SLACK, "waits on a set event blocked");
    assert!(event.is_set(), "waiting does not clear");

    let took_us = Shared::new(AtomicU32::new(u32::MAX)).unwrap();
    let child = Process::spawn(|| {
        let start = Instant::now();
        assert!(event.wait(Some(PATIENCE)));
        assert!(event.wait(None));
        took_us.store(start.elapsed().as_micros() as u32, Ordering::SeqCst);
    })
    .unwrap();
    join_ok(&child);
    let took = Duration::from_micros(u64::from(took_us.load(Ordering::SeqCst)));
    assert!(
        took < SLACK,
        "the child's waits on a set event took {took:?}"
    );
}

#[test]
fn wait_returns_false_after_no_less_than_the_timeout_when_not_set() {
    let _w = Watchdog::new("wait_timeout", PATIENCE);
    let event = Event::new().unwrap();
    for asked in [
        Duration::from_millis(100),
        Duration::from_millis(30),
        Duration::ZERO,
    ] {
        let start = Instant::now();
        assert!(!event.wait(Some(asked)));
        let took = start.elapsed();
        assert!(took >= asked, "gave up after {took:?}, before {asked:?}");
        assert!(took < asked + SLACK, "{asked:?} asked, took {took:?}");
    }
    // A set and clear before the wait began does not count.
    event.set();
    event.clear();
    assert!(!event.wait(Some(Duration::from_millis(20))));

    let took_us = Shared::new(AtomicU32::new(0)).unwrap();
    let child = Process::spawn(|| {
        let start = Instant::now();
        assert!(!event.wait(Some(Duration::from_millis(80))));
        took_us.store(start.elapsed().as_micros() as u32, Ordering::SeqCst);
    })
    .unwrap();
    join_ok(&child);
    let took = Duration::from_micros(u64::from(took_us.load(Ordering::SeqCst)));
    assert!(
        took >= Duration::from_millis(80),
        "child gave up after {took:?}"
    );
    assert!(
        took < Duration::from_millis(80) + SLACK,
        "child took {took:?}"
    );
}

#[test]
fn a_set_in_a_child_wakes_the_parent_asleep_in_wait() {
    let _w = Watchdog::new("child_set_wakes_parent", PATIENCE);
    let event = Event::new().unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            // Set only once the parent is certainly asleep on the word.
            let start = Instant::now();
            while !someone_sleeps(&event) && start.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_micros(200));
            }
            event.set();
        })
        .unwrap(),
    );
    let start = Instant::now();
    assert!(event.wait(Some(PATIENCE)));
    assert!(start.elapsed() < PATIENCE);
    assert!(event.is_set());
    join_ok(&child);

    // The same through the untimed wait.
    event.clear();
    let child = KillOnDrop(
        Process::spawn(|| {
            let start = Instant::now();
            while !someone_sleeps(&event) && start.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_micros(200));
            }
            event.set();
        })
        .unwrap(),
    );
    assert!(event.wait(None));
    join_ok(&child);
}

/// Spawns `n` children that each bump `started`, wait on `event` for up to
/// `PATIENCE`, and record what the wait returned in `results[i]`.
fn waiters<'a>(
    n: usize,
    event: &'a Event,
    started: &'a AtomicU32,
    results: &'a [AtomicU32],
) -> Vec<KillOnDrop> {
    (0..n)
        .map(|i| {
            KillOnDrop(
                Process::spawn(move || {
                    started.fetch_add(1, Ordering::SeqCst);
                    results[i].store(verdict(event.wait(Some(PATIENCE))), Ordering::SeqCst);
                })
                .unwrap(),
            )
        })
        .collect()
}

#[test]
fn one_set_releases_every_waiting_process() {
    let _w = Watchdog::new("one_set_releases_all", PATIENCE);
    const N: usize = 5;
    let event = Event::new().unwrap();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; N]).unwrap();
    let children = waiters(N, &event, &started, &results[..]);
    wait_until(PATIENCE, "every child to start waiting", || {
        started.load(Ordering::SeqCst) == N as u32 && someone_sleeps(&event)
    });
    assert!(results.iter().all(|r| r.load(Ordering::SeqCst) == PENDING));
    event.set();
    for child in &children {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.load(Ordering::SeqCst), TRUE, "waiter {i}");
    }
    assert!(event.is_set());
}

#[test]
fn set_then_clear_at_once_still_releases_the_process_that_was_waiting() {
    let _w = Watchdog::new("set_then_clear", PATIENCE);
    let event = Event::new().unwrap();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 1]).unwrap();
    for round in 0..5 {
        started.store(0, Ordering::SeqCst);
        results[0].store(PENDING, Ordering::SeqCst);
        let child = waiters(1, &event, &started, &results[..]);
        // The sleeper bit is set by the waiter after it has taken its
        // snapshot of the word, so from here the set below is one it must
        // see, however briefly the flag stays up.
        wait_until(PATIENCE, "the child to sleep on the event", || {
            someone_sleeps(&event)
        });
        event.set();
        event.clear();
        assert!(!event.is_set());
        assert_eq!(join_within(&child[0], Duration::from_secs(10)), 0);
        assert_eq!(
            results[0].load(Ordering::SeqCst),
            TRUE,
            "round {round}: a waiter missed a set that was cleared at once"
        );
    }
    // A waiter that begins after the set and clear waits for the next set.
    assert!(!event.wait(Some(Duration::from_millis(30))));
}

// On the pthread backend the second set below hangs: once the dead waiter's
// group has been signalled, glibc's next `pthread_cond_broadcast` (with new
// waiters queued) waits in `__condvar_quiesce_and_switch_g1` for the dead
// waiter to leave that group, forever, holding the wait cell's mutex.
#[test]
fn a_waiter_killed_in_its_sleep_does_not_stop_set_from_waking_the_others() {
    let _w = Watchdog::new("killed_waiter", PATIENCE);
    const N: usize = 3;
    let event = Event::new().unwrap();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; N]).unwrap();
    let children = waiters(N, &event, &started, &results[..]);
    wait_until(PATIENCE, "every child to start waiting", || {
        started.load(Ordering::SeqCst) == N as u32 && someone_sleeps(&event)
    });
    // Let every waiter reach its sleep (not needed for the verdict: a
    // waiter still spinning is released all the same).
    std::thread::sleep(Duration::from_millis(50));
    children[0].kill().unwrap();
    assert_eq!(join_within(&children[0], PATIENCE), -libc::SIGKILL);

    // Set from a child, so that a set that hangs fails the test instead of
    // hanging it.
    let set_us = Shared::new(AtomicU32::new(u32::MAX)).unwrap();
    let setter = Process::spawn(|| {
        let start = Instant::now();
        event.set();
        set_us.store(start.elapsed().as_micros() as u32, Ordering::SeqCst);
    })
    .unwrap();
    assert_eq!(
        join_within(&setter, Duration::from_secs(10)),
        0,
        "set hung after a waiter died"
    );
    let took = Duration::from_micros(u64::from(set_us.load(Ordering::SeqCst)));
    assert!(took < SLACK, "set took {took:?} after a waiter died");
    for child in &children[1..] {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    for r in &results[1..] {
        assert_eq!(r.load(Ordering::SeqCst), TRUE);
    }

    // The event still works for new waiters afterwards.
    event.clear();
    started.store(0, Ordering::SeqCst);
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = waiters(2, &event, &started, &results[..]);
    wait_until(PATIENCE, "the new children to start waiting", || {
        started.load(Ordering::SeqCst) == 2 && someone_sleeps(&event)
    });
    let setter = Process::spawn(|| event.set()).unwrap();
    assert_eq!(join_within(&setter, Duration::from_secs(10)), 0);
    for child in &children {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    assert!(results.iter().all(|r| r.load(Ordering::SeqCst) == TRUE));
}

#[test]
fn a_set_before_the_wait_is_seen_by_a_process_forked_later() {
    let _w = Watchdog::new("set_before_fork", PATIENCE);
    let event = Event::new().unwrap();
    event.set();
    let child = Process::spawn(|| {
        assert!(event.is_set());
        assert!(event.wait(Some(Duration::ZERO)));
    })
    .unwrap();
    join_ok(&child);
}
