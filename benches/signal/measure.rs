//! Timing round trips: one batch between this process and a forked child,
//! wall time and both sides' CPU time, and the spin-bound probe built on
//! it.

use crate::mechanisms::{Events, PingPong, SlowAnswer, Turns};
use crate::report::{Batch, BoundRow};
use shmsync::{Deadline, Shared};
use shmsync_testkit::{process_cpu_time, Alarm, Padded, Pair, PATIENCE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where the child leaves the CPU time it spent on a batch.
pub type ChildCpu = Shared<Padded<AtomicU64>>;

/// A fresh place for the child's CPU time.
pub fn child_cpu() -> ChildCpu {
    Shared::new(Padded(AtomicU64::new(0))).expect("mmap")
}

/// Runs one batch of `iters` round trips of `mech` between this process
/// and a child forked by `pair`, timed end to end in the parent, and the
/// CPU time each side spent on it.
pub fn run_batch<P: PingPong>(
    pair: &mut Pair,
    mech: &P,
    iters: u64,
    child_cpu: &ChildCpu,
) -> Batch {
    let child_cpu = &child_cpu.0;
    mech.reset();
    child_cpu.store(0, Ordering::Relaxed);
    let mut cpu_parent = Duration::ZERO;
    let wall = pair.run(
        || {
            let _alarm = Alarm::arm(PATIENCE);
            let deadline = Deadline::after(PATIENCE);
            let t0 = process_cpu_time();
            for round in 0..iters {
                mech.parent_round(round, deadline);
            }
            cpu_parent = process_cpu_time() - t0;
        },
        || {
            let _alarm = Alarm::arm(PATIENCE);
            let deadline = Deadline::after(PATIENCE);
            let t0 = process_cpu_time();
            for round in 0..iters {
                mech.child_round(round, deadline);
            }
            let spent = process_cpu_time() - t0;
            // Relaxed: `Pair::run` publishes it with its Release store of
            // `done`.
            child_cpu.store(spent.as_nanos() as u64, Ordering::Relaxed);
        },
    );
    mech.check(iters);
    Batch {
        iters,
        wall,
        cpu_parent,
        cpu_child: Duration::from_nanos(child_cpu.load(Ordering::Relaxed)),
    }
}

/// Sets the process-wide spin bound and puts the previous one back on drop
/// (also if a bench panics). Forked children inherit the setting.
pub struct SpinSetting(Duration);

impl SpinSetting {
    /// Sets the spin bound to `spin` until the result drops.
    pub fn set(spin: Duration) -> SpinSetting {
        let previous = shmsync::spin_duration();
        shmsync::set_spin_duration(spin);
        SpinSetting(previous)
    }
}

impl Drop for SpinSetting {
    fn drop(&mut self) {
        shmsync::set_spin_duration(self.0);
    }
}

/// How long the child sleeps before each answer in the spin-bound probe:
/// longer than every spin tried there.
pub const SLOW_ANSWER: Duration = Duration::from_micros(300);
/// Round trips per row of the probe.
pub const SLOW_ROUNDS: u64 = 200;
/// The spin bounds the probe tries: off, short, the default, long.
const PROBE_SPINS: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_micros(5),
    Duration::from_micros(20),
    Duration::from_micros(100),
];

/// Not a criterion function: round trips in which the child answers only
/// after sleeping [`SLOW_ANSWER`], under each of [`PROBE_SPINS`]. Every
/// wait of the parent outlasts the spin, so its CPU time per round trip is
/// the spin bound plus the cost of sleeping and being woken: this is what
/// shows that the spin stays bounded and follows the setting.
pub fn spin_bound_probe() -> Vec<BoundRow> {
    let child_cpu = child_cpu();
    let mut pair = Pair::new();
    let events = SlowAnswer {
        inner: Events::new(),
        delay: SLOW_ANSWER,
    };
    let turns = SlowAnswer {
        inner: Turns::new(),
        delay: SLOW_ANSWER,
    };
    let mut rows = Vec::new();
    for spin in PROBE_SPINS {
        let _spin = SpinSetting::set(spin);
        let batches = [
            (
                "shmsync_event",
                run_batch(&mut pair, &events, SLOW_ROUNDS, &child_cpu),
            ),
            (
                "shmsync_condition",
                run_batch(&mut pair, &turns, SLOW_ROUNDS, &child_cpu),
            ),
        ];
        for (function, batch) in batches {
            let per = |d: Duration| d.as_nanos() as f64 / batch.iters as f64;
            rows.push(BoundRow {
                function,
                spin,
                wall_ns: per(batch.wall),
                waiter_cpu_ns: per(batch.cpu_parent),
                answerer_cpu_ns: per(batch.cpu_child),
            });
        }
    }
    pair.take_preemptions().warn("spin bound probe");
    rows
}
