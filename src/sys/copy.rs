//! Copies into and out of ring buffers: small ones in place, large ones
//! around the caches.
//!
//! A ring's record header and a small message are a few bytes: a call to
//! `memcpy` costs more than the copy, so copies of up to 16 bytes are two
//! loads and two stores each.
//!
//! A large message written with ordinary stores first takes every line of
//! the ring from the reader's cache (which read it one lap earlier), then
//! leaves it dirty in the writer's cache, from where the reader must fetch
//! it again: each line crosses between the cores twice and the two copies
//! compete for the same lines. Non-temporal stores write the lines to
//! memory without taking them (x86-64's `movntdq`), and the reader then
//! reads them from memory at full speed.
//!
//! Measured on the 2-vCPU AMD EPYC (Zen 4) guest, between two processes,
//! through a 256 KiB ring:
//!
//! - 64 KiB messages: 6.5 GB/s with ordinary stores, 10.5-10.9 with
//!   streaming ones (a 1 MiB ring, which the caches no longer hold,
//!   reaches the same with either);
//! - 4 KiB messages (`ByteQueue`, the time per message): 450-490 ns
//!   streamed against 480-540 with ordinary stores while a cache line
//!   crosses between the two vCPUs in 65-95 ns; 590-655 ns against
//!   1,840-2,050 whenever the host places them where it takes 320-340 ns
//!   (runs alternating for five minutes, the socketpair at 1.65-2.5 µs
//!   throughout). 8 KiB messages: 600-620 ns against 1,000-1,030, and
//!   820 against 3,860;
//! - 2 KiB messages: 385-395 ns streamed against 276-302 with ordinary
//!   stores in the fast placement (a streamed copy pays for its trip
//!   through memory whatever its size), 543 against 1,154 in the slow
//!   one.
//!
//! So copies of at least [`STREAM_BYTES`], a page, stream: below that a
//! message is better left in the cache for a reader that comes soon.
//!
//! The price is paid by a reader that waits for each message: a 4 KiB
//! message there and back through a `Pipe` takes 2.2-2.4 µs streamed
//! against 1.5-1.7 with ordinary stores in the fast placement (8 KiB: 3.1
//! against 2.7; 16 KiB: 4.8 against 5.3, streaming ahead), but 3.1-3.6 µs
//! against 5.5-6.2 in the slow one, where this host had the two vCPUs in
//! 10-17% of the samples.
//!
//! Streaming stores are weakly ordered: [`copy_into_ring`] ends with a
//! store fence, so that the ring's commit (a Release store) cannot become
//! visible before them. On other architectures every copy is ordinary.

/// The smallest copy into a ring that bypasses the caches.
pub(crate) const STREAM_BYTES: usize = 4096;

/// Copies `len` bytes from `src` into a ring buffer of `ring` bytes at
/// `dst`; the copy is complete and ordered before the caller's later stores
/// (its commit).
///
/// A copy streams only if the ring is at least four times larger: in a
/// tighter ring the reader has just read the lines the writer is about to
/// fill, and a streaming store to a line another core holds is slow
/// (measured: 64 KiB messages through a 64 KiB ring, in 32 KiB pieces, at
/// 1.9 GB/s streamed, 7.5 GB/s with ordinary stores).
///
/// # Safety
///
/// As `core::ptr::copy_nonoverlapping(src, dst, len)`.
#[inline(always)]
pub(crate) unsafe fn copy_into_ring(src: *const u8, dst: *mut u8, len: usize, ring: usize) {
    if len >= STREAM_BYTES && ring / 4 >= len {
        // SAFETY: the caller's promise, passed on.
        unsafe { streaming(src, dst, len) }
    } else {
        // SAFETY: the caller's promise, passed on.
        unsafe { copy(src, dst, len) }
    }
}

