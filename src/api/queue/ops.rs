//! The put and get loops every queue shares: take a side (or use one held
//! already), try, wait for room or data, try again.

use super::error::{GetError, PutError};
use super::shared::{Ring, Wait};
use crate::ring::{Consuming, Producing, RingError};
use crate::Deadline;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How long a non-blocking call that found the side held by a dead thread
/// waits for the lock to notice (its first probe comes after 1 ms).
const TAKE_OVER: Duration = Duration::from_millis(20);

/// Whether the thread a busy side's lock names is gone: a non-blocking
/// call never sleeps long enough for the lock's own probe, so it asks once
/// (a system call), and only after the side stayed held for the spin
/// bound. Without this, a process that only ever calls `try_put` would
/// find the side of a producer killed holding it busy for ever.
#[cold]
fn holder_is_gone(holder: Option<u32>) -> bool {
    holder.is_some_and(crate::shim::thread_is_gone)
}

/// The first pause, in spin hints, once the ring is found full (empty).
const MIN_BACKOFF: u32 = 16;
/// The pause between two looks of an eager wait for data, in spin hints
/// (see [`Pace`]).
const EAGER_BACKOFF: u32 = 1;
/// How many looks an eager wait makes [`EAGER_BACKOFF`] apart before its
/// pauses double (about 1.6 µs where a hint takes 25 ns).
const EAGER_LOOKS: u32 = 64;
/// A timed eager wait reads the clock once every this many steady looks.
const CLOCK_EVERY: u32 = 16;
/// The longest pause before an eager get's first look, in spin hints (see
/// [`Pace`]).
const MAX_HOLD_OFF: u32 = 4;
/// Every this many eager waits in a row, one batches instead (see
/// [`Pace`]).
const PROBE_EVERY: u32 = 16;
/// The longest pause, in spin hints, between two looks at the other side's
/// counter before a put (get) goes to wait on the ring's signal.
const MAX_BACKOFF: u32 = 64;

/// Then how many times it gives its CPU away (`sched_yield`) between two
/// looks, before the ring's wait.
const YIELDS: u32 = 16;

/// How a handle's gets wait for data: whether a wait looks early.
///
/// A wait that ended with one message alone (nothing known behind it)
/// makes the next wait eager; a wait that met a batch makes the next one
/// batch again (look after 16, 32, then 64 hints). An eager get:
///
/// - pauses a moment before its first look, when its side knows of no
///   message: up to [`MAX_HOLD_OFF`] hints, one more after each eager
///   wait, half as many after a first look that found data at once (a
///   get that comes when its answer is already there soon pauses no
///   more);
/// - then, if it must wait, looks after every hint, [`EAGER_LOOKS`] times,
///   before its pauses double.
///
/// A get that looks right after its process put the request finds nothing
/// yet, and pulls the answer's counter line away from the process that is
/// about to write it; a doubling pause then often looks long after the
/// answer came (looks 1, 3, 7, 15 hints in). Both cost a round trip about
/// a third of its time.
///
/// Where a stream runs, eager looks can slow its producer to one message
/// per look (each look costs the producer a cache miss at its next
/// commit), which looks like a request and its answer; so every
/// [`PROBE_EVERY`]th eager wait in a row batches, and a stream shows
/// itself there by a batch.
///
/// A message of any length counts: a long one takes no longer to copy than
/// a batching wait overshoots it. Through two `ByteQueue`s, one message
/// there and back took 1,270-1,390 ns at 512 bytes while only messages of
/// up to 256 bytes turned waits eager, 520-580 with every length; 1,430-
/// 1,480 ns at 1 KiB against 695-725; 3.7 µs at 4 KiB against 2.3; 5.2-5.3
/// µs at 16 KiB against 4.7-4.9. 64 KiB moved by less than the noise, and
/// so did streams of 512 bytes to 64 KiB (alternating runs on the guest
/// below).
///
/// Measured with `cargo bench --bench queue -- roundtrip_u64` (two pinned
/// processes, a `u64` each way through two queues) on a 2-vCPU AMD EPYC
/// (Zen 4) guest, where a hint takes 25 ns and a cache line crosses and
/// comes back in about 65 ns: eager waits that looked after 1, 2, 4, ...
/// hints (no pause first) took exclusive handles from 693-773 ns a round
/// trip to 192-218, plain `put` / `get` from 842-861 ns to 291-315. The
/// pause first and the steady looks then took them from 247 ns to 176,
/// and from 402 ns to 276 (medians of 30 runs of each build, interleaved;
/// 0.74 and 0.70 of the time, run by run), and left streams as fast.
///
/// Each handle keeps its pace in its own process: it says how that process
/// uses the queue. The word's low 16 bits are 0 while gets batch, else the
/// number of eager waits in a row; the bits above, the hints to pause
/// before an eager get's first look. A clone starts from its original's.
#[derive(Debug, Default)]
pub(crate) struct Pace(AtomicU32);

