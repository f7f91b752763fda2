//! Every child this process spawned and has not yet seen reaped, so that a
//! child whose handle was dropped while it ran is still reaped (Python's
//! `_children` and `_cleanup`), and [`active_children`] can list them all.
//!
//! Reaping is only ever `waitpid(pid, WNOHANG)` on a pid recorded here,
//! never `waitpid(-1)`, which would steal the program's other children.
//!
//! # Fork safety
//!
//! A forked child must not see its parent's children, and must not take the
//! registry lock, which another parent thread may have held at the moment
//! of the fork (it stays held forever in the child's copy). So the registry
//! is a leaked heap value reached through one atomic pointer and stamped
//! with the pid that made it: a child spawned here resets the pointer on its
//! one thread before running its closure, and a process forked by other
//! means sees a stranger's stamp and makes its own. The inherited copy is
//! never touched, only leaked.
//!
//! Lock order: the registry lock, then a child's exit lock (reaping). Never
//! take the registry lock while holding an exit lock.

use super::state::ChildState;
use crate::Error;
use rustix::process::{Pid, Signal};
use std::fmt;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The children of one process.
struct Registry {
    /// The process this registry belongs to.
    owner: Pid,
    /// In spawn order.
    children: Mutex<Vec<Entry>>,
}

struct Entry {
    child: Arc<ChildState>,
    /// Whether the `Process` handle has been dropped: then only the
    /// registry can reap the child.
    orphaned: bool,
}

/// The registry of the calling process; null until first used, and in a
/// child spawned here until it first spawns.
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(ptr::null_mut());

/// The calling process's registry, made on first use.
fn registry() -> &'static Registry {
    let me = rustix::process::getpid();
    // Acquire: pairs with the Release of the compare_exchange below, so the
    // registry another thread published is seen initialised.
    let mut current = REGISTRY.load(Ordering::Acquire);
    loop {
        // SAFETY: a non-null pointer here came from `Box::into_raw` below
        // and is never freed: every registry, ours or inherited, is leaked.
        if let Some(found) = unsafe { current.as_ref() } {
            if found.owner == me {
                return found;
            }
        }
        let fresh = Box::into_raw(Box::new(Registry {
            owner: me,
            children: Mutex::new(Vec::new()),
        }));
        // Release on success: publishes the new registry to the Acquire
        // loads here. Acquire on failure: as the load above.
        match REGISTRY.compare_exchange(current, fresh, Ordering::Release, Ordering::Acquire) {
            // SAFETY: just made from a Box and now leaked for good.
            Ok(_) => return unsafe { &*fresh },
            Err(other) => {
                // SAFETY: `fresh` was never shared; give it back.
                drop(unsafe { Box::from_raw(fresh) });
                current = other;
            }
        }
    }
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        // Entries are inserted and removed whole; a panic cannot leave the
        // list half-updated in a way that matters.
        self.children
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Called in a child spawned here, on its one thread, before its closure:
/// start with no children.
pub(super) fn forget_inherited() {
    // Relaxed: the child has one thread now; threads it starts later are
    // ordered after this store by their creation.
    REGISTRY.store(ptr::null_mut(), Ordering::Relaxed);
}

/// Records a child just spawned.
pub(super) fn register(child: &Arc<ChildState>) {
    let entry = Entry {
        child: Arc::clone(child),
        orphaned: false,
    };
    registry().lock().push(entry);
}

/// The handle of `child` is gone: forget the child if it has `ended`,
/// otherwise leave it for [`reap_orphans`] and [`active_children`].
pub(super) fn release(child: &Arc<ChildState>, ended: bool) {
    let mut children = registry().lock();
    // A handle inherited from the parent and dropped in a child finds no
    // entry here: the child's registry is its own.
    let Some(at) = children.iter().position(|e| Arc::ptr_eq(&e.child, child)) else {
        return;
    };
    if ended {
        children.remove(at);
    } else {
        children[at].orphaned = true;
    }
}

/// Reaps the children whose handles were dropped, if they have ended, and
/// forgets every child known to be reaped. Python's `_cleanup`, run before
/// each spawn.
pub(super) fn reap_orphans() {
    registry().lock().retain(|entry| {
        if entry.orphaned {
            // An error is ECHILD: someone else reaped it; forget it too.
            matches!(entry.child.try_reap(), Ok(None))
        } else {
            entry.child.reaped().is_none()
        }
    });
}

