//! `Process`: exit codes with Python's conventions, join with and without
//! timeout, signals, memory shared with the child, names, daemons, the
//! sentinel, close, reaping of dropped children, `active_children`, and
//! panic messages that reach stderr from a child whose parent's output is
//! captured.
//!
//! Processes that are not children of the test (grandchildren) are watched
//! through pidfds opened while they certainly live, so a reused pid can
//! never be mistaken for them.

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, PidfdFlags, Signal, WaitId, WaitIdOptions};
use shmsync::{active_children, Error, Event, Process, Shared};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Whether `fd` (a pidfd) polls readable within `timeout`: its process has
/// exited.
fn readable_within(fd: impl AsFd, timeout: Duration) -> bool {
    let ts = rustix::time::Timespec::try_from(timeout).unwrap();
    let start = Instant::now();
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) if start.elapsed() >= timeout => return false,
            Ok(0) | Err(rustix::io::Errno::INTR) => continue,
            Ok(_) => return fds[0].revents().contains(PollFlags::IN),
            Err(e) => panic!("poll: {e}"),
        }
    }
}

/// A pidfd for `pid`, a process that the caller knows to be alive (so the
/// pid cannot have been reused).
fn pidfd(pid: u32) -> OwnedFd {
    let pid = Pid::from_raw(pid as i32).expect("positive pid");
    rustix::process::pidfd_open(pid, PidfdFlags::empty()).expect("pidfd_open")
}

/// Kills the process behind a pidfd when dropped, unless it has exited: a
/// grandchild that a failing test would otherwise leave behind.
struct KillPidfdOnDrop(OwnedFd);

impl Drop for KillPidfdOnDrop {
    fn drop(&mut self) {
        let _ = rustix::process::pidfd_send_signal(&self.0, Signal::KILL);
    }
}

/// Whether `pid` is not (or no longer) an unreaped child of this process:
/// `waitid` with `WNOWAIT` fails with `ECHILD`. `WNOWAIT` leaves a child of
/// another test untouched should the pid have been reused by one.
fn is_reaped(pid: u32) -> bool {
    let pid = Pid::from_raw(pid as i32).expect("positive pid");
    let opts = WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT;
    match rustix::process::waitid(WaitId::Pid(pid), opts) {
        Err(rustix::io::Errno::CHILD) => true,
        Ok(_) => false,
        Err(e) => panic!("waitid: {e}"),
    }
}

/// Sets the flag when dropped, also while unwinding.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Sleeps in short naps for at most `limit`, then returns: the body of a
/// child that should be stopped by something else but must not outlive a
/// failed test by long.
fn linger(limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Exit codes, join, signals, pid (Python's conventions)
// ---------------------------------------------------------------------------

#[test]
fn exit_code_is_zero_when_the_closure_returns() {
    let _w = Watchdog::new("exit_code_zero", PATIENCE);
    let child = Process::spawn(|| {}).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert_eq!(child.exitcode(), Some(0));
    assert!(!child.is_alive());
}

/// A panic payload whose drop panics too.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's drop panics");
    }
}

