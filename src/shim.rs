//! The one place that knows about loom: everything primitive code takes from
//! the world that `loom::model` has to replace.
//!
//! | what | normal builds | `cfg(loom)` |
//! |---|---|---|
//! | atomics, fences | `core::sync::atomic` | `loom::sync::atomic` |
//! | [`WaitCell`] | the `sys` backend (futex or POSIX semaphore) | loom's mutex and condition variable |
//! | [`wait_any`] | `futex_waitv`, where the backend has it | a spurious wake-up after a yield |
//! | [`Deadline`] (the clock) | `CLOCK_MONOTONIC` | a clock that stands still: every finite deadline has passed |
//! | [`current_thread`], [`next_hold`] | kernel thread id, per-thread stamp and counter | small ids per loom thread |
//! | [`thread_is_gone`] | `kill(tid, 0)` and `/proc` | whether the model declared the thread dead (`declare_dead`) |
//! | [`probe_after`] (when to look for a dead peer) | after the probe interval | at once, once per death declared; otherwise never |
//! | [`spin_until`] | a bounded, clock-checked spin | one look |
//! | [`yield_until`] | a few `sched_yield`s, looking after each | one look |
//! | [`light_fence`], [`heavy_fence`] | a compiler fence / `membarrier` (asymmetric) | full fences |
//! | [`store_blind`] (a store over other threads' read-modify-writes) | a store | a swap whose result is dropped (loom#254) |
//! | [`RingBuf`] | bytes in a shared mapping, copied with `ptr::copy` | loom cells, so loom sees races on message bytes |
//!
//! Code in `raw/` and `ring/` imports these from here and nothing from
//! `core::sync` or `sys` directly, so the same source runs unchanged inside
//! `loom::model`. No other file holds a `cfg(loom)` switch: constructors
//! that are `const` outside loom use [`loom_const_fn!`], items that cannot
//! exist under loom (a `const` lock for `lock_api`, layout assertions on
//! core's atomics) use [`outside_loom!`].

pub(crate) use crate::sys::{Caller, Poll, Wake};
#[cfg(loom)]
pub use imp::declare_dead;
pub(crate) use imp::*;
pub use imp::{Deadline, RingBuf};

#[cfg(not(loom))]
mod imp {
    pub(crate) use crate::sys::barrier::{
        heavy as heavy_fence, light as light_fence, register as register_fences, sleeps_need_cap,
    };
    pub use crate::sys::Deadline;
    pub(crate) use crate::sys::{
        current_thread, may_ask_kernel, next_hold, spin_until, thread_is_gone, wait_any,
        yield_until, WaitCell, WAIT_ANY_MAX,
    };
    pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

    /// When a waiter next looks for a dead lock holder or barrier party:
    /// `interval` from now.
    #[inline]
    pub(crate) fn probe_after(interval: core::time::Duration, _seen: &mut u32) -> Deadline {
        Deadline::after(interval)
    }

    /// `N` atomics, all zero.
    pub(crate) const fn zeroed_u32s<const N: usize>() -> [AtomicU32; N] {
        [const { AtomicU32::new(0) }; N]
    }

    /// Stores `value` without reading what it overwrites, where other
    /// threads change the word with read-modify-writes.
    #[inline]
    pub(crate) fn store_blind(word: &AtomicU32, value: u32, order: Ordering) {
        word.store(value, order);
    }

