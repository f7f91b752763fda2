//! `Condition`: Python's `multiprocessing.Condition`, a [`RawCondition`]
//! with the [`Lock`] or [`RLock`] it waits with.

use super::lock::{Lock, RLock};
use super::outcome::OwnerDied;
use crate::raw::{Acquired, NotOwner, RawCondition};
use crate::shm::Shared;
use crate::{Deadline, Error};
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// Why a [`Condition`] wait did not simply return.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionError {
    /// The calling thread does not hold the condition's lock.
    NotOwner,
    /// The wait took the lock back after a holder died holding it: the
    /// caller holds the lock, the data may be inconsistent (see
    /// [`OwnerDied`]). `notified` says whether a notify ended the wait.
    OwnerDied {
        /// Whether a notify (rather than the time-out) ended the wait.
        notified: bool,
    },
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionError::NotOwner => {
                f.write_str("condition used without holding its lock; acquire it first")
            }
            ConditionError::OwnerDied { .. } => Error::OwnerDied.fmt(f),
        }
    }
}

impl std::error::Error for ConditionError {}

impl From<NotOwner> for ConditionError {
    fn from(_: NotOwner) -> ConditionError {
        ConditionError::NotOwner
    }
}

impl From<ConditionError> for Error {
    fn from(e: ConditionError) -> Error {
        match e {
            ConditionError::NotOwner => Error::NotOwner,
            ConditionError::OwnerDied { .. } => Error::OwnerDied,
        }
    }
}

#[derive(Clone)]
enum Guarding {
    Lock(Lock),
    RLock(RLock),
}

/// A condition variable shared between processes: Python's
/// `multiprocessing.Condition`.
///
/// It owns (a handle to) its lock, an [`RLock`] unless made with
/// [`Condition::with_lock`]. Waiting and notifying need that lock held by
/// the calling thread. `notify(n)` wakes at most `n` of the threads waiting
/// at that moment and is not remembered for later ones; it never waits for
/// the woken, so a waiter that dies cannot hang the notifier.
///
/// # Examples
///
/// ```
/// use shmsync::{Condition, Process, Shared};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::time::Duration;
///
/// let cond = Condition::new()?;
/// let done = Shared::new(AtomicBool::new(false))?;
/// let child = Process::spawn(|| {
///     let _held = cond.lock().unwrap();
///     done.store(true, Ordering::Relaxed);
///     cond.notify_all().unwrap();
/// })?;
/// {
///     let _held = cond.lock()?;
///     let ok = cond.wait_for(|| done.load(Ordering::Relaxed), Some(Duration::from_secs(10)))?;
///     assert!(ok);
/// }
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone)]
pub struct Condition {
    cond: Shared<RawCondition>,
    lock: Guarding,
}

impl Condition {
    /// A condition over a new [`RLock`], both in fresh shared mappings.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if a mapping fails.
    pub fn new() -> Result<Condition, Error> {
        Condition::with_rlock(RLock::new()?)
    }

    /// A condition over `lock`, a non-recursive [`Lock`].
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the mapping fails.
    pub fn with_lock(lock: Lock) -> Result<Condition, Error> {
        Ok(Condition {
            cond: Shared::new(RawCondition::new())?,
            lock: Guarding::Lock(lock),
        })
    }

    /// A condition over `lock`, a recursive [`RLock`].
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the mapping fails.
    pub fn with_rlock(lock: RLock) -> Result<Condition, Error> {
        Ok(Condition {
            cond: Shared::new(RawCondition::new())?,
            lock: Guarding::RLock(lock),
        })
    }

    /// A condition from a [`RawCondition`] already in shared memory (e.g. in
    /// a [`Segment`](crate::Segment)) and the recursive lock it waits with.
    /// Every process must pair the same condition with the same lock.
    pub fn from_shared_with_rlock(cond: Shared<RawCondition>, lock: RLock) -> Condition {
        Condition {
            cond,
            lock: Guarding::RLock(lock),
        }
    }

    /// As [`Condition::from_shared_with_rlock`], over a non-recursive
    /// [`Lock`].
    pub fn from_shared_with_lock(cond: Shared<RawCondition>, lock: Lock) -> Condition {
        Condition {
            cond,
            lock: Guarding::Lock(lock),
        }
    }

