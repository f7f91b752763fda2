//! Exclusive access to a locked object's data: its lock, and where needed
//! a claim naming the thread that uses the data.
//!
//! Holding a lock is not always enough to hand out `&mut T`. Any thread of
//! any process may release a [`Lock`](crate::Lock) (Python's semantics), so
//! when a value or array shares a `Lock` (`with_lock`), a guard's hold can
//! end while the guard still lends out the data, and the next acquirer
//! would alias it. Such objects therefore keep, beside their data, a claim
//! word naming the thread that uses the data. An access takes the lock,
//! then the claim; one that finds the claim held by a live thread refuses
//! ([`Denied::Borrowed`], or [`Denied::AlreadyHeld`] if that thread is the
//! caller) instead of touching the data. In correct use the claim is always
//! free once the lock is held: one uncontended compare-and-swap on the
//! data's cache line.
//!
//! An object's own lock needs no claim: only that object's handles reach
//! it, and they only give back their own holds, so it is released under no
//! guard. Such objects skip the claim (and its cost: measured, a fifth of
//! the increments two processes make on one counter).
//!
//! The claim word: 0 when free, otherwise the claimant's kernel thread id in
//! the high 32 bits and the low 32 bits of its stamp (see `sys::ident`) in
//! the low ones, so that a later thread given the same id by the kernel is
//! not taken for the claimant. A claimant that died (its thread is gone)
//! leaves a stale claim, which the next access takes over.
//!
//! Memory ordering: between ordinary holders the lock's own Acquire and
//! Release order the data. The claim adds one pair for the case above: the
//! claim is taken with an Acquire compare-and-swap and given back with a
//! Release store, so whoever takes it after a guard whose hold was released
//! under it still sees everything that guard wrote.

use super::super::outcome::OwnerDied;
use crate::raw::{Acquired, LockHold, RawLock};
use crate::shim::{current_thread, thread_is_gone};
use crate::sys::MadeIn;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// The claim word of one locked object; see the module docs.
#[repr(transparent)]
#[derive(Debug)]
pub(crate) struct Claim(AtomicU64);

/// The claim word's value when nobody uses the data.
const FREE: u64 = 0;

/// How often [`Claim::take`] looks again when a stale claim it tried to
/// take over changed under it (only a peer writing garbage does that).
const TAKE_OVER_TRIES: u32 = 4;

/// The calling thread as a claim word: never [`FREE`], as thread ids are
/// nonzero.
#[inline]
fn me() -> u64 {
    let caller = current_thread();
    (u64::from(caller.tid) << 32) | (caller.stamp & 0xffff_ffff)
}

/// The kernel thread id in a claim word.
fn claimant_tid(word: u64) -> u32 {
    (word >> 32) as u32
}

/// Why an access did not get to the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Denied {
    /// The calling thread holds the lock, or uses the data, already.
    AlreadyHeld,
    /// The calling thread does not hold the lock it offered as held.
    NotOwner,
    /// Another live thread uses the data (its lock was released under it).
    Borrowed { holder: u32 },
}

impl Claim {
    /// A free claim.
    pub(crate) const fn new() -> Claim {
        Claim(AtomicU64::new(FREE))
    }

    /// Claims the data for the calling thread, which holds the lock.
    #[inline]
    fn take(&self) -> Result<(), Denied> {
        let me = me();
        let mut expected = FREE;
        for _ in 0..TAKE_OVER_TRIES {
            // Acquire: pairs with the Release store in `give_back` of the
            // previous claimant.
            match self
                .0
                .compare_exchange(expected, me, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) if now == me => return Err(Denied::AlreadyHeld),
                Err(now) if now == FREE || claimant_is_gone(now, me) => expected = now,
                Err(now) => {
                    return Err(Denied::Borrowed {
                        holder: claimant_tid(now),
                    })
                }
            }
        }
        Err(Denied::Borrowed {
            holder: claimant_tid(self.0.load(Ordering::Relaxed)),
        })
    }

    /// Gives the claim back.
    #[inline]
    fn give_back(&self) {
        // Release: pairs with the Acquire compare-and-swap in `take` of the
        // next claimant.
        self.0.store(FREE, Ordering::Release);
    }
}

/// Whether the thread that made claim word `word` (not the caller's `me`)
/// is certainly gone. A word with the caller's id but another stamp was
/// made by an earlier thread with that id, gone since.
#[cold]
fn claimant_is_gone(word: u64, me: u64) -> bool {
    let tid = claimant_tid(word);
    tid == claimant_tid(me) || thread_is_gone(tid)
}