    /// A ring's buffer as this process maps it: the first byte and the
    /// length. Copies in and out are bounds-checked against that length, so
    /// an offset computed from bytes a peer wrote can never reach outside.
    ///
    /// The bytes themselves are shared with every process that maps them,
    /// and a peer may write them at any time: a reader gets whatever is
    /// there (garbage, if a peer scribbles), never anything outside the
    /// buffer. The rings' protocol keeps correct peers from writing what
    /// another side reads.
    ///
    /// # Examples
    ///
    /// A ring of four 8-byte messages, its buffer on the heap (a `Queue`
    /// puts both in shared memory instead):
    ///
    /// ```
    /// use shmsync::ring::{RawRing, RingBuf};
    /// use shmsync::Deadline;
    /// use std::ptr::NonNull;
    ///
    /// let ring = RawRing::new(4, 8);
    /// let mut bytes = vec![0u8; 32];
    /// assert_eq!(RawRing::buffer_len(4, 8), Some(bytes.len()));
    /// // SAFETY: `bytes` outlives `buf` and is used only through it.
    /// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes[..]).cast(), 32) };
    /// let mut producing = ring.take_producing(&buf, Deadline::NEVER)?;
    /// assert_eq!(ring.try_push(&buf, &mut producing, &7u64.to_ne_bytes())?, 1);
    /// ring.release_producing(producing);
    /// let (mut consuming, mut out) = (ring.take_consuming(&buf, Deadline::NEVER)?, [0; 8]);
    /// assert_eq!(ring.try_pop(&buf, &mut consuming, &mut out)?, 1);
    /// ring.release_consuming(consuming);
    /// assert_eq!(u64::from_ne_bytes(out), 7);
    /// # Ok::<(), shmsync::ring::RingError>(())
    /// ```
    #[derive(Clone, Copy, Debug)]
    pub struct RingBuf {
        ptr: core::ptr::NonNull<u8>,
        len: usize,
    }

    // SAFETY: the buffer is shared memory meant for concurrent use by every
    // thread of every process that maps it; RingBuf is only its address.
    unsafe impl Send for RingBuf {}
    // SAFETY: as above.
    unsafe impl Sync for RingBuf {}

    impl RingBuf {
        /// The buffer of `len` bytes at `ptr`.
        ///
        /// # Safety
        ///
        /// `ptr` is valid for reads and writes of `len` bytes for as long as
        /// the `RingBuf` (and its copies) are used, the bytes are not
        /// accessed through Rust references meanwhile, and other writers
        /// are only other users of rings (this or other processes).
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::ring::RingBuf;
        /// use std::ptr::NonNull;
        ///
        /// let mut bytes = [0u8; 64];
        /// // SAFETY: `bytes` outlives `buf` and is used only through it.
        /// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes).cast(), 64) };
        /// assert_eq!(buf.len(), 64);
        /// ```
        pub unsafe fn from_raw(ptr: core::ptr::NonNull<u8>, len: usize) -> RingBuf {
            RingBuf { ptr, len }
        }

        /// The length in bytes.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::ring::RingBuf;
        /// use std::ptr::NonNull;
        ///
        /// let mut bytes = vec![0u8; 100];
        /// // SAFETY: `bytes` outlives `buf` and is used only through it.
        /// let buf = unsafe { RingBuf::from_raw(NonNull::from(&mut bytes[..]).cast(), 100) };
        /// assert_eq!(buf.len(), 100);
        /// ```
        #[inline]
        pub fn len(&self) -> usize {
            self.len
        }

        /// Whether the buffer has no bytes.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::ring::RingBuf;
        /// use std::ptr::NonNull;
        ///
        /// // SAFETY: zero bytes are valid at any non-null, aligned address.
        /// let buf = unsafe { RingBuf::from_raw(NonNull::dangling(), 0) };
        /// assert!(buf.is_empty());
        /// ```
        #[inline]
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        /// Copies `src` to offset `at`; false (and nothing copied) if it
        /// would not fit.
        #[inline]
        pub(crate) fn write(&self, at: usize, src: &[u8]) -> bool {
            if at > self.len || src.len() > self.len - at {
                return false;
            }
            // SAFETY: `at + src.len() <= len` (checked), so the range lies
            // in the buffer `from_raw` vouched for; `src` is a Rust slice
            // in this process's memory, not in the buffer's range unless the
            // caller aliased it on purpose, which the rings never do.
            unsafe {
                crate::sys::copy::copy_into_ring(
                    src.as_ptr(),
                    self.ptr.as_ptr().add(at),
                    src.len(),
                    self.len,
                )
            };
            true
        }