    /// Acquires the underlying lock (Python's `acquire`); see
    /// [`Lock::acquire`].
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] if a holder died holding the lock.
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        match &self.lock {
            Guarding::Lock(l) => l.acquire(block, timeout),
            Guarding::RLock(l) => l.acquire(block, timeout),
        }
    }

    /// Releases the underlying lock (one level of an [`RLock`]).
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds it.
    pub fn release(&self) -> Result<(), NotOwner> {
        match &self.lock {
            Guarding::Lock(l) if l.raw().is_held_by_current_thread() => {
                l.release().map_err(|_| NotOwner)
            }
            Guarding::Lock(_) => Err(NotOwner),
            Guarding::RLock(l) => l.release(),
        }
    }

    /// Acquires the underlying lock and returns a guard that releases it.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] carrying the guard if a holder died holding the lock.
    pub fn lock(&self) -> Result<ConditionGuard<'_>, OwnerDied<ConditionGuard<'_>>> {
        let guard = ConditionGuard {
            cond: self,
            _not_send: PhantomData,
        };
        match self.acquire(true, None) {
            Ok(_) => Ok(guard),
            Err(_) => Err(OwnerDied::new(guard)),
        }
    }

    /// Python's `wait(timeout=None)`: releases the lock (every level of an
    /// [`RLock`]), sleeps until notified or `timeout`, takes the lock back
    /// as it was held, and returns false if it timed out.
    ///
    /// # Errors
    ///
    /// [`ConditionError::NotOwner`] if the caller does not hold the lock;
    /// [`ConditionError::OwnerDied`] if taking it back found its holder
    /// dead (the caller holds the lock).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, ConditionError> {
        let deadline = timeout.map_or(Deadline::NEVER, Deadline::after);
        self.wait_until(deadline)
    }

    /// Python's `wait_for(predicate, timeout=None)`: waits until
    /// `predicate` (called with the lock held) returns true or `timeout`
    /// runs out, and returns the predicate's last value.
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`].
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<Duration>,
    ) -> Result<bool, ConditionError> {
        let deadline = timeout.map_or(Deadline::NEVER, Deadline::after);
        loop {
            if predicate() {
                return Ok(true);
            }
            if deadline.has_passed() {
                return Ok(false);
            }
            self.wait_until(deadline)?;
        }
    }

    /// Python's `notify(n=1)`: wakes at most `n` of the threads waiting now.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    pub fn notify(&self, n: u32) -> Result<(), NotOwner> {
        match &self.lock {
            Guarding::Lock(l) => self.cond.notify(&**l.raw(), n),
            Guarding::RLock(l) => self.cond.notify(&**l.raw(), n),
        }
        .map(|_| ())
    }

    /// Python's `notify_all()`: wakes every thread waiting now.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    pub fn notify_all(&self) -> Result<(), NotOwner> {
        self.notify(u32::MAX)
    }

    /// The raw condition in shared memory.
    pub fn raw(&self) -> &Shared<RawCondition> {
        &self.cond
    }

    fn wait_until(&self, deadline: Deadline) -> Result<bool, ConditionError> {
        let waited = match &self.lock {
            Guarding::Lock(l) => self.cond.wait_until(&**l.raw(), deadline),
            Guarding::RLock(l) => self.cond.wait_until(&**l.raw(), deadline),
        }?;
        match waited.reacquired {
            Acquired::Clean => Ok(waited.notified),
            Acquired::OwnerDied => Err(ConditionError::OwnerDied {
                notified: waited.notified,
            }),
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lock = match &self.lock {
            Guarding::Lock(_) => "Lock",
            Guarding::RLock(_) => "RLock",
        };
        f.debug_struct("Condition")
            .field("lock", &lock)
            .field("waiting", &self.cond.waiting())
            .finish()
    }
}

/// Holds a [`Condition`]'s lock (one level of it); releases it when
/// dropped. Wait and notify through the condition while it is held.
#[must_use = "dropping the guard releases the lock at once"]
pub struct ConditionGuard<'a> {
    cond: &'a Condition,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing the guard only lets other threads read the condition
// through it; the lock hold itself stays with the acquiring thread (the
// guard is not Send).
unsafe impl Sync for ConditionGuard<'_> {}

impl ConditionGuard<'_> {
    /// Declares the guarded data repaired after [`OwnerDied`].
    pub fn mark_consistent(&self) {
        match &self.cond.lock {
            Guarding::Lock(l) => drop(l.raw().mark_consistent()),
            Guarding::RLock(l) => drop(l.raw().mark_consistent()),
        }
    }
}

impl Drop for ConditionGuard<'_> {
    fn drop(&mut self) {
        let _ = self.cond.release();
    }
}

impl fmt::Debug for ConditionGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionGuard").finish_non_exhaustive()
    }
}
