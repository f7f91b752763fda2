//! Rings in shared memory: the data paths under `Queue` and `Pipe`.
//!
//! # The two-lock ring
//!
//! A ring is a buffer of slots and two counters: `tail`, the messages ever
//! committed by the producing side, and `head`, the messages ever taken by
//! the consuming side (`u32`, wrapping; `tail - head` is the number of
//! messages in the ring). `tail` is written only by the producing side and
//! `head` only by the consuming side. Each side copies its data first and
//! commits with one `Release` store of its own counter; the other side reads
//! that counter with `Acquire`. Between the producing and the consuming side
//! there is no compare-and-swap and no shared lock; the counters sit on
//! cache lines of their own, and each side keeps a cached copy of the other
//! side's counter on its own line, so it reads the other side's line only
//! when the cache says the ring is full (or empty). A side that finds the
//! other only just ahead of it (a consumer that finds a few messages, a
//! producer that finds a little room) waits a moment before its next look,
//! so that it takes a batch per look instead of meeting the other side on
//! the counter's line every few messages (temporal slipping; see `slip`).
//!
//! Producers among themselves are serialized by one crash-aware
//! [`RawLock`](crate::raw::RawLock), consumers by another: the two-lock queue
//! of Michael and Scott ("Simple, Fast, and Practical Non-Blocking and
//! Blocking Concurrent Queue Algorithms", PODC 1996), whose producer and
//! consumer never contend with each other; Python's `multiprocessing.Queue`
//! also has a writer lock and a reader lock. A single producer and a single
//! consumer can each hold their side's lock for as long as they like (the
//! exclusive `producer()` / `consumer()` handles): then a message costs no
//! atomic read-modify-write at all.
//!
//! # Why not a lock-free slot ring
//!
//! In a Vyukov-style ring, a producer claims a slot with a compare-and-swap
//! on a shared counter, fills it, then publishes it. One killed between the
//! claim and the publication blocks every consumer forever, and the claim
//! cannot say who made it, so nobody can tell a dead claimer from a slow
//! one; a consumer killed after its claim wedges the producers a lap later.
//! That is the hang users of Boost.Interprocess's `message_queue`, ipmpsc and
//! iceoryx classic still report. Here a kill at any instant leaves the ring
//! consistent:
//!
//! - a producer killed before its commit leaves a half-written slot past
//!   `tail`, which no consumer reads; the next producer overwrites it;
//! - a consumer killed before its commit leaves the message at `head`, for
//!   the next consumer (one killed after its commit took the message with
//!   it, as if it had died just after returning);
//! - the side's lock records its holder's thread id, so the next producer (or
//!   consumer) is told `OwnerDied` instead of waiting forever. Nothing the
//!   dead holder left can be half-done but its own uncommitted copy, so the
//!   acquirer only checks that `tail - head` is between 0 and the capacity
//!   (a check every operation makes anyway) and goes on.
//!
//! # Waiting
//!
//! A producer on a full ring (a consumer on an empty one) spins a bounded
//! while, then sleeps on the other side's counter. Before sleeping it sets a
//! flag that says "producers (consumers) may be asleep"; after each commit
//! the other side looks at the flag, and if it is set, clears it and wakes
//! every sleeper. So a put or get makes a syscall only when someone sleeps,
//! and a sleeper killed in its sleep costs at most one needless wake-up: the
//! flag is cleared by the first commit after it, whoever set it. The flag
//! and the commit form Dekker's pattern: the committing side fences lightly
//! and the sleeping side heavily (`sys::barrier`: a compiler fence against a
//! `membarrier`), so the fast path pays no fence instruction.
//!
//! # Messages of any length
//!
//! A byte ring carries length-framed records (`records`); `stream` builds
//! messages of any length on them for `Pipe`: one record, committed with
//! one store, when the message fits the ring, and a stream of pieces when
//! it does not (a reader never returns part of one; an interrupted stream
//! is reported as such). `multi` sleeps on several rings at once. Large
//! copies into a ring with room to spare go around the caches
//! (non-temporal stores, fenced before the commit: `sys::copy`).
//!
//! # Hostile bytes
//!
//! The ring's state lives in memory every attached process can write. Every
//! counter and length is read once into a local and checked before use;
//! slot offsets are reduced modulo the buffer this process mapped itself, so
//! no value a peer writes can make an operation read or write outside the
//! buffer, or allocate beyond what its caller configured. A peer that
//! scribbles can make operations fail with [`RingError::Corrupted`], deliver
//! garbage, or wait: never undefined behaviour in this process.

pub mod hooks;
mod multi;
mod records;
mod sides;
mod signal;
mod slip;
mod state;
mod stream;
mod values;

pub use crate::shim::RingBuf;
pub use multi::{wait_for_any_data, SLICE};
pub use records::{record_size, Record, FIRST, HEADER, LAST, RECORD_MAGIC, WHOLE};
pub use sides::{Consuming, Producing};
pub use state::{RawRing, RingError, MAX_CAPACITY};
pub use stream::{Chunk, Incoming, Outgoing, Piece, Pushed, LENGTH_PREFIX};
// For the queue handles built on the ring (std only): their geometry
// checked once, and a signal of their own (a joinable queue's `join`).
#[allow(unused_imports)]
pub(crate) use signal::Signal;
#[allow(unused_imports)]
pub(crate) use state::{Geometry, IMMEDIATE};