/// Exclusive use of one object's data: its lock (held by this access, or by
/// a guard of the caller's) and, for a shared lock, its claim. Gives the
/// claim back, then its own hold (if any, and only that hold), when
/// dropped. Not `Send`: the lock and the claim name the thread.
pub(crate) struct Access<'a> {
    lock: &'a RawLock,
    /// `None` for an object's own lock, which needs no claim.
    claim: Option<&'a Claim>,
    /// `None` when the caller's own `Lock` guard holds the lock.
    hold: Option<LockHold>,
    /// The process that took the hold and the claim: a copy of this
    /// access in a forked child (captured by a `Process` closure) has
    /// neither, so it neither lends out the data nor gives them back.
    made_in: MadeIn,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: sharing an `Access` only lets other threads read through the
// guard that owns it; `mark_consistent` checks the calling thread.
unsafe impl Sync for Access<'_> {}

impl<'a> Access<'a> {
    /// Takes `lock` (waiting as long as it takes), then `claim`: `Some` for
    /// a shared [`Lock`](crate::Lock), `None` for a lock that only the
    /// object's own handles reach.
    ///
    /// Refuses at once, without waiting, if the calling thread holds the
    /// lock already: the lock is not recursive, and waiting would be a
    /// deadlock.
    // Always, as the accessors that call it: a guard returned out of line
    // makes a round trip through the stack, which cost an uncontended
    // `*value.get_lock()? += 1` 6.4 ns instead of 5.2 (a bare `RawLock`
    // and counter: 5.0), and about a tenth of the increments two processes
    // make on one counter.
    #[inline(always)]
    pub(crate) fn lock(
        lock: &'a RawLock,
        claim: Option<&'a Claim>,
    ) -> Result<(Access<'a>, Acquired), Denied> {
        let locked = match lock.try_lock_before_waiting() {
            Some(locked) => locked,
            None => Access::lock_slow(lock)?,
        };
        if let Some(Err(denied)) = claim.map(Claim::take) {
            // Err: released under us already; nothing of ours to give back.
            let _ = lock.unlock(locked.hold);
            return Err(denied);
        }
        let access = Access {
            lock,
            claim,
            hold: Some(locked.hold),
            made_in: MadeIn::here(),
            _not_send: PhantomData,
        };
        Ok((access, locked.acquired))
    }

    /// The lock is taken: refuses if by the calling thread, else waits.
    #[cold]
    fn lock_slow(lock: &RawLock) -> Result<crate::raw::Locked<LockHold>, Denied> {
        if lock.is_held_by_current_thread() {
            return Err(Denied::AlreadyHeld);
        }
        Ok(lock.lock())
    }

    /// Takes `claim` under `lock`, which the calling thread must hold
    /// already (through a guard of its own). An object's own lock (`claim`
    /// `None`) is only ever held through a guard of that object, so this
    /// thread has one already.
    pub(crate) fn under(lock: &'a RawLock, claim: Option<&'a Claim>) -> Result<Access<'a>, Denied> {
        if !lock.is_held_by_current_thread() {
            return Err(Denied::NotOwner);
        }
        claim.ok_or(Denied::AlreadyHeld)?.take()?;
        Ok(Access {
            lock,
            claim,
            hold: None,
            made_in: MadeIn::here(),
            _not_send: PhantomData,
        })
    }

    /// Panics in a forked copy of this access (see [`MadeIn`]), naming
    /// the guard `what` that holds it: the data belongs to the parent's
    /// hold there. Every lending of the data goes through this.
    #[inline]
    #[track_caller]
    pub(crate) fn check(&self, what: &'static str) {
        self.made_in.check(what);
    }

    /// Declares the data repaired after an owner's death. Does nothing if
    /// this access's hold has ended; an access under a `Lock` guard does it
    /// if the calling thread still holds the lock.
    pub(crate) fn mark_consistent(&self) {
        let current = self.lock.current_hold();
        let ours = match self.hold {
            Some(hold) => current == Some(hold),
            None => current.is_some(),
        };
        if ours {
            // This thread holds the lock: cannot fail.
            let _ = self.lock.mark_consistent();
        }
    }

    /// Whether a holder died holding the lock and nobody has marked it
    /// consistent since.
    pub(crate) fn is_inconsistent(&self) -> bool {
        self.lock.is_inconsistent()
    }
}

impl Drop for Access<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.made_in.is_here() {
            // A forked copy: the claim and the hold are the parent's.
            return;
        }
        if let Some(claim) = self.claim {
            claim.give_back();
        }
        if let Some(hold) = self.hold {
            // Err: the hold ended under us (any-thread release): nothing of
            // ours to give back.
            let _ = self.lock.unlock(hold);
        }
    }
}

impl fmt::Debug for Access<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Access")
            .field("hold", &self.hold)
            .finish_non_exhaustive()
    }
}

