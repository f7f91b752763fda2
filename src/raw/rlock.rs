//! `RawRLock`: a recursive lock, a [`RawLock`] plus a recursion count.
//!
//! Only the holding thread reads or writes the count (it holds the lock
//! while it does), so the count is `Relaxed` throughout; the lock's own
//! Acquire/Release hand it, with the data, from one holder to the next.

use super::lock::{Acquired, RawLock};
use crate::shim::{loom_const_fn, AtomicU32, Ordering};
use crate::sys::Deadline;
use core::time::Duration;

/// Release of a recursive lock by a thread that does not hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotOwner;

impl core::fmt::Display for NotOwner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("release of a recursive lock by a thread that does not own it")
    }
}

/// How many levels a thread held a recursive lock when it let go of all of
/// them (see [`RawRLock::release_all`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depth(u32);

impl Depth {
    /// The number of levels.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// A recursive lock across processes: the owning thread may acquire it again
/// without blocking, and must release it as many times.
///
/// It has [`RawLock`]'s owner-death detection: when the owner dies, the next
/// acquirer gets [`Acquired::OwnerDied`] at depth 1.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawRLock;
///
/// static LOCK: RawRLock = RawRLock::new();
/// let _ = LOCK.lock();
/// let _ = LOCK.lock();
/// assert_eq!(LOCK.depth(), 2);
/// LOCK.release().unwrap();
/// LOCK.release().unwrap();
/// assert!(LOCK.release().is_err());
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
    ///
    /// # Panics
    ///
    /// If the calling thread already holds `u32::MAX` levels.
    #[inline]
    pub fn lock(&self) -> Acquired {
        self.lock_until(Deadline::NEVER)
            .unwrap_or_else(|| unreachable!("a wait without deadline timed out"))
    }

    /// Acquires the lock (or a level) if that needs no waiting.
    ///
    /// # Panics
    ///
    /// As [`RawRLock::lock`].
    #[inline]
    pub fn try_lock(&self) -> Option<Acquired> {
        self.acquire_with(|l| l.try_lock())
    }

    /// Acquires the lock (or a level), giving up after `timeout`.
    ///
    /// # Panics
    ///
    /// As [`RawRLock::lock`].
    #[inline]
    pub fn lock_for(&self, timeout: Duration) -> Option<Acquired> {
        self.acquire_with(|l| l.lock_for(timeout))
    }

    /// Acquires the lock (or a level), giving up at `deadline`.
    ///
    /// # Panics
    ///
    /// As [`RawRLock::lock`].
    #[inline]
    pub fn lock_until(&self, deadline: Deadline) -> Option<Acquired> {
        self.acquire_with(|l| l.lock_until(deadline))
    }

    /// Releases one level; the last level frees the lock.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    #[inline]
    pub fn release(&self) -> Result<(), NotOwner> {
        if !self.lock.is_held_by_current_thread() {
            return Err(NotOwner);
        }
        let count = self.count.load(Ordering::Relaxed);
        if count > 1 {
            self.count.store(count - 1, Ordering::Relaxed);
            return Ok(());
        }
        // Last level (a count of 0 here would be corrupted memory: free the
        // lock rather than keep it forever).
        self.count.store(0, Ordering::Relaxed);
        self.lock.release().map_err(|_| NotOwner)
    }

    /// Releases every level the calling thread holds, returning how many,
    /// so that [`RawRLock::restore`] can take them back: what a condition
    /// variable does around its wait.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    pub fn release_all(&self) -> Result<Depth, NotOwner> {
        if !self.lock.is_held_by_current_thread() {
            return Err(NotOwner);
        }
        let depth = Depth(self.count.load(Ordering::Relaxed).max(1));
        self.count.store(0, Ordering::Relaxed);
        self.lock.release().map_err(|_| NotOwner)?;
        Ok(depth)
    }

    /// Re-acquires the lock at the depth [`RawRLock::release_all`] returned,
    /// giving up at `deadline`.
    pub fn restore_until(&self, depth: Depth, deadline: Deadline) -> Option<Acquired> {
        let acquired = self.lock.lock_until(deadline)?;
        self.count.store(depth.0, Ordering::Relaxed);
        Some(acquired)
    }

    /// Re-acquires the lock at the depth [`RawRLock::release_all`] returned.
    pub fn restore(&self, depth: Depth) -> Acquired {
        self.restore_until(depth, Deadline::NEVER)
            .unwrap_or_else(|| unreachable!("a wait without deadline timed out"))
    }

    /// Levels the calling thread holds; 0 if it does not own the lock.
    #[inline]
    pub fn depth(&self) -> u32 {
        if self.lock.is_held_by_current_thread() {
            self.count.load(Ordering::Relaxed)
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
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.lock.is_held_by_current_thread()
    }

    /// The kernel thread id of the owner, if any (a snapshot).
    pub fn owner_tid(&self) -> Option<u32> {
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
        self.lock.mark_consistent().map_err(|_| NotOwner)
    }

    /// One more level if this thread owns the lock already.
    #[inline]
    fn recurse(&self) -> bool {
        if !self.lock.is_held_by_current_thread() {
            return false;
        }
        let count = self.count.load(Ordering::Relaxed);
        let next = count
            .checked_add(1)
            .unwrap_or_else(|| panic!("recursive lock acquired more than u32::MAX levels deep"));
        self.count.store(next, Ordering::Relaxed);
        true
    }

    /// One more level if this thread owns the lock already; otherwise the
    /// first level, if `take` gets the lock.
    #[inline]
    fn acquire_with(&self, take: impl FnOnce(&RawLock) -> Option<Acquired>) -> Option<Acquired> {
        if self.recurse() {
            return Some(Acquired::Clean);
        }
        let acquired = take(&self.lock)?;
        self.count.store(1, Ordering::Relaxed);
        Some(acquired)
    }
}
