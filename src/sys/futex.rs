//! Waiting and waking with Linux futexes.
//!
//! Every call leaves out the futex "private" flag: a private futex is keyed by
//! the address space, so it never wakes a waiter in another process. The
//! shared form keys by the physical page, which is what two mappings of one
//! segment have in common. Waits use `FUTEX_WAIT_BITSET`, whose timeout is
//! an absolute `CLOCK_MONOTONIC` instant, so a wait interrupted by a signal
//! retries against the same instant.

use super::{Deadline, Wake};
use core::num::NonZeroU32;
use core::sync::atomic::AtomicU32;
use rustix::io::Errno;
use rustix::thread::futex;

/// `FUTEX_BITSET_MATCH_ANY`: the waiter matches every waker.
const MATCH_ANY: NonZeroU32 = match NonZeroU32::new(u32::MAX) {
    Some(v) => v,
    None => unreachable!(),
};

/// The longest one sleep lasts before its sleeper looks at its condition
/// again. A waker that is killed after changing what sleepers wait for,
/// but before its `FUTEX_WAKE` (or after clearing a "sleepers" flag, so
/// that later wakers skip the call), would otherwise leave them asleep for
/// good: this bounds the cost of such a death to one capped sleep. A
/// sleeper idle for long wakes ten times a second, a few microseconds of
/// CPU each.
pub const MAX_SLEEP: core::time::Duration = core::time::Duration::from_millis(100);

/// The absolute `CLOCK_MONOTONIC` instant a sleep ends at: `deadline`, or
/// [`MAX_SLEEP`] from now if that comes first.
#[inline]
fn capped(deadline: Deadline) -> rustix::time::Timespec {
    let (tv_sec, tv_nsec) = deadline.min(Deadline::after(MAX_SLEEP)).as_secs_nanos();
    rustix::time::Timespec { tv_sec, tv_nsec }
}

/// The futex backend's wait cell: empty, because the kernel keeps the queue
/// of sleepers, keyed by the word's address.
#[repr(C)]
#[derive(Debug, Default)]
pub struct WaitCell {
    _empty: [u8; 0],
}

impl WaitCell {
    /// A cell ready for use.
    pub const fn new() -> WaitCell {
        WaitCell { _empty: [] }
    }

    /// `FUTEX_WAIT_BITSET`: sleeps while `*word == expected`, until woken or
    /// `deadline` passes, and for at most [`MAX_SLEEP`]. May return
    /// [`Wake::Woken`] spuriously (a signal, the word already differing,
    /// the end of a capped sleep); callers re-check their condition.
    /// Returns [`Wake::TimedOut`] whenever `deadline` has passed, and only
    /// then.
    #[inline]
    pub fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Wake {
        let ts = capped(deadline);
        // Ok: woken. AGAIN: the word had already changed. INTR: a signal
        // (the absolute deadline makes the retry no longer than asked).
        // TIMEDOUT: the capped instant; the caller's deadline is asked
        // below.
        let _ = futex::wait_bitset(word, futex::Flags::empty(), expected, Some(&ts), MATCH_ANY);
        Wake::checked(Wake::Woken, deadline)
    }

    /// `FUTEX_WAKE` for one sleeper on `word`.
    #[inline]
    pub fn wake_one(&self, word: &AtomicU32) {
        let _ = futex::wake(word, futex::Flags::empty(), 1);
    }

    /// `FUTEX_WAKE` for every sleeper on `word`.
    #[inline]
    pub fn wake_all(&self, word: &AtomicU32) {
        let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
    }
}

/// The most words [`wait_any`] sleeps on at once (the kernel's
/// `FUTEX_WAITV_MAX`).
pub const WAIT_ANY_MAX: usize = 128;

/// `futex_waitv` (Linux 5.16): sleeps while every `*word == expected` of
/// `words`, until one of them is woken, or `deadline` passes. May return
/// [`Wake::Woken`] spuriously (a signal, a word already differing); returns
/// [`Wake::TimedOut`] whenever `deadline` has passed. `None` if the kernel
/// lacks the call (`ENOSYS`, before 5.16, or a seccomp filter), or more
/// than [`WAIT_ANY_MAX`] words are given: the caller then sleeps otherwise.
///
/// Each word is woken by the plain `FUTEX_WAKE` of [`WaitCell::wake_all`]:
/// the shared (not private) 32-bit futex keys of both calls are the same.
pub fn wait_any(words: &[(&AtomicU32, u32)], deadline: Deadline) -> Option<Wake> {
    use core::sync::atomic::{AtomicBool, Ordering};
    use futex::{Wait, WaitFlags, WaitPtr, WaitvFlags};

    /// Set once the kernel said `ENOSYS`: later calls skip the syscall.
    static MISSING: AtomicBool = AtomicBool::new(false);
    // Relaxed: a per-process hint; a stale read costs one failing call.
    if words.is_empty() || words.len() > WAIT_ANY_MAX || MISSING.load(Ordering::Relaxed) {
        return None;
    }
    let mut waits = [Wait::new(); WAIT_ANY_MAX];
    for (wait, (word, expected)) in waits.iter_mut().zip(words) {
        wait.val = u64::from(*expected);
        wait.uaddr = WaitPtr::new(word.as_ptr().cast());
        // Without FUTEX2_PRIVATE: keyed by the page, shared with other
        // processes, as every futex of this crate.
        wait.flags = WaitFlags::SIZE_U32;
    }
    let ts = capped(deadline);
    // Ok(index): that word was woken. AGAIN: a word had changed. INTR: a
    // signal (the absolute deadline bounds the retry). TIMEDOUT: the
    // capped instant; the caller's deadline is asked below.
    let slept = futex::waitv(
        &waits[..words.len()],
        WaitvFlags::empty(),
        Some(&ts),
        rustix::time::ClockId::Monotonic,
    );
    if slept == Err(Errno::NOSYS) {
        MISSING.store(true, Ordering::Relaxed);
        return None;
    }
    Some(Wake::checked(Wake::Woken, deadline))
}

#[cfg(test)]
mod tests {
    use super::{wait_any, Deadline, WaitCell, Wake, MAX_SLEEP};
    use core::sync::atomic::AtomicU32;
    use core::time::Duration;

    /// A sleeper nobody wakes (its waker died between its change and its
    /// wake-up) returns after one capped sleep, as a spurious wake-up, and
    /// reports a time-out only once its own deadline has passed.
    #[test]
    fn an_unwoken_sleep_ends_after_the_cap_and_times_out_only_at_its_deadline() {
        let word = AtomicU32::new(5);
        let cell = WaitCell::new();
        let t0 = std::time::Instant::now();
        assert_eq!(cell.wait(&word, 5, Deadline::NEVER), Wake::Woken);
        let slept = t0.elapsed();
        assert!(slept >= MAX_SLEEP - Duration::from_millis(1), "{slept:?}");
        assert!(slept < MAX_SLEEP * 10, "{slept:?}");

        let soon = Deadline::after(Duration::from_millis(20));
        assert_eq!(cell.wait(&word, 5, soon), Wake::TimedOut);
        assert!(soon.has_passed());

        let t0 = std::time::Instant::now();
        if let Some(woke) = wait_any(&[(&word, 5)], Deadline::NEVER) {
            assert_eq!(woke, Wake::Woken);
            assert!(t0.elapsed() < MAX_SLEEP * 10, "{:?}", t0.elapsed());
        }
    }
}
