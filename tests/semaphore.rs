//! `Semaphore` and `BoundedSemaphore` across real processes: blocking,
//! non-blocking and timed acquires, guards, bounds on release, and how many
//! processes can be inside at once. Every wait is bounded.

use shmsync::raw::{ReleasedTooManyTimes, SEM_VALUE_MAX};
use shmsync::{BoundedSemaphore, Process, Semaphore, Shared};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How much longer than asked a timed wait may take on a loaded machine
/// before we call it broken.
const SLACK: Duration = Duration::from_secs(1);

/// Asserts that a call that timed out after `asked` took no less than
/// `asked`, and not absurdly more.
#[track_caller]
fn assert_timed_out_after(asked: Duration, took: Duration) {
    assert!(
        took >= asked,
        "gave up after {took:?}, before the {asked:?} asked"
    );
    assert!(took < asked + SLACK, "{asked:?} asked, took {took:?}");
}

/// A child that holds one unit of `sem` (through a guard) until `leave` is
/// non-zero, after bumping `holding`.
fn holder<'a>(sem: &'a Semaphore, holding: &'a AtomicU32, leave: &'a AtomicU32) -> KillOnDrop {
    KillOnDrop(
        Process::spawn(move || {
            let _unit = sem.access();
            holding.fetch_add(1, Ordering::SeqCst);
            let start = Instant::now();
            while leave.load(Ordering::SeqCst) == 0 && start.elapsed() < PATIENCE {
                std::thread::sleep(Duration::from_micros(200));
            }
        })
        .unwrap(),
    )
}

#[test]
fn non_blocking_acquire_takes_units_until_none_are_left() {
    let _w = Watchdog::new("non_blocking_acquire", PATIENCE);
    let sem = Semaphore::new(2).unwrap();
    assert_eq!(sem.get_value(), 2);
    assert!(sem.acquire(false, None));
    assert!(sem.acquire(false, None));
    assert_eq!(sem.get_value(), 0);
    // Python: with block=False the timeout is ignored.
    let start = Instant::now();
    assert!(!sem.acquire(false, Some(Duration::from_secs(30))));
    assert!(start.elapsed() < SLACK, "a non-blocking acquire waited");
    sem.release().unwrap();
    assert_eq!(sem.get_value(), 1);
    assert!(sem.acquire(false, None));
    assert!(!sem.acquire(false, None));
}