        /// Asks the CPU to take the line holding offset `at` into this
        /// core's cache for writing (a hint: nothing happens if `at` is out
        /// of range).
        #[inline(always)]
        pub(crate) fn prefetch_write(&self, at: usize) {
            if at < self.len {
                crate::sys::copy::prefetch_write(self.ptr.as_ptr().wrapping_add(at));
            }
        }

        /// Asks the CPU to bring the line holding offset `at` into this
        /// core's cache (a hint: nothing happens if `at` is out of range).
        #[inline(always)]
        pub(crate) fn prefetch(&self, at: usize) {
            if at < self.len {
                crate::sys::copy::prefetch(self.ptr.as_ptr().wrapping_add(at));
            }
        }

        /// Copies `dst.len()` bytes from offset `at`; false (and nothing
        /// copied) if they are not all in the buffer.
        #[inline]
        pub(crate) fn read(&self, at: usize, dst: &mut [u8]) -> bool {
            if at > self.len || dst.len() > self.len - at {
                return false;
            }
            // SAFETY: as in `write`, the other way round.
            unsafe {
                crate::sys::copy::copy(self.ptr.as_ptr().add(at), dst.as_mut_ptr(), dst.len())
            };
            true
        }
    }
}

#[cfg(loom)]
mod imp {
    use super::{Caller, Poll, Wake};
    use core::time::Duration;
    pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
    use loom::sync::{Condvar, Mutex};

