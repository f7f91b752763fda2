//! `Queue`, `SimpleQueue` and the exclusive handles across processes:
//! order, Full / Empty, timeouts, batches, shutdown (draining, immediate,
//! waking every blocked caller), handles refused, waited for and taken over
//! from a dead holder, and queues shared by name through a segment. Every
//! wait is bounded.

use shmsync::{
    GetError, HandleError, Process, PutError, Queue, Segment, SegmentError, Shared, SimpleQueue,
};
use shmsync_testkit::{join_ok, join_within, wait_until, KillOnDrop, Watchdog, PATIENCE};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const SHORT: Duration = Duration::from_millis(30);

#[test]
fn values_cross_processes_in_order_through_a_small_ring() {
    let _w = Watchdog::new("order", PATIENCE);
    let q = Queue::<[u64; 2]>::new(3).unwrap();
    let child = Process::spawn(|| {
        for i in 0..10_000u64 {
            q.put([i, !i]).unwrap();
        }
    })
    .unwrap();
    for i in 0..10_000u64 {
        assert_eq!(q.get_timeout(PATIENCE).unwrap(), [i, !i]);
    }
    join_ok(&child);
    assert!(q.empty());
}

#[test]
fn try_put_on_a_full_queue_hands_the_value_back_and_try_get_on_an_empty_one_says_empty() {
    let q = Queue::<u32>::new(2).unwrap();
    assert_eq!(q.try_get(), Err(GetError::Empty));
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    assert!(q.full());
    assert_eq!(q.qsize(), 2);
    match q.try_put(3) {
        Err(PutError::Full(v)) => assert_eq!(v, 3),
        other => panic!("expected Full(3), got {other:?}"),
    }
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert!(q.empty());
}

#[test]
fn timed_put_and_get_give_up_after_their_timeout_and_hand_the_value_back() {
    let q = Queue::<u8>::new(1).unwrap();
    let t0 = Instant::now();
    assert_eq!(q.get_timeout(SHORT), Err(GetError::Timeout));
    assert!(t0.elapsed() >= SHORT);
    q.put(1).unwrap();
    let t0 = Instant::now();
    match q.put_timeout(2, SHORT) {
        Err(PutError::Timeout(v)) => assert_eq!(v, 2),
        other => panic!("expected Timeout(2), got {other:?}"),
    }
    assert!(t0.elapsed() >= SHORT);
}

#[test]
fn a_timed_get_returns_as_soon_as_another_process_puts() {
    let _w = Watchdog::new("timed_get_wakes", PATIENCE);
    let q = Queue::<u64>::new(4).unwrap();
    let child = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        q.put(42).unwrap();
    })
    .unwrap();
    assert_eq!(q.get_timeout(PATIENCE), Ok(42));
    join_ok(&child);
}

#[test]
fn put_many_and_get_many_move_batches_larger_than_the_ring() {
    let _w = Watchdog::new("batches", PATIENCE);
    let q = Queue::<u32>::new(16).unwrap();
    let child = Process::spawn(|| {
        let values: Vec<u32> = (0..1000).collect();
        q.put_many(&values, None).unwrap();
    })
    .unwrap();
    let mut got = Vec::new();
    let mut out = [0u32; 7];
    while got.len() < 1000 {
        let n = q.get_many(&mut out, Some(PATIENCE)).unwrap();
        assert!((1..=7).contains(&n));
        got.extend_from_slice(&out[..n]);
    }
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    join_ok(&child);
    // A batch that does not fit before the timeout says how much went in.
    match q.put_many(&[0; 20], Some(SHORT)) {
        Err(PutError::Timeout(done)) => assert_eq!(done, 16),
        other => panic!("expected Timeout(16), got {other:?}"),
    }
}

#[test]
fn shutdown_lets_gets_drain_then_fails_them_and_fails_puts_at_once() {
    let q = Queue::<u8>::new(4).unwrap();
    q.put(1).unwrap();
    q.put(2).unwrap();
    q.shutdown(false);
    assert!(q.is_shut_down());
    assert!(matches!(q.put(3), Err(PutError::ShutDown(3))));
    assert!(matches!(q.try_put(3), Err(PutError::ShutDown(3))));
    assert_eq!(q.get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.get(), Err(GetError::ShutDown));
    assert_eq!(q.try_get(), Err(GetError::ShutDown));
    assert_eq!(q.get_timeout(SHORT), Err(GetError::ShutDown));
}

#[test]
fn an_immediate_shutdown_discards_what_is_left() {
    let q = Queue::<u8>::new(4).unwrap();
    q.put(1).unwrap();
    q.put(2).unwrap();
    q.shutdown(true);
    assert_eq!(q.qsize(), 0);
    assert!(q.empty());
    assert_eq!(q.get(), Err(GetError::ShutDown));
    assert!(matches!(q.put(3), Err(PutError::ShutDown(3))));
}

