//! `Lock` and `RLock`: Python's `multiprocessing.Lock` and `RLock`, one
//! generic handle ([`SharedLock`]) over any [`Lockable`] in shared memory.

use super::error::{opened_as, Error};
use super::outcome::{OwnerDied, TryLockError};
use crate::raw::{Acquired, Lockable, Locked, NotHeld, NotOwner, RawLock, RawRLock};
use crate::shm::{Segment, Shared, ShmSafe};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A lock shared between processes: Python's `multiprocessing.Lock`.
///
/// `Lock::new` maps the lock in fresh shared memory; children forked
/// afterwards (with [`Process`](crate::Process) or `fork`) share it, and
/// clones of the handle refer to the same lock. For unrelated processes,
/// place the [`RawLock`] in a [`Segment`](crate::Segment) and wrap it with
/// [`SharedLock::from_shared`].
///
/// Any thread of any process may [`release`](SharedLock::release) a held
/// `Lock`, as in Python. The lock records which thread acquired it: if that
/// thread dies holding it, the next acquirer is told ([`OwnerDied`])
/// instead of waiting forever. A guard gives back only its own hold: if
/// someone released the lock under it and someone took it again, dropping
/// the guard leaves the new holder alone.
///
/// One consequence differs from Python: a `Lock` acquired by one thread
/// and released later by another (a hand-off) counts as abandoned once
/// the acquiring thread has exited, so a third acquirer takes it over with
/// [`OwnerDied`] before the hand-off's release comes. For a hand-off that
/// outlives the acquiring thread, use a [`Semaphore`](crate::Semaphore)
/// (or [`BoundedSemaphore`](crate::BoundedSemaphore)) of one, which has
/// no owner.
///
/// # Examples
///
/// ```
/// use shmsync::{Lock, Process};
/// use std::time::Duration;
///
/// let lock = Lock::new()?;
/// lock.acquire(true, None)?;
/// let child = Process::spawn({
///     let lock = lock.clone();
///     // The parent holds the lock: the child's timed try gives up.
///     move || assert!(!lock.acquire(true, Some(Duration::from_millis(10))).unwrap())
/// })?;
/// assert_eq!(child.join()?, 0);
/// lock.release()?;
///
/// let guard = lock.lock()?;
/// assert!(lock.locked());
/// drop(guard);
/// assert!(!lock.is_locked());
/// # Ok::<(), shmsync::Error>(())
/// ```
pub type Lock = SharedLock<RawLock>;

/// A recursive lock shared between processes: Python's
/// `multiprocessing.RLock`.
///
/// The owning thread may acquire it again without blocking and must release
/// it as many times; only the owner may release it. Owner death is reported
/// as for [`Lock`].
///
/// # Examples
///
/// ```
/// use shmsync::RLock;
///
/// let lock = RLock::new()?;
/// let outer = lock.lock()?;
/// let inner = lock.lock()?;
/// assert_eq!(lock.depth(), 2);
/// drop(inner);
/// drop(outer);
/// assert!(lock.release().is_err(), "not owned any more");
/// # Ok::<(), shmsync::Error>(())
/// ```
pub type RLock = SharedLock<RawRLock>;

/// The guard of a [`Lock`].
///
/// # Examples
///
/// ```
/// use shmsync::{Lock, LockGuard};
///
/// let lock = Lock::new()?;
/// let guard: LockGuard<'_> = lock.lock()?;
/// assert!(lock.is_held_by_current_thread());
/// drop(guard);
/// assert!(!lock.locked());
/// # Ok::<(), shmsync::Error>(())
/// ```
pub type LockGuard<'a> = SharedLockGuard<'a, RawLock>;

/// The guard of one level of an [`RLock`].
///
/// # Examples
///
/// ```
/// use shmsync::{RLock, RLockGuard};
///
/// let lock = RLock::new()?;
/// let outer: RLockGuard<'_> = lock.lock()?;
/// let inner: RLockGuard<'_> = lock.lock()?;
/// drop(inner); // gives back its own level only
/// assert_eq!(lock.depth(), 1);
/// drop(outer);
/// assert!(!lock.is_locked());
/// # Ok::<(), shmsync::Error>(())
/// ```
pub type RLockGuard<'a> = SharedLockGuard<'a, RawRLock>;

