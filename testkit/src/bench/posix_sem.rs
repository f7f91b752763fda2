//! A process-shared POSIX semaphore used as a lock: what Python's
//! `multiprocessing.Lock` is on Linux.
//!
//! Like [`PthreadMutex`](crate::PthreadMutex), it is initialised in place in
//! a [`Shared`] mapping and never moves; its `sem_destroy` never runs,
//! which is harmless on Linux, where it owns no kernel resources.

use super::{fail_errno, BenchLock};
use shmsync::{Shared, ShmSafe};
use std::cell::UnsafeCell;

/// A process-shared POSIX semaphore used as a lock (initial value 1).
///
/// # Examples
///
/// ```
/// use shmsync_testkit::{BenchLock, PosixSem};
///
/// let sem = PosixSem::new_shared();
/// let hold = sem.lock();
/// sem.unlock(hold);
/// ```
#[repr(C)]
pub struct PosixSem(UnsafeCell<libc::sem_t>);

// SAFETY: a semaphore is made for concurrent use through its own API; this
// type only touches it through sem_* calls.
unsafe impl Sync for PosixSem {}
// SAFETY: a process-shared sem_t is plain integers (no pointers), needs no
// Drop on Linux, and is used in place, never moved after `init`.
unsafe impl ShmSafe for PosixSem {}

impl PosixSem {
    /// Zeroed bytes, to be placed in shared memory and then [`init`]ed.
    ///
    /// [`init`]: PosixSem::init
    pub const fn zeroed() -> PosixSem {
        // SAFETY: sem_t is a C union of integers; all zero bytes are a
        // valid (if not yet initialised) value of it.
        PosixSem(UnsafeCell::new(unsafe { std::mem::zeroed() }))
    }

    /// A semaphore with value 1 in its own shared mapping.
    ///
    /// # Panics
    ///
    /// If the mapping cannot be made or the semaphore cannot be
    /// initialised.
    pub fn new_shared() -> Shared<PosixSem> {
        let s = Shared::new(PosixSem::zeroed()).expect("mmap");
        // SAFETY: the mapping was just made; nobody else uses it yet, and
        // the semaphore never moves out of it.
        unsafe { s.init(1) };
        s
    }

    /// Initialises the semaphore where it lies, process-shared, with
    /// `value`.
    ///
    /// # Safety
    ///
    /// No thread or process is using the semaphore, and it will not move
    /// while anyone uses it afterwards.
    ///
    /// # Panics
    ///
    /// If `sem_init` fails.
    pub unsafe fn init(&self, value: u32) {
        // SAFETY: valid, unused memory for a sem_t (caller's promise);
        // pshared = 1 because it lives in a MAP_SHARED mapping.
        let rc = unsafe { libc::sem_init(self.0.get(), 1, value) };
        if rc != 0 {
            fail_errno("sem_init");
        }
    }
}

impl BenchLock for PosixSem {
    type Hold = ();

    #[inline]
    fn lock(&self) {
        loop {
            // SAFETY: the semaphore was initialised in place (`init`) and
            // has not moved since; semaphores are for concurrent use.
            if unsafe { libc::sem_wait(self.0.get()) } == 0 {
                return;
            }
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                fail_errno("sem_wait");
            }
        }
    }

    #[inline]
    fn unlock(&self, (): ()) {
        // SAFETY: as in `lock`.
        if unsafe { libc::sem_post(self.0.get()) } != 0 {
            fail_errno("sem_post");
        }
    }
}
