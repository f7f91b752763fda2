//! How long a healthy test waits, and waiting for a condition within it.

use std::time::{Duration, Instant};

/// Generous bound for anything a healthy test or bench waits for: far
/// beyond what any of them needs, even on a loaded CI machine, so that
/// hitting it means a hang, not a slow machine.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// How long [`wait_until`] sleeps between two looks.
const POLL: Duration = Duration::from_micros(200);

/// Looks at `cond` every 200 µs (sleeping in between) until it holds.
///
/// For conditions that another process or thread brings about, such as a
/// waiter having gone to sleep; never for timing.
///
/// # Panics
///
/// If `cond` still does not hold after `limit`; the message names `what`.
///
/// # Examples
///
/// ```
/// use shmsync_testkit::{wait_until, PATIENCE};
/// use std::sync::atomic::{AtomicBool, Ordering};
///
/// let flag = AtomicBool::new(false);
/// std::thread::scope(|s| {
///     s.spawn(|| flag.store(true, Ordering::Release));
///     wait_until(PATIENCE, "the flag", || flag.load(Ordering::Acquire));
/// });
/// ```
#[track_caller]
pub fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "gave up waiting for {what} after {limit:?}"
        );
        std::thread::sleep(POLL);
    }
}
