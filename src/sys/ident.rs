//! Who is running: the kernel thread id that lock words record, a stamp
//! that tells this thread from every other thread that ever had the same id,
//! and whether the thread behind a recorded id still exists.
//!
//! A thread id is unique across the machine (within one pid namespace) for as
//! long as the thread lives, so it names both the process and the thread.
//! But the kernel hands a dead thread's id to a new thread sooner or later
//! (after `pid_max` ids, 32 768 on many systems), so an id read from shared
//! memory may name a thread that never held anything. The stamp settles it:
//! the `CLOCK_MONOTONIC` instant at which the thread first asked who it is.
//! Two threads with the same id never live at once, so the later one first
//! asks after the earlier one is gone: their stamps differ. Locks store the
//! stamp beside the id, and "this thread holds it" means both match.
//!
//! With `std`, id and stamp are cached per thread, so the lock fast path
//! makes no syscall; a `pthread_atfork` child handler forgets the cache,
//! because a forked child runs on a thread with a new id, and gets a new
//! stamp. Without `std` there is no thread-local storage: every call asks
//! the kernel for the id, and the stamp is the same constant for every
//! thread, so ownership is by id alone (see the README's known limits).

mod os {
    /// The largest thread id a live thread can have: Linux keeps ids below
    /// `PID_MAX_LIMIT` (2^22), which also makes them fit the 30 bits lock
    /// words keep for them.
    pub(crate) const MAX_TID: u32 = (1 << 22) - 1;

