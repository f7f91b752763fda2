//! `Pipe` between two processes against the kernel's pipes and socket
//! pairs and the hardware's floors, in one run (`cargo bench --bench pipe`).
//!
//! - `roundtrip_small`: 8-byte messages there and back between the bench
//!   process and a forked child (a fresh child per timed batch, pinned to
//!   the other CPU by [`Pair`]): `shmsync` (`send_bytes` +
//!   `recv_bytes_into`), `os_pipe` (two pipes, blocking `write` + `read`),
//!   `socketpair` (one `AF_UNIX` stream pair), `spin` (a turn counter on
//!   one shared cache line, nothing moved: the floor). Goals: `shmsync` at
//!   most 3x `spin`, at most 1/20 of `os_pipe`.
//! - `throughput_64k`: 64 KiB messages from the bench process to the
//!   child: `shmsync` (default ring, 256 KiB), `shmsync_ring_64k` /
//!   `_256k` / `_1m`, `os_pipe`, `socketpair`, and `memcpy` (one core
//!   copying 64 KiB between two buffers: the ceiling). Goals for `shmsync`:
//!   at least 2x `socketpair`, at least 5x `os_pipe`.
//!
//! `python3 benches/python_reference.py pipe` times Python's
//! `multiprocessing.Pipe` on the same two workloads.
//!
//! Besides criterion's wall times, each batch records both processes' CPU
//! time; a table per group gives, per operation, the median wall and CPU
//! time of the measured batches and the ratios against the goals. Every
//! wait is bounded: blocking calls by an [`Alarm`](shmsync_testkit::Alarm),
//! the child by `Pair`.

mod measure;
mod peers;
mod report;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use measure::{child_cpu, memcpy_batch, run_batch, Batch, ChildCpu, Work};
use peers::{Channel, Fds, ShmPipe, Spin};
use report::{print_table, Figures, Goal};
use shmsync_testkit::Pair;
use std::time::Duration;

const SAMPLES: usize = 20;
const SMALL: usize = 8;
const BIG: usize = 64 * 1024;

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(SAMPLES);
}

/// Benches `name` over `chan`, recording each batch.
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    chan: &dyn Channel,
    work: Work,
    cpu: &ChildCpu,
    reset: &dyn Fn(),
) -> Vec<Batch> {
    let mut pair = Pair::new();
    let mut batches = Vec::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            reset();
            let batch = run_batch(&mut pair, chan, work, iters, cpu);
            batches.push(batch);
            batch.wall
        })
    });
    pair.take_preemptions().warn(name);
    batches
}

fn roundtrip_small(c: &mut Criterion) {
    let cpu = child_cpu();
    let mut group = c.benchmark_group("roundtrip_small");
    configure(&mut group);
    let work = Work::RoundTrip { len: SMALL };
    let none = || {};
    let mut figures = Vec::new();
    let mut record = |name: &str, batches: Vec<Batch>| {
        figures.extend(Figures::of(name, &batches, SAMPLES, SMALL));
    };
    let pipe = ShmPipe::new(shmsync::Pipe::DEFAULT_CAPACITY);
    record(
        "shmsync",
        bench(&mut group, "shmsync", &pipe, work, &cpu, &none),
    );
    let fds = Fds::os_pipe();
    record(
        "os_pipe",
        bench(&mut group, "os_pipe", &fds, work, &cpu, &none),
    );
    let fds = Fds::socketpair();
    record(
        "socketpair",
        bench(&mut group, "socketpair", &fds, work, &cpu, &none),
    );
    let spin = Spin::new();
    record(
        "spin",
        bench(&mut group, "spin", &spin, work, &cpu, &|| spin.reset()),
    );
    group.finish();
    print_table(
        "roundtrip_small",
        &figures,
        &[
            Goal {
                ours: "shmsync",
                theirs: "spin",
                factor: 3.0,
                lower_is_better: true,
            },
            Goal {
                ours: "shmsync",
                theirs: "os_pipe",
                factor: 0.05,
                lower_is_better: true,
            },
        ],
    );
}

fn throughput_64k(c: &mut Criterion) {
    let cpu = child_cpu();
    let mut group = c.benchmark_group("throughput_64k");
    configure(&mut group);
    group.throughput(Throughput::Bytes(BIG as u64));
    let work = Work::Stream { len: BIG };
    let none = || {};
    let mut figures = Vec::new();
    let mut record = |name: &str, batches: Vec<Batch>| {
        figures.extend(Figures::of(name, &batches, SAMPLES, BIG));
    };
    for (name, capacity) in [
        ("shmsync", shmsync::Pipe::DEFAULT_CAPACITY),
        ("shmsync_ring_64k", 64 * 1024),
        ("shmsync_ring_256k", 256 * 1024),
        ("shmsync_ring_1m", 1024 * 1024),
    ] {
        let pipe = ShmPipe::new(capacity);
        record(name, bench(&mut group, name, &pipe, work, &cpu, &none));
    }
    let fds = Fds::os_pipe();
    record(
        "os_pipe",
        bench(&mut group, "os_pipe", &fds, work, &cpu, &none),
    );
    let fds = Fds::socketpair();
    record(
        "socketpair",
        bench(&mut group, "socketpair", &fds, work, &cpu, &none),
    );
    let mut memcpy = Vec::new();
    group.bench_function("memcpy", |b| {
        b.iter_custom(|iters| {
            let batch = memcpy_batch(BIG, iters);
            memcpy.push(batch);
            batch.wall
        })
    });
    record("memcpy", memcpy);
    group.finish();
    print_table(
        "throughput_64k",
        &figures,
        &[
            Goal {
                ours: "shmsync",
                theirs: "socketpair",
                factor: 2.0,
                lower_is_better: false,
            },
            Goal {
                ours: "shmsync",
                theirs: "os_pipe",
                factor: 5.0,
                lower_is_better: false,
            },
            Goal {
                ours: "shmsync",
                theirs: "memcpy",
                factor: 0.0,
                lower_is_better: false,
            },
        ],
    );
}

criterion_group!(benches, roundtrip_small, throughput_64k);
criterion_main!(benches);
