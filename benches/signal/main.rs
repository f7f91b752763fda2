//! Signalling another process: shmsync's `RawEvent` and `RawCondition`
//! against the kernel's pipes and eventfds and a bare spin, in the same run.
//!
//! - `pingpong`: round trips between the bench process and one forked child
//!   (a fresh child per timed batch, pinned to the other CPU by
//!   [`Pair`]). The parent signals "ping" and waits for "pong"; the child
//!   waits for "ping" and answers "pong". Functions:
//!   - `shmsync_event`: two `RawEvent`s; each side waits for its event,
//!     clears it and sets the other's.
//!   - `shmsync_condition`: one `RawCondition` with its `RawLock` and a
//!     turn counter under the lock; each side waits until it is its turn,
//!     moves the turn on and notifies.
//!   - `pipe`: two OS pipes, a 1-byte write and a blocking read each way.
//!   - `eventfd`: two eventfds, a blocking write and read of a `u64` each
//!     way.
//!   - `spin`: both sides spin on one shared cache line (an `AtomicU32`
//!     turn): the hardware floor.
//!
//!   Besides criterion's wall times, each batch records the CPU time both
//!   processes spent in it (`CLOCK_PROCESS_CPUTIME_ID` read around the
//!   batch on each side; the child leaves its figure in shared memory). At
//!   the end of the group a table gives, per round trip, the median wall
//!   time and CPU time (parent + child) of the measured batches, with the
//!   ratios the issue sets as goals; it is also written as JSON to
//!   `target/criterion/pingpong_cpu.json` (the latest run's figures, of
//!   the functions a command-line filter let run).
//! - `pingpong_spin_off`: `shmsync_event` and `shmsync_condition` again
//!   with `shmsync::set_spin_duration(Duration::ZERO)`: waiters sleep at
//!   once. Shows what the bounded spin buys and that it is a setting; the
//!   previous spin (20 µs by default) is restored afterwards. After this
//!   group, a probe that is not a criterion function (`spin bound`) runs
//!   both again with a child that sleeps 300 µs before every answer, under
//!   spins of 0, 5, 20 and 100 µs: the waiter's CPU time per round trip is
//!   then the spin plus the cost of sleeping, which shows that the spin is
//!   bounded and follows the setting (also in the JSON, as `spin_bound`).
//! - `semaphore_uncontended`: acquire + release of one semaphore by one
//!   thread: `RawSemaphore` against a process-shared POSIX semaphore.
//!
//! Every wait is bounded: shmsync waits take a deadline, spins look at the
//! clock, blocking reads are cut short by an [`Alarm`]; the child is killed
//! if the parent dies (`PR_SET_PDEATHSIG`) or gives up, and is always
//! reaped. Run with `cargo bench --bench signal`.
//!
//! One job per file: this one wires the groups into criterion;
//! `mechanisms/` holds the peers behind one trait, `measure.rs` times a
//! batch of round trips (and runs the spin-bound probe), `report/` turns
//! batches into figures, tables and the JSON file. The shared runner and
//! peers ([`Pair`], [`PosixSem`], [`Alarm`]) are in `shmsync-testkit`.
//!
//! [`Alarm`]: shmsync_testkit::Alarm

mod measure;
mod mechanisms;
mod report;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use measure::{
    child_cpu, run_batch, spin_bound_probe, ChildCpu, SpinSetting, SLOW_ANSWER, SLOW_ROUNDS,
};
use mechanisms::{EventFds, Events, PingPong, Pipes, Spin, Turns};
use report::{Batch, Figures, GroupFigures};
use shmsync::raw::{RawSemaphore, SEM_VALUE_MAX};
use shmsync::Shared;
use shmsync_testkit::{BenchLock, Pair, PosixSem};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Samples per function in the pingpong groups; the summary table uses the
/// batches of these samples (the warm-up's are left out).
const PINGPONG_SAMPLES: usize = 20;
/// Samples per function in `semaphore_uncontended`.
const SEMAPHORE_SAMPLES: usize = 50;

