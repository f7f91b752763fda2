//! The handles users touch: Python's names and semantics, Rust's idioms.
//! Each owns (a share of) the mapping its raw primitive lives in.

mod barrier;
mod condition;
mod event;
mod lock;
mod outcome;
mod semaphore;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionError, ConditionGuard};
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use outcome::{OwnerDied, TryLockError};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};
