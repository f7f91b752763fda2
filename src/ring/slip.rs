//! Temporal slipping: when to wait a moment before looking at the other
//! side's counter.
//!
//! Each look at the other side's counter pulls its cache line to this
//! core, and the other side's next commit must take it back. A side that
//! keeps up with the other finds a few new messages (a little room) at
//! every look, and so looks every few messages: the two then meet on the
//! counter's line, and on the slot lines the faster side reads (writes)
//! right behind the slower one. A plain `put` or `get` starts with a
//! locked instruction (taking its side), which waits for every such miss
//! of the previous commit. Measured between two pinned processes (2-vCPU
//! AMD EPYC Zen 4 guest, plain `put` / `get` of `u64`s, when giving the
//! side back was a locked instruction too): a consumer that looked every
//! 6 messages held its producer to 29-33 ns a message, and a producer
//! that looked every 10 (the ring full) held its consumer to 21-24 ns.
//!
//! So a look that finds only a few messages (a little room) makes the next
//! look wait a moment first, long enough for the other side to get a batch
//! ahead, which this side then takes without looking (FastForward's
//! "temporal slipping": Giacomoni, Moseley and Vachharajani, PPoPP '08).
//! Two rules keep the pause off every path where it would only add
//! latency:
//!
//! - A look that finds nothing (an empty ring, a full one) makes the next
//!   look that finds something not count: a consumer that waits for each
//!   message (a request and its answer) finds one message after finding
//!   none, and does not slip. (One that finds its answer there at once may
//!   arm a slip; the slip then finds one message, and the next rule turns
//!   slipping off.)
//! - A slip after which the look still finds barely anything did not help
//!   (a thread that puts, then gets, finds exactly one message however
//!   long it waits): slipping is then off for [`COOLDOWN`] looks.
//!
//! With these rules the consumer above looks about once every 55
//! messages and the producer once a lap. In paired trials on the same
//! machine (old and new rules alternating in one process, 60 to 80 pairs
//! a figure), the median time a message took fell to 0.83-0.91 of the old
//! for plain `put` / `get`, 0.80-0.94 for the exclusive handles and
//! 0.86-0.90 for two producers and two consumers; a request and its
//! answer through two queues took 1.01-1.03 times as long.
//!
//! A call that must not wait (`try_put`, `try_get`) never slips
//! (`Producing::look_without_slipping`), and nothing slips once spinning is
//! turned off (`set_spin_duration(0)`).
//!
//! The state lives in the side's shared words, so a plain `get`, which
//! takes the side per message, slips as an exclusive handle does. A peer
//! can scribble on it: any value only times a pause.

use super::state::Geometry;

/// The next look does not slip.
pub(super) const IDLE: u16 = 0;
/// The next look slips first.
pub(super) const ARMED: u16 = 1;
/// The last look found nothing.
pub(super) const EMPTIED: u16 = 2;
/// After a slip that did not help, this many looks go without one (the
/// values above [`EMPTIED`] count them down).
pub(super) const COOLDOWN: u16 = 4096;

/// A look after a slip that finds at most this many messages (this much
/// room) says the slip did not help.
const NO_HELP: u32 = 1;

/// A look that finds less than this many bytes of messages (of room) finds
/// the other side barely ahead: 8 cache lines of `u64`s.
const FEW_BYTES: usize = 512;

/// How long a slip pauses, in spin hints (a hint takes from a few to about
/// 50 ns, depending on the CPU; 25 ns on the machine above): about as long
/// as a producer takes to put [`FEW_BYTES`] of `u64`s there.
const SLIP_HINTS: u32 = 32;

/// Below how many messages (bytes of room, slots) a look counts as finding
/// few, for slots (records) of `slot_size` bytes in a ring of `capacity`:
/// at most a quarter of the ring, so that a ring of fewer than 8 slots
/// never slips, and at least 2.
#[inline]
pub(super) fn few_below(slot_size: usize, capacity: u32) -> u32 {
    let slots = u32::try_from(FEW_BYTES / slot_size.max(1)).unwrap_or(u32::MAX);
    slots.max(2).min(capacity / 4)
}

