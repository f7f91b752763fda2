//! A deadline for a test that cannot bound itself: one stuck in a
//! deadlock.

use std::sync::mpsc;
use std::time::Duration;

/// Aborts the whole test binary if not dropped within `limit`: a deadlock
/// in the parent side of a test fails it instead of stalling CI.
///
/// Aborting is the only way out: a thread blocked in a deadlock cannot be
/// unwound, and the test harness would wait for it forever. The message on
/// stderr names the test. An abort runs no destructors, so children held
/// in a [`KillOnDrop`] are not killed then: a child must bound its own
/// waits (the tests give every wait in a child a timeout).
///
/// # Examples
///
/// ```
/// use shmsync_testkit::{Watchdog, PATIENCE};
///
/// let _w = Watchdog::new("example", PATIENCE);
/// // ... the test; the watchdog is disarmed when `_w` drops.
/// ```
///
/// [`KillOnDrop`]: crate::KillOnDrop
pub struct Watchdog(Option<mpsc::Sender<()>>);

impl Watchdog {
    /// Starts a thread that aborts the process unless this watchdog is
    /// dropped within `limit`; `name` is the test's, for the message.
    pub fn new(name: &'static str, limit: Duration) -> Watchdog {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            // A drop sends (or hangs up): either way, no timeout.
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
