//! `AtomicValue<T>`: an integer or `bool` in shared memory behind a std
//! atomic, with no lock and no `&mut` access; and the traits that say which
//! `T` qualify.
//!
//! Rust's std atomics are lock-free and address-free on every platform
//! this crate builds for, so they work across processes as they do across
//! threads (crossbeam's `AtomicCell` and portable-atomic's fallback, which
//! take process-local locks, would not).

use crate::api::error::Error;
use crate::shm::{Segment, Shared, ShmSafe};
use sealed::Ops;
use std::fmt;
use std::sync::atomic::{
    AtomicBool, AtomicI16, AtomicI32, AtomicI64, AtomicI8, AtomicIsize, AtomicU16, AtomicU32,
    AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

/// The types an [`AtomicValue`] or [`AtomicArray`](crate::AtomicArray) can
/// hold: the integers up to 64 bits and `bool`, each with its std atomic.
/// Sealed: implemented here only.
///
/// # Examples
///
/// ```
/// use shmsync::{AtomicPrimitive, AtomicValue};
/// use std::sync::atomic::Ordering;
///
/// fn reset<T: AtomicPrimitive>(v: &AtomicValue<T>, to: T) {
///     v.store(to, Ordering::Release);
/// }
/// let flag = AtomicValue::new(true)?;
/// reset(&flag, false);
/// assert!(!flag.load(Ordering::Acquire));
/// # Ok::<(), shmsync::Error>(())
/// ```
pub trait AtomicPrimitive: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The std atomic holding a `Self` (`AtomicU64` for `u64`, `AtomicBool`
    /// for `bool`, ...).
    type Atomic: sealed::Ops<Self> + ShmSafe + Send + Sync;
}

/// The [`AtomicPrimitive`]s with arithmetic: every integer type (not
/// `bool`). Sealed.
///
/// # Examples
///
/// ```
/// use shmsync::{AtomicInteger, AtomicValue};
/// use std::sync::atomic::Ordering;
///
/// fn bump<T: AtomicInteger>(v: &AtomicValue<T>, by: T) -> T {
///     v.fetch_add(by, Ordering::Relaxed)
/// }
/// let n = AtomicValue::new(1i8)?;
/// assert_eq!(bump(&n, 2), 1);
/// assert_eq!(n.load(Ordering::Relaxed), 3);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub trait AtomicInteger: AtomicPrimitive + sealed::Arith {}

pub(crate) mod sealed {
    use std::sync::atomic::Ordering;

    /// Keeps [`AtomicPrimitive`](super::AtomicPrimitive) implemented here
    /// only.
    pub trait Sealed {}

    /// What every std atomic offers, named once for generic code.
    pub trait Ops<T> {
        fn new(value: T) -> Self;
        fn load(&self, order: Ordering) -> T;
        fn store(&self, value: T, order: Ordering);
        fn swap(&self, value: T, order: Ordering) -> T;
        fn compare_exchange(&self, current: T, new: T, ok: Ordering, err: Ordering)
            -> Result<T, T>;
        fn compare_exchange_weak(
            &self,
            current: T,
            new: T,
            ok: Ordering,
            err: Ordering,
        ) -> Result<T, T>;
        fn fetch_and(&self, value: T, order: Ordering) -> T;
        fn fetch_nand(&self, value: T, order: Ordering) -> T;
        fn fetch_or(&self, value: T, order: Ordering) -> T;
        fn fetch_xor(&self, value: T, order: Ordering) -> T;
    }

    /// What the integer atomics add.
    pub trait Arith: super::AtomicPrimitive {
        fn fetch_add(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
        fn fetch_sub(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
        fn fetch_max(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
        fn fetch_min(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
    }
}

macro_rules! atomic_primitive {
    ($($t:ty => $atomic:ty),* $(,)?) => { $(
        impl sealed::Sealed for $t {}

        impl AtomicPrimitive for $t {
            type Atomic = $atomic;
        }

        impl sealed::Ops<$t> for $atomic {
            #[inline]
            fn new(value: $t) -> Self {
                <$atomic>::new(value)
            }
            #[inline]
            fn load(&self, order: Ordering) -> $t {
                <$atomic>::load(self, order)
            }
            #[inline]
            fn store(&self, value: $t, order: Ordering) {
                <$atomic>::store(self, value, order)
            }
            #[inline]
            fn swap(&self, value: $t, order: Ordering) -> $t {
                <$atomic>::swap(self, value, order)
            }
            #[inline]
            fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                ok: Ordering,
                err: Ordering,
            ) -> Result<$t, $t> {
                <$atomic>::compare_exchange(self, current, new, ok, err)
            }
            #[inline]
            fn compare_exchange_weak(
                &self,
                current: $t,
                new: $t,
                ok: Ordering,
                err: Ordering,
            ) -> Result<$t, $t> {
                <$atomic>::compare_exchange_weak(self, current, new, ok, err)
            }
            #[inline]
            fn fetch_and(&self, value: $t, order: Ordering) -> $t {
                <$atomic>::fetch_and(self, value, order)
            }
            #[inline]
            fn fetch_nand(&self, value: $t, order: Ordering) -> $t {
                <$atomic>::fetch_nand(self, value, order)
            }
            #[inline]
            fn fetch_or(&self, value: $t, order: Ordering) -> $t {
                <$atomic>::fetch_or(self, value, order)
            }
            #[inline]
            fn fetch_xor(&self, value: $t, order: Ordering) -> $t {
                <$atomic>::fetch_xor(self, value, order)
            }
        }
    )* };
}

macro_rules! atomic_integer {
    ($($t:ty),* $(,)?) => { $(
        impl sealed::Arith for $t {
            #[inline]
            fn fetch_add(atomic: &Self::Atomic, value: $t, order: Ordering) -> $t {
                atomic.fetch_add(value, order)
            }
            #[inline]
            fn fetch_sub(atomic: &Self::Atomic, value: $t, order: Ordering) -> $t {
                atomic.fetch_sub(value, order)
            }
            #[inline]
            fn fetch_max(atomic: &Self::Atomic, value: $t, order: Ordering) -> $t {
                atomic.fetch_max(value, order)
            }
            #[inline]
            fn fetch_min(atomic: &Self::Atomic, value: $t, order: Ordering) -> $t {
                atomic.fetch_min(value, order)
            }
        }

        impl AtomicInteger for $t {}
    )* };
}

atomic_primitive!(
    bool => AtomicBool,
    u8 => AtomicU8, u16 => AtomicU16, u32 => AtomicU32, u64 => AtomicU64, usize => AtomicUsize,
    i8 => AtomicI8, i16 => AtomicI16, i32 => AtomicI32, i64 => AtomicI64, isize => AtomicIsize,
);
atomic_integer!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

/// An integer or `bool` in shared memory, used only through atomic
/// operations: no lock, no `&mut`, and the whole std atomic API with
/// explicit [`Ordering`]s (beyond what Python's `Value` offers).
///
/// Children forked after `AtomicValue::new` share it; clones of the handle
/// refer to the same value; unrelated processes meet through a
/// [`Segment`] ([`AtomicValue::open_in`]). A process killed in the middle
/// of an operation leaves the value as it was or as that operation left
/// it: each operation is one atomic instruction (or a compare-and-swap
/// loop, for [`fetch_update`](AtomicValue::fetch_update)).
///
/// # Examples
///
/// ```
/// use shmsync::{AtomicValue, Process};
/// use std::sync::atomic::Ordering;
///
/// let hits = AtomicValue::new(0u64)?;
/// let children = (0..4)
///     .map(|_| Process::spawn(|| {
///         for _ in 0..1000 {
///             hits.fetch_add(1, Ordering::Relaxed);
///         }
///     }))
///     .collect::<Result<Vec<_>, _>>()?;
/// for child in &children {
///     assert_eq!(child.join()?, 0);
/// }
/// assert_eq!(hits.load(Ordering::Relaxed), 4000);
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct AtomicValue<T: AtomicPrimitive> {
    cell: Shared<T::Atomic>,
}

impl<T: AtomicPrimitive> AtomicValue<T> {
    /// `value` in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    ///
    /// let ready = shmsync::AtomicValue::new(false)?;
    /// assert!(!ready.load(Ordering::Acquire));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(value: T) -> Result<AtomicValue<T>, Error> {
        Ok(AtomicValue {
            cell: Shared::new(<T::Atomic as Ops<T>>::new(value))?,
        })
    }

    /// The atomic called `name` in `segment`, made with `init` by the first
    /// process that asks. It is the same object as
    /// `segment.get_or_init(name, || AtomicU64::new(init))` would give (for
    /// `T = u64`).
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AtomicValue, Segment};
    /// use std::sync::atomic::Ordering;
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let a = AtomicValue::open_in(&segment, "seq", 0u32)?;
    /// let b = AtomicValue::<u32>::open_in(&segment, "seq", 0)?;
    /// a.fetch_add(5, Ordering::Relaxed);
    /// assert_eq!(b.load(Ordering::Relaxed), 5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, init: T) -> Result<AtomicValue<T>, Error> {
        Ok(AtomicValue {
            cell: segment.get_or_init(name, || <T::Atomic as Ops<T>>::new(init))?,
        })
    }

    /// The std atomic itself, in shared memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// let v = shmsync::AtomicValue::new(3u32)?;
    /// let atomic: &AtomicU32 = v.as_atomic();
    /// assert_eq!(atomic.load(Ordering::Relaxed), 3);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn as_atomic(&self) -> &T::Atomic {
        &self.cell
    }

    /// Loads the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    ///
    /// let v = shmsync::AtomicValue::new(-2i16)?;
    /// assert_eq!(v.load(Ordering::Acquire), -2);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn load(&self, order: Ordering) -> T {
        self.cell.load(order)
    }

    /// Stores `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    ///
    /// let v = shmsync::AtomicValue::new(0u8)?;
    /// v.store(9, Ordering::Release);
    /// assert_eq!(v.load(Ordering::Acquire), 9);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn store(&self, value: T, order: Ordering) {
        self.cell.store(value, order)
    }

    /// Stores `value` and returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering;
    ///
    /// let v = shmsync::AtomicValue::new(true)?;
    /// assert!(v.swap(false, Ordering::AcqRel));
    /// assert!(!v.load(Ordering::Acquire));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn swap(&self, value: T, order: Ordering) -> T {
        self.cell.swap(value, order)
    }

    /// Stores `new` if the value is `current`: `Ok(previous)` if it was,
    /// `Err(actual)` if not (std's `compare_exchange`).
    ///
    /// # Errors
    ///
    /// `Err(actual)` if the value was not `current`; nothing was stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::{Acquire, Relaxed};
    ///
    /// let v = shmsync::AtomicValue::new(5u32)?;
    /// assert_eq!(v.compare_exchange(5, 6, Acquire, Relaxed), Ok(5));
    /// assert_eq!(v.compare_exchange(5, 7, Acquire, Relaxed), Err(6));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn compare_exchange(
        &self,
        current: T,
        new: T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<T, T> {
        self.cell.compare_exchange(current, new, success, failure)
    }

    /// [`compare_exchange`](AtomicValue::compare_exchange) that may fail
    /// spuriously, for loops (std's `compare_exchange_weak`).
    ///
    /// # Errors
    ///
    /// `Err(actual)` if the value was not `current`, or spuriously.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::{AcqRel, Acquire};
    ///
    /// let v = shmsync::AtomicValue::new(1u64)?;
    /// let mut now = v.load(Acquire);
    /// while let Err(actual) = v.compare_exchange_weak(now, now * 10, AcqRel, Acquire) {
    ///     now = actual;
    /// }
    /// assert_eq!(v.load(Acquire), 10);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn compare_exchange_weak(
        &self,
        current: T,
        new: T,
        success: Ordering,
        failure: Ordering,
    ) -> Result<T, T> {
        self.cell
            .compare_exchange_weak(current, new, success, failure)
    }

    /// Applies `f` to the value until it stores what `f` returns (a
    /// compare-and-swap loop, as std's `fetch_update`): `Ok(previous)`, or
    /// `Err(previous)` if `f` returned `None`.
    ///
    /// # Errors
    ///
    /// `Err(previous)` if `f` returned `None`; nothing was stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
    ///
    /// let v = shmsync::AtomicValue::new(7u32)?;
    /// // Halve if even.
    /// let halve = |x: u32| (x % 2 == 0).then_some(x / 2);
    /// assert_eq!(v.fetch_update(AcqRel, Acquire, halve), Err(7));
    /// v.store(8, Release);
    /// assert_eq!(v.fetch_update(AcqRel, Acquire, halve), Ok(8));
    /// assert_eq!(v.load(Acquire), 4);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn fetch_update(
        &self,
        set_order: Ordering,
        fetch_order: Ordering,
        mut f: impl FnMut(T) -> Option<T>,
    ) -> Result<T, T> {
        let mut previous = self.cell.load(fetch_order);
        while let Some(next) = f(previous) {
            match self
                .cell
                .compare_exchange_weak(previous, next, set_order, fetch_order)
            {
                Ok(previous) => return Ok(previous),
                Err(actual) => previous = actual,
            }
        }
        Err(previous)
    }

    /// Bitwise "and" with `value`; returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let v = shmsync::AtomicValue::new(0b1100u8)?;
    /// assert_eq!(v.fetch_and(0b1010, Relaxed), 0b1100);
    /// assert_eq!(v.load(Relaxed), 0b1000);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_and(&self, value: T, order: Ordering) -> T {
        self.cell.fetch_and(value, order)
    }

    /// Bitwise "nand" with `value`; returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let v = shmsync::AtomicValue::new(true)?;
    /// assert!(v.fetch_nand(true, Relaxed));
    /// assert!(!v.load(Relaxed));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_nand(&self, value: T, order: Ordering) -> T {
        self.cell.fetch_nand(value, order)
    }

    /// Bitwise "or" with `value`; returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let flags = shmsync::AtomicValue::new(0b01u32)?;
    /// assert_eq!(flags.fetch_or(0b10, Relaxed), 0b01);
    /// assert_eq!(flags.load(Relaxed), 0b11);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_or(&self, value: T, order: Ordering) -> T {
        self.cell.fetch_or(value, order)
    }

    /// Bitwise "xor" with `value`; returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let v = shmsync::AtomicValue::new(false)?;
    /// assert!(!v.fetch_xor(true, Relaxed));
    /// assert!(v.load(Relaxed));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_xor(&self, value: T, order: Ordering) -> T {
        self.cell.fetch_xor(value, order)
    }
}

