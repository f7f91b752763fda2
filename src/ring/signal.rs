//! `Signal`: how one side of a ring sleeps until the other side has done
//! something, without the other side paying for it when nobody sleeps.
//!
//! The word holds `bumps << 1 | SLEEPERS`. A sleeper sets `SLEEPERS`, fences
//! heavily, looks at its condition (kept elsewhere: the other side's
//! counter, a shutdown flag), and only then sleeps on the word as it left it.
//! A notifier has changed the condition, fences lightly, and looks at the
//! word: only if `SLEEPERS` is set does it clear the bit, bump the count and
//! wake every sleeper. Either the sleeper sees the change, or the notifier
//! sees the bit; the bump makes a sleep that starts after the notify return
//! at once. A sleeper that dies asleep leaves the bit set, which costs the
//! next notifier one wake-up call, once.

use crate::raw::{capped, Probe};
use crate::shim::{self, AtomicU32, Deadline, Ordering, WaitCell, Wake};

/// Bit 0: some thread may be asleep on the word.
const SLEEPERS: u32 = 1;
/// One notify that found sleepers, in bits 1..32.
const BUMP: u32 = 2;

/// A word to sleep on and a wait cell, on a cache line of the ring's
/// waiting state.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Signal {
    word: AtomicU32,
    cell: WaitCell,
}

/// How [`Signal::wait_until`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The condition held.
    Ready,
    /// The deadline passed first.
    TimedOut,
    /// The probe schedule says it is time to look for a dead peer (only
    /// when the caller asked for probes); the condition did not hold yet.
    Probe,
}

impl Signal {
    crate::shim::loom_const_fn! {
        /// Nobody sleeps.
        pub(crate) fn new() -> Signal {
            Signal {
                word: AtomicU32::new(0),
                cell: WaitCell::new(),
            }
        }
    }

    /// Waits until `ready()` holds or `deadline` passes, first spinning
    /// within the process's spin bound. With `probe`, also returns
    /// [`Waited::Probe`] whenever that schedule is due, so the caller can
    /// look for a dead peer and call again.
    pub(crate) fn wait_until(
        &self,
        deadline: Deadline,
        mut probe: Option<&mut Probe>,
        mut ready: impl FnMut() -> bool,
    ) -> Waited {
        if ready() || shim::spin_until(deadline, shim::Poll::Eager, &mut ready) {
            return Waited::Ready;
        }
        loop {
            // Announce: set the bit (Relaxed; the fence below orders it).
            let mut word = self.word.load(Ordering::Relaxed);
            while word & SLEEPERS == 0 {
                match self.word.compare_exchange_weak(
                    word,
                    word | SLEEPERS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => word |= SLEEPERS,
                    Err(now) => word = now,
                }
            }
            // The sleeper's half of the Dekker pair: the bit is visible to
            // a notifier, or its change to the condition is visible here.
            shim::heavy_fence();
            if ready() {
                // The bit stays: the next notify clears it (one spare wake).
                return Waited::Ready;
            }
            let mut until = capped(deadline);
            if let Some(probe) = probe.as_deref() {
                until = until.min(probe.at());
            }
            super::hooks::point(super::hooks::Step::Asleep);
            if self.cell.wait(&self.word, word, until) == Wake::TimedOut {
                if deadline.has_passed() {
                    return if ready() {
                        Waited::Ready
                    } else {
                        Waited::TimedOut
                    };
                }
                if let Some(probe) = probe.as_deref_mut() {
                    if probe.due() {
                        return Waited::Probe;
                    }
                }
            }
            if ready() {
                return Waited::Ready;
            }
        }
    }

    /// Wakes every sleeper, if the word says there may be some. The caller
    /// has changed what sleepers wait for; this is the notifier's half.
    #[inline]
    pub(crate) fn notify(&self) {
        shim::light_fence();
        // Relaxed: the fence above orders the caller's change before it.
        if self.word.load(Ordering::Relaxed) & SLEEPERS != 0 {
            self.wake_sleepers();
        }
    }

    /// Wakes every sleeper after a change made with a full fence already
    /// (shutdown, or a rare path): no light fence needed, and always looks.
    pub(crate) fn notify_fenced(&self) {
        if self.word.load(Ordering::Relaxed) & SLEEPERS != 0 {
            self.wake_sleepers();
        }
    }

    #[cold]
    fn wake_sleepers(&self) {
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            if word & SLEEPERS == 0 {
                return;
            }
            // Relaxed: the sleepers re-check their condition, which the
            // caller published before (ordered by the fences).
            match self.word.compare_exchange_weak(
                word,
                (word & !SLEEPERS).wrapping_add(BUMP),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        super::hooks::count_wake();
        self.cell.wake_all(&self.word);
    }

    /// Sets the sleepers bit for a sleep elsewhere (a wait on several
    /// signals at once, see `ring::multi`) and returns the word as left:
    /// the value to sleep on. The caller fences heavily and looks at its
    /// condition before it sleeps, as [`Signal::wait_until`] does.
    pub(super) fn announce(&self) -> u32 {
        // Relaxed: as in `wait_until`; the caller's fence orders it.
        let mut word = self.word.load(Ordering::Relaxed);
        while word & SLEEPERS == 0 {
            match self.word.compare_exchange_weak(
                word,
                word | SLEEPERS,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => word |= SLEEPERS,
                Err(now) => word = now,
            }
        }
        word
    }

    /// The word sleepers sleep on.
    pub(super) fn word(&self) -> &AtomicU32 {
        &self.word
    }

    /// Sleeps on this signal alone while its word is `expected` (as
    /// [`Signal::announce`] left it), until woken or `until`.
    pub(super) fn sleep(&self, expected: u32, until: Deadline) -> Wake {
        self.cell.wait(&self.word, expected, until)
    }
}
