//! `RawBarrier`: Python's `Barrier` across processes.
//!
//! The futex word holds `generation << 1 | BROKEN`. Arrivals and resets
//! happen under a small internal [`RawLock`]; waiting happens on the word. A
//! generation ends once, either by tripping (the last party moves the word
//! to the next generation) or by breaking (the word keeps its generation and
//! gains `BROKEN`, until `reset` starts a new one). Both endings are a
//! compare-and-swap from the unbroken word of that generation, so exactly
//! one of them happens, and breaking needs no lock: a waiter whose deadline
//! passes, a party that cannot get the internal lock before its deadline
//! (its holder stopped by SIGSTOP or a debugger, or bytes naming a live
//! thread), `abort`, and a watcher that finds a party dead all break the
//! generation at once. `outcomes` remembers, per generation modulo 32,
//! whether it tripped, so a waiter that wakes late still knows how its own
//! generation ended.
//!
//! A party that dies inside `wait` must break the barrier, not strand the
//! others: each waiting party watches the party that arrived just before it,
//! and the first watches the latest arrival (in the end the last party,
//! which runs the action), checking at doubling intervals of at most 100 ms
//! that its thread still exists; every waiting party also checks the
//! holder of the internal lock, if any (the last party killed between its
//! arrival's count and its id, or while tripping, is in no slot a watcher
//! reads, but holds the lock). A death breaks the generation for
//! everyone; a check that comes after the generation ended changes
//! nothing. Each party watches one thread, so the checks cost the same
//! however many parties there are.
//!
//! A party killed after its generation tripped but before its `wait` (or
//! the last party's `trip`) returned died inside `wait` too, yet its
//! generation is over and nobody watches it any more: the others, arriving
//! in the next generation, would wait for it for ever. So the trip keeps
//! the tripped generation's thread ids (`leaving_tids`) and a bit per
//! party (`leaving`) that each party clears as it returns; the waiters of
//! the next generation, on the same schedule, break it if a party whose
//! bit is still set no longer exists. A party that died after it returned
//! is outside the barrier, as in Python: nothing tells the others (their
//! waits end at their deadline).
//!
//! Every lock taking has the caller's deadline: nothing here waits longer
//! than asked for a stuck peer.
//!
//! Orderings: the internal lock orders the arrival bookkeeping (`Relaxed`
//! inside it); the word is published with `Release` after `outcomes`, and
//! waiters read it with `Acquire`, so a waiter that sees a new generation
//! sees its outcome, and everything the parties wrote before arriving.

use super::lock::{LockHold, RawLock};
use super::wait::Probe;
use crate::shim::{self, loom_const_fn, AtomicU32, Deadline, Ordering, Poll, WaitCell, Wake};
use core::fmt;

/// The most parties a barrier can have.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{RawBarrier, MAX_PARTIES};
///
/// assert_eq!(MAX_PARTIES, 64);
/// assert_eq!(RawBarrier::new(MAX_PARTIES).parties(), MAX_PARTIES);
/// ```
pub const MAX_PARTIES: u32 = 64;

/// Bit 0 of the word: the current generation is broken.
const BROKEN: u32 = 1;

/// Generations count modulo 2^31 (the word's upper 31 bits).
const GENERATIONS: u32 = u32::MAX >> 1;

/// `tripped` while a trip rewrites the leaving parties: no generation's.
const REWRITING: u32 = u32::MAX;

#[inline]
fn generation(word: u32) -> u32 {
    word >> 1
}

#[inline]
fn outcome_bit(generation: u32) -> u32 {
    1 << (generation % 32)
}

/// The barrier is broken: by a time-out, `abort`, `reset`, a failed action,
/// or a party that died while waiting. Python's `BrokenBarrierError`.
///
/// # Examples
///
/// ```
/// use shmsync::raw::{BrokenBarrier, RawBarrier};
/// use shmsync::Deadline;
///
/// let barrier = RawBarrier::new(2);
/// barrier.abort();
/// assert_eq!(barrier.arrive(Deadline::NEVER), Err(BrokenBarrier));
/// barrier.reset(Deadline::NEVER)?;
/// assert!(barrier.arrive(Deadline::NEVER).is_ok(), "usable again");
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BrokenBarrier;

