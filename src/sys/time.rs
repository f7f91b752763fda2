//! Monotonic deadlines.
//!
//! Every timed wait in shmsync is turned into an absolute `CLOCK_MONOTONIC`
//! instant once, at the start of the call. A wait that a signal interrupts
//! (`EINTR`) retries against the same instant, so retries never make a
//! timeout longer, and the futex and pthread backends hand the same absolute
//! time to the kernel.

use core::time::Duration;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// An absolute point on the `CLOCK_MONOTONIC` clock: the moment a timed
/// operation gives up.
///
/// `CLOCK_MONOTONIC` is one clock for the whole machine, so a deadline means
/// the same instant in every process. It does not jump when the wall clock is
/// set, and it does not advance while the machine is suspended.
///
/// # Examples
///
/// ```
/// use core::time::Duration;
/// use shmsync::Deadline;
///
/// let deadline = Deadline::after(Duration::from_millis(20));
/// assert!(!deadline.has_passed());
/// assert!(deadline.remaining() <= Duration::from_millis(20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Deadline {
    /// Nanoseconds of `CLOCK_MONOTONIC`; `u64::MAX` stands for "never".
    nanos: u64,
}

impl Deadline {
    /// A deadline that never passes: what the blocking forms wait with.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Deadline;
    ///
    /// assert!(!Deadline::NEVER.has_passed());
    /// assert!(Deadline::NEVER.is_never());
    /// assert!(Deadline::now() < Deadline::NEVER);
    /// ```
    pub const NEVER: Deadline = Deadline { nanos: u64::MAX };

    /// The current instant of `CLOCK_MONOTONIC`: a deadline that has
    /// passed already.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Deadline;
    ///
    /// let start = Deadline::now();
    /// assert!(start.has_passed());
    /// assert!(Deadline::now() >= start, "the clock never goes back");
    /// ```
    #[inline]
    pub fn now() -> Deadline {
        Deadline {
            nanos: monotonic_nanos(),
        }
    }

    /// The instant `timeout` from now; a timeout too large to represent
    /// gives [`Deadline::NEVER`].
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use shmsync::Deadline;
    ///
    /// assert!(!Deadline::after(Duration::from_secs(60)).has_passed());
    /// assert!(Deadline::after(Duration::ZERO).has_passed());
    /// assert_eq!(Deadline::after(Duration::MAX), Deadline::NEVER);
    /// ```
    #[inline]
    pub fn after(timeout: Duration) -> Deadline {
        Deadline::now().saturating_add(timeout)
    }

    /// This instant moved `d` later, saturating at [`Deadline::NEVER`].
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use shmsync::Deadline;
    ///
    /// let start = Deadline::now();
    /// let later = start.saturating_add(Duration::from_millis(5));
    /// assert_eq!(later.as_nanos() - start.as_nanos(), 5_000_000);
    /// assert_eq!(start.saturating_add(Duration::MAX), Deadline::NEVER);
    /// ```
    #[inline]
    pub fn saturating_add(self, d: Duration) -> Deadline {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Deadline {
            nanos: self.nanos.saturating_add(d),
        }
    }

    /// Whether this instant is no longer in the future; never true of
    /// [`Deadline::NEVER`].
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use shmsync::Deadline;
    ///
    /// let deadline = Deadline::after(Duration::from_millis(2));
    /// assert!(!deadline.has_passed());
    /// std::thread::sleep(Duration::from_millis(3));
    /// assert!(deadline.has_passed());
    /// ```
    #[inline]
    pub fn has_passed(self) -> bool {
        !self.is_never() && Deadline::now() >= self
    }

    /// How long until this instant; zero once it has passed. For
    /// [`Deadline::NEVER`], the time left until the clock's range ends
    /// (centuries), not `Duration::MAX`: test [`Deadline::is_never`] first
    /// where that matters.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use shmsync::Deadline;
    ///
    /// let left = Deadline::after(Duration::from_secs(10)).remaining();
    /// assert!(left > Duration::from_secs(9) && left <= Duration::from_secs(10));
    /// assert_eq!(Deadline::now().remaining(), Duration::ZERO);
    /// assert!(Deadline::NEVER.remaining() > Duration::from_secs(100 * 365 * 86_400));
    /// ```
    pub fn remaining(self) -> Duration {
        Duration::from_nanos(self.nanos.saturating_sub(Deadline::now().nanos))
    }

    /// Whether this is [`Deadline::NEVER`].
    ///
    /// # Examples
    ///
    /// ```
    /// use core::time::Duration;
    /// use shmsync::Deadline;
    ///
    /// assert!(Deadline::NEVER.is_never());
    /// assert!(Deadline::after(Duration::MAX).is_never());
    /// assert!(!Deadline::after(Duration::from_secs(1)).is_never());
    /// ```
    #[inline]
    pub fn is_never(self) -> bool {
        self == Deadline::NEVER
    }

