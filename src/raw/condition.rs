//! `RawCondition`: a condition variable across processes, Python's
//! `Condition` without its lock (the lock is any [`Lockable`]).
//!
//! `notify(n)` must wake at most `n` of the threads waiting *now*, never a
//! later one, and must not wait for the woken to answer (Python's does,
//! so a dead waiter hangs its notifier). The state, all changed under the
//! user's lock except where noted:
//!
//! - `waiters`: waiting threads no wake-up has been handed to yet;
//! - `tokens`: wake-ups handed out and not yet taken (taken without the
//!   lock, by compare-and-swap);
//! - `epoch`: the number every new waiter records; each notify that hands
//!   out wake-ups moves it on, and sets `token_epoch` to the old value.
//!   Only waiters whose epoch is at most `token_epoch` may take a token, so
//!   a thread that starts waiting after a notify cannot take that notify's
//!   wake-up;
//! - `seq`: the word sleepers sleep on: a counter bumped by every such
//!   notify, and a `SLEEPERS` bit that a waiter sets before it sleeps in
//!   the kernel and the notify clears, so that a notify makes a wake-up
//!   syscall only when someone may be asleep (a waiter still spinning sees
//!   the counter move by itself).
//!
//! `notify(n)` moves `k = min(n, waiters)` from `waiters` to `tokens` and
//! wakes all sleepers (adding the tokens first and lowering `waiters`
//! last, so that a notifier killed in between leaves spare wake-ups, not
//! waiters nobody can notify); the eligible ones race for the `k` tokens,
//! the rest sleep again. Waking everyone (rather than `k`) is what makes this safe
//! on every backend: a futex or semaphore wake of `k` might reach late
//! waiters that may not take a token while eligible ones sleep on. A waiter
//! that times out takes the lock back and then, under it, either takes a
//! token after all (it was notified) or leaves `waiters`. A waiter that
//! dies leaves one count behind: a later notify may hand a wake-up to the
//! dead, which a live waiter then takes, or which stays unclaimed.
//!
//! Orderings: a notify adds its tokens, then publishes `token_epoch` and
//! `seq` with `Release`; waiters read `seq` and `token_epoch` with
//! `Acquire`, so one that sees the new epoch sees the tokens. The rest of
//! the bookkeeping is ordered by the user's lock and is `Relaxed`.

use super::lockable::{Acquired, Lockable, NotOwner};
use super::wait::sleep_flagged;
use super::CachePadded;
use crate::shim::{self, loom_const_fn, AtomicU32, Deadline, Ordering, Poll, WaitCell, Wake};

/// Bit 0 of `seq`: a waiter may be asleep in the kernel.
const SLEEPERS: u32 = 1;
/// One notify, in bits 1..32 of `seq`.
const ONE_NOTIFY: u32 = 2;

#[inline]
fn notifies(seq: u32) -> u32 {
    seq >> 1
}

/// How a [`RawCondition`] wait ended; the caller holds the lock again.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{Acquired, RawCondition, RawLock, Waited};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// let (lock, cond) = (RawLock::new(), RawCondition::new());
/// let locked = lock.lock();
/// let waited = cond.wait_until(&lock, Deadline::after(Duration::from_millis(2)))?;
/// assert_eq!(waited, Waited { notified: false, reacquired: Acquired::Clean });
/// lock.unlock(locked.hold)?;
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub struct Waited {
    /// Whether a notify woke this waiter (false: the deadline passed).
    pub notified: bool,
    /// How the lock was taken back: [`Acquired::OwnerDied`] if its holder
    /// died meanwhile.
    pub reacquired: Acquired,
}