/// The bits of a [`Pace`] word that count eager waits in a row.
const EAGER_WAITS: u32 = 0xffff;
/// Where a [`Pace`] word keeps its pause before a first look.
const HOLD_OFF_SHIFT: u32 = 16;

impl Clone for Pace {
    fn clone(&self) -> Pace {
        Pace(AtomicU32::new(self.load()))
    }
}

impl Pace {
    #[inline]
    fn load(&self) -> u32 {
        // Relaxed: a hint that only times pauses; threads sharing a handle
        // may race on it harmlessly.
        self.0.load(Ordering::Relaxed)
    }

    #[inline]
    fn store(&self, word: u32) {
        // Relaxed: as in `load`.
        self.0.store(word, Ordering::Relaxed);
    }

    /// Whether a wait with this pace is eager.
    #[inline]
    fn is_eager(word: u32) -> bool {
        (word & EAGER_WAITS) % PROBE_EVERY != 0
    }

    /// Before a get's first look, when its side knows of no message and the
    /// get may wait (`nothing_known`): an eager get pauses a moment, unless
    /// spinning is turned off. Returns whether it did (then tell
    /// [`Pace::found_at_once`] if the look finds data).
    #[inline]
    pub(super) fn hold_off(&self, nothing_known: bool) -> bool {
        if !nothing_known {
            return false;
        }
        let word = self.load();
        let hints = word >> HOLD_OFF_SHIFT;
        if !Pace::is_eager(word) || hints == 0 || crate::spin_duration().is_zero() {
            return false;
        }
        spin(hints.min(MAX_HOLD_OFF));
        true
    }

    /// A get's first look after its pause ([`Pace::hold_off`]) found data:
    /// the pause may have been longer than the data took; the next is
    /// half as long.
    #[cold]
    pub(super) fn found_at_once(&self) {
        let word = self.load();
        let hints = (word >> HOLD_OFF_SHIFT).min(MAX_HOLD_OFF) / 2;
        self.store(hints << HOLD_OFF_SHIFT | word & EAGER_WAITS);
    }

    /// The backoff of a get's wait for data.
    #[inline]
    pub(super) fn backoff(&self, wait: Wait) -> Backoff {
        let mut backoff = Backoff::new(wait);
        if Pace::is_eager(self.load()) && backoff.pauses == MIN_BACKOFF {
            backoff.pauses = EAGER_BACKOFF;
            backoff.steady = EAGER_LOOKS;
        }
        backoff
    }

    /// After a get that waited took data: paces the next wait. `alone`:
    /// nothing was known to be behind the data taken.
    #[inline]
    pub(super) fn settle(&self, alone: bool) {
        let word = self.load();
        let next = if alone {
            let waits = (word.wrapping_add(1) & EAGER_WAITS).max(1);
            let hints = ((word >> HOLD_OFF_SHIFT) + 1).min(MAX_HOLD_OFF);
            hints << HOLD_OFF_SHIFT | waits
        } else {
            0
        };
        self.store(next);
    }
}

/// Pauses `hints` spin hints.
#[cold]
#[inline(never)]
fn spin(hints: u32) {
    for _ in 0..hints {
        core::hint::spin_loop();
    }
}

