//! Waiting and waking inside `loom::model`: a mutex and a condition
//! variable per cell, loom's own, so loom sees
//! every sleep and wake-up and can report lost ones as deadlocks.

use super::{Deadline, Wake};
use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::{Condvar, Mutex};

/// Loom's mutex and condition variable standing in for a futex queue.
#[derive(Debug)]
pub struct WaitCell {
    mutex: Mutex<()>,
    cond: Condvar,
}

impl Default for WaitCell {
    fn default() -> Self {
        WaitCell::new()
    }
}

impl WaitCell {
    /// A cell ready for use.
    pub fn new() -> WaitCell {
        WaitCell {
            mutex: Mutex::new(()),
            cond: Condvar::new(),
        }
    }

    /// Sleeps while `*word == expected`. A wait with a deadline does not
    /// sleep (loom has no clock): it yields and reports a time-out, which
    /// makes models walk the time-out paths.
    pub fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Wake {
        let guard = self.mutex.lock().unwrap();
        // The kernel compares against the word's latest value; a plain load
        // could read an older one, so read with a read-modify-write (which
        // always sees the latest), writing back what is there.
        if word
            .compare_exchange(expected, expected, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return Wake::Woken;
        }
        if !deadline.is_never() {
            drop(guard);
            loom::thread::yield_now();
            return Wake::TimedOut;
        }
        drop(self.cond.wait(guard).unwrap());
        Wake::Woken
    }

    /// Wakes one sleeper on `word`.
    pub fn wake_one(&self, _word: &AtomicU32) {
        let _guard = self.mutex.lock().unwrap();
        self.cond.notify_one();
    }

    /// Wakes every sleeper on `word`.
    pub fn wake_all(&self, _word: &AtomicU32) {
        let _guard = self.mutex.lock().unwrap();
        self.cond.notify_all();
    }
}
