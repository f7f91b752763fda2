//! `RawLock`: a mutual-exclusion lock whose word remembers its holder, so a
//! holder's death is noticed instead of deadlocking everyone.
//!
//! The fast paths are one compare-and-swap each, as in Rust std's futex
//! mutex; a ring's side, which only its holder gives back, is given back
//! with a plain store instead ([`RawLock::unlock_announced`]), its waiters
//! announcing their sleeps beside the lock. Unlike std's, the word holds the
//! holder's kernel thread id (the encoding of Linux robust futexes), which
//! lets a waiter that has slept a while ask the kernel whether the holder
//! still exists. If not, the waiter takes the lock over and is told so
//! ([`Acquired::OwnerDied`]); the lock stays marked *inconsistent*, and says
//! so to every later acquirer, until a holder calls
//! [`RawLock::mark_consistent`] — pthread's `EOWNERDEAD` contract.
//!
//! Beside the word the holder records which thread it is beyond the id (its
//! stamp, see `sys::ident`) and which of its acquisitions this is (its hold
//! number). The stamp keeps a recycled thread id from passing for the holder:
//! a thread that finds its own id in the word but not its own stamp knows the
//! holder was an earlier thread with that id, now dead, and takes the lock
//! over with `OwnerDied` at once. The hold number lets a guard give back
//! exactly its own hold ([`RawLock::unlock`]) even though any thread may
//! release the lock ([`RawLock::release`], Python's semantics) and someone
//! may have taken it again since.
//!
//! Memory ordering, once for the file: every successful acquisition is an
//! `Acquire` read-modify-write of the word and every release a `Release`
//! one, so each holder sees everything the previous holder wrote. Loads that
//! only decide what to try next are `Relaxed`; the CAS that follows them
//! does the synchronizing. The stamp and hold number are written only by the
//! holder, right after its acquiring CAS, and read only to compare with the
//! reader's own values: `Relaxed`, because a thread always reads its own
//! latest writes, and a value written by another thread can only fail the
//! comparison (stamps and hold numbers are never shared between threads).

use super::lockable::{Acquired, Lockable, Locked, NotOwner};
use super::wait::{sleep_announced, sleep_flagged, Probe};
use crate::shim::{
    self, loom_const_fn, outside_loom, AtomicU32, AtomicU64, Caller, Deadline, Ordering, Poll,
    WaitCell, Wake,
};
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

#[inline]
fn outcome(word: u32) -> Acquired {
    if word & INCONSISTENT != 0 {
        Acquired::OwnerDied
    } else {
        Acquired::Clean
    }
}

/// How many times a waiter for an announced lock gives its CPU away
/// before it sleeps (see [`RawLock::lock_slow`]).
const SIDE_YIELDS: u32 = 16;

/// How far [`RawLock::take_over`] looks for a dead holder.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Liveness {
    /// Only a holder with the caller's own id (free to see).
    OwnIdOnly,
    /// Any holder, asking the kernel (a syscall).
    AskKernel,
}

/// One hold of a [`RawLock`]: the thread that took it and which of that
/// thread's acquisitions it is. Given back with [`RawLock::unlock`].
///
/// # Examples
///
/// Each acquisition is a hold of its own, so a stale one gives nothing
/// back:
///
/// ```
/// use shmsync::raw::RawLock;
///
/// let lock = RawLock::new();
/// let first = lock.lock().hold;
/// lock.release()?;
/// let second = lock.lock().hold;
/// assert_ne!(first, second);
/// assert_eq!(lock.current_hold(), Some(second));
/// assert!(lock.unlock(first).is_err(), "not the current hold");
/// lock.unlock(second)?;
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LockHold {
    /// The taking thread's id in the low half, the acquisition's number
    /// in the high half. Two `u64` fields make the hold a scalar pair,
    /// which Rust passes in registers: guards and results carrying it are
    /// not shuffled through the stack (a mixed-width copy there defeats
    /// store forwarding and tripled the cost of a `try_lock`).
    id: u64,
    stamp: u64,
}

impl LockHold {
    fn new(tid: u32, number: u32, stamp: u64) -> LockHold {
        LockHold {
            id: u64::from(number) << 32 | u64::from(tid),
            stamp,
        }
    }