impl fmt::Display for BrokenBarrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "barrier is broken (timed out, aborted, reset, or a party died); reset it to reuse it",
        )
    }
}

/// The barrier's internal lock stayed held by another thread until the
/// deadline: a party stopped (SIGSTOP, a debugger) inside the barrier, or
/// bytes a peer wrote name a live thread.
///
/// Only [`RawBarrier::reset`] returns it; the other operations break the
/// barrier instead ([`BrokenBarrier`]).
///
/// # Examples
///
/// ```
/// use shmsync::raw::BarrierBusy;
///
/// let busy = BarrierBusy { holder: Some(4321) };
/// assert!(busy.to_string().contains("by thread 4321"));
/// let error = shmsync::Error::from(busy);
/// assert!(matches!(error, shmsync::Error::BarrierBusy { holder: Some(4321) }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BarrierBusy {
    /// The thread id the internal lock named when the wait gave up.
    pub holder: Option<u32>,
}

impl fmt::Display for BarrierBusy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("barrier busy: its internal lock stayed held until the deadline")?;
        if let Some(tid) = self.holder {
            write!(f, " by thread {tid}")?;
        }
        f.write_str(" (a party stopped or paused inside the barrier?); try again later")
    }
}

/// A party's place in a generation, from [`RawBarrier::arrive`].
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawBarrier;
/// use shmsync::Deadline;
///
/// let barrier = RawBarrier::new(1);
/// let arrival = barrier.arrive(Deadline::NEVER)?;
/// assert_eq!(arrival.index, 0);
/// assert!(arrival.is_last());
/// barrier.trip(arrival, Deadline::NEVER)?;
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "an arrival must be completed with `wait` or `trip`"]
pub struct Arrival {
    /// The arrival index, `0..parties`; the last arrival has `parties - 1`.
    pub index: u32,
    generation: u32,
    last: bool,
}

impl Arrival {
    /// Whether this is the last party: it runs the action, then calls
    /// [`RawBarrier::trip`] (or [`RawBarrier::break_arrival`] if the action
    /// failed).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    ///
    /// let barrier = RawBarrier::new(2);
    /// let first = barrier.arrive(Deadline::NEVER)?;
    /// let second = barrier.arrive(Deadline::NEVER)?;
    /// assert!(!first.is_last());
    /// assert!(second.is_last());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_last(&self) -> bool {
        self.last
    }
}

/// A barrier for `parties` threads of any processes.
///
/// # Examples
///
/// ```
/// use shmsync::raw::RawBarrier;
/// use shmsync::Deadline;
///
/// // One party: never blocks.
/// let barrier = RawBarrier::new(1);
/// let arrival = barrier.arrive(Deadline::NEVER).unwrap();
/// assert!(arrival.is_last());
/// barrier.trip(arrival, Deadline::NEVER).unwrap();
///
/// // Two parties, one shows up: the time-out breaks the barrier.
/// let barrier = RawBarrier::new(2);
/// let deadline = Deadline::after(std::time::Duration::from_millis(5));
/// let arrival = barrier.arrive(deadline).unwrap();
/// assert!(barrier.wait(arrival, deadline).is_err());
/// assert!(barrier.is_broken());
/// barrier.reset(Deadline::NEVER).unwrap();
/// assert!(!barrier.is_broken());
/// ```
#[repr(C)]
#[derive(Debug)]
pub struct RawBarrier {
    /// `generation << 1 | BROKEN`: the futex word.
    word: AtomicU32,
    /// Bit `g % 32`: generation `g` tripped (set) or broke (clear).
    outcomes: AtomicU32,
    /// Fixed at creation.
    parties: AtomicU32,
    /// Arrivals in the current generation.
    arrived: AtomicU32,
    /// Thread ids of this generation's arrivals, by index; 0 = not yet.
    tids: [AtomicU32; MAX_PARTIES as usize],
    /// The generation that tripped last: the one `leaving` and
    /// `leaving_tids` describe.
    tripped: AtomicU32,
    /// Bit `i % 32` of word `i / 32`: the party with arrival index `i` of
    /// generation `tripped` has not returned from its `wait` or `trip` yet.
    leaving: [AtomicU32; 2],
    /// Thread ids of generation `tripped`'s parties, by arrival index.
    leaving_tids: [AtomicU32; MAX_PARTIES as usize],
    /// Guards `arrived`, `tids`, and the start of a new generation.
    lock: RawLock,
    cell: WaitCell,
}

