//! Counting how often other tasks took the CPU from a timed run.

use std::mem::MaybeUninit;
use std::time::Duration;

/// Involuntary context switches per second (parent and child together)
/// that a quiet machine still causes: kernel threads and timers preempt
/// briefly now and then (50-80/s measured on the 2-vCPU VM). A CPU-bound
/// neighbour time-slicing with one side causes several hundred per second.
const QUIET_SWITCHES_PER_SEC: f64 = 150.0;

/// The calling thread's involuntary context switches so far: how often the
/// scheduler took its CPU away while it could have run on. Zero if they
/// cannot be read.
pub(crate) fn involuntary_switches() -> u64 {
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` is writable memory for one rusage; RUSAGE_THREAD
    // asks about the calling thread only.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) };
    if rc != 0 {
        return 0;
    }
    // SAFETY: getrusage succeeded, so it filled the struct (and zeroed
    // bytes are a valid rusage anyway).
    let usage = unsafe { usage.assume_init() };
    u64::try_from(usage.ru_nivcsw).unwrap_or(0)
}

/// How much other tasks disturbed the timed runs of a [`Pair`].
///
/// # Examples
///
/// ```
/// use shmsync_testkit::Pair;
///
/// let mut pair = Pair::new();
/// pair.run(|| {}, || {});
/// let counted = pair.take_preemptions();
/// assert_eq!(counted.runs, 1);
/// counted.warn("example"); // prints only if the runs were disturbed
/// ```
///
/// [`Pair`]: crate::Pair
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Preemptions {
    /// Timed runs.
    pub runs: u32,
    /// Runs with more involuntary context switches than a quiet machine
    /// causes (150 a second, and two more per run).
    pub disturbed: u32,
    /// Involuntary context switches of both sides over all runs.
    pub switches: u64,
    /// Wall time of all runs.
    pub timed: Duration,
}

impl Preemptions {
    /// Counts one run of `elapsed` with `switches` involuntary context
    /// switches.
    pub(crate) fn count(&mut self, elapsed: Duration, switches: u64) {
        self.runs += 1;
        self.switches += switches;
        self.timed += elapsed;
        if switches as f64 > 2.0 + QUIET_SWITCHES_PER_SEC * elapsed.as_secs_f64() {
            self.disturbed += 1;
        }
    }

    /// Warns on stderr that `name`'s figures are unreliable, if other tasks
    /// took the CPU from the bench during more than a tenth of the runs (a
    /// stray kernel thread now and then does not count).
    pub fn warn(&self, name: &str) {
        if self.disturbed * 10 > self.runs {
            eprintln!(
                "note: {name}: {} of {} runs were time-sliced with other tasks \
                 ({:.0} involuntary context switches/s; a quiet machine: < {}); \
                 these figures mix contention with time-slicing, rerun when idle",
                self.disturbed,
                self.runs,
                self.switches as f64 / self.timed.as_secs_f64().max(1e-9),
                QUIET_SWITCHES_PER_SEC
            );
        }
    }
}