    /// Nanoseconds of `CLOCK_MONOTONIC` at this instant (`u64::MAX` for
    /// [`Deadline::NEVER`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Deadline;
    ///
    /// assert!(Deadline::now().as_nanos() <= Deadline::now().as_nanos());
    /// assert_eq!(Deadline::NEVER.as_nanos(), u64::MAX);
    /// ```
    pub fn as_nanos(self) -> u64 {
        self.nanos
    }

    /// Seconds and nanoseconds of the instant, for the kernel's `timespec`.
    pub(crate) fn as_secs_nanos(self) -> (i64, i64) {
        let secs = (self.nanos / NANOS_PER_SEC) as i64;
        let nanos = (self.nanos % NANOS_PER_SEC) as i64;
        (secs, nanos)
    }
}

/// Nanoseconds of a monotonic clock that is cheap to read and coarse (on
/// Linux `CLOCK_MONOTONIC_COARSE`: about 6 ns a read from the vDSO, against
/// 35 ns for `CLOCK_MONOTONIC` on the 2-vCPU guest, and ticking every few
/// milliseconds): for schedules of rare checks on fast paths, never for
/// deadlines. Elsewhere, the monotonic clock itself.
pub(crate) fn coarse_nanos() -> u64 {
    #[cfg(target_os = "linux")]
    let clock = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(target_os = "linux"))]
    let clock = libc::CLOCK_MONOTONIC;
    read_clock(clock)
}

/// Whether a caller that will not wait may ask the kernel whether a lock's
/// holder still exists: once per tick of the coarse clock (1-4 ms) on each
/// thread (in the whole process without `std`, which has no thread-local
/// storage), so that a thread polling a lock cannot turn every failed try
/// into system calls, nor use up another thread's asks.
pub(crate) fn may_ask_kernel() -> bool {
    let now = coarse_nanos();
    let due = |next: u64| now >= next;
    #[cfg(feature = "std")]
    {
        std::thread_local! {
            /// `coarse_nanos` from which this thread may ask again.
            static NEXT: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
        }
        NEXT.with(|next| {
            let ask = due(next.get());
            if ask {
                next.set(now.saturating_add(ASK_EVERY));
            }
            ask
        })
    }
    #[cfg(not(feature = "std"))]
    {
        use core::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        // Relaxed: a rate limit; threads racing here at worst both ask.
        let ask = due(NEXT.load(Ordering::Relaxed));
        if ask {
            NEXT.store(now.saturating_add(ASK_EVERY), Ordering::Relaxed);
        }
        ask
    }
}

/// The least time between two asks of [`may_ask_kernel`].
const ASK_EVERY: u64 = 1_000_000;

fn monotonic_nanos() -> u64 {
    read_clock(libc::CLOCK_MONOTONIC)
}

/// Reads `clock` through the C library, which finds the vDSO the way
/// debuggers and valgrind expect: rustix's own vDSO lookup crashes under
/// valgrind (rustix issue 1559), and a crate others embed must not stop
/// them from running their tools.
fn read_clock(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and `clock` one of the
    // monotonic clocks every target of this crate has.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64) * NANOS_PER_SEC + ts.tv_nsec as u64
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::{coarse_nanos, monotonic_nanos, Deadline};
    use core::time::Duration;

    #[test]
    fn the_coarse_clock_trails_the_monotonic_one_by_at_most_a_tick() {
        // The coarse clock is the monotonic clock as of the last tick (a
        // few milliseconds at most); both only move forward.
        let (mut last_coarse, mut last_fine) = (0, 0);
        for _ in 0..10_000 {
            let coarse = coarse_nanos();
            let fine = monotonic_nanos();
            assert!(coarse >= last_coarse && fine >= last_fine);
            assert!(coarse <= fine, "coarse {coarse} ahead of monotonic {fine}");
            assert!(
                fine - coarse < 50_000_000,
                "coarse clock {} ms behind",
                (fine - coarse) / 1_000_000
            );
            (last_coarse, last_fine) = (coarse, fine);
        }
    }

    #[test]
    fn deadlines_read_the_monotonic_clock() {
        let before = monotonic_nanos();
        let soon = Deadline::after(Duration::from_millis(30));
        let after = monotonic_nanos();
        assert!(soon.as_nanos() >= before + 30_000_000);
        assert!(soon.as_nanos() <= after + 30_000_000);
        assert!(!soon.has_passed());
        std::thread::sleep(Duration::from_millis(35));
        assert!(soon.has_passed());
    }
}
