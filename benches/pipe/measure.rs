//! One timed batch between this process and a forked child: wall time
//! (from `Pair::run`) and the CPU time each side spent.

use crate::peers::Channel;
use shmsync::Shared;
use shmsync_testkit::{process_cpu_time, Alarm, Padded, Pair, PATIENCE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What one batch took.
#[derive(Clone, Copy, Debug)]
pub struct Batch {
    pub iters: u64,
    pub wall: Duration,
    pub cpu_parent: Duration,
    pub cpu_child: Duration,
}

/// The two kinds of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// `iters` round trips of `len`-byte messages.
    RoundTrip { len: usize },
    /// `iters` messages of `len` bytes from parent to child.
    Stream { len: usize },
}

/// Where the child leaves its CPU time.
pub type ChildCpu = Shared<Padded<AtomicU64>>;

pub fn child_cpu() -> ChildCpu {
    Shared::new(Padded(AtomicU64::new(0))).expect("mmap")
}

/// Runs one batch of `work` over `chan` (side a here, side b in a child
/// forked by `pair`).
pub fn run_batch(
    pair: &mut Pair,
    chan: &dyn Channel,
    work: Work,
    iters: u64,
    cpu: &ChildCpu,
) -> Batch {
    let cpu = &cpu.0;
    cpu.store(0, Ordering::Relaxed);
    let len = match work {
        Work::RoundTrip { len } | Work::Stream { len } => len,
    };
    let msg = vec![0x5a_u8; len];
    let mut cpu_parent = Duration::ZERO;
    let wall = pair.run(
        || {
            let _alarm = Alarm::arm(PATIENCE);
            let mut buf = vec![0u8; len];
            let t0 = process_cpu_time();
            for _ in 0..iters {
                chan.send(true, &msg);
                if work == (Work::RoundTrip { len }) {
                    chan.recv(true, &mut buf);
                }
            }
            cpu_parent = process_cpu_time() - t0;
        },
        || {
            let _alarm = Alarm::arm(PATIENCE);
            let mut buf = vec![0u8; len];
            let t0 = process_cpu_time();
            for _ in 0..iters {
                chan.recv(false, &mut buf);
                if work == (Work::RoundTrip { len }) {
                    chan.send(false, &msg);
                }
            }
            let spent = process_cpu_time() - t0;
            // Relaxed: `Pair::run` publishes it with its Release of `done`.
            cpu.store(spent.as_nanos() as u64, Ordering::Relaxed);
        },
    );
    Batch {
        iters,
        wall,
        cpu_parent,
        cpu_child: Duration::from_nanos(cpu.load(Ordering::Relaxed)),
    }
}

/// One core copying `len` bytes from one buffer to another `iters` times:
/// the ceiling of any copy through memory.
pub fn memcpy_batch(len: usize, iters: u64) -> Batch {
    let src = vec![0x5a_u8; len];
    let mut dst = vec![0u8; len];
    let t0 = std::time::Instant::now();
    let c0 = process_cpu_time();
    for _ in 0..iters {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst);
    }
    Batch {
        iters,
        wall: t0.elapsed(),
        cpu_parent: process_cpu_time() - c0,
        cpu_child: Duration::ZERO,
    }
}
