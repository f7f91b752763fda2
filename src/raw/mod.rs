//! The primitives themselves: `#[repr(C)]`, `const fn new`, atomics and wait
//! cells only, no pointers, no `Drop`. The same bytes work at different
//! addresses in different processes.
//!
//! Placing one in memory that several processes map is the caller's
//! business; with `std`, [`Shared`](crate::Shared) and
//! [`Segment`](crate::Segment) do it for safe code. Everything here also
//! builds without `std` and without `alloc`.
//!
//! "A lock" is one seam, the [`Lockable`] trait, implemented by [`RawLock`]
//! and [`RawRLock`]: [`RawCondition`] waits with any `Lockable`.
//!
//! On the `posix-sem` backend a raw primitive must not move after its first
//! use (its semaphore is initialised in place then).
//!
//! Every primitive takes its atomics, wait cell, clock, identity and spin
//! from the crate's loom shim, so the same source runs inside loom's models.

mod barrier;
mod condition;
mod event;
mod lock;
mod lockable;
mod rlock;
mod semaphore;
mod wait;

pub use barrier::{Arrival, BarrierBusy, BrokenBarrier, RawBarrier, MAX_PARTIES};
pub use condition::{RawCondition, Waited};
pub use event::RawEvent;
pub use lock::{LockHold, NotHeld, RawLock};
pub use lockable::{Acquired, Lockable, Locked, NotOwner};
pub use rlock::{Depth, RawRLock};
pub use semaphore::{RawSemaphore, ReleasedTooManyTimes, SEM_VALUE_MAX};
pub(crate) use wait::{capped, Probe};

/// A value on cache lines of its own: what one side polls stays off the
/// lines the other side writes. 128 bytes, since x86's spatial prefetcher
/// pulls in cache lines in pairs (crossbeam's `CachePadded` makes the same
/// choice).
#[repr(C, align(128))]
#[derive(Debug, Default)]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> core::ops::Deref for CachePadded<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

crate::shim::outside_loom! {
mod layout {
    use super::*;
    use core::mem::align_of;
    use static_assertions::assert_impl_all;

    assert_impl_all!(RawLock: Send, Sync);
    assert_impl_all!(RawRLock: Send, Sync);
    assert_impl_all!(RawSemaphore: Send, Sync);
    assert_impl_all!(RawEvent: Send, Sync);
    assert_impl_all!(RawCondition: Send, Sync);
    assert_impl_all!(RawBarrier: Send, Sync);

    // Futex backend: the lock is its word, the holder's hold number and
    // stamp.
    #[cfg(all(target_os = "linux", not(feature = "posix-sem")))]
    const _: () = {
        static_assertions::const_assert_eq!(core::mem::size_of::<RawLock>(), 16);
        static_assertions::const_assert_eq!(align_of::<RawLock>(), 8);
        static_assertions::const_assert_eq!(core::mem::size_of::<RawRLock>(), 24);
        static_assertions::const_assert_eq!(align_of::<RawRLock>(), 8);
        static_assertions::const_assert_eq!(core::mem::size_of::<RawSemaphore>(), 12);
        static_assertions::const_assert_eq!(core::mem::size_of::<RawEvent>(), 4);
        static_assertions::const_assert_eq!(core::mem::size_of::<RawCondition>(), 256);
        static_assertions::const_assert_eq!(align_of::<RawCondition>(), 128);
        // Four words, the arrivals' and the leaving parties' thread ids,
        // the generation and two words of leaving bits (padded to 16),
        // the lock.
        static_assertions::const_assert_eq!(
            core::mem::size_of::<RawBarrier>(),
            16 + 2 * 4 * MAX_PARTIES as usize + 16 + 16
        );
        static_assertions::const_assert_eq!(align_of::<RawBarrier>(), 8);
    };

    // POSIX-semaphore backend: a word and a wait cell, no stricter than
    // 8-aligned so that segments can place them on 8-byte boundaries.
    #[cfg(any(feature = "posix-sem", not(target_os = "linux")))]
    const _: () = {
        static_assertions::const_assert!(align_of::<RawLock>() <= 8);
        static_assertions::const_assert!(align_of::<RawRLock>() <= 8);
        static_assertions::const_assert!(align_of::<RawSemaphore>() <= 8);
        static_assertions::const_assert!(align_of::<RawEvent>() <= 8);
        static_assertions::const_assert!(align_of::<RawBarrier>() <= 8);
    };
}
}
