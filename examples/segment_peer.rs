//! Two unrelated processes share a lock and a counter through a named
//! segment.
//!
//! ```text
//! cargo run --example segment_peer              # creates a segment, starts a peer, both count
//! cargo run --example segment_peer -- /NAME N   # a peer: opens /NAME and counts N times
//! ```
//!
//! The first form creates `/shmsync-example-<pid>`, starts a copy of this
//! program on it (an unrelated process: `exec`, not `fork`), and both add 1
//! to a plain `u64` 100 000 times, each time under the segment's `Lock`.
//! The total is exact, or the lock failed.

use shmsync::{Lock, Mutex, Segment};
use std::process::Command;
use std::time::Instant;

const INCREMENTS: u64 = 100_000;

/// Finds the lock and the counter by name (creating them if this process
/// comes first) and counts.
fn count(seg: &Segment, n: u64) -> Result<u64, shmsync::Error> {
    // A Python-style Lock next to the data it guards...
    let lock = Lock::open_in(seg, "lock")?;
    // ... and a lock_api Mutex that holds its data, for comparison.
    let total = seg.get_or_init("total", || Mutex::new(0u64))?;
    let mut last = 0;
    for _ in 0..n {
        let _held = lock.lock().map_err(|_| shmsync::Error::OwnerDied)?;
        let mut total = total.lock();
        *total += 1;
        last = *total;
    }
    Ok(last)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, name, n] = &args[..] {
        let seg = Segment::open(name)?;
        count(&seg, n.parse()?)?;
        return Ok(());
    }

    let name = format!("/shmsync-example-{}", std::process::id());
    let seg = Segment::create(&name, 64 * 1024)?;
    let start = Instant::now();
    let mut peer = Command::new(std::env::current_exe()?)
        .args([name.as_str(), &INCREMENTS.to_string()])
        .spawn()?;
    let result = count(&seg, INCREMENTS);
    let status = peer.wait()?;
    seg.remove()?;
    result?;
    if !status.success() {
        return Err(format!("peer failed: {status}").into());
    }
    let total = *seg.get::<Mutex<u64>>("total")?.lock();
    println!(
        "two processes counted to {total} under a shared lock in {:?} ({})",
        start.elapsed(),
        shmsync::BACKEND
    );
    assert_eq!(total, 2 * INCREMENTS);
    Ok(())
}
