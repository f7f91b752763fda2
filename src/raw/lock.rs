//! `RawLock`: a mutual-exclusion lock in one 32-bit word that remembers its
//! holder, so a holder's death is noticed instead of deadlocking everyone.
//!
//! The fast paths are one compare-and-swap each, as in Rust std's futex
//! mutex. Unlike std's, the word holds the holder's kernel thread id (the
//! encoding of Linux robust futexes), which lets a waiter that has slept a
//! while ask the kernel whether the holder still exists. If not, the waiter
//! takes the lock over and is told so ([`Acquired::OwnerDied`]); the lock
//! stays marked *inconsistent*, and says so to every later acquirer, until a
//! holder calls [`RawLock::mark_consistent`] — pthread's `EOWNERDEAD`
//! contract.
//!
//! Memory ordering, once for the file: every successful acquisition is an
//! `Acquire` read-modify-write and every release a `Release` one, so each
//! holder sees everything the previous holder wrote. Loads that only decide
//! what to try next are `Relaxed`; the CAS that follows them does the
//! synchronizing.

use crate::shim::{loom_const_fn, AtomicU32, Ordering};
use crate::sys::{self, Deadline, WaitCell, Wake};
use core::time::Duration;

/// Bits 0..30 of the word: the kernel thread id of the holder; 0 when free.
pub(crate) const TID_MASK: u32 = (1 << 30) - 1;
/// Bit 30: a holder died holding the lock and nobody has called
/// `mark_consistent` since. Survives release.
pub(crate) const INCONSISTENT: u32 = 1 << 30;
/// Bit 31: some thread may be asleep on the word; release must wake one.
pub(crate) const WAITERS: u32 = 1 << 31;

#[inline]
fn holder(word: u32) -> u32 {
    word & TID_MASK
}

#[inline]
fn is_free(word: u32) -> bool {
    holder(word) == 0
}

/// How an acquisition went.
#[must_use = "an acquisition after an owner's death asks the new holder to check the data"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Acquired {
    /// The lock was taken in the ordinary way.
    Clean,
    /// The lock was taken, but a previous holder died while holding it (now
    /// or earlier, and nobody has called `mark_consistent` since): the data
    /// it guards may be half-updated. The caller holds the lock.
    OwnerDied,
}

impl Acquired {
    /// Whether a previous holder died holding the lock.
    #[inline]
    pub fn owner_died(self) -> bool {
        self == Acquired::OwnerDied
    }

    #[inline]
    fn from_word(word: u32) -> Acquired {
        if word & INCONSISTENT != 0 {
            Acquired::OwnerDied
        } else {
            Acquired::Clean
        }
    }
}

/// Release of a lock nobody holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotHeld;

impl core::fmt::Display for NotHeld {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("release of a lock that is not held")
    }
}

/// A lock that works across processes and survives the death of its holder.
///
/// `RawLock` is the raw state, `#[repr(C)]` and pointer-free, meant to be
/// placed in shared memory (the crate's `Shared` and `Segment` do that; the
/// [`Lock`](crate::Lock) handle wraps one). It implements
/// [`lock_api::RawMutex`] and [`lock_api::RawMutexTimed`], so a
/// `lock_api::Mutex<RawLock, T>` guards data shared between processes.
///
/// As with Python's `multiprocessing.Lock`, any thread may release a held
/// lock through [`RawLock::release`]; the lock records which thread acquired
/// it, for owner-death detection only.
///
/// # Owner death
///
/// Blocking and timed acquisitions that have slept for a while check whether
/// the holding thread still exists (first after 1 ms, then at doubling
/// intervals of at most 100 ms). If it does not, the waiter takes the lock
/// and gets [`Acquired::OwnerDied`]. Through `lock_api`, which cannot return
/// that, the lock is simply granted; [`RawLock::is_inconsistent`] tells.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{Acquired, RawLock};
///
/// static LOCK: RawLock = RawLock::new();
/// assert_eq!(LOCK.lock(), Acquired::Clean);
/// assert!(LOCK.is_locked());
/// assert!(LOCK.try_lock().is_none());
/// LOCK.release().unwrap();
/// assert!(LOCK.release().is_err());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawLock {
    /// `holder tid | INCONSISTENT | WAITERS`, see the constants.
    word: AtomicU32,
    cell: WaitCell,
}

