//! `Process`: a child made by `fork`, Python's `multiprocessing.Process`
//! with the fork start method.
//!
//! The child runs the closure on a copy of the parent's memory, so it can
//! use every shmsync handle the parent had (their mappings are
//! `MAP_SHARED`), and then leaves with `_exit`: it never returns into, or
//! unwinds through, the parent's code, and runs no destructors or `atexit`
//! handlers that belong to the parent. A panic in the closure becomes exit
//! code 1, and its message is written straight to file descriptor 2 (see
//! below).
//!
//! Python's `Process` attributes map as follows: `name` and `daemon` are set
//! with [`ProcessBuilder`] and read with [`Process::name`] and
//! [`Process::is_daemon`]; `start()` is [`ProcessBuilder::spawn`];
//! `sentinel` is [`Process::sentinel`]; `close()` is [`Process::close`];
//! `current_process().name` is [`Process::current_name`]; the module-level
//! `active_children()` is [`active_children`]. Python's `run()` is the
//! closure; `authkey` and the other start methods have no counterpart.
//!
//! # Reaping
//!
//! Every child is recorded in a per-process registry until it has been
//! reaped. A handle reaps its child in `join`, `is_alive`, `exitcode` and
//! `close`, and when dropped after the child ended; a child whose handle was
//! dropped while it ran is reaped by the next [`active_children`] or spawn
//! in the same process (Python's `_cleanup`). Only `waitpid` on pids this
//! module spawned is used, never `waitpid(-1)`: the program's other
//! children are left alone (and a `waitpid(-1)` elsewhere in the program
//! steals the exit codes of these).
//!
//! # Panic messages
//!
//! Before the first fork, the parent installs a panic hook that chains to
//! the one it replaces. In a child spawned here it writes
//! `thread '…' in process '…' (pid N) panicked at file:line:col:` and the
//! message to file descriptor 2 with `write`, once: not through `stderr`'s
//! lock, which another parent thread may have held at the fork, and not
//! into the test harness's output capture, which the child inherits from
//! the thread that forked and which `_exit` throws away. No backtrace is
//! printed. A hook set after the first spawn replaces this one, in
//! children too.
//!
//! # Forking a multithreaded process
//!
//! Only the calling thread exists in the child. A lock that another thread
//! of the parent held at the moment of the fork stays held in the child
//! forever: keep the closure to shmsync primitives and plain computation.
//! glibc's `malloc` is safe to use after fork, and so are std's `stdout`
//! and `stderr`: spawn holds both locks across the fork. This module's own
//! state (registry, names, panic hook, the handles' exit codes) is
//! fork-safe in that sense.
//!
//! One exception is beyond its reach: under `cargo test`'s output capture,
//! `print!` and `eprint!` write into the capture buffer of the test thread
//! that forked, not to the descriptors. The child's copy of that buffer is
//! thrown away by `_exit`, and if another thread of the same test was
//! printing at the moment of the fork, its lock stays held and the child's
//! next `print!` blocks for ever. Children of tests should report through
//! shmsync (a queue, a value, the exit code) rather than print, or the
//! tests run with `--nocapture`. Panic messages are not affected (see
//! above).
//!
//! A guard that the closure captures (a `Value`'s, an `Array`'s, a lock's,
//! a queue's `Producer`) is copied into the child with the rest of memory,
//! but the hold it stands for is not: it stays with the parent, and a
//! guard moved into the closure is dropped, releasing the lock, in the
//! parent. So the copies refuse: a `ValueGuard`, `ArrayGuard`, `Producer`
//! or `Consumer` used in the child panics, and no copy gives a hold, a
//! claim or a semaphore unit back there. The exception is
//! [`Mutex`](crate::Mutex)'s guard, which is `lock_api`'s and cannot check:
//! a child writing through a captured one races with the parent. Take
//! guards inside the closure, never across the spawn. (`spawn` does not
//! require `F: Send`, which would rule all this out, because closures
//! capturing `Rc` or `RefCell` state, harmless after a fork, are common.)
//!
//! # What the child inherits, and what it does not
//!
//! As in Python: the child's standard input is `/dev/null` (see
//! [`ProcessBuilder::inherit_stdin`]); what it leaves in stdout's buffer is
//! flushed when the closure returns or panics. Unlike Python, it does not
//! wait for threads it started: they end with it, as a Rust program's
//! threads end when `main` returns. Join them in the closure.

