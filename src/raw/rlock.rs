//! `RawRLock`: a recursive lock, a [`RawLock`] plus a recursion count.
//!
//! Only the holding thread reads or writes the count (it holds the lock
//! while it does), so the count is `Relaxed` throughout; the lock's own
//! Acquire/Release hand it, with the data, from one holder to the next. The
//! count lives in shared memory, where a peer may have written anything: it
//! saturates at `u32::MAX` instead of overflowing, and a count of 0 while
//! held reads as 1.

use super::lock::{LockHold, RawLock};
use super::lockable::{Acquired, Lockable, Locked, NotOwner};
use crate::shim::{loom_const_fn, AtomicU32, Deadline, Ordering};
use core::time::Duration;

/// What [`RawRLock::unlock_all`] keeps for [`RawRLock::relock_until`]: the
/// hold, and how many levels the thread held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depth {
    hold: LockHold,
    levels: u32,
}

impl Depth {
    /// The number of levels.
    pub fn get(self) -> u32 {
        self.levels
    }
}

/// A recursive lock across processes: the owning thread may acquire it again
/// without blocking, and must release it as many times.
///
/// It has [`RawLock`]'s owner-death detection: when the owner dies, the next
/// acquirer gets [`Acquired::OwnerDied`] at depth 1. Every level the owner
/// takes has the same hold (the owner's span of ownership): giving back a
/// hold with [`RawRLock::unlock`] releases one level while that span lasts,
/// and nothing once the lock has been released entirely and taken again.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawRLock;
///
/// static LOCK: RawRLock = RawRLock::new();
/// let outer = LOCK.lock();
/// let inner = LOCK.lock();
/// assert_eq!(LOCK.depth(), 2);
/// LOCK.unlock(inner.hold).unwrap();
/// LOCK.release().unwrap();
/// assert!(LOCK.release().is_err());
/// assert!(LOCK.unlock(outer.hold).is_err(), "released entirely already");
/// ```
#[repr(C)]
#[derive(Debug, Default)]
pub struct RawRLock {
    lock: RawLock,
    /// Levels held by the owner; meaningful only while the lock is held.
    count: AtomicU32,
}

impl RawRLock {
    loom_const_fn! {
        /// A free recursive lock.
        pub fn new() -> RawRLock {
            RawRLock {
                lock: RawLock::new(),
                count: AtomicU32::new(0),
            }
        }
    }

    /// Acquires the lock, or one more level of it if the calling thread
    /// owns it already.
    #[inline]
    pub fn lock(&self) -> Locked<LockHold> {
        match self.try_lock_until(Deadline::NEVER) {
            Some(locked) => locked,
            None => unreachable!("a wait without deadline timed out"),
        }
    }

    /// Acquires the lock (or a level) if that needs no waiting.
    #[inline]
    pub fn try_lock(&self) -> Option<Locked<LockHold>> {
        self.acquire_with(RawLock::try_lock)
    }