impl Default for RawLock {
    fn default() -> Self {
        RawLock::new()
    }
}

impl RawLock {
    loom_const_fn! {
        /// A free, consistent lock.
        pub fn new() -> RawLock {
            RawLock {
                word: AtomicU32::new(0),
                cell: WaitCell::new(),
            }
        }
    }

    /// Acquires the lock, sleeping as long as it takes.
    #[inline]
    pub fn lock(&self) -> Acquired {
        let tid = sys::current_tid();
        match self.try_fast(tid) {
            Some(acquired) => acquired,
            None => match self.lock_slow(tid, Deadline::NEVER) {
                Some(acquired) => acquired,
                None => unreachable!("a wait without deadline timed out"),
            },
        }
    }

    /// Acquires the lock if it is free; never sleeps.
    #[inline]
    pub fn try_lock(&self) -> Option<Acquired> {
        let tid = sys::current_tid();
        self.try_fast(tid).or_else(|| self.try_take(tid, 0))
    }

    /// Acquires the lock, giving up at `deadline` (`None` then).
    #[inline]
    pub fn lock_until(&self, deadline: Deadline) -> Option<Acquired> {
        let tid = sys::current_tid();
        self.try_fast(tid).or_else(|| self.lock_slow(tid, deadline))
    }

    /// Acquires the lock, giving up after `timeout`; a zero timeout is one
    /// try.
    #[inline]
    pub fn lock_for(&self, timeout: Duration) -> Option<Acquired> {
        let tid = sys::current_tid();
        self.try_fast(tid)
            .or_else(|| self.lock_slow(tid, Deadline::after(timeout)))
    }

    /// Releases the lock, whoever holds it.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the lock is free.
    #[inline]
    pub fn release(&self) -> Result<(), NotHeld> {
        // One compare-and-swap when this thread holds the lock and nothing
        // is flagged: a load first would pull the contended cache line in
        // twice.
        // Release: pairs with the Acquire of the next acquisition.
        if self
            .word
            .compare_exchange(sys::current_tid(), 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(());
        }
        self.release_slow()
    }

