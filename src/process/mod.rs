//! `Process`: a child made by `fork`, Python's `multiprocessing.Process`
//! with the fork start method.
//!
//! The child runs the closure on a copy of the parent's memory, so it can
//! use every shmsync handle the parent had (their mappings are
//! `MAP_SHARED`), and then leaves with `_exit`: it never returns into, or
//! unwinds through, the parent's code, and runs no destructors or `atexit`
//! handlers that belong to the parent. A panic in the closure becomes exit
//! code 1.
//!
//! # Forking a multithreaded process
//!
//! Only the calling thread exists in the child. A lock that another thread
//! of the parent held at the moment of the fork stays held in the child
//! forever: keep the closure to shmsync primitives and plain computation.
//! glibc's `malloc` is safe to use after fork; `stdout` and `stderr` locks
//! are not guaranteed to be.

use crate::sys::Deadline;
use crate::Error;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, WaitOptions, WaitStatus};
use std::fmt;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;
use std::time::Duration;

/// A child process running a closure.
///
/// # Examples
///
/// ```
/// use shmsync::Process;
///
/// let ok = Process::spawn(|| {})?;
/// let boom = Process::spawn(|| panic!("in the child"))?;
/// assert_eq!(ok.join()?, 0);
/// assert_eq!(boom.join()?, 1);
/// assert_eq!(ok.exitcode(), Some(0));
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Process {
    pid: Pid,
    /// A pidfd for the child: lets `join_timeout` sleep in `poll` and makes
    /// signals race-free against pid reuse. `None` on kernels without
    /// `pidfd_open` (before 5.3), which fall back to polling `waitpid`.
    pidfd: Option<OwnedFd>,
    /// The exit code once the child has been reaped. Reaping happens under
    /// this lock, so signals (sent under it too) never reach a reused pid.
    exit: Mutex<Option<i32>>,
}

impl Process {
    /// Forks a child that runs `f`, then exits: with 0 when `f` returns, 1
    /// when it panics (or with the code it gives `std::process::exit`).
    ///
    /// The closure runs on the child's copy of memory, so it may borrow
    /// from the parent's stack. Buffered standard output is flushed first,
    /// so the child does not print it again.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if `fork` fails (`EAGAIN`: process limit, `ENOMEM`).
    pub fn spawn<F: FnOnce()>(f: F) -> Result<Process, Error> {
        let _ = std::io::stdout().flush();
        // SAFETY: fork has no memory-safety preconditions of its own; in the
        // child we only run `f` and `_exit`, never returning into the
        // caller's frames (see `run_child`).
        let pid = unsafe { libc::fork() };
        match pid {
            -1 => Err(Error::os("fork", std::io::Error::last_os_error())),
            0 => run_child(f),
            pid => {
                let pid = Pid::from_raw(pid).expect("fork returned a positive pid");
                let pidfd =
                    rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok();
                Ok(Process {
                    pid,
                    pidfd,
                    exit: Mutex::new(None),
                })
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.pid.as_raw_nonzero().get() as u32
    }

    /// Waits for the child to end and returns its exit code: `0`, the code
    /// it exited with, or `-N` if signal `N` killed it (Python's
    /// convention). Returns at once if it has been reaped already.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if waiting fails.
    pub fn join(&self) -> Result<i32, Error> {
        loop {
            if let Some(code) = self.join_timeout(Duration::from_secs(3600))? {
                return Ok(code);
            }
        }
    }

    /// Waits at most `timeout` for the child to end: `Some(exit code)` if
    /// it did, `None` if it is still running.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if waiting fails.
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<i32>, Error> {
        let deadline = Deadline::after(timeout);
        loop {
            if let Some(code) = self.try_reap()? {
                return Ok(Some(code));
            }
            if deadline.has_passed() {
                return Ok(None);
            }
            self.sleep_until_exit(deadline)?;
        }
    }

    /// Whether the child is still running.
    pub fn is_alive(&self) -> bool {
        matches!(self.try_reap(), Ok(None))
    }

    /// The exit code if the child has ended (see [`Process::join`]), else
    /// `None`.
    pub fn exitcode(&self) -> Option<i32> {
        self.try_reap().ok().flatten()
    }

    /// Sends `SIGTERM` (Python's `terminate`). Does nothing if the child has
    /// already been reaped.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the signal cannot be sent.
    pub fn terminate(&self) -> Result<(), Error> {
        self.signal(rustix::process::Signal::TERM)
    }

    /// Sends `SIGKILL` (Python's `kill`). Does nothing if the child has
    /// already been reaped.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the signal cannot be sent.
    pub fn kill(&self) -> Result<(), Error> {
        self.signal(rustix::process::Signal::KILL)
    }

    fn signal(&self, sig: rustix::process::Signal) -> Result<(), Error> {
        let exit = self.lock_exit();
        if exit.is_some() {
            return Ok(());
        }
        // Unreaped, and reaping needs the lock we hold: the pid is still
        // this child's (perhaps a zombie), never a stranger's.
        let sent = match &self.pidfd {
            Some(fd) => rustix::process::pidfd_send_signal(fd, sig),
            None => rustix::process::kill_process(self.pid, sig),
        };
        match sent {
            Ok(()) | Err(Errno::SRCH) => Ok(()),
            Err(e) => Err(Error::os("kill", e)),
        }
    }

    /// Reaps the child if it has ended, without blocking.
    fn try_reap(&self) -> Result<Option<i32>, Error> {
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
                Err(e) => return Err(Error::os("waitpid", e)),
            }
        }
    }

    /// Sleeps until the child may have ended, or `deadline`.
    fn sleep_until_exit(&self, deadline: Deadline) -> Result<(), Error> {
        let remaining = deadline.remaining();
        match &self.pidfd {
            Some(fd) => {
                // A pidfd polls readable once the process has exited.
                let ts =
                    rustix::time::Timespec::try_from(remaining).unwrap_or(rustix::time::Timespec {
                        tv_sec: i64::MAX,
                        tv_nsec: 0,
                    });
                let mut fds = [PollFd::new(fd, PollFlags::IN)];
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

    fn lock_exit(&self) -> std::sync::MutexGuard<'_, Option<i32>> {
        // The lock guards a plain Option; a panic elsewhere cannot leave it
        // half-written.
        self.exit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

/// The child's side of `spawn`: run, then `_exit`, whatever happens.
fn run_child<F: FnOnce()>(f: F) -> ! {
    let code = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => 0,
        Err(_) => 1,
    };
    // SAFETY: _exit ends the process at once, without running the parent's
    // atexit handlers or destructors; always sound to call.
    unsafe { libc::_exit(code) }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid())
            .field("exitcode", &*self.lock_exit())
            .finish()
    }
}

impl Drop for Process {
    /// Reaps the child if it has already ended; a running child is neither
    /// waited for nor killed.
    fn drop(&mut self) {
        let _ = self.try_reap();
    }
}
