//! `Barrier` across real processes: arrival indexes, the action, lockstep
//! passes, abort, reset, time-outs, parties that die inside `wait`, and
//! actions that panic. Every wait is bounded.

use shmsync::raw::BrokenBarrier;
use shmsync::{Barrier, Process, Shared};
use shmsync_testkit::{
    die_with_parent, join_ok, join_within, stop, wait_until, KillOnDrop, Watchdog, PATIENCE,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How much longer than asked a timed wait may take on a loaded machine
/// before we call it broken.
const SLACK: Duration = Duration::from_secs(1);

/// How soon the parties still waiting must hear that one of them died.
const DEATH_NOTICED_WITHIN: Duration = Duration::from_secs(5);

/// What a child's `wait` returned: not yet, broken, or `PASSED + index`.
const PENDING: u32 = 0;
const BROKEN: u32 = 1;
const PASSED: u32 = 100;

fn outcome(result: Result<u32, BrokenBarrier>) -> u32 {
    match result {
        Ok(index) => PASSED + index,
        Err(BrokenBarrier) => BROKEN,
    }
}

/// A child that waits once on `barrier` (up to `timeout`) and records the
/// outcome in `result`.
fn party<'a>(barrier: &'a Barrier, timeout: Duration, result: &'a AtomicU32) -> KillOnDrop {
    KillOnDrop(
        Process::spawn(move || {
            result.store(outcome(barrier.wait(Some(timeout))), Ordering::SeqCst);
        })
        .unwrap(),
    )
}

/// Spawns one waiting party per slot of `results`, one after the other,
/// each only once the previous is counted as waiting: arrival `i` is
/// `results[i]`'s child.
fn parties_in_order<'a>(
    barrier: &'a Barrier,
    timeout: Duration,
    results: &'a [AtomicU32],
) -> Vec<KillOnDrop> {
    let already = barrier.n_waiting();
    results
        .iter()
        .enumerate()
        .map(|(i, result)| {
            let child = party(barrier, timeout, result);
            wait_until(PATIENCE, "the party to arrive", || {
                barrier.n_waiting() == already + i as u32 + 1
            });
            child
        })
        .collect()
}