/// A condition variable for threads of any process.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{RawCondition, RawLock};
/// use shmsync::Deadline;
/// use std::time::Duration;
///
/// static LOCK: RawLock = RawLock::new();
/// static COND: RawCondition = RawCondition::new();
///
/// let locked = LOCK.lock();
/// assert_eq!(COND.notify(&LOCK, 1), Ok(0), "nobody waits");
/// let waited = COND.wait_until(&LOCK, Deadline::after(Duration::from_millis(5))).unwrap();
/// assert!(!waited.notified);
/// assert!(LOCK.is_held_by_current_thread());
/// LOCK.unlock(locked.hold).unwrap(); // the wait gave the same hold back
/// assert!(COND.notify(&LOCK, 1).is_err(), "notify needs the lock");
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawCondition {
    /// The futex word: `notifies << 1 | SLEEPERS`, bumped by every notify
    /// that hands out wake-ups. On lines of its own: waiters poll it while
    /// the notifier writes the bookkeeping below (measured: a round trip
    /// through a condition 1.4× faster than with everything on one line).
    seq: CachePadded<AtomicU32>,
    /// The epoch new waiters record.
    epoch: AtomicU32,
    /// Waiters with an epoch up to this one may take a token.
    token_epoch: AtomicU32,
    /// Wake-ups handed out, not yet taken.
    tokens: AtomicU32,
    /// Waiters no wake-up has been handed to yet.
    waiters: AtomicU32,
    cell: WaitCell,
}

impl Default for RawCondition {
    fn default() -> Self {
        RawCondition::new()
    }
}

impl RawCondition {
    loom_const_fn! {
        /// A condition variable nobody waits on. `const`, so it can be a
        /// `static`; to share it with other processes, place it (and its
        /// lock) in shared memory.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::raw::{RawCondition, RawLock};
        /// use shmsync::Shared;
        ///
        /// static IN_PROCESS: RawCondition = RawCondition::new();
        /// let lock = Shared::new(RawLock::new())?;
        /// let cond = Shared::new(RawCondition::new())?;
        /// assert_eq!(IN_PROCESS.waiting(), 0);
        /// let _locked = lock.lock();
        /// assert_eq!(cond.notify_all(&*lock)?, 0, "nobody waits yet");
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        pub fn new() -> RawCondition {
            RawCondition {
                seq: CachePadded(AtomicU32::new(0)),
                epoch: AtomicU32::new(1),
                token_epoch: AtomicU32::new(0),
                tokens: AtomicU32::new(0),
                waiters: AtomicU32::new(0),
                cell: WaitCell::new(),
            }
        }
    }