impl RawBarrier {
    loom_const_fn! {
        /// A barrier for `parties` parties.
        ///
        /// # Panics
        ///
        /// Unless `1 <= parties <= MAX_PARTIES`.
        ///
        /// # Examples
        ///
        /// ```
        /// use shmsync::raw::RawBarrier;
        /// use shmsync::Shared;
        ///
        /// static IN_PROCESS: RawBarrier = RawBarrier::new(4);
        /// let across_processes = Shared::new(RawBarrier::new(2))?;
        /// assert_eq!(IN_PROCESS.parties(), 4);
        /// assert_eq!(across_processes.n_waiting(), 0);
        /// # Ok::<(), shmsync::Error>(())
        /// ```
        pub fn new(parties: u32) -> RawBarrier {
            // Not `contains`: that is no const fn.
            #[allow(clippy::manual_range_contains)]
            let valid = parties >= 1 && parties <= MAX_PARTIES;
            assert!(valid, "a barrier needs 1..=64 parties");
            RawBarrier {
                word: AtomicU32::new(0),
                outcomes: AtomicU32::new(0),
                parties: AtomicU32::new(parties),
                arrived: AtomicU32::new(0),
                tids: shim::zeroed_u32s(),
                tripped: AtomicU32::new(0),
                leaving: shim::zeroed_u32s(),
                leaving_tids: shim::zeroed_u32s(),
                lock: RawLock::new(),
                cell: WaitCell::new(),
            }
        }
    }

    /// The number of parties.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    ///
    /// assert_eq!(RawBarrier::new(3).parties(), 3);
    /// ```
    pub fn parties(&self) -> u32 {
        // Relaxed: fixed before the barrier was shared. Clamped, as another
        // process could have written anything.
        self.parties.load(Ordering::Relaxed).clamp(1, MAX_PARTIES)
    }

    /// Whether the barrier is broken.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    ///
    /// let barrier = RawBarrier::new(2);
    /// assert!(!barrier.is_broken());
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// ```
    pub fn is_broken(&self) -> bool {
        self.word.load(Ordering::Relaxed) & BROKEN != 0
    }

