//! A tour of shmsync: Python's `multiprocessing` Lock example, a counter
//! shared by four processes, and a lock whose holder is killed.
//!
//! Run with `cargo run --release --example tour`.

use shmsync::{Lock, Mutex, Process, Shared, TryLockError};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

fn main() -> Result<(), shmsync::Error> {
    hello_under_a_lock()?;
    four_processes_share_a_counter()?;
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