    /// Releases `lock`, waits for a notify, and takes `lock` back (with
    /// the same hold). Wait in a loop on the condition itself: a notify
    /// that came before the wait began is not kept for it.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds `lock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{RawCondition, RawLock};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// let (lock, cond, ready) = (RawLock::new(), RawCondition::new(), AtomicBool::new(false));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let locked = lock.lock();
    ///         ready.store(true, Ordering::Relaxed);
    ///         let _ = cond.notify(&lock, 1);
    ///         let _ = lock.unlock(locked.hold);
    ///     });
    ///     let locked = lock.lock();
    ///     while !ready.load(Ordering::Relaxed) {
    ///         let _ = cond.wait(&lock)?; // the lock is free while it sleeps
    ///     }
    ///     lock.unlock(locked.hold)
    /// })?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn wait<L: Lockable>(&self, lock: &L) -> Result<Waited, NotOwner> {
        self.wait_until(lock, Deadline::NEVER)
    }

    /// Releases `lock`, waits for a notify or `deadline`, and takes `lock`
    /// back as it was held, with the same hold (waiting for it as long as
    /// it takes, as Python does).
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds `lock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{RawCondition, RawRLock};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let (lock, cond) = (RawRLock::new(), RawCondition::new());
    /// let _levels = (lock.lock(), lock.lock());
    /// let deadline = Deadline::after(Duration::from_millis(2));
    /// let waited = cond.wait_until(&lock, deadline)?;
    /// assert!(!waited.notified, "nobody notified: the deadline passed");
    /// assert_eq!(lock.depth(), 2, "taken back as it was held");
    /// assert!(cond.wait_until(&RawRLock::new(), deadline).is_err(), "not held");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn wait_until<L: Lockable>(
        &self,
        lock: &L,
        deadline: Deadline,
    ) -> Result<Waited, NotOwner> {
        if !lock.is_held_by_current_thread() {
            return Err(NotOwner);
        }
        // Relaxed, this block: the caller's lock orders it against notify.
        let epoch = self.epoch.load(Ordering::Relaxed);
        self.waiters.fetch_add(1, Ordering::Relaxed);
        let mut seq = self.seq.load(Ordering::Relaxed);
        let saved = match lock.unlock_all() {
            Ok(saved) => saved,
            Err(e) => {
                let waiters = self.waiters.load(Ordering::Relaxed);
                self.waiters
                    .store(waiters.saturating_sub(1), Ordering::Relaxed);
                return Err(e);
            }
        };

        let mut notified = self.sleep(epoch, &mut seq, deadline);

        let reacquired = match lock.relock_until(saved, Deadline::NEVER) {
            Some(acquired) => acquired,
            None => unreachable!("a wait without deadline timed out"),
        };
        if !notified {
            // Under the lock again: a token handed out meanwhile is ours
            // after all; otherwise leave the count of waiters.
            notified = self.take_token(epoch);
            if !notified {
                let waiters = self.waiters.load(Ordering::Relaxed);
                self.waiters
                    .store(waiters.saturating_sub(1), Ordering::Relaxed);
            }
        }
        Ok(Waited {
            notified,
            reacquired,
        })
    }

    /// Wakes at most `n` of the threads waiting now; returns how many
    /// wake-ups it handed out. Never blocks on the woken.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds `lock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{RawCondition, RawLock};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let (lock, cond) = (RawLock::new(), RawCondition::new());
    /// let deadline = Deadline::after(Duration::from_secs(5));
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| {
    ///         let locked = lock.lock();
    ///         let waited = cond.wait_until(&lock, deadline);
    ///         let _ = lock.unlock(locked.hold);
    ///         waited.is_ok_and(|waited| waited.notified)
    ///     });
    ///     while cond.waiting() == 0 && !deadline.has_passed() {
    ///         std::thread::yield_now();
    ///     }
    ///     let locked = lock.lock();
    ///     assert_eq!(cond.notify(&lock, 2)?, 1, "one waiter: one wake-up");
    ///     lock.unlock(locked.hold)?;
    ///     assert!(waiter.join().is_ok_and(|notified| notified));
    ///     Ok::<(), shmsync::Error>(())
    /// })?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn notify<L: Lockable>(&self, lock: &L, n: u32) -> Result<u32, NotOwner> {
        if !lock.is_held_by_current_thread() {
            return Err(NotOwner);
        }
        // Relaxed: ordered by the caller's lock, except as commented.
        let waiters = self.waiters.load(Ordering::Relaxed);
        let k = n.min(waiters);
        if k == 0 {
            return Ok(0);
        }
        // The wake-ups first, the count of waiters last: a notifier killed
        // part way (holding the lock) leaves at worst spare wake-ups, as a
        // dead waiter does, never waiters that no later notify can reach.
        self.tokens.fetch_add(k, Ordering::Relaxed);
        let epoch = self.epoch.load(Ordering::Relaxed);
        self.epoch.store(epoch.wrapping_add(1), Ordering::Relaxed);
        // Release: a waiter that reads this epoch (Acquire) sees the tokens.
        self.token_epoch.store(epoch, Ordering::Release);
        // Release: a waiter that reads the new seq (Acquire) sees the epoch.
        let mut seq = self.seq.load(Ordering::Relaxed);
        loop {
            let bumped = (seq & !SLEEPERS).wrapping_add(ONE_NOTIFY);
            match self
                .seq
                .compare_exchange_weak(seq, bumped, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => seq = now,
            }
        }
        if seq & SLEEPERS != 0 {
            self.cell.wake_all(&self.seq);
        }
        self.waiters.store(waiters - k, Ordering::Relaxed);
        Ok(k)
    }

    /// Wakes every thread waiting now; returns how many wake-ups it handed
    /// out.
    ///
    /// # Errors
    ///
    /// [`NotOwner`] unless the calling thread holds `lock`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{RawCondition, RawLock};
    /// use std::sync::atomic::{AtomicBool, Ordering};
    ///
    /// let (lock, cond, go) = (RawLock::new(), RawCondition::new(), AtomicBool::new(false));
    /// std::thread::scope(|s| {
    ///     for _ in 0..3 {
    ///         s.spawn(|| {
    ///             let locked = lock.lock();
    ///             while !go.load(Ordering::Relaxed) {
    ///                 let _ = cond.wait(&lock);
    ///             }
    ///             let _ = lock.unlock(locked.hold);
    ///         });
    ///     }
    ///     let locked = lock.lock();
    ///     go.store(true, Ordering::Relaxed);
    ///     let woken = cond.notify_all(&lock)?; // those of the three waiting now
    ///     assert!(woken <= 3);
    ///     lock.unlock(locked.hold)
    /// })?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn notify_all<L: Lockable>(&self, lock: &L) -> Result<u32, NotOwner> {
        self.notify(lock, u32::MAX)
    }

    /// Waiting threads no notify has reached yet (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::{RawCondition, RawLock};
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let (lock, cond) = (RawLock::new(), RawCondition::new());
    /// assert_eq!(cond.waiting(), 0);
    /// let deadline = Deadline::after(Duration::from_secs(5));
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let locked = lock.lock();
    ///         let _ = cond.wait_until(&lock, deadline);
    ///         let _ = lock.unlock(locked.hold);
    ///     });
    ///     while cond.waiting() == 0 && !deadline.has_passed() {
    ///         std::thread::yield_now();
    ///     }
    ///     assert_eq!(cond.waiting(), 1);
    ///     let locked = lock.lock();
    ///     let _ = cond.notify_all(&lock);
    ///     assert_eq!(cond.waiting(), 0, "reached by the notify");
    ///     let _ = lock.unlock(locked.hold);
    /// });
    /// ```
    pub fn waiting(&self) -> u32 {
        self.waiters.load(Ordering::Relaxed)
    }

    /// Sleeps until this waiter takes a token (true) or `deadline` (false).
    fn sleep(&self, epoch: u32, seq: &mut u32, deadline: Deadline) -> bool {
        if self.take_token(epoch) {
            return true;
        }
        // Relaxed: only a hint that a notify happened; `take_token` reads
        // with Acquire.
        let start = notifies(*seq);
        shim::spin_until(deadline, Poll::Eager, || {
            notifies(self.seq.load(Ordering::Relaxed)) != start
        });
        loop {
            if self.take_token(epoch) {
                return true;
            }
            let seen = notifies(*seq);
            let moved = |word: u32| notifies(word) != seen;
            let slept = sleep_flagged(&self.cell, &self.seq, SLEEPERS, deadline, moved);
            if slept == Some(Wake::TimedOut) && deadline.has_passed() {
                return false;
            }
            // Acquire: pairs with the Release bump in `notify`.
            *seq = self.seq.load(Ordering::Acquire);
        }
    }

    /// Takes a wake-up if one is out for this waiter's epoch.
    fn take_token(&self, epoch: u32) -> bool {
        // Acquire: pairs with the Release store in `notify`, so the tokens
        // it added are seen.
        let token_epoch = self.token_epoch.load(Ordering::Acquire);
        if (token_epoch.wrapping_sub(epoch) as i32) < 0 {
            return false;
        }
        let mut tokens = self.tokens.load(Ordering::Relaxed);
        while tokens > 0 {
            // Relaxed: the token carries no data; the lock, taken next,
            // orders what the notifier wrote.
            match self.tokens.compare_exchange_weak(
                tokens,
                tokens - 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => tokens = now,
            }
        }
        false
    }
}
