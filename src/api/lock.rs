//! `Lock` and `RLock`: Python's `multiprocessing.Lock` and `RLock` as
//! handles to a [`RawLock`] / [`RawRLock`] in shared memory.

use super::outcome::{OwnerDied, TryLockError};
use crate::raw::{Acquired, NotHeld, NotOwner, RawLock, RawRLock};
use crate::shm::Shared;
use crate::Error;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// What the handles need from a raw lock to offer Python's `acquire` and
/// the guard-returning forms.
trait RawAcquire {
    fn lock(&self) -> Acquired;
    fn try_lock(&self) -> Option<Acquired>;
    fn lock_for(&self, timeout: Duration) -> Option<Acquired>;
}

impl RawAcquire for RawLock {
    fn lock(&self) -> Acquired {
        RawLock::lock(self)
    }
    fn try_lock(&self) -> Option<Acquired> {
        RawLock::try_lock(self)
    }
    fn lock_for(&self, timeout: Duration) -> Option<Acquired> {
        RawLock::lock_for(self, timeout)
    }
}

impl RawAcquire for RawRLock {
    fn lock(&self) -> Acquired {
        RawRLock::lock(self)
    }
    fn try_lock(&self) -> Option<Acquired> {
        RawRLock::try_lock(self)
    }
    fn lock_for(&self, timeout: Duration) -> Option<Acquired> {
        RawRLock::lock_for(self, timeout)
    }
}

/// Python's `acquire(block, timeout)`.
fn acquire(
    raw: &impl RawAcquire,
    block: bool,
    timeout: Option<Duration>,
) -> Result<bool, OwnerDied> {
    let acquired = match (block, timeout) {
        (false, _) => raw.try_lock(),
        (true, None) => Some(raw.lock()),
        (true, Some(timeout)) => raw.lock_for(timeout),
    };
    match acquired {
        None => Ok(false),
        Some(Acquired::Clean) => Ok(true),
        Some(Acquired::OwnerDied) => Err(OwnerDied::new(())),
    }
}

fn guarded<G>(acquired: Acquired, guard: G) -> Result<G, OwnerDied<G>> {
    match acquired {
        Acquired::Clean => Ok(guard),
        Acquired::OwnerDied => Err(OwnerDied::new(guard)),
    }
}

fn tried<G>(
    acquired: Option<Acquired>,
    busy: TryLockError<G>,
    guard: impl FnOnce() -> G,
) -> Result<G, TryLockError<G>> {
    match acquired {
        None => Err(busy),
        Some(acquired) => guarded(acquired, guard()).map_err(TryLockError::OwnerDied),
    }
}

/// A lock shared between processes: Python's `multiprocessing.Lock`.
///
/// `Lock::new` maps the lock in fresh shared memory; children forked
/// afterwards (with [`Process`](crate::Process) or `fork`) share it, and
/// clones of the handle refer to the same lock. For unrelated processes,
/// place the [`RawLock`] in a [`Segment`](crate::Segment) and wrap it with
/// [`Lock::from_shared`].
///
/// Any thread of any process may release a held `Lock`, as in Python. The
/// lock records which thread acquired it: if that thread dies holding it,
/// the next acquirer is told ([`OwnerDied`]) instead of waiting forever.
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
/// assert!(!lock.locked());
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone)]
pub struct Lock {
    raw: Shared<RawLock>,
}

impl Lock {
    /// A free lock in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the mapping fails.
    pub fn new() -> Result<Lock, Error> {
        Ok(Lock {
            raw: Shared::new(RawLock::new())?,
        })
    }

    /// Wraps a lock that already lives in shared memory, e.g. one found in a
    /// [`Segment`](crate::Segment).
    pub fn from_shared(raw: Shared<RawLock>) -> Lock {
        Lock { raw }
    }

    /// Python's `acquire(block=True, timeout=None)`: `Ok(true)` once
    /// acquired, `Ok(false)` if `block` is false and the lock is held, or
    /// `timeout` ran out.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] if the lock was acquired after its holder died: the
    /// caller holds the lock and must [`release`](Lock::release) it.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        acquire(&*self.raw, block, timeout)
    }

    /// Releases the lock, whichever thread holds it (Python's `release`).
    ///
    /// # Errors
    ///
    /// [`NotHeld`] if the lock is not held.
    pub fn release(&self) -> Result<(), NotHeld> {
        self.raw.release()
    }

    /// Whether the lock is held by anyone (a snapshot).
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Acquires the lock, waiting as long as it takes, and returns a guard
    /// that releases it when dropped.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] carrying the guard if a previous holder died holding
    /// the lock.
    pub fn lock(&self) -> Result<LockGuard<'_>, OwnerDied<LockGuard<'_>>> {
        guarded(self.raw.lock(), self.guard())
    }

    /// Acquires the lock if it is free.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if it is held;
    /// [`TryLockError::OwnerDied`] as for [`Lock::lock`].
    pub fn try_lock(&self) -> Result<LockGuard<'_>, TryLockError<LockGuard<'_>>> {
        tried(self.raw.try_lock(), TryLockError::WouldBlock, || {
            self.guard()
        })
    }

    /// Acquires the lock, waiting at most `timeout` (zero: one try).
    ///
    /// # Errors
    ///
    /// [`TryLockError::Timeout`] if it stayed held;
    /// [`TryLockError::OwnerDied`] as for [`Lock::lock`].
    pub fn try_lock_for(
        &self,
        timeout: Duration,
    ) -> Result<LockGuard<'_>, TryLockError<LockGuard<'_>>> {
        tried(self.raw.lock_for(timeout), TryLockError::Timeout, || {
            self.guard()
        })
    }

    /// Whether a holder died holding the lock and nobody has marked it
    /// consistent since.
    pub fn is_inconsistent(&self) -> bool {
        self.raw.is_inconsistent()
    }

    /// The raw lock in shared memory.
    pub fn raw(&self) -> &Shared<RawLock> {
        &self.raw
    }

    fn guard(&self) -> LockGuard<'_> {
        LockGuard {
            lock: &self.raw,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("holder_tid", &self.raw.holder_tid())
            .field("inconsistent", &self.raw.is_inconsistent())
            .finish()
    }
}

