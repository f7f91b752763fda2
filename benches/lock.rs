//! `RawLock` against the locks it replaces, in the same run.
//!
//! - `lock_uncontended`: one thread acquires and releases, nobody else
//!   looks. The peers: `std::sync::Mutex` (the floor for a thread-only
//!   lock), a process-shared pthread mutex, a robust one (the owner-death
//!   contract `RawLock` also keeps), and a process-shared POSIX semaphore
//!   (what Python's `multiprocessing.Lock` is).
//! - `lock_contended`: the bench process and one forked child increment one
//!   shared, non-atomic counter under the lock, half the increments each;
//!   the time runs from a common start until both are done, and the counter
//!   is checked afterwards. Reported as increments per second.
//!
//! Every shared lock lives in a `MAP_SHARED` mapping ([`shmsync::Shared`]),
//! initialised in place. The peers and the two-process runner ([`Pair`])
//! are in the `shmsync-testkit` crate. Run with `cargo bench --bench lock`.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use shmsync::raw::RawLock;
use shmsync::Shared;
use shmsync_testkit::{BenchLock, Guarded, MutexKind, Padded, Pair, PosixSem, PthreadMutex};
use std::hint::black_box;
use std::time::Duration;

fn uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock_uncontended");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);

    let raw = Shared::new(RawLock::new()).expect("mmap");
    group.bench_function("shmsync", |b| {
        b.iter(|| {
            black_box(&*raw).cycle();
        })
    });

    let std_mutex = std::sync::Mutex::new(());
    group.bench_function("std_mutex", |b| {
        b.iter(|| drop(black_box(&std_mutex).lock().expect("not poisoned")))
    });

    let pshared = PthreadMutex::new_shared(MutexKind::Pshared);
    group.bench_function("pthread_pshared", |b| {
        b.iter(|| {
            pshared.cycle();
        })
    });

    let robust = PthreadMutex::new_shared(MutexKind::Robust);
    group.bench_function("pthread_robust", |b| {
        b.iter(|| {
            robust.cycle();
        })
    });

    let sem = PosixSem::new_shared();
    group.bench_function("posix_sem", |b| {
        b.iter(|| {
            sem.cycle();
        })
    });

    group.finish();
}

/// Benches `name`: `iters` increments of the counter in `shared`, split
/// between this process and a forked child.
fn contend<L: BenchLock>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    shared: &Shared<Padded<Guarded<L>>>,
) {
    let guarded = &shared.0;
    let mut pair = Pair::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            guarded.reset();
            let in_child = iters / 2;
            let in_parent = iters - in_child;
            let elapsed = pair.run(
                || (0..in_parent).for_each(|_| guarded.bump()),
                || (0..in_child).for_each(|_| guarded.bump()),
            );
            assert_eq!(
                guarded.get(),
                iters,
                "{name}: increments were lost, the lock does not exclude"
            );
            elapsed
        })
    });
    pair.take_preemptions().warn(name);
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock_contended");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(1));

    // What a handoff costs on this machine right now; see
    // `Pair::cache_line_round_trip` for why it is worth printing.
    let round_trip = Pair::new().cache_line_round_trip();
    eprintln!("note: cache-line round trip between the two processes: {round_trip:?}");

    let raw = Shared::new(Padded(Guarded::new(RawLock::new()))).expect("mmap");
    contend(&mut group, "shmsync", &raw);

    let pshared = Shared::new(Padded(Guarded::new(PthreadMutex::zeroed()))).expect("mmap");
    // SAFETY: the mapping was just made; nobody uses the mutex yet, and it
    // never moves.
    unsafe { pshared.0.lock.init(MutexKind::Pshared) };
    contend(&mut group, "pthread_pshared", &pshared);

    let sem = Shared::new(Padded(Guarded::new(PosixSem::zeroed()))).expect("mmap");
    // SAFETY: as above.
    unsafe { sem.0.lock.init(1) };
    contend(&mut group, "posix_sem", &sem);

    group.finish();
}

criterion_group!(benches, uncontended, contended);
criterion_main!(benches);