mod builder;
mod child;
mod panic;
mod registry;
mod state;

pub use builder::ProcessBuilder;
pub use registry::{active_children, ActiveChild};

use crate::Error;
use child::Identity;
use rustix::process::Signal;
use state::ChildState;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// A child process running a closure.
///
/// # Dropping a handle
///
/// Dropping a `Process` neither waits for the child nor kills it: the child
/// keeps running. If it has already ended it is reaped at once; otherwise
/// it stays recorded and is reaped by the next [`active_children`] or spawn
/// in this process after it ends (a zombie until then), or by the kernel's
/// reaper when this process exits. A daemon child (see
/// [`ProcessBuilder::daemon`]) is killed when the thread that spawned it
/// exits, whatever became of its handle.
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
/// assert!(ok.name().starts_with("Process-"));
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct Process {
    /// Shared with the registry (and any `ActiveChild`) until reaped.
    child: Arc<ChildState>,
    /// A pidfd for the child: the `sentinel`, lets `join_timeout` sleep in
    /// `poll`, and makes signals race-free against pid reuse. `None` on
    /// kernels without `pidfd_open` (before 5.3) or when no file descriptor
    /// was free; waiting then polls `waitpid`.
    pidfd: Option<OwnedFd>,
}

impl Process {
    /// Forks a child that runs `f`, with a default name and the calling
    /// process's daemon flag: [`ProcessBuilder::spawn`] on
    /// [`Process::builder()`].
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if `fork` fails (`EAGAIN`: process limit, `ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Process, Shared};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let hits = Shared::new(AtomicU64::new(0))?;
    /// let children = (0..3)
    ///     .map(|_| Process::spawn(|| drop(hits.fetch_add(1, Ordering::SeqCst))))
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// for child in &children {
    ///     assert_eq!(child.join()?, 0);
    /// }
    /// assert_eq!(hits.load(Ordering::SeqCst), 3);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn spawn<F: FnOnce()>(f: F) -> Result<Process, Error> {
        ProcessBuilder::new().spawn(f)
    }

    /// A builder to name the child or make it a daemon before spawning it.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// let child = Process::builder().name("indexer").spawn(|| {})?;
    /// assert_eq!(child.name(), "indexer");
    /// # child.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn builder() -> ProcessBuilder {
        ProcessBuilder::new()
    }

    /// The child's name: the one given to [`ProcessBuilder::name`], or
    /// `Process-N` (see there).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// let first = Process::spawn(|| {})?;
    /// let second = Process::builder().name("worker").spawn(|| {})?;
    /// assert_eq!(first.name(), "Process-1");
    /// assert_eq!(second.name(), "worker");
    /// # first.join()?;
    /// # second.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.child.identity().name()
    }

    /// Whether the child is a daemon (see [`ProcessBuilder::daemon`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// let plain = Process::spawn(|| {})?;
    /// let daemon = Process::builder().daemon(true).spawn(|| {})?;
    /// assert!(!plain.is_daemon());
    /// assert!(daemon.is_daemon());
    /// # plain.join()?;
    /// # daemon.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_daemon(&self) -> bool {
        self.child.identity().daemon()
    }

    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Process, Shared};
    /// use std::sync::atomic::{AtomicU32, Ordering};
    ///
    /// let seen = Shared::new(AtomicU32::new(0))?;
    /// let child = Process::spawn(|| seen.store(std::process::id(), Ordering::SeqCst))?;
    /// child.join()?;
    /// assert_eq!(child.pid(), seen.load(Ordering::SeqCst));
    /// assert_ne!(child.pid(), std::process::id());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// Waits for the child to end and returns its exit code: `0`, the code
    /// it exited with, or `-N` if signal `N` killed it (Python's
    /// convention). Returns at once if it has been reaped already.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if waiting fails: `ECHILD` in a process other than
    /// the one that spawned the child (see [`is_alive`](Process::is_alive)),
    /// or when a `waitpid(-1)` elsewhere in the program took its exit code.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    /// use std::time::Duration;
    ///
    /// let ok = Process::spawn(|| {})?;
    /// let killed = Process::spawn(|| std::thread::sleep(Duration::from_secs(5)))?;
    /// killed.kill()?;
    /// assert_eq!(ok.join()?, 0);
    /// assert_eq!(killed.join()?, -9); // SIGKILL
    /// assert_eq!(killed.join()?, -9); // reaped already: at once
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    /// [`Error::Os`] if waiting fails: `ECHILD` in a process other than
    /// the one that spawned the child (see [`is_alive`](Process::is_alive)),
    /// or when a `waitpid(-1)` elsewhere in the program took its exit code.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// assert_eq!(child.join_timeout(Duration::from_millis(5))?, None); // still running
    /// go.set();
    /// assert_eq!(child.join_timeout(Duration::from_secs(5))?, Some(0));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<i32>, Error> {
        self.child.join_timeout(self.sentinel(), timeout)
    }

    /// Whether the child is still running.
    ///
    /// Only the process that spawned a child can reap it: in another
    /// process that has this handle (a sibling forked after the child,
    /// which inherits a copy), this answers through the child's pidfd, and
    /// [`join`](Process::join) and [`join_timeout`](Process::join_timeout)
    /// fail with `ECHILD` (Python asserts there instead).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// assert!(child.is_alive());
    /// go.set();
    /// child.join()?;
    /// assert!(!child.is_alive());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        match self.child.try_reap() {
            Ok(code) => code.is_none(),
            // Not ours to reap: a handle that crossed a fork into a sibling,
            // or a child whose exit code a `waitpid(-1)` took. Its pidfd
            // still tells whether it runs.
            Err(_) => self
                .sentinel()
                .is_some_and(|pidfd| !state::has_exited(pidfd)),
        }
    }

    /// The exit code if the child has ended (see [`Process::join`]; it is
    /// reaped now if it was not), else `None`. Also `None` for a child whose
    /// exit code a `waitpid(-1)` elsewhere in the program took.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// assert_eq!(child.exitcode(), None); // still running
    /// go.set();
    /// child.join()?;
    /// assert_eq!(child.exitcode(), Some(0));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        self.child.try_reap().ok().flatten()
    }

    /// Sends `SIGTERM` (Python's `terminate`). Does nothing if the child has
    /// already been reaped. A stopped child (`SIGSTOP`) acts on it only
    /// once continued, as in Python; [`kill`](Process::kill) ends it at
    /// once.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    /// use std::time::Duration;
    ///
    /// let child = Process::spawn(|| std::thread::sleep(Duration::from_secs(5)))?;
    /// child.terminate()?;
    /// assert_eq!(child.join()?, -15); // SIGTERM
    /// child.terminate()?; // reaped: nothing to do
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<(), Error> {
        self.child.signal(self.sentinel(), Signal::TERM)
    }

    /// Sends `SIGKILL` (Python's `kill`). Does nothing if the child has
    /// already been reaped.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    /// use std::time::Duration;
    ///
    /// let child = Process::spawn(|| std::thread::sleep(Duration::from_secs(5)))?;
    /// child.kill()?;
    /// assert_eq!(child.join()?, -9); // SIGKILL
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn kill(&self) -> Result<(), Error> {
        self.child.signal(self.sentinel(), Signal::KILL)
    }

    /// A file descriptor that polls readable (`POLLIN`) once the child has
    /// exited, to wait for it beside other descriptors with `poll`, `epoll`
    /// or an async reactor (Python's `sentinel`). It is the child's pidfd,
    /// so it stays readable after the child is reaped and never refers to
    /// a process that reused the pid. Reading from it is not meaningful;
    /// call [`join`](Process::join) or [`exitcode`](Process::exitcode) for
    /// the exit code.
    ///
    /// `None` if there is no pidfd: on kernels without `pidfd_open`
    /// (Linux before 5.3), or if the process had no free file descriptor
    /// when it spawned the child. `join` and the others work without it.
    ///
    /// # Examples
    ///
    /// ```
    /// use rustix::event::{poll, PollFd, PollFlags};
    /// use shmsync::{Event, Process};
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| {
    ///     go.wait(None);
    /// })?;
    /// let sentinel = child.sentinel().expect("Linux 5.3 or later");
    ///
    /// let zero = rustix::time::Timespec { tv_sec: 0, tv_nsec: 0 };
    /// let mut fds = [PollFd::new(&sentinel, PollFlags::IN)];
    /// assert_eq!(poll(&mut fds, Some(&zero)).unwrap(), 0); // still running
    ///
    /// go.set();
    /// let mut fds = [PollFd::new(&sentinel, PollFlags::IN)];
    /// assert_eq!(poll(&mut fds, None).unwrap(), 1); // exited
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn sentinel(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// Releases the handle's resources (its pidfd and its record in the
    /// registry), if the child has ended: Python's `close()`. The child is
    /// reaped first if it has ended but was not joined. Dropping a handle
    /// does the same, but does not tell you when the child still runs.
    ///
    /// # Errors
    ///
    /// [`CloseError`] if the child is still running; it hands the handle
    /// back ([`CloseError::into_process`]), so you can join or kill the
    /// child and close again.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Event, Process};
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| {
    ///     go.wait(None);
    /// })?;
    /// let child = child.close().unwrap_err().into_process(); // still running
    /// go.set();
    /// assert_eq!(child.join()?, 0);
    /// child.close()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn close(self) -> Result<(), CloseError> {
        match self.child.try_reap() {
            Ok(None) => Err(CloseError { process: self }),
            // Reaped now or before; or ECHILD: reaped by someone else.
            // Either way it no longer runs as our child: drop releases it.
            Ok(Some(_)) | Err(_) => Ok(()),
        }
    }

    /// The name of the calling process: its [`Process::name`] if this
    /// crate spawned it, `"MainProcess"` otherwise (Python's
    /// `current_process().name`). Reads a static: no system call.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// assert_eq!(Process::current_name(), "MainProcess");
    /// let child = Process::builder().name("worker").spawn(|| {
    ///     assert_eq!(Process::current_name(), "worker");
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn current_name() -> &'static str {
        child::current().map_or("MainProcess", Identity::name)
    }

    /// Whether the calling process is a daemon spawned by this crate
    /// (Python's `current_process().daemon`); `false` in the main process.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// assert!(!Process::current_is_daemon()); // the main process
    /// let daemon = Process::builder().daemon(true).spawn(|| {
    ///     assert!(Process::current_is_daemon());
    /// })?;
    /// assert_eq!(daemon.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn current_is_daemon() -> bool {
        child::current().is_some_and(Identity::daemon)
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name())
            .field("pid", &self.pid())
            .field("daemon", &self.is_daemon())
            .field("exitcode", &self.child.reaped())
            .finish()
    }
}

