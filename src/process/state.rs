//! The parent's record of one child: its pid, who it is, and its exit code
//! once reaped.
//!
//! The `Process` handle, the registry and any `ActiveChild` share one
//! record, so whichever of them reaps the child first tells the others, and
//! all of them send signals under the same lock as reaping.
//!
//! Only the process that spawned the child takes that lock. A copy of the
//! record that crossed a later fork (a sibling's inherited handle) never
//! blocks on it: another thread of the parent may have held it at the fork,
//! and the copy then stays locked for ever. Such a copy cannot reap the
//! child anyway; it answers from what it knew at the fork if its copy of
//! the lock is free, else from the child's pidfd, and signals through the
//! pidfd. A process is the parent if it has the parent's pid and has not
//! forked since: every fork bumps a counter in the child (see
//! [`count_forks`]), so a descendant that the kernel gives a dead parent's
//! pid is not taken for it.

use super::child::Identity;
use crate::sys::Deadline;
use crate::Error;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions, WaitStatus};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, TryLockError};
use std::time::Duration;

/// How many forks lie between the main process and this one: bumped in
/// every child, never in its parent.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// Makes every later fork of this process bump [`FORKS`] in the child,
/// `libc::fork` in the user's code included: called before this module's
/// first fork. A child spawned here bumps it itself too (`run_child`), in
/// case a raw `fork` system call skipped the handlers.
pub(super) fn count_forks() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        extern "C" fn in_the_child() {
            forked();
        }
        // SAFETY: the handler only increments an atomic, which is
        // async-signal-safe as a handler run after fork must be. A failure
        // (ENOMEM) leaves only `run_child`'s own bump.
        let _ = unsafe { libc::pthread_atfork(None, None, Some(in_the_child)) };
    });
}

/// This process is a fork of the one it was copied from.
pub(super) fn forked() {
    // Relaxed: read only by this process's threads, which the fork left
    // alone (the one that forked runs this first).
    FORKS.fetch_add(1, Ordering::Relaxed);
}

/// One child this process forked.
pub(super) struct ChildState {
    pid: Pid,
    /// The process that spawned it, by pid and [`FORKS`]: the only one
    /// that may reap it or block on `exit`.
    parent: (Pid, u64),
    /// Its name, daemon flag and spawn number.
    identity: Arc<Identity>,
    /// The exit code once the child has been reaped. Reaping happens under
    /// this lock and signals are sent under it, so a signal never reaches a
    /// stranger that reused the pid: an unreaped child's pid stays its own.
    exit: Mutex<Option<i32>>,
}

impl ChildState {
    /// The record of child `pid`, made in `parent`, the calling process.
    pub(super) fn new(pid: Pid, parent: Pid, identity: Arc<Identity>) -> ChildState {
        ChildState {
            pid,
            parent: (parent, FORKS.load(Ordering::Relaxed)),
            identity,
            exit: Mutex::new(None),
        }
    }

    /// Whether the calling process spawned the child (and so may take the
    /// exit lock): not a sibling that inherited this record by a fork.
    fn in_parent(&self) -> bool {
        // Relaxed: this process's own counter, stable since it began.
        FORKS.load(Ordering::Relaxed) == self.parent.1 && rustix::process::getpid() == self.parent.0
    }

