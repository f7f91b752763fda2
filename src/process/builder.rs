//! `ProcessBuilder`: a child's name and daemon flag, set before it exists,
//! and the parent's side of `fork`.

use super::child::{self, Identity};
use super::state::{self, ChildState};
use super::{panic, registry, Process};
use crate::Error;
use rustix::process::{Pid, PidfdFlags};
use std::io::Write;
use std::sync::Arc;

/// Settings for a child process, Python's `Process(name=..., daemon=...)`:
/// made by [`Process::builder`], consumed by [`spawn`](ProcessBuilder::spawn).
///
/// # Examples
///
/// ```
/// use shmsync::Process;
///
/// let worker = Process::builder().name("worker").daemon(true).spawn(|| {
///     assert_eq!(Process::current_name(), "worker");
///     assert!(Process::current_is_daemon());
/// })?;
/// assert_eq!(worker.name(), "worker");
/// assert!(worker.is_daemon());
/// assert_eq!(worker.join()?, 0);
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[must_use = "a builder does nothing until `spawn` is called"]
pub struct ProcessBuilder {
    name: Option<String>,
    daemon: Option<bool>,
    inherit_stdin: bool,
}

impl ProcessBuilder {
    /// A builder with Python's defaults: see [`name`](Self::name) and
    /// [`daemon`](Self::daemon).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::ProcessBuilder;
    ///
    /// let child = ProcessBuilder::new().spawn(|| {})?;
    /// assert_eq!(child.name(), "Process-1");
    /// assert!(!child.is_daemon());
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new() -> ProcessBuilder {
        ProcessBuilder::default()
    }