/// Holds a [`Lock`]; releases it when dropped.
///
/// Not `Send`: the lock records the acquiring thread, which is the one that
/// should release it.
#[must_use = "dropping the guard releases the lock at once"]
pub struct LockGuard<'a> {
    lock: &'a RawLock,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing a guard only lets other threads read through it; nothing
// in a LockGuard is tied to the thread.
unsafe impl Sync for LockGuard<'_> {}

impl LockGuard<'_> {
    /// Declares the data repaired after [`OwnerDied`]: later acquisitions
    /// are ordinary again.
    pub fn mark_consistent(&self) {
        // The guard's thread holds the lock, so this cannot fail.
        let _ = self.lock.mark_consistent();
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // Held until now, so not free; another thread releasing it under us
        // (Python semantics allow that) makes this a no-op.
        let _ = self.lock.release();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

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
#[derive(Clone)]
pub struct RLock {
    raw: Shared<RawRLock>,
}

impl RLock {
    /// A free recursive lock in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the mapping fails.
    pub fn new() -> Result<RLock, Error> {
        Ok(RLock {
            raw: Shared::new(RawRLock::new())?,
        })
    }

    /// Wraps a recursive lock that already lives in shared memory.
    pub fn from_shared(raw: Shared<RawRLock>) -> RLock {
        RLock { raw }
    }

    /// Python's `acquire(block=True, timeout=None)`; see [`Lock::acquire`].
    /// The owner acquiring again always succeeds at once.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] as for [`Lock::acquire`].
    ///
    /// # Panics
    ///
    /// If the caller already holds `u32::MAX` levels.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        acquire(&*self.raw, block, timeout)
    }

    /// Releases one level.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread owns the lock.
    pub fn release(&self) -> Result<(), NotOwner> {
        self.raw.release()
    }

    /// Acquires a level, waiting as long as it takes; the guard releases it.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] carrying the guard if the previous owner died.
    ///
    /// # Panics
    ///
    /// If the caller already holds `u32::MAX` levels.
    pub fn lock(&self) -> Result<RLockGuard<'_>, OwnerDied<RLockGuard<'_>>> {
        guarded(self.raw.lock(), self.guard())
    }

    /// Acquires a level if that needs no waiting.
    ///
    /// # Errors
    ///
    /// As [`Lock::try_lock`].
    ///
    /// # Panics
    ///
    /// If the caller already holds `u32::MAX` levels.
    pub fn try_lock(&self) -> Result<RLockGuard<'_>, TryLockError<RLockGuard<'_>>> {
        tried(self.raw.try_lock(), TryLockError::WouldBlock, || {
            self.guard()
        })
    }

    /// Acquires a level, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Lock::try_lock_for`].
    ///
    /// # Panics
    ///
    /// If the caller already holds `u32::MAX` levels.
    pub fn try_lock_for(
        &self,
        timeout: Duration,
    ) -> Result<RLockGuard<'_>, TryLockError<RLockGuard<'_>>> {
        tried(self.raw.lock_for(timeout), TryLockError::Timeout, || {
            self.guard()
        })
    }

    /// Levels the calling thread holds (0 if it does not own the lock):
    /// Python's recursion count.
    pub fn depth(&self) -> u32 {
        self.raw.depth()
    }

    /// Whether any thread owns the lock (a snapshot).
    pub fn locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the calling thread owns the lock.
    pub fn is_owned(&self) -> bool {
        self.raw.is_owned_by_current_thread()
    }

    /// Whether an owner died holding the lock and nobody has marked it
    /// consistent since.
    pub fn is_inconsistent(&self) -> bool {
        self.raw.is_inconsistent()
    }

    /// The raw lock in shared memory.
    pub fn raw(&self) -> &Shared<RawRLock> {
        &self.raw
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: &self.raw,
            _not_send: PhantomData,
        }
    }
}

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLock")
            .field("owner_tid", &self.raw.owner_tid())
            .field("depth_here", &self.raw.depth())
            .finish()
    }
}

/// Holds one level of an [`RLock`]; releases it when dropped. Not `Send`.
#[must_use = "dropping the guard releases the level at once"]
pub struct RLockGuard<'a> {
    lock: &'a RawRLock,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: as for LockGuard.
unsafe impl Sync for RLockGuard<'_> {}

impl RLockGuard<'_> {
    /// Declares the data repaired after [`OwnerDied`].
    pub fn mark_consistent(&self) {
        let _ = self.lock.mark_consistent();
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        // The guard's thread owns the lock (guards are not Send).
        let _ = self.lock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard").finish_non_exhaustive()
    }
}
