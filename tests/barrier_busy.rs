//! A `Barrier` whose small internal lock stays held by a live thread (bytes
//! naming one, or a party stopped with SIGSTOP while it holds the lock):
//! every call still honours its timeout. `wait` breaks the barrier at its
//! time-out, `reset` gives up with `BarrierBusy` after the handle's, `abort`
//! and `n_waiting` return at once; once the holder is gone the next taker
//! is told (`OwnerDied` inside: the barrier breaks) and `reset` makes the
//! barrier usable again. Every wait is bounded.
//!
//! These fail on the old barrier, which took its internal lock without a
//! deadline: each call below would sleep until the holder let go, forever
//! here (the watchdog would abort the run).

use shmsync::raw::{BarrierBusy, BrokenBarrier, RawLock};
use shmsync::{Barrier, Process, Shared};
use shmsync_testkit::{
    die_with_parent, is_stopped, join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

mod raw_bytes;
use raw_bytes::{barrier_fields, LiveThread};

/// How much longer than asked a timed call may take on a loaded machine
/// before we call it stuck.
const SLACK: Duration = Duration::from_secs(2);

/// The time-out of `reset` on the impatient handles.
const RESET_PATIENCE: Duration = Duration::from_millis(50);

/// Runs `f` and checks it returned after at least `asked` and within
/// `asked + SLACK`.
#[track_caller]
fn timed<T>(asked: Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(
        took >= asked,
        "returned after {took:?}, before the {asked:?} asked"
    );
    assert!(took < asked + SLACK, "{asked:?} asked, took {took:?}");
    out
}

/// Runs `f` and checks it returned without waiting for anything.
#[track_caller]
fn at_once<T>(f: impl FnOnce() -> T) -> T {
    timed(Duration::ZERO, f)
}

/// Two parties pass the barrier: this process and a child.
fn passes_with_a_child(barrier: &Barrier) {
    let child =
        KillOnDrop(Process::spawn(|| assert!(barrier.wait(Some(PATIENCE)).is_ok())).unwrap());
    assert!(barrier.wait(Some(PATIENCE)).is_ok());
    join_ok(&child);
}

#[test]
fn every_barrier_call_honours_its_timeout_while_the_internal_lock_names_a_live_thread() {
    let _w = Watchdog::new("internal_lock_scribbled", PATIENCE);
    let barrier = Barrier::new(2).unwrap().with_timeout(RESET_PATIENCE);
    let fields = barrier_fields(barrier.raw());
    let live = LiveThread::spawn();
    fields.lock_word().store(live.tid(), Ordering::SeqCst);

    let waited = timed(Duration::from_millis(10), || {
        barrier.wait(Some(Duration::from_millis(10)))
    });
    assert_eq!(waited, Err(BrokenBarrier));
    assert!(
        barrier.broken(),
        "a party that cannot arrive breaks the barrier"
    );
    // Broken now: a party queued for the lock gives up at its first look
    // (1 ms into its sleep), not at the handle's time-out.
    assert_eq!(at_once(|| barrier.wait(None)), Err(BrokenBarrier));

    let reset = timed(RESET_PATIENCE, || barrier.reset());
    assert_eq!(
        reset,
        Err(BarrierBusy {
            holder: Some(live.tid())
        })
    );
    assert!(barrier.broken(), "a busy reset changes nothing");
    at_once(|| barrier.abort());
    assert_eq!(at_once(|| barrier.n_waiting()), 0);

    // The thread ends: the next taker finds it gone and takes over.
    live.end();
    let patient = barrier.clone().with_timeout(PATIENCE);
    assert_eq!(patient.reset(), Ok(()));
    assert_eq!(
        fields.lock_word().load(Ordering::SeqCst),
        0,
        "the internal lock is free and consistent again"
    );
    assert!(!barrier.broken());
    passes_with_a_child(&patient);
}

#[test]
fn abort_frees_a_party_queued_for_an_internal_lock_that_names_a_live_thread() {
    let _w = Watchdog::new("internal_lock_abort", PATIENCE);
    // No time-out anywhere: only `abort` can end this party's wait.
    let barrier = Barrier::new(2).unwrap();
    let fields = barrier_fields(barrier.raw());
    let live = LiveThread::spawn();
    fields.lock_word().store(live.tid(), Ordering::SeqCst);
    let waited = std::thread::scope(|s| {
        let party = s.spawn(|| barrier.wait(None));
        // Let the party queue for the lock (and fall asleep there).
        std::thread::sleep(Duration::from_millis(50));
        assert!(!party.is_finished(), "the party waits for the lock");
        barrier.abort();
        let start = Instant::now();
        let waited = party.join().unwrap();
        // Asleep, it looks on the lock's probe schedule: within 100 ms.
        assert!(start.elapsed() < SLACK, "abort took {:?}", start.elapsed());
        waited
    });
    assert_eq!(waited, Err(BrokenBarrier));
    live.end();
}

/// A child that takes `barrier`'s internal lock (through the lock's own
/// code, at the offset checked by `barrier_fields`) and stops itself with
/// SIGSTOP while holding it. Returns once the child is stopped and the lock
/// names it.
fn stopped_holder(barrier: &Barrier) -> KillOnDrop {
    let fields = barrier_fields(barrier.raw());
    let internal: &RawLock = fields.lock;
    let child = KillOnDrop(
        Process::spawn(|| {
            die_with_parent();
            let _held = internal.lock();
            // SAFETY: raise has no preconditions; SIGSTOP stops this
            // process until SIGCONT or SIGKILL.
            unsafe { libc::raise(libc::SIGSTOP) };
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the child to stop holding the lock", || {
        is_stopped(child.pid())
    });
    assert_eq!(
        internal.holder_tid(),
        Some(child.pid()),
        "the stopped child holds the internal lock"
    );
    child
}

#[test]
fn a_party_stopped_holding_the_internal_lock_makes_calls_give_up_at_their_timeouts() {
    let _w = Watchdog::new("internal_lock_stopped", PATIENCE);
    let barrier = Barrier::new(2).unwrap().with_timeout(RESET_PATIENCE);
    let holder = stopped_holder(&barrier);

    let reset = timed(RESET_PATIENCE, || barrier.reset());
    assert_eq!(
        reset,
        Err(BarrierBusy {
            holder: Some(holder.pid())
        })
    );
    assert!(!barrier.broken(), "a busy reset changes nothing");
    assert_eq!(at_once(|| barrier.n_waiting()), 0);

    let waited = timed(Duration::from_millis(10), || {
        barrier.wait(Some(Duration::from_millis(10)))
    });
    assert_eq!(waited, Err(BrokenBarrier));
    assert!(barrier.broken());
    at_once(|| barrier.abort());
    assert!(barrier.broken());

    // SIGKILL, not reaped yet: a zombie still holds the lock word, and the
    // next taker must see that it is gone.
    holder.kill().unwrap();
    let patient = barrier.clone().with_timeout(PATIENCE);
    assert_eq!(patient.reset(), Ok(()));
    assert_eq!(
        barrier_fields(barrier.raw())
            .lock_word()
            .load(Ordering::SeqCst),
        0
    );
    assert!(!barrier.broken());
    assert_eq!(join_within(&holder, PATIENCE), -libc::SIGKILL);
    passes_with_a_child(&patient);
}

#[test]
fn a_party_killed_while_holding_the_internal_lock_breaks_the_barrier_for_the_next_arrival() {
    let _w = Watchdog::new("internal_lock_killed", PATIENCE);
    const NOTICED_WITHIN: Duration = Duration::from_secs(5);
    let barrier = Barrier::new(2).unwrap();
    let holder = stopped_holder(&barrier);
    holder.kill().unwrap();

    // The next arrival takes the lock over (OwnerDied inside): the
    // bookkeeping may be half-written, so the barrier breaks for it and
    // everyone else, long before this wait's own time-out.
    let start = Instant::now();
    assert_eq!(barrier.wait(Some(PATIENCE)), Err(BrokenBarrier));
    let took = start.elapsed();
    assert!(
        took < NOTICED_WITHIN,
        "the death was noticed after {took:?}"
    );
    assert!(barrier.broken());
    let result = Shared::new(AtomicU32::new(0)).unwrap();
    let later = Process::spawn(|| {
        let broken = barrier.wait(Some(PATIENCE)) == Err(BrokenBarrier);
        result.store(u32::from(broken), Ordering::SeqCst);
    })
    .unwrap();
    join_ok(&later);
    assert_eq!(
        result.load(Ordering::SeqCst),
        1,
        "later waiters see it broken"
    );

    assert_eq!(barrier.reset(), Ok(()));
    assert!(!barrier.broken());
    assert_eq!(join_within(&holder, PATIENCE), -libc::SIGKILL);
    passes_with_a_child(&barrier);
}