    fn tid(self) -> u32 {
        self.id as u32
    }

    fn number(self) -> u32 {
        (self.id >> 32) as u32
    }
}

/// Release of a lock nobody holds: what [`RawLock::release`] reports, and
/// Python's `ValueError` from `Lock.release()`.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{NotHeld, RawLock};
///
/// let lock = RawLock::new();
/// assert_eq!(lock.release(), Err(NotHeld));
/// assert_eq!(NotHeld.to_string(), "release of a lock that is not held");
/// ```
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
/// `Lock` handle wraps one). It implements [`Lockable`], and
/// [`lock_api::RawMutex`] and [`lock_api::RawMutexTimed`], so a
/// `lock_api::Mutex<RawLock, T>` guards data shared between processes.
///
/// As with Python's `multiprocessing.Lock`, any thread may release a held
/// lock through [`RawLock::release`]. [`RawLock::unlock`] instead gives back
/// one particular hold, and only if it is still the current one.
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
/// let locked = LOCK.lock();
/// assert_eq!(locked.acquired, Acquired::Clean);
/// assert!(LOCK.is_locked());
/// assert!(LOCK.try_lock().is_none());
///
/// // Python's any-thread release, then a stale hold changes nothing:
/// LOCK.release().unwrap();
/// let again = LOCK.lock();
/// assert!(LOCK.unlock(locked.hold).is_err());
/// assert!(LOCK.is_locked());
/// LOCK.unlock(again.hold).unwrap();
/// assert!(LOCK.release().is_err());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawLock {
    /// `holder tid | INCONSISTENT | WAITERS`, see the constants.
    word: AtomicU32,
    /// The holder's hold number; meaningful while held.
    number: AtomicU32,
    /// The holder's stamp; meaningful while held.
    stamp: AtomicU64,
    cell: WaitCell,
}

impl Default for RawLock {
    fn default() -> Self {
        RawLock::new()
    }
}

impl RawLock {
    loom_const_fn! {
        /// A free, consistent lock. `const`, so it can be a `static`; to
        /// share it with other processes, place it in shared memory.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::raw::RawLock;
        /// use shmsync::Shared;
        ///
        /// static IN_PROCESS: RawLock = RawLock::new();
        /// let across_processes = Shared::new(RawLock::new())?;
        /// assert!(!IN_PROCESS.is_locked());
        /// assert!(!across_processes.is_locked());
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        pub fn new() -> RawLock {
            RawLock {
                word: AtomicU32::new(0),
                number: AtomicU32::new(0),
                stamp: AtomicU64::new(0),
                cell: WaitCell::new(),
            }
        }
    }

    /// Acquires the lock, sleeping as long as it takes; a holder that dies
    /// meanwhile hands it over ([`Acquired::OwnerDied`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Acquired, RawLock};
    ///
    /// let lock = RawLock::new();
    /// std::thread::scope(|s| {
    ///     for _ in 0..2 {
    ///         s.spawn(|| {
    ///             let locked = lock.lock(); // waits while the other one holds it
    ///             assert_eq!(locked.acquired, Acquired::Clean);
    ///             assert!(lock.is_held_by_current_thread());
    ///             let _ = lock.unlock(locked.hold);
    ///         });
    ///     }
    /// });
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn lock(&self) -> Locked<LockHold> {
        match self.try_lock_until(Deadline::NEVER) {
            Some(locked) => locked,
            None => unreachable!("a wait without deadline timed out"),
        }
    }

