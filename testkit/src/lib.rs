//! What shmsync's integration tests and benches share, in one place.
//!
//! A dev-only crate (`publish = false`): shmsync lists it as a
//! dev-dependency, and it depends on shmsync for [`Process`] and
//! [`Shared`]. Cargo allows that cycle for dev-dependencies; shmsync's
//! library itself never sees this crate.
//!
//! Every wait here is bounded, so that a deadlock fails a test or a bench
//! instead of stalling CI:
//!
//! - for tests: [`PATIENCE`], [`wait_until`], [`join_within`] and
//!   [`join_ok`], [`Rng`] (seeded random choices that replay), [`KillOnDrop`] (a child is killed and reaped when the test
//!   ends or panics), and [`Watchdog`] (aborts the whole test binary when a
//!   test outlives its limit: a thread stuck in a deadlock cannot be
//!   unwound);
//! - for benches: the real alternatives shmsync is measured against
//!   ([`PthreadMutex`], [`PosixSem`]) behind one trait ([`BenchLock`]),
//!   [`Guarded`] and [`Padded`] to lay them out in shared memory, the
//!   two-process runner [`Pair`] (CPU pinning, preemption counting; a child
//!   that hangs is killed and the bench fails), [`process_cpu_time`], and
//!   [`Alarm`], which cuts short blocking system calls that have no timeout
//!   of their own, so that the bench fails and its child is killed.
//!
//! The test helpers live at the top of the crate (`child`, `wait`,
//! `watchdog`) and build wherever shmsync does; the bench helpers live
//! under `bench/`, one file per job, and are built on Linux only, as the
//! benches are (they use CPU affinity, `RUSAGE_THREAD`,
//! `PR_SET_PDEATHSIG`, robust pthread mutexes, unnamed POSIX semaphores).
//! Everything is re-exported here, at the root.
//!
//! # Examples
//!
//! ```
//! use shmsync::Process;
//! use shmsync_testkit::{join_ok, KillOnDrop, Watchdog, PATIENCE};
//!
//! let _w = Watchdog::new("example", PATIENCE);
//! let child = KillOnDrop(Process::spawn(|| {}).expect("fork"));
//! join_ok(&child);
//! ```
//!
//! [`Process`]: shmsync::Process
//! [`Shared`]: shmsync::Shared

mod child;
mod rng;
mod wait;
mod watchdog;

#[cfg(target_os = "linux")]
mod bench;

pub use child::{die_with_parent, is_stopped, join_ok, join_within, stop, KillOnDrop};
pub use rng::Rng;
pub use wait::{wait_until, PATIENCE};
pub use watchdog::Watchdog;

#[cfg(target_os = "linux")]
pub use bench::{
    fail, fail_errno, process_cpu_time, Alarm, BenchLock, Guarded, MutexKind, Padded, Pair,
    PosixSem, Preemptions, PthreadMutex,
};
