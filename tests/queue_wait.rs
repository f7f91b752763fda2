//! `wait_queues`: which queues are ready, waking on a put or a shutdown in
//! another process, timing out asleep rather than spinning, and more queues
//! than one kernel sleep covers. Every wait is bounded.

use shmsync::{
    wait_queues, ByteQueue, GetError, JoinableQueue, Process, Queue, SimpleQueue, Waitable,
};
use shmsync_testkit::{join_ok, Watchdog, PATIENCE};
use std::time::{Duration, Instant};

mod raw_bytes;
use raw_bytes::wall_and_cpu;

/// How long a child waits before it acts: long enough that the parent is
/// asleep by then (not required for correctness).
const LATER: Duration = Duration::from_millis(50);

/// Waits on `count` queues while another process puts a value into the
/// last one, [`LATER`]; the wait must end with that queue alone ready.
fn a_put_into_the_last_of(count: usize) {
    let queues: Vec<Queue<u64>> = (0..count).map(|_| Queue::new(2).unwrap()).collect();
    let last = count - 1;
    let child = Process::spawn(|| {
        std::thread::sleep(LATER);
        queues[last].put(42).unwrap();
    })
    .unwrap();
    let all: Vec<&dyn Waitable> = queues.iter().map(|q| q as &dyn Waitable).collect();
    let t0 = Instant::now();
    assert_eq!(wait_queues(&all, Some(PATIENCE)), [last]);
    eprintln!("woke {:?} after the wait began", t0.elapsed());
    assert_eq!(queues[last].try_get(), Ok(42));
    join_ok(&child);
}

#[test]
fn the_positions_of_ready_queues_of_every_kind_come_back_in_order() {
    let numbers = Queue::<u32>::new(4).unwrap();
    let bytes = ByteQueue::new(256).unwrap();
    let simple = SimpleQueue::<u8>::new(4).unwrap();
    let joinable = JoinableQueue::<u64>::new(4).unwrap();
    let all: [&dyn Waitable; 4] = [&numbers, &bytes, &simple, &joinable];
    assert!(wait_queues(&all, Some(Duration::ZERO)).is_empty());

    joinable.put(7).unwrap();
    bytes.put(b"x").unwrap();
    assert_eq!(wait_queues(&all, Some(Duration::ZERO)), [1, 3]);
    assert_eq!(wait_queues(&all, None), [1, 3], "ready: no wait at all");
    assert!(numbers.empty() && !bytes.empty(), "nothing was taken");

    assert_eq!(bytes.get().unwrap(), b"x");
    simple.put(1).unwrap();
    assert_eq!(wait_queues(&all, Some(Duration::ZERO)), [2, 3]);
}

#[test]
fn a_wait_ends_when_another_process_puts_into_any_of_the_queues() {
    let _w = Watchdog::new("wait_put", PATIENCE);
    a_put_into_the_last_of(3);
}

#[test]
fn a_shutdown_in_another_process_ends_the_wait_and_leaves_the_queue_ready() {
    let _w = Watchdog::new("wait_shutdown", PATIENCE);
    let quiet = Queue::<u64>::new(4).unwrap();
    let stopping = ByteQueue::new(256).unwrap();
    let child = Process::spawn(|| {
        std::thread::sleep(LATER);
        stopping.shutdown(false);
    })
    .unwrap();
    assert_eq!(wait_queues(&[&quiet, &stopping], Some(PATIENCE)), [1]);
    assert_eq!(
        stopping.try_get(),
        Err(GetError::ShutDown),
        "nothing to wait for"
    );
    assert_eq!(wait_queues(&[&quiet, &stopping], None), [1], "still ready");
    join_ok(&child);
}

#[test]
fn a_wait_that_nothing_ends_times_out_asleep_not_spinning() {
    let _w = Watchdog::new("wait_timeout", PATIENCE);
    let a = Queue::<u64>::new(4).unwrap();
    let b = ByteQueue::new(256).unwrap();
    let timeout = Duration::from_millis(300);
    let (ready, elapsed, cpu) = wall_and_cpu(|| wait_queues(&[&a, &b], Some(timeout)));
    assert!(ready.is_empty());
    assert!(elapsed >= timeout, "returned after {elapsed:?}");
    // A busy loop would burn about the whole timeout.
    assert!(
        cpu < timeout / 2,
        "used {cpu:?} of CPU in a {elapsed:?} wait"
    );
}

#[test]
fn with_no_queues_the_wait_is_its_timeout() {
    assert!(wait_queues(&[], Some(Duration::ZERO)).is_empty());
    let t0 = Instant::now();
    assert!(wait_queues(&[], Some(LATER)).is_empty());
    assert!(t0.elapsed() >= LATER);
}

#[test]
fn more_queues_than_one_kernel_sleep_covers_are_all_watched() {
    let _w = Watchdog::new("wait_many", PATIENCE);
    // One sleep covers up to 128 rings; the rest are looked at between
    // slices of the sleep.
    a_put_into_the_last_of(130);
}