#[test]
fn a_panic_whose_payload_panics_when_dropped_still_ends_the_child_with_code_1() {
    let _w = Watchdog::new("payload_drop_panics", PATIENCE);
    let parent = std::process::id();
    let spawned = std::panic::catch_unwind(|| {
        Process::spawn(|| std::panic::panic_any(PanicsWhenDropped)).unwrap()
    });
    if std::process::id() != parent {
        // The child unwound out of `spawn` into this test's code: end it
        // with a code the assertion below names.
        // SAFETY: _exit ends the process at once.
        unsafe { libc::_exit(42) }
    }
    let child = spawned.expect("spawn itself does not panic");
    assert_eq!(
        join_within(&child, PATIENCE),
        1,
        "42: it ran the parent's code"
    );
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
    let sleeper = || linger(PATIENCE);
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
    let child = KillOnDrop(Process::spawn(|| linger(PATIENCE)).unwrap());
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

// ---------------------------------------------------------------------------
// Names (Python's `name` and `current_process().name`)
// ---------------------------------------------------------------------------

/// The `N` of a default name `Process-N`.
fn spawn_number(name: &str) -> u64 {
    let n = name.strip_prefix("Process-").expect("a default name");
    n.parse().expect("Process-<number>")
}

#[test]
fn default_names_count_this_processs_spawns() {
    let _w = Watchdog::new("default_names", PATIENCE);
    let a = Process::spawn(|| {}).unwrap();
    let b = Process::spawn(|| {}).unwrap();
    // Other tests spawn at the same time, so the numbers need not be
    // consecutive, only increasing.
    assert!(spawn_number(a.name()) < spawn_number(b.name()));
    join_ok(&a);
    join_ok(&b);
}

#[test]
fn a_childs_own_children_are_numbered_under_its_name() {
    let _w = Watchdog::new("nested_names", PATIENCE);
    let child = Process::spawn(|| {
        let me = Process::current_name();
        let first = Process::spawn(|| {}).unwrap();
        let second = Process::spawn(|| {}).unwrap();
        // The child counts from 1 again, after its own numbers.
        assert_eq!(first.name(), format!("{me}:1"));
        assert_eq!(second.name(), format!("{me}:2"));
        assert_eq!(first.join().unwrap() + second.join().unwrap(), 0);
    })
    .unwrap();
    spawn_number(child.name());
    join_ok(&child);
}

#[test]
fn a_custom_name_is_the_handles_and_the_childs_own() {
    let _w = Watchdog::new("custom_name", PATIENCE);
    assert_eq!(Process::current_name(), "MainProcess");
    let child = Process::builder()
        .name("worker-7")
        .spawn(|| {
            assert_eq!(Process::current_name(), "worker-7");
            // Its children still get numbered default names, as in Python.
            let grandchild = Process::spawn(|| {}).unwrap();
            assert!(grandchild.name().starts_with("Process-"));
            assert!(grandchild.name().ends_with(":1"));
            assert_eq!(grandchild.join().unwrap(), 0);
        })
        .unwrap();
    assert_eq!(child.name(), "worker-7");
    join_ok(&child);
}

#[test]
fn debug_shows_the_name_and_the_pid() {
    let _w = Watchdog::new("debug", PATIENCE);
    let child = Process::builder().name("shown").spawn(|| {}).unwrap();
    join_ok(&child);
    let text = format!("{child:?}");
    assert!(text.contains("\"shown\""), "{text}");
    assert!(text.contains(&child.pid().to_string()), "{text}");
}

// ---------------------------------------------------------------------------
// Daemons
// ---------------------------------------------------------------------------

/// Slots of the shared cell the daemon tests use.
const GRANDCHILD: usize = 0;
const STARTED: usize = 1;
const SURVIVED: usize = 2;

/// Runs `spawn_grandchild` in a middle process, waits until the test holds
/// a pidfd for the grandchild it spawned, then lets the middle process exit
/// and returns that pidfd. The grandchild's pid goes through `cell`.
fn grandchild_of_a_middle_process_that_exits(
    cell: &Shared<[AtomicU32; 3]>,
    spawn_grandchild: impl FnOnce() -> Process,
) -> KillPidfdOnDrop {
    let middle_may_exit = Event::new().unwrap();
    let middle = KillOnDrop(
        Process::spawn(|| {
            let grandchild = spawn_grandchild();
            cell[GRANDCHILD].store(grandchild.pid(), Ordering::SeqCst);
            assert!(middle_may_exit.wait(Some(PATIENCE)));
        })
        .unwrap(),
    );
    wait_until(PATIENCE, "the grandchild's pid", || {
        cell[GRANDCHILD].load(Ordering::SeqCst) != 0
    });
    // The grandchild lives at least until the middle process exits (a
    // daemon's signal comes no sooner), so its pid is still its own.
    let grandchild = KillPidfdOnDrop(pidfd(cell[GRANDCHILD].load(Ordering::SeqCst)));
    middle_may_exit.set();
    assert_eq!(join_within(&middle, PATIENCE), 0);
    grandchild
}

#[test]
fn a_daemon_is_killed_when_its_parent_process_exits() {
    let _w = Watchdog::new("daemon_dies_with_parent", 2 * PATIENCE);
    let cell = Shared::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]).unwrap();
    let grandchild = grandchild_of_a_middle_process_that_exits(&cell, || {
        let daemon = Process::builder()
            .daemon(true)
            .spawn(|| {
                cell[STARTED].store(1, Ordering::SeqCst);
                linger(PATIENCE);
                cell[SURVIVED].store(1, Ordering::SeqCst);
            })
            .unwrap();
        // Armed before the middle process may exit: the test is about the
        // signal, not the check for an early parent death.
        wait_until(PATIENCE, "the daemon to start", || {
            cell[STARTED].load(Ordering::SeqCst) == 1
        });
        daemon
    });
    assert!(
        readable_within(&grandchild.0, PATIENCE),
        "the daemon outlived its parent"
    );
    assert_eq!(cell[SURVIVED].load(Ordering::SeqCst), 0);
}