/// Looks at the other side's counter less and less often while the ring
/// stays full (empty), before the ring's own wait (which polls at every
/// hint, then sleeps).
///
/// Why: each look pulls the counter's cache line to this core, and the other
/// side's next commit must then take it back: a consumer that polls an empty
/// ring at every hint costs the producer a cache miss on every message, and
/// a producer whose next put starts with a locked instruction (taking its
/// side) waits for that miss (measured here between two pinned processes,
/// when giving the side back was a locked instruction too: plain `put` /
/// `get` at 80-90 ns per message with a look at every hint, 35-45 ns with
/// this backoff; the exclusive handles at 50 ns and 14 ns). Pausing 16, 32,
/// then 64 hints between looks (0.6 to 2.4 µs on this machine, where a hint
/// takes 37 ns) lets the other side commit a batch between two looks; a
/// stream then runs at the speed of its slower side, at the price of up to
/// one pause of latency when the queue was empty (full).
///
/// That price is paid in full by a process that waits for the answer to
/// each request it sends (a task queue and a result queue): it finds the
/// queue empty at every get, and the answer comes a few hundred
/// nanoseconds later, long before the first look. So gets pace their waits
/// ([`Pace`]).
///
/// Then it yields its CPU a few times, looking after each: with more
/// processes than CPUs (two producers and two consumers on two CPUs), the
/// process this one waits for is often runnable on this very CPU, and a
/// spin only delays it (measured: 110 ns per message through four
/// processes with the pauses alone, 66 ns with the yields). A yield with
/// nobody else to run returns at once. Only a full or empty ring gets
/// here: an uncontended put or get makes no system call.
pub(super) struct Backoff {
    /// Hints to pause next (doubling up to [`MAX_BACKOFF`]).
    pauses: u32,
    /// Yields left after the pauses; none for a call that does not wait.
    yields: u32,
    /// A timed call's deadline: no backoff once it has passed.
    deadline: Option<Deadline>,
    /// Pauses left before they start doubling (an eager wait's steady
    /// looks).
    steady: u32,
}

impl Backoff {
    /// A backoff for a call that waits as `wait` says: none for a call
    /// that does not wait.
    #[inline]
    pub(super) fn new(wait: Wait) -> Backoff {
        match wait {
            Wait::Never => Backoff {
                pauses: MAX_BACKOFF + 1,
                yields: 0,
                deadline: None,
                steady: 0,
            },
            Wait::Block => Backoff {
                pauses: MIN_BACKOFF,
                yields: YIELDS,
                deadline: None,
                steady: 0,
            },
            Wait::Until(deadline) => Backoff {
                pauses: MIN_BACKOFF,
                yields: YIELDS,
                deadline: Some(deadline),
                steady: 0,
            },
            Wait::Within(t) => Backoff {
                pauses: MIN_BACKOFF,
                yields: YIELDS,
                deadline: Some(Deadline::after(t)),
                steady: 0,
            },
        }
    }

    /// Pauses once more, longer each time, then yields; false when it is
    /// time to wait on the ring's signal instead (at once when spinning is
    /// turned off, `set_spin_duration(0)`).
    #[cold]
    pub(super) fn pause(&mut self) -> bool {
        // An eager wait's steady looks come a hint apart: it reads the
        // clock (for a timed call) every [`CLOCK_EVERY`] of them only.
        let look_at_clock = self.steady % CLOCK_EVERY == 0;
        if self.yields == 0
            || crate::spin_duration().is_zero()
            || look_at_clock && self.deadline.is_some_and(Deadline::has_passed)
        {
            return false;
        }
        if self.pauses <= MAX_BACKOFF {
            for _ in 0..self.pauses {
                core::hint::spin_loop();
            }
            if self.steady > 0 {
                self.steady -= 1;
            } else {
                self.pauses *= 2;
            }
        } else {
            std::thread::yield_now();
            self.yields -= 1;
        }
        true
    }
}

/// Why a loop gave up.
#[derive(Debug)]
pub(crate) enum Fail {
    /// No room (no data) and not to wait.
    NotNow,
    /// The deadline passed first.
    Timeout,
    /// What the ring said.
    Ring(RingError),
}

impl From<RingError> for Fail {
    fn from(e: RingError) -> Fail {
        Fail::Ring(e)
    }
}

impl Fail {
    /// The put error holding `value`.
    pub(crate) fn put<T>(self, value: T) -> PutError<T> {
        match self {
            Fail::NotNow => PutError::Full(value),
            Fail::Timeout => PutError::Timeout(value),
            Fail::Ring(e) => PutError::from_ring(e, value),
        }
    }