    /// Names the child. Without a name it is called `Process-N`, where `N`
    /// counts the processes this process has spawned (1 for the first);
    /// in a child spawned here, the child's own numbers come first:
    /// `Process-2:1` is the first child of the main process's second.
    /// Names need not be unique.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// let named = Process::builder().name("indexer").spawn(|| {})?; // takes number 1
    /// let unnamed = Process::spawn(|| {
    ///     // Its own first child:
    ///     assert!(Process::spawn(|| {}).is_ok_and(|c| c.name() == "Process-2:1"));
    /// })?;
    /// assert_eq!(named.name(), "indexer");
    /// assert_eq!(unnamed.name(), "Process-2");
    /// assert_eq!(unnamed.join()?, 0);
    /// # named.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> ProcessBuilder {
        self.name = Some(name.into());
        self
    }

    /// Makes the child a daemon, or not: a daemon is killed (`SIGKILL`)
    /// when its parent goes. Without this call the child is a daemon if
    /// the calling process is one (Python's rule).
    ///
    /// The kernel sends the signal when the *thread* that spawned the
    /// daemon exits (`PR_SET_PDEATHSIG` takes a thread for the parent), not
    /// when the whole parent process does. So a daemon spawned from a
    /// short-lived thread (a test, a task on a thread pool) dies when that
    /// thread ends, although its process goes on. More precisely, the
    /// daemon asks for the signal just after the fork, before it runs its
    /// closure; if the spawning thread has ended before that, the kernel
    /// has already handed the daemon to another thread of the parent, and
    /// it dies when *that* thread ends. Either way a daemon never outlives
    /// its parent process: one that finds its parent process gone when it
    /// asks for the signal kills itself with `SIGKILL` at once. Spawn
    /// daemons from a thread that lives as long as they should, such as
    /// the main thread.
    ///
    /// A daemon may spawn children only if they are daemons too (the
    /// default in a daemon): they then die with it, as it dies with its
    /// parent, and no process is left behind. A non-daemon child would be
    /// orphaned when its daemon parent is killed, which is why Python
    /// forbids daemons any children; see [`spawn`](Self::spawn).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    ///
    /// let daemon = Process::builder().daemon(true).spawn(|| {
    ///     assert!(Process::current_is_daemon());
    ///     // Its children are daemons too; a non-daemon one is refused.
    ///     assert!(Process::spawn(|| {}).is_ok_and(|c| c.is_daemon()));
    ///     assert!(Process::builder().daemon(false).spawn(|| {}).is_err());
    /// })?;
    /// assert!(daemon.is_daemon());
    /// assert_eq!(daemon.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn daemon(mut self, daemon: bool) -> ProcessBuilder {
        self.daemon = Some(daemon);
        self
    }

    /// Whether the child keeps the parent's standard input. By default it
    /// does not, as in Python, whose child reads end of file from
    /// `sys.stdin`: two processes reading one terminal or pipe would take
    /// each other's input. Here the child's file descriptor 0 is replaced
    /// by `/dev/null` (left as it is if that cannot be opened), so
    /// programs it runs read end of file too; bytes the parent's
    /// `std::io::stdin()` had already buffered before the fork are still
    /// read first. `inherit_stdin(true)` leaves descriptor 0 alone.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Process;
    /// use std::io::Read;
    ///
    /// // The default: the child's standard input is empty.
    /// let child = Process::spawn(|| {
    ///     let mut fd0 = std::fs::File::open("/proc/self/fd/0").unwrap();
    ///     let mut got = Vec::new();
    ///     fd0.read_to_end(&mut got).unwrap();
    ///     assert!(got.is_empty());
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// // Opted out: it shares the parent's.
    /// let child = Process::builder().inherit_stdin(true).spawn(|| {})?;
    /// assert_eq!(child.join()?, 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn inherit_stdin(mut self, inherit: bool) -> ProcessBuilder {
        self.inherit_stdin = inherit;
        self
    }

    /// Forks a child that runs `f`, then exits: with 0 when `f` returns, 1
    /// when it panics. A closure that calls `std::process::exit(code)`
    /// itself ends with `code`, but that path runs the `atexit` handlers
    /// the child inherited from the parent (`_exit` would not).
    ///
    /// The closure runs on the child's copy of memory, so it may borrow
    /// from the parent's stack. Buffered standard output is flushed first,
    /// so the child does not print it again, and the child flushes its own
    /// when `f` returns or panics, as Python's does (`print!` output without
    /// a newline is not lost to `_exit`). Standard output and error are
    /// locked across the fork, so the child never finds either lock held
    /// by a parent thread that does not exist in it: stdout's lock first,
    /// then stderr's. So a thread that keeps a `StdoutLock` delays every
    /// spawn until it lets go, and one that holds `stderr().lock()` while
    /// it prints to standard output deadlocks with a spawn (take stdout's
    /// lock first there too, or print through the lock already held).
    /// Under `cargo test`'s output capture, see the module docs. The
    /// child's standard input is `/dev/null` unless
    /// [`inherit_stdin`](Self::inherit_stdin). Before forking, children
    /// whose handles were dropped are reaped if they have ended (see
    /// [`active_children`](crate::active_children)).
    ///
    /// # Errors
    ///
    /// - [`Error::InvalidArgument`] if the calling process is a daemon and
    ///   the builder asks for a non-daemon child.
    /// - [`Error::Os`] if `fork` fails (`EAGAIN`: process limit, `ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Process, Shared};
    /// use std::sync::atomic::{AtomicU64, Ordering};
    ///
    /// let data = vec![1u64, 2, 3];
    /// let total = Shared::new(AtomicU64::new(0))?;
    /// let child = Process::builder().name("summer").spawn(|| {
    ///     // The child's copy of `data`; `total` is shared memory.
    ///     total.store(data.iter().sum(), Ordering::SeqCst);
    /// })?;
    /// assert_eq!(child.join()?, 0);
    /// assert_eq!(total.load(Ordering::SeqCst), 6);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn spawn<F: FnOnce()>(self, f: F) -> Result<Process, Error> {
        let in_daemon = child::current().is_some_and(Identity::daemon);
        let daemon = self.daemon.unwrap_or(in_daemon);
        if in_daemon && !daemon {
            return Err(Error::InvalidArgument(
                "a daemon process can only spawn daemons (which die with it); drop `.daemon(false)`",
            ));
        }
        panic::install_hook();
        state::count_forks();
        registry::reap_orphans();
        let me = Arc::new(Identity::next_child(self.name, daemon));
        let parent = rustix::process::getpid();
        // Both locks are held across the fork, stdout's first (the order
        // std itself never inverts): no other thread can hold one at the
        // instant of the fork (the child would find it held for ever, and
        // its `println!` would hang) or put bytes in stdout's buffer
        // between the flush and the fork (the child would print them
        // again). Each process then gives them back: the child's thread
        // has the forking thread's identity, so its copy of each lock is
        // its own to release.
        let mut out = std::io::stdout().lock();
        let err = std::io::stderr().lock();
        let _ = out.flush();
        // SAFETY: fork has no memory-safety preconditions of its own; in the
        // child we only run `f` and `_exit`, never returning into the
        // caller's frames (see `run_child`).
        let pid = unsafe { libc::fork() };
        drop(err);
        drop(out);
        match pid {
            -1 => Err(Error::os("fork", std::io::Error::last_os_error())),
            0 => child::run_child(f, me, parent, self.inherit_stdin),
            pid => {
                let pid = Pid::from_raw(pid).expect("fork returned a positive pid");
                // Opened before this crate can reap the child, so it names
                // the child and not a process that reused its pid.
                let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty()).ok();
                let child = Arc::new(ChildState::new(pid, parent, me));
                registry::register(&child);
                Ok(Process { child, pidfd })
            }
        }
    }
}