#[test]
fn a_non_daemon_outlives_its_parent_process() {
    let _w = Watchdog::new("non_daemon_survives", PATIENCE);
    let cell = Shared::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]).unwrap();
    let grandchild = grandchild_of_a_middle_process_that_exits(&cell, || {
        Process::builder()
            .daemon(false)
            .spawn(|| linger(PATIENCE))
            .unwrap()
    });
    // Not a timing claim about daemons: only that nothing kills this one.
    assert!(!readable_within(&grandchild.0, Duration::from_millis(200)));
    drop(grandchild);
}

/// The pid of the middle process, for the fork handler below (in the
/// middle process's memory, inherited by the grandchild).
static MIDDLE: AtomicI32 = AtomicI32::new(0);

/// A `pthread_atfork` child handler: holds the new grandchild inside `fork`
/// (before `Process` code can run in it) until the middle process is gone,
/// so the daemon asks for its death signal too late. Bounded.
extern "C" fn wait_for_the_middle_process_to_exit() {
    let middle = MIDDLE.load(Ordering::Relaxed);
    for _ in 0..60_000 {
        // SAFETY: getppid and usleep are async-signal-safe and have no
        // preconditions.
        if unsafe { libc::getppid() } != middle {
            return;
        }
        // SAFETY: as above.
        unsafe { libc::usleep(1000) };
    }
}

#[test]
fn a_daemon_whose_parent_died_before_it_asked_for_the_signal_exits_at_once() {
    let _w = Watchdog::new("daemon_parent_gone_early", 2 * PATIENCE);
    let cell = Shared::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]).unwrap();
    let grandchild = grandchild_of_a_middle_process_that_exits(&cell, || {
        MIDDLE.store(std::process::id() as i32, Ordering::Relaxed);
        // SAFETY: registers a child handler that only calls async-signal-
        // safe functions; in the middle process only (its own copy).
        let rc =
            unsafe { libc::pthread_atfork(None, None, Some(wait_for_the_middle_process_to_exit)) };
        assert_eq!(rc, 0);
        Process::builder()
            .daemon(true)
            .spawn(|| {
                cell[SURVIVED].store(1, Ordering::SeqCst);
                linger(PATIENCE);
            })
            .unwrap()
    });
    assert!(
        readable_within(&grandchild.0, PATIENCE),
        "the daemon outlived its parent"
    );
    assert_eq!(
        cell[SURVIVED].load(Ordering::SeqCst),
        0,
        "the daemon ran its closure after its parent had gone"
    );
}

