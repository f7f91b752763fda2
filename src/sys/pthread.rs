//! Waiting and waking with process-shared pthread mutexes and condition
//! variables: the portable backend.
//!
//! Each primitive carries one [`WaitCell`]: a `pthread_mutex_t` and a
//! `pthread_cond_t` made `PTHREAD_PROCESS_SHARED` (the condition variable on
//! `CLOCK_MONOTONIC`). A wait locks the mutex, re-checks the word and sleeps
//! on the condition variable; a wake locks the mutex and broadcasts. That
//! mutex is robust: a process killed while holding it (only ever for a few
//! instructions) hands `EOWNERDEAD` to the next locker, which marks it
//! consistent and goes on, since it guards no data of its own.
//!
//! `pthread_*_init` must run where the object will stay, and
//! [`WaitCell::new`] must be `const`, so a cell starts as plain bytes and is
//! initialised by whoever touches it first (the `state` word below). A raw
//! primitive on this backend must therefore not be moved after first use;
//! the `shm` layer places them once and never moves them.
//!
//! Wakes always broadcast. glibc hands a signal to a group of waiters, and a
//! waiter killed in its sleep can absorb one; waking everyone costs spurious
//! wake-ups (which every caller tolerates) but never loses one.

use super::{ident, Deadline, Wake};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU32, Ordering};

/// `state`: nobody has initialised the pthread objects yet.
const UNINIT: u32 = 0;
/// `state`: the pthread objects are ready. Any other value is the thread id
/// of the thread initialising them right now.
const READY: u32 = u32::MAX;

/// A process-shared mutex and condition variable, initialised on first use.
#[repr(C)]
pub struct WaitCell {
    /// `UNINIT`, `READY`, or the id of the initialising thread.
    state: AtomicU32,
    mutex: UnsafeCell<libc::pthread_mutex_t>,
    cond: UnsafeCell<libc::pthread_cond_t>,
}

// SAFETY: the pthread objects are process-shared synchronization objects,
// meant to be used from many threads at once; `state` orders their
// initialisation before any use.
unsafe impl Sync for WaitCell {}
// SAFETY: nothing in the cell is tied to the thread that created it.
unsafe impl Send for WaitCell {}

impl core::fmt::Debug for WaitCell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WaitCell")
            .field("ready", &(self.state.load(Ordering::Relaxed) == READY))
            .finish_non_exhaustive()
    }
}

impl Default for WaitCell {
    fn default() -> Self {
        WaitCell::new()
    }
}

/// Locks the cell's mutex on creation, unlocks on drop.
struct Held<'a>(&'a WaitCell);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: the mutex is initialised and this thread locked it.
        unsafe { libc::pthread_mutex_unlock(self.0.mutex.get()) };
    }
}

