//! Outcomes shared by the lock handles: the `OwnerDied` that still grants
//! the lock, and the error of a try or a timed try.

use super::error::Error;
use std::fmt;

/// The lock was acquired, but a previous holder died while holding it.
///
/// The caller holds the lock: `G` is its guard, or `()` for the
/// Python-style `acquire`, after which the lock is held and the caller
/// must `release` it (converting an `OwnerDied<()>` into [`Error`] with
/// `?` does not release it). The guarded data may be half-updated. Repair
/// it, then call `mark_consistent`; until someone does, every acquirer is
/// told again.
/// This is pthread's `EOWNERDEAD` contract, without its
/// `ENOTRECOVERABLE`: an inconsistent lock stays usable.
///
/// # Examples
///
/// ```
/// # use shmsync::Lock;
/// let lock = Lock::new()?;
/// let guard = match lock.lock() {
///     Ok(guard) => guard,
///     Err(died) => {
///         let guard = died.into_inner();
///         // ... repair the data the lock guards ...
///         guard.mark_consistent();
///         guard
///     }
/// };
/// drop(guard);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct OwnerDied<G = ()> {
    guard: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(guard: G) -> OwnerDied<G> {
        OwnerDied { guard }
    }

    /// The guard: the caller holds the lock.
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
    /// let Err(TryLockError::OwnerDied(died)) = lock.try_lock_for(Duration::from_secs(5)) else {
    ///     panic!("the holder died holding the lock");
    /// };
    /// let guard = died.into_inner();
    /// assert!(lock.is_held_by_current_thread());
    /// guard.mark_consistent();
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn into_inner(self) -> G {
        self.guard
    }

    /// The guard, borrowed.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{RLock, TryLockError};
    /// use std::time::Duration;
    ///
    /// let lock = RLock::new()?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| std::mem::forget(lock.lock().unwrap())); // exits holding it
    /// });
    /// let Err(TryLockError::OwnerDied(died)) = lock.try_lock_for(Duration::from_secs(5)) else {
    ///     panic!("the holder died holding the lock");
    /// };
    /// died.get_ref().mark_consistent(); // `died` keeps the guard
    /// assert!(lock.is_held_by_current_thread() && !lock.is_inconsistent());
    /// drop(died); // and its guard with it
    /// assert!(!lock.is_locked());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_ref(&self) -> &G {
        &self.guard
    }

    /// The guard, borrowed mutably: for a guard that derefs to the data,
    /// such as a [`Value`](crate::Value)'s, the way to repair it in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AccessError, Value};
    ///
    /// let balance = Value::new(100u64)?;
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let mut guard = balance.get_lock().unwrap();
    ///         *guard = 12_345; // half-way through an update...
    ///         std::mem::forget(guard); // ...and the thread exits holding the lock
    ///     });
    /// });
    /// let Err(AccessError::OwnerDied(mut died)) = balance.get_lock() else {
    ///     panic!("the holder died holding the lock");
    /// };
    /// **died.get_mut() = 100; // put back the last value known good
    /// died.get_ref().mark_consistent();
    /// drop(died);
    /// assert_eq!(balance.get()?, 100);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Error::OwnerDied.fmt(f)
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

impl<G> From<OwnerDied<G>> for Error {
    fn from(_: OwnerDied<G>) -> Error {
        Error::OwnerDied
    }
}

/// Why a `try_lock` or `try_lock_for` did not return a plain guard.
///
/// # Examples
///
/// ```
/// use shmsync::{Error, Lock, TryLockError};
/// use std::time::Duration;
///
/// let lock = Lock::new()?;
/// let held = lock.lock()?;
/// assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
/// let timed = lock.try_lock_for(Duration::from_millis(1));
/// assert!(matches!(timed, Err(TryLockError::Timeout)));
/// // With `?`, each becomes the crate-wide error:
/// assert!(matches!(lock.try_lock().map_err(Error::from), Err(Error::WouldBlock)));
/// drop(held);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub enum TryLockError<G> {
    /// `try_lock`: the lock was held by someone else.
    WouldBlock,
    /// `try_lock_for`: the lock was still held when the timeout ran out.
    Timeout,
    /// The lock was acquired after its holder died; see [`OwnerDied`].
    OwnerDied(OwnerDied<G>),
}

impl<G> fmt::Debug for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::WouldBlock => f.write_str("WouldBlock"),
            TryLockError::Timeout => f.write_str("Timeout"),
            TryLockError::OwnerDied(d) => f.debug_tuple("OwnerDied").field(d).finish(),
        }
    }
}

impl<G> fmt::Display for TryLockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryLockError::WouldBlock => f.write_str("lock is held by another thread"),
            TryLockError::Timeout => f.write_str("timed out waiting for the lock"),
            TryLockError::OwnerDied(d) => d.fmt(f),
        }
    }
}

impl<G> std::error::Error for TryLockError<G> {}

impl<G> From<TryLockError<G>> for Error {
    fn from(e: TryLockError<G>) -> Error {
        match e {
            TryLockError::WouldBlock => Error::WouldBlock,
            TryLockError::Timeout => Error::Timeout,
            TryLockError::OwnerDied(_) => Error::OwnerDied,
        }
    }
}

impl<G> From<OwnerDied<G>> for TryLockError<G> {
    fn from(d: OwnerDied<G>) -> TryLockError<G> {
        TryLockError::OwnerDied(d)
    }
}