#[test]
fn a_daemon_spawned_from_a_thread_dies_when_that_thread_exits() {
    let _w = Watchdog::new("daemon_thread_exit", PATIENCE);
    let armed = Shared::new(AtomicU32::new(0)).unwrap();
    let daemon = std::thread::scope(|s| {
        s.spawn(|| {
            let daemon = Process::builder()
                .daemon(true)
                .spawn(|| {
                    armed.store(1, Ordering::SeqCst);
                    linger(PATIENCE);
                })
                .unwrap();
            // A daemon asks for its signal just after the fork; had this thread
            // ended before that, the signal would come only when the thread the
            // kernel handed the daemon to ends (see `ProcessBuilder::daemon`).
            wait_until(PATIENCE, "the daemon to start", || {
                armed.load(Ordering::SeqCst) == 1
            });
            daemon
        })
        .join()
        .unwrap()
    });
    let daemon = KillOnDrop(daemon);
    // The test's process lives on; the thread that forked is gone.
    assert_eq!(join_within(&daemon, PATIENCE), -libc::SIGKILL);
}

#[test]
fn a_daemon_spawns_daemons_by_default_and_refuses_non_daemons() {
    let _w = Watchdog::new("daemon_children", PATIENCE);
    let daemon = Process::builder()
        .daemon(true)
        .spawn(|| {
            assert!(Process::current_is_daemon());
            let refused = Process::builder().daemon(false).spawn(|| {});
            assert!(matches!(refused, Err(Error::InvalidArgument(_))));
            let child = Process::spawn(|| assert!(Process::current_is_daemon())).unwrap();
            assert!(child.is_daemon());
            assert_eq!(child.join().unwrap(), 0);
        })
        .unwrap();
    assert!(daemon.is_daemon());
    assert!(!Process::current_is_daemon());
    join_ok(&daemon);
    // In a non-daemon, the default is not a daemon.
    let plain = Process::spawn(|| assert!(!Process::current_is_daemon())).unwrap();
    assert!(!plain.is_daemon());
    join_ok(&plain);
}

// ---------------------------------------------------------------------------
// Sentinel and close
// ---------------------------------------------------------------------------

#[test]
fn the_sentinel_polls_readable_once_the_child_exits_and_not_before() {
    let _w = Watchdog::new("sentinel", PATIENCE);
    let go = Event::new().unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            assert!(go.wait(Some(PATIENCE)));
        })
        .unwrap(),
    );
    let sentinel = child.sentinel().expect("this kernel has pidfd_open");
    assert!(!readable_within(sentinel, Duration::ZERO));
    assert!(!readable_within(sentinel, Duration::from_millis(50)));
    go.set();
    assert!(readable_within(sentinel, PATIENCE));
    assert_eq!(join_within(&child, PATIENCE), 0);
    // Reaping does not make it unreadable.
    assert!(readable_within(child.sentinel().unwrap(), Duration::ZERO));
}

#[test]
fn close_of_a_running_child_fails_and_hands_the_handle_back() {
    let _w = Watchdog::new("close_running", PATIENCE);
    let go = Event::new().unwrap();
    let child = Process::spawn(|| {
        assert!(go.wait(Some(PATIENCE)));
    })
    .unwrap();
    let pid = child.pid();
    let err = child.close().unwrap_err();
    assert!(err.to_string().contains("still running"), "{err}");
    let child = err.into_process();
    assert_eq!(child.pid(), pid);
    assert!(child.is_alive());
    go.set();
    assert_eq!(join_within(&child, PATIENCE), 0);
    child.close().unwrap();
    assert!(is_reaped(pid));
}

#[test]
fn close_reaps_a_finished_child_that_was_not_joined() {
    let _w = Watchdog::new("close_finished", PATIENCE);
    let child = Process::spawn(|| {}).unwrap();
    let pid = child.pid();
    assert!(readable_within(child.sentinel().unwrap(), PATIENCE));
    child.close().unwrap();
    assert!(is_reaped(pid));
}

