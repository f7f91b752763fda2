//! Python's `multiprocessing.Queue` on the same workloads, when `python3`
//! is there: runs `benches/python_reference.py`, times one shmsync batch
//! of each workload the same way (the clock started before the producer,
//! stopped after the last get; for `roundtrip_u64`, round trips per
//! second through two queues with plain `put` / `get`), and prints the
//! factors.

use shmsync::{ByteQueue, Queue};
use shmsync_testkit::{Pair, PATIENCE};
use std::process::Command;
use std::time::Duration;

const MESSAGES: u64 = 200_000;

/// Messages per second of `python_reference.py`, by workload name.
fn python() -> Option<Vec<(String, f64)>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/python_reference.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(MESSAGES.to_string())
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "python reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let (name, rate) = line.split_once(' ')?;
                Some((name.to_string(), rate.parse().ok()?))
            })
            .collect(),
    )
}

/// Messages per second of `n` messages through `run` (producer in the
/// child).
fn rate(n: u64, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

/// Prints Python's figures and shmsync's factor to them.
pub fn compare() {
    let Some(figures) = python() else {
        eprintln!("python reference: python3 not found or failed; skipped");
        return;
    };
    let mut pair = Pair::new();
    let q = Queue::<u64>::new(1024).expect("queue");
    let spsc = rate(
        MESSAGES,
        pair.run(
            || {
                for _ in 0..MESSAGES {
                    q.get_timeout(PATIENCE).expect("get");
                }
            },
            || {
                for i in 0..MESSAGES {
                    q.put(i).expect("put");
                }
            },
        ),
    );
    let n4k = MESSAGES / 4;
    let bq = ByteQueue::new(256 * 1024).expect("queue");
    let msg = [1u8; 4096];
    let bytes = rate(
        n4k,
        pair.run(
            || {
                for _ in 0..n4k {
                    bq.get_timeout(PATIENCE).expect("get");
                }
            },
            || {
                for _ in 0..n4k {
                    bq.put(&msg).expect("put");
                }
            },
        ),
    );
    let trips = MESSAGES / 20;
    let (ask, back) = (
        Queue::<u64>::new(1024).expect("queue"),
        Queue::<u64>::new(1024).expect("queue"),
    );
    let roundtrip = rate(
        trips,
        crate::put_get_round_trips(&mut pair, &ask, &back, trips),
    );
    for (name, python) in figures {
        let ours = match name.as_str() {
            "spsc_u64" => spsc,
            "bytes_4k" => bytes,
            "roundtrip_u64" => roundtrip,
            _ => continue,
        };
        eprintln!(
            "python reference {name}: multiprocessing.Queue {:.3} M msg/s, shmsync put/get {:.3} M msg/s: {:.0}x",
            python / 1e6,
            ours / 1e6,
            ours / python
        );
    }
}