    /// In a process other than the parent: the exit code its copy of the
    /// record held at the fork, if that copy's lock is free (a copy locked
    /// at the fork is never waited for).
    fn known_at_fork(&self) -> Option<i32> {
        match self.exit.try_lock() {
            Ok(exit) => *exit,
            Err(TryLockError::Poisoned(poisoned)) => *poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    pub(super) fn pid(&self) -> u32 {
        self.pid.as_raw_nonzero().get() as u32
    }

    pub(super) fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The exit code if the child has been reaped already; asks the kernel
    /// nothing about the child.
    pub(super) fn reaped(&self) -> Option<i32> {
        if !self.in_parent() {
            return self.known_at_fork();
        }
        *self.lock_exit()
    }

    /// Reaps the child if it has ended, without blocking.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] from `waitpid`; `ECHILD` means someone else reaped it
    /// (a `waitpid(-1)` elsewhere in the program) and the exit code is lost.
    pub(super) fn try_reap(&self) -> Result<Option<i32>, Error> {
        if !self.in_parent() {
            // Not ours to reap, as `waitpid` would say; and the lock may be
            // a stale copy held for ever (see the module docs).
            return match self.known_at_fork() {
                Some(code) => Ok(Some(code)),
                None => Err(Error::os(NOT_OURS, Errno::CHILD)),
            };
        }
        let mut exit = self.lock_exit();
        if let Some(code) = *exit {
            return Ok(Some(code));
        }
        loop {
            match rustix::process::waitpid(Some(self.pid), WaitOptions::NOHANG) {
                Ok(Some((_, status))) => {
                    let code = exit_code(status);
                    if let Some(code) = code {
                        *exit = Some(code);
                    }
                    return Ok(code);
                }
                Ok(None) => return Ok(None),
                Err(Errno::INTR) => continue,
                Err(Errno::CHILD) => return Err(Error::os(NOT_OURS, Errno::CHILD)),
                Err(e) => return Err(Error::os("waitpid", e)),
            }
        }
    }

    /// Waits at most `timeout` for the child to end, sleeping in `poll` on
    /// `pidfd` when there is one and in short naps otherwise.
    pub(super) fn join_timeout(
        &self,
        pidfd: Option<BorrowedFd<'_>>,
        timeout: Duration,
    ) -> Result<Option<i32>, Error> {
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(code) = self.try_reap()? {
                return Ok(Some(code));
            }
            if deadline.has_passed() {
                return Ok(None);
            }
            sleep_until_exit(pidfd, deadline)?;
        }
    }

    /// Sends `sig` unless the child has been reaped already.
    pub(super) fn signal(&self, pidfd: Option<BorrowedFd<'_>>, sig: Signal) -> Result<(), Error> {
        if !self.in_parent() {
            // A sibling's copy. Reaped before the fork: the pid may be a
            // stranger's now. Otherwise the pidfd names the child for good;
            // without one the pid is the best there is (its parent may
            // have reaped it since, as Python's `os.kill` from a sibling
            // risks too).
            if self.known_at_fork().is_some() {
                return Ok(());
            }
            return self.send(pidfd, sig);
        }
        let exit = self.lock_exit();
        if exit.is_some() {
            return Ok(());
        }
        // Unreaped, and reaping needs the lock we hold: the pid is still
        // this child's (perhaps a zombie), never a stranger's.
        self.send(pidfd, sig)
    }

    /// Sends `sig` through `pidfd`, or to the pid without one.
    fn send(&self, pidfd: Option<BorrowedFd<'_>>, sig: Signal) -> Result<(), Error> {
        let sent = match pidfd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, sig),
            None => rustix::process::kill_process(self.pid, sig),
        };
        match sent {
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(Error::os("kill", e)),
        }
    }

    fn lock_exit(&self) -> MutexGuard<'_, Option<i32>> {
        // The lock guards a plain Option; a panic elsewhere cannot leave it
        // half-written.
        self.exit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What `waitpid` failing with `ECHILD` means here.
const NOT_OURS: &str = "waitpid (only the process that spawned a child can wait for it, \
and a waitpid(-1) elsewhere in the program may have taken its exit code)";

/// Whether the process behind `pidfd` has exited: asked without blocking,
/// and answered for any process, not only a child of this one.
pub(super) fn has_exited(pidfd: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let now = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // A failed poll says nothing about the process: not "exited".
    matches!(poll(&mut fds, Some(&now)), Ok(n) if n > 0)
}

/// Sleeps until the child may have ended, or `deadline`.
fn sleep_until_exit(pidfd: Option<BorrowedFd<'_>>, deadline: Deadline) -> Result<(), Error> {
    let remaining = deadline.remaining();
    match pidfd {
        Some(fd) => {
            // A pidfd polls readable once the process has exited.
            let ts =
                rustix::time::Timespec::try_from(remaining).unwrap_or(rustix::time::Timespec {
                    tv_sec: i64::MAX,
                    tv_nsec: 0,
                });
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            match poll(&mut fds, Some(&ts)) {
                Ok(_) | Err(Errno::INTR) => Ok(()),
                Err(e) => Err(Error::os("poll", e)),
            }
        }
        None => {
            std::thread::sleep(remaining.min(Duration::from_millis(5)));
            Ok(())
        }
    }
}

/// Python's exit code for a wait status; `None` for a stop or continue.
fn exit_code(status: WaitStatus) -> Option<i32> {
    if let Some(code) = status.exit_status() {
        Some(code)
    } else {
        status.terminating_signal().map(|sig| -sig)
    }
}
