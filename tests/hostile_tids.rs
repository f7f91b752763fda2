//! No thread id read from shared memory can panic or hit the wrong target:
//! ids no live thread can have (0, above 2^22 - 1, and those that would be
//! negative as a `pid_t`, which `kill` reads as a process group) count as
//! gone, and are never handed to `kill`. Checked through a barrier's
//! watched-party slots and a lock word, in a debug build (tests are), and
//! in a child whose seccomp filter kills it at the first `kill` of a
//! process group. Every wait is bounded.
//!
//! These fail on the old probe, which turned the id into a `pid_t` with
//! `as`: rustix's `Pid::from_raw` then panics on a negative id in a debug
//! build, and a release build asks `kill(-id, 0)` about a process group
//! (`u32::MAX` is `kill(-1, 0)`, "every process": alive), so a waiting
//! party never learns that the id names nobody.

use shmsync::{Barrier, Deadline, Lock, Process, RLock, TryLockError};
use shmsync_testkit::{join_within, wait_until, Watchdog, PATIENCE};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod raw_bytes;
use raw_bytes::{barrier_fields, gettid, lock_fields, rlock_inner, INCONSISTENT, WAITERS};

/// How soon a waiting party must notice that the party it watches is gone.
const NOTICED_WITHIN: Duration = Duration::from_secs(5);

/// The waits' own time-out: far beyond `NOTICED_WITHIN`, so that only the
/// probe can end them in time.
const WAIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Ids no live thread can have, as a peer could write them in a barrier's
/// `tids`: negative as a `pid_t` (process groups for `kill`), above the
/// kernel's `PID_MAX_LIMIT`, and this test's own process group negated
/// (`kill(-pgid, 0)` would find it alive).
fn impossible_ids() -> Vec<u32> {
    // SAFETY: getpgrp has no preconditions and cannot fail.
    let pgid = unsafe { libc::getpgrp() } as u32;
    vec![
        0x8000_0001,
        u32::MAX,
        0x8000_0000,
        pgid.wrapping_neg(),
        (1 << 30) - 1,
        1 << 22,
    ]
}

/// Ids a lock word can hold (30 bits) that no live thread can have.
const IMPOSSIBLE_LOCK_HOLDERS: [u32; 4] = [
    (1 << 30) - 1,
    1 << 22,
    ((1 << 30) - 1) | WAITERS,
    (1 << 22) | WAITERS | INCONSISTENT,
];

/// A party of a three-party barrier that watches `tid` (planted as the
/// arrival before it) must break the barrier promptly.
#[track_caller]
fn watched_by_the_next_arrival(tid: u32) {
    let barrier = Barrier::new(3).unwrap();
    let fields = barrier_fields(barrier.raw());
    fields.tid(0).store(tid, Ordering::SeqCst);
    fields.arrived.store(1, Ordering::SeqCst);
    breaks_promptly(&barrier, tid);
    assert!(barrier.broken());
}

/// A wait on `barrier`, where `tid` was planted, fails well before its own
/// time-out: only the probe for `tid` can end it that soon.
#[track_caller]
fn breaks_promptly(barrier: &Barrier, tid: u32) {
    let start = Instant::now();
    assert!(barrier.wait(Some(WAIT_TIMEOUT)).is_err(), "tid {tid:#x}");
    let took = start.elapsed();
    assert!(
        took < NOTICED_WITHIN,
        "tid {tid:#x} was not seen as gone: the wait lasted {took:?}"
    );
}

/// The first party of a three-party barrier watches the latest arrival: a
/// planted second arrival with `tid` must break the barrier promptly.
#[track_caller]
fn watched_by_the_first_arrival(tid: u32) {
    let barrier = Barrier::new(3).unwrap();
    let fields = barrier_fields(barrier.raw());
    std::thread::scope(|s| {
        let first = s.spawn(|| {
            let start = Instant::now();
            (barrier.wait(Some(WAIT_TIMEOUT)), start.elapsed())
        });
        wait_until(PATIENCE, "the first party", || barrier.n_waiting() == 1);
        fields.tid(1).store(tid, Ordering::SeqCst);
        fields.arrived.store(2, Ordering::SeqCst);
        let (result, took) = first.join().unwrap();
        assert!(result.is_err(), "tid {tid:#x}");
        assert!(
            took < NOTICED_WITHIN,
            "tid {tid:#x} was not seen as gone: the wait lasted {took:?}"
        );
    });
}

/// A generation tripped, and `tid` is planted as one of its parties that
/// never returned from its wait: a party of the next generation must break
/// it promptly.
#[track_caller]
fn left_by_a_party_that_never_returned(tid: u32) {
    let barrier = Barrier::new(2).unwrap();
    let raw = barrier.raw();
    let first = raw.arrive(Deadline::NEVER).unwrap();
    let last = raw.arrive(Deadline::NEVER).unwrap();
    raw.trip(last, Deadline::NEVER).unwrap();
    raw.wait(first, Deadline::NEVER).unwrap();
    let fields = barrier_fields(raw);
    fields.leaving_tid(0).store(tid, Ordering::SeqCst);
    fields.leaving[0].store(0b01, Ordering::SeqCst);
    breaks_promptly(&barrier, tid);
}

#[test]
fn a_barrier_party_treats_an_impossible_watched_thread_id_as_gone() {
    let _w = Watchdog::new("barrier_impossible_tids", PATIENCE);
    for tid in impossible_ids() {
        watched_by_the_next_arrival(tid);
        watched_by_the_first_arrival(tid);
        left_by_a_party_that_never_returned(tid);
    }
}