// ---------------------------------------------------------------------------
// Reaping and active_children
// ---------------------------------------------------------------------------

/// Spawns a child that waits for `go`, then drops its handle; returns its
/// pid and a duplicate of its sentinel, to see it exit without reaping it.
fn spawn_and_drop(go: &Event) -> (u32, OwnedFd) {
    let child = Process::spawn(|| {
        assert!(go.wait(Some(PATIENCE)));
    })
    .unwrap();
    let pid = child.pid();
    let sentinel = child.sentinel().unwrap().try_clone_to_owned().unwrap();
    drop(child);
    (pid, sentinel)
}

#[test]
fn a_dropped_running_handle_leaves_no_zombie_once_active_children_ran() {
    let _w = Watchdog::new("dropped_handle_active_children", PATIENCE);
    let go = Event::new().unwrap();
    let (pid, exited) = spawn_and_drop(&go);
    assert!(
        !readable_within(&exited, Duration::ZERO),
        "the child runs on"
    );
    go.set();
    assert!(readable_within(&exited, PATIENCE));
    // A zombie now, unless a concurrent test's spawn reaped it already.
    active_children();
    assert!(is_reaped(pid), "zombie {pid} left behind");
}

#[test]
fn spawn_reaps_children_whose_handles_were_dropped() {
    let _w = Watchdog::new("dropped_handle_spawn", PATIENCE);
    let go = Event::new().unwrap();
    let (pid, exited) = spawn_and_drop(&go);
    go.set();
    assert!(readable_within(&exited, PATIENCE));
    // (Run with the other tests, an `active_children` of theirs may reap
    // it first; run alone, only this spawn can.)
    join_ok(&Process::spawn(|| {}).unwrap());
    assert!(is_reaped(pid), "zombie {pid} left behind");
}

#[test]
fn active_children_lists_live_children_and_not_finished_ones() {
    let _w = Watchdog::new("active_children", PATIENCE);
    let go = Event::new().unwrap();
    let live = KillOnDrop(
        Process::builder()
            .name("still-here")
            .spawn(|| {
                assert!(go.wait(Some(PATIENCE)));
            })
            .unwrap(),
    );
    let done = Process::spawn(|| {}).unwrap();
    assert!(readable_within(done.sentinel().unwrap(), PATIENCE));

    let listed = active_children();
    let found = listed.iter().find(|c| c.pid() == live.pid());
    let found = found.expect("the live child is listed");
    assert_eq!(found.name(), "still-here");
    assert!(!found.is_daemon() && found.is_alive());
    assert!(listed.iter().all(|c| c.pid() != done.pid()));
    // Whoever reaped it, the handle knows the exit code.
    assert_eq!(done.exitcode(), Some(0));

    go.set();
    assert_eq!(found.join_timeout(PATIENCE).unwrap(), Some(0));
    assert_eq!(live.exitcode(), Some(0));
    assert!(active_children().iter().all(|c| c.pid() != live.pid()));
}

#[test]
fn active_children_can_stop_a_child_whose_handle_was_dropped() {
    let _w = Watchdog::new("active_children_kill", PATIENCE);
    let go = Event::new().unwrap();
    let (pid, _exited) = spawn_and_drop(&go);
    let orphan = active_children().into_iter().find(|c| c.pid() == pid);
    let orphan = orphan.expect("the dropped child is listed");
    orphan.terminate().unwrap();
    assert_eq!(orphan.join_timeout(PATIENCE).unwrap(), Some(-libc::SIGTERM));
    assert!(is_reaped(pid));
}

