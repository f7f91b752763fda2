//! Panics for failed system calls, kept out of the measured loops' code.

/// Panics with `what` and the OS error `code` (an errno value, or the
/// return value of a pthread call).
///
/// # Examples
///
/// ```should_panic
/// shmsync_testkit::fail("pthread_mutex_lock", libc::EINVAL);
/// ```
#[cold]
#[inline(never)]
#[track_caller]
pub fn fail(what: &str, code: i32) -> ! {
    panic!("{what} failed: {}", std::io::Error::from_raw_os_error(code))
}

/// Panics with `what` and the calling thread's `errno`; call it right
/// after the call that failed.
///
/// # Examples
///
/// ```should_panic
/// // SAFETY: closing a descriptor that is not open touches no memory.
/// if unsafe { libc::close(-1) } != 0 {
///     shmsync_testkit::fail_errno("close");
/// }
/// ```
#[cold]
#[inline(never)]
#[track_caller]
pub fn fail_errno(what: &str) -> ! {
    panic!("{what} failed: {}", std::io::Error::last_os_error())
}
