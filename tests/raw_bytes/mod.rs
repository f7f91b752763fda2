//! Helpers for the tests that write a primitive's bytes as a hostile or
//! confused peer would: each field at its byte offset, with the offset
//! checked against live values before it is used (a layout change fails the
//! check instead of scribbling the wrong field), the calling thread's id and
//! stamp, a live thread whose id tests can plant, and a thread's CPU time.
//!
//! The layouts, as `src/raw` declares them (`#[repr(C)]`):
//!
//! - `RawLock`: `word: u32` @0 (holder tid | INCONSISTENT 1<<30 | WAITERS
//!   1<<31), `number: u32` @4, `stamp: u64` @8, then the wait cell @16;
//! - `RawRLock`: the `RawLock` @0, `count: u32` right after it;
//! - `RawBarrier`: `word`, `outcomes`, `parties`, `arrived` (u32 each) @0,
//!   `tids: [u32; 64]` @16, the internal `RawLock` @272, then the cell;
//! - `RawEvent`: `word: u32` @0, then the cell, 8-aligned;
//! - the wait cell: empty on the futex backend; on the POSIX-semaphore
//!   backend `state: u32` @0, `sleepers: u32` @4, `init_seen: u64` @8,
//!   `sem: sem_t` @16.
#![allow(dead_code)]

use shmsync::raw::{RawBarrier, RawEvent, RawLock, RawRLock};
use shmsync::{Deadline, Shared};
use shmsync_testkit::{wait_until, PATIENCE};
use std::mem::{align_of, size_of};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bit 30 of a lock word: a holder died and nobody marked the lock
/// consistent since.
pub const INCONSISTENT: u32 = 1 << 30;
/// Bit 31 of a lock word: someone may sleep on it.
pub const WAITERS: u32 = 1 << 31;

/// The wait cell's size on the compiled backend.
pub const CELL: usize = if cfg!(feature = "posix-sem") {
    16 + size_of::<libc::sem_t>()
} else {
    0
};
/// `RawLock`'s size: word, hold number, stamp, cell.
pub const LOCK_SIZE: usize = 16 + CELL;
/// Where `RawRLock::count` lives.
pub const RLOCK_COUNT_AT: usize = LOCK_SIZE;
/// Where `RawBarrier::arrived` lives.
pub const BARRIER_ARRIVED_AT: usize = 12;
/// Where `RawBarrier::parties` lives.
pub const BARRIER_PARTIES_AT: usize = 8;
/// Where `RawBarrier::tids[0]` lives.
pub const BARRIER_TIDS_AT: usize = 16;
/// Where `RawBarrier::tripped` lives, then the two `leaving` words, then
/// `leaving_tids`.
pub const BARRIER_TRIPPED_AT: usize = 16 + 4 * 64;
const BARRIER_LEAVING_AT: usize = BARRIER_TRIPPED_AT + 4;
const BARRIER_LEAVING_TIDS_AT: usize = BARRIER_LEAVING_AT + 8;
/// Where `RawBarrier`'s internal lock lives: after the arrivals' thread
/// ids, the tripped generation and its two words of leaving bits, and the
/// leaving parties' thread ids (padded to 8).
pub const BARRIER_LOCK_AT: usize = 16 + 4 * 64 + 12 + 4 * 64 + 4;
/// Where `RawEvent`'s cell lives (the posix-sem backend only).
pub const EVENT_CELL_AT: usize = 8;
/// The cell's `state` when its semaphore is initialised.
pub const CELL_READY: u32 = u32::MAX;

/// The calling thread's kernel id, as lock words record it.
pub fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    let tid = unsafe { libc::gettid() };
    u32::try_from(tid).expect("thread ids are positive")
}

/// The CPU time the calling thread has used so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_THREAD_CPUTIME_ID exists on
    // Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Runs `f` (a wait, typically); returns its result, the wall time it took
/// and the CPU time the calling thread spent in it: a wait that sleeps
/// spends almost none, a busy loop about all.
pub fn wall_and_cpu<R>(f: impl FnOnce() -> R) -> (R, Duration, Duration) {
    let (t0, cpu0) = (std::time::Instant::now(), thread_cpu_time());
    let result = f();
    (result, t0.elapsed(), thread_cpu_time() - cpu0)
}

