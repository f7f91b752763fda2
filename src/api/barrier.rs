//! `Barrier`: Python's `multiprocessing.Barrier` as a handle to a
//! [`RawBarrier`] in shared memory.

use super::error::Error;
use crate::raw::{BarrierBusy, BrokenBarrier, RawBarrier, MAX_PARTIES};
use crate::shm::Shared;
use crate::Deadline;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

type Action = Arc<dyn Fn() + Send + Sync>;

/// A barrier for a fixed number of parties in any processes: Python's
/// `multiprocessing.Barrier(parties, action, timeout)`.
///
/// Each [`wait`](Barrier::wait) blocks until `parties` calls have arrived,
/// then all return, each with a distinct arrival index `0..parties`. The
/// action, if any, runs exactly once per trip, in the last party to arrive,
/// before any party is released. A time-out, [`abort`](Barrier::abort), a
/// panicking action, or a party that dies while waiting breaks the barrier:
/// every current and later `wait` fails with [`BrokenBarrier`] until
/// [`reset`](Barrier::reset).
///
/// The action and the default time-out belong to this handle (and to its
/// clones, and to the copies forked children get), not to the shared
/// barrier: the action runs in whichever process arrives last, with that
/// process's handle.
///
/// No call waits without bound for a stuck peer: a party stopped (SIGSTOP,
/// a debugger) while it holds the barrier's small internal lock makes
/// [`wait`](Barrier::wait) break the barrier at its time-out, and
/// [`reset`](Barrier::reset) give up with [`BarrierBusy`] after
/// [`RESET_TIMEOUT`](Barrier::RESET_TIMEOUT) (or the handle's time-out).
///
/// # Examples
///
/// ```
/// use shmsync::{Barrier, Process};
/// use std::time::Duration;
///
/// let barrier = Barrier::new(2)?.with_timeout(Duration::from_secs(10));
/// let child = Process::spawn(|| {
///     barrier.wait(None).unwrap();
/// })?;
/// let index = barrier.wait(None)?;
/// assert!(index < 2);
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    raw: Shared<RawBarrier>,
    action: Option<Action>,
    timeout: Option<Duration>,
}

impl Barrier {
    /// How long [`reset`](Barrier::reset) waits for the internal lock when
    /// the handle has no time-out of its own.
    pub const RESET_TIMEOUT: Duration = Duration::from_secs(10);

    /// A barrier for `parties` parties, in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `1 <= parties <= 64`;
    /// [`Error::Segment`] if the mapping fails.
    pub fn new(parties: u32) -> Result<Barrier, Error> {
        if parties == 0 || parties > MAX_PARTIES {
            return Err(Error::InvalidArgument(
                "a barrier needs between 1 and 64 parties",
            ));
        }
        Ok(Barrier::from_shared(Shared::new(RawBarrier::new(parties))?))
    }

    /// Wraps a barrier that already lives in shared memory.
    pub fn from_shared(raw: Shared<RawBarrier>) -> Barrier {
        Barrier {
            raw,
            action: None,
            timeout: None,
        }
    }

    /// Sets the action run once per trip by the last party to arrive. If it
    /// panics, the barrier breaks and the panic continues in that party.
    pub fn with_action(mut self, action: impl Fn() + Send + Sync + 'static) -> Barrier {
        self.action = Some(Arc::new(action));
        self
    }

    /// Sets the time-out [`wait`](Barrier::wait) uses when given none, and
    /// [`reset`](Barrier::reset) uses for the internal lock.
    pub fn with_timeout(mut self, timeout: Duration) -> Barrier {
        self.timeout = Some(timeout);
        self
    }

    /// Python's `wait(timeout=None)`: waits for all parties and returns
    /// this party's arrival index. `timeout` (or the barrier's default)
    /// running out breaks the barrier.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the barrier is or becomes broken.
    ///
    /// # Panics
    ///
    /// If this party runs the action and the action panics (the barrier is
    /// broken first, so the others are released with an error).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<u32, BrokenBarrier> {
        let deadline = timeout
            .or(self.timeout)
            .map_or(Deadline::NEVER, Deadline::after);
        let arrival = self.raw.arrive(deadline)?;
        if !arrival.is_last() {
            self.raw.wait(arrival, deadline)?;
            return Ok(arrival.index);
        }
        if let Some(action) = &self.action {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| action())) {
                self.raw.break_arrival(arrival);
                resume_unwind(panic);
            }
        }
        self.raw.trip(arrival, deadline)?;
        Ok(arrival.index)
    }

    /// Breaks the barrier: current and later waits fail until `reset`.
    /// Never waits.
    pub fn abort(&self) {
        self.raw.abort();
    }

    /// Returns the barrier to its empty state; current waiters fail with
    /// [`BrokenBarrier`].
    ///
    /// # Errors
    ///
    /// [`BarrierBusy`] if another thread holds the barrier's internal lock
    /// for longer than the handle's time-out (or
    /// [`RESET_TIMEOUT`](Barrier::RESET_TIMEOUT)); the barrier is then left
    /// as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = shmsync::Barrier::new(2)?;
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// barrier.reset()?;
    /// assert!(!barrier.broken());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn reset(&self) -> Result<(), BarrierBusy> {
        let patience = self.timeout.unwrap_or(Barrier::RESET_TIMEOUT);
        self.raw.reset(Deadline::after(patience))
    }

    /// Whether the barrier is broken.
    pub fn broken(&self) -> bool {
        self.raw.is_broken()
    }

    /// Parties waiting now (a snapshot; 0 when broken).
    pub fn n_waiting(&self) -> u32 {
        self.raw.n_waiting()
    }

    /// The number of parties.
    pub fn parties(&self) -> u32 {
        self.raw.parties()
    }

    /// The raw barrier in shared memory.
    pub fn raw(&self) -> &Shared<RawBarrier> {
        &self.raw
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties())
            .field("broken", &self.broken())
            .field("has_action", &self.action.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}
