//! Copies between shared memory and private memory in word-sized atomic
//! pieces: how the lock-free [`RawValue`](crate::RawValue) and
//! [`RawArray`](crate::RawArray) read and write, so that a peer writing the
//! same bytes at the same time is a race on atomics (a torn value at
//! worst), never undefined behaviour.
//!
//! The pieces of a `T` are its *units*: `align_of::<T>()` bytes, capped at
//! 8. `size_of::<T>()` is a multiple of its alignment, so a `T` (and an
//! array of them) is a whole number of units, each aligned to its size.
//! Every access to one object uses the same unit, at the same offsets: the
//! accesses that race always have the same size and never straddle.
//!
//! All Relaxed: these copies carry no synchronization of their own (the
//! types that use them say so); each unit is read or written whole.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// The unit in which `T`s are copied: their alignment, capped at 8 bytes.
pub(crate) const fn unit_of<T>() -> usize {
    let align = std::mem::align_of::<T>();
    if align < 8 {
        align
    } else {
        8
    }
}

/// Copies `len` bytes from shared `src` to private `dst`, one atomic load
/// per `unit` bytes.
///
/// # Safety
///
/// `unit` is 1, 2, 4 or 8; `len` is a multiple of it; `src` is aligned to
/// `unit`, valid for reads of `len` bytes and written by others only
/// through atomic accesses of the same unit (or by other processes); `dst`
/// is valid for writes of `len` bytes and does not overlap `src`.
pub(crate) unsafe fn load(src: *const u8, dst: *mut u8, len: usize, unit: usize) {
    macro_rules! copy {
        ($atomic:ty, $int:ty) => {
            for at in (0..len).step_by(unit) {
                // SAFETY: `src + at` is aligned to `unit` (the size of
                // $atomic) and inside the `len` readable bytes; its other
                // accesses are atomic of the same size (caller's promise).
                let piece = unsafe { <$atomic>::from_ptr(src.add(at).cast_mut().cast::<$int>()) }
                    .load(Ordering::Relaxed);
                // SAFETY: `dst + at .. + unit` is inside the `len` writable
                // bytes; no alignment is assumed.
                unsafe { dst.add(at).cast::<$int>().write_unaligned(piece) };
            }
        };
    }
    match unit {
        8 => copy!(AtomicU64, u64),
        4 => copy!(AtomicU32, u32),
        2 => copy!(AtomicU16, u16),
        _ => copy!(AtomicU8, u8),
    }
}

/// Copies `len` bytes from private `src` to shared `dst`, one atomic store
/// per `unit` bytes.
///
/// # Safety
///
/// `unit` is 1, 2, 4 or 8; `len` is a multiple of it; `src` is valid for
/// reads of `len` bytes; `dst` is aligned to `unit`, valid for writes of
/// `len` bytes, accessed by others only through atomic accesses of the same
/// unit (or by other processes), and does not overlap `src`.
pub(crate) unsafe fn store(src: *const u8, dst: *mut u8, len: usize, unit: usize) {
    macro_rules! copy {
        ($atomic:ty, $int:ty) => {
            for at in (0..len).step_by(unit) {
                // SAFETY: `src + at .. + unit` is inside the `len` readable
                // bytes; no alignment is assumed.
                let piece = unsafe { src.add(at).cast::<$int>().read_unaligned() };
                // SAFETY: `dst + at` is aligned to `unit` and inside the
                // `len` writable bytes; its other accesses are atomic of the
                // same size (caller's promise).
                unsafe { <$atomic>::from_ptr(dst.add(at).cast::<$int>()) }
                    .store(piece, Ordering::Relaxed);
            }
        };
    }
    match unit {
        8 => copy!(AtomicU64, u64),
        4 => copy!(AtomicU32, u32),
        2 => copy!(AtomicU16, u16),
        _ => copy!(AtomicU8, u8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_alignment_up_to_a_word() {
        assert_eq!(unit_of::<u8>(), 1);
        assert_eq!(unit_of::<[u8; 3]>(), 1);
        assert_eq!(unit_of::<u16>(), 2);
        assert_eq!(unit_of::<f32>(), 4);
        assert_eq!(unit_of::<[u32; 3]>(), 4);
        assert_eq!(unit_of::<u64>(), 8);
        assert_eq!(unit_of::<u128>(), 8);
    }

    #[test]
    fn a_round_trip_keeps_every_byte_for_every_unit() {
        let mut shared = [0u64; 4];
        let at = shared.as_mut_ptr().cast::<u8>();
        let bytes: Vec<u8> = (1..=32).collect();
        for unit in [1, 2, 4, 8] {
            let mut back = [0u8; 32];
            // SAFETY: `shared` is 32 bytes, aligned to 8, and only accessed
            // through these copies; `bytes` and `back` are 32 bytes each.
            unsafe {
                store(bytes.as_ptr(), at, 32, unit);
                load(at, back.as_mut_ptr(), 32, unit);
            }
            assert_eq!(&back[..], &bytes[..], "unit {unit}");
        }
    }
}