#[test]
fn a_shutdown_wakes_every_blocked_producer_and_consumer_in_every_process() {
    let _w = Watchdog::new("shutdown_wakes_all", PATIENCE);
    let empty = Queue::<u64>::new(2).unwrap();
    let full = Queue::<u64>::new(2).unwrap();
    full.put_many(&[1, 2], None).unwrap();
    let blocked = Shared::new(AtomicU32::new(0)).unwrap();
    // Two consumers on the empty queue, two producers on the full one
    // (one of each waiting with a timeout); each exits 0 only if its
    // blocking call ended in ShutDown.
    let children: Vec<KillOnDrop> = (0..4)
        .map(|i| {
            KillOnDrop(
                Process::spawn(|| {
                    blocked.fetch_add(1, Ordering::SeqCst);
                    match i {
                        0 => assert_eq!(empty.get(), Err(GetError::ShutDown)),
                        1 => assert!(full.put(9).unwrap_err().is_shut_down()),
                        2 => assert_eq!(empty.get_timeout(PATIENCE), Err(GetError::ShutDown)),
                        _ => assert!(full.put_timeout(9, PATIENCE).unwrap_err().is_shut_down()),
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    wait_until(PATIENCE, "all four to start", || {
        blocked.load(Ordering::SeqCst) == 4
    });
    // Give them time to fall asleep (not required for correctness).
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    empty.shutdown(false);
    full.shutdown(false);
    for child in &children {
        join_ok(child);
    }
    eprintln!("four blocked callers woke within {:?}", t0.elapsed());
    // What was in the full queue is still delivered.
    assert_eq!(full.get(), Ok(1));
    assert_eq!(full.get(), Ok(2));
    assert_eq!(full.get(), Err(GetError::ShutDown));
}

#[test]
fn a_second_exclusive_handle_is_refused_while_the_first_lives_and_waited_for_with_a_timeout() {
    let _w = Watchdog::new("handles", PATIENCE);
    let q = Queue::<u32>::new(8).unwrap();
    let tx = q.producer().unwrap();
    let me = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    assert_eq!(
        q.producer().unwrap_err(),
        HandleError::Busy { holder: Some(me) }
    );
    assert!(matches!(
        q.producer_timeout(SHORT),
        Err(HandleError::Busy { .. })
    ));
    // Plain non-blocking puts see the side held: Full, value back.
    assert!(matches!(q.try_put(5), Err(PutError::Full(5))));
    // The consumer side is independent.
    let rx = q.consumer().unwrap();
    assert!(q.consumer().is_err());
    drop(rx);
    // Another thread waits for the handle and gets it once it is dropped.
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut tx2 = q.producer_timeout(PATIENCE).unwrap();
            tx2.put(2).unwrap();
        });
        std::thread::sleep(SHORT);
        drop(tx);
        waiter.join().unwrap();
    });
    assert_eq!(q.get(), Ok(2));
}

#[test]
fn a_handle_whose_process_died_holding_it_is_taken_over_within_a_second() {
    let _w = Watchdog::new("handle_holder_died", PATIENCE);
    let q = Queue::<u64>::new(8).unwrap();
    let child = Process::spawn(|| {
        let mut tx = q.producer().unwrap();
        let mut rx = q.consumer().unwrap();
        tx.put(1).unwrap();
        tx.put(2).unwrap();
        assert_eq!(rx.get(), Ok(1));
        // Dies holding both sides.
        std::mem::forget((tx, rx));
    })
    .unwrap();
    join_ok(&child);
    let t0 = Instant::now();
    let mut tx = q.producer_timeout(PATIENCE).unwrap();
    assert!(tx.took_over());
    tx.put(3).unwrap();
    drop(tx);
    let mut rx = q.consumer_timeout(PATIENCE).unwrap();
    assert!(rx.took_over());
    assert_eq!(rx.get(), Ok(2));
    assert_eq!(rx.get(), Ok(3));
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    drop(rx);
    // Plain puts and gets go on too.
    q.put(4).unwrap();
    assert_eq!(q.get(), Ok(4));
}

#[test]
fn non_blocking_calls_take_over_a_side_whose_holder_died() {
    let _w = Watchdog::new("try_after_death", PATIENCE);
    let q = Queue::<u64>::new(4).unwrap();
    let child = Process::spawn(|| {
        std::mem::forget((q.producer().unwrap(), q.consumer().unwrap()));
    })
    .unwrap();
    join_ok(&child);
    // Each call finds the side held by a dead thread and takes it over.
    q.try_put(7).unwrap();
    assert_eq!(q.try_get(), Ok(7));
}

#[test]
fn exclusive_handles_pass_values_between_processes() {
    let _w = Watchdog::new("handles_across", PATIENCE);
    let q = Queue::<u64>::new(32).unwrap();
    let child = Process::spawn(|| {
        let mut tx = q.producer_timeout(PATIENCE).unwrap();
        for i in 0..50_000 {
            tx.put(i).unwrap();
        }
    })
    .unwrap();
    let mut rx = q.consumer().unwrap();
    for i in 0..50_000 {
        assert_eq!(rx.get_timeout(PATIENCE), Ok(i));
    }
    join_ok(&child);
}

#[test]
fn a_queue_in_a_named_segment_is_found_by_another_process_of_the_same_type_only() {
    let _w = Watchdog::new("segment", PATIENCE);
    let name = format!("/shmsync-test-queue-{}", std::process::id());
    let seg = Segment::create(&name, 256 * 1024).unwrap();
    let q = Queue::<u64>::get_or_init_in(&seg, "jobs", 16).unwrap();
    let child = Process::spawn(|| {
        // As an unrelated process would: open by name.
        let seg = Segment::open(&name).unwrap();
        let q = Queue::<u64>::open_in(&seg, "jobs", 16).unwrap();
        for i in 0..1000 {
            q.put(i).unwrap();
        }
    })
    .unwrap();
    for i in 0..1000 {
        assert_eq!(q.get_timeout(PATIENCE), Ok(i));
    }
    join_ok(&child);
    let mismatch = |r: Result<_, shmsync::Error>| {
        matches!(
            r,
            Err(shmsync::Error::Segment(SegmentError::TypeMismatch { .. }))
        )
    };
    assert!(mismatch(Queue::<u32>::open_in(&seg, "jobs", 16).map(drop)));
    assert!(mismatch(Queue::<u64>::open_in(&seg, "jobs", 32).map(drop)));
    // The message names the handle asked for, not the state inside it,
    // and says what to keep the same.
    let told = Queue::<u64>::open_in(&seg, "jobs", 32)
        .unwrap_err()
        .to_string();
    assert!(told.contains("Queue<u64>"), "{told}");
    assert!(!told.contains("QueueState"), "{told}");
    assert!(told.contains("capacity"), "{told}");
    assert!(mismatch(
        shmsync::ByteQueue::open_in(&seg, "jobs", 128, None).map(drop)
    ));
    assert!(matches!(
        Queue::<u64>::open_in(&seg, "nobody", 16),
        Err(shmsync::Error::Segment(SegmentError::NoSuchObject { .. }))
    ));
    Segment::unlink(&name).unwrap();
}

#[test]
fn simple_queue_puts_gets_and_closes_one_handle_only() {
    let _w = Watchdog::new("simple", PATIENCE);
    let q = SimpleQueue::<u16>::new(2).unwrap();
    assert!(q.empty());
    let child = Process::spawn(|| {
        for i in 0..100 {
            q.put(i).unwrap();
        }
        q.clone().close();
        q.put(100).unwrap();
    })
    .unwrap();
    for i in 0..=100 {
        assert_eq!(q.get(), Ok(i));
    }
    assert_eq!(join_within(&child, PATIENCE), 0);
    assert!(q.empty());
}

#[test]
fn invalid_capacities_are_refused() {
    assert!(Queue::<u8>::new(0).is_err());
    assert!(Queue::<u8>::new(usize::MAX).is_err());
    assert!(Queue::<()>::new(4).is_err());
    assert!(shmsync::ByteQueue::new(0).is_err());
}

#[test]
fn a_thread_that_holds_a_side_is_refused_at_once_instead_of_waiting_for_itself() {
    let _w = Watchdog::new("self-wait", PATIENCE);
    let q = Queue::<u32>::new(4).unwrap();
    let me = rustix::thread::gettid().as_raw_nonzero().get() as u32;
    let long = Duration::from_secs(60);
    {
        let mut producer = q.producer().unwrap();
        let started = Instant::now();
        // Each of these would wait for this very thread: the blocking put
        // for ever, the timed calls for their whole timeout.
        assert!(matches!(q.put(1), Err(PutError::Timeout(1))));
        assert!(matches!(q.put_timeout(2, long), Err(PutError::Timeout(2))));
        assert!(matches!(
            q.producer_timeout(long),
            Err(HandleError::Busy { holder: Some(tid) }) if tid == me
        ));
        assert!(started.elapsed() < Duration::from_secs(10));
        producer.put(3).unwrap();
    }
    {
        let mut consumer = q.consumer().unwrap();
        let started = Instant::now();
        assert!(matches!(q.get(), Err(GetError::Timeout)));
        assert!(matches!(
            q.consumer_timeout(long),
            Err(HandleError::Busy { holder: Some(tid) }) if tid == me
        ));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(consumer.try_get().unwrap(), 3);
    }
    // Once the handles are gone, the plain calls work again.
    q.put(4).unwrap();
    assert_eq!(q.get().unwrap(), 4);
}