/// Benches `name`: batches of round trips of `mech` (see [`run_batch`]),
/// each recorded in `batches`.
fn pingpong<P: PingPong>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mech: &P,
    child_cpu: &ChildCpu,
    batches: &mut Vec<Batch>,
) {
    let mut pair = Pair::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let batch = run_batch(&mut pair, mech, iters, child_cpu);
            batches.push(batch);
            batch.wall
        })
    });
    pair.take_preemptions().warn(name);
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(PINGPONG_SAMPLES);
}

/// Runs the shmsync functions (and, if `peers`, the others) as group
/// `group_name`, then prints and stores its figures; returns false if the
/// command line filtered them all out.
fn pingpong_group(c: &mut Criterion, group_name: &'static str, peers: bool) -> bool {
    let child_cpu = child_cpu();
    let mut group = c.benchmark_group(group_name);
    configure(&mut group);

    let mut recorded: Vec<(&str, Vec<Batch>)> = Vec::new();
    let mut run = |group: &mut BenchmarkGroup<'_, WallTime>, name, mech: &dyn Run| {
        let mut batches = Vec::new();
        mech.run(group, name, &child_cpu, &mut batches);
        recorded.push((name, batches));
    };
    run(&mut group, "shmsync_event", &Events::new());
    run(&mut group, "shmsync_condition", &Turns::new());
    if peers {
        run(&mut group, "pipe", &Pipes::new());
        run(&mut group, "eventfd", &EventFds::new());
        run(&mut group, "spin", &Spin::new());
    }
    group.finish();

    let figures = GroupFigures {
        group: group_name,
        spin: shmsync::spin_duration(),
        functions: recorded
            .iter()
            .filter_map(|(name, batches)| Figures::of(name, batches, PINGPONG_SAMPLES))
            .collect(),
    };
    if figures.functions.is_empty() {
        return false;
    }
    let floor = report::record_group(figures.clone());
    report::print_table(&figures, floor.as_ref());
    true
}

/// Object-safe access to [`pingpong`] for the list of mechanisms.
trait Run {
    fn run(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        child_cpu: &ChildCpu,
        batches: &mut Vec<Batch>,
    );
}

impl<P: PingPong> Run for P {
    fn run(
        &self,
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        child_cpu: &ChildCpu,
        batches: &mut Vec<Batch>,
    ) {
        pingpong(group, name, self, child_cpu, batches);
    }
}

fn pingpong_default(c: &mut Criterion) {
    if pingpong_group(c, "pingpong", true) {
        report::write_json();
    }
}

fn pingpong_spin_off(c: &mut Criterion) {
    let default = shmsync::spin_duration();
    let ran = {
        let _spin = SpinSetting::set(Duration::ZERO);
        pingpong_group(c, "pingpong_spin_off", false)
    };
    if ran {
        let rows = spin_bound_probe();
        report::print_spin_bound(SLOW_ANSWER, SLOW_ROUNDS, &rows);
        report::record_spin_bound(SLOW_ANSWER, rows);
        report::write_json();
    }
    assert_eq!(
        shmsync::spin_duration(),
        default,
        "the spin setting was not restored"
    );
}

fn semaphore_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("semaphore_uncontended");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(SEMAPHORE_SAMPLES);

    // Timed by hand (as `b.iter` would) so that the ratio below comes from
    // the same batches criterion analyses.
    let mut bench = |name: &str, op: &dyn Fn()| {
        let mut per_op = Vec::new();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    op();
                }
                let elapsed = t0.elapsed();
                per_op.push(elapsed.as_nanos() as f64 / iters.max(1) as f64);
                elapsed
            })
        });
        let measured = per_op.len().saturating_sub(SEMAPHORE_SAMPLES);
        report::median(per_op.split_off(measured))
    };

    let sem = Shared::new(RawSemaphore::new(1, SEM_VALUE_MAX)).expect("mmap");
    let ours = bench("shmsync", &|| {
        black_box(&*sem).acquire();
        sem.release().expect("the count is below its bound");
    });

    let posix = PosixSem::new_shared();
    let theirs = bench("posix_sem", &|| {
        black_box(&*posix).cycle();
    });
    group.finish();

    report::print_semaphore_ratio(ours, theirs);
}

criterion_group!(
    benches,
    pingpong_default,
    pingpong_spin_off,
    semaphore_uncontended
);
criterion_main!(benches);
