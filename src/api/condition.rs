//! `Condition`: Python's `multiprocessing.Condition`, a [`RawCondition`]
//! with the lock it waits with: an [`RLock`] by default, as in Python, or
//! any [`SharedLock`].

use super::error::{opened_as, Error};
use super::lock::{RLock, SharedLock, SharedLockGuard};
use super::outcome::OwnerDied;
use crate::raw::{Acquired, Lockable, NotOwner, RawCondition, RawRLock};
use crate::shm::{Segment, Shared, ShmSafe};
use crate::Deadline;
use std::fmt;
use std::time::Duration;

/// The guard [`Condition::lock`] returns: the guard of the condition's
/// lock (one level of it, for an [`RLock`]).
///
/// # Examples
///
/// ```
/// use shmsync::{Condition, ConditionGuard};
///
/// let cond = Condition::new()?;
/// let guard: ConditionGuard<'_> = cond.lock()?;
/// assert!(cond.is_held_by_current_thread());
/// drop(guard);
/// assert!(!cond.is_held_by_current_thread());
/// # Ok::<(), shmsync::Error>(())
/// ```
pub type ConditionGuard<'a, R = RawRLock> = SharedLockGuard<'a, R>;

/// Why a [`Condition`] wait did not simply return.
///
/// # Examples
///
/// A thread takes the lock from the waiter, notifies, and exits holding it:
///
/// ```
/// use shmsync::{Condition, ConditionError};
/// use std::time::Duration;
///
/// let cond = Condition::new()?;
/// assert_eq!(cond.wait(Some(Duration::ZERO)), Err(ConditionError::NotOwner));
/// let _held = cond.lock()?;
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let guard = cond.lock().unwrap(); // once the wait below gives it up
///         cond.notify_one().unwrap();
///         std::mem::forget(guard);
///     });
///     let waited = cond.wait(Some(Duration::from_secs(5)));
///     assert_eq!(waited, Err(ConditionError::OwnerDied { notified: true }));
/// });
/// # Ok::<(), shmsync::Error>(())
/// ```
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

/// A condition variable shared between processes: Python's
/// `multiprocessing.Condition`.
///
/// It owns (a handle to) its lock `L`: an [`RLock`] unless made with
/// [`Condition::with_lock`] (e.g. over a [`Lock`](crate::Lock)). Waiting
/// and notifying need that lock held by the calling thread. `notify(n)`
/// wakes at most `n` of the threads waiting at that moment and is not
/// remembered for later ones; it never waits for the woken, so a waiter
/// that dies cannot hang the notifier.
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
pub struct Condition<L = RLock> {
    cond: Shared<RawCondition>,
    lock: L,
}

impl Condition {
    /// A condition over a new [`RLock`], both in fresh shared mappings.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if a mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = shmsync::Condition::new()?;
    /// let _outer = cond.lock()?;
    /// let _inner = cond.lock()?; // an RLock: its owner may take it again
    /// assert_eq!(cond.lock_handle().depth(), 2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new() -> Result<Condition, Error> {
        Condition::with_lock(RLock::new()?)
    }
}

