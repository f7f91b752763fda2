//! Two unrelated programs share a queue through a named segment.
//!
//! ```text
//! cargo run --example queue_peer                  # producer: creates the segment, starts a consumer, puts
//! cargo run --example queue_peer -- /NAME         # consumer: opens /NAME, gets until shut down
//! ```
//!
//! The first form creates `/shmsync-queue-example-<pid>`, finds (creating)
//! a `Queue<Job>` and a `ByteQueue` in it by name, and starts a copy of
//! this program on it (an unrelated process: `exec`, not `fork`). The
//! producer puts 100 000 jobs and a few text messages, then shuts both
//! queues down; the consumer gets until `ShutDown`, checks what it got and
//! answers with its total on the byte queue's twin, "replies". Every wait
//! has a timeout, so the example ends on its own even if one side dies.

use bytemuck::{Pod, Zeroable};
use shmsync::{ByteQueue, GetError, Queue, Segment};
use std::process::Command;
use std::time::{Duration, Instant};

const JOBS: u64 = 100_000;
const CAPACITY: usize = 256;
const TEXT_BYTES: usize = 16 * 1024;
const PATIENCE: Duration = Duration::from_secs(30);

/// A job: plain data, copied byte for byte through the queue.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Job {
    id: u64,
    weight: u32,
    kind: u32,
}

/// The three queues, found by name (made by whichever process comes first).
fn queues(seg: &Segment) -> Result<(Queue<Job>, ByteQueue, ByteQueue), shmsync::Error> {
    Ok((
        Queue::get_or_init_in(seg, "jobs", CAPACITY)?,
        ByteQueue::get_or_init_in(seg, "notes", TEXT_BYTES, None)?,
        ByteQueue::get_or_init_in(seg, "replies", TEXT_BYTES, None)?,
    ))
}

fn consumer(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let seg = Segment::open(name)?;
    let (jobs, notes, replies) = queues(&seg)?;
    let (mut count, mut weight) = (0u64, 0u64);
    loop {
        match jobs.get_timeout(PATIENCE) {
            Ok(job) => {
                assert_eq!(job.id, count, "jobs arrive in order");
                count += 1;
                weight += u64::from(job.weight);
            }
            Err(GetError::ShutDown) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let mut lines = Vec::new();
    loop {
        match notes.get_timeout(PATIENCE) {
            Ok(note) => lines.push(String::from_utf8(note)?),
            Err(GetError::ShutDown) => break,
            Err(e) => return Err(e.into()),
        }
    }
    let reply = format!(
        "{count} jobs of total weight {weight}; notes: {}",
        lines.join(" / ")
    );
    replies.put_timeout(reply.as_bytes(), PATIENCE)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, name] = &args[..] {
        return consumer(name);
    }

    let name = format!("/shmsync-queue-example-{}", std::process::id());
    let seg = Segment::create(&name, 256 * 1024)?;
    let result = produce(&seg, &name);
    seg.remove()?;
    result
}

fn produce(seg: &Segment, name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (jobs, notes, replies) = queues(seg)?;
    let mut peer = Command::new(std::env::current_exe()?).arg(name).spawn()?;
    let start = Instant::now();
    let mut tx = jobs.producer()?;
    for id in 0..JOBS {
        let job = Job {
            id,
            weight: (id % 7) as u32,
            kind: 1,
        };
        tx.put_timeout(job, PATIENCE)?;
    }
    drop(tx);
    jobs.shutdown(false);
    for note in ["first note", "a second, longer note", "done"] {
        notes.put_timeout(note.as_bytes(), PATIENCE)?;
    }
    notes.shutdown(false);
    let reply = String::from_utf8(replies.get_timeout(PATIENCE)?)?;
    let status = peer.wait()?;
    if !status.success() {
        return Err(format!("consumer failed: {status}").into());
    }
    println!(
        "consumer says: {reply} (in {:?}, {})",
        start.elapsed(),
        shmsync::BACKEND
    );
    let weight: u64 = (0..JOBS).map(|id| id % 7).sum();
    assert!(reply.starts_with(&format!("{JOBS} jobs of total weight {weight};")));
    Ok(())
}