impl Drop for Process {
    /// Closes the pidfd and reaps the child if it has already ended; a
    /// running child is neither waited for nor killed, but left to the
    /// registry (see [`Process`]).
    fn drop(&mut self) {
        let ended = !matches!(self.child.try_reap(), Ok(None));
        registry::release(&self.child, ended);
    }
}

/// [`Process::close`] on a child that still runs; holds the handle.
///
/// # Examples
///
/// ```
/// use shmsync::{Event, Process};
/// use std::time::Duration;
///
/// let go = Event::new()?;
/// let child = Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
/// let Err(running) = child.close() else { panic!("the child still runs") };
/// assert!(running.to_string().starts_with("cannot close a process that is still running"));
/// let child = running.into_process();
/// go.set();
/// child.join()?;
/// child.close()?;
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct CloseError {
    process: Process,
}

impl CloseError {
    /// The handle that could not be closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    /// use std::time::Duration;
    ///
    /// let child = Process::spawn(|| std::thread::sleep(Duration::from_secs(5)))?;
    /// if let Err(running) = child.close() {
    ///     let child = running.into_process(); // the handle, back
    ///     child.kill()?;
    ///     assert_eq!(child.join()?, -9);
    ///     child.close()?;
    /// }
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn into_process(self) -> Process {
        self.process
    }
}

impl fmt::Debug for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CloseError").field(&self.process).finish()
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(CLOSE_RUNNING)
    }
}

impl std::error::Error for CloseError {}

const CLOSE_RUNNING: &str =
    "cannot close a process that is still running; join, terminate or kill it first";

impl From<CloseError> for Error {
    /// An [`Error::InvalidArgument`]; the handle is dropped, the child
    /// keeps running (see [`Process`]).
    fn from(_: CloseError) -> Error {
        Error::InvalidArgument(CLOSE_RUNNING)
    }
}
