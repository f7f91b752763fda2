//! A tour of shmsync: Python's `multiprocessing` Lock and Condition
//! examples, a counter shared by four processes, a barrier that keeps three
//! processes in step, and a lock whose holder is killed.
//!
//! Run with `cargo run --release --example tour`.

use shmsync::{Barrier, Condition, Lock, Mutex, Process, Shared, TryLockError};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn main() -> Result<(), shmsync::Error> {
    hello_under_a_lock()?;
    four_processes_share_a_counter()?;
    stages_under_a_condition()?;
    three_processes_in_step()?;
    a_holder_dies()?;
    Ok(())
}

/// The Python original:
///
/// ```python
/// def l(lock, num):
///     lock.acquire()
///     print("Hello Num: %s" % (num))
///     lock.release()
///
/// lock = Lock()
/// for num in range(20):
///     Process(target=l, args=(lock, num)).start()
/// ```
fn hello_under_a_lock() -> Result<(), shmsync::Error> {
    println!("-- 20 processes print, one at a time");
    let lock = Lock::new()?;
    let children = (0..20)
        .map(|num| {
            Process::spawn(|| {
                let _held = lock.lock().expect("no holder dies here");
                println!("Hello Num: {num}");
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        child.join()?;
    }
    Ok(())
}

/// `lock_api::Mutex<RawLock, u64>` in shared memory: four children add
/// 100 000 each, and nothing is lost.
fn four_processes_share_a_counter() -> Result<(), shmsync::Error> {
    println!("-- 4 processes x 100 000 increments under one lock");
    let counter = Shared::new(Mutex::new(0u64))?;
    let start = Instant::now();
    let children = (0..4)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..100_000 {
                    *counter.lock() += 1;
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        assert_eq!(child.join()?, 0);
    }
    println!("counter = {} in {:?}", *counter.lock(), start.elapsed());
    Ok(())
}

/// Python's `stage_1` / `stage_2` Condition example. The original sleeps a
/// second so that the `stage_2` processes are waiting before `stage_1`
/// notifies, and hangs if they are not; waiting for a predicate needs no
/// sleep.
fn stages_under_a_condition() -> Result<(), shmsync::Error> {
    println!("-- stage_2 processes wait on a Condition for stage_1");
    let cond = Condition::new()?;
    let stage_1_done = Shared::new(AtomicBool::new(false))?;
    let stage_2 = (1..=2)
        .map(|i| {
            Process::spawn(|| {
                println!("Starting stage_2[{i}]");
                let _held = cond.lock().expect("no holder dies here");
                cond.wait_for(|| stage_1_done.load(Ordering::Relaxed), None)
                    .expect("we hold the lock");
                println!("stage_2[{i}] running");
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stage_1 = Process::spawn(|| {
        println!("Starting s1");
        let _held = cond.lock().expect("no holder dies here");
        println!("s1 done and ready for stage 2");
        stage_1_done.store(true, Ordering::Relaxed);
        cond.notify_all().expect("we hold the lock");
    })?;
    stage_1.join()?;
    for child in &stage_2 {
        child.join()?;
    }
    Ok(())
}

/// Three processes pass a barrier three times; the action runs once per
/// trip, in whichever process arrives last.
fn three_processes_in_step() -> Result<(), shmsync::Error> {
    println!("-- 3 processes pass a Barrier 3 times");
    let trips = Shared::new(AtomicU32::new(0))?;
    let barrier = Barrier::new(3)?
        .with_timeout(Duration::from_secs(10))
        .with_action({
            let trips = trips.clone();
            move || {
                let trip = trips.fetch_add(1, Ordering::SeqCst) + 1;
                println!("   trip {trip} (action ran in pid {})", std::process::id());
            }
        });
    let children = (0..3)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..3 {
                    barrier.wait(None).expect("no party dies here");
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        assert_eq!(child.join()?, 0);
    }
    println!("{} trips", trips.load(Ordering::SeqCst));
    Ok(())
}

/// A child takes the lock and is killed with SIGKILL while holding it. The
/// parent's acquisition does not hang: it is granted, with `OwnerDied`.
fn a_holder_dies() -> Result<(), shmsync::Error> {
    println!("-- a holder is killed while holding the lock");
    let lock = Lock::new()?;
    let holding = Shared::new(AtomicU32::new(0))?;
    let child = Process::spawn(|| {
        let guard = lock.lock().expect("fresh lock");
        holding.store(1, Ordering::Release);
        std::thread::sleep(Duration::from_secs(3600));
        drop(guard);
    })?;
    while holding.load(Ordering::Acquire) == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill()?;
    let start = Instant::now();
    match lock.try_lock_for(Duration::from_secs(10)) {
        Err(TryLockError::OwnerDied(died)) => {
            println!(
                "holder died; lock granted after {:?}, repairing",
                start.elapsed()
            );
            died.into_inner().mark_consistent();
        }
        Ok(_) => println!("lock granted without notice (unexpected)"),
        Err(e) => return Err(e.into()),
    }
    println!(
        "child exit code {} (-9: SIGKILL, as Python reports it)",
        child.join()?
    );
    Ok(())
}