/// Takes over `lock` after planting `word`: `OwnerDied`, promptly, held by
/// this thread.
#[track_caller]
fn lock_taken_over_from(word: u32) {
    let lock = Lock::new().unwrap();
    lock_fields(lock.raw()).word.store(word, Ordering::SeqCst);
    let start = Instant::now();
    let guard = match lock.try_lock_for(PATIENCE) {
        Err(TryLockError::OwnerDied(died)) => died.into_inner(),
        other => panic!("word {word:#x}: expected OwnerDied, got {other:?}"),
    };
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "word {word:#x}: took {took:?}"
    );
    assert_eq!(lock.raw().holder_tid(), Some(gettid()));
    assert!(lock.is_inconsistent());
    drop(guard);
    assert!(!lock.locked());

    let lock = RLock::new().unwrap();
    rlock_inner(lock.raw()).word.store(word, Ordering::SeqCst);
    assert!(
        lock.acquire(true, Some(PATIENCE)).is_err(),
        "word {word:#x}: expected OwnerDied"
    );
    assert_eq!(lock.depth(), 1);
    lock.release().unwrap();
    assert!(!lock.locked());
}

#[test]
fn a_lock_word_naming_an_impossible_thread_id_is_taken_over_with_owner_died_promptly() {
    let _w = Watchdog::new("lock_impossible_tids", PATIENCE);
    for word in IMPOSSIBLE_LOCK_HOLDERS {
        lock_taken_over_from(word);
    }
}

/// Makes the calling process die of SIGSYS at its first `kill` whose pid is
/// 0 or negative (a process group, or every process). Linux on x86-64 or
/// AArch64 only.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn forbid_kill_of_process_groups() -> std::io::Result<()> {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E; // EM_X86_64 | 64-bit | little-endian
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7; // EM_AARCH64 | 64-bit | little-endian
    const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let op = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    // struct seccomp_data: nr @0, arch @4, args[0] @16 (its low half on a
    // little-endian machine: the pid_t).
    let mut program = [
        op(LD_ABS, 0, 0, 4),
        op(JEQ, 0, 5, AUDIT_ARCH), // another ABI: allow
        op(LD_ABS, 0, 0, 0),
        op(JEQ, 0, 3, libc::SYS_kill as u32), // not kill: allow
        op(LD_ABS, 0, 0, 16),
        op(JSET, 2, 0, 0x8000_0000), // pid < 0: die
        op(JEQ, 1, 0, 0),            // pid == 0: die
        op(RET, 0, 0, libc::SECCOMP_RET_ALLOW),
        op(RET, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    let no_args: libc::c_ulong = 0;
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            no_args,
            no_args,
            no_args,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fprog` points at a valid BPF program that outlives the call
    // (the kernel copies it).
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::c_ulong::from(libc::SECCOMP_MODE_FILTER),
            &fprog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The exit code of a child that could not install its filter.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const NO_SECCOMP: i32 = 77;

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn no_thread_id_read_from_shared_memory_is_handed_to_kill_as_a_process_group() {
    let _w = Watchdog::new("no_kill_of_process_groups", PATIENCE);
    // Check the layouts here, before the children use them.
    let _ = barrier_fields(Barrier::new(1).unwrap().raw());
    let _ = lock_fields(Lock::new().unwrap().raw());

    // The filter works: a child that asks about its process group dies.
    let control = Process::spawn(|| {
        if forbid_kill_of_process_groups().is_err() {
            std::process::exit(NO_SECCOMP);
        }
        // SAFETY: kill with signal 0 only checks; getpgrp cannot fail.
        unsafe { libc::kill(-libc::getpgrp(), 0) };
    })
    .unwrap();
    match join_within(&control, PATIENCE) {
        NO_SECCOMP => {
            eprintln!("note: seccomp filters are not available here; test skipped");
            return;
        }
        code => assert_eq!(code, -libc::SIGSYS, "the seccomp filter did not catch kill"),
    }

    // The probes of barriers and locks, under the same filter.
    let child = Process::spawn(|| {
        forbid_kill_of_process_groups().unwrap();
        for tid in impossible_ids() {
            watched_by_the_next_arrival(tid);
            watched_by_the_first_arrival(tid);
            left_by_a_party_that_never_returned(tid);
        }
        for word in IMPOSSIBLE_LOCK_HOLDERS {
            lock_taken_over_from(word);
        }
        #[cfg(feature = "posix-sem")]
        for tid in impossible_ids() {
            posix_sem::cell_claimed_from_initialiser(tid);
        }
    })
    .unwrap();
    assert_eq!(
        join_within(&child, PATIENCE),
        0,
        "a probe failed (1) or called kill on a process group (-SIGSYS)"
    );
}

#[cfg(feature = "posix-sem")]
mod posix_sem {
    use super::raw_bytes::{event_cell, CELL_READY};
    use shmsync::Event;
    use shmsync_testkit::PATIENCE;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// An event whose cell names `tid` as its initialiser: a waiter finds
    /// it gone, initialises the cell itself and waits normally.
    pub fn cell_claimed_from_initialiser(tid: u32) {
        let event = Event::new().unwrap();
        let cell = event_cell(event.raw());
        cell.state.store(tid, Ordering::SeqCst);
        assert!(!event.wait(Some(Duration::from_millis(20))), "tid {tid:#x}");
        assert_eq!(
            cell.state.load(Ordering::SeqCst),
            CELL_READY,
            "tid {tid:#x}"
        );
        std::thread::scope(|s| {
            let waiter = s.spawn(|| event.wait(Some(PATIENCE)));
            event.set();
            assert!(waiter.join().unwrap());
        });
    }

    #[test]
    fn a_cell_naming_an_impossible_initialiser_is_claimed_by_the_next_waiter() {
        let _w = shmsync_testkit::Watchdog::new("cell_impossible_initialiser", PATIENCE);
        for tid in super::impossible_ids() {
            cell_claimed_from_initialiser(tid);
        }
    }
}
