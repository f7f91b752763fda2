//! The bounded spin every waiter does before it sleeps.
//!
//! On a virtual machine a futex wake-up reaches a sleeping vCPU after tens of
//! microseconds, while a waiter that is still spinning sees the store that
//! releases it within about 50 ns. So a waiter first polls its condition for
//! a short, bounded time and only then asks the kernel to put it to sleep.
//! The bound is a duration, one setting for the whole process, read on every
//! slow path: [`set_spin_duration`] trades CPU burnt while waiting against
//! wake-up latency.

use super::Deadline;
use core::sync::atomic::{AtomicU32, Ordering};
use core::time::Duration;

/// Default spin before sleeping, in nanoseconds.
const DEFAULT_SPIN_NANOS: u32 = 20_000;

/// The longest spin [`set_spin_duration`] accepts (one millisecond): past
/// that, sleeping is cheaper than polling on any machine.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
///
/// assert_eq!(shmsync::MAX_SPIN, Duration::from_millis(1));
/// shmsync::set_spin_duration(shmsync::MAX_SPIN * 10);
/// assert_eq!(shmsync::spin_duration(), shmsync::MAX_SPIN, "clamped");
/// ```
pub const MAX_SPIN: Duration = Duration::from_millis(1);

static SPIN_NANOS: AtomicU32 = AtomicU32::new(DEFAULT_SPIN_NANOS);

/// How many pauses a spin makes between two looks at the clock.
const CLOCK_EVERY: u32 = 32;

/// Sets how long a waiter polls before it sleeps in the kernel, for every
/// primitive in this process; values above [`MAX_SPIN`] are clamped to it.
///
/// Zero turns spinning off: waiters go to sleep at once, which costs the
/// least CPU and the most latency. The default is 20 µs, well below the cost
/// of a cross-core wake-up on a virtual machine.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
///
/// shmsync::set_spin_duration(Duration::from_micros(5));
/// assert_eq!(shmsync::spin_duration(), Duration::from_micros(5));
/// shmsync::set_spin_duration(Duration::from_secs(3));
/// assert_eq!(shmsync::spin_duration(), shmsync::MAX_SPIN);
/// ```
pub fn set_spin_duration(spin: Duration) {
    let nanos = spin.min(MAX_SPIN).as_nanos() as u32;
    // Relaxed: a plain setting; no other memory is published with it.
    SPIN_NANOS.store(nanos, Ordering::Relaxed);
}

/// The current spin bound set by [`set_spin_duration`] (20 µs until it is
/// called).
///
/// # Examples
///
/// ```
/// use core::time::Duration;
///
/// assert!(shmsync::spin_duration() <= shmsync::MAX_SPIN);
/// shmsync::set_spin_duration(Duration::ZERO); // sleep at once, never poll
/// assert_eq!(shmsync::spin_duration(), Duration::ZERO);
/// ```
pub fn spin_duration() -> Duration {
    Duration::from_nanos(u64::from(SPIN_NANOS.load(Ordering::Relaxed)))
}

/// How a spin looks at what it waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Poll {
    /// After every pause: the fastest reaction, for waiters that the other
    /// side is itself waiting on (events, conditions, barriers).
    Eager,
    /// After 1, 2, 4, ... up to [`MAX_BACKOFF`] pauses: for locks, where
    /// every look pulls the cache line away from the holder working in it.
    Backoff,
}

/// The most pauses between two looks of a [`Poll::Backoff`] spin.
const MAX_BACKOFF: u32 = 64;

/// Polls `done` until it returns true, the spin bound runs out or `limit`
/// passes; returns its last answer.
#[inline]
pub(crate) fn spin_until(limit: Deadline, poll: Poll, mut done: impl FnMut() -> bool) -> bool {
    let nanos = SPIN_NANOS.load(Ordering::Relaxed);
    if nanos == 0 {
        return done();
    }
    let deadline = Deadline::after(Duration::from_nanos(u64::from(nanos))).min(limit);
    let mut pauses: u32 = 1;
    let mut since_clock: u32 = 0;
    loop {
        if done() {
            return true;
        }
        for _ in 0..pauses {
            core::hint::spin_loop();
        }
        since_clock += pauses;
        if poll == Poll::Backoff {
            pauses = (pauses * 2).min(MAX_BACKOFF);
        }
        if since_clock >= CLOCK_EVERY {
            since_clock = 0;
            if deadline.has_passed() {
                return done();
            }
        }
    }
}

/// After a spin that did not see `done`, gives the CPU away (`sched_yield`)
/// up to `times` times, looking after each, until `limit` passes; returns
/// its last answer. Not at all when spinning is turned off.
///
/// For a waiter on something held only for a few nanoseconds at a time (a
/// ring's side): if it is still held after the spin, its holder has lost
/// its CPU, and a yield lets it (or the next runnable thread) run at the
/// cost of one system call, where a sleep costs a heavy fence and a futex
/// wait and wake.
#[inline]
pub(crate) fn yield_until(limit: Deadline, times: u32, mut done: impl FnMut() -> bool) -> bool {
    if SPIN_NANOS.load(Ordering::Relaxed) == 0 {
        return done();
    }
    for _ in 0..times {
        // A yield can last a time slice where other threads want the CPU.
        if limit.has_passed() {
            break;
        }
        rustix::thread::sched_yield();
        if done() {
            return true;
        }
    }
    done()
}