    /// The get error.
    pub(crate) fn get(self) -> GetError {
        match self {
            Fail::NotNow => GetError::Empty,
            Fail::Timeout => GetError::Timeout,
            Fail::Ring(e) => GetError::from_ring(e),
        }
    }

    /// A side that stayed held: "full" (or "empty") for a non-blocking
    /// call, a time-out for a timed one.
    fn busy(wait: Wait, e: RingError) -> Fail {
        match (wait, e) {
            (Wait::Never, RingError::Busy { .. }) => Fail::NotNow,
            (_, RingError::Busy { .. }) => Fail::Timeout,
            (_, e) => Fail::Ring(e),
        }
    }
}

impl Ring {
    /// Takes the producing side for an operation that waits as `wait`. A
    /// call that does not wait tries once first, so that it reads the clock
    /// only if the side is busy.
    #[inline]
    pub(crate) fn take_producing(&self, wait: Wait) -> Result<Producing, Fail> {
        let raw = self.raw();
        let first = match wait {
            Wait::Never => raw.take_producing_checked(self.geo, None),
            _ => raw.take_producing_checked(self.geo, Some(wait.side_deadline())),
        };
        match first {
            Err(RingError::Busy { .. }) if matches!(wait, Wait::Never) => {
                match raw.take_producing_checked(self.geo, Some(wait.side_deadline())) {
                    Err(RingError::Busy { holder }) if holder_is_gone(holder) => raw
                        .take_producing_checked(self.geo, Some(Deadline::after(TAKE_OVER)))
                        .map_err(|e| Fail::busy(wait, e)),
                    other => other.map_err(|e| Fail::busy(wait, e)),
                }
            }
            other => other.map_err(|e| Fail::busy(wait, e)),
        }
    }

    /// Takes the consuming side for an operation that waits as `wait`; see
    /// [`Ring::take_producing`].
    #[inline]
    pub(crate) fn take_consuming(&self, wait: Wait) -> Result<Consuming, Fail> {
        let raw = self.raw();
        let first = match wait {
            Wait::Never => raw.take_consuming_checked(self.geo, None),
            _ => raw.take_consuming_checked(self.geo, Some(wait.side_deadline())),
        };
        match first {
            Err(RingError::Busy { .. }) if matches!(wait, Wait::Never) => {
                match raw.take_consuming_checked(self.geo, Some(wait.side_deadline())) {
                    Err(RingError::Busy { holder }) if holder_is_gone(holder) => raw
                        .take_consuming_checked(self.geo, Some(Deadline::after(TAKE_OVER)))
                        .map_err(|e| Fail::busy(wait, e)),
                    other => other.map_err(|e| Fail::busy(wait, e)),
                }
            }
            other => other.map_err(|e| Fail::busy(wait, e)),
        }
    }

    /// Before a get's first look with the side held: a get that must not
    /// wait looks without slipping; one that may wait, and whose side knows
    /// of no message, paces itself ([`Pace::hold_off`]). Returns whether it
    /// held off (then [`Pace::found_at_once`] if that look finds data).
    #[inline]
    pub(super) fn before_first_get(&self, side: &mut Consuming, wait: Wait) -> bool {
        let may_wait = !matches!(wait, Wait::Never);
        if !may_wait {
            side.look_without_slipping();
        }
        self.pace.hold_off(may_wait && side.available() == 0)
    }

    /// Puts the whole slots of `msgs` with the side held, waiting for room
    /// as `wait` allows; returns how many were put before a failure, with
    /// the failure.
    #[inline]
    pub(crate) fn push_slots(
        &self,
        side: &mut Producing,
        msgs: &[u8],
        wait: Wait,
    ) -> Result<(), (usize, Fail)> {
        if matches!(wait, Wait::Never) {
            side.look_without_slipping();
        }
        // One deadline for every wait for room, however many it takes.
        let wait = wait.resolve();
        let size = self.geo.slot_size;
        let mut done = 0;
        let mut backoff = Backoff::new(wait);
        loop {
            match self.raw().try_push(&self.buf, side, &msgs[done * size..]) {
                Ok(n) => done += n as usize,
                Err(e) => return Err((done, e.into())),
            }
            if done * size == msgs.len() {
                return Ok(());
            }
            if backoff.pause() {
                continue;
            }
            let Some(deadline) = wait.data_deadline() else {
                return Err((done, Fail::NotNow));
            };
            match self.raw().wait_for_room(side, deadline) {
                Ok(true) => {}
                Ok(false) => return Err((done, Fail::Timeout)),
                Err(e) => return Err((done, e.into())),
            }
        }
    }

