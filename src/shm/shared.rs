//! `Shared<T>`: one value in shared memory, and the `ShmSafe` promise that
//! makes a type fit to live there.

use super::error::SegmentError;
use super::region::Region;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

/// Types that may live in memory shared between processes.
///
/// # Safety
///
/// Implementing this trait promises that a value of the type
///
/// - holds no pointers, references or process-local handles (file
///   descriptors, thread-local keys, `Box`, `Vec`, ...): its bytes mean the
///   same in every process that maps them, at any address;
/// - stays valid whatever another process stores through the type's own
///   shared-reference API, and whatever bytes a peer writes, unless the type
///   validates them before use: integers and atomics are fine, `bool`,
///   `char` and enums are not;
/// - needs no `Drop`: shmsync never runs destructors of shared values (a
///   process only unmaps its view), and may move nothing once placed;
/// - is `Sync`, since threads of every process use it at once.
///
/// # Examples
///
/// ```
/// use shmsync::{Shared, ShmSafe};
/// use std::sync::atomic::AtomicU64;
///
/// #[repr(C)]
/// struct Stats {
///     hits: AtomicU64,
///     misses: AtomicU64,
/// }
/// // SAFETY: two atomics: no pointers, any bytes valid, no Drop.
/// unsafe impl ShmSafe for Stats {}
///
/// let stats = Shared::new(Stats { hits: AtomicU64::new(0), misses: AtomicU64::new(0) })?;
/// # Ok::<(), shmsync::Error>(())
/// ```
pub unsafe trait ShmSafe: Sync {}

macro_rules! shm_safe {
    ($($t:ty),* $(,)?) => { $(
        // SAFETY: plain integers and atomics: any bytes are a valid value,
        // no pointers, no Drop.
        unsafe impl ShmSafe for $t {}
    )* };
}

use std::sync::atomic::{
    AtomicBool, AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicIsize, AtomicU16, AtomicU32,
    AtomicU64, AtomicU8, AtomicUsize,
};
shm_safe!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);
shm_safe!(AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize);
shm_safe!(AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize);
// AtomicBool reads its byte as `!= 0`, so every byte is valid.
shm_safe!(AtomicBool);

macro_rules! shm_safe_primitive {
    ($($t:ty),* $(,)?) => { $(
        // SAFETY: the raw primitives are made for shared memory: repr(C),
        // atomics and a wait cell, no pointers, no Drop, and every field is
        // validated or clamped before it indexes anything. On the futex
        // backend any bytes are a valid state (a garbage state can hang or
        // fail an operation, not break memory safety); on the portable
        // backend a peer that overwrites the cell's `sem_t` is outside what
        // libc promises (see the README's known limits).
        unsafe impl ShmSafe for $t {}
    )* };
}

shm_safe_primitive!(
    crate::raw::RawLock,
    crate::raw::RawRLock,
    crate::raw::RawSemaphore
);
shm_safe_primitive!(
    crate::raw::RawEvent,
    crate::raw::RawCondition,
    crate::raw::RawBarrier,
    crate::ring::RawRing
);

// SAFETY: an array of ShmSafe values is as ShmSafe as its elements.
unsafe impl<T: ShmSafe, const N: usize> ShmSafe for [T; N] {}

// SAFETY: a RawLock and a ShmSafe value side by side (lock_api::Mutex is a
// plain struct of the two, with no pointers and no Drop of its own beyond
// T's, which ShmSafe rules out).
unsafe impl<T: ShmSafe + Send> ShmSafe for lock_api::Mutex<crate::raw::RawLock, T> {}

