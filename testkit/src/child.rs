//! Children that never outlive their test: bounded joins and reaping on
//! drop.

use crate::PATIENCE;
use shmsync::Process;
use std::time::Duration;

/// How long a killed child is given to be reaped.
const REAP: Duration = Duration::from_secs(5);

/// Joins `child` and returns its exit code, killing it and failing the
/// caller if it takes longer than `limit`.
///
/// # Panics
///
/// If waiting fails, or the child is still running after `limit` (it is
/// killed and reaped first).
///
/// # Examples
///
/// ```
/// use shmsync::Process;
/// use shmsync_testkit::{join_within, PATIENCE};
///
/// let child = Process::spawn(|| std::process::exit(3)).expect("fork");
/// assert_eq!(join_within(&child, PATIENCE), 3);
/// ```
#[track_caller]
pub fn join_within(child: &Process, limit: Duration) -> i32 {
    match child.join_timeout(limit).expect("waitpid") {
        Some(code) => code,
        None => {
            let _ = child.kill();
            let _ = child.join_timeout(REAP);
            panic!(
                "child {} still running after {limit:?}: killed",
                child.pid()
            );
        }
    }
}

/// Joins `child` within [`PATIENCE`] and asserts that it exited with 0.
///
/// # Panics
///
/// If the child exits with anything else, or as [`join_within`] does.
///
/// # Examples
///
/// ```
/// use shmsync::Process;
/// use shmsync_testkit::join_ok;
///
/// join_ok(&Process::spawn(|| {}).expect("fork"));
/// ```
#[track_caller]
pub fn join_ok(child: &Process) {
    assert_eq!(
        join_within(child, PATIENCE),
        0,
        "child {} failed",
        child.pid()
    );
}

/// A child that is killed and reaped when this guard drops, unless it has
/// ended already: a test or bench that fails (or panics) early leaves no
/// process behind. Derefs to the [`Process`].
///
/// # Examples
///
/// ```
/// use shmsync::Process;
/// use shmsync_testkit::KillOnDrop;
/// use std::time::Duration;
///
/// let child = KillOnDrop(
///     Process::spawn(|| std::thread::sleep(Duration::from_secs(600))).expect("fork"),
/// );
/// assert!(child.is_alive());
/// drop(child); // killed and reaped here, not ten minutes later
/// ```
pub struct KillOnDrop(pub Process);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // `exitcode` reaps a child that has ended, and `kill` does nothing
        // to a reaped one, so no signal can reach a reused pid.
        if self.0.exitcode().is_none() {
            let _ = self.0.kill();
            let _ = self.0.join_timeout(REAP);
        }
    }
}

impl std::ops::Deref for KillOnDrop {
    type Target = Process;

    fn deref(&self) -> &Process {
        &self.0
    }
}

/// Whether process `pid` is stopped (state `T` in `/proc/<pid>/stat`);
/// false once it is gone.
///
/// # Examples
///
/// ```
/// use shmsync::Process;
/// use shmsync_testkit::{is_stopped, wait_until, KillOnDrop, PATIENCE};
///
/// let child = KillOnDrop(Process::spawn(|| {
///     // SAFETY: raise has no preconditions; SIGSTOP stops this child.
///     unsafe { libc::raise(libc::SIGSTOP) };
/// }).expect("fork"));
/// wait_until(PATIENCE, "the child to stop", || is_stopped(child.pid()));
/// ```
pub fn is_stopped(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which ends with the last ')'.
    stat.rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('T'))
}

/// Stops process `pid` (`SIGSTOP`) and returns once it is stopped.
///
/// # Panics
///
/// If the signal cannot be sent, or the process is not stopped within
/// [`PATIENCE`](crate::PATIENCE).
///
/// # Examples
///
/// ```
/// use shmsync::Process;
/// use shmsync_testkit::{is_stopped, stop, KillOnDrop};
///
/// let child = KillOnDrop(Process::spawn(|| loop {
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }).expect("fork"));
/// stop(child.pid());
/// assert!(is_stopped(child.pid()));
/// ```
pub fn stop(pid: u32) {
    // SAFETY: kill has no memory preconditions.
    let sent = unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
    assert_eq!(
        sent,
        0,
        "SIGSTOP to {pid}: {}",
        std::io::Error::last_os_error()
    );
    crate::wait_until(crate::PATIENCE, "the process to stop", || is_stopped(pid));
}

/// In a child: has it killed (`SIGKILL`) when the thread that forked it
/// ends, so that a child a test stops or leaves blocked never outlives a
/// test that failed (a watchdog's abort runs no `KillOnDrop`).
///
/// # Examples
///
/// ```
/// use shmsync::Process;
/// use shmsync_testkit::{die_with_parent, join_ok};
///
/// let child = Process::spawn(die_with_parent).expect("fork");
/// join_ok(&child);
/// ```
pub fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and touches no
    // memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
}