    /// Takes between 1 and `out.len() / slot_size` messages with the side
    /// held, waiting for the first as `wait` allows; returns how many.
    #[inline]
    pub(crate) fn pop_slots(
        &self,
        side: &mut Consuming,
        out: &mut [u8],
        wait: Wait,
    ) -> Result<usize, Fail> {
        let wait = wait.resolve();
        let held_off = self.before_first_get(side, wait);
        let mut backoff = self.pace.backoff(wait);
        let mut waited = false;
        loop {
            let n = self.raw().try_pop(&self.buf, side, out)?;
            if n > 0 {
                if waited {
                    self.pace.settle(n == 1 && side.available() == 0);
                } else if held_off {
                    self.pace.found_at_once();
                }
                return Ok(n as usize);
            }
            waited = true;
            if backoff.pause() {
                continue;
            }
            let Some(deadline) = wait.data_deadline() else {
                return Err(Fail::NotNow);
            };
            if !self.raw().wait_for_data(side, deadline)? {
                return Err(Fail::Timeout);
            }
        }
    }

    /// Puts one value with the side held, waiting for room as `wait`
    /// allows.
    #[inline(always)]
    pub(crate) fn push_value<T: bytemuck::Pod>(
        &self,
        side: &mut Producing,
        value: &T,
        wait: Wait,
    ) -> Result<(), Fail> {
        if matches!(wait, Wait::Never) {
            side.look_without_slipping();
        }
        if self.raw().try_push_value(&self.buf, side, value)? {
            return Ok(());
        }
        let wait = wait.resolve();
        let mut backoff = Backoff::new(wait);
        loop {
            if !backoff.pause() {
                self.wait_for_room(side, wait)?;
            }
            if self.raw().try_push_value(&self.buf, side, value)? {
                return Ok(());
            }
        }
    }

    /// Takes one value with the side held, waiting for it as `wait`
    /// allows.
    #[inline(always)]
    pub(crate) fn pop_value<T: bytemuck::Pod>(
        &self,
        side: &mut Consuming,
        wait: Wait,
    ) -> Result<T, Fail> {
        let held_off = self.before_first_get(side, wait);
        if let Some(value) = self.raw().try_pop_value(&self.buf, side)? {
            if held_off {
                self.pace.found_at_once();
            }
            return Ok(value);
        }
        let wait = wait.resolve();
        let mut backoff = self.pace.backoff(wait);
        loop {
            if !backoff.pause() {
                self.wait_for_data(side, wait)?;
            }
            if let Some(value) = self.raw().try_pop_value(&self.buf, side)? {
                self.pace.settle(side.available() == 0);
                return Ok(value);
            }
        }
    }

    /// The slow half of a put: the ring is full.
    #[cold]
    #[inline(never)]
    fn wait_for_room(&self, side: &mut Producing, wait: Wait) -> Result<(), Fail> {
        let Some(deadline) = wait.data_deadline() else {
            return Err(Fail::NotNow);
        };
        if self.raw().wait_for_room(side, deadline)? {
            Ok(())
        } else {
            Err(Fail::Timeout)
        }
    }

    /// The slow half of a get: the ring is empty.
    #[cold]
    #[inline(never)]
    fn wait_for_data(&self, side: &mut Consuming, wait: Wait) -> Result<(), Fail> {
        let Some(deadline) = wait.data_deadline() else {
            return Err(Fail::NotNow);
        };
        if self.raw().wait_for_data(side, deadline)? {
            Ok(())
        } else {
            Err(Fail::Timeout)
        }
    }

