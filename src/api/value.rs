//! Python's `multiprocessing.Value` family, for one `T` in shared memory:
//!
//! | type | Python | access |
//! |---|---|---|
//! | [`Value<T>`](Value) | `Value(t, v)` | `get` / `set` copies and a `&mut T` guard, under a lock |
//! | [`RawValue<T>`](RawValue) | `RawValue(t, v)`, `Value(t, v, lock=False)` | `get` / `set` through word-sized atomics; wide values can tear |
//! | [`AtomicValue<T>`](AtomicValue) | — | std atomic operations with explicit orderings |
//!
//! `T` is any `bytemuck::Pod` type for the first two (any bytes a peer
//! leaves are a valid value), an integer or `bool` for the last.
//!
//! A locked object's lock alone cannot make its data exclusive, since any
//! thread may release a [`Lock`](crate::Lock) (Python's semantics): every
//! locked object also keeps a *claim* beside its data (see `claim.rs`), so
//! that no access ever aliases a live guard's `&mut`. Arrays
//! (`super::array`) use the same claim and the same atomic copies.

pub(crate) mod atomic;
pub(crate) mod claim;
mod locked;
mod raw;
pub(crate) mod units;

pub use atomic::{AtomicInteger, AtomicPrimitive, AtomicValue};
pub use claim::AccessError;
pub use locked::{Value, ValueGuard};
pub use raw::RawValue;
