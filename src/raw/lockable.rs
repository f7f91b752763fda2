//! `Lockable`: the one seam for "a lock in shared memory". [`RawLock`]
//! and [`RawRLock`] implement it; a [`RawCondition`] waits with any
//! `Lockable`, the handles in the crate root wrap one generically, and the
//! rings serialize their producers and consumers with one.
//!
//! Every acquisition returns a [`Locked`]: how it went ([`Acquired`]) and
//! which hold it is (`Lockable::Hold`). Giving a hold back with
//! [`Lockable::unlock`] releases exactly that hold and nothing that anyone
//! took since: with Python's any-thread `Lock.release()`, the lock a guard
//! took may have been released and taken again by someone else by the time
//! the guard is dropped, and the guard must then leave it alone.
//!
//! [`RawLock`]: super::RawLock
//! [`RawRLock`]: super::RawRLock
//! [`RawCondition`]: super::RawCondition

use crate::shim::Deadline;
use core::fmt;
use core::time::Duration;

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
}

/// A successful acquisition: the hold it made, and how it went.
#[must_use = "a hold is given back with `unlock`; an owner's death asks the new holder to check the data"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Locked<H> {
    /// Which hold this is: what [`Lockable::unlock`] gives back.
    pub hold: H,
    /// Whether a previous holder died holding the lock.
    pub acquired: Acquired,
}

impl<H> Locked<H> {
    /// Whether a previous holder died holding the lock.
    #[inline]
    pub fn owner_died(&self) -> bool {
        self.acquired.owner_died()
    }
}

/// The calling thread does not hold the lock, or the hold given back is no
/// longer the lock's current one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NotOwner;

impl fmt::Display for NotOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the calling thread does not hold the lock (or no longer holds this hold of it)",
        )
    }
}

/// A lock that lives in shared memory and knows its holder: the seam a
/// condition variable, a ring or a handle uses as "a lock".
///
/// # Safety
///
/// An implementation grants mutual exclusion between threads: between an
/// acquisition that returns `Some` (or returns at all, for `lock`) and the
/// `unlock` of its hold (or `unlock_all`), no other thread's acquisition
/// succeeds, and each acquisition sees everything the previous holder wrote
/// before giving the lock up (Acquire/Release). A recursive lock may grant
/// further holds to the thread that holds it already.
///
/// # Examples
///
/// Code written once for any lock:
///
/// ```
/// use shmsync::raw::{Lockable, RawLock, RawRLock};
///
/// fn with_lock<L: Lockable>(lock: &L, work: impl FnOnce()) {
///     let locked = lock.lock();
///     work();
///     lock.unlock(locked.hold).unwrap();
/// }
///
/// with_lock(&RawLock::new(), || {});
/// with_lock(&RawRLock::new(), || {});
/// ```
pub unsafe trait Lockable: Sync {
    /// Identifies one hold: what a guard keeps and gives back.
    type Hold: Copy + Eq + fmt::Debug;
    /// What [`unlock_all`](Lockable::unlock_all) keeps so that
    /// [`relock_until`](Lockable::relock_until) restores the same hold (and
    /// depth): a condition variable's wait.
    type Saved: Copy + fmt::Debug;

    /// Acquires the lock if that needs no waiting.
    fn try_lock(&self) -> Option<Locked<Self::Hold>>;

    /// Acquires the lock, giving up at `deadline`.
    fn try_lock_until(&self, deadline: Deadline) -> Option<Locked<Self::Hold>>;

    /// Acquires the lock, giving up after `timeout` (zero: one try).
    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> Option<Locked<Self::Hold>> {
        self.try_lock_until(Deadline::after(timeout))
    }

    /// Acquires the lock, waiting as long as it takes.
    #[inline]
    fn lock(&self) -> Locked<Self::Hold> {
        match self.try_lock_until(Deadline::NEVER) {
            Some(locked) => locked,
            None => unreachable!("a wait without deadline timed out"),
        }
    }

    /// Gives back exactly `hold` (one level of a recursive lock).
    ///
    /// # Errors
    ///
    /// [`NotOwner`] if `hold` is not the lock's current hold any more (it
    /// was released by someone else, and perhaps taken since), or the
    /// calling thread is not the one that took it. Nothing is released.
    fn unlock(&self, hold: Self::Hold) -> Result<(), NotOwner>;

    /// Whether some thread holds the lock (a snapshot).
    fn is_locked(&self) -> bool;

    /// Whether the calling thread holds the lock.
    fn is_held_by_current_thread(&self) -> bool;

    /// The calling thread's current hold, if it holds the lock.
    fn current_hold(&self) -> Option<Self::Hold>;

    /// The kernel thread id of the holder, if the lock is held (a
    /// snapshot, for diagnostics).
    fn holder_tid(&self) -> Option<u32>;

    /// Whether a holder died holding the lock and nobody has marked it
    /// consistent since.
    fn is_inconsistent(&self) -> bool;

    /// Declares the guarded data repaired after [`Acquired::OwnerDied`]:
    /// later acquisitions are [`Acquired::Clean`] again.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    fn mark_consistent(&self) -> Result<(), NotOwner>;

    /// Releases the lock entirely (every level of a recursive lock),
    /// returning what [`relock_until`](Lockable::relock_until) needs to take
    /// it back as it was.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    fn unlock_all(&self) -> Result<Self::Saved, NotOwner>;

    /// Takes the lock back as [`unlock_all`](Lockable::unlock_all) left it
    /// (the same hold, the same depth), giving up at `deadline`.
    fn relock_until(&self, saved: Self::Saved, deadline: Deadline) -> Option<Acquired>;
}
