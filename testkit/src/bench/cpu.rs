//! CPUs and CPU time: pinning a thread to one CPU, and reading the CPU time
//! a process has used.

use super::fail_errno;
use std::time::Duration;

/// The CPU time the calling process has used so far, all its threads
/// together (`CLOCK_PROCESS_CPUTIME_ID`). A forked child starts from zero.
///
/// # Panics
///
/// If the clock cannot be read.
///
/// # Examples
///
/// ```
/// let t0 = shmsync_testkit::process_cpu_time();
/// let busy: u64 = (0..1_000_000u64).map(std::hint::black_box).sum();
/// assert!(busy > 0 && shmsync_testkit::process_cpu_time() >= t0);
/// ```
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec; the clock id is one Linux always
    // supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        fail_errno("clock_gettime(CLOCK_PROCESS_CPUTIME_ID)");
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The first two CPUs this process may run on, if it may run on two.
pub(crate) fn two_cpus() -> Option<(usize, usize)> {
    let set = current_affinity()?;
    let mut allowed = (0..libc::CPU_SETSIZE as usize).filter(|&cpu| {
        // SAFETY: `cpu` is below CPU_SETSIZE, the number of CPUs a
        // cpu_set_t holds.
        unsafe { libc::CPU_ISSET(cpu, &set) }
    });
    Some((allowed.next()?, allowed.next()?))
}

/// The calling thread's CPU affinity mask.
fn current_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is a bit array, valid when zeroed.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    (rc == 0).then_some(set)
}

/// Sets the calling thread's affinity mask; false if the kernel refuses.
fn set_affinity(set: &libc::cpu_set_t) -> bool {
    // SAFETY: `set` is a valid cpu_set_t of the size passed; the call only
    // reads it.
    unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) == 0 }
}

/// The calling thread pinned to one CPU; the previous mask comes back on
/// drop. If the kernel refuses the pin, nothing changes.
pub(crate) struct PinGuard(Option<libc::cpu_set_t>);

impl PinGuard {
    /// Pins the calling thread to `cpu`, which must be below
    /// `CPU_SETSIZE` (as [`two_cpus`]'s are).
    pub(crate) fn pin(cpu: usize) -> PinGuard {
        assert!(cpu < libc::CPU_SETSIZE as usize, "no such CPU: {cpu}");
        let old = current_affinity();
        // SAFETY: cpu_set_t is a bit array, valid when zeroed.
        let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below CPU_SETSIZE (asserted above).
        unsafe { libc::CPU_SET(cpu, &mut one) };
        let pinned = set_affinity(&one);
        PinGuard(if pinned { old } else { None })
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        if let Some(old) = &self.0 {
            set_affinity(old);
        }
    }
}
