//! A process-shared pthread mutex: the lock shmsync's `RawLock` replaces.
//!
//! It is placed in a [`Shared`] mapping (`MAP_SHARED`) and initialised
//! there, in place: a pthread mutex must never move once initialised. Its
//! `pthread_mutex_destroy` never runs (`Shared` runs no destructors), which
//! is harmless on Linux, where a process-shared mutex owns no kernel
//! resources.

use super::{fail, BenchLock};
use shmsync::{Shared, ShmSafe};
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;

/// What kind of pthread mutex to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexKind {
    /// `PTHREAD_PROCESS_SHARED`, default type, not robust.
    Pshared,
    /// `PTHREAD_PROCESS_SHARED` and `PTHREAD_MUTEX_ROBUST`: a holder's death
    /// is reported (`EOWNERDEAD`), shmsync's `RawLock` contract.
    Robust,
}

/// A `pthread_mutexattr_t` on the caller's stack, destroyed when the guard
/// drops. The attribute object never moves while initialised.
struct MutexAttrGuard(*mut libc::pthread_mutexattr_t);

impl Drop for MutexAttrGuard {
    fn drop(&mut self) {
        // SAFETY: the pointer is to an attribute object that
        // pthread_mutexattr_init initialised (the guard is only made after
        // it succeeded) and that outlives the guard.
        unsafe { libc::pthread_mutexattr_destroy(self.0) };
    }
}

/// A process-shared `pthread_mutex_t`, meant to live in a [`Shared`]
/// mapping and to be initialised there with [`PthreadMutex::init`].
///
/// # Examples
///
/// ```
/// use shmsync_testkit::{BenchLock, MutexKind, PthreadMutex};
///
/// let mutex = PthreadMutex::new_shared(MutexKind::Robust);
/// let hold = mutex.lock();
/// mutex.unlock(hold);
/// ```
#[repr(C)]
pub struct PthreadMutex(UnsafeCell<libc::pthread_mutex_t>);

// SAFETY: a pthread mutex is made for concurrent use through its own API;
// this type only touches it through pthread_mutex_* calls.
unsafe impl Sync for PthreadMutex {}
// SAFETY: a process-shared pthread mutex is plain bytes without pointers
// (glibc's robust-list links live in the holding thread, not in the mutex),
// needs no Drop on Linux, and is used in place, never moved after `init`.
unsafe impl ShmSafe for PthreadMutex {}

impl PthreadMutex {
    /// Zeroed bytes, to be placed in shared memory and then [`init`]ed.
    ///
    /// [`init`]: PthreadMutex::init
    pub const fn zeroed() -> PthreadMutex {
        // SAFETY: pthread_mutex_t is a C union of integers, for which all
        // zero bytes are a valid value (glibc's PTHREAD_MUTEX_INITIALIZER).
        PthreadMutex(UnsafeCell::new(unsafe { std::mem::zeroed() }))
    }

    /// A mutex of `kind` in its own shared mapping, initialised in place.
    ///
    /// # Panics
    ///
    /// If the mapping cannot be made or the mutex cannot be initialised.
    pub fn new_shared(kind: MutexKind) -> Shared<PthreadMutex> {
        let m = Shared::new(PthreadMutex::zeroed()).expect("mmap");
        // SAFETY: the mapping was just made; nobody else uses it yet, and
        // the mutex never moves out of it.
        unsafe { m.init(kind) };
        m
    }

    /// Initialises the mutex where it lies.
    ///
    /// # Safety
    ///
    /// No thread or process is using the mutex, and it will not move (it
    /// lives in a mapping) while anyone uses it afterwards.
    ///
    /// # Panics
    ///
    /// If a pthread call fails.
    pub unsafe fn init(&self, kind: MutexKind) {
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: `attr` is writable memory for an attribute object.
        let rc = unsafe { libc::pthread_mutexattr_init(attr.as_mut_ptr()) };
        if rc != 0 {
            fail("pthread_mutexattr_init", rc);
        }
        let guard = MutexAttrGuard(attr.as_mut_ptr());
        // SAFETY: the attribute object is initialised (above) and stays on
        // this frame, unmoved, until the guard destroys it.
        let rc =
            unsafe { libc::pthread_mutexattr_setpshared(guard.0, libc::PTHREAD_PROCESS_SHARED) };
        if rc != 0 {
            fail("pthread_mutexattr_setpshared", rc);
        }
        if kind == MutexKind::Robust {
            // SAFETY: as above.
            let rc =
                unsafe { libc::pthread_mutexattr_setrobust(guard.0, libc::PTHREAD_MUTEX_ROBUST) };
            if rc != 0 {
                fail("pthread_mutexattr_setrobust", rc);
            }
        }
        // SAFETY: the mutex memory is valid and unused (caller's promise);
        // the attribute object is initialised.
        let rc = unsafe { libc::pthread_mutex_init(self.0.get(), guard.0) };
        if rc != 0 {
            fail("pthread_mutex_init", rc);
        }
    }

    /// A robust mutex whose holder died: take it over like a `RawLock`
    /// waiter would. Benches kill no holder, so this does not happen.
    #[cold]
    #[inline(never)]
    fn lock_failed(&self, rc: i32) {
        if rc != libc::EOWNERDEAD {
            fail("pthread_mutex_lock", rc);
        }
        // SAFETY: EOWNERDEAD means the calling thread now holds the robust
        // mutex, which is what pthread_mutex_consistent requires.
        let rc = unsafe { libc::pthread_mutex_consistent(self.0.get()) };
        if rc != 0 {
            fail("pthread_mutex_consistent", rc);
        }
    }
}

impl BenchLock for PthreadMutex {
    type Hold = ();

    #[inline]
    fn lock(&self) {
        // SAFETY: the mutex was initialised in place (`init`) and has not
        // moved since; pthread mutexes are for concurrent use.
        let rc = unsafe { libc::pthread_mutex_lock(self.0.get()) };
        if rc != 0 {
            self.lock_failed(rc);
        }
    }

    #[inline]
    fn unlock(&self, (): ()) {
        // SAFETY: as in `lock`; the calling thread holds the mutex
        // (BenchLock's contract).
        let rc = unsafe { libc::pthread_mutex_unlock(self.0.get()) };
        if rc != 0 {
            fail("pthread_mutex_unlock", rc);
        }
    }
}
