//! The handles users touch: Python's names and semantics, Rust's idioms.
//! Each owns (a share of) the mapping its raw primitive lives in. The
//! crate-wide [`Error`] lives here too: every lower layer's error converts
//! into it.

mod array;
mod barrier;
#[cfg(feature = "serde")]
mod codec;
mod condition;
mod error;
mod event;
mod lock;
mod outcome;
mod pipe;
mod queue;
mod semaphore;
mod value;

pub use array::{Array, ArrayError, ArrayGuard, AtomicArray, BoundsError, RawArray};
pub use barrier::Barrier;
pub use condition::{Condition, ConditionError, ConditionGuard};
pub use error::Error;
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock, RLockGuard, SharedLock, SharedLockGuard};
pub use outcome::{OwnerDied, TryLockError};
pub use pipe::{
    wait, Connection, End, EndKind, Pipe, PipeOptions, RecvError, SegmentEnd, SendError, SocketEnd,
};
pub use queue::{
    wait_queues, ByteQueue, Consumer, GetError, HandleError, JoinableQueue, Producer, PutError,
    Queue, SimpleQueue, TaskDoneTooManyTimes, Waitable,
};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};
pub use value::{
    AccessError, AtomicInteger, AtomicPrimitive, AtomicValue, RawValue, Value, ValueGuard,
};