impl<T: AtomicInteger> AtomicValue<T> {
    /// Adds `value` (wrapping on overflow); returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let v = shmsync::AtomicValue::new(u8::MAX)?;
    /// assert_eq!(v.fetch_add(2, Relaxed), u8::MAX);
    /// assert_eq!(v.load(Relaxed), 1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_add(&self, value: T, order: Ordering) -> T {
        T::fetch_add(&self.cell, value, order)
    }

    /// Subtracts `value` (wrapping on overflow); returns the previous value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let v = shmsync::AtomicValue::new(10i32)?;
    /// assert_eq!(v.fetch_sub(15, Relaxed), 10);
    /// assert_eq!(v.load(Relaxed), -5);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_sub(&self, value: T, order: Ordering) -> T {
        T::fetch_sub(&self.cell, value, order)
    }

    /// Stores the larger of the value and `value`; returns the previous
    /// value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let peak = shmsync::AtomicValue::new(3u64)?;
    /// peak.fetch_max(8, Relaxed);
    /// peak.fetch_max(5, Relaxed);
    /// assert_eq!(peak.load(Relaxed), 8);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_max(&self, value: T, order: Ordering) -> T {
        T::fetch_max(&self.cell, value, order)
    }

    /// Stores the smaller of the value and `value`; returns the previous
    /// value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::Ordering::Relaxed;
    ///
    /// let low = shmsync::AtomicValue::new(3i64)?;
    /// low.fetch_min(-1, Relaxed);
    /// assert_eq!(low.load(Relaxed), -1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    #[inline]
    pub fn fetch_min(&self, value: T, order: Ordering) -> T {
        T::fetch_min(&self.cell, value, order)
    }
}

impl<T: AtomicPrimitive> Clone for AtomicValue<T> {
    fn clone(&self) -> Self {
        AtomicValue {
            cell: self.cell.clone(),
        }
    }
}

impl<T: AtomicPrimitive + fmt::Debug> fmt::Debug for AtomicValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AtomicValue")
            .field(&self.load(Ordering::Relaxed))
            .finish()
    }
}