/// Reaps every finished child this process spawned, including those whose
/// [`Process`](crate::Process) handles were dropped, and returns the ones
/// still running, in spawn order (Python's `active_children()`).
///
/// Only children spawned by this process count: in a child, the list starts
/// empty. Children are reaped with `waitpid(pid, WNOHANG)` on their own
/// pids, never with `waitpid(-1)`, so the program's other children are left
/// alone.
///
/// # Examples
///
/// ```
/// use shmsync::{active_children, Event, Process};
///
/// let go = Event::new()?;
/// let child = Process::builder().name("sleeper").spawn(|| {
///     go.wait(None);
/// })?;
/// let pid = child.pid();
/// drop(child); // the child keeps running
///
/// let live = active_children();
/// let sleeper = live.iter().find(|c| c.pid() == pid).expect("still running");
/// assert_eq!(sleeper.name(), "sleeper");
///
/// go.set();
/// assert_eq!(sleeper.join_timeout(std::time::Duration::from_secs(60))?, Some(0));
/// assert!(active_children().iter().all(|c| c.pid() != pid));
/// # Ok::<(), shmsync::Error>(())
/// ```
pub fn active_children() -> Vec<ActiveChild> {
    let mut children = registry().lock();
    // An error is ECHILD: someone else reaped it; forget it too.
    children.retain(|entry| matches!(entry.child.try_reap(), Ok(None)));
    children
        .iter()
        .map(|entry| ActiveChild {
            child: Arc::clone(&entry.child),
        })
        .collect()
}

/// A child that was running when [`active_children`] listed it.
///
/// It shares its state with the child's [`Process`](crate::Process) handle,
/// if that still exists: whichever reaps the child first records the exit
/// code for both, and signals are as safe against pid reuse as the
/// handle's. It has no `sentinel`; waiting for it polls every few
/// milliseconds.
///
/// # Examples
///
/// Stop every child still running, as a Python program does with
/// `for p in active_children(): p.terminate()`:
///
/// ```
/// use shmsync::{active_children, Process};
/// use std::time::Duration;
///
/// let _ = Process::spawn(|| loop {
///     std::thread::sleep(Duration::from_secs(1));
/// })?;
/// for child in active_children() {
///     child.terminate()?;
///     assert!(child.join_timeout(Duration::from_secs(60))?.is_some());
/// }
/// assert!(active_children().is_empty());
/// # Ok::<(), shmsync::Error>(())
/// ```
pub struct ActiveChild {
    child: Arc<ChildState>,
}

impl ActiveChild {
    /// The child's process id.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// let listed: Vec<u32> = active_children().iter().map(|c| c.pid()).collect();
    /// assert_eq!(listed, [child.pid()]);
    /// # go.set();
    /// # child.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The child's name (see [`Process::name`](crate::Process::name)).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let sleeper = Process::builder().name("sleeper");
    /// let child = sleeper.spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// assert!(active_children().iter().any(|c| c.name() == "sleeper"));
    /// # go.set();
    /// # child.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        self.child.identity().name()
    }

    /// Whether the child is a daemon (see
    /// [`ProcessBuilder::daemon`](crate::ProcessBuilder::daemon)).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let daemon = Process::builder().daemon(true);
    /// let child = daemon.spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// assert!(active_children().iter().all(|c| c.is_daemon()));
    /// # go.set();
    /// # child.join()?;
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_daemon(&self) -> bool {
        self.child.identity().daemon()
    }

    /// Whether the child is still running; reaps it if it has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// let child = Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?;
    /// let listed = active_children();
    /// assert!(listed.iter().all(|c| c.is_alive()));
    /// go.set();
    /// child.join()?; // through the handle: the listed child knows too
    /// assert!(listed.iter().all(|c| !c.is_alive()));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        matches!(self.child.try_reap(), Ok(None))
    }

    /// Waits at most `timeout` for the child to end: `Some(exit code)` if
    /// it did (see [`Process::join`](crate::Process::join)), `None` if it is
    /// still running.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if waiting fails.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Event, Process};
    /// use std::time::Duration;
    ///
    /// let go = Event::new()?;
    /// drop(Process::spawn(|| drop(go.wait(Some(Duration::from_secs(5)))))?); // handle gone
    /// go.set();
    /// for child in active_children() {
    ///     assert_eq!(child.join_timeout(Duration::from_secs(5))?, Some(0));
    /// }
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<i32>, Error> {
        self.child.join_timeout(None, timeout)
    }

    /// Sends `SIGTERM`, unless the child has been reaped already.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Process};
    /// use std::time::Duration;
    ///
    /// let child = Process::spawn(|| std::thread::sleep(Duration::from_secs(5)))?;
    /// for running in active_children() {
    ///     running.terminate()?;
    /// }
    /// assert_eq!(child.join()?, -15); // SIGTERM
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<(), Error> {
        self.child.signal(None, Signal::TERM)
    }

    /// Sends `SIGKILL`, unless the child has been reaped already.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the signal cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{active_children, Process};
    /// use std::time::Duration;
    ///
    /// let child = Process::spawn(|| std::thread::sleep(Duration::from_secs(5)))?;
    /// for running in active_children() {
    ///     running.kill()?;
    /// }
    /// assert_eq!(child.join()?, -9); // SIGKILL
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn kill(&self) -> Result<(), Error> {
        self.child.signal(None, Signal::KILL)
    }
}

impl fmt::Debug for ActiveChild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveChild")
            .field("name", &self.name())
            .field("pid", &self.pid())
            .field("daemon", &self.is_daemon())
            .finish()
    }
}