/// One value of type `T` in its own shared mapping.
///
/// The mapping is `MAP_SHARED`: a child forked after `Shared::new` sees the
/// same memory, and writes on either side are seen by the other. Cloning a
/// `Shared` is cheap and gives another handle to the same value (like
/// `Arc`); the process unmaps its view when its last handle is dropped, and
/// the kernel frees the memory when no process maps it any more. `T`'s
/// destructor never runs.
///
/// # Examples
///
/// A counter that a forked child increments and the parent reads:
///
/// ```
/// use shmsync::{Process, Shared};
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let hits = Shared::new(AtomicU64::new(0))?;
/// let child = Process::spawn({
///     let hits = hits.clone();
///     move || { hits.fetch_add(1, Ordering::SeqCst); }
/// })?;
/// assert_eq!(child.join()?, 0);
/// assert_eq!(hits.load(Ordering::SeqCst), 1);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Shared<T: ShmSafe> {
    region: Arc<Region>,
    offset: usize,
    _value: PhantomData<T>,
}

impl<T: ShmSafe> Shared<T> {
    /// Maps fresh shared memory and moves `value` into it.
    ///
    /// # Errors
    ///
    /// [`SegmentError::Os`] if the kernel refuses the mapping (`ENOMEM`, a
    /// `vm.max_map_count` limit).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Shared;
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// let flag = Shared::new(AtomicU32::new(1))?;
    /// assert_eq!(flag.load(Ordering::Relaxed), 1);
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn new(value: T) -> Result<Shared<T>, SegmentError> {
        const {
            assert!(
                std::mem::align_of::<T>() <= 4096,
                "ShmSafe types must not need more than page alignment"
            )
        };
        let region = Region::anonymous(std::mem::size_of::<T>())?;
        // SAFETY: the fresh mapping is page-aligned (so aligned for T), at
        // least size_of::<T>() long, and nobody else can see it yet.
        unsafe { region.base().as_ptr().cast::<T>().write(value) };
        Ok(Shared {
            region: Arc::new(region),
            offset: 0,
            _value: PhantomData,
        })
    }

    /// A handle to the `T` at `offset` in `region`.
    ///
    /// # Safety
    ///
    /// `offset` is aligned for `T`, `offset + size_of::<T>()` lies within
    /// the region, and a valid `T` has been written there (possibly by
    /// another process).
    pub(crate) unsafe fn from_region(region: Arc<Region>, offset: usize) -> Shared<T> {
        debug_assert!(offset % std::mem::align_of::<T>() == 0);
        debug_assert!(offset + std::mem::size_of::<T>() <= region.len());
        Shared {
            region,
            offset,
            _value: PhantomData,
        }
    }

    /// Whether two handles refer to the same value in this process's view:
    /// the same address in the same mapping. One value seen through two
    /// mappings (two `Segment` handles of one segment) is not the same
    /// address; two zero-sized values of a segment may be.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Shared;
    ///
    /// let a = Shared::new(1u32)?;
    /// let b = a.clone();
    /// assert!(Shared::ptr_eq(&a, &b));
    /// assert!(!Shared::ptr_eq(&a, &Shared::new(1u32)?));
    /// # Ok::<(), shmsync::SegmentError>(())
    /// ```
    pub fn ptr_eq(this: &Shared<T>, other: &Shared<T>) -> bool {
        std::ptr::eq(&**this, &**other)
    }
}

impl<T: ShmSafe> Deref for Shared<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: construction guarantees an aligned, initialised T inside
        // the region, which stays mapped while `self.region` lives. Only
        // shared references are handed out; T: ShmSafe makes concurrent use
        // by other processes sound.
        unsafe { &*self.region.base().as_ptr().add(self.offset).cast::<T>() }
    }
}

impl<T: ShmSafe> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            region: Arc::clone(&self.region),
            offset: self.offset,
            _value: PhantomData,
        }
    }
}

impl<T: ShmSafe + fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Shared").field(&**self).finish()
    }
}

// SAFETY: a Shared only hands out &T, and T: Sync (ShmSafe's supertrait);
// the region itself is Send + Sync.
unsafe impl<T: ShmSafe> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: ShmSafe> Sync for Shared<T> {}