impl WaitCell {
    /// A cell in its uninitialised state; the pthread objects are built in
    /// place on first use.
    pub const fn new() -> WaitCell {
        WaitCell {
            state: AtomicU32::new(UNINIT),
            mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            cond: UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER),
        }
    }

    /// Sleeps while `*word == expected`, until woken or `deadline` passes.
    /// May return [`Wake::Woken`] spuriously.
    pub fn wait(&self, word: &AtomicU32, expected: u32, deadline: Deadline) -> Wake {
        let held = self.lock();
        // Relaxed is enough: the mutex orders this load after the waker's
        // store (the waker changes the word, then takes the mutex to wake).
        if word.load(Ordering::Relaxed) != expected {
            return Wake::Woken;
        }
        let rc = if deadline.is_never() {
            // SAFETY: both objects are initialised; this thread holds the mutex.
            unsafe { libc::pthread_cond_wait(self.cond.get(), self.mutex.get()) }
        } else {
            let (tv_sec, tv_nsec) = deadline.as_secs_nanos();
            let ts = libc::timespec {
                tv_sec: tv_sec as libc::time_t,
                tv_nsec: tv_nsec as _,
            };
            // SAFETY: as above; `ts` is an absolute CLOCK_MONOTONIC time, the
            // clock the condition variable was made with.
            unsafe { libc::pthread_cond_timedwait(self.cond.get(), self.mutex.get(), &ts) }
        };
        if rc == libc::EOWNERDEAD {
            self.make_consistent();
        }
        drop(held);
        if rc == libc::ETIMEDOUT {
            Wake::TimedOut
        } else {
            Wake::Woken
        }
    }

    /// Wakes the sleepers on `word` (all of them: see the module docs).
    pub fn wake_one(&self, word: &AtomicU32) {
        self.wake_all(word);
    }

    /// Wakes every sleeper on `word`.
    pub fn wake_all(&self, _word: &AtomicU32) {
        let held = self.lock();
        // SAFETY: the condition variable is initialised.
        unsafe { libc::pthread_cond_broadcast(self.cond.get()) };
        drop(held);
    }

    fn lock(&self) -> Held<'_> {
        self.ensure_init();
        // SAFETY: the mutex is initialised (ensure_init) and never moves
        // while in use (module docs).
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex.get()) };
        if rc == libc::EOWNERDEAD {
            self.make_consistent();
        }
        Held(self)
    }

    /// A process died holding the cell's mutex. The mutex guards no data
    /// (the word is atomic), so it is consistent as it stands.
    fn make_consistent(&self) {
        #[cfg(target_os = "linux")]
        // SAFETY: this thread holds the mutex, which reported EOWNERDEAD.
        unsafe {
            libc::pthread_mutex_consistent(self.mutex.get());
        }
    }

    #[inline]
    fn ensure_init(&self) {
        // Acquire pairs with the Release store of READY in `init_slow`, so the
        // initialised pthread objects are visible here.
        if self.state.load(Ordering::Acquire) != READY {
            self.init_slow();
        }
    }

    #[cold]
    fn init_slow(&self) {
        let me = ident::current_tid();
        let mut patience = Deadline::after(core::time::Duration::from_millis(5));
        loop {
            // Acquire: pairs with the Release store of READY below.
            let state = self.state.load(Ordering::Acquire);
            if state == READY {
                return;
            }
            let claimable =
                state == UNINIT || (patience.has_passed() && ident::thread_is_gone(state));
            if claimable
                && self
                    .state
                    .compare_exchange(state, me, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                // SAFETY: this thread owns the initialisation (the CAS above);
                // nobody uses the objects until READY is published.
                unsafe { self.init_in_place() };
                // Release: publishes the initialised objects to every
                // Acquire load of `state`.
                self.state.store(READY, Ordering::Release);
                return;
            }
            if patience.has_passed() {
                patience = Deadline::after(core::time::Duration::from_millis(5));
            }
            core::hint::spin_loop();
        }
    }

    /// # Safety
    /// The caller has exclusive use of the cell's pthread objects.
    unsafe fn init_in_place(&self) {
        let mattr = MutexAttr::process_shared_robust();
        let cattr = CondAttr::process_shared_monotonic();
        // SAFETY: the targets are valid pthread objects nobody else uses
        // (caller's promise); the attributes are initialised.
        unsafe {
            libc::pthread_mutex_init(self.mutex.get(), &mattr.0);
            libc::pthread_cond_init(self.cond.get(), &cattr.0);
        }
    }
}

/// A `pthread_mutexattr_t`, destroyed on drop.
struct MutexAttr(libc::pthread_mutexattr_t);

impl MutexAttr {
    fn process_shared_robust() -> MutexAttr {
        // SAFETY: an all-zero attribute object is valid storage for
        // pthread_mutexattr_init to fill.
        let mut attr = MutexAttr(unsafe { core::mem::zeroed() });
        // SAFETY: `attr.0` is valid storage; the setters get an initialised
        // object and constants they accept, so they cannot fail.
        unsafe {
            libc::pthread_mutexattr_init(&mut attr.0);
            libc::pthread_mutexattr_setpshared(&mut attr.0, libc::PTHREAD_PROCESS_SHARED);
            #[cfg(target_os = "linux")]
            libc::pthread_mutexattr_setrobust(&mut attr.0, libc::PTHREAD_MUTEX_ROBUST);
        }
        attr
    }
}

impl Drop for MutexAttr {
    fn drop(&mut self) {
        // SAFETY: initialised in `process_shared_robust`.
        unsafe { libc::pthread_mutexattr_destroy(&mut self.0) };
    }
}

/// A `pthread_condattr_t`, destroyed on drop.
struct CondAttr(libc::pthread_condattr_t);

impl CondAttr {
    fn process_shared_monotonic() -> CondAttr {
        // SAFETY: as for MutexAttr.
        let mut attr = CondAttr(unsafe { core::mem::zeroed() });
        // SAFETY: as for MutexAttr.
        unsafe {
            libc::pthread_condattr_init(&mut attr.0);
            libc::pthread_condattr_setpshared(&mut attr.0, libc::PTHREAD_PROCESS_SHARED);
            libc::pthread_condattr_setclock(&mut attr.0, libc::CLOCK_MONOTONIC);
        }
        attr
    }
}

impl Drop for CondAttr {
    fn drop(&mut self) {
        // SAFETY: initialised in `process_shared_monotonic`.
        unsafe { libc::pthread_condattr_destroy(&mut self.0) };
    }
}
