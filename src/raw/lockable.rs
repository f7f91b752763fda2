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
///
/// # Examples
///
/// A child dies holding the lock; the parent's next acquisition says so:
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
/// match locked.acquired {
///     Acquired::Clean => unreachable!("the child died holding it"),
///     Acquired::OwnerDied => lock.mark_consistent()?, // after checking the data
/// }
/// # Ok::<(), shmsync::Error>(())
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::Acquired;
    ///
    /// assert!(Acquired::OwnerDied.owner_died());
    /// assert!(!Acquired::Clean.owner_died());
    /// ```
    #[inline]
    pub fn owner_died(self) -> bool {
        self == Acquired::OwnerDied
    }
}

/// A successful acquisition: the hold it made, and how it went.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{Acquired, Locked, RawLock};
///
/// let lock = RawLock::new();
/// let Locked { hold, acquired } = lock.lock();
/// assert_eq!(acquired, Acquired::Clean);
/// lock.unlock(hold)?;
/// # Ok::<(), shmsync::Error>(())
/// ```
#[must_use = "a hold is given back with `unlock`; an owner's death asks the new holder to check the data"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Locked<H> {
    /// Which hold this is: what [`Lockable::unlock`] gives back.
    pub hold: H,
    /// Whether a previous holder died holding the lock.
    pub acquired: Acquired,
}

impl<H> Locked<H> {
    /// Whether a previous holder died holding the lock: short for
    /// `self.acquired.owner_died()`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    ///
    /// let lock = RawLock::new();
    /// let locked = lock.lock();
    /// assert!(!locked.owner_died());
    /// lock.unlock(locked.hold)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn owner_died(&self) -> bool {
        self.acquired.owner_died()
    }
}

