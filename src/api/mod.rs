//! The handles users touch: Python's names and semantics, Rust's idioms.
//! Each owns (a share of) the mapping its raw primitive lives in.

mod lock;
mod outcome;

pub use lock::{Lock, LockGuard, RLock, RLockGuard};
pub use outcome::{OwnerDied, TryLockError};