/// Before a look from the state `state`: waits a moment if the slip is
/// armed, unless spinning is turned off.
#[inline]
pub(super) fn before_look(state: u16) {
    if state == ARMED {
        pause();
    }
}

#[cold]
#[inline(never)]
fn pause() {
    if crate::spin_duration().is_zero() {
        return;
    }
    for _ in 0..SLIP_HINTS {
        core::hint::spin_loop();
    }
}

/// The state after a look that found `found` messages (units of room) in a
/// ring of geometry `geo`, from the state `before` it.
#[inline]
pub(super) fn after_look(before: u16, found: u32, geo: &Geometry) -> u16 {
    // Asked only when needed: it divides.
    let few = || few_below(geo.slot_size, geo.capacity);
    match before {
        cooling @ 3.. if cooling > EMPTIED + 1 => cooling - 1,
        // The cooldown's last look: as from idle, but never arming.
        3.. if found == 0 => EMPTIED,
        3.. => IDLE,
        _ if found == 0 => EMPTIED,
        ARMED if found <= NO_HELP => COOLDOWN,
        EMPTIED => IDLE,
        _ if found < few() => ARMED,
        _ => IDLE,
    }
}

/// A state read from shared memory: clamped, never trusted.
#[inline]
pub(super) fn clamp(word: u32) -> u16 {
    word.min(u32::from(COOLDOWN)) as u16
}

/// The state for a look that must not pause first (a call that must not
/// wait): an armed slip is dropped, anything else kept.
#[cfg(feature = "std")]
#[inline]
pub(super) fn without_pause(state: u16) -> u16 {
    if state == ARMED {
        IDLE
    } else {
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_is_eight_lines_of_slots_within_a_quarter_of_the_ring() {
        assert_eq!(few_below(8, 1024), 64);
        assert_eq!(few_below(64, 1024), 8);
        assert_eq!(few_below(4096, 1024), 2, "at least two");
        assert_eq!(few_below(8, 16), 4, "a quarter of the ring");
        assert_eq!(few_below(8, 7), 1, "never: a find of less than one is none");
        assert_eq!(few_below(0, 1024), 256, "no division by zero");
    }

    /// A ring of 256 `u64`s: "a few" is below 64 (8 lines of slots, a
    /// quarter of the ring).
    fn u64_ring() -> Geometry {
        Geometry {
            capacity: 256,
            mask: 255,
            slot_size: 8,
        }
    }

    #[test]
    fn a_few_after_a_find_arms_a_few_after_none_does_not() {
        let geo = &u64_ring();
        assert_eq!(after_look(IDLE, 3, geo), ARMED);
        assert_eq!(after_look(IDLE, 64, geo), IDLE);
        assert_eq!(after_look(IDLE, 0, geo), EMPTIED);
        assert_eq!(after_look(EMPTIED, 3, geo), IDLE);
        assert_eq!(after_look(EMPTIED, 0, geo), EMPTIED);
        assert_eq!(after_look(EMPTIED, 1000, geo), IDLE);
    }

    #[test]
    fn a_slip_stays_armed_while_it_helps_and_cools_down_when_it_does_not() {
        let geo = &u64_ring();
        assert_eq!(after_look(ARMED, 30, geo), ARMED, "helped, still close");
        assert_eq!(after_look(ARMED, 64, geo), IDLE, "a batch");
        assert_eq!(after_look(ARMED, 0, geo), EMPTIED, "the other side stopped");
        assert_eq!(after_look(ARMED, NO_HELP, geo), COOLDOWN);
        let mut state = COOLDOWN;
        let mut looks = 0;
        while state != IDLE {
            // Whatever the looks find meanwhile.
            state = after_look(state, looks % 3, geo);
            looks += 1;
        }
        assert_eq!(looks, u32::from(COOLDOWN - EMPTIED));
        assert_eq!(
            after_look(EMPTIED + 1, 0, geo),
            EMPTIED,
            "an empty last look"
        );
        assert_eq!(after_look(EMPTIED + 1, 3, geo), IDLE, "never arms");
    }

    #[test]
    fn a_scribbled_state_is_clamped() {
        assert_eq!(clamp(u32::MAX), COOLDOWN);
        assert_eq!(clamp(u32::from(ARMED)), ARMED);
    }
}
