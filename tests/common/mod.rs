//! Helpers for cross-process tests: every wait is bounded, and a child that
//! outlives its welcome is killed and fails the test.
#![allow(dead_code)]

use shmsync::Process;
use std::sync::mpsc;
use std::time::Duration;

/// Generous bound for anything a healthy test waits for.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Joins `child`, killing it and failing the test if it takes longer than
/// `limit`.
#[track_caller]
pub fn join_within(child: &Process, limit: Duration) -> i32 {
    match child.join_timeout(limit).expect("waitpid") {
        Some(code) => code,
        None => {
            let _ = child.kill();
            let _ = child.join_timeout(Duration::from_secs(5));
            panic!(
                "child {} still running after {limit:?}: killed",
                child.pid()
            );
        }
    }
}

/// Joins `child` and asserts it exited with 0.
#[track_caller]
pub fn join_ok(child: &Process) {
    assert_eq!(
        join_within(child, PATIENCE),
        0,
        "child {} failed",
        child.pid()
    );
}

/// Kills and reaps `child` if the test ends (or panics) before it does.
pub struct KillOnDrop(pub Process);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.join_timeout(Duration::from_secs(5));
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = Process;
    fn deref(&self) -> &Process {
        &self.0
    }
}

/// Aborts the whole test binary if not dropped within `limit`: a deadlock
/// in the parent side of a test fails it instead of stalling CI.
pub struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    pub fn new(name: &'static str, limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("watchdog: test `{name}` still running after {limit:?}; aborting");
                std::process::abort();
            }
        });
        Watchdog(Some(tx))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Spins (with short sleeps) until `cond` holds, failing after `limit`.
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}
