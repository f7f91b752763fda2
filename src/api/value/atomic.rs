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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AtomicPrimitive, AtomicValue};
    /// use std::sync::atomic::{AtomicI32, Ordering};
    ///
    /// fn std_atomic<T: AtomicPrimitive>(v: &AtomicValue<T>) -> &T::Atomic {
    ///     v.as_atomic()
    /// }
    /// let v = AtomicValue::new(-1i32)?;
    /// let atomic: &AtomicI32 = std_atomic(&v); // `<i32 as AtomicPrimitive>::Atomic`
    /// assert_eq!(atomic.fetch_add(1, Ordering::Relaxed), -1);
    /// assert_eq!(v.load(Ordering::Relaxed), 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    /// only: code outside this crate cannot name this trait, so it cannot
    /// implement `AtomicPrimitive` for a type of its own (the example does
    /// not compile, on purpose).
    ///
    /// # Examples
    ///
    /// ```compile_fail,E0277
    /// use shmsync::AtomicPrimitive;
    /// use std::sync::atomic::AtomicU32;
    ///
    /// #[derive(Clone, Copy)]
    /// struct Celsius(u32);
    ///
    /// // Refused: `Celsius` is not `Sealed`, which only this crate can implement.
    /// impl AtomicPrimitive for Celsius {
    ///     type Atomic = AtomicU32;
    /// }
    /// ```
    pub trait Sealed {}

    /// What every std atomic offers, named once for generic code in this
    /// crate. Sealed: code outside it cannot name the trait, and uses
    /// these operations through [`AtomicValue`](super::AtomicValue) and
    /// [`AtomicArray`](crate::AtomicArray).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AtomicPrimitive, AtomicValue};
    /// use std::sync::atomic::Ordering;
    ///
    /// // Generic code outside the crate reaches these operations through AtomicValue.
    /// fn take<T: AtomicPrimitive>(slot: &AtomicValue<T>, empty: T) -> T {
    ///     slot.swap(empty, Ordering::AcqRel)
    /// }
    /// let slot = AtomicValue::new(7u16)?;
    /// assert_eq!(take(&slot, 0), 7);
    /// assert_eq!(take(&slot, 0), 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub trait Ops<T> {
        /// A new atomic holding `value` (std's `new`): how
        /// [`AtomicValue::new`](super::AtomicValue::new) and
        /// [`AtomicValue::open_in`](super::AtomicValue::open_in) make theirs.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::{AtomicValue, Segment};
        /// use std::sync::atomic::Ordering;
        ///
        /// let seg = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
        /// let limit = AtomicValue::open_in(&seg, "limit", u64::MAX)?;
        /// assert_eq!(limit.load(Ordering::Relaxed), u64::MAX);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn new(value: T) -> Self;
        /// Loads the value (std's `load`): under
        /// [`AtomicValue::load`](super::AtomicValue::load) and
        /// [`AtomicArray::load`](crate::AtomicArray::load).
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::AtomicArray;
        /// use std::sync::atomic::Ordering;
        ///
        /// let a = AtomicArray::from_slice(&[1u8, 2, 3])?;
        /// assert_eq!(a.load(2, Ordering::Acquire)?, 3);
        /// assert_eq!(a.to_vec(Ordering::Acquire), [1, 2, 3]);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn load(&self, order: Ordering) -> T;
        /// Stores `value` (std's `store`): under
        /// [`AtomicValue::store`](super::AtomicValue::store) and
        /// [`AtomicArray::store`](crate::AtomicArray::store).
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::AtomicArray;
        /// use std::sync::atomic::Ordering;
        ///
        /// let flags = AtomicArray::<bool>::new(2)?;
        /// flags.store(1, true, Ordering::Release)?;
        /// assert_eq!(flags.to_vec(Ordering::Acquire), [false, true]);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn store(&self, value: T, order: Ordering);
        /// Stores `value` and returns the previous one (std's `swap`): under
        /// [`AtomicValue::swap`](super::AtomicValue::swap).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering;
        ///
        /// let v = shmsync::AtomicValue::new(1u32)?;
        /// assert_eq!(v.swap(2, Ordering::AcqRel), 1);
        /// assert_eq!(v.load(Ordering::Acquire), 2);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn swap(&self, value: T, order: Ordering) -> T;
        /// Stores `new` if the value is `current` (std's `compare_exchange`):
        /// under [`AtomicValue::compare_exchange`](super::AtomicValue::compare_exchange).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::{AcqRel, Acquire};
        ///
        /// let owner = shmsync::AtomicValue::new(0u32)?; // 0: nobody
        /// assert_eq!(owner.compare_exchange(0, 42, AcqRel, Acquire), Ok(0));
        /// assert_eq!(owner.compare_exchange(0, 7, AcqRel, Acquire), Err(42));
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn compare_exchange(&self, current: T, new: T, ok: Ordering, err: Ordering)
            -> Result<T, T>;
        /// [`compare_exchange`](Ops::compare_exchange) that may fail spuriously
        /// (std's `compare_exchange_weak`): under
        /// [`AtomicValue::compare_exchange_weak`](super::AtomicValue::compare_exchange_weak)
        /// and the loop of [`AtomicValue::fetch_update`](super::AtomicValue::fetch_update).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::{AcqRel, Acquire};
        ///
        /// let v = shmsync::AtomicValue::new(100u8)?;
        /// assert_eq!(v.fetch_update(AcqRel, Acquire, |x| x.checked_mul(2)), Ok(100));
        /// assert_eq!(v.fetch_update(AcqRel, Acquire, |x| x.checked_mul(2)), Err(200));
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn compare_exchange_weak(
            &self,
            current: T,
            new: T,
            ok: Ordering,
            err: Ordering,
        ) -> Result<T, T>;
        /// Bitwise "and" with `value`, returning the previous value (std's
        /// `fetch_and`): under [`AtomicValue::fetch_and`](super::AtomicValue::fetch_and).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let mask = shmsync::AtomicValue::new(0xF0u8)?;
        /// assert_eq!(mask.fetch_and(0x3C, Relaxed), 0xF0);
        /// assert_eq!(mask.load(Relaxed), 0x30);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_and(&self, value: T, order: Ordering) -> T;
        /// Bitwise "nand" with `value`, returning the previous value (std's
        /// `fetch_nand`): under [`AtomicValue::fetch_nand`](super::AtomicValue::fetch_nand).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let v = shmsync::AtomicValue::new(0b1100u8)?;
        /// assert_eq!(v.fetch_nand(0b1010, Relaxed), 0b1100);
        /// assert_eq!(v.load(Relaxed), !0b1000);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_nand(&self, value: T, order: Ordering) -> T;
        /// Bitwise "or" with `value`, returning the previous value (std's
        /// `fetch_or`): under [`AtomicValue::fetch_or`](super::AtomicValue::fetch_or).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let seen = shmsync::AtomicValue::new(false)?;
        /// assert!(!seen.fetch_or(true, Relaxed), "the first to get here");
        /// assert!(seen.fetch_or(true, Relaxed));
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_or(&self, value: T, order: Ordering) -> T;
        /// Bitwise "xor" with `value`, returning the previous value (std's
        /// `fetch_xor`): under [`AtomicValue::fetch_xor`](super::AtomicValue::fetch_xor).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let bits = shmsync::AtomicValue::new(0b0110u16)?;
        /// assert_eq!(bits.fetch_xor(0b0011, Relaxed), 0b0110);
        /// assert_eq!(bits.load(Relaxed), 0b0101);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_xor(&self, value: T, order: Ordering) -> T;
    }

    /// What the integer atomics add, for generic code in this crate: the
    /// arithmetic of [`AtomicValue`](super::AtomicValue) for
    /// [`AtomicInteger`](super::AtomicInteger)s.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{AtomicInteger, AtomicValue};
    /// use std::sync::atomic::Ordering;
    ///
    /// // Generic code reaches these operations through AtomicValue.
    /// fn high_water<T: AtomicInteger>(peak: &AtomicValue<T>, seen: T) {
    ///     peak.fetch_max(seen, Ordering::Relaxed);
    /// }
    /// let peak = AtomicValue::new(0usize)?;
    /// for depth in [3, 9, 4] {
    ///     high_water(&peak, depth);
    /// }
    /// assert_eq!(peak.load(Ordering::Relaxed), 9);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub trait Arith: super::AtomicPrimitive {
        /// Adds `value` to `atomic` (wrapping), returning the previous value
        /// (std's `fetch_add`): under [`AtomicValue::fetch_add`](super::AtomicValue::fetch_add).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let n = shmsync::AtomicValue::new(i8::MAX)?;
        /// assert_eq!(n.fetch_add(1, Relaxed), i8::MAX);
        /// assert_eq!(n.load(Relaxed), i8::MIN, "wraps");
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_add(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
        /// Subtracts `value` from `atomic` (wrapping), returning the previous
        /// value (std's `fetch_sub`): under
        /// [`AtomicValue::fetch_sub`](super::AtomicValue::fetch_sub).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let left = shmsync::AtomicValue::new(0u32)?;
        /// assert_eq!(left.fetch_sub(1, Relaxed), 0);
        /// assert_eq!(left.load(Relaxed), u32::MAX, "wraps");
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_sub(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
        /// Stores the larger of `atomic`'s value and `value`, returning the
        /// previous value (std's `fetch_max`): under
        /// [`AtomicValue::fetch_max`](super::AtomicValue::fetch_max).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let peak = shmsync::AtomicValue::new(-5i64)?;
        /// assert_eq!(peak.fetch_max(-7, Relaxed), -5);
        /// assert_eq!(peak.load(Relaxed), -5);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        fn fetch_max(atomic: &Self::Atomic, value: Self, order: Ordering) -> Self;
        /// Stores the smaller of `atomic`'s value and `value`, returning the
        /// previous value (std's `fetch_min`): under
        /// [`AtomicValue::fetch_min`](super::AtomicValue::fetch_min).
        ///
        /// # Examples
        ///
        /// ```
        /// use std::sync::atomic::Ordering::Relaxed;
        ///
        /// let low = shmsync::AtomicValue::new(10u16)?;
        /// assert_eq!(low.fetch_min(4, Relaxed), 10);
        /// assert_eq!(low.load(Relaxed), 4);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
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
