//! A child that handles `SIGTERM`: `terminate()` asks it to stop, it cleans
//! up and exits 0 (Python's `Process.terminate()` sends the same signal).
//!
//! The handler only sets a flag; the child's loop sees the flag, does its
//! clean-up (here: records that it did, in shared memory) and returns,
//! which `Process` turns into exit code 0. Run with
//! `cargo run --example terminate`.

use shmsync::{Event, Process, Shared};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Set by the handler; read by the child's loop.
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigterm(_: libc::c_int) {
    // Async-signal-safe: one atomic store.
    STOP.store(true, Ordering::Relaxed);
}

fn main() -> Result<(), shmsync::Error> {
    let started = Event::new()?;
    let work_done = Shared::new(AtomicU64::new(0))?;
    let cleaned_up = Shared::new(AtomicBool::new(false))?;
    let child = Process::builder().name("worker").spawn(|| {
        // SAFETY: installs a handler that only stores to an atomic; the
        // zeroed sigaction is a valid "no flags, empty mask" value.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigterm as *const () as usize;
            libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
        }
        started.set();
        while !STOP.load(Ordering::Relaxed) {
            work_done.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(1));
        }
        println!("worker: SIGTERM received, cleaning up");
        cleaned_up.store(true, Ordering::Relaxed);
    })?;
    assert!(
        started.wait(Some(Duration::from_secs(30))),
        "the worker never started"
    );
    std::thread::sleep(Duration::from_millis(20));
    child.terminate()?;
    let code = child
        .join_timeout(Duration::from_secs(30))?
        .expect("the worker stops within 30 s of SIGTERM");
    println!(
        "worker exited with {code} after {} units of work; cleaned up: {}",
        work_done.load(Ordering::Relaxed),
        cleaned_up.load(Ordering::Relaxed)
    );
    assert_eq!(code, 0);
    assert!(cleaned_up.load(Ordering::Relaxed));
    Ok(())
}