#[test]
fn active_children_is_empty_in_a_forked_child() {
    let _w = Watchdog::new("active_children_in_child", PATIENCE);
    let go = Event::new().unwrap();
    let sibling = KillOnDrop(
        Process::spawn(|| {
            assert!(go.wait(Some(PATIENCE)));
        })
        .unwrap(),
    );
    assert!(active_children().iter().any(|c| c.pid() == sibling.pid()));
    let child = Process::spawn(|| {
        assert!(active_children().is_empty());
        let own = Process::spawn(|| {
            assert!(go.wait(Some(PATIENCE)));
        })
        .unwrap();
        let listed: Vec<u32> = active_children().iter().map(|c| c.pid()).collect();
        assert_eq!(listed, [own.pid()]);
        go.set();
        assert_eq!(own.join().unwrap(), 0);
        assert!(active_children().is_empty());
    })
    .unwrap();
    join_ok(&child);
    assert_eq!(join_within(&sibling, PATIENCE), 0);
}

#[test]
fn children_never_block_on_the_registry_while_parent_threads_use_it() {
    // Another thread lists 20 live children without pause, so it holds the
    // registry lock most of the time, while this one forks 200 times: a
    // child that used its copy of a lock held at the fork would hang (it
    // does, within a few forks, if children keep the parent's registry),
    // and `join_within` would fail the test.
    let _w = Watchdog::new("registry_fork_safety", 2 * PATIENCE);
    let go = Event::new().unwrap();
    let sleepers: Vec<KillOnDrop> = (0..20)
        .map(|_| {
            KillOnDrop(
                Process::spawn(|| {
                    assert!(go.wait(Some(PATIENCE)));
                })
                .unwrap(),
            )
        })
        .collect();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                active_children();
            }
        });
        // Stops the lister even if an assertion below fails, so the scope
        // can end and the failure be reported.
        let _stop = SetOnDrop(&stop);
        for _ in 0..200 {
            let child = Process::spawn(|| {
                active_children();
                let own = Process::spawn(|| {}).unwrap();
                assert_eq!(own.join().unwrap(), 0);
            })
            .unwrap();
            assert_eq!(join_within(&child, Duration::from_secs(10)), 0);
        }
    });
    go.set();
    for sleeper in &sleepers {
        assert_eq!(join_within(sleeper, PATIENCE), 0);
    }
}

// ---------------------------------------------------------------------------
// Panic messages reach stderr
// ---------------------------------------------------------------------------

/// The environment variable that turns the scenario below on, in a copy of
/// this test binary run by the tests after it.
const SCENARIO: &str = "SHMSYNC_PROCESS_TEST_SCENARIO";
const PANIC_MESSAGE: &str = "unique child panic 5b1e0c7d";

/// A scenario, not a test of its own: does nothing unless `SCENARIO` is
/// set. Then it runs inside the test harness (output captured unless
/// `--nocapture`) and spawns a child that panics.
#[test]
fn scenario_a_child_panics() {
    if std::env::var_os(SCENARIO).is_none() {
        return;
    }
    let _w = Watchdog::new("scenario_a_child_panics", PATIENCE);
    let child = Process::spawn(|| panic!("{PANIC_MESSAGE}")).unwrap();
    assert_eq!(join_within(&child, PATIENCE), 1);
}

/// Runs `scenario_a_child_panics` in a copy of this test binary and returns
/// what it wrote to stderr.
fn stderr_of_the_panic_scenario(extra_args: &[&str]) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["scenario_a_child_panics", "--exact"])
        .args(extra_args)
        .env(SCENARIO, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scenario failed: {stdout}");
    assert!(
        stdout.contains("1 passed"),
        "scenario did not run: {stdout}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_childs_panic_message_reaches_stderr_once_when_output_is_captured() {
    let _w = Watchdog::new("panic_message_captured", PATIENCE);
    let stderr = stderr_of_the_panic_scenario(&[]);
    assert_eq!(stderr.matches(PANIC_MESSAGE).count(), 1, "{stderr}");
    assert!(
        stderr.contains("in process 'Process-1'")
            && stderr.contains("panicked at tests/process.rs:"),
        "{stderr}"
    );
}

#[test]
fn a_childs_panic_message_reaches_stderr_once_when_output_is_not_captured() {
    let _w = Watchdog::new("panic_message_nocapture", PATIENCE);
    let stderr = stderr_of_the_panic_scenario(&["--nocapture"]);
    assert_eq!(stderr.matches(PANIC_MESSAGE).count(), 1, "{stderr}");
}

// ---------------------------------------------------------------------------
// Standard streams
// ---------------------------------------------------------------------------

/// A pipe: (read end, write end).
fn pipe() -> (std::fs::File, std::fs::File) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors are new and owned by nothing else.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    }
}

