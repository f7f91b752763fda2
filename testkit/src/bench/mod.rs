//! What the benches share: the peers shmsync is measured against, their
//! layout in shared memory, the two-process runner and its clocks.
//!
//! Linux only, as the benches are: CPU affinity, `RUSAGE_THREAD`,
//! `PR_SET_PDEATHSIG`, robust pthread mutexes and unnamed POSIX semaphores
//! are all used here.

mod alarm;
mod cpu;
mod fail;
mod lock;
mod padded;
mod pair;
mod posix_sem;
mod preempt;
mod pthread;

pub use alarm::Alarm;
pub use cpu::process_cpu_time;
pub use fail::{fail, fail_errno};
pub use lock::{BenchLock, Guarded};
pub use padded::Padded;
pub use pair::Pair;
pub use posix_sem::PosixSem;
pub use preempt::Preemptions;
pub use pthread::{MutexKind, PthreadMutex};