    /// Takes the producing side, puts one value, gives the side back.
    #[inline]
    pub(crate) fn put_value<T: bytemuck::Pod>(&self, value: &T, wait: Wait) -> Result<(), Fail> {
        if let Wait::Within(_) = wait {
            // The side at the first try reads no clock, and neither does
            // the put's first try: the deadline only if it must wait.
            if let Ok(mut side) = self.raw().take_producing_checked(self.geo, None) {
                let result = self.push_value(&mut side, value, wait);
                self.raw().release_producing_in_call(side);
                return result;
            }
        }
        let wait = wait.resolve();
        let mut side = self.take_producing(wait)?;
        let result = self.push_value(&mut side, value, wait);
        self.raw().release_producing_in_call(side);
        result
    }

    /// Takes the consuming side, gets one value, gives the side back.
    #[inline]
    pub(crate) fn get_value<T: bytemuck::Pod>(&self, wait: Wait) -> Result<T, Fail> {
        if let Wait::Within(_) = wait {
            // As in `put_value`: no clock unless it must wait.
            if let Ok(mut side) = self.raw().take_consuming_checked(self.geo, None) {
                let result = self.pop_value(&mut side, wait);
                self.raw().release_consuming_in_call(side);
                return result;
            }
        }
        let wait = wait.resolve();
        let mut side = self.take_consuming(wait)?;
        let result = self.pop_value(&mut side, wait);
        self.raw().release_consuming_in_call(side);
        result
    }

    /// Takes the producing side, puts `msgs` (whole slots), gives the side
    /// back.
    #[inline]
    pub(crate) fn put_slots(&self, msgs: &[u8], wait: Wait) -> Result<(), (usize, Fail)> {
        let wait = wait.resolve();
        let mut side = self.take_producing(wait).map_err(|f| (0, f))?;
        let result = self.push_slots(&mut side, msgs, wait);
        self.raw().release_producing_in_call(side);
        result
    }