/// The calling thread does not hold the lock, or the hold given back is no
/// longer the lock's current one.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{NotOwner, RawRLock};
///
/// let lock = RawRLock::new();
/// assert_eq!(lock.release(), Err(NotOwner), "nobody owns it");
/// let locked = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(|| assert_eq!(lock.unlock(locked.hold), Err(NotOwner)));
/// });
/// lock.unlock(locked.hold)?;
/// # Ok::<(), shmsync::Error>(())
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock};
    ///
    /// fn take<L: Lockable>(lock: &L) -> L::Hold {
    ///     lock.lock().hold
    /// }
    /// let lock = RawLock::new();
    /// let hold = take(&lock);
    /// assert_eq!(Lockable::current_hold(&lock), Some(hold));
    /// Lockable::unlock(&lock, hold)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    type Hold: Copy + Eq + fmt::Debug;
    /// What [`unlock_all`](Lockable::unlock_all) keeps so that
    /// [`relock_until`](Lockable::relock_until) restores the same hold (and
    /// depth): a condition variable's wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawRLock};
    /// use shmsync::Deadline;
    ///
    /// let lock = RawRLock::new();
    /// let (_outer, _inner) = (lock.lock(), lock.lock());
    /// let saved: <RawRLock as Lockable>::Saved = Lockable::unlock_all(&lock)?;
    /// assert!(!lock.is_locked());
    /// assert!(Lockable::relock_until(&lock, saved, Deadline::NEVER).is_some());
    /// assert_eq!(lock.depth(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    type Saved: Copy + fmt::Debug;

    /// Acquires the lock if that needs no waiting: `None` if another
    /// thread holds it (or, for a lock that is not recursive, the calling
    /// thread).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock, RawRLock};
    ///
    /// fn second_try<L: Lockable>(lock: &L) -> bool {
    ///     let _first = lock.lock();
    ///     lock.try_lock().is_some()
    /// }
    /// assert!(!second_try(&RawLock::new()));
    /// assert!(second_try(&RawRLock::new()), "recursive: one more level");
    /// ```
    fn try_lock(&self) -> Option<Locked<Self::Hold>>;

    /// Acquires the lock, giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// fn busy_until<L: Lockable>(lock: &L, deadline: Deadline) -> bool {
    ///     std::thread::scope(|s| s.spawn(|| lock.try_lock_until(deadline).is_none()).join())
    ///         .unwrap_or(false)
    /// }
    /// let lock = RawLock::new();
    /// let deadline = Deadline::after(Duration::from_millis(5));
    /// assert!(!busy_until(&lock, deadline), "free: the thread took it");
    /// let _held = Lockable::lock(&lock);
    /// assert!(busy_until(&lock, deadline), "held here: the thread gave up");
    /// ```
    fn try_lock_until(&self, deadline: Deadline) -> Option<Locked<Self::Hold>>;

    /// Acquires the lock, giving up after `timeout` (zero: one try).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock};
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// fn held_elsewhere<L: Lockable>(lock: &L) -> bool {
    ///     lock.try_lock_for(Duration::from_millis(5)).is_none()
    /// }
    /// let lock = Shared::new(RawLock::new())?;
    /// let _held = Lockable::lock(&*lock);
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || assert!(held_elsewhere(&*lock))
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> Option<Locked<Self::Hold>> {
        self.try_lock_until(Deadline::after(timeout))
    }

    /// Acquires the lock, waiting as long as it takes.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock};
    ///
    /// fn locked_twice<L: Lockable>(lock: &L) -> Result<(), shmsync::raw::NotOwner> {
    ///     std::thread::scope(|s| {
    ///         s.spawn(|| {
    ///             let locked = lock.lock();
    ///             let _ = lock.unlock(locked.hold);
    ///         });
    ///         let locked = lock.lock(); // waits while the thread holds it
    ///         lock.unlock(locked.hold)
    ///     })
    /// }
    /// locked_twice(&RawLock::new())?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawRLock};
    ///
    /// fn unlock_both<L: Lockable>(lock: &L) -> Result<(), shmsync::raw::NotOwner> {
    ///     let (outer, inner) = (lock.lock(), lock.lock());
    ///     lock.unlock(inner.hold)?;
    ///     lock.unlock(outer.hold)
    /// }
    /// let lock = RawRLock::new();
    /// unlock_both(&lock)?;
    /// assert!(!Lockable::is_locked(&lock));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    fn unlock(&self, hold: Self::Hold) -> Result<(), NotOwner>;

    /// Whether some thread holds the lock (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock};
    ///
    /// fn locked_while<L: Lockable>(lock: &L) -> bool {
    ///     let locked = lock.lock();
    ///     let answer = lock.is_locked();
    ///     let _ = lock.unlock(locked.hold);
    ///     answer && !lock.is_locked()
    /// }
    /// assert!(locked_while(&RawLock::new()));
    /// ```
    fn is_locked(&self) -> bool;

    /// Whether the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawRLock};
    ///
    /// fn mine<L: Lockable>(lock: &L) -> bool {
    ///     lock.is_held_by_current_thread()
    /// }
    /// let lock = RawRLock::new();
    /// let _locked = lock.lock();
    /// assert!(mine(&lock));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!mine(&lock)));
    /// });
    /// ```
    fn is_held_by_current_thread(&self) -> bool;

    /// The calling thread's current hold, if it holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawRLock};
    ///
    /// fn hold_of<L: Lockable>(lock: &L) -> Option<L::Hold> {
    ///     lock.current_hold()
    /// }
    /// let lock = RawRLock::new();
    /// assert_eq!(hold_of(&lock), None);
    /// let (outer, inner) = (lock.lock(), lock.lock());
    /// assert_eq!(hold_of(&lock), Some(outer.hold));
    /// assert_eq!(inner.hold, outer.hold, "one hold for every level");
    /// ```
    fn current_hold(&self) -> Option<Self::Hold>;

    /// The kernel thread id of the holder, if the lock is held (a
    /// snapshot, for diagnostics).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawRLock};
    /// use shmsync::{Process, Shared};
    ///
    /// fn who<L: Lockable>(lock: &L) -> Option<u32> {
    ///     lock.holder_tid()
    /// }
    /// let lock = Shared::new(RawRLock::new())?;
    /// assert_eq!(who(&*lock), None);
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits holding it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// assert_eq!(who(&*lock), Some(child.pid()));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    fn holder_tid(&self) -> Option<u32>;

    /// Whether a holder died holding the lock and nobody has marked it
    /// consistent since.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawRLock};
    /// use shmsync::{Process, Shared};
    /// use std::time::Duration;
    ///
    /// fn needs_repair<L: Lockable>(lock: &L) -> bool {
    ///     lock.is_inconsistent()
    /// }
    /// let lock = Shared::new(RawRLock::new())?;
    /// let child = Process::spawn({
    ///     let lock = lock.clone();
    ///     move || { let _ = lock.lock(); } // exits holding it
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// let taken_over = lock.try_lock_for(Duration::from_secs(5));
    /// assert!(taken_over.is_some_and(|locked| locked.owner_died()));
    /// assert!(needs_repair(&*lock));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    fn is_inconsistent(&self) -> bool;

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
    /// use shmsync::raw::{Lockable, NotOwner, RawLock};
    ///
    /// fn repaired<L: Lockable>(lock: &L) -> Result<(), NotOwner> {
    ///     let locked = lock.lock();
    ///     if locked.owner_died() {
    ///         // ... check and repair the data, then:
    ///         lock.mark_consistent()?;
    ///     }
    ///     lock.unlock(locked.hold)
    /// }
    /// let lock = RawLock::new();
    /// repaired(&lock)?;
    /// assert_eq!(Lockable::mark_consistent(&lock), Err(NotOwner), "not held");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    fn mark_consistent(&self) -> Result<(), NotOwner>;

    /// Releases the lock entirely (every level of a recursive lock),
    /// returning what [`relock_until`](Lockable::relock_until) needs to take
    /// it back as it was.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Lockable, RawLock, RawRLock};
    ///
    /// fn free_entirely<L: Lockable>(lock: &L) -> bool {
    ///     let _levels = (lock.lock(), lock.try_lock());
    ///     lock.unlock_all().is_ok() && !lock.is_locked()
    /// }
    /// assert!(free_entirely(&RawLock::new()));
    /// assert!(free_entirely(&RawRLock::new()), "both levels at once");
    /// ```
    fn unlock_all(&self) -> Result<Self::Saved, NotOwner>;

    /// Takes the lock back as [`unlock_all`](Lockable::unlock_all) left it
    /// (the same hold, the same depth), giving up at `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{Acquired, Lockable, RawLock};
    /// use shmsync::Deadline;
    ///
    /// fn let_go_and_back<L: Lockable>(lock: &L) -> Option<Acquired> {
    ///     let saved = lock.unlock_all().ok()?;
    ///     // ... other threads may take the lock here ...
    ///     lock.relock_until(saved, Deadline::NEVER)
    /// }
    /// let lock = RawLock::new();
    /// let locked = lock.lock();
    /// assert_eq!(let_go_and_back(&lock), Some(Acquired::Clean));
    /// lock.unlock(locked.hold)?; // the same hold as before
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    fn relock_until(&self, saved: Self::Saved, deadline: Deadline) -> Option<Acquired>;
}