#[test]
fn zero_timeout_is_a_single_try() {
    let _w = Watchdog::new("zero_timeout", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    let start = Instant::now();
    assert!(!sem.acquire(true, Some(Duration::ZERO)));
    assert!(start.elapsed() < SLACK, "a zero timeout waited");
    assert_eq!(sem.get_value(), 0);
    sem.release().unwrap();
    assert!(sem.acquire(true, Some(Duration::ZERO)));
    assert_eq!(sem.get_value(), 0);
    sem.release().unwrap();
    let guard = sem.try_access_for(Duration::ZERO);
    assert!(guard.is_some());
    assert_eq!(sem.get_value(), 0);
    drop(guard);
    assert_eq!(sem.get_value(), 1);
}

#[test]
fn timed_acquire_on_an_empty_semaphore_returns_false_after_no_less_than_the_timeout() {
    let _w = Watchdog::new("timed_acquire_empty", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    for asked in [Duration::from_millis(100), Duration::from_millis(30)] {
        let start = Instant::now();
        assert!(!sem.acquire(true, Some(asked)));
        assert_timed_out_after(asked, start.elapsed());
    }
    assert_eq!(sem.get_value(), 0);

    // The same in a child, which reports how long it waited.
    let waited_us = Shared::new(AtomicU32::new(0)).unwrap();
    let child = Process::spawn(|| {
        let start = Instant::now();
        assert!(!sem.acquire(true, Some(Duration::from_millis(80))));
        waited_us.store(start.elapsed().as_micros() as u32, Ordering::SeqCst);
    })
    .unwrap();
    join_ok(&child);
    let waited = Duration::from_micros(u64::from(waited_us.load(Ordering::SeqCst)));
    assert_timed_out_after(Duration::from_millis(80), waited);
}

#[test]
fn timed_acquire_gives_up_while_another_process_holds_the_only_unit() {
    let _w = Watchdog::new("timed_acquire_held", PATIENCE);
    let sem = BoundedSemaphore::new(1).unwrap();
    let holding = Shared::new(AtomicU32::new(0)).unwrap();
    let leave = Shared::new(AtomicU32::new(0)).unwrap();
    let child = holder(&sem, &holding, &leave);
    wait_until(PATIENCE, "the child to hold the unit", || {
        holding.load(Ordering::SeqCst) == 1
    });
    assert_eq!(sem.get_value(), 0);
    let asked = Duration::from_millis(100);
    let start = Instant::now();
    assert!(!sem.acquire(true, Some(asked)));
    assert_timed_out_after(asked, start.elapsed());
    assert!(!sem.acquire(false, None));

    leave.store(1, Ordering::SeqCst);
    let guard = sem.try_access_for(PATIENCE).expect("the unit comes back");
    assert_eq!(sem.get_value(), 0);
    drop(guard);
    join_ok(&child);
    assert_eq!(sem.get_value(), 1);
}

#[test]
fn a_release_in_one_process_wakes_a_blocked_acquirer_in_another() {
    let _w = Watchdog::new("release_wakes_child", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    let about_to_wait = Shared::new(AtomicU32::new(0)).unwrap();
    let got = Shared::new(AtomicU32::new(0)).unwrap();
    let acquirer = KillOnDrop(
        Process::spawn(|| {
            about_to_wait.store(1, Ordering::SeqCst);
            let ok = sem.acquire(true, Some(PATIENCE));
            got.store(if ok { 1 } else { 2 }, Ordering::SeqCst);
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to start acquiring", || {
        about_to_wait.load(Ordering::SeqCst) == 1
    });
    // Not needed for correctness: makes it likely the child is asleep in
    // the kernel, not spinning, when the release comes.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(got.load(Ordering::SeqCst), 0, "acquired an empty semaphore");
    sem.release().unwrap();
    assert_eq!(join_within(&acquirer, Duration::from_secs(10)), 0);
    assert_eq!(got.load(Ordering::SeqCst), 1, "child's acquire failed");
    assert_eq!(sem.get_value(), 0);
}

#[test]
fn a_release_in_a_child_wakes_the_blocked_parent() {
    let _w = Watchdog::new("release_wakes_parent", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    let child = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        sem.release().unwrap();
    })
    .unwrap();
    // Blocking, no timeout: the child's release is what ends it (the
    // watchdog bounds the test).
    assert!(sem.acquire(true, None));
    join_ok(&child);
    assert_eq!(sem.get_value(), 0);

    let child = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(20));
        sem.release().unwrap();
    })
    .unwrap();
    let guard = sem.access();
    join_ok(&child);
    drop(guard);
    assert_eq!(sem.get_value(), 1);
}

