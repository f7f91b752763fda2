//! Who a process is (Python's `current_process()`), and what a forked child
//! does before and after it runs its closure.
//!
//! The child's own state lives in statics that the child writes on its one
//! thread, right after `fork` and before it runs the closure: nothing it
//! inherited can be half-written by a parent thread, and no lock is taken.
//! All accesses are Relaxed because of that: the only other readers are
//! threads the child starts later, and starting a thread orders everything
//! before it.

use super::{registry, state};
use rustix::process::{Pid, Signal};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Arc;

/// A process's name, daemon flag and place in the tree of processes
/// spawned from the main one.
pub(super) struct Identity {
    name: Box<str>,
    daemon: bool,
    /// Python's `_identity`: the spawn numbers from the main process down,
    /// joined by `:` (`"2"`: the main process's 2nd child; `"2:1"`: that
    /// child's 1st). Default names are made from it.
    path: Box<str>,
}

impl Identity {
    /// The identity of the next child this process spawns: takes the next
    /// spawn number, so a child that is given a name still uses one, as in
    /// Python.
    pub(super) fn next_child(name: Option<String>, daemon: bool) -> Identity {
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed) + 1;
        let path = match current() {
            Some(me) => format!("{}:{n}", me.path),
            None => n.to_string(),
        };
        let name = name.unwrap_or_else(|| format!("Process-{path}"));
        Identity {
            name: name.into_boxed_str(),
            daemon,
            path: path.into_boxed_str(),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn daemon(&self) -> bool {
        self.daemon
    }
}

/// This process's identity if shmsync spawned it; null in the main process
/// (and in processes forked by other means from it).
static CURRENT: AtomicPtr<Identity> = AtomicPtr::new(ptr::null_mut());

/// How many processes this process has spawned: the source of spawn
/// numbers. A child starts again from zero.
static SPAWNED: AtomicU64 = AtomicU64::new(0);

/// The identity of the calling process, if shmsync spawned it.
pub(super) fn current() -> Option<&'static Identity> {
    let me = CURRENT.load(Ordering::Relaxed);
    // SAFETY: non-null only after `run_child` stored a pointer from
    // `Arc::into_raw`, whose count it never gives back: the Identity lives
    // until the process ends, and nothing writes to it.
    unsafe { me.as_ref() }
}

/// The child's side of `spawn`: become `me`, run `f`, flush standard
/// output, then `_exit` with 0, or 1 if `f` panicked, whatever happens.
/// `parent` is the pid of the process that forked us, read before the
/// fork.
pub(super) fn run_child<F: FnOnce()>(
    f: F,
    me: Arc<Identity>,
    parent: Pid,
    inherit_stdin: bool,
) -> ! {
    // First: the parent's records of its children are not ours.
    state::forked();
    if me.daemon {
        die_with_parent(parent);
    }
    if !inherit_stdin {
        stdin_from_dev_null();
    }
    CURRENT.store(Arc::into_raw(me).cast_mut(), Ordering::Relaxed);
    SPAWNED.store(0, Ordering::Relaxed);
    registry::forget_inherited();
    let code = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => 0,
        Err(payload) => {
            // Never dropped: a payload whose own drop panics would unwind
            // out of here, into the parent's code after the fork. `_exit`
            // below frees it with the rest of the process.
            std::mem::forget(payload);
            1
        }
    };
    // What `print!` left in the buffer (a line without its newline), as
    // Python's child flushes `sys.stdout`. The lock is free unless a thread
    // the closure started holds it (spawn released the parent's copy).
    let _ = std::io::stdout().flush();
    // SAFETY: _exit ends the process at once, without running the parent's
    // atexit handlers or destructors; always sound to call.
    unsafe { libc::_exit(code) }
}

/// Points file descriptor 0 at `/dev/null`, as Python gives its child an
/// empty `sys.stdin`; leaves it alone if `/dev/null` cannot be opened.
fn stdin_from_dev_null() {
    // SAFETY: a C string literal; `open` has no other preconditions.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
    if null > 0 {
        // SAFETY: both descriptors are valid, and descriptor 0 belongs to
        // no Rust object (std's `Stdin` reads it through the raw number).
        unsafe {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    // `null == 0`: descriptor 0 was closed, and is now `/dev/null`.
}

/// Asks the kernel for `SIGKILL` when our parent goes, then makes sure it
/// has not gone already: if it died between `fork` and the `prctl`, we have
/// been handed to another reaper, and no signal will ever come. In that
/// case (or if the signal cannot be set up) we end ourselves the way the
/// signal would have.
fn die_with_parent(parent: Pid) {
    let armed = rustix::process::set_parent_process_death_signal(Some(Signal::KILL));
    if armed.is_ok() && rustix::process::getppid() == Some(parent) {
        return;
    }
    let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::KILL);
    // SAFETY: _exit is always sound; reached only if SIGKILL somehow was
    // not delivered.
    unsafe { libc::_exit(1) }
}
