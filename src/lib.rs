//! Python `multiprocessing`'s synchronization and IPC primitives, in shared
//! memory, for Rust processes.
//!
//! The layers, bottom up (each only uses those below it):
//!
//! - `sys`: sleeping on and waking a shared 32-bit word (futex on Linux,
//!   process-shared POSIX semaphores with the `pthread` feature, loom under
//!   `cfg(loom)`), monotonic [`Deadline`]s, thread identity.
//! - [`raw`]: the primitives as plain `#[repr(C)]` state, `no_std`.
//! - `shm` (`std`): [`Shared`] puts one value in its own shared mapping,
//!   [`Segment`] a directory of named values in a named or memfd segment.
//! - the handles (`std`): [`Lock`], [`RLock`], …, each owning its mapping.
//! - [`Process`] (`std`): fork-based child processes.
#![cfg_attr(not(any(feature = "std", loom)), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![deny(missing_docs)]

// The README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod shim;
mod sys;

pub mod raw;

#[cfg(all(feature = "std", not(loom)))]
mod api;
#[cfg(all(feature = "std", not(loom)))]
mod error;
#[cfg(all(feature = "std", not(loom)))]
mod process;
#[cfg(all(feature = "std", not(loom)))]
mod shm;

#[cfg(all(feature = "std", not(loom)))]
pub use api::{
    Barrier, BoundedSemaphore, Condition, ConditionError, ConditionGuard, Event, Lock, LockGuard,
    OwnerDied, RLock, RLockGuard, Semaphore, SemaphoreGuard, TryLockError,
};
#[cfg(all(feature = "std", not(loom)))]
pub use error::Error;
#[cfg(all(feature = "std", not(loom)))]
pub use process::Process;
#[cfg(all(feature = "std", not(loom)))]
pub use shm::{
    EntryInfo, EntryState, HeaderInfo, Segment, SegmentError, SegmentOptions, Shared, ShmSafe,
};

/// `lock_api::Mutex` over a [`raw::RawLock`]: data guarded across processes
/// once placed in shared memory (e.g. `Shared<Mutex<u64>>`).
pub type Mutex<T> = lock_api::Mutex<raw::RawLock, T>;
/// The guard of a [`Mutex`].
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, raw::RawLock, T>;

#[cfg(not(loom))]
pub use sys::{set_spin_duration, spin_duration, MAX_SPIN};
pub use sys::{Deadline, BACKEND};
