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
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawRLock;
/// use shmsync::Deadline;
///
/// let lock = RawRLock::new();
/// let (_outer, _inner) = (lock.lock(), lock.lock());
/// let depth = lock.unlock_all()?;
/// assert_eq!(depth.get(), 2);
/// assert!(lock.relock_until(depth, Deadline::NEVER).is_some());
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depth {
    hold: LockHold,
    levels: u32,
}

impl Depth {
    /// The number of levels.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let _levels = [lock.lock(), lock.lock(), lock.lock()];
    /// assert_eq!(lock.unlock_all()?.get(), 3);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
        /// A free recursive lock. `const`, so it can be a `static`; to
        /// share it with other processes, place it in shared memory.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::raw::RawRLock;
        /// use shmsync::Shared;
        ///
        /// static IN_PROCESS: RawRLock = RawRLock::new();
        /// let across_processes = Shared::new(RawRLock::new())?;
        /// assert!(!IN_PROCESS.is_locked());
        /// assert_eq!(across_processes.depth(), 0);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        pub fn new() -> RawRLock {
            RawRLock {
                lock: RawLock::new(),
                count: AtomicU32::new(0),
            }
        }
    }

    /// Acquires the lock, or one more level of it if the calling thread
    /// owns it already.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let outer = lock.lock();
    /// let inner = lock.lock(); // no deadlock: one more level
    /// assert_eq!(lock.depth(), 2);
    /// lock.unlock(inner.hold)?;
    /// lock.unlock(outer.hold)?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn lock(&self) -> Locked<LockHold> {
        match self.try_lock_until(Deadline::NEVER) {
            Some(locked) => locked,
            None => unreachable!("a wait without deadline timed out"),
        }
    }

    /// Acquires the lock (or a level) if that needs no waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// assert!(lock.try_lock().is_some());
    /// assert!(lock.try_lock().is_some(), "the owner gets another level");
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_lock().is_none(), "others do not"));
    /// });
    /// assert_eq!(lock.depth(), 2);
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<Locked<LockHold>> {
        self.acquire_with(RawLock::try_lock)
    }

    /// Acquires the lock (or a level), giving up after `timeout` (zero: one
    /// try).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// let lock = Shared::new(RawRLock::new())?;
    /// let _locked = lock.lock();
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || assert!(lock.try_lock_for(Duration::from_millis(5)).is_none())
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// assert!(lock.try_lock_for(Duration::ZERO).is_some(), "a level, at once");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn try_lock_for(&self, timeout: Duration) -> Option<Locked<LockHold>> {
        self.acquire_with(|lock| lock.try_lock_for(timeout))
    }

    /// Acquires the lock (or a level), giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let lock = RawRLock::new();
    /// let deadline = Deadline::after(Duration::from_millis(5));
    /// assert!(lock.try_lock_until(deadline).is_some());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_lock_until(deadline).is_none()));
    /// });
    /// assert!(deadline.has_passed());
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let (outer, inner) = (lock.lock(), lock.lock());
    /// lock.unlock(inner.hold)?;
    /// assert_eq!(lock.depth(), 1);
    /// lock.unlock(outer.hold)?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{NotOwner, RawRLock};
    ///
    /// let lock = RawRLock::new();
    /// let _levels = (lock.lock(), lock.lock());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(lock.release(), Err(NotOwner), "only the owner may"));
    /// });
    /// lock.release()?;
    /// lock.release()?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let _levels = (lock.lock(), lock.lock());
    /// let depth = lock.unlock_all()?;
    /// assert_eq!(depth.get(), 2);
    /// assert!(!lock.is_locked());
    /// assert!(lock.unlock_all().is_err(), "owned no more");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn unlock_all(&self) -> Result<Depth, NotOwner> {
        let hold = self.lock.current_hold().ok_or(NotOwner)?;
        let levels = self.levels();
        self.count.store(0, Ordering::Relaxed);
        self.lock.unlock(hold)?;
        Ok(Depth { hold, levels })
    }

    /// Takes the lock back as [`RawRLock::unlock_all`] left it (same hold,
    /// same depth), giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Acquired, RawRLock};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let lock = RawRLock::new();
    /// let (outer, _inner) = (lock.lock(), lock.lock());
    /// let depth = lock.unlock_all()?;
    /// let deadline = Deadline::after(Duration::from_secs(5));
    /// assert_eq!(lock.relock_until(depth, deadline), Some(Acquired::Clean));
    /// assert_eq!(lock.depth(), 2);
    /// lock.unlock(outer.hold)?; // the same hold as before the release
    /// lock.unlock(outer.hold)?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn relock_until(&self, depth: Depth, deadline: Deadline) -> Option<Acquired> {
        let acquired = Lockable::relock_until(&self.lock, depth.hold, deadline)?;
        self.count.store(depth.levels, Ordering::Relaxed);
        Some(acquired)
    }

    /// Levels the calling thread holds; 0 if it does not own the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let _levels = (lock.lock(), lock.lock());
    /// assert_eq!(lock.depth(), 2);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(lock.depth(), 0, "not the owner"));
    /// });
    /// ```
    #[inline]
    pub fn depth(&self) -> u32 {
        if self.lock.is_held_by_current_thread() {
            self.levels()
        } else {
            0
        }
    }

    /// Whether any thread owns the lock (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let _locked = lock.lock();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.is_locked(), "seen from any thread"));
    /// });
    /// lock.release()?;
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.lock.is_locked()
    }

    /// Whether the calling thread owns the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    ///
    /// let lock = RawRLock::new();
    /// let _locked = lock.lock();
    /// assert!(lock.is_held_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!lock.is_held_by_current_thread()));
    /// });
    /// ```
    #[inline]
    pub fn is_held_by_current_thread(&self) -> bool {
        self.lock.is_held_by_current_thread()
    }

    /// The kernel thread id of the owner, if any (a snapshot).
    ///
    /// # Examples
    ///
    /// A forked child's only thread has the child's process id:
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    /// use shmsync::{Process, Shared};
    ///
    /// let lock = Shared::new(RawRLock::new())?;
    /// assert_eq!(lock.holder_tid(), None);
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits owning it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// assert_eq!(lock.holder_tid(), Some(child.pid()));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn holder_tid(&self) -> Option<u32> {
        self.lock.holder_tid()
    }

    /// Whether an owner died holding the lock and nobody has marked it
    /// consistent since.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawRLock;
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// let lock = Shared::new(RawRLock::new())?;
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = (lock.lock(), lock.lock()); } // exits owning it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// let taken_over = lock.try_lock_for(Duration::from_secs(5));
    /// assert!(taken_over.is_some_and(|locked| locked.owner_died()));
    /// assert!(lock.is_inconsistent());
    /// assert_eq!(lock.depth(), 1, "the new owner starts at one level");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_inconsistent(&self) -> bool {
        self.lock.is_inconsistent()
    }

    /// Declares the guarded data repaired after [`Acquired::OwnerDied`]:
    /// later acquisitions are [`Acquired::Clean`] again.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Acquired, RawRLock};
    /// use shmsync::{Error, Process, Shared};
    /// use std::time::Duration;
    ///
    /// let lock = Shared::new(RawRLock::new())?;
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits owning it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// let locked = lock.try_lock_for(Duration::from_secs(5)).ok_or(Error::Timeout)?;
    /// assert_eq!(locked.acquired, Acquired::OwnerDied);
    /// // ... repair what the child left half done, then:
    /// lock.mark_consistent()?;
    /// lock.release()?;
    /// assert_eq!(lock.try_lock().map(|again| again.acquired), Some(Acquired::Clean));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