/// One `H` followed by a buffer whose length is chosen at run time, in one
/// shared mapping (its own, or a [`Segment`](super::Segment)'s): a ring's
/// state and its slots, an array's lock and its elements.
///
/// The buffer is plain bytes that every process mapping the object may
/// write: whoever reads it through [`SharedTail::tail`] must treat its
/// contents as untrusted, and copy in and out only under a protocol that
/// keeps correct peers from writing what it reads.
pub(crate) struct SharedTail<H: ShmSafe> {
    head: Shared<H>,
    /// Where the buffer starts, from the mapping's base.
    tail_at: usize,
    tail_len: usize,
}

impl<H: ShmSafe> SharedTail<H> {
    /// Where the buffer starts from the start of the object: after the
    /// header, aligned to `tail_align` (a power of two).
    pub(crate) fn tail_offset(tail_align: usize) -> usize {
        std::mem::size_of::<H>().next_multiple_of(tail_align.max(1))
    }

    /// Maps fresh shared memory holding `head`, then `tail_len` zero bytes
    /// aligned to `tail_align` (a power of two, at most a page).
    ///
    /// # Errors
    ///
    /// [`SegmentError::Os`] if the mapping fails; [`SegmentError::BadSize`]
    /// if the sizes overflow or the alignment is not a power of two up to a
    /// page.
    pub(crate) fn new(
        head: H,
        tail_len: usize,
        tail_align: usize,
    ) -> Result<SharedTail<H>, SegmentError> {
        const {
            assert!(
                std::mem::align_of::<H>() <= 4096,
                "ShmSafe types must not need more than page alignment"
            )
        };
        let tail_at = SharedTail::<H>::tail_offset(tail_align);
        let total = tail_at.checked_add(tail_len).filter(|&total| {
            tail_align.is_power_of_two() && tail_align <= 4096 && total <= isize::MAX as usize
        });
        let Some(total) = total else {
            return Err(SegmentError::BadSize {
                size: tail_len,
                minimum: 0,
            });
        };
        // Zero-filled by the kernel: the buffer starts zeroed.
        let region = Region::anonymous(total)?;
        // SAFETY: the fresh mapping is page-aligned (so aligned for H), at
        // least size_of::<H>() long, and nobody else can see it yet.
        unsafe { region.base().as_ptr().cast::<H>().write(head) };
        Ok(SharedTail {
            head: Shared {
                region: Arc::new(region),
                offset: 0,
                _value: PhantomData,
            },
            tail_at,
            tail_len,
        })
    }

    /// A handle to the object whose header is `head` and whose buffer is
    /// `tail_len` bytes at `tail_at` in the same mapping.
    ///
    /// # Safety
    ///
    /// `tail_at + tail_len` lies within `head`'s region, and the buffer
    /// overlaps no other object.
    pub(crate) unsafe fn from_parts(head: Shared<H>, tail_at: usize, tail_len: usize) -> Self {
        debug_assert!(tail_at + tail_len <= head.region.len());
        SharedTail {
            head,
            tail_at,
            tail_len,
        }
    }

    /// The header.
    pub(crate) fn head(&self) -> &Shared<H> {
        &self.head
    }

    /// The buffer's first byte, valid for [`tail_len`](Self::tail_len)
    /// bytes for as long as this handle lives.
    pub(crate) fn tail(&self) -> NonNull<u8> {
        // SAFETY: `tail_at` lies within the region (construction), so the
        // offset pointer stays inside the same mapping.
        unsafe { self.head.region.base().add(self.tail_at) }
    }

    /// The buffer's length in bytes.
    pub(crate) fn tail_len(&self) -> usize {
        self.tail_len
    }
}

impl<H: ShmSafe> Clone for SharedTail<H> {
    fn clone(&self) -> Self {
        SharedTail {
            head: self.head.clone(),
            tail_at: self.tail_at,
            tail_len: self.tail_len,
        }
    }
}

impl<H: ShmSafe> fmt::Debug for SharedTail<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTail")
            .field("tail_len", &self.tail_len)
            .finish_non_exhaustive()
    }
}
