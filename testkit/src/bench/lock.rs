//! One trait to drive every lock the benches compare, and a counter only
//! the lock protects.

use shmsync::raw::RawLock;
use shmsync::ShmSafe;
use std::cell::UnsafeCell;

/// A lock the benches can drive: acquire, then give that hold back on the
/// same thread (what a guard does).
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawLock;
/// use shmsync::Shared;
/// use shmsync_testkit::BenchLock;
///
/// let lock = Shared::new(RawLock::new()).expect("mmap");
/// let hold = BenchLock::lock(&*lock);
/// BenchLock::unlock(&*lock, hold);
/// ```
pub trait BenchLock: ShmSafe {
    /// What `lock` hands to `unlock`: the hold, for locks that have one.
    type Hold: Copy;
    /// Acquires the lock, blocking as long as it takes.
    fn lock(&self) -> Self::Hold;
    /// Releases the hold `lock` returned.
    fn unlock(&self, hold: Self::Hold);

    /// One acquisition and release, the way a guard does it.
    #[inline]
    fn cycle(&self) {
        let hold = self.lock();
        self.unlock(hold);
    }
}

impl BenchLock for RawLock {
    type Hold = shmsync::raw::LockHold;

    #[inline]
    fn lock(&self) -> Self::Hold {
        // A bench never kills a holder: the outcome is always Clean.
        RawLock::lock(self).hold
    }

    #[inline]
    fn unlock(&self, hold: Self::Hold) {
        RawLock::unlock(self, hold).expect("unlock of the current hold");
    }
}

/// A lock and the plain (non-atomic) counter it guards, side by side as in
/// `lock_api::Mutex<RawLock, u64>`: only the lock keeps increments from
/// being lost.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawLock;
/// use shmsync::Shared;
/// use shmsync_testkit::{Guarded, Padded};
///
/// let shared = Shared::new(Padded(Guarded::new(RawLock::new()))).expect("mmap");
/// shared.0.bump();
/// shared.0.bump();
/// assert_eq!(shared.0.get(), 2);
/// ```
#[repr(C)]
pub struct Guarded<L> {
    /// The lock under test.
    pub lock: L,
    counter: UnsafeCell<u64>,
}

// SAFETY: the counter is only touched while `lock` is held (`bump`, `get`,
// `reset` all take it).
unsafe impl<L: Sync> Sync for Guarded<L> {}
// SAFETY: a ShmSafe lock and a u64: no pointers, any counter bytes valid,
// no Drop.
unsafe impl<L: ShmSafe> ShmSafe for Guarded<L> {}

impl<L: BenchLock> Guarded<L> {
    /// `lock` with a zero counter.
    pub fn new(lock: L) -> Guarded<L> {
        Guarded {
            lock,
            counter: UnsafeCell::new(0),
        }
    }

    /// Takes the lock, adds one to the counter, releases the lock.
    #[inline]
    pub fn bump(&self) {
        let hold = self.lock.lock();
        // SAFETY: the lock is held, so no other thread or process touches
        // the counter; its Acquire/Release orders the accesses.
        unsafe { *self.counter.get() += 1 };
        self.lock.unlock(hold);
    }

    /// Reads the counter under the lock.
    pub fn get(&self) -> u64 {
        let hold = self.lock.lock();
        // SAFETY: under the lock, as in `bump`.
        let n = unsafe { *self.counter.get() };
        self.lock.unlock(hold);
        n
    }

    /// Sets the counter to zero under the lock.
    pub fn reset(&self) {
        let hold = self.lock.lock();
        // SAFETY: under the lock, as in `bump`.
        unsafe { *self.counter.get() = 0 };
        self.lock.unlock(hold);
    }
}
