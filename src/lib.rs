//! Python `multiprocessing`'s synchronization and IPC primitives, in shared
//! memory, for Rust processes: forked children and unrelated programs that
//! open the same named [`Segment`].
//!
//! | Python | shmsync |
//! |---|---|
//! | `Process(target=f)`, `active_children()` | [`Process::spawn`], [`Process::builder`], [`active_children`] |
//! | `Lock()`, `RLock()` | [`Lock`], [`RLock`] (and [`Mutex<T>`] for data) |
//! | `Semaphore(n)`, `BoundedSemaphore(n)` | [`Semaphore`], [`BoundedSemaphore`] |
//! | `Condition(lock)`, `Event()`, `Barrier(n)` | [`Condition`], [`Event`], [`Barrier`] |
//! | `Queue()`, `JoinableQueue()`, `SimpleQueue()` | [`Queue<T>`](Queue) (`Pod` values), [`ByteQueue`] (bytes, serde values), [`JoinableQueue`], [`SimpleQueue`] |
//! | `Pipe(duplex)`, `connection.wait` | [`Pipe::new`] → [`Connection`]s, [`wait`] |
//! | `Value(t, v)`, `Value(t, v, lock=False)` | [`Value`], [`RawValue`]; lock-free [`AtomicValue`] |
//! | `Array(t, n)`, `Array(t, n, lock=False)` | [`Array`], [`RawArray`]; lock-free [`AtomicArray`] |
//! | `shared_memory.SharedMemory(name)` | [`Segment`] (named objects), [`Shared<T>`](Shared) (one object) |
//! | exceptions | one [`Error`], converted from every operation's own error |
//!
//! Blocking calls keep Python's shape where Python has one
//! (`acquire(block, timeout) -> bool`, `wait(timeout) -> bool`), and offer
//! Rust's beside it (`lock()` returning a guard, `try_lock`,
//! `try_lock_for`). A process that dies holding a lock is reported to the
//! next acquirer as [`OwnerDied`], which carries the guard.
//!
//! ```
//! use shmsync::{Pipe, Process, Queue, Value};
//! use std::time::Duration;
//!
//! let results = Queue::<u64>::new(16)?;
//! let total = Value::new(0u64)?;
//! let (parent, child_end) = Pipe::new(true)?;
//! // The child gets its own end of the pipe (moved in) and the same
//! // queue and value (borrowed: fork shares their mappings).
//! let (queue, counter) = (&results, &total);
//! let child = Process::spawn(move || {
//!     for n in 1..=4 {
//!         let _ = queue.put(n * n);
//!         if let Ok(mut t) = counter.get_lock() {
//!             *t += n;
//!         }
//!     }
//!     let _ = child_end.send_bytes(b"done");
//! })?;
//! assert_eq!(parent.recv_bytes(16)?, b"done");
//! assert_eq!(child.join()?, 0);
//! let squares: Vec<u64> = (0..4)
//!     .map(|_| results.get_timeout(Duration::from_secs(5)))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(squares, [1, 4, 9, 16]);
//! assert_eq!(total.get()?, 10);
//! # Ok::<(), shmsync::Error>(())
//! ```
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
    wait_queues, ByteQueue, Consumer, GetError, HandleError, JoinableQueue, Producer, PutError,
    Queue, SimpleQueue, TaskDoneTooManyTimes, Waitable,
};
#[cfg(all(feature = "std", not(loom)))]
pub use api::{
    Barrier, BoundedSemaphore, Condition, ConditionError, ConditionGuard, Error, Event, Lock,
    LockGuard, OwnerDied, RLock, RLockGuard, Semaphore, SemaphoreGuard, SharedLock,
    SharedLockGuard, TryLockError,
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
///
/// `lock_api` has no way to report a holder's death: the next `lock` is
/// simply granted. [`raw::RawLock::is_inconsistent`] on the raw lock
/// (`unsafe { mutex.raw() }`) tells whether that happened.
///
/// # Examples
///
/// ```
/// use shmsync::{Mutex, Process, Shared};
///
/// let counter = Shared::new(Mutex::new(0u64))?;
/// let child = Process::spawn({
///     let counter = counter.clone();
///     move || *counter.lock() += 1
/// })?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(*counter.lock(), 1);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub type Mutex<T> = lock_api::Mutex<raw::RawLock, T>;
/// The guard of a [`Mutex`]: access to the data; dropping it unlocks.
///
/// # Examples
///
/// ```
/// use shmsync::{Mutex, MutexGuard};
///
/// fn bump(mut guard: MutexGuard<'_, u32>) -> u32 {
///     *guard += 1;
///     *guard
/// }
/// let mutex = Mutex::new(1);
/// assert_eq!(bump(mutex.lock()), 2);
/// assert!(!mutex.is_locked(), "the guard was dropped in `bump`");
/// ```
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, raw::RawLock, T>;

/// Loom only: declares the calling model thread dead (it must return at
/// once), so that models can abandon an operation part way and check that
/// the others take over (`OwnerDied`).
#[cfg(loom)]
pub use shim::declare_dead;
pub use shim::Deadline;
pub use sys::{set_spin_duration, spin_duration, BACKEND, MAX_SPIN};