/// The field of type `F` at byte `offset` of `value`.
///
/// # Safety
///
/// A field of type `F` (or an `F` inside an `UnsafeCell`) starts at byte
/// `offset` of `T`.
unsafe fn field<T, F>(value: &T, offset: usize) -> &F {
    assert!(
        offset + size_of::<F>() <= size_of::<T>(),
        "field @{offset} is outside the {}-byte value",
        size_of::<T>()
    );
    let at = (value as *const T)
        .cast::<u8>()
        .wrapping_add(offset)
        .cast::<F>();
    assert_eq!(
        at as usize % align_of::<F>(),
        0,
        "field @{offset} misaligned"
    );
    // SAFETY: the caller promises an `F` there; it lies inside `*value`
    // (asserted) and is aligned (asserted), and lives as long as `value`.
    // Every field of the primitives is an atomic or sits in an
    // `UnsafeCell`, so writing through this shared reference is what their
    // own code does.
    unsafe { &*at }
}

/// The layout the helpers assume, pinned by sizes: a changed field order or
/// size fails here before any byte is written.
fn check_sizes() {
    assert_eq!(size_of::<RawLock>(), LOCK_SIZE, "RawLock layout changed");
    assert_eq!(align_of::<RawLock>(), 8);
    assert_eq!(
        size_of::<RawRLock>(),
        LOCK_SIZE + 8,
        "RawRLock layout changed"
    );
    assert_eq!(
        size_of::<RawBarrier>(),
        BARRIER_LOCK_AT + LOCK_SIZE + CELL,
        "RawBarrier layout changed"
    );
    let event = if CELL == 0 { 4 } else { EVENT_CELL_AT + CELL };
    assert_eq!(size_of::<RawEvent>(), event, "RawEvent layout changed");
}

/// A `RawLock`'s fields.
pub struct LockFields<'a> {
    /// `holder tid | INCONSISTENT | WAITERS`.
    pub word: &'a AtomicU32,
    /// The holder's stamp.
    pub stamp: &'a AtomicU64,
}

/// The fields of `lock`, once the layout has been checked on a lock of our
/// own.
pub fn lock_fields(lock: &RawLock) -> LockFields<'_> {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(check_lock_layout);
    // SAFETY: word @0 and stamp @8, checked by `check_lock_layout`.
    unsafe {
        LockFields {
            word: field(lock, 0),
            stamp: field(lock, 8),
        }
    }
}

/// Locks a lock of our own from two threads: the word @0 must name each
/// locker and fall back to 0, the stamp @8 must be nonzero, the same for
/// one thread every time and different between threads.
fn check_lock_layout() {
    check_sizes();
    let lock = Shared::new(RawLock::new()).unwrap();
    // SAFETY: the offsets under test; a wrong one reads the wrong field of
    // our own lock, which the checks below catch.
    let (word, stamp): (&AtomicU32, &AtomicU64) = unsafe {
        (
            field::<RawLock, AtomicU32>(&lock, 0),
            field::<RawLock, AtomicU64>(&lock, 8),
        )
    };
    let stamp_of = |lock: &RawLock| {
        let locked = lock.lock();
        assert_eq!(word.load(Ordering::SeqCst), gettid(), "lock word not @0");
        let seen = stamp.load(Ordering::SeqCst);
        lock.unlock(locked.hold).unwrap();
        assert_eq!(word.load(Ordering::SeqCst), 0, "lock word not @0");
        seen
    };
    let mine = stamp_of(&lock);
    assert_ne!(mine, 0, "stamp not @8");
    assert_eq!(stamp_of(&lock), mine, "stamp not @8");
    let other = std::thread::scope(|s| s.spawn(|| stamp_of(&lock)).join().unwrap());
    assert_ne!(other, mine, "stamp not @8");
}

/// The calling thread's stamp: what a lock it holds records beside its id.
pub fn my_stamp() -> u64 {
    let lock = Shared::new(RawLock::new()).unwrap();
    let fields = lock_fields(&lock);
    let locked = lock.lock();
    let stamp = fields.stamp.load(Ordering::SeqCst);
    lock.unlock(locked.hold).unwrap();
    stamp
}

/// `RawRLock::count`, once the layout has been checked on a lock of our
/// own.
pub fn rlock_count(lock: &RawRLock) -> &AtomicU32 {
    check_rlock_layout();
    // SAFETY: checked by `check_rlock_layout`.
    unsafe { field(lock, RLOCK_COUNT_AT) }
}

