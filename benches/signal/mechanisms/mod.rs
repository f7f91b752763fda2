//! The ways of signalling another process that `pingpong` compares, each
//! behind [`PingPong`]: shmsync's event and condition, the kernel's pipes
//! and eventfds, and a bare spin.
//!
//! Every wait is bounded: shmsync waits take the deadline they are given,
//! spins look at the [`Alarm`](shmsync_testkit::Alarm), blocking reads are
//! cut short by it.

mod kernel;
mod primitives;
mod spin;

pub use kernel::{EventFds, Pipes};
pub use primitives::{Events, Turns};
pub use spin::Spin;

use shmsync::Deadline;
use std::time::Duration;

/// One way of sending a signal to the other process and waiting for its
/// answer.
pub trait PingPong {
    /// Puts the shared state back to its start; nobody else runs.
    fn reset(&self) {}
    /// The parent's side of round trip `round`: ping, then wait for pong.
    fn parent_round(&self, round: u64, deadline: Deadline);
    /// The child's side of round trip `round`: wait for ping, then pong.
    fn child_round(&self, round: u64, deadline: Deadline);
    /// Checks the shared state after `iters` round trips; nobody else runs.
    fn check(&self, _iters: u64) {}
}

/// `P` with a child that sleeps for `delay` before each answer, so that
/// every wait of the parent outlasts the spin: the parent's CPU time then
/// shows what a wait costs when the spin runs out.
pub struct SlowAnswer<P> {
    /// The mechanism that carries the signals.
    pub inner: P,
    /// How long the child sleeps before each answer.
    pub delay: Duration,
}

impl<P: PingPong> PingPong for SlowAnswer<P> {
    fn reset(&self) {
        self.inner.reset();
    }

    fn parent_round(&self, round: u64, deadline: Deadline) {
        self.inner.parent_round(round, deadline);
    }

    fn child_round(&self, round: u64, deadline: Deadline) {
        // The parent's ping is out by the time the child wakes (it pings
        // as soon as it has the previous pong), so only the parent waits.
        std::thread::sleep(self.delay);
        self.inner.child_round(round, deadline);
    }

    fn check(&self, iters: u64) {
        self.inner.check(iters);
    }
}
