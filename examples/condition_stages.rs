//! One stage-1 process releases two stage-2 processes through a
//! `Condition`.
//!
//! ```python
//! def stage_1(cond):
//!     name = multiprocessing.current_process().name
//!     print('Starting', name)
//!     with cond:
//!         print('{} done and ready for stage 2'.format(name))
//!         cond.notify_all()
//!
//! def stage_2(cond):
//!     name = multiprocessing.current_process().name
//!     print('Starting', name)
//!     with cond:
//!         cond.wait()
//!         print('{} running'.format(name))
//! ```
//!
//! Python's version sleeps a second between starts and hopes the stage-2
//! processes wait by then; here the parent waits until both are waiting
//! (`n_waiting`), and stage 2 waits for a flag, not a bare notify, so the
//! program is right whatever the timing. Run with
//! `cargo run --example condition_stages`.

use shmsync::{Condition, Process, Shared};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn stage_1(cond: &Condition, done: &AtomicBool) {
    let name = Process::current_name();
    println!("Starting {name}");
    let _held = cond.lock().expect("no holder dies here");
    println!("{name} done and ready for stage 2");
    done.store(true, Ordering::Relaxed);
    cond.notify_all().expect("stage 1 holds the lock");
}

fn stage_2(cond: &Condition, done: &AtomicBool) {
    let name = Process::current_name();
    println!("Starting {name}");
    let _held = cond.lock().expect("no holder dies here");
    let ready = cond
        .wait_for(
            || done.load(Ordering::Relaxed),
            Some(Duration::from_secs(30)),
        )
        .expect("stage 2 holds the lock");
    assert!(ready, "stage 1 never came");
    println!("{name} running");
}

fn main() -> Result<(), shmsync::Error> {
    let condition = Condition::new()?;
    let done = Shared::new(AtomicBool::new(false))?;
    let s2_clients = (1..3)
        .map(|i| {
            Process::builder()
                .name(format!("stage_2[{i}]"))
                .spawn(|| stage_2(&condition, &done))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    while condition.n_waiting() < 2 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let s1 = Process::builder()
        .name("s1")
        .spawn(|| stage_1(&condition, &done))?;
    assert_eq!(s1.join()?, 0);
    for c in &s2_clients {
        assert_eq!(c.join()?, 0, "{} failed", c.name());
    }
    Ok(())
}
