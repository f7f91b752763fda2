//! The waiting protocol every primitive shares on top of the wait cell: the
//! sleeper-flag handshake, and the schedule on which a sleeper checks
//! whether the thread it waits for still exists.

use crate::shim::{self, AtomicU32, Deadline, Ordering, WaitCell, Wake};
use core::time::Duration;

/// When a waiter next checks whether the thread it waits on still exists:
/// 1 ms into the wait, then at doubling intervals of at most 100 ms, so a
/// death is noticed within about 100 ms at a cost of at most ten checks a
/// second. Under loom, once per death a model declared (see
/// `shim::probe_after`).
pub(crate) struct Probe {
    interval: Duration,
    at: Deadline,
    /// Deaths already probed for (loom's bookkeeping; unused otherwise).
    seen: u32,
}

impl Probe {
    const FIRST: Duration = Duration::from_millis(1);
    const MAX: Duration = Duration::from_millis(100);

    /// The schedule of a wait starting now.
    pub(crate) fn start() -> Probe {
        let mut seen = 0;
        Probe {
            interval: Probe::FIRST,
            at: shim::probe_after(Probe::FIRST, &mut seen),
            seen,
        }
    }

    /// The next check.
    pub(crate) fn at(&self) -> Deadline {
        self.at
    }

    /// Whether the next check is due; if so, schedules the one after.
    pub(crate) fn due(&mut self) -> bool {
        if !self.at.has_passed() {
            return false;
        }
        self.interval = (self.interval * 2).min(Probe::MAX);
        self.at = shim::probe_after(self.interval, &mut self.seen);
        true
    }
}

/// Announces a sleeper and sleeps: sets `flag` in `word` unless
/// `ready(word)` says there is nothing to wait for, then sleeps while the
/// word stays exactly as it was left. Returns `None` if `ready` held,
/// otherwise how the sleep ended (perhaps spuriously).
///
/// This is the sleeper side of every "waiters bit" protocol: whoever changes
/// the word next sees the bit and wakes, or the change makes the sleep
/// return at once.
pub(crate) fn sleep_flagged(
    cell: &WaitCell,
    word: &AtomicU32,
    flag: u32,
    deadline: Deadline,
    ready: impl Fn(u32) -> bool,
) -> Option<Wake> {
    let current = set_flag(word, flag, ready)?;
    Some(cell.wait(word, current, deadline))
}

/// [`sleep_flagged`] for a word that its next writer may overwrite with a
/// plain store, blind to the flag (a ring's side lock, given back by
/// `RawLock::unlock_announced`). The sleeper also sets `announce`, a word
/// the writer reads after its store, and fences heavily before it sleeps:
/// Dekker's pattern with asymmetric fences (`sys::barrier`). Either the
/// writer's light fence lets it see the announcement, and it wakes a
/// sleeper, or the heavy fence makes its store visible here, and the word
/// no longer matches: the sleep returns at once.
///
/// Where a wake-up can be missed, the sleep is capped ([`capped`]).
pub(crate) fn sleep_announced(
    cell: &WaitCell,
    word: &AtomicU32,
    flag: u32,
    announce: &AtomicU32,
    deadline: Deadline,
    ready: impl Fn(u32) -> bool,
) -> Option<Wake> {
    let current = set_flag(word, flag, ready)?;
    // Relaxed: the heavy fence orders it before the look below, and the
    // writer's light fence orders its store before its look at this.
    announce.store(1, Ordering::Relaxed);
    shim::heavy_fence();
    if word.load(Ordering::Relaxed) != current {
        // The writer's store came first: nothing to sleep on.
        return Some(Wake::Woken);
    }
    Some(cell.wait(word, current, capped(deadline)))
}

/// How long one sleep of a Dekker pair with asymmetric fences lasts at most
/// where a wake-up can be missed: the worst-case delay then.
const CAPPED_SLEEP: Duration = Duration::from_millis(10);

/// The end of a sleep whose waker fences lightly (a ring's signal, a side's
/// announced lock): `deadline`, or [`CAPPED_SLEEP`] from now if this
/// process cannot make a registered peer fence (`sys::barrier::
/// sleeps_need_cap`), whose wake-up can then be missed.
pub(crate) fn capped(deadline: Deadline) -> Deadline {
    if shim::sleeps_need_cap() {
        deadline.min(Deadline::after(CAPPED_SLEEP))
    } else {
        deadline
    }
}

/// Sets `flag` in `word` unless `ready(word)`; returns the word as left, or
/// `None` if `ready` held.
fn set_flag(word: &AtomicU32, flag: u32, ready: impl Fn(u32) -> bool) -> Option<u32> {
    // Relaxed throughout: the caller re-reads with the ordering it needs
    // once `ready` holds; the flag only decides who wakes whom.
    let mut current = word.load(Ordering::Relaxed);
    loop {
        if ready(current) {
            return None;
        }
        if current & flag != 0 {
            return Some(current);
        }
        match word.compare_exchange_weak(
            current,
            current | flag,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Some(current | flag),
            Err(now) => current = now,
        }
    }
}