#[test]
fn releases_wake_as_many_blocked_processes_as_units_released() {
    let _w = Watchdog::new("releases_wake_many", PATIENCE);
    const N: u32 = 4;
    let sem = Semaphore::new(0).unwrap();
    let started = Shared::new(AtomicU32::new(0)).unwrap();
    let got = Shared::new(AtomicU32::new(0)).unwrap();
    let children: Vec<_> = (0..N)
        .map(|_| {
            KillOnDrop(
                Process::spawn(|| {
                    started.fetch_add(1, Ordering::SeqCst);
                    if sem.acquire(true, Some(PATIENCE)) {
                        got.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    wait_until(PATIENCE, "every child to start acquiring", || {
        started.load(Ordering::SeqCst) == N
    });
    sem.release().unwrap();
    sem.release().unwrap();
    wait_until(PATIENCE, "two children to get a unit", || {
        got.load(Ordering::SeqCst) == 2
    });
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(got.load(Ordering::SeqCst), 2, "two releases, more acquires");
    assert_eq!(sem.get_value(), 0);
    sem.release().unwrap();
    sem.release().unwrap();
    for child in &children {
        assert_eq!(join_within(child, Duration::from_secs(10)), 0);
    }
    assert_eq!(got.load(Ordering::SeqCst), N);
    assert_eq!(sem.get_value(), 0);
}

/// Counters the contending children keep.
#[repr(C)]
struct Inside {
    now: AtomicU32,
    most: AtomicU32,
    entries: AtomicU32,
}
// SAFETY: three atomics: no pointers, any bytes valid, no Drop.
unsafe impl shmsync::ShmSafe for Inside {}

#[test]
fn at_no_time_are_more_than_k_of_n_contending_processes_inside_a_semaphore_of_k() {
    let _w = Watchdog::new("max_concurrency", PATIENCE);
    const K: u32 = 3;
    const N: u32 = 6;
    const ROUNDS: u32 = 400;
    let sem = Semaphore::new(K).unwrap();
    let inside = Shared::new(Inside {
        now: AtomicU32::new(0),
        most: AtomicU32::new(0),
        entries: AtomicU32::new(0),
    })
    .unwrap();
    let critical_section = || {
        let now = inside.now.fetch_add(1, Ordering::SeqCst) + 1;
        inside.most.fetch_max(now, Ordering::SeqCst);
        inside.entries.fetch_add(1, Ordering::SeqCst);
        for _ in 0..200 {
            std::hint::spin_loop();
        }
        inside.now.fetch_sub(1, Ordering::SeqCst);
    };
    let children: Vec<_> = (0..N)
        .map(|_| {
            Process::spawn(|| {
                for round in 0..ROUNDS {
                    // Every way in: blocking, timed, guard, timed guard.
                    match round % 4 {
                        0 => {
                            assert!(sem.acquire(true, None));
                            critical_section();
                            sem.release().unwrap();
                        }
                        1 => {
                            assert!(sem.acquire(true, Some(PATIENCE)));
                            critical_section();
                            sem.release().unwrap();
                        }
                        2 => {
                            let _unit = sem.access();
                            critical_section();
                        }
                        _ => {
                            let _unit = sem.try_access_for(PATIENCE).unwrap();
                            critical_section();
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
    let most = inside.most.load(Ordering::SeqCst);
    assert!(most <= K, "{most} processes were inside a semaphore of {K}");
    assert!(most >= 1);
    assert_eq!(inside.now.load(Ordering::SeqCst), 0);
    assert_eq!(inside.entries.load(Ordering::SeqCst), N * ROUNDS);
    assert_eq!(sem.get_value(), K);
}

#[test]
fn k_holders_fill_a_semaphore_of_k_and_the_next_acquirer_waits_for_one_to_leave() {
    let _w = Watchdog::new("k_holders", PATIENCE);
    let sem = Semaphore::new(2).unwrap();
    let holding = Shared::new(AtomicU32::new(0)).unwrap();
    let leave = Shared::new(AtomicU32::new(0)).unwrap();
    let holders = [
        holder(&sem, &holding, &leave),
        holder(&sem, &holding, &leave),
    ];
    wait_until(PATIENCE, "both children to hold a unit", || {
        holding.load(Ordering::SeqCst) == 2
    });
    assert_eq!(sem.get_value(), 0);
    assert!(!sem.acquire(false, None));
    assert!(!sem.acquire(true, Some(Duration::from_millis(50))));

    leave.store(1, Ordering::SeqCst);
    let a = sem.try_access_for(PATIENCE).expect("a holder left");
    let b = sem.try_access_for(PATIENCE).expect("the other holder left");
    for child in &holders {
        join_ok(child);
    }
    assert_eq!(sem.get_value(), 0);
    drop((a, b));
    assert_eq!(sem.get_value(), 2);
}

#[test]
fn guards_give_their_unit_back_when_dropped_in_another_process() {
    let _w = Watchdog::new("guards", PATIENCE);
    let sem = Semaphore::new(1).unwrap();
    let holding = Shared::new(AtomicU32::new(0)).unwrap();
    let leave = Shared::new(AtomicU32::new(0)).unwrap();
    let child = holder(&sem, &holding, &leave);
    wait_until(PATIENCE, "the child to hold the unit", || {
        holding.load(Ordering::SeqCst) == 1
    });
    assert_eq!(sem.get_value(), 0);
    leave.store(1, Ordering::SeqCst);
    join_ok(&child);
    assert_eq!(sem.get_value(), 1, "the child's guard gave the unit back");

    {
        let _unit = sem.access();
        assert_eq!(sem.get_value(), 0);
        let child = Process::spawn(|| {
            assert!(!sem.acquire(true, Some(Duration::from_millis(20))));
            assert_eq!(sem.get_value(), 0);
        })
        .unwrap();
        join_ok(&child);
    }
    assert_eq!(sem.get_value(), 1);
}

#[test]
fn a_unit_taken_in_one_process_may_be_released_in_another() {
    let _w = Watchdog::new("release_elsewhere", PATIENCE);
    let sem = BoundedSemaphore::new(1).unwrap();
    assert!(sem.acquire(false, None));
    let child = Process::spawn(|| sem.release().unwrap()).unwrap();
    join_ok(&child);
    assert_eq!(sem.get_value(), 1);
    assert!(sem.acquire(false, None));
}

#[test]
fn releasing_a_bounded_semaphore_above_its_initial_value_is_an_error() {
    let _w = Watchdog::new("bounded_release", PATIENCE);
    let sem = BoundedSemaphore::new(2).unwrap();
    assert_eq!(sem.release(), Err(ReleasedTooManyTimes { max: 2 }));
    assert_eq!(sem.get_value(), 2);
    assert!(sem.acquire(false, None));
    sem.release().unwrap();
    assert!(sem.release().is_err());
    assert_eq!(sem.get_value(), 2);

    // The bound lives in shared memory: a child is held to it too.
    let child = Process::spawn(|| {
        assert_eq!(sem.release(), Err(ReleasedTooManyTimes { max: 2 }));
        assert!(sem.acquire(false, None));
        sem.release().unwrap();
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(sem.get_value(), 2);

    // A guard on a bounded semaphore gives back exactly what it took.
    {
        let _a = sem.access();
        let _b = sem.access();
        assert!(!sem.acquire(false, None));
    }
    assert_eq!(sem.get_value(), 2);
    assert!(sem.release().is_err());

    let err: shmsync::Error = sem.release().unwrap_err().into();
    assert!(
        matches!(err, shmsync::Error::ReleasedTooManyTimes { max: 2 }),
        "{err:?}"
    );
    assert!(BoundedSemaphore::new(0).unwrap().release().is_err());
}

#[test]
fn releasing_a_semaphore_above_sem_value_max_is_an_error() {
    let _w = Watchdog::new("sem_value_max", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    for _ in 0..1000 {
        sem.release().unwrap();
    }
    assert_eq!(
        sem.get_value(),
        1000,
        "a plain Semaphore is not bounded by its start"
    );

    let full = Semaphore::new(SEM_VALUE_MAX).unwrap();
    assert_eq!(
        full.release(),
        Err(ReleasedTooManyTimes { max: SEM_VALUE_MAX })
    );
    assert_eq!(full.get_value(), SEM_VALUE_MAX);
    assert!(full.acquire(false, None));
    full.release().unwrap();
    assert!(full.release().is_err());

    assert!(matches!(
        Semaphore::new(SEM_VALUE_MAX + 1),
        Err(shmsync::Error::InvalidArgument(_))
    ));
    assert!(matches!(
        BoundedSemaphore::new(u32::MAX),
        Err(shmsync::Error::InvalidArgument(_))
    ));
}

#[test]
fn get_value_is_the_same_in_every_process() {
    let _w = Watchdog::new("get_value", PATIENCE);
    let sem = Semaphore::new(5).unwrap();
    let seen = Shared::new(AtomicU32::new(u32::MAX)).unwrap();
    assert!(sem.acquire(false, None));
    assert!(sem.acquire(false, None));
    let child = Process::spawn(|| {
        seen.store(sem.get_value(), Ordering::SeqCst);
        assert!(sem.acquire(false, None));
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert_eq!(sem.get_value(), 2);
}

#[test]
fn a_try_access_for_that_times_out_takes_and_gives_back_nothing() {
    let _w = Watchdog::new("try_access_for_timeout", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    assert!(sem.try_access_for(Duration::ZERO).is_none());
    assert_eq!(sem.get_value(), 0, "a failed zero-timeout try made a unit");
    let start = Instant::now();
    assert!(sem.try_access_for(Duration::from_millis(30)).is_none());
    assert_timed_out_after(Duration::from_millis(30), start.elapsed());
    assert_eq!(sem.get_value(), 0, "a timed-out try made a unit");

    // Across processes the extra unit breaks exclusion: with a child
    // holding the only unit of a BoundedSemaphore(1), a failed try in the
    // parent lets the parent in as well.
    let sem = BoundedSemaphore::new(1).unwrap();
    let holding = Shared::new(AtomicU32::new(0)).unwrap();
    let leave = Shared::new(AtomicU32::new(0)).unwrap();
    let child = holder(&sem, &holding, &leave);
    wait_until(PATIENCE, "the child to hold the unit", || {
        holding.load(Ordering::SeqCst) == 1
    });
    assert!(sem.try_access_for(Duration::from_millis(10)).is_none());
    assert!(
        !sem.acquire(false, None),
        "two processes inside a BoundedSemaphore(1)"
    );
    leave.store(1, Ordering::SeqCst);
    join_ok(&child);
    assert_eq!(sem.get_value(), 1);
}

// On the pthread backend a later release hangs: glibc's
// `pthread_cond_broadcast` waits in `__condvar_quiesce_and_switch_g1` for
// the dead sleeper to leave its group, forever. Releases run in children
// here, so that a hang fails the test instead of stalling it.
#[test]
fn an_acquirer_killed_in_its_sleep_neither_hangs_release_nor_strands_later_acquirers() {
    let _w = Watchdog::new("killed_acquirer", PATIENCE);
    let sem = Semaphore::new(0).unwrap();
    let about_to_wait = Shared::new(AtomicU32::new(0)).unwrap();
    let got = Shared::new(AtomicU32::new(0)).unwrap();
    let acquirer = || {
        KillOnDrop(
            Process::spawn(|| {
                about_to_wait.fetch_add(1, Ordering::SeqCst);
                if sem.acquire(true, Some(PATIENCE)) {
                    got.fetch_add(1, Ordering::SeqCst);
                }
            })
            .unwrap(),
        )
    };
    let victim = acquirer();
    wait_until(PATIENCE, "the victim to start acquiring", || {
        about_to_wait.load(Ordering::SeqCst) == 1
    });
    // Let it reach its sleep (not needed for the verdict).
    std::thread::sleep(Duration::from_millis(50));
    victim.kill().unwrap();
    assert_eq!(join_within(&victim, PATIENCE), -libc::SIGKILL);

    for round in 1..=3 {
        let next = acquirer();
        wait_until(PATIENCE, "the next acquirer to start", || {
            about_to_wait.load(Ordering::SeqCst) == round + 1
        });
        std::thread::sleep(Duration::from_millis(50));
        let releaser = Process::spawn(|| sem.release().unwrap()).unwrap();
        assert_eq!(
            join_within(&releaser, Duration::from_secs(10)),
            0,
            "round {round}: release hung or failed after an acquirer died"
        );
        assert_eq!(
            join_within(&next, Duration::from_secs(10)),
            0,
            "round {round}"
        );
        assert_eq!(got.load(Ordering::SeqCst), round);
    }
    assert_eq!(sem.get_value(), 0);
}