impl<R: Lockable + ShmSafe> Condition<SharedLock<R>> {
    /// A condition over `lock` ([`Lock`](crate::Lock) or [`RLock`]).
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Condition, Lock};
    ///
    /// let cond = Condition::with_lock(Lock::new()?)?;
    /// let _held = cond.lock()?;
    /// assert!(cond.is_held_by_current_thread());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn with_lock(lock: SharedLock<R>) -> Result<Condition<SharedLock<R>>, Error> {
        Ok(Condition {
            cond: Shared::new(RawCondition::new())?,
            lock,
        })
    }

    /// A condition from a [`RawCondition`] already in shared memory (e.g. in
    /// a [`Segment`](crate::Segment)) and the lock it waits with. Every
    /// process must pair the same condition with the same lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{RawCondition, RawRLock};
    /// use shmsync::{Condition, RLock, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let lock = RLock::from_shared(segment.get_or_init("lock", RawRLock::new)?);
    /// let cond = Condition::from_shared(segment.get_or_init("cond", RawCondition::new)?, lock);
    /// assert_eq!(cond.n_waiting(), 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_shared(
        cond: Shared<RawCondition>,
        lock: SharedLock<R>,
    ) -> Condition<SharedLock<R>> {
        Condition { cond, lock }
    }

    /// The condition called `name` in `segment`, made if no process has
    /// made it yet, waiting with `lock`: how unrelated processes share a
    /// condition. Every process must pair the same condition with the same
    /// lock (open both by name, as below).
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Condition, RLock, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// // Each process does this:
    /// let cond = Condition::open_in(&segment, "ready", RLock::open_in(&segment, "ready-lock")?)?;
    /// let _held = cond.lock()?;
    /// cond.notify_all()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(
        segment: &Segment,
        name: &str,
        lock: SharedLock<R>,
    ) -> Result<Condition<SharedLock<R>>, Error> {
        let cond = segment
            .get_or_init(name, RawCondition::new)
            .map_err(opened_as("shmsync::Condition"))?;
        Ok(Condition::from_shared(cond, lock))
    }

    /// Acquires the underlying lock (Python's `acquire`); see
    /// [`SharedLock::acquire`].
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] if a holder died holding the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = shmsync::Condition::new()?;
    /// assert!(cond.acquire(true, None)?);
    /// assert!(cond.is_held_by_current_thread());
    /// cond.notify_all()?;
    /// cond.release()?;
    /// assert!(!cond.is_held_by_current_thread());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn acquire(&self, block: bool, timeout: Option<Duration>) -> Result<bool, OwnerDied> {
        self.lock.acquire(block, timeout)
    }

    /// Releases the calling thread's hold of the underlying lock (one level
    /// of an [`RLock`]): Python's `release`.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = shmsync::Condition::new()?;
    /// cond.acquire(true, None)?;
    /// cond.acquire(true, None)?; // an RLock: two levels
    /// cond.release()?;
    /// assert!(cond.is_held_by_current_thread());
    /// cond.release()?;
    /// assert!(cond.release().is_err(), "not held any more");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn release(&self) -> Result<(), NotOwner> {
        let raw = self.lock.raw();
        raw.unlock(raw.current_hold().ok_or(NotOwner)?)
    }

    /// Acquires the underlying lock and returns a guard that gives the hold
    /// back when dropped. Waits through the condition keep the guard valid:
    /// they give the lock back with the same hold.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] carrying the guard if a holder died holding the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = shmsync::Condition::new()?;
    /// {
    ///     let _guard = cond.lock()?;
    ///     assert!(!cond.wait(Some(Duration::from_millis(1)))?);
    ///     assert!(cond.is_held_by_current_thread(), "the wait took it back");
    /// }
    /// assert!(!cond.lock_handle().is_locked(), "the guard gave it back");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn lock(&self) -> Result<SharedLockGuard<'_, R>, OwnerDied<SharedLockGuard<'_, R>>> {
        self.lock.lock()
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
    ///
    /// # Data guarded by the lock
    ///
    /// A guard of data under this lock ([`Value::borrow_under`]) must not
    /// live across `wait`. The wait releases the lock, but the guard still
    /// lends the data out, so another process's `borrow_under` fails with
    /// [`AccessError::Borrowed`] for as long as the guard lives: the
    /// notifier can never write what the waiter waits for. Drop the guard
    /// before waiting and borrow again after, or look in
    /// [`wait_for`](Condition::wait_for)'s predicate, which borrows only
    /// while it looks:
    ///
    /// ```
    /// use shmsync::{Condition, Lock, Value};
    /// use std::time::Duration;
    ///
    /// let cond = Condition::with_lock(Lock::new()?)?;
    /// let ready = Value::with_lock(0u32, cond.lock_handle())?;
    /// let held = cond.lock()?;
    /// // Python's `while not ready.value: cond.wait()`, without a guard
    /// // held through the sleep:
    /// let is_set = || ready.borrow_under(&held).is_ok_and(|r| *r != 0);
    /// assert!(!cond.wait_for(is_set, Some(Duration::from_millis(5)))?);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    ///
    /// [`Value::borrow_under`]: crate::Value::borrow_under
    /// [`AccessError::Borrowed`]: crate::AccessError::Borrowed
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = shmsync::Condition::new()?;
    /// assert!(cond.wait(Some(Duration::ZERO)).is_err(), "the lock is not held");
    /// let _held = cond.lock()?;
    /// assert!(!cond.wait(Some(Duration::from_millis(1)))?, "nobody notified");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool, ConditionError> {
        let deadline = timeout.map_or(Deadline::NEVER, Deadline::after);
        self.wait_until(deadline)
    }

    /// Python's `wait_for(predicate, timeout=None)`: waits until
    /// `predicate` (called with the lock held) returns true or `timeout`
    /// runs out, and returns the predicate's last value. The predicate is
    /// called first: if it is true at once, nothing waits.
    ///
    /// # Errors
    ///
    /// As [`Condition::wait`], once it has to wait (as in Python, a
    /// predicate true at once, or a timeout already run out, returns
    /// without looking at the lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = shmsync::Condition::new()?;
    /// let _held = cond.lock()?;
    /// let mut calls = 0;
    /// let ready = cond.wait_for(|| { calls += 1; false }, Some(Duration::from_millis(5)))?;
    /// assert!(!ready, "nobody made it true in time");
    /// assert!(calls >= 2, "called before the wait and after it");
    /// assert!(cond.wait_for(|| true, None)?, "true already: no wait");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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

    /// Python's `notify(n)`: wakes at most `n` of the threads waiting now.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Condition, Process};
    /// use std::time::{Duration, Instant};
    ///
    /// let cond = Condition::new()?;
    /// let waiter = || {
    ///     let _held = cond.lock().unwrap();
    ///     assert!(cond.wait(Some(Duration::from_secs(5))).unwrap(), "notified");
    /// };
    /// let children = [Process::spawn(waiter)?, Process::spawn(waiter)?];
    /// let start = Instant::now();
    /// while cond.n_waiting() < 2 && start.elapsed() < Duration::from_secs(5) {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// let held = cond.lock()?;
    /// cond.notify(1)?;
    /// assert_eq!(cond.n_waiting(), 1, "one woken, one still waiting");
    /// cond.notify(5)?; // wakes the one left
    /// drop(held);
    /// for child in children {
    ///     assert_eq!(child.join()?, 0);
    /// }
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn notify(&self, n: u32) -> Result<(), NotOwner> {
        self.cond.notify(&**self.lock.raw(), n).map(|_| ())
    }

    /// Python's `notify()` without an argument: wakes one of the threads
    /// waiting now, if any.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = shmsync::Condition::new()?;
    /// assert!(cond.notify_one().is_err(), "the lock is not held");
    /// let _held = cond.lock()?;
    /// cond.notify_one()?; // nobody waits: nothing happens
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn notify_one(&self) -> Result<(), NotOwner> {
        self.notify(1)
    }

    /// Python's `notify_all()`: wakes every thread waiting now.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let cond = shmsync::Condition::new()?;
    /// let _held = cond.lock()?;
    /// cond.notify_all()?; // nobody waits: not remembered for later waiters,
    /// assert!(!cond.wait(Some(Duration::from_millis(5)))?, "so this one times out");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn notify_all(&self) -> Result<(), NotOwner> {
        self.notify(u32::MAX)
    }

    /// Whether the calling thread holds the condition's lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = shmsync::Condition::new()?;
    /// assert!(!cond.is_held_by_current_thread());
    /// let _held = cond.lock()?;
    /// assert!(cond.is_held_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!cond.is_held_by_current_thread()));
    /// });
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_held_by_current_thread(&self) -> bool {
        self.lock.is_held_by_current_thread()
    }

    /// How many threads wait on the condition and have not been notified
    /// yet (a snapshot; a waiter that died in its wait stays counted until
    /// a notify hands it a wake-up).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Condition, Process};
    /// use std::time::{Duration, Instant};
    ///
    /// let cond = Condition::new()?;
    /// let child = Process::spawn(|| {
    ///     let _held = cond.lock().unwrap();
    ///     assert!(cond.wait(Some(Duration::from_secs(5))).unwrap(), "notified");
    /// })?;
    /// let start = Instant::now();
    /// while cond.n_waiting() == 0 && start.elapsed() < Duration::from_secs(5) {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// let held = cond.lock()?;
    /// assert_eq!(cond.n_waiting(), 1);
    /// cond.notify_one()?;
    /// assert_eq!(cond.n_waiting(), 0, "notified: not counted, though not awake yet");
    /// drop(held);
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        self.cond.waiting()
    }

    /// The condition's lock, e.g. for data it should guard too.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Condition, Lock, Value};
    ///
    /// let cond = Condition::with_lock(Lock::new()?)?;
    /// let count = Value::with_lock(0u32, cond.lock_handle())?; // guarded by it
    /// let held = cond.lock()?;
    /// *count.borrow_under(&held)? += 1;
    /// cond.notify_all()?;
    /// drop(held);
    /// assert_eq!(count.get()?, 1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn lock_handle(&self) -> &SharedLock<R> {
        &self.lock
    }

    /// The raw condition in shared memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Condition;
    ///
    /// let cond = Condition::new()?;
    /// // Another handle to the same pair, as `from_shared` makes them:
    /// let again = Condition::from_shared(cond.raw().clone(), cond.lock_handle().clone());
    /// let _held = again.lock()?;
    /// assert!(cond.is_held_by_current_thread());
    /// assert_eq!(cond.raw().waiting(), 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn raw(&self) -> &Shared<RawCondition> {
        &self.cond
    }

    fn wait_until(&self, deadline: Deadline) -> Result<bool, ConditionError> {
        let waited = self.cond.wait_until(&**self.lock.raw(), deadline)?;
        match waited.reacquired {
            Acquired::Clean => Ok(waited.notified),
            Acquired::OwnerDied => Err(ConditionError::OwnerDied {
                notified: waited.notified,
            }),
        }
    }
}

impl<L: Clone> Clone for Condition<L> {
    fn clone(&self) -> Self {
        Condition {
            cond: self.cond.clone(),
            lock: self.lock.clone(),
        }
    }
}

impl<L: fmt::Debug> fmt::Debug for Condition<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("lock", &self.lock)
            .field("waiting", &self.cond.waiting())
            .finish()
    }
}
