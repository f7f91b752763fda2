//! Who is running: the kernel thread id that lock words record, and whether
//! the thread behind a recorded id still exists.
//!
//! A thread id is unique across the machine (within one pid namespace) for as
//! long as the thread lives, so it names both the process and the thread.
//! With `std` it is cached per thread, so the lock fast path makes no
//! syscall; a `pthread_atfork` child handler forgets the cache, because a
//! forked child runs on a thread with a new id. Without `std` there is no
//! thread-local storage to cache in, and every call asks the kernel.

#[cfg(not(loom))]
mod os {
    /// The calling thread's kernel thread id.
    #[inline]
    pub(crate) fn current_tid() -> u32 {
        #[cfg(feature = "std")]
        {
            cached::current_tid()
        }
        #[cfg(not(feature = "std"))]
        {
            gettid()
        }
    }

    fn gettid() -> u32 {
        let tid = rustix::thread::gettid().as_raw_nonzero().get();
        // Linux thread ids are positive and below PID_MAX_LIMIT (2^22), so
        // they fit the 30 bits lock words keep for them.
        tid as u32
    }

    #[cfg(feature = "std")]
    mod cached {
        use core::cell::Cell;
        use core::sync::atomic::{AtomicBool, Ordering};

        /// Whether the fork handler is in place; until it is, every call asks
        /// the kernel, since a cached id could be a parent's.
        static FORK_SAFE: AtomicBool = AtomicBool::new(false);

        std::thread_local! {
            /// This thread's id, or 0 before the first call (and in a child
            /// right after `fork`).
            static TID: Cell<u32> = const { Cell::new(0) };
        }

        /// Registers the fork handler when the program is loaded, before any
        /// thread can fork. (Registering lazily behind a `Once` is not
        /// fork-safe: a child forked while another thread runs the `Once`
        /// inherits it mid-run and waits for it forever.)
        #[used]
        #[link_section = ".init_array"]
        static REGISTER_FORK_HANDLER: extern "C" fn() = register_fork_handler;

        extern "C" fn register_fork_handler() {
            // SAFETY: registers a child handler that only touches this
            // crate's thread-local; no prepare or parent handlers.
            let rc = unsafe { libc::pthread_atfork(None, None, Some(forget_after_fork)) };
            // Relaxed: read by threads started after this constructor ran,
            // which thread creation orders after it.
            FORK_SAFE.store(rc == 0, Ordering::Relaxed);
        }

        extern "C" fn forget_after_fork() {
            // Runs in the child, on the one thread fork copied: that thread's
            // cached id is its parent's, so drop it.
            let _ = TID.try_with(|t| t.set(0));
        }

        #[inline]
        pub(crate) fn current_tid() -> u32 {
            let tid = TID.with(Cell::get);
            if tid != 0 {
                return tid;
            }
            refresh()
        }

        #[cold]
        fn refresh() -> u32 {
            let tid = super::gettid();
            if FORK_SAFE.load(Ordering::Relaxed) {
                TID.with(|t| t.set(tid));
            }
            tid
        }
    }

    /// Whether the thread `tid` is certainly gone.
    ///
    /// `kill(tid, 0)` fails with `ESRCH` once a thread has been reaped. A
    /// process that died but was not yet waited for is a zombie, and `kill`
    /// still succeeds on it; `/proc/<tid>/stat` then says `Z` (or `X`).
    /// Errors other than `ESRCH` (`EPERM`: someone else's process) mean the
    /// thread exists. A thread id the kernel has handed to a new thread looks
    /// alive: reuse can delay the verdict, never fake a death.
    pub(crate) fn thread_is_gone(tid: u32) -> bool {
        let Some(pid) = rustix::process::Pid::from_raw(tid as i32) else {
            return false;
        };
        match rustix::process::test_kill_process(pid) {
            Err(rustix::io::Errno::SRCH) => true,
            _ => is_zombie(tid),
        }
    }

    /// Reads the state letter of `/proc/<tid>/stat`: `Z` or `X` means the
    /// thread has exited. Without `/proc` the answer is "not known to be
    /// gone".
    fn is_zombie(tid: u32) -> bool {
        use rustix::fs::{Mode, OFlags};

        let mut path = [0u8; 32];
        let Some(path) = proc_stat_path(tid, &mut path) else {
            return false;
        };
        let Ok(fd) = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
            return false;
        };
        let mut buf = [0u8; 128];
        let Ok(n) = rustix::io::read(&fd, &mut buf) else {
            return false;
        };
        matches!(stat_state(&buf[..n]), Some(b'Z' | b'X'))
    }

    /// Formats `/proc/<tid>/stat` into `buf` as a C string.
    fn proc_stat_path(tid: u32, buf: &mut [u8; 32]) -> Option<&core::ffi::CStr> {
        let mut digits = [0u8; 10];
        let mut n = tid;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut at = 0;
        for &b in b"/proc/" {
            buf[at] = b;
            at += 1;
        }
        for i in (0..len).rev() {
            buf[at] = digits[i];
            at += 1;
        }
        for &b in b"/stat\0" {
            buf[at] = b;
            at += 1;
        }
        core::ffi::CStr::from_bytes_with_nul(&buf[..at]).ok()
    }

    /// The state field of a `stat` line: the letter after the last `)`, since
    /// the command name before it may itself contain parentheses.
    pub(crate) fn stat_state(stat: &[u8]) -> Option<u8> {
        let close = stat.iter().rposition(|&b| b == b')')?;
        stat.get(close + 2).copied()
    }

    #[cfg(all(test, feature = "std"))]
    mod tests {
        use super::*;

        #[test]
        fn stat_state_skips_parentheses_in_the_command_name() {
            assert_eq!(stat_state(b"42 (a) b) (c) S 1 2"), Some(b'S'));
            assert_eq!(stat_state(b"42 (x) Z 1"), Some(b'Z'));
            assert_eq!(stat_state(b"42 (x)"), None);
        }

        #[test]
        fn proc_stat_path_formats_the_id() {
            let mut buf = [0u8; 32];
            let p = proc_stat_path(4_194_303, &mut buf).unwrap();
            assert_eq!(p.to_bytes(), b"/proc/4194303/stat");
        }

        #[test]
        fn current_thread_is_alive_and_a_finished_thread_is_gone() {
            assert!(!thread_is_gone(current_tid()));
            let tid = std::thread::spawn(current_tid).join().unwrap();
            assert_ne!(tid, current_tid());
            // `join` returns once the thread has cleared its id, which can
            // be a moment before the kernel has reaped it.
            let start = std::time::Instant::now();
            while !thread_is_gone(tid) {
                assert!(
                    start.elapsed() < std::time::Duration::from_secs(5),
                    "thread {tid} never went"
                );
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(loom)]
mod os {
    use loom::sync::atomic::{AtomicU32, Ordering};

    loom::lazy_static! {
        static ref NEXT: AtomicU32 = AtomicU32::new(1);
    }
    loom::thread_local! {
        static TID: u32 = NEXT.fetch_add(1, Ordering::Relaxed);
    }

    /// Loom threads get small distinct ids, fresh for every execution.
    pub(crate) fn current_tid() -> u32 {
        TID.with(|t| *t)
    }

    /// Loom models no thread deaths.
    pub(crate) fn thread_is_gone(_tid: u32) -> bool {
        false
    }
}

pub(crate) use os::{current_tid, thread_is_gone};