    /// Parties waiting in the current generation (0 when broken): a
    /// snapshot, taken without the internal lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    ///
    /// let barrier = RawBarrier::new(3);
    /// let _first = barrier.arrive(Deadline::NEVER)?;
    /// assert_eq!(barrier.n_waiting(), 1);
    /// barrier.abort();
    /// assert_eq!(barrier.n_waiting(), 0, "broken");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn n_waiting(&self) -> u32 {
        // Relaxed: a snapshot; clamped, as another process could have
        // written anything.
        if self.is_broken() {
            0
        } else {
            self.arrived.load(Ordering::Relaxed).min(self.parties())
        }
    }

    /// Joins the current generation, giving up at `deadline` if the internal
    /// lock stays held that long (which breaks the generation, as a wait's
    /// time-out does).
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the generation is broken, or breaks because the
    /// internal lock could not be had before `deadline`.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let barrier = RawBarrier::new(2);
    /// let deadline = Deadline::after(Duration::from_secs(5));
    /// let first = barrier.arrive(deadline)?;
    /// let second = barrier.arrive(deadline)?;
    /// assert_eq!((first.index, second.index), (0, 1));
    /// barrier.trip(second, deadline)?; // releases `first`'s wait:
    /// barrier.wait(first, deadline)?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn arrive(&self, deadline: Deadline) -> Result<Arrival, BrokenBarrier> {
        // Queued for the internal lock, a party gives up once the barrier
        // is broken (`abort` takes no lock): it would only learn so inside.
        let broken = || self.word.load(Ordering::Relaxed) & BROKEN != 0;
        let Ok(_held) = self.enter(deadline, broken) else {
            self.break_generation(generation(self.word.load(Ordering::Relaxed)));
            return Err(BrokenBarrier);
        };
        // Relaxed inside the internal lock.
        let word = self.word.load(Ordering::Relaxed);
        if word & BROKEN != 0 {
            return Err(BrokenBarrier);
        }
        let parties = self.parties();
        let index = self.arrived.load(Ordering::Relaxed);
        if index >= parties {
            // Only a corrupted count gets here: refuse rather than index out
            // of bounds, and let everyone know.
            self.break_generation(generation(word));
            return Err(BrokenBarrier);
        }
        self.arrived.store(index + 1, Ordering::Relaxed);
        self.tids[index as usize].store(shim::current_thread().tid, Ordering::Relaxed);
        Ok(Arrival {
            index,
            generation: generation(word),
            last: index + 1 == parties,
        })
    }

    /// Ends the generation by tripping: every waiting party is released.
    /// Only for the last arrival, after its action. If the internal lock
    /// stays held until `deadline`, the generation breaks instead.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the generation broke meanwhile, breaks now for
    /// want of the internal lock, or `arrival` is not the last.
    ///
    /// # Examples
    ///
    /// The last party runs the action, then trips:
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    ///
    /// let barrier = RawBarrier::new(2);
    /// let first = barrier.arrive(Deadline::NEVER)?;
    /// assert!(barrier.trip(first, Deadline::NEVER).is_err(), "not the last");
    /// let last = barrier.arrive(Deadline::NEVER)?;
    /// assert!(last.is_last()); // the action runs here, before anyone is released
    /// barrier.trip(last, Deadline::NEVER)?;
    /// barrier.wait(first, Deadline::NEVER)?; // tripped: returns at once
    /// assert_eq!(barrier.n_waiting(), 0, "the next generation is empty");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn trip(&self, arrival: Arrival, deadline: Deadline) -> Result<(), BrokenBarrier> {
        if !arrival.last {
            return Err(BrokenBarrier);
        }
        let current = arrival.generation << 1;
        // As in `arrive`: the generation broken (or gone) meanwhile.
        let moved = || self.word.load(Ordering::Relaxed) != current;
        let Ok(_held) = self.enter(deadline, moved) else {
            self.break_generation(arrival.generation);
            return Err(BrokenBarrier);
        };
        if self.word.load(Ordering::Relaxed) != current {
            return Err(BrokenBarrier);
        }
        // Relaxed: published by the Release CAS of the word below. If the
        // CAS fails (a lock-free break came first), no waiter reads this
        // bit before `reset` clears it: waiters read it only once the word
        // has moved past their generation.
        self.outcomes
            .fetch_or(outcome_bit(arrival.generation), Ordering::Relaxed);
        self.keep_leaving(arrival.generation);
        self.clear_arrivals();
        let next = arrival.generation.wrapping_add(1) << 1;
        // Release: pairs with the waiters' Acquire load of the word, so that
        // they see the outcome, the leaving parties, and everything the
        // parties wrote.
        if self
            .word
            .compare_exchange(current, next, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.outcomes
                .fetch_and(!outcome_bit(arrival.generation), Ordering::Relaxed);
            self.forget_leaving();
            return Err(BrokenBarrier);
        }
        self.cell.wake_all(&self.word);
        self.leave(arrival);
        Ok(())
    }

    /// Waits until the last party trips the generation, or it breaks.
    /// Reaching `deadline` breaks it, as in Python.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrier`] if the generation broke (for any reason, including
    /// this wait's time-out).
    ///
    /// # Examples
    ///
    /// A parent and a forked child meet:
    ///
    /// ```
    /// use shmsync::raw::{BrokenBarrier, RawBarrier};
    /// use shmsync::{Deadline, Process, Shared};
    /// use std::time::Duration;
    ///
    /// fn meet(barrier: &RawBarrier) -> Result<(), BrokenBarrier> {
    ///     let deadline = Deadline::after(Duration::from_secs(5));
    ///     let arrival = barrier.arrive(deadline)?;
    ///     if arrival.is_last() {
    ///         barrier.trip(arrival, deadline) // after the action, if any
    ///     } else {
    ///         barrier.wait(arrival, deadline)
    ///     }
    /// }
    /// let barrier = Shared::new(RawBarrier::new(2))?;
    /// let child = Process::spawn({
    ///     let barrier = barrier.clone();
    ///     move || assert_eq!(meet(&barrier), Ok(()))
    /// })?;
    /// meet(&barrier)?;
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn wait(&self, arrival: Arrival, deadline: Deadline) -> Result<(), BrokenBarrier> {
        let ended = |word: u32| word != arrival.generation << 1;
        // Relaxed: a hint; the outcome is read with Acquire below.
        shim::spin_until(deadline, Poll::Eager, || {
            ended(self.word.load(Ordering::Relaxed))
        });
        let mut probe = Probe::start();
        loop {
            // Acquire: pairs with the Release CAS of the word in `trip`,
            // `break_generation` and `reset`.
            let word = self.word.load(Ordering::Acquire);
            if ended(word) {
                self.leave(arrival);
                return self.outcome(arrival.generation, word);
            }
            if self.cell.wait(&self.word, word, deadline.min(probe.at())) == Wake::TimedOut {
                if deadline.has_passed() {
                    self.break_generation(arrival.generation);
                    // Acquire: as above; a trip that beat the break is seen
                    // before `leave` looks at what the trip kept.
                    let word = self.word.load(Ordering::Acquire);
                    self.leave(arrival);
                    return self.outcome(arrival.generation, word);
                }
                if probe.due() {
                    let party_died = self
                        .watched(arrival.index)
                        .is_some_and(shim::thread_is_gone);
                    // A party killed holding the internal lock (the last,
                    // arriving or tripping) may be watched by nobody: its
                    // slot can be empty then. Its lock names it.
                    let holder_died = self.lock.holder_tid().is_some_and(shim::thread_is_gone);
                    if party_died || holder_died || self.died_leaving(arrival.generation) {
                        self.break_generation(arrival.generation);
                    }
                }
            }
        }
    }

    /// The thread the party with arrival index `index` watches: the party
    /// that arrived just before it, and for the first party, the latest
    /// arrival, so that every waiting party but the first is watched by
    /// one other (and the first by the second).
    fn watched(&self, index: u32) -> Option<u32> {
        let watched = if index == 0 {
            // Relaxed: a hint; a stale count only delays the check.
            let arrived = self.arrived.load(Ordering::Relaxed).min(self.parties());
            arrived.checked_sub(1).filter(|&latest| latest != 0)?
        } else {
            index - 1
        };
        match self.tids.get(watched as usize)?.load(Ordering::Relaxed) {
            0 => None,
            tid => Some(tid),
        }
    }

    /// Breaks the generation of `arrival` (the last party's action failed):
    /// every party of it gets [`BrokenBarrier`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    ///
    /// let barrier = RawBarrier::new(1);
    /// let arrival = barrier.arrive(Deadline::NEVER)?;
    /// let action_failed = true;
    /// if action_failed {
    ///     barrier.break_arrival(arrival);
    /// }
    /// assert!(barrier.is_broken());
    /// assert!(barrier.trip(arrival, Deadline::NEVER).is_err());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn break_arrival(&self, arrival: Arrival) {
        self.break_generation(arrival.generation);
    }

    /// Breaks the barrier: current and later waiters get [`BrokenBarrier`]
    /// until [`RawBarrier::reset`]. Needs no lock, so it never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let barrier = RawBarrier::new(2);
    /// let deadline = Deadline::after(Duration::from_secs(5));
    /// std::thread::scope(|s| {
    ///     let waiter = s.spawn(|| {
    ///         let arrival = barrier.arrive(deadline)?;
    ///         barrier.wait(arrival, deadline) // the second party never comes
    ///     });
    ///     while barrier.n_waiting() == 0 && !deadline.has_passed() {
    ///         std::thread::yield_now();
    ///     }
    ///     barrier.abort(); // releases the waiter at once
    ///     assert!(waiter.join().is_ok_and(|waited| waited.is_err()));
    /// });
    /// assert!(!deadline.has_passed());
    /// ```
    pub fn abort(&self) {
        self.break_generation(generation(self.word.load(Ordering::Relaxed)));
    }

    /// Returns the barrier to its empty, unbroken state; parties waiting
    /// now get [`BrokenBarrier`].
    ///
    /// # Errors
    ///
    /// [`BarrierBusy`] if the internal lock stays held by another thread
    /// until `deadline`; nothing changed then.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawBarrier;
    /// use shmsync::Deadline;
    /// use std::time::Duration;
    ///
    /// let barrier = RawBarrier::new(2);
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// barrier.reset(Deadline::after(Duration::from_secs(5)))?;
    /// assert!(!barrier.is_broken());
    /// assert_eq!(barrier.n_waiting(), 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn reset(&self, deadline: Deadline) -> Result<(), BarrierBusy> {
        let _held = self.enter(deadline, || false)?;
        self.clear_arrivals();
        self.forget_leaving();
        // Relaxed inside the internal lock; the word's Release CAS below
        // publishes the cleared outcome bit.
        let mut word = self.word.load(Ordering::Relaxed);
        loop {
            let generation_ = generation(word);
            self.outcomes
                .fetch_and(!outcome_bit(generation_), Ordering::Relaxed);
            let next = generation_.wrapping_add(1) << 1;
            // Release: pairs with the waiters' Acquire load of the word. A
            // CAS, not a store: futex words change by read-modify-writes
            // only (see `sys`), and a lock-free break may land meanwhile.
            match self
                .word
                .compare_exchange(word, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(now) => word = now,
            }
        }
        self.cell.wake_all(&self.word);
        Ok(())
    }

    /// How generation `generation` ended, given a word past it.
    fn outcome(&self, generation_: u32, word: u32) -> Result<(), BrokenBarrier> {
        if generation(word) == generation_ {
            // Still ours, so it ended broken.
            return Err(BrokenBarrier);
        }
        // Relaxed: ordered by the Acquire load of `word`.
        if self.outcomes.load(Ordering::Relaxed) & outcome_bit(generation_) != 0 {
            Ok(())
        } else {
            Err(BrokenBarrier)
        }
    }

    /// Breaks `generation_` if it is still the current, unbroken one, and
    /// wakes everyone. Lock-free: one compare-and-swap.
    fn break_generation(&self, generation_: u32) {
        // Release: pairs with the waiters' Acquire load of the word.
        if self
            .word
            .compare_exchange(
                generation_ << 1,
                generation_ << 1 | BROKEN,
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_ok()
        {
            self.cell.wake_all(&self.word);
        }
    }

    /// With the internal lock held: forgets this generation's arrivals.
    fn clear_arrivals(&self) {
        self.arrived.store(0, Ordering::Relaxed);
        for tid in &self.tids {
            tid.store(0, Ordering::Relaxed);
        }
    }

    /// With the internal lock held, as `generation_` trips: its parties,
    /// all still to return, become the leaving ones.
    ///
    /// Waiters of the generation after the previous trip may be reading the
    /// table meanwhile, without the lock ([`RawBarrier::died_leaving`]): as
    /// in a sequence lock, `tripped` names no generation while the table
    /// changes, so a reader that saw any of the new values sees that too
    /// when it looks at `tripped` again.
    fn keep_leaving(&self, generation_: u32) {
        // Relaxed, then a Release fence: the marker is ordered before the
        // table's stores for any reader that sees one of them (and fences).
        self.tripped.store(REWRITING, Ordering::Relaxed);
        shim::fence(Ordering::Release);
        let parties = self.parties() as usize;
        for (kept, tid) in self.leaving_tids.iter().zip(&self.tids) {
            kept.store(tid.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        for (i, word) in self.leaving.iter().enumerate() {
            // Bits of the parties among indices 32 * i .. 32 * (i + 1).
            let count = parties.saturating_sub(32 * i).min(32);
            let bits = if count == 32 {
                u32::MAX
            } else {
                (1 << count) - 1
            };
            word.store(bits, Ordering::Relaxed);
        }
        // Release: a reader that sees the generation sees its table.
        self.tripped.store(generation_, Ordering::Release);
    }

    /// No party is leaving a tripped generation any more (a reset, or the
    /// trip lost to a break).
    fn forget_leaving(&self) {
        for word in &self.leaving {
            word.store(0, Ordering::Relaxed);
        }
    }

    /// `arrival`'s party returns from its `wait` or `trip`: if its
    /// generation is the last tripped one, its bit goes. Should a later
    /// generation trip meanwhile (which takes another thread in this
    /// party's place), the bit is left alone, or, racing that trip, may
    /// clear the bit of the later generation's party with the same index:
    /// a death that party then dies leaving goes unnoticed (its waiters end
    /// at their deadline), never a break without a death.
    fn leave(&self, arrival: Arrival) {
        // Relaxed: the word's Acquire load (or this party's own trip)
        // ordered the trip's stores before this.
        if self.tripped.load(Ordering::Relaxed) != arrival.generation {
            return;
        }
        let (word, bit) = (arrival.index as usize / 32, arrival.index % 32);
        if let Some(word) = self.leaving.get(word) {
            if word.load(Ordering::Relaxed) & (1 << bit) != 0 {
                word.fetch_and(!(1 << bit), Ordering::Relaxed);
            }
        }
    }

    /// Whether a party of the generation before `generation_` (when that
    /// one tripped) died before returning from it: inside the barrier, so
    /// `generation_` would wait for it for ever. A system call per party
    /// still leaving; on the probe schedule only.
    fn died_leaving(&self, generation_: u32) -> bool {
        let previous = generation_.wrapping_sub(1) & GENERATIONS;
        // Acquire: pairs with the Release store that ends `keep_leaving`.
        if self.tripped.load(Ordering::Acquire) != previous {
            return false;
        }
        let Some((word, bit)) = self.gone_leaving() else {
            return false;
        };
        // Acquire: pairs with `keep_leaving`'s Release fence, should the
        // table read above hold values of a trip after `previous`; then
        // `tripped` below no longer names it.
        shim::fence(Ordering::Acquire);
        // Relaxed: ordered by the fence. The party's bit, read again after
        // the kernel said it is gone: a party that returned, then died,
        // cleared it before it died.
        self.tripped.load(Ordering::Relaxed) == previous
            && self.leaving[word].load(Ordering::Relaxed) & bit != 0
    }

    /// The first party still leaving whose thread the kernel says is gone,
    /// as its word in `leaving` and its bit there.
    fn gone_leaving(&self) -> Option<(usize, u32)> {
        for (i, word) in self.leaving.iter().enumerate() {
            // Relaxed: checked again by `died_leaving`.
            let mut bits = word.load(Ordering::Relaxed);
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                bits &= !bit;
                let index = 32 * i + bit.trailing_zeros() as usize;
                let tid = self.leaving_tids[index].load(Ordering::Relaxed);
                if tid != 0 && shim::thread_is_gone(tid) {
                    return Some((i, bit));
                }
            }
        }
        None
    }

    /// Takes the internal lock, giving up at `deadline`, or when `give_up`
    /// says so (asked while asleep, within 100 ms). If a process died
    /// holding it, the bookkeeping may be half-written: break the barrier.
    fn enter(
        &self,
        deadline: Deadline,
        give_up: impl FnMut() -> bool,
    ) -> Result<Entered<'_>, BarrierBusy> {
        let Some(locked) = self.lock.try_lock_until_unless(deadline, give_up) else {
            return Err(BarrierBusy {
                holder: self.lock.holder_tid(),
            });
        };
        if locked.owner_died() {
            self.break_generation(generation(self.word.load(Ordering::Relaxed)));
            let _ = self.lock.mark_consistent();
        }
        Ok(Entered {
            lock: &self.lock,
            hold: locked.hold,
        })
    }
}

/// Holds the barrier's internal lock.
struct Entered<'a> {
    lock: &'a RawLock,
    hold: LockHold,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        let _ = self.lock.unlock(self.hold);
    }
}