/// The fields of the `RawLock` inside a `RawRLock` (its first field), once
/// the layout has been checked on a lock of our own.
pub fn rlock_inner(lock: &RawRLock) -> LockFields<'_> {
    check_rlock_layout();
    // SAFETY: the `RawLock` is at @0, checked by `check_rlock_layout`.
    lock_fields(unsafe { field::<RawRLock, RawLock>(lock, 0) })
}

/// Takes an `RLock` of our own two levels deep: the word @0 names this
/// thread, the count after the inner lock says 2, then 1, and the word
/// falls back to 0.
fn check_rlock_layout() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        check_sizes();
        let ours = Shared::new(RawRLock::new()).unwrap();
        // SAFETY: the offsets under test, inside our own lock: a wrong one
        // reads the wrong field of it, which the checks catch.
        let (word, count) = unsafe {
            (
                field::<RawRLock, AtomicU32>(&ours, 0),
                field::<RawRLock, AtomicU32>(&ours, RLOCK_COUNT_AT),
            )
        };
        let outer = ours.lock();
        let inner = ours.lock();
        assert_eq!(word.load(Ordering::SeqCst), gettid(), "inner lock not @0");
        assert_eq!(
            count.load(Ordering::SeqCst),
            2,
            "count not @{RLOCK_COUNT_AT}"
        );
        ours.unlock(inner.hold).unwrap();
        assert_eq!(
            count.load(Ordering::SeqCst),
            1,
            "count not @{RLOCK_COUNT_AT}"
        );
        ours.unlock(outer.hold).unwrap();
        assert_eq!(word.load(Ordering::SeqCst), 0, "inner lock not @0");
    });
}

/// A thread that stays alive, parked, until [`LiveThread::end`] (or
/// [`PATIENCE`]): its id names a live thread that holds nothing.
pub struct LiveThread {
    tid: u32,
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl LiveThread {
    pub fn spawn() -> LiveThread {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (stop, stop_rx) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            tid_tx.send(gettid()).unwrap();
            let _ = stop_rx.recv_timeout(PATIENCE);
        });
        let tid = tid_rx.recv_timeout(PATIENCE).expect("the live thread's id");
        LiveThread { tid, stop, handle }
    }

    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// Ends the thread and joins it: its id then names no live thread (once
    /// the kernel has reaped it, a moment later).
    pub fn end(self) {
        drop(self.stop);
        self.handle.join().unwrap();
    }
}

/// A `RawBarrier`'s fields.
pub struct BarrierFields<'a> {
    /// `generation << 1 | BROKEN`.
    pub word: &'a AtomicU32,
    pub parties: &'a AtomicU32,
    pub arrived: &'a AtomicU32,
    tids: &'a [AtomicU32; 64],
    /// The generation that tripped last.
    pub tripped: &'a AtomicU32,
    /// Its parties that have not returned yet: bit `i % 32` of word
    /// `i / 32` for arrival index `i`.
    pub leaving: &'a [AtomicU32; 2],
    leaving_tids: &'a [AtomicU32; 64],
    /// The internal lock.
    pub lock: &'a RawLock,
}

impl<'a> BarrierFields<'a> {
    /// The thread id of the arrival with index `index`.
    pub fn tid(&self, index: usize) -> &'a AtomicU32 {
        &self.tids[index]
    }

    /// The thread id of the last tripped generation's arrival `index`.
    pub fn leaving_tid(&self, index: usize) -> &'a AtomicU32 {
        &self.leaving_tids[index]
    }

    /// The internal lock's word.
    pub fn lock_word(&self) -> &'a AtomicU32 {
        lock_fields(self.lock).word
    }
}

/// The fields of `barrier`, once the layout has been checked on a barrier
/// of our own.
pub fn barrier_fields(barrier: &RawBarrier) -> BarrierFields<'_> {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(check_barrier_layout);
    // SAFETY: the offsets checked by `check_barrier_layout`.
    unsafe { barrier_fields_unchecked(barrier) }
}