/// Copies `len` bytes out of a ring buffer (or anywhere else).
///
/// # Safety
///
/// As `core::ptr::copy_nonoverlapping(src, dst, len)`.
#[inline(always)]
pub(crate) unsafe fn copy(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: each access lies within the first `len` bytes of `src` or
    // `dst` (the two halves of an 8..=16 or 4..8 byte copy overlap when
    // `len` is not twice their size), which the caller vouches for, as for
    // their not overlapping; every access is unaligned.
    unsafe {
        if (8..=16).contains(&len) {
            let head = src.cast::<u64>().read_unaligned();
            let tail = src.add(len - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(head);
            dst.add(len - 8).cast::<u64>().write_unaligned(tail);
        } else if (4..8).contains(&len) {
            let head = src.cast::<u32>().read_unaligned();
            let tail = src.add(len - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(head);
            dst.add(len - 4).cast::<u32>().write_unaligned(tail);
        } else {
            core::ptr::copy_nonoverlapping(src, dst, len);
        }
    }
}

/// Asks the CPU to bring the line at `ptr` into this core's caches: a hint,
/// which never faults, whatever `ptr` is.
#[inline(always)]
pub(crate) fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program can see and does not
    // fault on any address; SSE is part of x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(ptr.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Asks the CPU to bring the line at `ptr` into this core's cache for
/// writing (taking it from other cores' caches now rather than at the
/// store): a hint, which never faults. Where the CPU has no such prefetch
/// (x86-64's `prefetchw`, a CPUID flag), nothing.
#[inline(always)]
pub(crate) fn prefetch_write(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    if has_prefetchw() {
        // SAFETY: a prefetch reads nothing the program can see, does not
        // fault on any address and, on x86, orders with nothing; the CPU
        // has the instruction (checked just above).
        unsafe {
            core::arch::asm!(
                "prefetchw [{0}]",
                in(reg) ptr,
                options(nostack, preserves_flags, readonly)
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Whether this CPU has `prefetchw` (CPUID 8000_0001h, ECX bit 8): asked
/// once, then remembered.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_prefetchw() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};
    /// 0: not asked yet; 1: yes; 2: no.
    static PREFETCHW: AtomicU8 = AtomicU8::new(0);
    // Relaxed: a fact about the CPU; racing first askers store the same.
    match PREFETCHW.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = ask_cpuid();
            PREFETCHW.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

/// The CPUID question behind [`has_prefetchw`].
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
fn ask_cpuid() -> bool {
    use core::arch::x86_64::__cpuid;
    // Every x86-64 CPU has CPUID; leaf 8000_0001h is asked only when the
    // highest extended leaf (leaf 8000_0000h) says it exists.
    __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0
}

/// A large copy with non-temporal stores, then a store fence.
///
/// # Safety
///
/// As `core::ptr::copy_nonoverlapping(src, dst, len)`.
#[cfg(target_arch = "x86_64")]
#[cold]
#[inline(never)]
unsafe fn streaming(src: *const u8, dst: *mut u8, len: usize) {
    use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_sfence, _mm_stream_si128};
    // Up to the first 16-byte boundary of `dst`, ordinarily.
    let head = dst.align_offset(16).min(len);
    // SAFETY: the first `head <= len` bytes of both, which the caller
    // vouches for.
    unsafe { core::ptr::copy_nonoverlapping(src, dst, head) };
    let mut done = head;
    while len - done >= 64 {
        // SAFETY: bytes `done..done + 64` of both lie within the first
        // `len`; `dst + done` is 16-byte aligned (`done - head` is a
        // multiple of 16), as `_mm_stream_si128` needs; the loads are
        // unaligned. SSE2 is part of x86-64.
        unsafe {
            let from = src.add(done).cast::<__m128i>();
            let to = dst.add(done).cast::<__m128i>();
            let (a, b) = (_mm_loadu_si128(from), _mm_loadu_si128(from.add(1)));
            let (c, d) = (_mm_loadu_si128(from.add(2)), _mm_loadu_si128(from.add(3)));
            _mm_stream_si128(to, a);
            _mm_stream_si128(to.add(1), b);
            _mm_stream_si128(to.add(2), c);
            _mm_stream_si128(to.add(3), d);
        }
        done += 64;
    }
    // SAFETY: the last `len - done` bytes of both; then the fence orders
    // the streaming stores before every later store of this thread.
    unsafe {
        core::ptr::copy_nonoverlapping(src.add(done), dst.add(done), len - done);
        _mm_sfence();
    }
}

/// Elsewhere, an ordinary copy.
///
/// # Safety
///
/// As `core::ptr::copy_nonoverlapping(src, dst, len)`.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn streaming(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: the caller's promise, passed on.
    unsafe { core::ptr::copy_nonoverlapping(src, dst, len) }
}

#[cfg(test)]
mod tests {
    use super::{copy, copy_into_ring, STREAM_BYTES};

    /// Bytes that differ at every position (a copy off by one shows).
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| {
                (i as u8)
                    .wrapping_mul(31)
                    .wrapping_add(seed ^ (i >> 8) as u8)
            })
            .collect()
    }

    #[test]
    fn every_length_and_misalignment_copies_exactly_its_bytes() {
        let lens = [
            0,
            1,
            3,
            4,
            5,
            7,
            8,
            9,
            15,
            16,
            17,
            63,
            64,
            65,
            4095,
            4096,
            STREAM_BYTES - 1,
            STREAM_BYTES,
            STREAM_BYTES + 17,
            65536,
            65536 + 40,
        ];
        let ring = 4 * (65536 + 64);
        for &len in &lens {
            for (src_off, dst_off) in [(0, 0), (1, 0), (0, 8), (3, 13), (16, 40), (63, 1)] {
                let src = pattern(len + src_off, len as u8);
                let mut dst = vec![0xeeu8; len + dst_off + 32];
                // SAFETY: both ranges are within their vectors, which do
                // not overlap.
                unsafe {
                    copy_into_ring(
                        src[src_off..].as_ptr(),
                        dst[dst_off..].as_mut_ptr(),
                        len,
                        ring,
                    )
                };
                assert_eq!(&dst[dst_off..dst_off + len], &src[src_off..], "len {len}");
                assert!(
                    dst[..dst_off].iter().all(|&b| b == 0xee),
                    "before, len {len}"
                );
                assert!(
                    dst[dst_off + len..].iter().all(|&b| b == 0xee),
                    "after, len {len}"
                );
                let mut back = vec![0u8; len];
                // SAFETY: as above.
                unsafe { copy(dst[dst_off..].as_ptr(), back.as_mut_ptr(), len) };
                assert_eq!(back, &src[src_off..]);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_prefetchw_check_agrees_with_the_kernel_and_the_prefetches_are_harmless() {
        // The kernel's name for the flag is `3dnowprefetch`.
        if let Ok(cpuinfo) = std::fs::read_to_string("/proc/cpuinfo") {
            let flags = cpuinfo.lines().find(|l| l.starts_with("flags"));
            let listed = flags.is_some_and(|l| l.split_whitespace().any(|f| f == "3dnowprefetch"));
            assert_eq!(super::has_prefetchw(), listed);
        }
        // Hints on any address, mapped or not, change nothing and never fault.
        let bytes = [7u8; 64];
        for ptr in [bytes.as_ptr(), core::ptr::null(), usize::MAX as *const u8] {
            super::prefetch(ptr);
            super::prefetch_write(ptr);
        }
        assert_eq!(bytes, [7u8; 64]);
    }

    #[test]
    fn a_copy_too_large_for_a_quarter_of_the_ring_is_still_exact() {
        // The tight-ring case takes the ordinary path; same bytes either way.
        let src = pattern(STREAM_BYTES * 2 + 5, 9);
        let mut dst = vec![0u8; src.len()];
        // SAFETY: both vectors hold `src.len()` bytes and do not overlap.
        unsafe { copy_into_ring(src.as_ptr(), dst.as_mut_ptr(), src.len(), src.len()) };
        assert_eq!(dst, src);
    }
}
