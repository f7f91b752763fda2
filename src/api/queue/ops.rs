//! The put and get loops every queue shares: take a side (or use one held
//! already), try, wait for room or data, try again.

use super::error::{GetError, PutError};
use super::shared::{Ring, Wait};
use crate::ring::{Consuming, Producing, RingError};
use crate::Deadline;
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
/// The longest pause, in spin hints, between two looks at the other side's
/// counter before a put (get) goes to wait on the ring's signal.
const MAX_BACKOFF: u32 = 64;

/// Then how many times it gives its CPU away (`sched_yield`) between two
/// looks, before the ring's wait.
const YIELDS: u32 = 16;

/// Looks at the other side's counter less and less often while the ring
/// stays full (empty), before the ring's own wait (which polls at every
/// hint, then sleeps).
///
/// Why: each look pulls the counter's cache line to this core, and the
/// other side's next commit must then take it back: a consumer that polls
/// an empty ring at every hint costs the producer a cache miss on every
/// message, and a producer whose put ends with a locked instruction (the
/// side's unlock) waits for that miss (measured here between two pinned
/// processes: plain `put` / `get` at 80-90 ns per message with a look at
/// every hint, 35-45 ns with this backoff; the exclusive handles at 50 ns
/// and 14 ns). Pausing 16, 32, then 64 hints between looks (0.6 to 2.4 µs
/// on this machine, where a hint takes 37 ns) lets the other side commit a
/// batch between two looks; a stream then runs at the speed of its slower
/// side, at the price of up to one pause of latency when the queue was
/// empty (full).
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
            },
            Wait::Block => Backoff {
                pauses: MIN_BACKOFF,
                yields: YIELDS,
                deadline: None,
            },
            Wait::Until(deadline) => Backoff {
                pauses: MIN_BACKOFF,
                yields: YIELDS,
                deadline: Some(deadline),
            },
            Wait::Within(t) => Backoff {
                pauses: MIN_BACKOFF,
                yields: YIELDS,
                deadline: Some(Deadline::after(t)),
            },
        }
    }

    /// Pauses once more, longer each time, then yields; false when it is
    /// time to wait on the ring's signal instead (at once when spinning is
    /// turned off, `set_spin_duration(0)`).
    #[cold]
    pub(super) fn pause(&mut self) -> bool {
        if self.yields == 0
            || crate::spin_duration().is_zero()
            || self.deadline.is_some_and(Deadline::has_passed)
        {
            return false;
        }
        if self.pauses <= MAX_BACKOFF {
            for _ in 0..self.pauses {
                core::hint::spin_loop();
            }
            self.pauses *= 2;
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
        let mut backoff = Backoff::new(wait);
        loop {
            let n = self.raw().try_pop(&self.buf, side, out)?;
            if n > 0 {
                return Ok(n as usize);
            }
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
        if let Some(value) = self.raw().try_pop_value(&self.buf, side)? {
            return Ok(value);
        }
        let wait = wait.resolve();
        let mut backoff = Backoff::new(wait);
        loop {
            if !backoff.pause() {
                self.wait_for_data(side, wait)?;
            }
            if let Some(value) = self.raw().try_pop_value(&self.buf, side)? {
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
            // One try that reads no clock; the deadline only if it must wait.
            if let Ok(mut side) = self.raw().take_producing_checked(self.geo, None) {
                let put = self.raw().try_push_value(&self.buf, &mut side, value);
                self.raw().release_producing_in_call(side);
                match put {
                    Ok(true) => return Ok(()),
                    Ok(false) => {}
                    Err(e) => return Err(e.into()),
                }
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
            // One try that reads no clock; the deadline only if it must wait.
            if let Ok(mut side) = self.raw().take_consuming_checked(self.geo, None) {
                let got = self.raw().try_pop_value(&self.buf, &mut side);
                self.raw().release_consuming_in_call(side);
                match got {
                    Ok(Some(value)) => return Ok(value),
                    Ok(None) => {}
                    Err(e) => return Err(e.into()),
                }
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
