//! `Value` and `AtomicValue` against what they are built to replace, in the
//! same run.
//!
//! `increment_2proc`: the bench process and one forked child add one to a
//! shared counter, half the increments each; the time runs from a common
//! start until both are done, and the count is checked afterwards.
//! Reported as increments per second.
//!
//! - `shmsync_value`: `*value.get_lock()? += 1` on a `Value<u64>` (the lock
//!   on cache lines of its own, the claim and the counter on the next);
//! - `pthread_pshared`: a counter beside a process-shared pthread mutex, the
//!   goal's yardstick for the locked value;
//! - `shmsync_atomic`: `AtomicValue::<u64>::fetch_add`;
//! - `bare_atomic`: `AtomicU64::fetch_add` in a `Shared` mapping of the same
//!   kind (`MAP_SHARED`, its own page): the floor.
//!
//! The two-process runner ([`Pair`], CPU pinning, preemption counting) and
//! the pthread peer are in the `shmsync-testkit` crate. Run with
//! `cargo bench --bench value`.

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use shmsync::{AtomicValue, Shared, Value};
use shmsync_testkit::{Guarded, MutexKind, Padded, Pair, PthreadMutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Benches `name`: `iters` calls of `bump`, split between this process and
/// a forked child, after `reset`; `count` must then read `iters`.
fn contend(
    group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    reset: impl Fn(),
    bump: impl Fn() + Copy,
    count: impl Fn() -> u64,
) {
    let mut pair = Pair::new();
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            reset();
            let in_child = iters / 2;
            let in_parent = iters - in_child;
            let elapsed = pair.run(
                || (0..in_parent).for_each(|_| bump()),
                || (0..in_child).for_each(|_| bump()),
            );
            assert_eq!(count(), iters, "{name}: increments were lost");
            elapsed
        })
    });
    pair.take_preemptions().warn(name);
}

fn increment_2proc(c: &mut Criterion) {
    let mut group = c.benchmark_group("increment_2proc");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .throughput(Throughput::Elements(1));

    // What a handoff costs on this machine right now; see
    // `Pair::cache_line_round_trip` for why it is worth printing.
    let round_trip = Pair::new().cache_line_round_trip();
    eprintln!("note: cache-line round trip between the two processes: {round_trip:?}");

    let value = Value::new(0u64).expect("mmap");
    contend(
        &mut group,
        "shmsync_value",
        || value.set(0).expect("no holder died"),
        || *value.get_lock().expect("no holder died") += 1,
        || value.get().expect("no holder died"),
    );

    let pshared = Shared::new(Padded(Guarded::new(PthreadMutex::zeroed()))).expect("mmap");
    // SAFETY: the mapping was just made; nobody uses the mutex yet, and it
    // never moves.
    unsafe { pshared.0.lock.init(MutexKind::Pshared) };
    let guarded = &pshared.0;
    contend(
        &mut group,
        "pthread_pshared",
        || guarded.reset(),
        || guarded.bump(),
        || guarded.get(),
    );

    let atomic = AtomicValue::new(0u64).expect("mmap");
    contend(
        &mut group,
        "shmsync_atomic",
        || atomic.store(0, Ordering::Relaxed),
        || {
            atomic.fetch_add(1, Ordering::Relaxed);
        },
        || atomic.load(Ordering::Relaxed),
    );

    let bare = Shared::new(AtomicU64::new(0)).expect("mmap");
    contend(
        &mut group,
        "bare_atomic",
        || bare.store(0, Ordering::Relaxed),
        || {
            bare.fetch_add(1, Ordering::Relaxed);
        },
        || bare.load(Ordering::Relaxed),
    );

    group.finish();
}

criterion_group!(benches, increment_2proc);
criterion_main!(benches);
