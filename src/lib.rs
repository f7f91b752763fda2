//! Python `multiprocessing`'s synchronization and IPC primitives, in shared
//! memory, for Rust processes.
//!
//! The layers, bottom up (each only uses those below it):
//!
//! - `sys`: sleeping on and waking a shared 32-bit word (futex on Linux,
//!   process-shared pthread objects with the `pthread` feature, loom under
//!   `cfg(loom)`), monotonic [`Deadline`]s, thread identity.
//! - [`raw`]: the primitives as plain `#[repr(C)]` state, `no_std`.
#![cfg_attr(not(any(feature = "std", loom)), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

mod shim;
mod sys;

pub mod raw;

pub use sys::{Deadline, BACKEND};
#[cfg(not(loom))]
pub use sys::{set_spin_duration, spin_duration, MAX_SPIN};

/// `lock_api::Mutex` over a [`raw::RawLock`]: data guarded across processes
/// once placed in shared memory (e.g. `Shared<Mutex<u64>>`).
pub type Mutex<T> = lock_api::Mutex<raw::RawLock, T>;
/// The guard of a [`Mutex`].
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, raw::RawLock, T>;