/// Points descriptor `target` of this (forked, single-threaded) process at
/// `file`.
fn redirect(file: &impl std::os::fd::AsRawFd, target: i32) {
    // SAFETY: both descriptors are open; `target` belongs to no Rust object
    // but std's standard streams, which use it by number.
    assert_eq!(unsafe { libc::dup2(file.as_raw_fd(), target) }, target);
}

/// `/dev/null`, open for writing: where a child's output that is not the
/// test's goes.
fn dev_null() -> std::fs::File {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .unwrap()
}

/// What `file` holds now, without waiting for its writers to close it
/// (children that other tests fork at the same time inherit them).
fn read_now(file: &mut std::fs::File) -> Vec<u8> {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    // SAFETY: an open descriptor; only its flags change.
    unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut buf = [0u8; 256];
    match file.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Vec::new(),
        Err(e) => panic!("read: {e}"),
    }
}

#[test]
fn what_a_child_left_in_stdouts_buffer_is_flushed_when_it_returns_or_panics() {
    use std::io::Write;
    let _w = Watchdog::new("stdout_flush", PATIENCE);
    for (panics, expected_code) in [(false, 0), (true, 1)] {
        let (mut r, w) = pipe();
        let child = KillOnDrop(
            Process::spawn(|| {
                redirect(&w, 1);
                if panics {
                    // The panic's message is not this test's output.
                    redirect(&dev_null(), 2);
                }
                // Straight to std's line-buffered stdout (not the test
                // harness's capture, which `print!` would use): no newline,
                // so it stays in the buffer.
                std::io::stdout().write_all(b"no newline").unwrap();
                assert!(!panics, "on purpose, after writing");
            })
            .unwrap(),
        );
        assert_eq!(join_within(&child, PATIENCE), expected_code);
        assert_eq!(read_now(&mut r), b"no newline", "panics: {panics}");
    }
}

#[test]
fn a_child_reads_end_of_file_from_stdin_unless_it_inherits_it() {
    use std::io::{Read, Write};
    let _w = Watchdog::new("stdin", PATIENCE);
    // A middle process (one thread: it may change its own descriptor 0)
    // gives its standard input some bytes, then spawns one child of each
    // kind.
    let middle = KillOnDrop(
        Process::builder()
            .inherit_stdin(true)
            .spawn(|| {
                let (r, mut w) = pipe();
                w.write_all(b"for the middle").unwrap();
                drop(w);
                redirect(&r, 0);
                drop(r);
                let read_stdin = || {
                    let mut got = Vec::new();
                    std::io::stdin().read_to_end(&mut got).unwrap();
                    assert_eq!(got, b"", "a default child read its parent's stdin");
                };
                let default = Process::spawn(read_stdin).unwrap();
                assert_eq!(join_within(&default, PATIENCE), 0);
                let inherits = Process::builder()
                    .inherit_stdin(true)
                    .spawn(|| {
                        let mut got = Vec::new();
                        std::io::stdin().read_to_end(&mut got).unwrap();
                        assert_eq!(got, b"for the middle");
                    })
                    .unwrap();
                assert_eq!(join_within(&inherits, PATIENCE), 0);
            })
            .unwrap(),
    );
    join_ok(&middle);
}