    /// Takes the consuming side, gets between 1 and `out.len() / slot_size`
    /// messages, gives the side back.
    #[inline]
    pub(crate) fn get_slots(&self, out: &mut [u8], wait: Wait) -> Result<usize, Fail> {
        let wait = wait.resolve();
        let mut side = self.take_consuming(wait)?;
        let result = self.pop_slots(&mut side, out, wait);
        self.raw().release_consuming_in_call(side);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Queue;

    #[test]
    fn a_new_pace_batches() {
        let pace = Pace::default();
        assert_eq!(pace.backoff(Wait::Block).pauses, MIN_BACKOFF);
        assert_eq!(pace.clone().backoff(Wait::Block).pauses, MIN_BACKOFF);
    }

    #[test]
    fn data_alone_makes_the_next_wait_eager_and_a_batch_makes_it_batch() {
        let pace = Pace::default();
        pace.settle(true);
        assert_eq!(pace.backoff(Wait::Block).pauses, EAGER_BACKOFF);
        let until = Wait::Until(Deadline::after(Duration::from_secs(1)));
        assert_eq!(pace.backoff(until).pauses, EAGER_BACKOFF);
        assert_eq!(pace.clone().backoff(Wait::Block).pauses, EAGER_BACKOFF);
        pace.settle(true);
        assert_eq!(pace.backoff(Wait::Block).pauses, EAGER_BACKOFF);
        pace.settle(false);
        assert_eq!(pace.backoff(Wait::Block).pauses, MIN_BACKOFF);
    }

    #[test]
    fn every_probe_every_th_eager_wait_batches_to_look_for_a_stream() {
        let pace = Pace::default();
        let mut batched = Vec::new();
        for _ in 0..3 * PROBE_EVERY {
            batched.push(pace.backoff(Wait::Block).pauses == MIN_BACKOFF);
            // Each wait finds one message alone (a request's answer).
            pace.settle(true);
        }
        let probes: Vec<usize> = (0..batched.len()).filter(|&i| batched[i]).collect();
        let every = PROBE_EVERY as usize;
        assert_eq!(
            probes,
            [0, every, 2 * every],
            "the first wait, then a probe"
        );
    }

    /// Makes `pace` eager, with its longest pause before a first look.
    fn eager_to_the_bound(pace: &Pace) {
        for _ in 0..MAX_HOLD_OFF {
            pace.settle(true);
        }
    }

    /// The hints an eager get of `pace` pauses before its first look.
    fn hold_off_of(pace: &Pace) -> u32 {
        (pace.load() >> HOLD_OFF_SHIFT).min(MAX_HOLD_OFF)
    }

    #[test]
    fn eager_gets_pause_longer_before_their_first_look_up_to_a_bound() {
        let pace = Pace::default();
        assert!(!pace.hold_off(true), "a new pace batches");
        let mut hints = Vec::new();
        for _ in 0..MAX_HOLD_OFF + 2 {
            pace.settle(true);
            hints.push(hold_off_of(&pace));
        }
        let bound = MAX_HOLD_OFF;
        assert_eq!(hints, [1, 2, 3, bound, bound, bound]);
        assert!(pace.hold_off(true));
        assert!(!pace.hold_off(false), "its side knows of a message");
        pace.settle(false);
        assert!(!pace.hold_off(true), "a batch: gets batch again");
        assert_eq!(hold_off_of(&pace), 0);
    }

    #[test]
    fn a_first_look_that_finds_data_halves_the_pause_before_the_next() {
        let pace = Pace::default();
        eager_to_the_bound(&pace);
        let waits = pace.load() & EAGER_WAITS;
        let mut hints = Vec::new();
        while pace.hold_off(true) {
            pace.found_at_once();
            hints.push(hold_off_of(&pace));
        }
        assert_eq!(hints, [MAX_HOLD_OFF / 2, MAX_HOLD_OFF / 4, 0]);
        assert_eq!(pace.load() & EAGER_WAITS, waits, "still eager");
        assert_eq!(pace.backoff(Wait::Block).pauses, EAGER_BACKOFF);
    }

    #[test]
    fn an_eager_wait_looks_steadily_before_its_pauses_double() {
        let pace = Pace::default();
        pace.settle(true);
        let mut backoff = pace.backoff(Wait::Block);
        let mut pauses = Vec::new();
        // Bounded: a backoff that never doubled would fail, not hang.
        for _ in 0..1000 {
            if backoff.pauses > MAX_BACKOFF {
                break;
            }
            assert!(backoff.pause());
            pauses.push(backoff.pauses);
        }
        let steady = EAGER_LOOKS as usize;
        assert!(pauses[..steady].iter().all(|&p| p == EAGER_BACKOFF));
        assert_eq!(pauses[steady..], [2, 4, 8, 16, 32, 64, 128]);
        let mut batching = Backoff::new(Wait::Block);
        assert!(batching.pause());
        assert_eq!(
            batching.pauses,
            2 * MIN_BACKOFF,
            "a batching wait doubles at once"
        );
    }

    #[test]
    fn a_get_that_finds_its_answer_there_soon_stops_pausing_first() {
        let q = Queue::<u64>::new(4).unwrap();
        eager_to_the_bound(&q.ring.pace);
        q.put(1).unwrap();
        assert_eq!(q.try_get(), Ok(1), "a get that does not wait");
        assert_eq!(hold_off_of(&q.ring.pace), MAX_HOLD_OFF, "never pauses");
        for i in 0..3 {
            q.put(i).unwrap();
            assert_eq!(q.get(), Ok(i));
        }
        assert_eq!(hold_off_of(&q.ring.pace), 0);
        let b = crate::ByteQueue::new(64).unwrap();
        b.ring.pace.settle(true);
        b.put(b"here").unwrap();
        assert_eq!(b.get().unwrap(), b"here");
        assert_eq!(hold_off_of(&b.ring.pace), 0);
    }

    #[test]
    fn a_call_that_does_not_wait_never_slips() {
        let q = Queue::<u64>::new(64).unwrap();
        let slip = || q.ring.raw().consumer.slip.load(Ordering::Relaxed);
        // Two found at one look, right behind the producer: armed.
        q.put_many(&[1, 2], None).unwrap();
        assert_eq!(q.get(), Ok(1));
        assert_eq!(q.get(), Ok(2));
        let armed = slip();
        q.put(3).unwrap();
        assert_eq!(q.try_get(), Ok(3));
        assert_eq!(slip(), armed, "looked at once: one found, armed again");
        q.put(4).unwrap();
        assert_eq!(q.get(), Ok(4));
        assert_ne!(
            slip(),
            armed,
            "a get that may wait slipped, found one, cooled down"
        );
    }

    #[test]
    fn a_timed_put_many_through_a_handle_keeps_one_deadline() {
        let q = Queue::<u64>::new(1).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                // Room for one more every 20 ms.
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                    let _ = q.try_get();
                }
            });
            let mut tx = q.producer().unwrap();
            let put = tx.put_many(&[7; 8], Some(Duration::from_millis(50)));
            stop.store(true, Ordering::Relaxed);
            let Err(PutError::Timeout(done)) = put else {
                panic!("eight puts 20 ms apart within 50 ms: {put:?}");
            };
            assert!(done < 8, "{done} put");
        });
    }

    #[test]
    fn an_eager_timed_get_times_out() {
        let q = Queue::<u64>::new(4).unwrap();
        eager_to_the_bound(&q.ring.pace);
        let timeout = Duration::from_millis(20);
        let start = std::time::Instant::now();
        assert_eq!(q.get_timeout(timeout), Err(GetError::Timeout));
        let took = start.elapsed();
        assert!(took >= timeout, "{took:?}");
        assert!(took < Duration::from_secs(10), "{took:?}");
        let mut rx = q.consumer().unwrap();
        assert_eq!(rx.get_timeout(timeout), Err(GetError::Timeout));
    }

    #[test]
    fn a_get_that_does_not_wait_leaves_the_pace_alone() {
        let q = Queue::<u64>::new(4).unwrap();
        q.ring.pace.settle(true);
        assert!(q.ring.pace.backoff(Wait::Never).pauses > MAX_BACKOFF);
        q.put(1).unwrap();
        assert_eq!(q.get(), Ok(1), "found at once");
        assert_eq!(q.ring.pace.backoff(Wait::Block).pauses, EAGER_BACKOFF);
    }

    /// Runs `get` on this thread while another thread, once this one holds
    /// the consuming side of `ring` (it waits), sleeps a moment and calls
    /// `put`; returns whether the get's wait left the handle's gets eager.
    fn eager_after(ring: &Ring, get: impl Fn(), put: impl Fn() + Send + Sync) -> bool {
        std::thread::scope(|s| {
            s.spawn(|| {
                let give_up = Deadline::after(Duration::from_secs(10));
                while !ring.raw().consumer.lock.is_locked() && !give_up.has_passed() {
                    std::thread::yield_now();
                }
                std::thread::sleep(Duration::from_millis(5));
                put();
            });
            get();
        });
        ring.pace.load() != 0
    }

    #[test]
    fn a_wait_for_an_answer_turns_gets_eager_and_a_batch_turns_them_back() {
        let q = Queue::<u64>::new(64).unwrap();
        let get = || {
            q.get_timeout(Duration::from_secs(10)).unwrap();
            while q.try_get().is_ok() {}
        };
        // A get that found its data at once (this thread came late) says
        // nothing: a few tries, each must end as expected once it waited.
        let eager = (0..5).any(|_| eager_after(&q.ring, get, || q.put(7).unwrap()));
        assert!(eager, "an answer that came alone");
        let ten = || q.put_many(&[1; 10], None).unwrap();
        let batching = (0..5).any(|_| !eager_after(&q.ring, get, ten));
        assert!(batching, "ten messages at once: a stream");
    }

    #[test]
    fn a_byte_queue_paces_its_gets_too() {
        let q = crate::ByteQueue::new(1024).unwrap();
        let get = || {
            q.get_timeout(Duration::from_secs(10)).unwrap();
            while q.try_get().is_ok() {}
        };
        let eager = (0..5).any(|_| eager_after(&q.ring, get, || q.put(b"answer").unwrap()));
        assert!(eager, "an answer that came alone");
    }

    #[test]
    fn a_long_message_alone_turns_gets_eager_too() {
        let q = crate::ByteQueue::new(64 * 1024).unwrap();
        let get = || {
            q.get_timeout(Duration::from_secs(10)).unwrap();
        };
        let long = [7u8; 4096];
        let eager = (0..5).any(|_| eager_after(&q.ring, get, || q.put(&long).unwrap()));
        assert!(eager, "a page-long message that came alone");
        let q = Queue::<[u64; 64]>::new(4).unwrap();
        let get = || {
            q.get_timeout(Duration::from_secs(10)).unwrap();
        };
        let long = [7u64; 64];
        let eager = (0..5).any(|_| eager_after(&q.ring, get, || q.put(long).unwrap()));
        assert!(eager, "a 512-byte slot that came alone");
    }
}
