//! What the queue tests share: a bitmap in shared memory sized at run time
//! (which message was received, by how many gets), a tally of shared
//! counters, and small random numbers.
#![allow(dead_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

/// `len` bits in one anonymous `MAP_SHARED` mapping: forked children set
/// them, the parent reads them. Unmapped when dropped in each process.
pub struct SharedBits {
    words: NonNull<AtomicU64>,
    len: usize,
}

// SAFETY: the mapping is shared memory of atomics, meant for every thread.
unsafe impl Send for SharedBits {}
// SAFETY: as above.
unsafe impl Sync for SharedBits {}

impl SharedBits {
    /// `len` clear bits.
    pub fn new(len: usize) -> SharedBits {
        let bytes = len.div_ceil(64).max(1) * 8;
        // SAFETY: a fresh anonymous shared mapping; no address hint, no fd.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED, "mmap of {bytes} bytes");
        SharedBits {
            words: NonNull::new(ptr.cast()).expect("mmap returned null"),
            len,
        }
    }

    fn word(&self, bit: usize) -> (&AtomicU64, u64) {
        assert!(bit < self.len, "bit {bit} of {}", self.len);
        // SAFETY: bit < len, so the word lies in the mapping, which lives
        // as long as self; zeroed memory is a valid AtomicU64.
        let word = unsafe { &*self.words.as_ptr().add(bit / 64) };
        (word, 1 << (bit % 64))
    }

    /// Sets `bit`; returns whether it was set already.
    pub fn set(&self, bit: usize) -> bool {
        let (word, mask) = self.word(bit);
        // Relaxed: the parent reads after joining the children.
        word.fetch_or(mask, Ordering::Relaxed) & mask != 0
    }

    /// Whether `bit` is set.
    pub fn get(&self, bit: usize) -> bool {
        let (word, mask) = self.word(bit);
        word.load(Ordering::Relaxed) & mask != 0
    }

    /// The bits set among the first `n`.
    pub fn count(&self, n: usize) -> usize {
        (0..n).filter(|&bit| self.get(bit)).count()
    }
}

impl Drop for SharedBits {
    fn drop(&mut self) {
        let bytes = self.len.div_ceil(64).max(1) * 8;
        // SAFETY: the mapping made in `new`, of that length.
        unsafe { libc::munmap(self.words.as_ptr().cast(), bytes) };
    }
}

/// The messages per producer of the long tests: `SHMSYNC_QUEUE_MESSAGES`,
/// or `default` (a million takes about 2 s in a debug build here).
pub fn messages(default: u64) -> u64 {
    std::env::var("SHMSYNC_QUEUE_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