    /// Whether some thread holds the lock (a snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        !is_free(self.word.load(Ordering::Relaxed))
    }

    /// Whether the calling thread holds the lock.
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        holder(self.word.load(Ordering::Relaxed)) == sys::current_tid()
    }

    /// The kernel thread id of the holder, if the lock is held (a snapshot).
    pub fn holder_tid(&self) -> Option<u32> {
        match holder(self.word.load(Ordering::Relaxed)) {
            0 => None,
            tid => Some(tid),
        }
    }

    /// Whether a holder died holding the lock and nobody has marked the
    /// lock consistent since.
    #[inline]
    pub fn is_inconsistent(&self) -> bool {
        self.word.load(Ordering::Relaxed) & INCONSISTENT != 0
    }

    /// Declares the guarded data repaired after [`Acquired::OwnerDied`]:
    /// later acquisitions are [`Acquired::Clean`] again.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] unless the calling thread holds the lock.
    pub fn mark_consistent(&self) -> Result<(), NotHeld> {
        if !self.is_held_by_current_thread() {
            return Err(NotHeld);
        }
        // Relaxed: only the holder's own bit changes; the release that ends
        // this hold publishes it with the data.
        self.word.fetch_and(!INCONSISTENT, Ordering::Relaxed);
        Ok(())
    }

    /// The one-CAS attempt on a free, consistent, uncontended lock.
    #[inline]
    fn try_fast(&self, tid: u32) -> Option<Acquired> {
        // Acquire: pairs with the Release of the previous holder's release.
        self.word
            .compare_exchange(0, tid, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| Acquired::Clean)
    }

    /// Takes the lock if it is free, keeping the INCONSISTENT bit and
    /// adding `extra` (WAITERS after having slept: others may sleep too).
    fn try_take(&self, tid: u32, extra: u32) -> Option<Acquired> {
        let mut word = self.word.load(Ordering::Relaxed);
        while is_free(word) {
            let new = tid | (word & (INCONSISTENT | WAITERS)) | extra;
            // Acquire: pairs with the Release of the previous release.
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(Acquired::from_word(word)),
                Err(now) => word = now,
            }
        }
        None
    }

    #[cold]
    fn lock_slow(&self, tid: u32, deadline: Deadline) -> Option<Acquired> {
        debug_assert!(
            tid != 0 && tid <= TID_MASK,
            "thread id {tid} does not fit the lock word"
        );
        if let Some(acquired) = self.try_take(tid, 0) {
            return Some(acquired);
        }
        // Spin: a holder on another core usually lets go well before a
        // sleep and wake-up would complete.
        sys::spin_until(deadline, sys::Poll::Backoff, || {
            is_free(self.word.load(Ordering::Relaxed))
        });
        if let Some(acquired) = self.try_take(tid, 0) {
            return Some(acquired);
        }
        if deadline.has_passed() {
            return None;
        }

        let mut probe = sys::Probe::start();
        loop {
            // After sleeping once this thread cannot know whether others
            // still sleep, so it takes the lock with WAITERS set.
            if let Some(acquired) = self.try_take(tid, WAITERS) {
                return Some(acquired);
            }
            let slept = sys::sleep_flagged(
                &self.cell,
                &self.word,
                WAITERS,
                deadline.min(probe.at()),
                is_free,
            );
            if slept == Some(Wake::TimedOut) {
                if deadline.has_passed() {
                    return self.try_take(tid, WAITERS);
                }
                if probe.due() {
                    if let Some(acquired) = self.take_from_dead_holder(tid) {
                        return Some(acquired);
                    }
                }
            }
        }
    }

    /// If the holder no longer exists, takes the lock over and marks it
    /// inconsistent.
    #[cold]
    fn take_from_dead_holder(&self, tid: u32) -> Option<Acquired> {
        let word = self.word.load(Ordering::Relaxed);
        let dead = holder(word);
        if dead == 0 || dead == tid || !sys::thread_is_gone(dead) {
            return None;
        }
        // Acquire: whatever the dead holder managed to publish is seen. The
        // CAS fails if the word moved on meanwhile (another waiter took it
        // over first); this waiter then goes back to waiting.
        self.word
            .compare_exchange(
                word,
                tid | INCONSISTENT | WAITERS,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| Acquired::OwnerDied)
    }

    #[cold]
    fn release_slow(&self) -> Result<(), NotHeld> {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if is_free(word) {
                return Err(NotHeld);
            }
            // Release: pairs with the Acquire of the next acquisition.
            match self.word.compare_exchange_weak(
                word,
                word & INCONSISTENT,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        if word & WAITERS != 0 {
            self.cell.wake_one(&self.word);
        }
        Ok(())
    }
}

// Not under loom: `INIT` needs a const constructor.
#[cfg(not(loom))]
// SAFETY: `lock`/`try_lock`/`try_lock_*` grant exclusive ownership until
// `unlock` (the CAS protocol above); `unlock` is only called by a holder
// (trait contract), on the thread that locked (GuardNoSend), so the word
// names that thread.
unsafe impl lock_api::RawMutex for RawLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawLock = RawLock::new();

    type Guard = lock_api::GuardNoSend;

    #[inline]
    fn lock(&self) -> Self::Guard {
        let _ = RawLock::lock(self);
        lock_api::GuardNoSend::new()
    }

    #[inline]
    fn try_lock(&self) -> Option<Self::Guard> {
        RawLock::try_lock(self).map(|_| lock_api::GuardNoSend::new())
    }

    #[inline]
    unsafe fn unlock(&self, _guard: Self::Guard) {
        // The caller holds the lock (trait contract), so it is not free.
        let _ = self.release();
    }

    #[inline]
    fn is_locked(&self) -> bool {
        RawLock::is_locked(self)
    }
}

#[cfg(not(loom))]
// SAFETY: the timed forms follow the same protocol as `lock`, and give up
// no earlier than the deadline (the backends sleep until an absolute
// CLOCK_MONOTONIC instant).
unsafe impl lock_api::RawMutexTimed for RawLock {
    type Duration = Duration;
    type Instant = Deadline;

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> Option<Self::Guard> {
        self.lock_for(timeout).map(|_| lock_api::GuardNoSend::new())
    }

    #[inline]
    fn try_lock_until(&self, deadline: Deadline) -> Option<Self::Guard> {
        self.lock_until(deadline)
            .map(|_| lock_api::GuardNoSend::new())
    }
}