    /// Acquires the lock (or a level), giving up after `timeout`.
    #[inline]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<Locked<LockHold>> {
        self.acquire_with(|lock| lock.try_lock_for(timeout))
    }

    /// Acquires the lock (or a level), giving up at `deadline`.
    #[inline]
    pub fn try_lock_until(&self, deadline: Deadline) -> Option<Locked<LockHold>> {
        self.acquire_with(|lock| lock.try_lock_until(deadline))
    }

    /// Gives back one level of `hold`, if `hold` is the calling thread's
    /// current span of ownership; the last level frees the lock.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] if the calling thread does not own the lock under
    /// `hold` (it released it entirely since, or never took `hold`).
    #[inline]
    pub fn unlock(&self, hold: LockHold) -> Result<(), NotOwner> {
        if self.lock.current_hold() != Some(hold) {
            return Err(NotOwner);
        }
        self.release_level(hold)
    }

    /// Releases one level: Python's `RLock.release()`; the last level frees
    /// the lock.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    #[inline]
    pub fn release(&self) -> Result<(), NotOwner> {
        let hold = self.lock.current_hold().ok_or(NotOwner)?;
        self.release_level(hold)
    }

    /// Releases every level the calling thread holds, returning what
    /// [`RawRLock::relock_until`] needs to take them back: what a condition
    /// variable does around its wait.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    pub fn unlock_all(&self) -> Result<Depth, NotOwner> {
        let hold = self.lock.current_hold().ok_or(NotOwner)?;
        let levels = self.levels();
        self.count.store(0, Ordering::Relaxed);
        self.lock.unlock(hold)?;
        Ok(Depth { hold, levels })
    }

    /// Takes the lock back as [`RawRLock::unlock_all`] left it (same hold,
    /// same depth), giving up at `deadline`.
    pub fn relock_until(&self, depth: Depth, deadline: Deadline) -> Option<Acquired> {
        let acquired = Lockable::relock_until(&self.lock, depth.hold, deadline)?;
        self.count.store(depth.levels, Ordering::Relaxed);
        Some(acquired)
    }

    /// Levels the calling thread holds; 0 if it does not own the lock.
    #[inline]
    pub fn depth(&self) -> u32 {
        if self.lock.is_held_by_current_thread() {
            self.levels()
        } else {
            0
        }
    }

    /// Whether any thread owns the lock (a snapshot).
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }

    /// Whether the calling thread owns the lock.
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        self.lock.is_held_by_current_thread()
    }

    /// The kernel thread id of the owner, if any (a snapshot).
    pub fn holder_tid(&self) -> Option<u32> {
        self.lock.holder_tid()
    }

    /// Whether an owner died holding the lock and nobody has marked it
    /// consistent since.
    pub fn is_inconsistent(&self) -> bool {
        self.lock.is_inconsistent()
    }

    /// Declares the guarded data repaired after [`Acquired::OwnerDied`].
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    pub fn mark_consistent(&self) -> Result<(), NotOwner> {
        self.lock.mark_consistent()
    }

    /// The owner's levels, as far as bytes a peer could have written allow:
    /// at least 1 while held.
    #[inline]
    fn levels(&self) -> u32 {
        self.count.load(Ordering::Relaxed).max(1)
    }

    /// Releases one level of the calling thread's `hold`.
    fn release_level(&self, hold: LockHold) -> Result<(), NotOwner> {
        let levels = self.levels();
        if levels > 1 {
            self.count.store(levels - 1, Ordering::Relaxed);
            return Ok(());
        }
        self.count.store(0, Ordering::Relaxed);
        self.lock.unlock(hold)
    }

    /// One more level if this thread owns the lock already; otherwise the
    /// first level, if `take` gets the lock.
    #[inline]
    fn acquire_with(
        &self,
        take: impl FnOnce(&RawLock) -> Option<Locked<LockHold>>,
    ) -> Option<Locked<LockHold>> {
        if let Some(hold) = self.lock.current_hold() {
            // Saturating: a count a peer set to u32::MAX must not overflow.
            let next = self.count.load(Ordering::Relaxed).saturating_add(1).max(2);
            self.count.store(next, Ordering::Relaxed);
            return Some(Locked {
                hold,
                acquired: Acquired::Clean,
            });
        }
        let locked = take(&self.lock)?;
        self.count.store(1, Ordering::Relaxed);
        Some(locked)
    }
}

// SAFETY: mutual exclusion between threads is `RawLock`'s; further holds go
// only to the thread that holds it already.
unsafe impl Lockable for RawRLock {
    type Hold = LockHold;
    type Saved = Depth;

    #[inline]
    fn try_lock(&self) -> Option<Locked<LockHold>> {
        RawRLock::try_lock(self)
    }

    #[inline]
    fn try_lock_until(&self, deadline: Deadline) -> Option<Locked<LockHold>> {
        RawRLock::try_lock_until(self, deadline)
    }

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> Option<Locked<LockHold>> {
        RawRLock::try_lock_for(self, timeout)
    }

    #[inline]
    fn lock(&self) -> Locked<LockHold> {
        RawRLock::lock(self)
    }

    #[inline]
    fn unlock(&self, hold: LockHold) -> Result<(), NotOwner> {
        RawRLock::unlock(self, hold)
    }

    fn is_locked(&self) -> bool {
        RawRLock::is_locked(self)
    }

    fn is_held_by_current_thread(&self) -> bool {
        RawRLock::is_held_by_current_thread(self)
    }

    fn is_inconsistent(&self) -> bool {
        RawRLock::is_inconsistent(self)
    }

    fn current_hold(&self) -> Option<LockHold> {
        self.lock.current_hold()
    }

    fn holder_tid(&self) -> Option<u32> {
        RawRLock::holder_tid(self)
    }

    fn mark_consistent(&self) -> Result<(), NotOwner> {
        RawRLock::mark_consistent(self)
    }

    fn unlock_all(&self) -> Result<Depth, NotOwner> {
        RawRLock::unlock_all(self)
    }

    fn relock_until(&self, saved: Depth, deadline: Deadline) -> Option<Acquired> {
        RawRLock::relock_until(self, saved, deadline)
    }
}