/// A handle to a lock in shared memory: [`Lock`] and [`RLock`] are this
/// over [`RawLock`] and [`RawRLock`].
///
/// Python's methods keep Python's names ([`acquire`](SharedLock::acquire),
/// `release`, [`locked`](SharedLock::locked)); the Rust-style ones return
/// guards ([`lock`](SharedLock::lock), [`try_lock`](SharedLock::try_lock),
/// [`try_lock_for`](SharedLock::try_lock_for)) and answer
/// [`is_locked`](SharedLock::is_locked), as the raw locks do.
///
/// # Examples
///
/// ```
/// use shmsync::{Lock, RLock, SharedLock};
/// use shmsync::raw::Lockable;
///
/// fn busy<R: Lockable + shmsync::ShmSafe>(lock: &SharedLock<R>) -> bool {
///     lock.is_locked()
/// }
/// assert!(!busy(&Lock::new()?));
/// assert!(!busy(&RLock::new()?));
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct SharedLock<R: Lockable + ShmSafe> {
    raw: Shared<R>,
}

impl<R: Lockable + ShmSafe + Default> SharedLock<R> {
    /// A free lock in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Lock, RLock};
    ///
    /// let lock = Lock::new()?;
    /// let same = lock.clone(); // a second handle to the same lock
    /// let _held = lock.lock()?;
    /// assert!(same.locked());
    /// assert!(!RLock::new()?.locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new() -> Result<SharedLock<R>, Error> {
        Ok(SharedLock {
            raw: Shared::new(R::default())?,
        })
    }

    /// The lock called `name` in `segment`, made free if no process has
    /// made it yet: how unrelated processes share a lock. Short for
    /// [`from_shared`](SharedLock::from_shared) of
    /// [`Segment::get_or_init`].
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`] (another type
    /// under the name, a `Lock` where an `RLock` is asked for included; no
    /// room left; a corrupted segment).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Lock, RLock, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let a = Lock::open_in(&segment, "log")?; // each process does this
    /// let b = Lock::open_in(&segment, "log")?;
    /// let _held = a.lock()?;
    /// assert!(b.locked(), "one lock under two handles");
    /// assert!(RLock::open_in(&segment, "log").is_err(), "a Lock, not an RLock");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str) -> Result<SharedLock<R>, Error>
    where
        R: 'static,
    {
        let raw = segment
            .get_or_init(name, R::default)
            .map_err(opened_as(handle_name::<R>()))?;
        Ok(SharedLock::from_shared(raw))
    }
}

/// The name users know a lock over `R` by.
fn handle_name<R: 'static>() -> &'static str {
    use core::any::TypeId;
    if TypeId::of::<R>() == TypeId::of::<RawLock>() {
        "shmsync::Lock"
    } else if TypeId::of::<R>() == TypeId::of::<RawRLock>() {
        "shmsync::RLock"
    } else {
        core::any::type_name::<R>()
    }
}

impl<R: Lockable + ShmSafe> SharedLock<R> {
    /// Wraps a lock that already lives in shared memory, e.g. one found in a
    /// [`Segment`](crate::Segment).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawLock;
    /// use shmsync::{Lock, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let lock = Lock::from_shared(segment.get_or_init("lock", RawLock::new)?);
    /// drop(lock.lock()?);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_shared(raw: Shared<R>) -> SharedLock<R> {
        SharedLock { raw }
    }

    /// Python's `acquire(block=True, timeout=None)`: `Ok(true)` once
    /// acquired, `Ok(false)` if `block` is false and the lock is held, or
    /// `timeout` ran out (a zero timeout is one try). A recursive lock's
    /// owner acquiring again always succeeds at once.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] if the lock was acquired after its holder died: the
    /// caller holds the lock and must release it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::Lock::new()?;
    /// assert!(lock.acquire(true, None)?);
    /// assert!(!lock.acquire(false, None)?, "a Lock is not recursive");
    /// lock.release()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        let locked = match (block, timeout) {
            (false, _) => self.raw.try_lock(),
            (true, None) => Some(self.raw.lock()),
            (true, Some(timeout)) => self.raw.try_lock_for(timeout),
        };
        match locked.map(|locked| locked.acquired) {
            None => Ok(false),
            Some(Acquired::Clean) => Ok(true),
            Some(Acquired::OwnerDied) => Err(OwnerDied::new(())),
        }
    }

    /// Acquires the lock, waiting as long as it takes, and returns a guard
    /// that gives this hold back when dropped.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] carrying the guard if a previous holder died holding
    /// the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::Lock::new()?;
    /// {
    ///     let _guard = lock.lock()?;
    ///     assert!(lock.is_held_by_current_thread());
    /// }
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn lock(&self) -> Result<SharedLockGuard<'_, R>, OwnerDied<SharedLockGuard<'_, R>>> {
        self.guarded(self.raw.lock())
    }

    /// Acquires the lock if that needs no waiting.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if another thread holds it;
    /// [`TryLockError::OwnerDied`] as for [`lock`](SharedLock::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Lock, TryLockError};
    ///
    /// let lock = Lock::new()?;
    /// let _held = lock.try_lock()?;
    /// assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn try_lock(&self) -> Result<SharedLockGuard<'_, R>, TryLockError<SharedLockGuard<'_, R>>> {
        match self.raw.try_lock() {
            None => Err(TryLockError::WouldBlock),
            Some(locked) => self.guarded(locked).map_err(TryLockError::OwnerDied),
        }
    }

    /// Acquires the lock, waiting at most `timeout` (zero: one try).
    ///
    /// # Errors
    ///
    /// [`TryLockError::Timeout`] if it stayed held;
    /// [`TryLockError::OwnerDied`] as for [`lock`](SharedLock::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Lock, TryLockError};
    /// use std::time::Duration;
    ///
    /// let lock = Lock::new()?;
    /// let _held = lock.lock()?;
    /// let again = lock.try_lock_for(Duration::from_millis(1));
    /// assert!(matches!(again, Err(TryLockError::Timeout)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    #[inline]
    pub fn try_lock_for(
        &self,
        timeout: Duration,
    ) -> Result<SharedLockGuard<'_, R>, TryLockError<SharedLockGuard<'_, R>>> {
        match self.raw.try_lock_for(timeout) {
            None => Err(TryLockError::Timeout),
            Some(locked) => self.guarded(locked).map_err(TryLockError::OwnerDied),
        }
    }

    /// Python's `locked()`: whether anyone holds the lock (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::Lock::new()?;
    /// assert!(!lock.locked());
    /// lock.acquire(true, None)?;
    /// assert!(lock.locked());
    /// lock.release()?;
    /// assert!(!lock.locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether anyone holds the lock (a snapshot): [`locked`](SharedLock::locked)
    /// under its Rust name.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::RLock::new()?;
    /// let guard = lock.try_lock()?;
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::Lock::new()?;
    /// let _held = lock.lock()?;
    /// assert!(lock.is_held_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.is_locked() && !lock.is_held_by_current_thread()));
    /// });
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_held_by_current_thread(&self) -> bool {
        self.raw.is_held_by_current_thread()
    }

    /// Whether a holder died holding the lock and nobody has marked it
    /// consistent since. The mark is set when the next acquirer takes the
    /// lock over from the dead holder, not at the death itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Lock, TryLockError};
    /// use std::time::Duration;
    ///
    /// let lock = Lock::new()?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| std::mem::forget(lock.lock().unwrap())); // exits holding it
    /// });
    /// assert!(!lock.is_inconsistent(), "nobody has taken it over yet");
    /// let Err(TryLockError::OwnerDied(died)) = lock.try_lock_for(Duration::from_secs(5)) else {
    ///     panic!("the holder died holding the lock");
    /// };
    /// assert!(lock.is_inconsistent());
    /// died.into_inner().mark_consistent();
    /// assert!(!lock.is_inconsistent());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_inconsistent(&self) -> bool {
        self.raw.is_inconsistent()
    }

    /// The raw lock in shared memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Lock;
    ///
    /// let lock = Lock::new()?;
    /// let _held = lock.lock()?;
    /// assert!(lock.raw().holder_tid().is_some());
    /// let again = Lock::from_shared(lock.raw().clone()); // another handle
    /// assert!(again.is_held_by_current_thread());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn raw(&self) -> &Shared<R> {
        &self.raw
    }

    #[inline]
    fn guarded(
        &self,
        locked: Locked<R::Hold>,
    ) -> Result<SharedLockGuard<'_, R>, OwnerDied<SharedLockGuard<'_, R>>> {
        let guard = SharedLockGuard {
            lock: &*self.raw,
            hold: locked.hold,
            _not_send: PhantomData,
        };
        match locked.acquired {
            Acquired::Clean => Ok(guard),
            Acquired::OwnerDied => Err(OwnerDied::new(guard)),
        }
    }
}

impl SharedLock<RawLock> {
    /// Releases the lock, whichever thread holds it: Python's
    /// `Lock.release()`. A guard whose hold this ends gives nothing back
    /// when it is dropped.
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the lock is not held.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::Lock::new()?;
    /// let guard = lock.lock()?;
    /// lock.release()?; // another thread could do this too
    /// let _second = lock.lock()?;
    /// drop(guard); // stale: leaves `_second` alone
    /// assert!(lock.locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), NotHeld> {
        self.raw.release()
    }
}

impl SharedLock<RawRLock> {
    /// Releases one level: Python's `RLock.release()`.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::RLock::new()?;
    /// lock.acquire(true, None)?;
    /// lock.release()?;
    /// assert!(lock.release().is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), NotOwner> {
        self.raw.release()
    }

    /// Levels the calling thread holds (0 if it does not own the lock):
    /// Python's recursion count.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = shmsync::RLock::new()?;
    /// assert_eq!(lock.depth(), 0);
    /// let _outer = lock.lock()?;
    /// let _inner = lock.lock()?;
    /// assert_eq!(lock.depth(), 2);
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert_eq!(lock.depth(), 0, "not the owner"));
    /// });
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn depth(&self) -> u32 {
        self.raw.depth()
    }
}

impl<R: Lockable + ShmSafe> Clone for SharedLock<R> {
    fn clone(&self) -> Self {
        SharedLock {
            raw: self.raw.clone(),
        }
    }
}

impl<R: Lockable + ShmSafe> fmt::Debug for SharedLock<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLock")
            .field("holder_tid", &self.raw.holder_tid())
            .field("inconsistent", &self.raw.is_inconsistent())
            .finish()
    }
}

/// Holds a [`SharedLock`] (one level of an [`RLock`]); gives that hold back
/// when dropped, and nothing else.
///
/// If the hold ended meanwhile (Python's any-thread `Lock.release()`), the
/// drop does nothing, even if someone holds the lock again by then. Not
/// `Send`: the lock records the thread that acquired it.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawLock;
/// use shmsync::{Lock, SharedLockGuard};
///
/// let lock = Lock::new()?;
/// let guard: SharedLockGuard<'_, RawLock> = lock.lock()?;
/// lock.release()?; // Python's release ends the guard's hold
/// let other = lock.lock()?; // a new hold
/// drop(guard); // gives back nothing: `other` keeps the lock
/// assert!(lock.is_held_by_current_thread());
/// drop(other);
/// assert!(!lock.locked());
/// # Ok::<(), shmsync::Error>(())
/// ```
#[must_use = "dropping the guard releases the lock at once"]
pub struct SharedLockGuard<'a, R: Lockable> {
    lock: &'a R,
    hold: R::Hold,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard only lets other threads read through it (its
// methods that act on the lock check the calling thread); nothing in a
// guard is tied to the thread but the hold, which stays put.
unsafe impl<R: Lockable> Sync for SharedLockGuard<'_, R> {}

impl<R: Lockable> SharedLockGuard<'_, R> {
    /// Declares the data repaired after [`OwnerDied`]: later acquisitions
    /// are ordinary again. Does nothing if the guard's hold has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Lock, TryLockError};
    /// use std::time::Duration;
    ///
    /// let lock = Lock::new()?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| std::mem::forget(lock.lock().unwrap())); // exits holding it
    /// });
    /// match lock.try_lock_for(Duration::from_secs(5)) {
    ///     Err(TryLockError::OwnerDied(died)) => died.into_inner().mark_consistent(),
    ///     other => panic!("expected OwnerDied, got {other:?}"),
    /// }
    /// drop(lock.lock()?); // an ordinary acquisition again: `?` would fail on OwnerDied
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn mark_consistent(&self) {
        if self.lock.current_hold() == Some(self.hold) {
            // This thread holds the lock under this hold: cannot fail.
            let _ = self.lock.mark_consistent();
        }
    }
}

impl<R: Lockable> Drop for SharedLockGuard<'_, R> {
    #[inline]
    fn drop(&mut self) {
        // Err: the hold ended under the guard (released by another thread,
        // perhaps taken again since): nothing of ours to give back.
        let _ = self.lock.unlock(self.hold);
    }
}

impl<R: Lockable> fmt::Debug for SharedLockGuard<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLockGuard")
            .field("hold", &self.hold)
            .finish()
    }
}
