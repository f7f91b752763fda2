//! `Barrier`: Python's `multiprocessing.Barrier` as a handle to a
//! [`RawBarrier`] in shared memory.

use super::error::{mismatch, opened_as, Error};
use crate::raw::{BarrierBusy, BrokenBarrier, RawBarrier, MAX_PARTIES};
use crate::shm::{Segment, Shared};
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
/// [`reset`](Barrier::reset). Waiters find a death by asking the kernel,
/// within about 100 ms: if the last party arrives before then, the
/// generation trips with the dead party counted as arrived (as Python's
/// always does), and the death breaks the next generation instead. So does
/// a party that dies after its generation tripped but before its `wait`
/// returned (if a party waits in the next generation before it fills up),
/// which could otherwise wait for it for ever; one that dies after its
/// `wait` returned is outside the barrier, as in Python.
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

/// Refuses a number of parties no barrier can have.
fn check_parties(parties: u32) -> Result<(), Error> {
    if parties == 0 || parties > MAX_PARTIES {
        return Err(Error::InvalidArgument(
            "a barrier needs between 1 and 64 parties",
        ));
    }
    Ok(())
}

impl Barrier {
    /// How long [`reset`](Barrier::reset) waits for the internal lock when
    /// the handle has no time-out of its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Barrier;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Barrier::RESET_TIMEOUT, Duration::from_secs(10));
    /// let barrier = Barrier::new(2)?; // no time-out: reset waits up to RESET_TIMEOUT
    /// barrier.abort();
    /// barrier.reset()?; // nobody holds the internal lock: at once
    /// assert!(!barrier.broken());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub const RESET_TIMEOUT: Duration = Duration::from_secs(10);