    /// The calling thread, as lock words record it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct Caller {
        /// The kernel thread id: nonzero, at most [`MAX_TID`].
        pub(crate) tid: u32,
        /// Tells this thread from every other thread that had `tid` before
        /// (see the module docs); never 0.
        pub(crate) stamp: u64,
    }

    /// The calling thread's id and stamp.
    #[inline]
    pub(crate) fn current_thread() -> Caller {
        #[cfg(feature = "std")]
        {
            cached::current_thread()
        }
        #[cfg(not(feature = "std"))]
        {
            Caller {
                tid: gettid(),
                stamp: 1,
            }
        }
    }

    /// A number for the calling thread's next lock acquisition: each call
    /// on a thread gives a new one (until it wraps, after 2^32).
    #[inline]
    pub(crate) fn next_hold() -> u32 {
        #[cfg(feature = "std")]
        {
            cached::next_hold()
        }
        #[cfg(not(feature = "std"))]
        {
            use core::sync::atomic::{AtomicU32, Ordering};
            static HOLDS: AtomicU32 = AtomicU32::new(0);
            // Relaxed: only uniqueness matters.
            HOLDS.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
        }
    }

    /// The process a guard or handle was made in, told from the copies of
    /// it that `fork` makes: a hold on a lock stays with the process that
    /// took it, so a copy in a child must neither use the data the hold
    /// guards nor give the hold back.
    ///
    /// A check is one load and one compare, but at every lending of the
    /// data: an `ArrayGuard` indexed in a loop pays it per index, and the
    /// atomic load keeps the loop from being vectorised (64 increments of
    /// `u32`s on one thread: 15 ns without the check, 42-47 ns with it;
    /// slicing the guard once, `let s = &mut *guard;`, pays it once).
    #[cfg(feature = "std")]
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct MadeIn(u32);

    #[cfg(feature = "std")]
    impl MadeIn {
        /// The calling process.
        #[inline]
        pub(crate) fn here() -> MadeIn {
            MadeIn(cached::fork_epoch())
        }

        /// Whether the calling process is the one this was made in, not a
        /// forked copy of it.
        #[inline]
        pub(crate) fn is_here(self) -> bool {
            self.0 == cached::fork_epoch()
        }

        /// Panics in a forked copy, naming the `what` that was copied.
        #[inline]
        #[track_caller]
        pub(crate) fn check(self, what: &'static str) {
            if !self.is_here() {
                forked_copy(what)
            }
        }
    }

    #[cfg(feature = "std")]
    #[cold]
    #[track_caller]
    fn forked_copy(what: &'static str) -> ! {
        panic!(
            "shmsync: this {what} was taken before a fork, by the parent, which still holds it; \
             a child must take its own inside the `Process` closure, not use a captured one"
        )
    }

    fn gettid() -> u32 {
        // Linux thread ids are positive and at most MAX_TID.
        rustix::thread::gettid().as_raw_nonzero().get() as u32
    }

    /// The stamp of a thread that asks now: `CLOCK_MONOTONIC` in
    /// nanoseconds, never 0.
    #[cfg(feature = "std")]
    fn new_stamp() -> u64 {
        crate::sys::Deadline::now().as_nanos().max(1)
    }

    #[cfg(feature = "std")]
    mod cached {
        use super::Caller;
        use core::cell::Cell;
        use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

        /// Whether the fork handler is in place; until it is, every call
        /// checks the cached id against the kernel's, since a cached id
        /// could be a parent's.
        static FORK_SAFE: AtomicBool = AtomicBool::new(false);

        /// One more than the number of forks between this process and the
        /// program's first one, along its line of parents: set to 1 when
        /// the fork handler is registered, bumped by the handler in each
        /// child; 0 if the handler is not in place.
        static EPOCH: AtomicU32 = AtomicU32::new(0);

        std::thread_local! {
            /// This thread's id and stamp; id 0 before the first call (and
            /// in a child right after `fork`).
            static ME: Cell<Caller> = const { Cell::new(Caller { tid: 0, stamp: 0 }) };
            /// The last number `next_hold` gave out on this thread.
            static HOLDS: Cell<u32> = const { Cell::new(0) };
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
            if rc == 0 {
                // Relaxed: as `FORK_SAFE`.
                EPOCH.store(1, Ordering::Relaxed);
            }
        }

        extern "C" fn forget_after_fork() {
            // Runs in the child, on the one thread fork copied: that thread's
            // cached id and stamp are its parent's, so drop them.
            let _ = ME.try_with(|me| me.set(Caller { tid: 0, stamp: 0 }));
            // Relaxed: the child has this one thread. Never 0 again, which
            // would mean "no handler".
            let next = EPOCH.load(Ordering::Relaxed).wrapping_add(1).max(1);
            EPOCH.store(next, Ordering::Relaxed);
        }

        /// A number that tells this process from every process whose memory
        /// it is a forked copy of, and from every process forked from it:
        /// [`EPOCH`], or its pid if the fork handler could not be
        /// registered.
        #[inline]
        pub(crate) fn fork_epoch() -> u32 {
            // Relaxed: set before anything this crate made can be copied by
            // a fork (at load, and by the fork itself, in the child's one
            // thread).
            match EPOCH.load(Ordering::Relaxed) {
                0 => rustix::process::getpid().as_raw_nonzero().get() as u32,
                epoch => epoch,
            }
        }

        #[inline]
        pub(crate) fn current_thread() -> Caller {
            let me = ME.with(Cell::get);
            if me.tid != 0 && FORK_SAFE.load(Ordering::Relaxed) {
                return me;
            }
            refresh(me)
        }

        /// Asks the kernel for the id; keeps the stamp while the id is the
        /// same (without the fork handler, a forked child finds its id
        /// changed and takes a new stamp).
        #[cold]
        fn refresh(cached: Caller) -> Caller {
            let tid = super::gettid();
            if cached.tid == tid {
                return cached;
            }
            let me = Caller {
                tid,
                stamp: super::new_stamp(),
            };
            ME.with(|cell| cell.set(me));
            me
        }

        #[inline]
        pub(crate) fn next_hold() -> u32 {
            HOLDS.with(|holds| {
                let next = holds.get().wrapping_add(1);
                holds.set(next);
                next
            })
        }
    }

    /// Whether the thread `tid` is certainly gone.
    ///
    /// `tid` may come from shared memory that anyone could have written: an
    /// id no live thread can have (0, or above [`MAX_TID`]) is gone; it is
    /// never handed to `kill`, where a negative number would name a process
    /// group. `kill(tid, 0)` fails with `ESRCH` once a thread has been reaped. A
    /// process that died but was not yet waited for is a zombie, and `kill`
    /// still succeeds on it; `/proc/<tid>/stat` then says `Z` (or `X`).
    /// Errors other than `ESRCH` (`EPERM`: someone else's process) mean the
    /// thread exists. A thread id the kernel has handed to a new thread looks
    /// alive: reuse can delay the verdict, never fake a death.
    pub(crate) fn thread_is_gone(tid: u32) -> bool {
        let Some(pid) = i32::try_from(tid)
            .ok()
            .filter(|_| tid <= MAX_TID)
            .and_then(rustix::process::Pid::from_raw)
        else {
            return true;
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
        fn impossible_ids_are_gone_and_never_probed() {
            for tid in [0, MAX_TID + 1, 1 << 30, i32::MAX as u32, 1 << 31, u32::MAX] {
                assert!(thread_is_gone(tid), "{tid}");
            }
        }

        #[test]
        fn a_thread_keeps_its_stamp_and_threads_differ_in_stamp() {
            let me = current_thread();
            assert_eq!(current_thread(), me);
            assert_ne!(me.stamp, 0);
            let other = std::thread::spawn(current_thread).join().unwrap();
            assert_ne!(other.tid, me.tid);
            assert_ne!(other.stamp, me.stamp);
            assert_ne!(next_hold(), next_hold());
        }

        #[test]
        fn current_thread_is_alive_and_a_finished_thread_is_gone() {
            let current_tid = || current_thread().tid;
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

#[cfg(feature = "std")]
pub(crate) use os::MadeIn;
pub(crate) use os::{current_thread, next_hold, thread_is_gone, Caller};
