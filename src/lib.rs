//! Python `multiprocessing`'s synchronization and IPC primitives, in shared
//! memory, for Rust processes.
//!
//! The layers, bottom up (each only uses those below it):
//!
//! - `sys`: the operating system: sleeping on and waking a shared 32-bit
//!   word (futex on Linux, process-shared POSIX semaphores with the
//!   `posix-sem` feature), the monotonic clock ([`Deadline`]), thread
//!   identity, the spin before sleeping.
//! - `shim`: what primitive code takes from the world, swapped for loom's
//!   under `cfg(loom)`.
//! - [`raw`]: the primitives as plain `#[repr(C)]` state, `no_std`; one lock
//!   seam, [`raw::Lockable`].
//! - [`ring`]: the two-lock rings under `Queue` and `Pipe`, `no_std`.
//! - `shm` (`std`): [`Shared`] puts one value in its own shared mapping,
//!   [`Segment`] a directory of named values in a named or memfd segment.
//! - the handles (`std`): [`Lock`], [`RLock`], …, each owning its mapping,
//!   and the crate-wide [`Error`].
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
// Under loom the shim replaces everything `sys` offers; it is compiled but
// unused there.
#[cfg_attr(loom, allow(dead_code, unused_imports))]
mod sys;

pub mod raw;
pub mod ring;

// The std layers are left out of loom builds: loom models the raw
// primitives only.
#[cfg(all(feature = "std", not(loom)))]
mod api;
#[cfg(all(feature = "std", not(loom)))]
mod process;
#[cfg(all(feature = "std", not(loom)))]
mod shm;

#[cfg(all(feature = "std", not(loom)))]
pub use api::{
    wait, AccessError, Array, ArrayError, ArrayGuard, AtomicArray, AtomicInteger, AtomicPrimitive,
    AtomicValue, BoundsError, Connection, End, EndKind, Pipe, PipeOptions, RawArray, RawValue,
    RecvError, SegmentEnd, SendError, SocketEnd, Value, ValueGuard,
};
#[cfg(all(feature = "std", not(loom)))]
pub use api::{
    Barrier, BoundedSemaphore, Condition, ConditionError, ConditionGuard, Error, Event, Lock,
    LockGuard, OwnerDied, RLock, RLockGuard, Semaphore, SemaphoreGuard, SharedLock,
    SharedLockGuard, TryLockError,
};
#[cfg(all(feature = "std", not(loom)))]
pub use api::{
    ByteQueue, Consumer, GetError, HandleError, JoinableQueue, Producer, PutError, Queue,
    SimpleQueue, TaskDoneTooManyTimes,
};
#[cfg(all(feature = "std", not(loom)))]
pub use process::{active_children, ActiveChild, CloseError, Process, ProcessBuilder};
#[cfg(all(feature = "std", not(loom)))]
pub use shm::{
    EntryInfo, EntryState, HeaderInfo, Segment, SegmentError, SegmentOptions, Shared, ShmSafe,
};

pub use raw::{
    BarrierBusy, BrokenBarrier, NotHeld, NotOwner, ReleasedTooManyTimes, MAX_PARTIES, SEM_VALUE_MAX,
};

/// `lock_api::Mutex` over a [`raw::RawLock`]: data guarded across processes
/// once placed in shared memory (e.g. `Shared<Mutex<u64>>`).
pub type Mutex<T> = lock_api::Mutex<raw::RawLock, T>;
/// The guard of a [`Mutex`].
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, raw::RawLock, T>;

/// Loom only: declares the calling model thread dead (it must return at
/// once), so that models can abandon an operation part way and check that
/// the others take over (`OwnerDied`).
#[cfg(loom)]
pub use shim::declare_dead;
pub use shim::Deadline;
pub use sys::{set_spin_duration, spin_duration, BACKEND, MAX_SPIN};
