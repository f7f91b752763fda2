//! Asymmetric fences: a nearly free one for the side that runs millions of
//! times a second, an expensive one for the side that is about to sleep.
//!
//! A ring's producer commits a message with a plain store and must then look
//! whether a consumer sleeps; the consumer, before it sleeps, announces
//! itself and must then look whether a message came. That is Dekker's
//! pattern: each side needs a full fence between its store and its load, or
//! both can miss the other and the consumer sleeps on a message. A full fence
//! costs more than the rest of a put (measured here: a two-process ring of
//! `u64`s runs at about 170 M messages/s bare, 65 M/s with a fence per put).
//!
//! So the fast side issues only a compiler fence ([`light`]) and the sleeping
//! side makes every CPU that runs a thread of a registered process execute a
//! full fence (`membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`, [`heavy`]): a
//! fast-side store that was not yet visible becomes so before the sleeper
//! looks, or the fast side's later load sees the sleeper's announcement. A
//! thread that is not running at that moment went through a context switch,
//! which is a full fence too. The sleeper pays one syscall (about 0.5 µs, and
//! an interrupt on the other CPUs), on a path that is about to pay a futex
//! sleep anyway.
//!
//! This only holds for processes registered with
//! `MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED` ([`register`], done by every
//! ring before first use; a forked child inherits it, `exec` drops it).
//! Where registration fails (kernels before 4.16, a seccomp filter, not
//! Linux) both sides use full fences, which is always correct; a sleeper in
//! such a process cannot make a registered peer fence, so it also caps its
//! sleeps (see [`sleeps_need_cap`]).

use core::sync::atomic::{compiler_fence, fence, AtomicU8, Ordering};

/// Registration state of this process.
static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);
/// [`register`] has not run in this process yet.
const UNKNOWN: u8 = 0;
/// Registered: light fences are compiler fences, heavy ones membarrier.
const ASYMMETRIC: u8 = 1;
/// Registration failed: both sides use full fences.
const SYMMETRIC: u8 = 2;

/// Registers this process for asymmetric fences, once; returns whether they
/// are in use. Every process that uses a ring calls this first.
#[inline]
pub(crate) fn register() -> bool {
    // Relaxed: a per-process setting; a racing second registration is
    // idempotent and stores the same answer.
    match STATE.load(Ordering::Relaxed) {
        ASYMMETRIC => true,
        SYMMETRIC => false,
        _ => register_now(),
    }
}

/// The first [`register`] of this process: asks the kernel.
#[cold]
#[inline(never)]
fn register_now() -> bool {
    let ok = os::register();
    STATE.store(if ok { ASYMMETRIC } else { SYMMETRIC }, Ordering::Relaxed);
    ok
}

/// The fast side's fence: orders this thread's earlier stores before its
/// later loads, as seen by a thread that issues [`heavy`].
#[inline]
pub(crate) fn light() {
    // Relaxed: the setting only ever goes from UNKNOWN to its final value
    // before the first ring operation of this process (register runs
    // first).
    if STATE.load(Ordering::Relaxed) == ASYMMETRIC {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The sleeping side's fence: a full fence here and, if asymmetric fences
/// are in use, on every CPU running a thread of a registered process.
#[cold]
pub(crate) fn heavy() {
    fence(Ordering::SeqCst);
    if STATE.load(Ordering::Relaxed) == ASYMMETRIC && !os::global_fence() {
        // The syscall failed after registration worked (it cannot, short of
        // a seccomp change at run time): stop relying on it.
        STATE.store(SYMMETRIC, Ordering::Relaxed);
    }
}

/// Whether this process's sleepers must cap their sleeps: it cannot make a
/// registered peer (whose light fence is only a compiler fence) fence, so a
/// wake-up can be missed, and only a bounded sleep finds it.
#[inline]
pub(crate) fn sleeps_need_cap() -> bool {
    STATE.load(Ordering::Relaxed) != ASYMMETRIC
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod os {
    use rustix::thread::{membarrier, membarrier_query, MembarrierCommand};

    pub(super) fn register() -> bool {
        membarrier_query().contains_command(MembarrierCommand::RegisterGlobalExpedited)
            && membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok()
    }

    pub(super) fn global_fence() -> bool {
        membarrier(MembarrierCommand::GlobalExpedited).is_ok()
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod os {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn global_fence() -> bool {
        false
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    #[test]
    fn registration_is_remembered_and_both_fences_run() {
        let first = super::register();
        assert_eq!(super::register(), first);
        assert_eq!(super::sleeps_need_cap(), !first);
        super::light();
        super::heavy();
    }
}