    /// Acquires the lock if it is free (or its holder is certainly dead:
    /// then [`Acquired::OwnerDied`]); never sleeps.
    ///
    /// Whether a holder still exists is a question for the kernel (a few
    /// system calls), so a failed try asks it at most once per tick of the
    /// coarse clock (1-4 ms) on each thread: a thread that polls with
    /// `try_lock` takes a dead holder's lock over within a few milliseconds
    /// of the death, as a waiter does within 100 ms.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Acquired, RawLock};
    /// use shmsync::{Process, Shared};
    ///
    /// let lock = Shared::new(RawLock::new())?;
    /// let locked = lock.lock();
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || assert!(lock.try_lock().is_none(), "the parent holds it")
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// lock.unlock(locked.hold)?;
    /// assert!(lock.try_lock().is_some());
    ///
    /// // A child takes the lock and dies holding it.
    /// let lock = Shared::new(RawLock::new())?;
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || std::mem::forget(lock.lock())
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// let taken = loop {
    ///     if let Some(taken) = lock.try_lock() {
    ///         break taken;
    ///     }
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    /// };
    /// assert_eq!(taken.acquired, Acquired::OwnerDied);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<Locked<LockHold>> {
        self.try_lock_before_waiting()
            .or_else(|| self.take_over_if_gone())
    }

    /// The one try of a caller that waits next when it fails, and whose
    /// wait asks the kernel about the holder on its own schedule: as
    /// [`try_lock`](RawLock::try_lock), without asking.
    #[inline]
    pub(crate) fn try_lock_before_waiting(&self) -> Option<Locked<LockHold>> {
        let me = shim::current_thread();
        if self.try_fast(me) {
            return Some(self.record(me, shim::next_hold(), Acquired::Clean));
        }
        self.try_slow(me)
    }

    /// A try that found the lock held, by a caller that will not wait:
    /// takes it over if the kernel says its holder is gone, asking at most
    /// once a clock tick on this thread (see
    /// [`try_lock`](RawLock::try_lock)).
    #[cold]
    #[inline(never)]
    pub(crate) fn take_over_if_gone(&self) -> Option<Locked<LockHold>> {
        let me = shim::current_thread();
        self.take_over_throttled(me, 0)
            .map(|acquired| self.record(me, shim::next_hold(), acquired))
    }

    /// [`RawLock::take_over`], asking the kernel if this thread has not
    /// asked in the last clock tick.
    fn take_over_throttled(&self, me: Caller, extra: u32) -> Option<Acquired> {
        if !shim::may_ask_kernel() {
            return None;
        }
        self.take_over(me, extra, Liveness::AskKernel)
    }

    /// [`try_lock`](RawLock::try_lock) when the one CAS failed: out of line,
    /// so the fast path stays small enough to inline into callers.
    #[cold]
    #[inline(never)]
    fn try_slow(&self, me: Caller) -> Option<Locked<LockHold>> {
        self.try_take(me, 0)
            .or_else(|| self.take_over(me, 0, Liveness::OwnIdOnly))
            .map(|acquired| self.record(me, shim::next_hold(), acquired))
    }

    /// Acquires the lock, giving up after `timeout`; a zero timeout is one
    /// try.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// let lock = Shared::new(RawLock::new())?;
    /// let locked = lock.lock();
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || assert!(lock.try_lock_for(Duration::from_millis(5)).is_none())
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// lock.unlock(locked.hold)?;
    /// assert!(lock.try_lock_for(Duration::ZERO).is_some());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<Locked<LockHold>> {
        self.acquire(Deadline::after(timeout), None, || false)
    }

    /// Acquires the lock, giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let lock = RawLock::new();
    /// let deadline = Deadline::after(Duration::from_millis(5));
    /// let locked = lock.try_lock_until(deadline);
    /// assert!(locked.is_some());
    /// // A second try on the same deadline, from another thread, gives up.
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_lock_until(deadline).is_none()));
    /// });
    /// assert!(deadline.has_passed());
    /// ```
    #[inline]
    pub fn try_lock_until(&self, deadline: Deadline) -> Option<Locked<LockHold>> {
        self.acquire(deadline, None, || false)
    }

    /// [`try_lock_until`](RawLock::try_lock_until) for a lock given back
    /// with [`unlock_announced`](RawLock::unlock_announced): a waiter that
    /// sleeps also announces itself in `announce`, a word beside the lock
    /// that every holder and waiter of this lock passes (the ring's sides).
    #[inline]
    pub(crate) fn try_lock_announced(
        &self,
        deadline: Deadline,
        announce: &AtomicU32,
    ) -> Option<Locked<LockHold>> {
        self.acquire(deadline, Some(announce), || false)
    }

    /// [`try_lock_until`](RawLock::try_lock_until) that also gives up when
    /// `give_up` says so, asked on the schedule a sleeping waiter looks for
    /// a dead holder (within 100 ms): for a caller whose reason to wait can
    /// end while the lock stays held (a barrier aborted while a party
    /// queues for its internal lock).
    pub(crate) fn try_lock_until_unless(
        &self,
        deadline: Deadline,
        give_up: impl FnMut() -> bool,
    ) -> Option<Locked<LockHold>> {
        self.acquire(deadline, None, give_up)
    }

    /// Gives back exactly `hold`: releases the lock if `hold` is its current
    /// hold, and does nothing otherwise.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] if the lock was released since `hold` was taken (by
    /// [`RawLock::release`] in any thread) and perhaps taken again, or if
    /// the calling thread is not the one that took `hold`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    ///
    /// let lock = RawLock::new();
    /// let locked = lock.lock();
    /// lock.unlock(locked.hold)?;
    /// assert!(!lock.is_locked());
    /// assert!(lock.unlock(locked.hold).is_err(), "given back already");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn unlock(&self, hold: LockHold) -> Result<(), NotOwner> {
        self.unlock_as(shim::current_thread(), hold)
    }

    /// The caller a hold names: for a hold the calling thread took and kept
    /// where no other thread can reach it (the ring's sides taken within one
    /// call), whose identity need not be looked up again.
    #[cfg(feature = "std")]
    #[inline]
    pub(crate) fn own_caller(hold: LockHold) -> Caller {
        Caller {
            tid: hold.tid(),
            stamp: hold.stamp,
        }
    }

    /// Gives back `hold`, taken by `me`, with a plain store when the word
    /// names the holder alone: for a lock that nobody releases on another's
    /// behalf (no [`RawLock::release`]) and whose waiters all sleep through
    /// [`try_lock_announced`](RawLock::try_lock_announced) with the same
    /// `announce` word (the ring's sides).
    ///
    /// A read-modify-write waits for every store before it to reach the
    /// cache (a locked instruction on x86): after a put, for the cache lines
    /// of the message and of the commit, which the other side may be
    /// reading. Measured with `cargo bench --bench queue -- spsc_u64` (two
    /// pinned processes, plain `put` / `get` of `u64`s, 2-vCPU AMD EPYC Zen
    /// 4 guest, builds alternating run by run): 16.6-17.8 ns a message with
    /// the compare-and-swap, 11.6-13.3 with the store, in runs where a
    /// cache line crossed in about 55 ns; both builds also had runs of
    /// 24-33 ns.
    ///
    /// The store can overwrite a `WAITERS` flag that a waiter set after the
    /// load that chose it; that waiter has also set `announce` and fenced
    /// heavily before sleeping (`wait::sleep_announced`), so either the
    /// look at `announce` below finds it, or its sleep finds the word
    /// changed and returns.
    #[inline]
    pub(crate) fn unlock_announced(
        &self,
        me: Caller,
        hold: LockHold,
        announce: &AtomicU32,
    ) -> Result<(), NotOwner> {
        if !self.holds(me, hold) {
            return Err(NotOwner);
        }
        // Relaxed: the holder's own word; a flag set after this load is
        // answered through `announce`.
        if self.word.load(Ordering::Relaxed) != me.tid {
            return self.unlock_flagged(me, announce);
        }
        // Release: pairs with the Acquire of the next acquisition.
        shim::store_blind(&self.word, 0, Ordering::Release);
        // The holder's half of the Dekker pair with `sleep_announced`.
        shim::light_fence();
        // Relaxed: the fence orders it after the store.
        if announce.load(Ordering::Relaxed) != 0 {
            self.wake_announced(announce);
        }
        Ok(())
    }

    /// [`unlock_announced`](RawLock::unlock_announced) when the word is
    /// flagged (a waiter, or an inconsistent lock): the compare-and-swap,
    /// which wakes a flagged sleeper; the announcement is answered too.
    #[cold]
    #[inline(never)]
    fn unlock_flagged(&self, me: Caller, announce: &AtomicU32) -> Result<(), NotOwner> {
        self.release_slow(Some(me.tid)).map_err(|_| NotOwner)?;
        // Relaxed: the release's wake-up serves every sleeper the flag
        // counted; a sleeper announcing after this store has fenced, and
        // sees the word changed or flags it again.
        if announce.load(Ordering::Relaxed) != 0 {
            announce.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    /// A plain release found a sleeper announced: clears the announcement
    /// and wakes one sleeper, which takes the lock flagged (others may
    /// sleep too), so its own release wakes the next.
    #[cold]
    #[inline(never)]
    fn wake_announced(&self, announce: &AtomicU32) {
        // Relaxed: a sleeper that announces between the load and this store
        // has fenced after announcing, and finds the word changed.
        announce.store(0, Ordering::Relaxed);
        self.cell.wake_one(&self.word);
    }

    /// Releases `hold` on behalf of `me`.
    #[inline]
    fn unlock_as(&self, me: Caller, hold: LockHold) -> Result<(), NotOwner> {
        if !self.holds(me, hold) {
            return Err(NotOwner);
        }
        // One compare-and-swap when nothing is flagged. Release: pairs with
        // the Acquire of the next acquisition.
        if self
            .word
            .compare_exchange(me.tid, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(());
        }
        self.release_slow(Some(me.tid)).map_err(|_| NotOwner)
    }

    /// Releases the lock, whoever holds it: Python's `Lock.release()`.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the lock is free.
    ///
    /// # Examples
    ///
    /// One thread takes the lock, another releases it:
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    ///
    /// let lock = RawLock::new();
    /// let _locked = lock.lock();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(lock.release(), Ok(())));
    /// });
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn release(&self) -> Result<(), NotHeld> {
        // One compare-and-swap when this thread holds the lock and nothing
        // is flagged: a load first would pull the contended cache line in
        // twice. Release: pairs with the Acquire of the next acquisition.
        if self
            .word
            .compare_exchange(
                shim::current_thread().tid,
                0,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            return Ok(());
        }
        self.release_slow(None)
    }

    /// Whether some thread holds the lock (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    ///
    /// let lock = RawLock::new();
    /// assert!(!lock.is_locked());
    /// let locked = lock.lock();
    /// assert!(lock.is_locked());
    /// lock.unlock(locked.hold)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        !is_free(self.word.load(Ordering::Relaxed))
    }

    /// Whether the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    ///
    /// let lock = RawLock::new();
    /// let _locked = lock.lock();
    /// assert!(lock.is_held_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!lock.is_held_by_current_thread()));
    /// });
    /// ```
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        self.is_held_by(shim::current_thread())
    }

    /// The kernel thread id of the holder, if the lock is held (a snapshot).
    ///
    /// # Examples
    ///
    /// A forked child's only thread has the child's process id:
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    /// use shmsync::{Process, Shared};
    ///
    /// let lock = Shared::new(RawLock::new())?;
    /// assert_eq!(lock.holder_tid(), None);
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits holding it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// assert_eq!(lock.holder_tid(), Some(child.pid()));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn holder_tid(&self) -> Option<u32> {
        match holder(self.word.load(Ordering::Relaxed)) {
            0 => None,
            tid => Some(tid),
        }
    }

    /// Whether a holder died holding the lock and nobody has marked the
    /// lock consistent since.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// let lock = Shared::new(RawLock::new())?;
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits holding it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// assert!(!lock.is_inconsistent(), "nobody has noticed yet");
    /// let locked = lock.try_lock_for(Duration::from_secs(5));
    /// assert!(locked.is_some_and(|locked| locked.owner_died()));
    /// assert!(lock.is_inconsistent());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn is_inconsistent(&self) -> bool {
        self.word.load(Ordering::Relaxed) & INCONSISTENT != 0
    }

    /// Declares the guarded data repaired after [`Acquired::OwnerDied`]:
    /// later acquisitions are [`Acquired::Clean`] again.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Acquired, RawLock};
    /// use shmsync::{Error, Process, Shared};
    /// use std::time::Duration;
    ///
    /// let lock = Shared::new(RawLock::new())?;
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits holding it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// let locked = lock.try_lock_for(Duration::from_secs(5)).ok_or(Error::Timeout)?;
    /// assert_eq!(locked.acquired, Acquired::OwnerDied);
    /// // ... repair what the child left half done, then:
    /// lock.mark_consistent()?;
    /// lock.unlock(locked.hold)?;
    /// assert_eq!(lock.try_lock().map(|again| again.acquired), Some(Acquired::Clean));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn mark_consistent(&self) -> Result<(), NotOwner> {
        if !self.is_held_by_current_thread() {
            return Err(NotOwner);
        }
        // Relaxed: only the holder's own bit changes; the release that ends
        // this hold publishes it with the data.
        self.word.fetch_and(!INCONSISTENT, Ordering::Relaxed);
        Ok(())
    }

    /// The calling thread's current hold, if it holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    ///
    /// let lock = RawLock::new();
    /// assert_eq!(lock.current_hold(), None);
    /// let locked = lock.lock();
    /// assert_eq!(lock.current_hold(), Some(locked.hold));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(lock.current_hold(), None, "not this thread's"));
    /// });
    /// ```
    pub fn current_hold(&self) -> Option<LockHold> {
        let me = shim::current_thread();
        self.is_held_by(me).then(|| {
            LockHold::new(
                me.tid,
                // Relaxed: written by this thread when it took the lock.
                self.number.load(Ordering::Relaxed),
                me.stamp,
            )
        })
    }

    /// Whether `me` holds the lock: the word names its id and the stamp is
    /// its own (not that of an earlier thread with the same id).
    #[inline]
    fn is_held_by(&self, me: Caller) -> bool {
        holder(self.word.load(Ordering::Relaxed)) == me.tid
            && self.stamp.load(Ordering::Relaxed) == me.stamp
    }

    /// Whether `hold` is `me`'s and is the lock's current hold.
    #[inline]
    fn holds(&self, me: Caller, hold: LockHold) -> bool {
        hold.tid() == me.tid
            && hold.stamp == me.stamp
            && self.is_held_by(me)
            && self.number.load(Ordering::Relaxed) == hold.number()
    }

    /// Notes who holds the lock now; the caller has just acquired it.
    #[inline]
    fn record(&self, me: Caller, number: u32, acquired: Acquired) -> Locked<LockHold> {
        // Relaxed: see the module docs; the holder's own release publishes
        // them with everything else.
        self.number.store(number, Ordering::Relaxed);
        self.stamp.store(me.stamp, Ordering::Relaxed);
        Locked {
            hold: LockHold::new(me.tid, number, me.stamp),
            acquired,
        }
    }

    /// The one-CAS attempt on a free, consistent, uncontended lock.
    #[inline]
    fn try_fast(&self, me: Caller) -> bool {
        // Acquire: pairs with the Release of the previous holder's release.
        self.word
            .compare_exchange(0, me.tid, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock if it is free, keeping the INCONSISTENT bit and
    /// adding `extra` (WAITERS after having slept: others may sleep too).
    fn try_take(&self, me: Caller, extra: u32) -> Option<Acquired> {
        let mut word = self.word.load(Ordering::Relaxed);
        while is_free(word) {
            let new = me.tid | (word & (INCONSISTENT | WAITERS)) | extra;
            // Acquire: pairs with the Release of the previous release.
            match self
                .word
                .compare_exchange_weak(word, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(outcome(word)),
                Err(now) => word = now,
            }
        }
        None
    }

    /// Every acquisition that may wait: the one compare-and-swap, then the
    /// slow path ([`RawLock::lock_slow`] with `announce` and `give_up`), and
    /// the hold recorded.
    #[inline]
    fn acquire(
        &self,
        deadline: Deadline,
        announce: Option<&AtomicU32>,
        give_up: impl FnMut() -> bool,
    ) -> Option<Locked<LockHold>> {
        let me = shim::current_thread();
        if self.try_fast(me) {
            return Some(self.record(me, shim::next_hold(), Acquired::Clean));
        }
        self.lock_slow(me, deadline, announce, give_up)
            .map(|acquired| self.record(me, shim::next_hold(), acquired))
    }

    /// The slow path of every acquisition: spin, then sleep, checking now
    /// and then whether the holder still exists (and whether to `give_up`).
    #[cold]
    fn lock_slow(
        &self,
        me: Caller,
        deadline: Deadline,
        announce: Option<&AtomicU32>,
        mut give_up: impl FnMut() -> bool,
    ) -> Option<Acquired> {
        debug_assert!(
            me.tid != 0 && me.tid <= TID_MASK,
            "thread id {} does not fit the lock word",
            me.tid
        );
        if let Some(acquired) = self
            .try_take(me, 0)
            .or_else(|| self.take_over(me, 0, Liveness::OwnIdOnly))
        {
            return Some(acquired);
        }
        // Spin: a holder on another core usually lets go well before a
        // sleep and wake-up would complete.
        shim::spin_until(deadline, Poll::Backoff, || {
            is_free(self.word.load(Ordering::Relaxed))
        });
        if let Some(acquired) = self.try_take(me, 0) {
            return Some(acquired);
        }
        if deadline.has_passed() {
            // A deadline shorter than the first probe: asked as a try is.
            return self.take_over_throttled(me, 0);
        }
        let mut probe = Probe::start();
        // An announced lock (a ring's side) is held a few nanoseconds at a
        // time: still held after the spin, its holder lost its CPU. Yielding
        // lets it run, where a sleep costs a heavy fence and a futex wait
        // and wake (measured, `cargo bench --bench queue -- mpmc_u64`, two
        // producers and two consumers on 2 vCPUs: 28-39 ns a message
        // without the yields, 13-33 with them). A yield can last a time
        // slice where other threads want the CPU, so the yields stop at the
        // first probe: a holder that died is still looked for on schedule
        // (a take-over within a short deadline depends on it).
        if announce.is_some() {
            let free = || is_free(self.word.load(Ordering::Relaxed));
            if shim::yield_until(deadline.min(probe.at()), SIDE_YIELDS, free) {
                if let Some(acquired) = self.try_take(me, 0) {
                    return Some(acquired);
                }
            }
        }

        loop {
            // After sleeping once this thread cannot know whether others
            // still sleep, so it takes the lock with WAITERS set.
            if let Some(acquired) = self.try_take(me, WAITERS) {
                return Some(acquired);
            }
            let until = deadline.min(probe.at());
            let slept = match announce {
                None => sleep_flagged(&self.cell, &self.word, WAITERS, until, is_free),
                Some(announce) => {
                    sleep_announced(&self.cell, &self.word, WAITERS, announce, until, is_free)
                }
            };
            if slept == Some(Wake::TimedOut) {
                if deadline.has_passed() {
                    return self.try_take(me, WAITERS);
                }
                if probe.due() {
                    if let Some(acquired) = self.take_over(me, WAITERS, Liveness::AskKernel) {
                        return Some(acquired);
                    }
                    if give_up() {
                        return None;
                    }
                }
            }
        }
    }

    /// If the holder certainly no longer exists, takes the lock over (adding
    /// `extra` to the word) and marks it inconsistent.
    ///
    /// A holder with the caller's own id but another stamp is an earlier
    /// thread that had this id: it is certainly gone, and seeing so costs
    /// nothing. Any other id must be asked of the kernel (an id no thread
    /// can have counts as gone), a syscall, so only sleepers on their probe
    /// schedule ask.
    #[cold]
    fn take_over(&self, me: Caller, extra: u32, liveness: Liveness) -> Option<Acquired> {
        let word = self.word.load(Ordering::Relaxed);
        let gone = match holder(word) {
            0 => false,
            tid if tid == me.tid => self.stamp.load(Ordering::Relaxed) != me.stamp,
            tid => liveness == Liveness::AskKernel && shim::thread_is_gone(tid),
        };
        if !gone {
            return None;
        }
        // Acquire: whatever the dead holder managed to publish is seen. The
        // CAS fails if the word moved on meanwhile (another waiter took it
        // over first); this waiter then goes back to waiting.
        self.word
            .compare_exchange(
                word,
                me.tid | INCONSISTENT | (word & WAITERS) | extra,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .map(|_| Acquired::OwnerDied)
    }

    /// Releases the lock if it is held (by thread `only`, if given), waking a
    /// sleeper if the word says there may be one.
    #[cold]
    fn release_slow(&self, only: Option<u32>) -> Result<(), NotHeld> {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if is_free(word) || only.is_some_and(|tid| holder(word) != tid) {
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

    /// Takes the lock back for a condition variable's waiter, with the hold
    /// number it had before the wait.
    fn relock(&self, number: u32, deadline: Deadline) -> Option<Acquired> {
        let me = shim::current_thread();
        let acquired = if self.try_fast(me) {
            Acquired::Clean
        } else {
            self.lock_slow(me, deadline, None, || false)?
        };
        Some(self.record(me, number, acquired).acquired)
    }
}

// SAFETY: the CAS protocol above grants the lock to one thread at a time,
// with Acquire on every acquisition and Release on every release.
unsafe impl Lockable for RawLock {
    type Hold = LockHold;
    type Saved = LockHold;

    #[inline]
    fn try_lock(&self) -> Option<Locked<LockHold>> {
        RawLock::try_lock(self)
    }

    #[inline]
    fn try_lock_until(&self, deadline: Deadline) -> Option<Locked<LockHold>> {
        RawLock::try_lock_until(self, deadline)
    }

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> Option<Locked<LockHold>> {
        RawLock::try_lock_for(self, timeout)
    }

    #[inline]
    fn lock(&self) -> Locked<LockHold> {
        RawLock::lock(self)
    }

    #[inline]
    fn unlock(&self, hold: LockHold) -> Result<(), NotOwner> {
        RawLock::unlock(self, hold)
    }

    fn is_locked(&self) -> bool {
        RawLock::is_locked(self)
    }

    fn is_held_by_current_thread(&self) -> bool {
        RawLock::is_held_by_current_thread(self)
    }

    fn is_inconsistent(&self) -> bool {
        RawLock::is_inconsistent(self)
    }

    fn current_hold(&self) -> Option<LockHold> {
        RawLock::current_hold(self)
    }

    fn holder_tid(&self) -> Option<u32> {
        RawLock::holder_tid(self)
    }

    fn mark_consistent(&self) -> Result<(), NotOwner> {
        RawLock::mark_consistent(self)
    }

    fn unlock_all(&self) -> Result<LockHold, NotOwner> {
        let hold = self.current_hold().ok_or(NotOwner)?;
        RawLock::unlock(self, hold)?;
        Ok(hold)
    }

    fn relock_until(&self, saved: LockHold, deadline: Deadline) -> Option<Acquired> {
        self.relock(saved.number(), deadline)
    }
}

outside_loom! {
    // SAFETY: `lock`/`try_lock`/`try_lock_*` grant exclusive ownership until
    // `unlock` (the CAS protocol above). The guard state is the hold, kept
    // on the thread that locked (GuardNoSend makes lock_api's guards
    // `!Send`), and `unlock` releases exactly that hold, never one taken
    // independently of it.
    unsafe impl lock_api::RawMutex for RawLock {
        #[allow(clippy::declare_interior_mutable_const)]
        const INIT: RawLock = RawLock::new();

        type Guard = (LockHold, lock_api::GuardNoSend);

        #[inline]
        fn lock(&self) -> Self::Guard {
            (RawLock::lock(self).hold, lock_api::GuardNoSend::new())
        }

        #[inline]
        fn try_lock(&self) -> Option<Self::Guard> {
            RawLock::try_lock(self).map(|locked| (locked.hold, lock_api::GuardNoSend::new()))
        }

        #[inline]
        unsafe fn unlock(&self, (hold, _): Self::Guard) {
            let _ = RawLock::unlock(self, hold);
        }

        #[inline]
        fn is_locked(&self) -> bool {
            RawLock::is_locked(self)
        }
    }

    // SAFETY: the timed forms follow the same protocol as `lock`, and give up
    // no earlier than the deadline (the backends sleep until an absolute
    // CLOCK_MONOTONIC instant).
    unsafe impl lock_api::RawMutexTimed for RawLock {
        type Duration = Duration;
        type Instant = Deadline;

        #[inline]
        fn try_lock_for(&self, timeout: Duration) -> Option<Self::Guard> {
            RawLock::try_lock_for(self, timeout)
                .map(|locked| (locked.hold, lock_api::GuardNoSend::new()))
        }

        #[inline]
        fn try_lock_until(&self, deadline: Deadline) -> Option<Self::Guard> {
            RawLock::try_lock_until(self, deadline)
                .map(|locked| (locked.hold, lock_api::GuardNoSend::new()))
        }
    }
}