    loom::lazy_static! {
        /// The loom threads of this execution that a model declared dead.
        static ref DEAD: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());
    }

    /// Declares the calling model thread dead: from now on
    /// [`thread_is_gone`] says so for it, and waiters probe once for the
    /// death. The thread must then return at once, touching nothing shared
    /// (it stands for a thread killed at this point: locks it holds stay
    /// held, its uncommitted work stays half done).
    ///
    /// A sleeper is not woken by a death (the real backends' probes run on
    /// a timer, loom has no clock): a model declares its death before any
    /// survivor can sleep on what the dead thread holds, e.g. by joining
    /// the dying thread before the survivors wait on it.
    pub fn declare_dead() {
        let me = current_thread().tid;
        DEAD.lock().unwrap().push(me);
    }

    /// Deaths declared in this execution so far.
    fn deaths() -> u32 {
        DEAD.lock().unwrap().len() as u32
    }

    /// When a waiter next looks for a dead peer: now, once per death
    /// declared since it last looked (`seen` counts them); never while
    /// there is no new death, so no model spins on probes.
    pub(crate) fn probe_after(_interval: Duration, seen: &mut u32) -> Deadline {
        let deaths = deaths();
        if deaths > *seen {
            *seen = deaths;
            Deadline::now()
        } else {
            Deadline::NEVER
        }
    }

    /// Loom has no clock to limit the asks by: every try may ask.
    pub(crate) fn may_ask_kernel() -> bool {
        true
    }

    /// Loom has no membarrier: both sides of a Dekker pair fence fully.
    pub(crate) fn light_fence() {
        loom::sync::atomic::fence(Ordering::SeqCst);
    }

    /// As [`light_fence`].
    pub(crate) fn heavy_fence() {
        loom::sync::atomic::fence(Ordering::SeqCst);
    }

    /// A store that does not read what it overwrites, as a swap whose
    /// result is dropped: loom 0.7 can place a plain store between the read
    /// and the write of another thread's earlier read-modify-write (tokio-
    /// rs/loom#254), a history no machine produces, after which that
    /// thread's next read-modify-write reads a value the store overwrote.
    /// The swap keeps the modification order real and reads nothing the
    /// caller uses: the overwritten value stays unseen, as with a store.
    pub(crate) fn store_blind(word: &AtomicU32, value: u32, order: Ordering) {
        let _overwritten = word.swap(value, order);
    }

    /// Nothing to register under loom.
    pub(crate) fn register_fences() -> bool {
        false
    }

    /// Loom sleeps are never lost: no cap needed.
    pub(crate) fn sleeps_need_cap() -> bool {
        false
    }

    /// A ring's buffer under loom: one loom cell per byte, so that loom
    /// reports a read of message bytes that races with their write.
    #[derive(Clone, Debug)]
    pub struct RingBuf {
        cells: std::sync::Arc<Vec<loom::cell::UnsafeCell<u8>>>,
    }

    impl RingBuf {
        /// A zeroed buffer of `len` bytes for a model.
        pub fn model(len: usize) -> RingBuf {
            RingBuf {
                cells: std::sync::Arc::new(
                    (0..len).map(|_| loom::cell::UnsafeCell::new(0)).collect(),
                ),
            }
        }

        /// The length in bytes.
        pub fn len(&self) -> usize {
            self.cells.len()
        }

        /// Whether the buffer has no bytes.
        pub fn is_empty(&self) -> bool {
            self.cells.is_empty()
        }

        pub(crate) fn write(&self, at: usize, src: &[u8]) -> bool {
            let Some(cells) = self.cells.get(at..at.saturating_add(src.len())) else {
                return false;
            };
            for (cell, &byte) in cells.iter().zip(src) {
                // SAFETY: loom checks this access against every other.
                cell.with_mut(|p| unsafe { *p = byte });
            }
            true
        }

        pub(crate) fn read(&self, at: usize, dst: &mut [u8]) -> bool {
            let Some(cells) = self.cells.get(at..at.saturating_add(dst.len())) else {
                return false;
            };
            for (cell, byte) in cells.iter().zip(dst) {
                // SAFETY: loom checks this access against every other.
                *byte = cell.with(|p| unsafe { *p });
            }
            true
        }

        /// A hint with no effect a model could see.
        pub(crate) fn prefetch(&self, _at: usize) {}

        /// A hint with no effect a model could see.
        pub(crate) fn prefetch_write(&self, _at: usize) {}
    }

    /// `N` atomics, all zero.
    pub(crate) fn zeroed_u32s<const N: usize>() -> [AtomicU32; N] {
        core::array::from_fn(|_| AtomicU32::new(0))
    }

    /// A deadline under loom, where time stands still: a finite deadline
    /// has always passed, so models take the time-out paths without
    /// sleeping, and [`Deadline::NEVER`] never passes.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Deadline {
        /// Whether this is [`Deadline::NEVER`]; finite deadlines sort first.
        never: bool,
    }

    impl Deadline {
        /// A deadline that never passes.
        pub const NEVER: Deadline = Deadline { never: true };

        /// Now: a finite deadline.
        pub fn now() -> Deadline {
            Deadline { never: false }
        }

        /// A finite deadline, whatever `timeout` is.
        pub fn after(_timeout: Duration) -> Deadline {
            Deadline::now()
        }

        /// This deadline; time does not move under loom.
        pub fn saturating_add(self, _d: Duration) -> Deadline {
            self
        }

        /// Whether this deadline is finite.
        pub fn has_passed(self) -> bool {
            !self.never
        }

        /// Zero for a finite deadline, `Duration::MAX` for `NEVER`.
        pub fn remaining(self) -> Duration {
            if self.never {
                Duration::MAX
            } else {
                Duration::ZERO
            }
        }

        /// Whether this is [`Deadline::NEVER`].
        pub fn is_never(self) -> bool {
            self.never
        }
    }

    /// Loom's mutex and condition variable standing in for a futex queue,
    /// so that loom sees every sleep and wake-up and reports lost ones as
    /// deadlocks.
    #[derive(Debug)]
    pub struct WaitCell {
        mutex: Mutex<()>,
        cond: Condvar,
    }

    impl Default for WaitCell {
        fn default() -> Self {
            WaitCell::new()
        }
    }

    impl WaitCell {
        /// A cell ready for use.
        pub fn new() -> WaitCell {
            WaitCell {
                mutex: Mutex::new(()),
                cond: Condvar::new(),
            }
        }

        /// Sleeps while `*word == expected`. A wait with a deadline does not
        /// sleep (there is no clock): it reports a time-out at once. (Not
        /// after a yield: loom runs a thread that yielded only once the
        /// others cannot go on, so a yield here would hide every
        /// interleaving in which the timed waiter acts first.)
        pub fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Wake {
            let guard = self.mutex.lock().unwrap();
            // The kernel compares against the word's latest value; a plain
            // load could read an older one, so read with a read-modify-write
            // (which always sees the latest), writing back what is there.
            if word
                .compare_exchange(expected, expected, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
            {
                return if deadline.has_passed() {
                    Wake::TimedOut
                } else {
                    Wake::Woken
                };
            }
            if deadline.has_passed() {
                return Wake::TimedOut;
            }
            drop(self.cond.wait(guard).unwrap());
            Wake::Woken
        }

        /// Wakes one sleeper on `word`.
        pub fn wake_one(&self, _word: &AtomicU32) {
            let _guard = self.mutex.lock().unwrap();
            self.cond.notify_one();
        }

        /// Wakes every sleeper on `word`.
        pub fn wake_all(&self, _word: &AtomicU32) {
            let _guard = self.mutex.lock().unwrap();
            self.cond.notify_all();
        }
    }

    loom::lazy_static! {
        static ref NEXT_TID: AtomicU32 = AtomicU32::new(1);
    }
    loom::thread_local! {
        static TID: u32 = NEXT_TID.fetch_add(1, Ordering::Relaxed);
        static HOLDS: core::cell::Cell<u32> = core::cell::Cell::new(0);
    }

    /// Loom threads get small distinct ids, fresh for every execution; the
    /// stamp is the id (loom threads never reuse one).
    pub(crate) fn current_thread() -> Caller {
        let tid = TID.with(|t| *t);
        Caller {
            tid,
            stamp: u64::from(tid),
        }
    }

    /// A new number per acquisition on this loom thread.
    pub(crate) fn next_hold() -> u32 {
        HOLDS.with(|holds| {
            let next = holds.get().wrapping_add(1);
            holds.set(next);
            next
        })
    }

    /// Whether a model declared thread `tid` dead ([`declare_dead`]).
    pub(crate) fn thread_is_gone(tid: u32) -> bool {
        DEAD.lock().unwrap().contains(&tid)
    }

    /// The most words [`wait_any`] takes.
    pub(crate) const WAIT_ANY_MAX: usize = 128;

    /// Sleeping on several words: loom's condition variables wait one at
    /// a time, so this yields and reports a spurious wake-up (which the
    /// contract allows). No model sleeps on several rings; this only keeps
    /// the code that can compiling under loom.
    pub(crate) fn wait_any(_words: &[(&AtomicU32, u32)], _deadline: Deadline) -> Option<Wake> {
        loom::thread::yield_now();
        Some(Wake::Woken)
    }

    /// A spin under loom is one look: loom's preemptions explore the
    /// interleavings a longer spin would only repeat. (No yield: loom runs
    /// a thread that yielded only once the others cannot go on, which would
    /// hide every interleaving in which the spinner acts first.)
    pub(crate) fn spin_until(
        _limit: Deadline,
        _poll: Poll,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        done()
    }

    /// As [`spin_until`]: one look, no yield.
    pub(crate) fn yield_until(
        _limit: Deadline,
        _times: u32,
        mut done: impl FnMut() -> bool,
    ) -> bool {
        done()
    }
}

/// Declares a constructor that is `const` in normal builds and a plain `fn`
/// under loom, whose atomics cannot be built in const context.
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use loom_const_fn;

/// Items that exist only outside loom: what needs a `const` primitive
/// (`lock_api`'s `INIT`) or core's atomics (layout assertions).
macro_rules! outside_loom {
    ($($item:item)*) => {
        $(
            #[cfg(not(loom))]
            $item
        )*
    };
}
pub(crate) use outside_loom;
