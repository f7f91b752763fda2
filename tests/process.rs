//! `Process`: exit codes with Python's conventions, join with and without
//! timeout, signals, and memory shared with the child.

mod common;

use common::{join_within, KillOnDrop, Watchdog, PATIENCE};
use shmsync::{Process, Shared};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

#[test]
fn exit_code_is_zero_when_the_closure_returns() {
    let _w = Watchdog::new("exit_code_zero", PATIENCE);
    let child = Process::spawn(|| {}).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert_eq!(child.exitcode(), Some(0));
    assert!(!child.is_alive());
}

#[test]
fn exit_code_is_one_when_the_closure_panics() {
    let _w = Watchdog::new("exit_code_one", PATIENCE);
    let child = Process::spawn(|| panic!("deliberate panic in a child")).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 1);
}

#[test]
fn exit_code_is_what_the_child_passes_to_exit() {
    let _w = Watchdog::new("exit_code_exit", PATIENCE);
    // SAFETY: _exit is always sound; it ends the child without running the
    // test harness's atexit handlers.
    let child = Process::spawn(|| unsafe { libc::_exit(7) }).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 7);
}

#[test]
fn kill_gives_minus_sigkill_and_terminate_minus_sigterm() {
    let _w = Watchdog::new("kill_terminate", PATIENCE);
    let sleeper = || loop {
        std::thread::sleep(Duration::from_secs(1));
    };
    let a = KillOnDrop(Process::spawn(sleeper).unwrap());
    let b = KillOnDrop(Process::spawn(sleeper).unwrap());
    assert!(a.is_alive() && b.is_alive());
    assert_eq!(a.exitcode(), None);
    a.kill().unwrap();
    b.terminate().unwrap();
    assert_eq!(join_within(&a, PATIENCE), -libc::SIGKILL);
    assert_eq!(join_within(&b, PATIENCE), -libc::SIGTERM);
    // Signalling a reaped child is a no-op, as in Python.
    a.kill().unwrap();
    b.terminate().unwrap();
}

#[test]
fn join_timeout_returns_none_while_the_child_runs() {
    let _w = Watchdog::new("join_timeout", PATIENCE);
    let child = KillOnDrop(
        Process::spawn(|| loop {
            std::thread::sleep(Duration::from_secs(1));
        })
        .unwrap(),
    );
    let start = Instant::now();
    assert_eq!(child.join_timeout(Duration::from_millis(50)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert!(child.is_alive());
}

#[test]
fn pid_is_the_childs_own() {
    let _w = Watchdog::new("pid", PATIENCE);
    let seen = Shared::new(AtomicU32::new(0)).unwrap();
    let child = Process::spawn(|| seen.store(std::process::id(), Ordering::SeqCst)).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert_eq!(seen.load(Ordering::SeqCst), child.pid());
    assert_ne!(child.pid(), std::process::id());
}

#[test]
fn a_write_in_a_forked_child_is_seen_by_the_parent() {
    let _w = Watchdog::new("shared_write", PATIENCE);
    let cell = Shared::new([AtomicU32::new(0), AtomicU32::new(0)]).unwrap();
    let child = Process::spawn(|| {
        cell[0].store(0xdead_beef, Ordering::Release);
        cell[1].store(42, Ordering::Release);
    })
    .unwrap();
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert_eq!(cell[0].load(Ordering::Acquire), 0xdead_beef);
    assert_eq!(cell[1].load(Ordering::Acquire), 42);
}

#[test]
fn concurrent_joins_from_two_threads_agree() {
    let _w = Watchdog::new("concurrent_joins", PATIENCE);
    let child = Process::spawn(|| std::thread::sleep(Duration::from_millis(20))).unwrap();
    std::thread::scope(|s| {
        let a = s.spawn(|| child.join().unwrap());
        let b = s.spawn(|| child.join().unwrap());
        assert_eq!(a.join().unwrap(), 0);
        assert_eq!(b.join().unwrap(), 0);
    });
}