#[test]
fn wait_returns_distinct_arrival_indexes_from_0_to_parties_minus_1() {
    let _w = Watchdog::new("distinct_indexes", PATIENCE);
    const PARTIES: u32 = 4;
    const PASSES: usize = 50;
    let barrier = Barrier::new(PARTIES).unwrap();
    assert_eq!(barrier.parties(), PARTIES);
    let seen = Shared::new([const { AtomicU32::new(0) }; PASSES]).unwrap();
    let errors = Shared::new(AtomicU32::new(0)).unwrap();
    let children: Vec<_> = (0..PARTIES)
        .map(|_| {
            Process::spawn(|| {
                for pass in seen.iter() {
                    match barrier.wait(Some(PATIENCE)) {
                        Ok(index) if index < PARTIES => {
                            let before = pass.fetch_or(1 << index, Ordering::SeqCst);
                            if before & (1 << index) != 0 {
                                errors.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            })
            .unwrap()
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(errors.load(Ordering::SeqCst), 0);
    for (i, pass) in seen.iter().enumerate() {
        assert_eq!(pass.load(Ordering::SeqCst), 0b1111, "pass {i}");
    }
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
}

/// The shared record of who ran the action, and how often.
#[repr(C)]
struct ActionLog {
    trips: AtomicU32,
    runner_pid: AtomicU32,
    errors: AtomicU32,
}
// SAFETY: three atomics: no pointers, any bytes valid, no Drop.
unsafe impl shmsync::ShmSafe for ActionLog {}

#[test]
fn the_action_runs_once_per_trip_in_the_last_party_before_any_party_is_released() {
    let _w = Watchdog::new("action_once", PATIENCE);
    const PARTIES: u32 = 3;
    const PASSES: u32 = 100;
    let log = Shared::new(ActionLog {
        trips: AtomicU32::new(0),
        runner_pid: AtomicU32::new(0),
        errors: AtomicU32::new(0),
    })
    .unwrap();
    let barrier = Barrier::new(PARTIES).unwrap().with_action({
        let log = log.clone();
        move || {
            log.trips.fetch_add(1, Ordering::SeqCst);
            log.runner_pid.store(std::process::id(), Ordering::SeqCst);
        }
    });
    let children: Vec<_> = (0..PARTIES)
        .map(|_| {
            Process::spawn(|| {
                for pass in 1..=PASSES {
                    let Ok(index) = barrier.wait(Some(PATIENCE)) else {
                        log.errors.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    // Released only after this trip's action, and the next
                    // trip needs this party: the count is exactly `pass`.
                    if log.trips.load(Ordering::SeqCst) != pass {
                        log.errors.fetch_add(1, Ordering::SeqCst);
                    }
                    // Python: the party with the last index runs the action.
                    let ran_it = log.runner_pid.load(Ordering::SeqCst) == std::process::id();
                    if ran_it != (index == PARTIES - 1) {
                        log.errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
            .unwrap()
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    assert_eq!(log.errors.load(Ordering::SeqCst), 0);
    assert_eq!(log.trips.load(Ordering::SeqCst), PASSES);
}

#[test]
fn five_processes_pass_a_barrier_1000_times_in_lockstep() {
    let _w = Watchdog::new("lockstep", PATIENCE);
    const PARTIES: usize = 5;
    const PASSES: usize = 1000;
    let trips = Shared::new(AtomicU32::new(0)).unwrap();
    let barrier = Barrier::new(PARTIES as u32).unwrap().with_action({
        let trips = trips.clone();
        move || {
            trips.fetch_add(1, Ordering::SeqCst);
        }
    });
    // The pass each party has reached, and per pass the indexes handed out.
    let reached = Shared::new([const { AtomicU32::new(0) }; PARTIES]).unwrap();
    let indexes = Shared::new([const { AtomicU32::new(0) }; PASSES]).unwrap();
    let errors = Shared::new(AtomicU32::new(0)).unwrap();
    let start = Instant::now();
    let children: Vec<_> = (0..PARTIES)
        .map(|me| {
            let (barrier, reached, indexes, errors, trips) =
                (&barrier, &reached, &indexes, &errors, &trips);
            Process::spawn(move || {
                for pass in 1..=PASSES as u32 {
                    reached[me].store(pass, Ordering::SeqCst);
                    let Ok(index) = barrier.wait(Some(PATIENCE)) else {
                        errors.fetch_add(1, Ordering::SeqCst);
                        return;
                    };
                    indexes[pass as usize - 1].fetch_or(1 << index, Ordering::SeqCst);
                    if trips.load(Ordering::SeqCst) != pass {
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                    // Everyone has reached this pass (they recorded it before
                    // arriving), and nobody is past the next one (that needs
                    // this party to arrive again).
                    for other in reached.iter() {
                        let theirs = other.load(Ordering::SeqCst);
                        if theirs < pass || theirs > pass + 1 {
                            errors.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
            .unwrap()
        })
        .collect();
    for child in &children {
        join_ok(child);
    }
    let took = start.elapsed();
    assert_eq!(errors.load(Ordering::SeqCst), 0, "out of step ({took:?})");
    assert_eq!(trips.load(Ordering::SeqCst), PASSES as u32);
    for (pass, seen) in indexes.iter().enumerate() {
        assert_eq!(seen.load(Ordering::SeqCst), 0b11111, "pass {}", pass + 1);
    }
    assert!(reached
        .iter()
        .all(|r| r.load(Ordering::SeqCst) == PASSES as u32));
}

#[test]
fn n_waiting_counts_the_parties_waiting_now_and_parties_the_total() {
    let _w = Watchdog::new("n_waiting", PATIENCE);
    let barrier = Barrier::new(3).unwrap();
    assert_eq!(barrier.parties(), 3);
    assert_eq!(barrier.n_waiting(), 0);
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    assert_eq!(barrier.n_waiting(), 2);
    assert_eq!(
        barrier.wait(Some(PATIENCE)),
        Ok(2),
        "the parent arrived last"
    );
    for child in &children {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    assert_eq!(results[0].load(Ordering::SeqCst), PASSED);
    assert_eq!(results[1].load(Ordering::SeqCst), PASSED + 1);
    assert_eq!(barrier.n_waiting(), 0);
    let child = Process::spawn(|| {
        assert_eq!(barrier.parties(), 3);
        assert_eq!(barrier.n_waiting(), 0);
    })
    .unwrap();
    join_ok(&child);
}

#[test]
fn a_barrier_of_one_never_blocks() {
    let _w = Watchdog::new("barrier_of_one", PATIENCE);
    let trips = Shared::new(AtomicU32::new(0)).unwrap();
    let barrier = Barrier::new(1).unwrap().with_action({
        let trips = trips.clone();
        move || {
            trips.fetch_add(1, Ordering::SeqCst);
        }
    });
    let start = Instant::now();
    for _ in 0..100 {
        assert_eq!(barrier.wait(None), Ok(0));
    }
    assert_eq!(barrier.wait(Some(Duration::ZERO)), Ok(0));
    assert!(start.elapsed() < SLACK);
    assert_eq!(trips.load(Ordering::SeqCst), 101);
    let child = Process::spawn(|| {
        for _ in 0..100 {
            assert_eq!(barrier.wait(None), Ok(0));
        }
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(trips.load(Ordering::SeqCst), 201);
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn abort_breaks_the_barrier_for_current_and_later_waiters_until_reset() {
    let _w = Watchdog::new("abort", PATIENCE);
    let barrier = Barrier::new(3).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    barrier.abort();
    for child in &children {
        assert_eq!(join_within(child, DEATH_NOTICED_WITHIN), 0);
    }
    assert!(results.iter().all(|r| r.load(Ordering::SeqCst) == BROKEN));
    assert!(barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);

    // Later waiters, here and in other processes, fail at once.
    let start = Instant::now();
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    assert_eq!(barrier.wait(None), Err(BrokenBarrier));
    assert!(start.elapsed() < SLACK);
    let child = Process::spawn(|| {
        assert!(barrier.broken());
        assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    })
    .unwrap();
    assert_eq!(join_within(&child, Duration::from_secs(10)), 0);
    barrier.abort();
    assert!(
        barrier.broken(),
        "aborting a broken barrier keeps it broken"
    );

    barrier.reset().unwrap();
    assert!(!barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    assert_eq!(barrier.wait(Some(PATIENCE)), Ok(2));
    for child in &children {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    assert_eq!(results[0].load(Ordering::SeqCst), PASSED);
    assert_eq!(results[1].load(Ordering::SeqCst), PASSED + 1);
}

#[test]
fn abort_from_a_child_breaks_the_barrier_for_the_waiting_parent() {
    let _w = Watchdog::new("abort_from_child", PATIENCE);
    let barrier = Barrier::new(2).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let start = Instant::now();
            while barrier.n_waiting() == 0 && start.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_micros(200));
            }
            barrier.abort();
        })
        .unwrap(),
    );
    let start = Instant::now();
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    assert!(start.elapsed() < PATIENCE);
    join_ok(&child);
    assert!(barrier.broken());
}

#[test]
fn reset_fails_the_current_waiters_and_leaves_the_barrier_usable() {
    let _w = Watchdog::new("reset", PATIENCE);
    let barrier = Barrier::new(3).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    barrier.reset().unwrap();
    for child in &children {
        assert_eq!(join_within(child, DEATH_NOTICED_WITHIN), 0);
    }
    assert!(results.iter().all(|r| r.load(Ordering::SeqCst) == BROKEN));
    assert!(
        !barrier.broken(),
        "Python: reset leaves the barrier unbroken"
    );
    assert_eq!(barrier.n_waiting(), 0);

    // Usable again at once, with fresh indexes.
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    assert_eq!(barrier.wait(Some(PATIENCE)), Ok(2));
    for child in &children {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    assert_eq!(results[0].load(Ordering::SeqCst), PASSED);
    assert_eq!(results[1].load(Ordering::SeqCst), PASSED + 1);
}

#[test]
fn a_timed_out_wait_breaks_the_barrier_for_every_waiting_party() {
    let _w = Watchdog::new("timeout_breaks", PATIENCE);
    let barrier = Barrier::new(4).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    let asked = Duration::from_millis(100);
    let start = Instant::now();
    assert_eq!(barrier.wait(Some(asked)), Err(BrokenBarrier));
    let took = start.elapsed();
    assert!(took >= asked, "gave up after {took:?}, before {asked:?}");
    assert!(took < asked + SLACK, "{asked:?} asked, took {took:?}");
    for child in &children {
        assert_eq!(join_within(child, DEATH_NOTICED_WITHIN), 0);
    }
    assert!(
        results.iter().all(|r| r.load(Ordering::SeqCst) == BROKEN),
        "the other waiting processes got the error too"
    );
    assert!(barrier.broken());
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    barrier.reset().unwrap();
    assert!(!barrier.broken());

    // A child's time-out breaks it for the waiting parent just the same.
    let result = Shared::new(AtomicU32::new(PENDING)).unwrap();
    let child = party(&barrier, Duration::from_millis(50), &result);
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    assert_eq!(join_within(&child, Duration::from_secs(10)), 0);
    assert_eq!(result.load(Ordering::SeqCst), BROKEN);
    assert!(barrier.broken());
}

#[test]
fn the_timeout_given_at_creation_applies_to_a_wait_without_one() {
    let _w = Watchdog::new("default_timeout", PATIENCE);
    let asked = Duration::from_millis(60);
    let barrier = Barrier::new(2).unwrap().with_timeout(asked);
    let start = Instant::now();
    assert_eq!(barrier.wait(None), Err(BrokenBarrier));
    let took = start.elapsed();
    assert!(took >= asked, "gave up after {took:?}, before {asked:?}");
    assert!(took < asked + SLACK, "{asked:?} asked, took {took:?}");
    assert!(barrier.broken());
    barrier.reset().unwrap();

    // A timeout passed to wait wins over the default.
    let result = Shared::new(AtomicU32::new(PENDING)).unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            result.store(outcome(barrier.wait(Some(PATIENCE))), Ordering::SeqCst);
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to wait", || barrier.n_waiting() == 1);
    // Longer than the default: the child's wait must still be there.
    std::thread::sleep(asked * 3);
    assert!(
        !barrier.broken(),
        "the child used the default, not its timeout"
    );
    assert_eq!(barrier.wait(None), Ok(1));
    assert_eq!(join_within(&child, Duration::from_secs(10)), 0);
    assert_eq!(result.load(Ordering::SeqCst), PASSED);
}

/// Runs `f` in a child and waits at most ten seconds for it: for calls
/// that may hang (and must then fail the test, not stall it).
#[track_caller]
fn in_a_child(what: &str, f: impl FnOnce()) {
    let child = Process::spawn(f).unwrap();
    assert_eq!(join_within(&child, Duration::from_secs(10)), 0, "{what}");
}

// On the pthread backend a survivor that notices the death hangs in glibc's
// `pthread_cond_broadcast` (`__condvar_quiesce_and_switch_g1`), waiting for
// the dead sleeper, when it breaks the barrier or a later reset wakes the
// sleepers. Whatever may broadcast runs in a child here, so that a hang
// fails the test instead of stalling it.
#[test]
fn a_party_killed_inside_wait_breaks_the_barrier_for_the_others() {
    let _w = Watchdog::new("killed_party", PATIENCE);
    // Kill the first arrival, then one in the middle.
    for victim in [0, 1] {
        let barrier = Barrier::new(4).unwrap();
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 3]).unwrap();
        let children = parties_in_order(&barrier, PATIENCE, &results[..]);
        // Let every party reach its sleep (not needed for the verdict).
        std::thread::sleep(Duration::from_millis(50));
        children[victim].kill().unwrap();
        let killed = Instant::now();
        for (i, child) in children.iter().enumerate() {
            if i != victim {
                assert_eq!(
                    join_within(child, DEATH_NOTICED_WITHIN),
                    0,
                    "victim {victim}: party {i}"
                );
                assert_eq!(results[i].load(Ordering::SeqCst), BROKEN, "party {i}");
            }
        }
        let took = killed.elapsed();
        assert!(
            took < DEATH_NOTICED_WITHIN,
            "the death was noticed after {took:?}"
        );
        assert_eq!(join_within(&children[victim], PATIENCE), -libc::SIGKILL);
        assert!(barrier.broken());
        assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));

        // Reset, the barrier works again.
        in_a_child("reset after a death", || barrier.reset().unwrap());
        assert!(!barrier.broken());
        let results = Shared::new([const { AtomicU32::new(PENDING) }; 4]).unwrap();
        let children = parties_in_order(&barrier, PATIENCE, &results[..3]);
        let last = party(&barrier, PATIENCE, &results[3]);
        for child in children.iter().chain([&last]) {
            assert_eq!(join_within(child, Duration::from_secs(10)), 0);
        }
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.load(Ordering::SeqCst), PASSED + i as u32);
        }
    }
}

#[test]
fn a_party_killed_inside_wait_as_the_latest_arrival_breaks_the_barrier_for_the_others() {
    let _w = Watchdog::new("killed_latest_party", PATIENCE);
    let barrier = Barrier::new(4).unwrap();
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 3]).unwrap();
    // The survivors' own time-out, longer than the bound asserted below.
    let children = parties_in_order(&barrier, Duration::from_secs(20), &results[..]);
    std::thread::sleep(Duration::from_millis(50));
    children[2].kill().unwrap();
    for (i, child) in children[..2].iter().enumerate() {
        assert_eq!(
            join_within(child, DEATH_NOTICED_WITHIN),
            0,
            "party {i} still waits for a dead party"
        );
        assert_eq!(results[i].load(Ordering::SeqCst), BROKEN);
    }
    assert!(barrier.broken());
}

/// Whether process `pid` is asleep (state `S` in `/proc/<pid>/stat`).
fn is_asleep(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(") ")?.1.starts_with('S')))
        .unwrap_or(false)
}

/// A party of `barrier` (its first, alone) that waits `waits` times, once
/// it is asleep in its first wait. Asleep: `n_waiting` counts it while it
/// still holds the internal lock in `arrive`, where a stop would hold up
/// the other parties.
fn asleep_in_wait(barrier: &Barrier, waits: usize) -> KillOnDrop {
    let victim = KillOnDrop(
        Process::spawn(|| {
            die_with_parent();
            for _ in 0..waits {
                let _ = barrier.wait(Some(PATIENCE));
            }
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the victim to sleep in its wait", || {
        barrier.n_waiting() == 1 && is_asleep(victim.pid())
    });
    victim
}

/// A wait of the next generation (in a child: it may broadcast, see
/// above) breaks at the first look instead of waiting for a party that
/// died inside the barrier until its 20 s time-out.
#[track_caller]
fn the_next_wait_breaks_promptly(barrier: &Barrier) {
    in_a_child("the wait after the death", || {
        let start = Instant::now();
        assert_eq!(
            barrier.wait(Some(Duration::from_secs(20))),
            Err(BrokenBarrier)
        );
        let took = start.elapsed();
        assert!(
            took < DEATH_NOTICED_WITHIN,
            "the death was noticed after {took:?}"
        );
    });
    assert!(barrier.broken());
}

#[test]
fn a_party_killed_after_the_trip_before_its_wait_returned_breaks_the_next_generation() {
    let _w = Watchdog::new("killed_leaving", PATIENCE);
    let barrier = Barrier::new(2).unwrap();
    let victim = asleep_in_wait(&barrier, 2);
    // Stopped asleep in its wait, the generation trips, and it dies before
    // its wait returns: inside the barrier.
    stop(victim.pid());
    assert_eq!(barrier.wait(Some(PATIENCE)), Ok(1));
    victim.kill().unwrap();
    assert_eq!(join_within(&victim, PATIENCE), -libc::SIGKILL);
    // The survivor's next wait would wait for it until its time-out.
    the_next_wait_breaks_promptly(&barrier);
}

#[test]
fn a_generation_that_fills_up_before_a_death_is_seen_trips_and_the_next_one_breaks() {
    let _w = Watchdog::new("dead_before_the_trip", PATIENCE);
    let barrier = Barrier::new(2).unwrap();
    let victim = asleep_in_wait(&barrier, 1);
    victim.kill().unwrap();
    assert_eq!(join_within(&victim, PATIENCE), -libc::SIGKILL);
    // Dead and reaped, but no waiter has asked the kernel about it: the
    // last arrival trips the generation with the dead party counted, as
    // Python's barrier always does.
    assert_eq!(barrier.wait(Some(PATIENCE)), Ok(1));
    // The dead party never left: the next generation breaks at its first
    // look instead of waiting for it until the time-out.
    the_next_wait_breaks_promptly(&barrier);
}

#[test]
fn a_party_that_dies_after_its_wait_returned_breaks_nothing() {
    let _w = Watchdog::new("died_outside", PATIENCE);
    let barrier = Barrier::new(2).unwrap();
    let party = KillOnDrop(
        Process::spawn(|| {
            assert!(barrier.wait(Some(PATIENCE)).is_ok());
            // Outside the barrier now: its death is nobody's business.
            // SAFETY: _exit ends the process at once.
            unsafe { libc::_exit(0) }
        })
        .unwrap(),
    );
    assert!(barrier.wait(Some(PATIENCE)).is_ok());
    join_ok(&party);
    // The next generation waits for a second party until its time-out,
    // without taking the exited one for a party that died inside.
    let timeout = Duration::from_millis(400);
    in_a_child("the wait after the exit", || {
        let start = Instant::now();
        assert_eq!(barrier.wait(Some(timeout)), Err(BrokenBarrier));
        let took = start.elapsed();
        assert!(
            took >= timeout,
            "the barrier broke after {took:?}, before the time-out"
        );
    });
}

#[test]
fn an_action_that_panics_breaks_the_barrier_and_the_panic_goes_on_in_its_party() {
    let _w = Watchdog::new("action_panics", PATIENCE);
    let barrier = Barrier::new(3)
        .unwrap()
        .with_action(|| panic!("deliberate panic in the action"));
    let results = Shared::new([const { AtomicU32::new(PENDING) }; 2]).unwrap();
    let children = parties_in_order(&barrier, PATIENCE, &results[..]);
    // The parent arrives last, so it runs the action.
    let panic = catch_unwind(AssertUnwindSafe(|| barrier.wait(Some(PATIENCE))))
        .expect_err("the action's panic reaches the party that ran it");
    assert_eq!(
        panic.downcast_ref::<&str>().copied(),
        Some("deliberate panic in the action")
    );
    for child in &children {
        assert_eq!(join_within(child, DEATH_NOTICED_WITHIN), 0);
    }
    assert!(results.iter().all(|r| r.load(Ordering::SeqCst) == BROKEN));
    assert!(barrier.broken());
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
}

#[test]
fn an_action_that_panics_in_a_child_party_ends_that_child_with_code_1() {
    let _w = Watchdog::new("action_panics_in_child", PATIENCE);
    // `resume_unwind` unwinds like a panic without running the panic hook,
    // so the forked child prints nothing.
    let barrier = Barrier::new(2)
        .unwrap()
        .with_action(|| std::panic::resume_unwind(Box::new("deliberate")));
    let last = KillOnDrop(
        Process::spawn(|| {
            let start = Instant::now();
            while barrier.n_waiting() == 0 && start.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_micros(200));
            }
            let _ = barrier.wait(Some(PATIENCE));
        })
        .unwrap(),
    );
    let start = Instant::now();
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    assert!(start.elapsed() < PATIENCE);
    assert_eq!(join_within(&last, Duration::from_secs(10)), 1);
    assert!(barrier.broken());
}