/// # Safety
///
/// The barrier layout in the module docs holds.
unsafe fn barrier_fields_unchecked(barrier: &RawBarrier) -> BarrierFields<'_> {
    // SAFETY: per the caller.
    unsafe {
        BarrierFields {
            word: field(barrier, 0),
            parties: field(barrier, BARRIER_PARTIES_AT),
            arrived: field(barrier, BARRIER_ARRIVED_AT),
            tids: field(barrier, BARRIER_TIDS_AT),
            tripped: field(barrier, BARRIER_TRIPPED_AT),
            leaving: field(barrier, BARRIER_LEAVING_AT),
            leaving_tids: field(barrier, BARRIER_LEAVING_TIDS_AT),
            lock: field(barrier, BARRIER_LOCK_AT),
        }
    }
}

/// Checks every barrier field the tests use against a barrier of our own:
/// the word through abort and reset, `parties`, an arrival's count and
/// thread id, what a trip keeps of its leaving parties, and the internal
/// lock's word through the holder a busy
/// `reset` reports (read by the barrier's own code, so a wrong offset
/// cannot pass).
fn check_barrier_layout() {
    check_sizes();
    let barrier = Shared::new(RawBarrier::new(2)).unwrap();
    // SAFETY: the offsets under test, inside our own barrier: a wrong one
    // reads or writes the wrong field of it, which the checks catch.
    let fields = unsafe { barrier_fields_unchecked(&barrier) };
    assert_eq!(fields.parties.load(Ordering::SeqCst), 2, "parties moved");
    assert_eq!(fields.word.load(Ordering::SeqCst), 0, "word moved");
    barrier.abort();
    assert_eq!(fields.word.load(Ordering::SeqCst), 1, "word moved");
    barrier.reset(Deadline::NEVER).unwrap();
    assert_eq!(fields.word.load(Ordering::SeqCst), 2, "word moved");

    let barrier = &barrier;
    std::thread::scope(|s| {
        let (tid_tx, tid_rx) = mpsc::channel();
        let party = s.spawn(move || {
            tid_tx.send(gettid()).unwrap();
            let deadline = Deadline::after(PATIENCE);
            let arrival = barrier.arrive(deadline).unwrap();
            barrier.wait(arrival, deadline)
        });
        let tid = tid_rx.recv_timeout(PATIENCE).unwrap();
        wait_until(PATIENCE, "the party to arrive", || barrier.n_waiting() == 1);
        assert_eq!(fields.arrived.load(Ordering::SeqCst), 1, "arrived moved");
        assert_eq!(fields.tid(0).load(Ordering::SeqCst), tid, "tids moved");
        barrier.abort();
        assert!(party.join().unwrap().is_err());
    });
    barrier.reset(Deadline::NEVER).unwrap();

    // A trip keeps its generation, its parties' ids, and a bit for each
    // until it returns: two arrivals of this thread, the last one trips.
    let generation = fields.word.load(Ordering::SeqCst) >> 1;
    let first = barrier.arrive(Deadline::NEVER).unwrap();
    let last = barrier.arrive(Deadline::NEVER).unwrap();
    barrier.trip(last, Deadline::NEVER).unwrap();
    assert_eq!(
        fields.tripped.load(Ordering::SeqCst),
        generation,
        "tripped moved"
    );
    assert_eq!(
        fields.leaving[0].load(Ordering::SeqCst),
        0b01,
        "leaving moved"
    );
    for index in [0, 1] {
        assert_eq!(
            fields.leaving_tid(index).load(Ordering::SeqCst),
            gettid(),
            "leaving_tids moved"
        );
    }
    barrier.wait(first, Deadline::NEVER).unwrap();
    assert_eq!(fields.leaving[0].load(Ordering::SeqCst), 0, "leaving moved");

    let live = LiveThread::spawn();
    let tid = live.tid();
    // SAFETY: the internal lock's word, under test.
    let word: &AtomicU32 = unsafe { field::<RawBarrier, AtomicU32>(barrier, BARRIER_LOCK_AT) };
    assert_eq!(word.swap(tid, Ordering::SeqCst), 0, "lock moved");
    let busy = barrier.reset(Deadline::after(Duration::from_millis(1)));
    // The busy reset may have flagged itself as a waiter.
    assert_eq!(word.swap(0, Ordering::SeqCst) & !WAITERS, tid);
    live.end();
    let busy = busy.expect_err("a live holder keeps reset out");
    assert_eq!(
        busy.holder,
        Some(tid),
        "internal lock not @{BARRIER_LOCK_AT}"
    );
}