#[test]
fn a_child_can_print_when_another_thread_held_stdout_or_stderr_at_the_spawn() {
    use std::io::Write;
    let _w = Watchdog::new("stdio_locks", PATIENCE);
    for stderr in [false, true] {
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            // Held while the main thread spawns: without care, the child
            // would inherit the lock held by a thread it does not have.
            let _out = (!stderr).then(|| std::io::stdout().lock());
            let _err = stderr.then(|| std::io::stderr().lock());
            held_tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(100));
        });
        held_rx.recv().unwrap();
        let child = KillOnDrop(
            Process::spawn(|| {
                redirect(&dev_null(), if stderr { 2 } else { 1 });
                if stderr {
                    writeln!(std::io::stderr(), "a line").unwrap();
                } else {
                    writeln!(std::io::stdout(), "a line").unwrap();
                }
            })
            .unwrap(),
        );
        assert_eq!(
            join_within(&child, Duration::from_secs(10)),
            0,
            "stderr: {stderr}"
        );
        holder.join().unwrap();
    }
}

#[test]
fn a_sibling_forked_after_the_child_was_reaped_knows_its_exit_code() {
    let _w = Watchdog::new("sibling_after_reap", PATIENCE);
    let a = Process::spawn(|| {}).unwrap();
    assert_eq!(join_within(&a, PATIENCE), 0);
    let sibling = KillOnDrop(
        Process::spawn(|| {
            // Reaped before the fork: its pid may be a stranger's by now.
            assert_eq!(a.exitcode(), Some(0));
            assert_eq!(a.join_timeout(Duration::ZERO).unwrap(), Some(0));
            assert!(!a.is_alive());
            a.kill().unwrap();
            a.terminate().unwrap();
        })
        .unwrap(),
    );
    join_ok(&sibling);
}

#[test]
fn a_sibling_uses_an_inherited_handle_while_a_parent_thread_polls_it() {
    let _w = Watchdog::new("sibling_while_polled", PATIENCE);
    let go = Event::new().unwrap();
    let a = KillOnDrop(Process::spawn(|| assert!(go.wait(Some(PATIENCE)))).unwrap());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Holds the handle's exit lock now and then: a fork at that moment
        // hands the sibling a copy locked for good, unless it never blocks
        // on it.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                assert!(a.0.is_alive());
            }
        });
        // Stops the poller however the loop ends, a failed assertion
        // included, so the failure is reported rather than waited out.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop = StopOnDrop(&stop);
        for round in 0..200 {
            let sibling = KillOnDrop(
                Process::spawn(|| {
                    assert!(a.0.is_alive());
                    assert_eq!(a.0.exitcode(), None);
                    assert!(a.0.join_timeout(Duration::ZERO).is_err(), "not its child");
                    let _ = format!("{:?}", a.0);
                })
                .unwrap(),
            );
            let code = join_within(&sibling, Duration::from_secs(10));
            assert_eq!(code, 0, "round {round}: the sibling ended with {code}");
        }
    });
    go.set();
    join_ok(&a.0);
}

#[test]
fn a_sibling_that_inherited_a_handle_sees_the_child_run_and_end_but_cannot_join_it() {
    let _w = Watchdog::new("sibling_handle", PATIENCE);
    let go = Event::new().unwrap();
    let looked = Event::new().unwrap();
    let a = KillOnDrop(Process::spawn(|| assert!(go.wait(Some(PATIENCE)))).unwrap());
    let b = KillOnDrop(
        Process::spawn(|| {
            assert!(a.0.is_alive(), "a running sibling looked dead");
            let err = a.0.join_timeout(Duration::ZERO).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ECHILD), "{err}");
            assert!(
                err.to_string().contains("only the process that spawned"),
                "{err}"
            );
            assert_eq!(a.0.exitcode(), None);
            looked.set();
            wait_until(PATIENCE, "the sibling to see it end", || !a.0.is_alive());
        })
        .unwrap(),
    );
    assert!(looked.wait(Some(PATIENCE)));
    go.set();
    join_ok(&a.0);
    join_ok(&b.0);
}
