//! shmsync's own signals: two `RawEvent`s, and a `RawCondition` with its
//! `RawLock` and a turn counter.

use super::PingPong;
use shmsync::raw::{RawCondition, RawEvent, RawLock};
use shmsync::{Deadline, Shared, ShmSafe};
use shmsync_testkit::Padded;
use std::sync::atomic::{AtomicU64, Ordering};

/// Two events, on cache lines of their own: `[ping, pong]`.
pub struct Events(Shared<[Padded<RawEvent>; 2]>);

impl Events {
    pub fn new() -> Events {
        let events = [Padded(RawEvent::new()), Padded(RawEvent::new())];
        Events(Shared::new(events).expect("mmap"))
    }

    fn ping(&self) -> &RawEvent {
        &self.0[0].0
    }

    fn pong(&self) -> &RawEvent {
        &self.0[1].0
    }
}

impl PingPong for Events {
    fn reset(&self) {
        self.ping().clear();
        self.pong().clear();
    }

    #[inline]
    fn parent_round(&self, _round: u64, deadline: Deadline) {
        self.ping().set();
        assert!(self.pong().wait_until(deadline), "event: no pong in time");
        self.pong().clear();
    }

    #[inline]
    fn child_round(&self, _round: u64, deadline: Deadline) {
        assert!(self.ping().wait_until(deadline), "event: no ping in time");
        self.ping().clear();
        self.pong().set();
    }

    fn check(&self, _iters: u64) {
        assert!(
            !self.ping().is_set() && !self.pong().is_set(),
            "event: a signal was left over"
        );
    }
}

/// A condition variable and the lock it waits with, and the data the lock
/// guards: whose turn it is (even: the parent's, odd: the child's).
#[repr(C)]
struct TurnState {
    /// The lock and the turn it guards, on one line (as in a
    /// `lock_api::Mutex<RawLock, u64>`).
    guarded: Padded<(RawLock, AtomicU64)>,
    cond: Padded<RawCondition>,
}

// SAFETY: a RawLock, a RawCondition (both made for shared memory) and an
// atomic, with padding: no pointers, any bytes valid, no Drop.
unsafe impl ShmSafe for TurnState {}

/// A turn counter passed back and forth under a `RawLock`, each side
/// waiting for its turn on the `RawCondition`: Python's way to hand over.
pub struct Turns(Shared<TurnState>);

impl Turns {
    pub fn new() -> Turns {
        Turns(
            Shared::new(TurnState {
                guarded: Padded((RawLock::new(), AtomicU64::new(0))),
                cond: Padded(RawCondition::new()),
            })
            .expect("mmap"),
        )
    }

    fn lock(&self) -> &RawLock {
        &self.0.guarded.0 .0
    }

    /// Read and written only under `lock`, which orders the accesses: all
    /// Relaxed.
    fn turn(&self) -> &AtomicU64 {
        &self.0.guarded.0 .1
    }

    fn cond(&self) -> &RawCondition {
        &self.0.cond.0
    }

    /// Takes the lock; a bench never kills a holder.
    #[inline]
    fn acquire(&self, deadline: Deadline) {
        let acquired = self.lock().try_lock_until(deadline);
        assert!(acquired.is_some(), "condition: lock not free in time");
    }

    /// Waits, with the lock held, until the turn is `turn`.
    #[inline]
    fn wait_for_turn(&self, turn: u64, deadline: Deadline) {
        while self.turn().load(Ordering::Relaxed) != turn {
            let waited = self
                .cond()
                .wait_until(self.lock(), deadline)
                .expect("the waiter holds the lock");
            if !waited.notified && deadline.has_passed() {
                let _ = self.lock().release();
                panic!("condition: turn {turn} did not come in time");
            }
        }
    }

    /// Moves the turn on to `turn`, notifies the other side and lets go of
    /// the lock.
    #[inline]
    fn pass_turn(&self, turn: u64) {
        self.turn().store(turn, Ordering::Relaxed);
        self.cond()
            .notify(self.lock(), 1)
            .expect("the notifier holds the lock");
        self.lock().release().expect("release of a held lock");
    }
}

impl PingPong for Turns {
    fn reset(&self) {
        self.turn().store(0, Ordering::Relaxed);
    }

    #[inline]
    fn parent_round(&self, round: u64, deadline: Deadline) {
        self.acquire(deadline);
        debug_assert_eq!(self.turn().load(Ordering::Relaxed), 2 * round);
        self.turn().store(2 * round + 1, Ordering::Relaxed);
        self.cond()
            .notify(self.lock(), 1)
            .expect("the notifier holds the lock");
        self.wait_for_turn(2 * round + 2, deadline);
        self.lock().release().expect("release of a held lock");
    }

    #[inline]
    fn child_round(&self, round: u64, deadline: Deadline) {
        self.acquire(deadline);
        self.wait_for_turn(2 * round + 1, deadline);
        self.pass_turn(2 * round + 2);
    }

    fn check(&self, iters: u64) {
        assert_eq!(
            self.turn().load(Ordering::Relaxed),
            2 * iters,
            "condition: turns were lost"
        );
        assert!(!self.lock().is_locked(), "condition: lock left held");
        assert_eq!(self.cond().waiting(), 0, "condition: a waiter left behind");
    }
}