    /// A barrier for `parties` parties, in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] unless `1 <= parties <= 64`;
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Barrier, Error, MAX_PARTIES};
    ///
    /// assert_eq!(Barrier::new(3)?.parties(), 3);
    /// assert!(matches!(Barrier::new(0), Err(Error::InvalidArgument(_))));
    /// assert!(Barrier::new(MAX_PARTIES + 1).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(parties: u32) -> Result<Barrier, Error> {
        check_parties(parties)?;
        Ok(Barrier::from_shared(Shared::new(RawBarrier::new(parties))?))
    }

    /// The barrier called `name` in `segment`, made for `parties` if no
    /// process has made it yet: how unrelated processes share a barrier.
    /// As with [`from_shared`](Barrier::from_shared), the handle has no
    /// action and no time-out until it is given them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] as for [`Barrier::new`];
    /// [`Error::Segment`] as for [`Segment::get_or_init`], with
    /// [`SegmentError::TypeMismatch`] if the name holds a barrier for
    /// another number of parties, or another type.
    ///
    /// [`SegmentError::TypeMismatch`]: crate::SegmentError::TypeMismatch
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Barrier, Segment};
    /// use std::time::Duration;
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let start = Barrier::open_in(&segment, "start", 1)?.with_timeout(Duration::from_secs(5));
    /// assert_eq!(start.wait(None)?, 0); // one party: it trips at once
    /// assert!(Barrier::open_in(&segment, "start", 2).is_err(), "made for 1");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, parties: u32) -> Result<Barrier, Error> {
        check_parties(parties)?;
        let raw = segment
            .get_or_init(name, || RawBarrier::new(parties))
            .map_err(opened_as("shmsync::Barrier"))?;
        if raw.parties() != parties {
            return Err(mismatch(name, "shmsync::Barrier"));
        }
        Ok(Barrier::from_shared(raw))
    }

    /// Wraps a barrier that already lives in shared memory, with no action
    /// and no time-out (add them with [`with_action`](Barrier::with_action)
    /// and [`with_timeout`](Barrier::with_timeout)).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::{Barrier, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let barrier = Barrier::from_shared(segment.get_or_init("start", || RawBarrier::new(1))?);
    /// assert_eq!(barrier.wait(None)?, 0); // one party: it trips at once
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_shared(raw: Shared<RawBarrier>) -> Barrier {
        Barrier {
            raw,
            action: None,
            timeout: None,
        }
    }

    /// Sets the action run once per trip by the last party to arrive. If it
    /// panics, the barrier breaks and the panic continues in that party.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Barrier, Process, Shared};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::time::Duration;
    ///
    /// let trips = Shared::new(AtomicU32::new(0))?;
    /// let barrier = Barrier::new(2)?.with_timeout(Duration::from_secs(5)).with_action({
    ///     let trips = trips.clone();
    ///     move || {
    ///         trips.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// });
    /// let child = Process::spawn(|| {
    ///     barrier.wait(None).unwrap();
    /// })?;
    /// barrier.wait(None)?;
    /// assert_eq!(child.join()?, 0);
    /// assert_eq!(trips.load(Ordering::Relaxed), 1, "once per trip, in one of the two");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn with_action(mut self, action: impl Fn() + Send + Sync + 'static) -> Barrier {
        self.action = Some(Arc::new(action));
        self
    }

    /// Sets the time-out [`wait`](Barrier::wait) uses when given none, and
    /// [`reset`](Barrier::reset) uses for the internal lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Barrier, BrokenBarrier};
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(2)?.with_timeout(Duration::from_millis(5));
    /// assert_eq!(barrier.wait(None), Err(BrokenBarrier), "the other party never came");
    /// assert!(barrier.broken());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Barrier;
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(3)?;
    /// let results = std::thread::scope(|s| {
    ///     let wait = || barrier.wait(Some(Duration::from_secs(5)));
    ///     [s.spawn(wait), s.spawn(wait), s.spawn(wait)].map(|t| t.join().expect("no panic"))
    /// });
    /// let mut indices = results.into_iter().collect::<Result<Vec<u32>, _>>()?;
    /// indices.sort();
    /// assert_eq!(indices, [0, 1, 2]);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Barrier, Process};
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(2)?;
    /// let child = Process::spawn(|| {
    ///     // Released by the abort (or refused, if it came first):
    ///     assert!(barrier.wait(Some(Duration::from_secs(5))).is_err());
    /// })?;
    /// barrier.abort();
    /// assert!(barrier.broken());
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = shmsync::Barrier::new(2)?;
    /// assert!(!barrier.broken());
    /// assert!(barrier.wait(Some(Duration::from_millis(1))).is_err(), "alone: timed out");
    /// assert!(barrier.broken());
    /// barrier.reset()?;
    /// assert!(!barrier.broken());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn broken(&self) -> bool {
        self.raw.is_broken()
    }

    /// Parties waiting now (a snapshot; 0 when broken).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Barrier, Process};
    /// use std::time::{Duration, Instant};
    ///
    /// let barrier = Barrier::new(2)?.with_timeout(Duration::from_secs(5));
    /// let child = Process::spawn(|| {
    ///     barrier.wait(None).unwrap();
    /// })?;
    /// let start = Instant::now();
    /// while barrier.n_waiting() == 0 && start.elapsed() < Duration::from_secs(5) {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert_eq!(barrier.n_waiting(), 1, "the child");
    /// barrier.wait(None)?;
    /// assert_eq!(barrier.n_waiting(), 0, "tripped: a new generation");
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        self.raw.n_waiting()
    }

    /// The number of parties.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = shmsync::Barrier::new(4)?;
    /// assert_eq!(barrier.parties(), 4);
    /// barrier.abort();
    /// assert_eq!(barrier.parties(), 4, "broken or not");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn parties(&self) -> u32 {
        self.raw.parties()
    }

    /// The raw barrier in shared memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Barrier;
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(2)?.with_timeout(Duration::from_secs(5));
    /// assert_eq!(barrier.raw().parties(), 2);
    /// // Another handle to the same barrier, without this one's time-out:
    /// let plain = Barrier::from_shared(barrier.raw().clone());
    /// plain.abort();
    /// assert!(barrier.broken());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
