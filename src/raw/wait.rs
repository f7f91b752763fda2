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
    // Relaxed throughout: the caller re-reads with the ordering it needs
    // once `ready` holds; the flag only decides who wakes whom.
    let mut current = word.load(Ordering::Relaxed);
    loop {
        if ready(current) {
            return None;
        }
        if current & flag != 0 {
            break;
        }
        match word.compare_exchange_weak(
            current,
            current | flag,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                current |= flag;
                break;
            }
            Err(now) => current = now,
        }
    }
    Some(cell.wait(word, current, deadline))
}
