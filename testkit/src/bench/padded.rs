//! A value on cache lines of its own.

use shmsync::ShmSafe;

/// Pads and aligns `T` to its own pair of cache lines (adjacent-line
/// prefetch pulls lines in pairs on x86), so that polling one shared value
/// does not disturb its neighbours.
///
/// # Examples
///
/// ```
/// use shmsync::Shared;
/// use shmsync_testkit::Padded;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// let ball = Shared::new(Padded(AtomicU64::new(0))).expect("mmap");
/// ball.0.store(1, Ordering::Relaxed);
/// assert_eq!(std::mem::align_of_val(&*ball), 128);
/// ```
#[repr(C, align(128))]
pub struct Padded<T>(pub T);

// SAFETY: `T` plus padding bytes, which nobody reads.
unsafe impl<T: ShmSafe> ShmSafe for Padded<T> {}