/// The POSIX-semaphore wait cell of a `RawEvent`.
#[cfg(feature = "posix-sem")]
pub struct CellFields<'a> {
    /// 0: not initialised; `CELL_READY`; else the initialiser's thread id.
    pub state: &'a AtomicU32,
    /// Threads that may sleep on the semaphore.
    pub sleepers: &'a AtomicU32,
    sem: *mut libc::sem_t,
}

#[cfg(feature = "posix-sem")]
impl CellFields<'_> {
    /// The semaphore's value: posts not taken yet.
    ///
    /// # Panics
    ///
    /// Unless the cell is initialised.
    pub fn sem_value(&self) -> i32 {
        assert_eq!(self.state.load(Ordering::SeqCst), CELL_READY);
        let mut value = 0;
        // SAFETY: the cell is initialised (asserted), so `sem` is a live
        // semaphore inside the mapping `self` borrows; `value` is a valid
        // out-pointer.
        let rc = unsafe { libc::sem_getvalue(self.sem, &mut value) };
        assert_eq!(rc, 0, "sem_getvalue");
        value
    }
}

/// The event's word (`sets << 2 | SLEEPERS | SET`), once its offset has
/// been checked on an event of our own.
pub fn event_word(event: &RawEvent) -> &AtomicU32 {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        check_sizes();
        let ours = Shared::new(RawEvent::new()).unwrap();
        // SAFETY: the offset under test, inside our own event.
        let word = unsafe { field::<RawEvent, AtomicU32>(&ours, 0) };
        assert_eq!(word.load(Ordering::SeqCst), 0, "event word not @0");
        ours.set();
        assert_eq!(word.load(Ordering::SeqCst), 1 << 2 | 1, "event word not @0");
        ours.clear();
        assert_eq!(word.load(Ordering::SeqCst), 1 << 2, "event word not @0");
    });
    // SAFETY: checked above.
    unsafe { field(event, 0) }
}

/// The wait cell of `event`, once checked on an event of our own.
#[cfg(feature = "posix-sem")]
pub fn event_cell(event: &RawEvent) -> CellFields<'_> {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(check_event_cell_layout);
    // SAFETY: checked by `check_event_cell_layout`.
    unsafe { event_cell_unchecked(event) }
}

/// # Safety
///
/// The cell layout in the module docs holds.
#[cfg(feature = "posix-sem")]
unsafe fn event_cell_unchecked(event: &RawEvent) -> CellFields<'_> {
    // SAFETY: per the caller; the `sem_t` sits in an `UnsafeCell`.
    unsafe {
        CellFields {
            state: field(event, EVENT_CELL_AT),
            sleepers: field(event, EVENT_CELL_AT + 4),
            sem: (field::<RawEvent, libc::sem_t>(event, EVENT_CELL_AT + 16) as *const libc::sem_t)
                .cast_mut(),
        }
    }
}

/// A fresh event's cell is uninitialised; a wait initialises it; a waiter
/// asleep counts in `sleepers`; the semaphore holds no posts.
#[cfg(feature = "posix-sem")]
fn check_event_cell_layout() {
    check_sizes();
    let event = Shared::new(RawEvent::new()).unwrap();
    // SAFETY: the offsets under test, inside our own event.
    let cell = unsafe { event_cell_unchecked(&event) };
    assert_eq!(cell.state.load(Ordering::SeqCst), 0, "state moved");
    assert!(!event.wait_for(Duration::from_millis(1)));
    assert_eq!(cell.state.load(Ordering::SeqCst), CELL_READY, "state moved");
    assert_eq!(cell.sleepers.load(Ordering::SeqCst), 0, "sleepers moved");
    assert_eq!(cell.sem_value(), 0, "sem moved");
    std::thread::scope(|s| {
        let waiter = s.spawn(|| event.wait_for(PATIENCE));
        wait_until(PATIENCE, "the waiter to sleep", || {
            cell.sleepers.load(Ordering::SeqCst) == 1
        });
        event.set();
        assert!(waiter.join().unwrap());
    });
    wait_until(PATIENCE, "the waiter to leave", || {
        cell.sleepers.load(Ordering::SeqCst) == 0
    });
}
