//! Queues between processes: Python's `multiprocessing.Queue`,
//! `JoinableQueue` and `SimpleQueue`, over the two-lock ring of
//! [`crate::ring`].
//!
//! - [`Queue<T>`](Queue): `Pod` values in fixed-size slots; exclusive
//!   [`Producer`] / [`Consumer`] handles for the single-producer
//!   single-consumer fast path.
//! - [`ByteQueue`]: messages of any length as length-framed records in one
//!   byte ring; serde values with the `serde` feature.
//! - [`JoinableQueue<T>`](JoinableQueue): `task_done` and `join`.
//! - [`SimpleQueue<T>`](SimpleQueue): `put`, `get`, `empty`, `close`.
//! - [`wait_queues`]: sleep until any of several queues has a message.
//!
//! Each handle keeps the ring's geometry as it checked it against its own
//! mapping when it was made, so no later write by a peer can make an
//! operation reach outside the buffer (see the ring's module docs).

mod bytes;
mod error;
#[cfg(any(fuzzing, test))]
mod fuzz;
mod handles;
mod joinable;
mod ops;
mod pod;
mod ready;
mod shared;
mod simple;

pub use bytes::ByteQueue;
pub use error::{GetError, HandleError, PutError, TaskDoneTooManyTimes};
pub use handles::{Consumer, Producer};
pub use joinable::JoinableQueue;
pub use pod::Queue;
pub use ready::{wait_queues, Waitable};
pub use simple::SimpleQueue;
