//! Sleeping until any of several rings has data (the `wait` of several
//! pipes, Python's `multiprocessing.connection.wait`), and waking a ring's
//! sleepers so they look again at something outside the ring.
//!
//! A multi-wait is the [`Signal`](super::signal) handshake done on every
//! ring at once: set each data signal's sleepers bit, fence heavily once,
//! look at the caller's condition, then sleep on all the words together
//! (`futex_waitv`). A producer's commit on any of the rings sees its bit,
//! clears it and wakes the word, which ends the sleep; the bits left set on
//! the other rings cost their next commit one spare wake-up call, as a
//! sleeper that gave up does. Where the backend cannot sleep on several
//! words (POSIX semaphores, kernels before 5.16), the sleep is on the first
//! ring alone, in slices of [`SLICE`], and the others are looked at between
//! slices: a bounded delay, never a busy loop.

use super::state::RawRing;
use crate::shim::{self, AtomicU32, Deadline, Poll, Wake};
use core::time::Duration;

/// The longest slice of a sleep that cannot cover every ring at once.
///
/// # Examples
///
/// ```
/// use shmsync::ring::SLICE;
/// use std::time::Duration;
///
/// // Where one sleep cannot cover every ring, a ring's data is noticed
/// // within about this long.
/// assert!(SLICE <= Duration::from_millis(10));
/// ```
pub const SLICE: Duration = Duration::from_millis(10);

/// The most rings one sleep covers; beyond, the sleep is sliced.
const MOST: usize = 128;

/// The rings one sleep covers: up to [`MOST`] where the backend sleeps on
/// several words at once, the first alone where it cannot.
const COVERED: usize = if shim::WAIT_ANY_MAX == 0 {
    1
} else if shim::WAIT_ANY_MAX < MOST {
    shim::WAIT_ANY_MAX
} else {
    MOST
};

impl RawRing {
    /// Wakes every sleeper on both sides, so that they look again at what
    /// they wait for: for a change outside the ring (an end of a pipe
    /// closed), which the ring's own commits do not announce. The waits it
    /// ends are those that look at such a change: [`wait_for_any_data`]'s
    /// `ready`, [`wait_for_data_or`](RawRing::wait_for_data_or)'s and
    /// [`wait_for_room_bytes_or`](RawRing::wait_for_room_bytes_or)'s
    /// `stop`; the others sleep on.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ring::{wait_for_any_data, RawRing};
    /// use shmsync::Deadline;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::time::Duration;
    ///
    /// let ring = RawRing::new_bytes(64);
    /// let closed = AtomicBool::new(false); // say, a flag in shared memory
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         closed.store(true, Ordering::SeqCst);
    ///         ring.nudge(); // a sleeper on the ring looks again
    ///     });
    ///     let woke = wait_for_any_data(&[&ring], Deadline::after(Duration::from_secs(2)), || {
    ///         closed.load(Ordering::SeqCst)
    ///     });
    ///     assert!(woke);
    /// });
    /// ```
    pub fn nudge(&self) {
        self.waiting.data.notify();
        self.waiting.room.notify();
    }
}

/// Waits until `ready()` holds or `deadline` passes, sleeping on the data
/// signals of `rings` (whose commits are what `ready` looks for, with
/// whatever else it checks); returns `ready()`'s last answer. Spins within
/// the process's spin bound first. Like every sleep here, it may end
/// early; `ready` decides. With no rings there is nothing to sleep on: it
/// returns after the spin, whatever the deadline.
///
/// # Examples
///
/// ```
/// use shmsync::ring::{wait_for_any_data, RawRing};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let (a, b) = (RawRing::new(4, 8), RawRing::new(4, 8));
/// # let mut bytes = [0u8; 32];
/// # // SAFETY: `bytes` outlives `buf` and is only used through it.
/// # let buf = unsafe { shmsync::ring::RingBuf::from_raw(std::ptr::NonNull::from(&mut bytes).cast(), 32) };
/// let ready = || !a.is_empty() || !b.is_empty();
/// let brief = Deadline::after(Duration::from_millis(5));
/// assert!(!wait_for_any_data(&[&a, &b], brief, ready)); // nothing came
/// std::thread::scope(|s| {
///     s.spawn(|| -> Result<(), shmsync::ring::RingError> {
///         let mut tx = b.take_producing(&buf, Deadline::after(Duration::from_secs(2)))?;
///         b.try_push_value(&buf, &mut tx, &1u64)?;
///         b.release_producing(tx);
///         Ok(())
///     });
///     assert!(wait_for_any_data(&[&a, &b], Deadline::after(Duration::from_secs(2)), ready));
/// });
/// ```
pub fn wait_for_any_data(
    rings: &[&RawRing],
    deadline: Deadline,
    mut ready: impl FnMut() -> bool,
) -> bool {
    if ready() || shim::spin_until(deadline, Poll::Eager, &mut ready) {
        return true;
    }
    let Some(first) = rings.first() else {
        // Nothing to sleep on, and no clock-only sleep without std: the
        // spin was the whole wait (the docs say so; `Pipe`'s `wait` sleeps
        // on its own when it has no rings).
        return ready();
    };
    let covered = rings.len().min(COVERED);
    let mut words: [(&AtomicU32, u32); MOST] = [(first.waiting.data.word(), 0); MOST];
    loop {
        for (slot, ring) in words.iter_mut().zip(rings) {
            *slot = (ring.waiting.data.word(), ring.waiting.data.announce());
        }
        // The sleeper's half of each ring's Dekker pair (see `signal`).
        shim::heavy_fence();
        if ready() {
            return true;
        }
        let mut until = deadline;
        if shim::sleeps_need_cap() || covered < rings.len() {
            until = until.min(Deadline::after(SLICE));
        }
        let woke = match shim::wait_any(&words[..covered], until) {
            Some(woke) => woke,
            None => first
                .waiting
                .data
                .sleep(words[0].1, until.min(Deadline::after(SLICE))),
        };
        if ready() {
            return true;
        }
        if woke == Wake::TimedOut && deadline.has_passed() {
            return false;
        }
    }
}