/// Why a locked [`Value`](crate::Value) or [`Array`](crate::Array) access
/// did not simply succeed.
///
/// The lock is not recursive: a thread that holds it already (through a
/// guard of this object, a guard of another object sharing the lock, or the
/// [`Lock`](crate::Lock) itself) gets [`AccessError::AlreadyHeld`] instead
/// of a deadlock or a second `&mut` to the same bytes. On
/// [`AccessError::OwnerDied`] the access was made and `G` is its guard,
/// still holding the lock.
///
/// # Examples
///
/// ```
/// use shmsync::{AccessError, Value};
///
/// let v = Value::new(1u32)?;
/// let guard = v.get_lock()?;
/// assert!(matches!(v.get(), Err(AccessError::AlreadyHeld)));
/// drop(guard);
/// assert_eq!(v.get()?, 1);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub enum AccessError<G> {
    /// The calling thread holds the lock already; use the guard it has.
    AlreadyHeld,
    /// `borrow_under` was given a guard, but the calling thread does not
    /// hold this object's lock (a guard of another lock?).
    NotOwner,
    /// Another thread still uses the data through a guard although the
    /// lock was released under that guard (`Lock::release` while it was
    /// alive; only an object made `with_lock` can see this). Touching the
    /// data now would race with it, so nothing was done; the lock is not
    /// held. Try again once that guard is dropped.
    Borrowed {
        /// The kernel thread id of the guard's thread.
        holder: u32,
    },
    /// The access was made, but a previous holder died holding the lock:
    /// the data may be half-updated. The error carries the guard, which
    /// holds the lock; see [`OwnerDied`].
    OwnerDied(OwnerDied<G>),
}

impl<G> From<Denied> for AccessError<G> {
    fn from(denied: Denied) -> AccessError<G> {
        match denied {
            Denied::AlreadyHeld => AccessError::AlreadyHeld,
            Denied::NotOwner => AccessError::NotOwner,
            Denied::Borrowed { holder } => AccessError::Borrowed { holder },
        }
    }
}

impl<G> fmt::Debug for AccessError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::AlreadyHeld => f.write_str("AlreadyHeld"),
            AccessError::NotOwner => f.write_str("NotOwner"),
            AccessError::Borrowed { holder } => {
                f.debug_struct("Borrowed").field("holder", holder).finish()
            }
            AccessError::OwnerDied(died) => f.debug_tuple("OwnerDied").field(died).finish(),
        }
    }
}

impl<G> fmt::Display for AccessError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccessError::AlreadyHeld => crate::Error::AlreadyHeld.fmt(f),
            AccessError::NotOwner => f.write_str(
                "the calling thread does not hold this object's lock: pass a guard of the lock it was made with",
            ),
            AccessError::Borrowed { holder } => crate::Error::Borrowed { holder: *holder }.fmt(f),
            AccessError::OwnerDied(died) => died.fmt(f),
        }
    }
}

impl<G> std::error::Error for AccessError<G> {}

impl<G> From<AccessError<G>> for crate::Error {
    fn from(e: AccessError<G>) -> crate::Error {
        match e {
            AccessError::AlreadyHeld => crate::Error::AlreadyHeld,
            AccessError::NotOwner => crate::Error::NotOwner,
            AccessError::Borrowed { holder } => crate::Error::Borrowed { holder },
            AccessError::OwnerDied(_) => crate::Error::OwnerDied,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_of_a_thread_that_is_gone_is_taken_over() {
        let claim = Claim::new();
        std::thread::scope(|s| {
            s.spawn(|| claim.take().unwrap());
        });
        // The scoped thread has been joined; the kernel forgets it a moment
        // later (until then, and if its id were reused, it looks alive).
        let start = std::time::Instant::now();
        while let Err(Denied::Borrowed { .. }) = claim.take() {
            assert!(
                start.elapsed().as_secs() < 10,
                "a joined thread still looks alive"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(claim.0.load(Ordering::Relaxed), me());
        assert_eq!(claim.take(), Err(Denied::AlreadyHeld));
        claim.give_back();
        assert_eq!(claim.take(), Ok(()));
    }

    #[test]
    fn a_garbage_claim_naming_no_possible_thread_is_taken_over() {
        let claim = Claim(AtomicU64::new(u64::MAX));
        assert_eq!(claim.take(), Ok(()));
    }

    #[test]
    fn a_claim_of_a_live_thread_is_refused() {
        let claim = Claim::new();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::scope(|s| {
            let claim = &claim;
            s.spawn(move || {
                claim.take().unwrap();
                let _ = rx.recv();
            });
            while claim.0.load(Ordering::Relaxed) == FREE {
                std::thread::yield_now();
            }
            assert!(matches!(claim.take(), Err(Denied::Borrowed { .. })));
            tx.send(()).unwrap();
        });
    }
}
