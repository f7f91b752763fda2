//! `Pipe` across real processes: messages keep their bytes, order and
//! boundaries (empty ones, random sizes across the wrap, 16 MiB streamed),
//! every error a send or receive can report, `poll` without consuming,
//! `wait` over several children, two processes on one end at once. End of
//! file and deaths are in `pipe_eof.rs`. Every wait is bounded: the
//! parent's by a watchdog; a child blocked on the parent gets end of file
//! when the parent's ends go.

use shmsync::{wait, Connection, End, Pipe, Process, RecvError, Segment, SendError};
use shmsync_testkit::{die_with_parent, join_ok, stop, KillOnDrop, Rng, Watchdog, PATIENCE};
use std::time::Duration;

mod raw_bytes;
use raw_bytes::wall_and_cpu;

/// Tests of this file run one at a time: a child forked by one test would
/// inherit the sockets of a pipe another test has just made (the harness
/// runs tests on parallel threads), keeping that pipe's end open, and its
/// end of file late, until the child exits.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The bytes of message `i` of length `len`: every byte depends on both,
/// so a message cut, shifted or swapped with another is caught.
fn message(i: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (j as u64).wrapping_mul(31).wrapping_add(i * 7) as u8)
        .collect()
}

/// What ends an echo child.
const STOP: &[u8] = b"stop";

/// A child that sends back every message it receives, until `STOP` (which
/// it sends back too). (Not until end of file: the child inherits the
/// parent's end too, which stays open in the child.)
fn echo_child(conn: Connection) -> KillOnDrop {
    KillOnDrop(
        Process::spawn(move || loop {
            match conn.recv_bytes(usize::MAX) {
                Ok(msg) => {
                    conn.send_bytes(&msg).unwrap();
                    if msg == STOP {
                        break;
                    }
                }
                Err(e) => panic!("echo child: {e}"),
            }
        })
        .unwrap(),
    )
}

#[test]
fn an_echo_child_returns_every_message_whole_empty_ones_included() {
    let _serial = serial();
    let _w = Watchdog::new("echo", PATIENCE);
    let (ours, theirs) = Pipe::new(true).unwrap();
    let child = echo_child(theirs);
    for (i, len) in [5usize, 0, 1, 8, 1000, 0, 300_000, 3]
        .into_iter()
        .enumerate()
    {
        let msg = message(i as u64, len);
        ours.send_bytes(&msg).unwrap();
        assert_eq!(ours.recv_bytes(usize::MAX).unwrap(), msg, "message {i}");
    }
    ours.send_bytes(STOP).unwrap();
    assert_eq!(ours.recv_bytes(4).unwrap(), STOP);
    join_ok(&child);
    // The child's end went with it.
    assert!(matches!(ours.recv_bytes(4), Err(RecvError::Eof)));
}

#[cfg(feature = "serde")]
#[test]
fn an_echo_child_returns_serde_values() {
    let _serial = serial();
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Job {
        id: u32,
        name: String,
        weights: Vec<f64>,
    }
    let _w = Watchdog::new("serde", PATIENCE);
    let (ours, theirs) = Pipe::new(true).unwrap();
    let child = KillOnDrop(
        Process::spawn(move || {
            let job: Job = theirs.recv().unwrap();
            theirs.send(&job).unwrap();
            let n: Option<(i64, char)> = theirs.recv().unwrap();
            theirs.send(&n).unwrap();
        })
        .unwrap(),
    );
    let job = Job {
        id: 7,
        name: "resize".into(),
        weights: vec![0.5; 40_000],
    };
    ours.send(&job).unwrap();
    assert_eq!(ours.recv::<Job>().unwrap(), job);
    ours.send(&Some((-3i64, 'λ'))).unwrap();
    assert_eq!(ours.recv::<Option<(i64, char)>>().unwrap(), Some((-3, 'λ')));
    join_ok(&child);
    // A message that is not the type asked for is a decode error.
    let (a, b) = Pipe::new(true).unwrap();
    a.send_bytes(&[0xff; 3]).unwrap();
    assert!(matches!(b.recv::<String>(), Err(RecvError::Decode(_))));
}

#[test]
fn boundaries_hold_for_random_sizes_across_the_wrap_in_a_small_ring() {
    let _serial = serial();
    let _w = Watchdog::new("random_sizes", PATIENCE);
    // 256 bytes: messages up to 248 go whole, longer ones are streamed, and
    // the counters wrap around the buffer thousands of times.
    let (a, b) = Pipe::options().capacity(256).create().unwrap();
    const N: u64 = 5_000;
    let child = KillOnDrop(
        Process::spawn(move || {
            let mut rng = Rng(0x5eed);
            for i in 0..N {
                let len = match rng.below(10) {
                    0 => 0,
                    1 => 249 + rng.below(2_000) as usize,
                    _ => rng.below(249) as usize,
                };
                a.send_bytes(&message(i, len)).unwrap();
            }
        })
        .unwrap(),
    );
    let mut rng = Rng(0x5eed);
    let mut buf = vec![0u8; 4096];
    for i in 0..N {
        let len = match rng.below(10) {
            0 => 0,
            1 => 249 + rng.below(2_000) as usize,
            _ => rng.below(249) as usize,
        };
        // Alternate the two ways to receive.
        if i % 2 == 0 {
            assert_eq!(b.recv_bytes(len).unwrap(), message(i, len), "message {i}");
        } else {
            let got = b.recv_bytes_into(&mut buf, 7).unwrap();
            assert_eq!(got, len);
            assert_eq!(&buf[7..7 + len], &message(i, len)[..], "message {i}");
        }
    }
    assert!(matches!(b.recv_bytes(16), Err(RecvError::Eof)));
    join_ok(&child);
}

#[test]
fn a_16_mib_message_round_trips_through_a_64_kib_ring() {
    let _serial = serial();
    let _w = Watchdog::new("16mib", PATIENCE);
    let (ours, theirs) = Pipe::options().capacity(64 * 1024).create().unwrap();
    let child = echo_child(theirs);
    let msg = message(42, 16 << 20);
    ours.send_bytes(&msg).unwrap_or_else(|e| panic!("{e}"));
    let back = ours.recv_bytes(16 << 20).unwrap();
    assert!(back == msg, "the 16 MiB message came back changed");
    ours.send_bytes(STOP).unwrap();
    assert_eq!(ours.recv_bytes(4).unwrap(), STOP);
    join_ok(&child);
}

#[test]
fn a_message_longer_than_max_stays_in_the_pipe_whole() {
    let _serial = serial();
    let (a, b) = Pipe::options().capacity(1024).create().unwrap();
    a.send_bytes(b"0123456789").unwrap();
    match b.recv_bytes(9) {
        Err(e @ RecvError::TooLong { len: 10, max: 9 }) => {
            assert!(e.to_string().contains("10 bytes"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.recv_bytes(10).unwrap(), b"0123456789");
    // A streamed one too: its length is known before any piece is taken.
    let child = KillOnDrop(
        Process::spawn(move || {
            a.send_bytes(&message(1, 5000)).unwrap();
            a.send_bytes(b"after").unwrap();
        })
        .unwrap(),
    );
    assert!(b.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(
        b.recv_bytes(4999),
        Err(RecvError::TooLong {
            len: 5000,
            max: 4999
        })
    ));
    assert_eq!(b.recv_bytes(5000).unwrap(), message(1, 5000));
    assert_eq!(b.recv_bytes(5).unwrap(), b"after");
    join_ok(&child);
}

#[test]
fn recv_bytes_into_a_short_buffer_hands_the_whole_message_back() {
    let _serial = serial();
    let (a, b) = Pipe::options().capacity(1024).create().unwrap();
    let mut buf = [0u8; 4];
    a.send_bytes(b"abcdef").unwrap();
    match b.recv_bytes_into(&mut buf, 0) {
        Err(RecvError::BufferTooShort(msg)) => assert_eq!(msg, b"abcdef"),
        other => panic!("{other:?}"),
    }
    // The message was taken: the next one follows.
    a.send_bytes(b"ab").unwrap();
    assert_eq!(b.recv_bytes_into(&mut buf, 2).unwrap(), 2);
    assert_eq!(&buf, b"\0\0ab");
    a.send_bytes(b"abc").unwrap();
    assert!(matches!(
        b.recv_bytes_into(&mut buf, 2),
        Err(RecvError::BufferTooShort(m)) if m == b"abc"
    ));
    assert!(matches!(
        b.recv_bytes_into(&mut buf, 5),
        Err(RecvError::OffsetTooLarge { offset: 5, len: 4 })
    ));
    // An offset at the very end leaves room for empty messages only.
    a.send_bytes(b"").unwrap();
    assert_eq!(b.recv_bytes_into(&mut buf, 4).unwrap(), 0);
    // Streamed (longer than the ring): also handed back whole.
    let child =
        KillOnDrop(Process::spawn(move || a.send_bytes(&message(3, 3000)).unwrap()).unwrap());
    match b.recv_bytes_into(&mut buf, 0) {
        Err(RecvError::BufferTooShort(msg)) => assert_eq!(msg, message(3, 3000)),
        other => panic!("{other:?}"),
    }
    join_ok(&child);
}

#[test]
fn ranged_sends_check_their_range() {
    let _serial = serial();
    let (a, b) = Pipe::new(true).unwrap();
    let data = b"0123456789";
    a.send_bytes_range(data, 0, None).unwrap();
    a.send_bytes_range(data, 10, None).unwrap();
    a.send_bytes_range(data, 4, Some(0)).unwrap();
    a.send_bytes_range(data, 9, Some(1)).unwrap();
    assert_eq!(b.recv_bytes(64).unwrap(), data);
    assert_eq!(b.recv_bytes(64).unwrap(), b"");
    assert_eq!(b.recv_bytes(64).unwrap(), b"");
    assert_eq!(b.recv_bytes(64).unwrap(), b"9");
    for (offset, size) in [
        (11, None),
        (9, Some(2)),
        (0, Some(11)),
        (usize::MAX, Some(2)),
    ] {
        match a.send_bytes_range(data, offset, size) {
            Err(SendError::OutOfRange { len: 10, .. }) => {}
            other => panic!("offset {offset} size {size:?}: {other:?}"),
        }
    }
    assert!(!b.poll(Some(Duration::ZERO)).unwrap(), "nothing was sent");
}

#[test]
fn a_one_way_pipe_refuses_the_wrong_direction() {
    let _serial = serial();
    let (reader, writer) = Pipe::new(false).unwrap();
    assert!(reader.readable() && !reader.writable());
    assert!(writer.writable() && !writer.readable());
    assert!(matches!(reader.send_bytes(b"x"), Err(SendError::ReadOnly)));
    assert!(matches!(writer.recv_bytes(1), Err(RecvError::WriteOnly)));
    assert!(matches!(
        writer.poll(Some(Duration::ZERO)),
        Err(RecvError::WriteOnly)
    ));
    let mut buf = [0u8; 1];
    assert!(matches!(
        writer.recv_bytes_into(&mut buf, 0),
        Err(RecvError::WriteOnly)
    ));
    writer.send_bytes(b"fine").unwrap();
    assert_eq!(reader.recv_bytes(4).unwrap(), b"fine");
    for e in [
        SendError::ReadOnly.to_string(),
        RecvError::WriteOnly.to_string(),
    ] {
        assert!(e.contains("one-way"), "{e}");
    }
}

#[test]
fn invalid_capacities_are_refused() {
    let _serial = serial();
    for bytes in [0, 2 << 30] {
        assert!(matches!(
            Pipe::options().capacity(bytes).create(),
            Err(shmsync::Error::InvalidArgument(_))
        ));
    }
    // Small ones are rounded up to 16 bytes: 8 bytes of payload whole.
    let (a, b) = Pipe::options().capacity(1).create().unwrap();
    a.send_bytes(b"12345678").unwrap();
    assert_eq!(b.recv_bytes(8).unwrap(), b"12345678");
}

#[test]
fn a_timed_receive_ends_at_its_timeout_and_takes_a_later_message_whole() {
    let _serial = serial();
    let _w = Watchdog::new("recv_bytes_timeout", PATIENCE);
    let (a, b) = Pipe::options().capacity(64).create().unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        b.recv_bytes_timeout(8, Duration::from_millis(30)),
        Err(RecvError::Timeout)
    ));
    assert!(started.elapsed() >= Duration::from_millis(30));
    // A message four times the ring, sent 20 ms later and streamed in
    // pieces: the timed receive waits for it to begin, then takes it whole.
    let child = KillOnDrop(
        Process::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            a.send_bytes(&message(1, 256)).unwrap();
        })
        .unwrap(),
    );
    let got = b.recv_bytes_timeout(256, PATIENCE).unwrap();
    assert_eq!(got, message(1, 256));
    join_ok(&child);
    assert!(matches!(
        b.recv_bytes_timeout(8, PATIENCE),
        Err(RecvError::Eof)
    ));
}

#[test]
fn poll_sees_messages_without_taking_them() {
    let _serial = serial();
    let _w = Watchdog::new("poll", PATIENCE);
    let (a, b) = Pipe::new(true).unwrap();
    assert!(!b.poll(Some(Duration::ZERO)).unwrap());
    let started = std::time::Instant::now();
    assert!(!b.poll(Some(Duration::from_millis(30))).unwrap());
    assert!(started.elapsed() >= Duration::from_millis(30));
    let child = KillOnDrop(
        Process::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            a.send_bytes(b"late").unwrap();
        })
        .unwrap(),
    );
    assert!(b.poll(None).unwrap(), "poll(None) waits for the message");
    for _ in 0..3 {
        assert!(b.poll(Some(Duration::ZERO)).unwrap());
    }
    assert_eq!(b.recv_bytes(4).unwrap(), b"late");
    join_ok(&child);
    // The child's end is gone: poll reports the end of file as ready.
    assert!(b.poll(Some(Duration::ZERO)).unwrap());
    assert!(matches!(b.recv_bytes(4), Err(RecvError::Eof)));
}

#[test]
fn wait_returns_the_children_that_sent_among_four() {
    let _serial = serial();
    let _w = Watchdog::new("wait", PATIENCE);
    let (ours, theirs): (Vec<Connection>, Vec<Connection>) =
        (0..4).map(|_| Pipe::new(true).unwrap()).unzip();
    let ours: Vec<&Connection> = ours.iter().collect();
    assert!(wait(&ours, Some(Duration::ZERO)).is_empty());
    assert!(wait(&ours, Some(Duration::from_millis(20))).is_empty());
    // Each child gets its end moved in, so the parent keeps none of them.
    let children: Vec<_> = theirs
        .into_iter()
        .enumerate()
        .map(|(i, theirs)| {
            KillOnDrop(
                Process::spawn(move || {
                    // Each child waits for its go, then answers; child 2
                    // answers again after a second go.
                    let go = theirs.recv_bytes(8).unwrap();
                    theirs.send_bytes(&[i as u8]).unwrap();
                    assert_eq!(go, b"go");
                    if i == 2 {
                        theirs.recv_bytes(8).unwrap();
                        theirs.send_bytes(b"late").unwrap();
                    }
                    theirs.recv_bytes(8).unwrap();
                })
                .unwrap(),
            )
        })
        .collect();
    // Wake them one by one: wait sees exactly the one that answered.
    for (i, conn) in ours.iter().enumerate() {
        conn.send_bytes(b"go").unwrap();
        let ready = wait(&ours, Some(PATIENCE));
        assert_eq!(ready.len(), 1, "round {i}");
        assert!(std::ptr::eq(ready[0], *conn), "round {i}");
        assert_eq!(conn.recv_bytes(1).unwrap(), [i as u8]);
    }
    // A sleeping wait is woken by a commit on any of them.
    ours[2].send_bytes(b"again").unwrap();
    let ready = wait(&ours, None);
    assert!(ready.len() == 1 && std::ptr::eq(ready[0], ours[2]));
    assert_eq!(ours[2].recv_bytes(8).unwrap(), b"late");
    for conn in &ours {
        conn.send_bytes(b"bye").unwrap();
    }
    for child in &children {
        join_ok(child);
    }
    // Now every child's end is gone (each child also had the ends of the
    // children forked after it, and all have exited): all four are ready
    // with end of file.
    assert_eq!(wait(&ours, Some(PATIENCE)).len(), 4);
}

#[test]
fn two_processes_sending_on_one_end_never_interleave_their_messages() {
    let _serial = serial();
    let _w = Watchdog::new("two_senders", PATIENCE);
    // A small ring, and messages both whole and streamed.
    let (reader, writer) = Pipe::options()
        .duplex(false)
        .capacity(512)
        .create()
        .unwrap();
    const PER: u64 = 2_000;
    let senders: Vec<_> = (0..2u64)
        .map(|s| {
            let writer = &writer;
            KillOnDrop(
                Process::spawn(move || {
                    for i in 0..PER {
                        let len = if i % 7 == 0 { 1500 } else { (i % 300) as usize };
                        let mut msg = message(s * PER + i, len + 9);
                        msg[..8].copy_from_slice(&(s * PER + i).to_le_bytes());
                        msg[8] = s as u8;
                        writer.send_bytes(&msg).unwrap();
                    }
                })
                .unwrap(),
            )
        })
        .collect();
    drop(writer);
    let mut next = [0u64; 2];
    for _ in 0..2 * PER {
        let msg = reader.recv_bytes(usize::MAX).unwrap();
        let id = u64::from_le_bytes(msg[..8].try_into().unwrap());
        let s = msg[8] as usize;
        let i = id - s as u64 * PER;
        assert_eq!(i, next[s], "sender {s} out of order");
        next[s] += 1;
        let mut expected = message(id, msg.len());
        expected[..8].copy_from_slice(&id.to_le_bytes());
        expected[8] = s as u8;
        assert!(msg == expected, "message {id} changed");
    }
    for sender in &senders {
        join_ok(sender);
    }
    assert!(matches!(reader.recv_bytes(8), Err(RecvError::Eof)));
}

#[test]
fn errors_convert_to_io_errors_of_the_matching_kind() {
    let _serial = serial();
    use std::io::ErrorKind;
    let kind = |e: RecvError| std::io::Error::from(e).kind();
    assert_eq!(kind(RecvError::Eof), ErrorKind::UnexpectedEof);
    assert_eq!(kind(RecvError::WouldBlock), ErrorKind::WouldBlock);
    assert_eq!(
        std::io::Error::from(SendError::BrokenPipe).kind(),
        ErrorKind::BrokenPipe
    );
    let e: shmsync::Error = RecvError::Eof.into();
    assert!(e.to_string().contains("end of file"), "{e}");
    // The crate-wide error keeps the pipe's own error, not an errno-less
    // `Os`: a caller can still match on what happened.
    assert!(matches!(e, shmsync::Error::Recv(RecvError::Eof)));
    assert_eq!(e.raw_os_error(), None);
    let e: shmsync::Error = SendError::BrokenPipe.into();
    assert!(matches!(e, shmsync::Error::Send(SendError::BrokenPipe)));
}

/// Sends `sig` to process `pid`.
fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory preconditions; `pid` is our live child.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn a_timed_receive_keeps_a_stalled_message_for_the_next_receive() {
    let _serial = serial();
    let _w = Watchdog::new("stalled_message", PATIENCE);
    const CAPACITY: usize = 1024;
    let (a, b) = Pipe::options().capacity(CAPACITY).create().unwrap();
    let msg = message(9, 8 * CAPACITY);
    let writer = KillOnDrop(
        Process::spawn(|| {
            die_with_parent();
            b.send_bytes(&message(9, 8 * CAPACITY)).unwrap();
        })
        .unwrap(),
    );
    drop(b);
    // The first pieces are in; the writer waits for room, holding its
    // side in the middle of the message, and is stopped there.
    assert!(a.poll(Some(PATIENCE)).unwrap());
    stop(writer.pid());

    let asked = Duration::from_millis(200);
    let start = std::time::Instant::now();
    let timed = a.recv_bytes_timeout(usize::MAX, asked);
    let took = start.elapsed();
    assert!(matches!(timed, Err(RecvError::Timeout)), "{timed:?}");
    assert!(
        took >= asked && took < asked + Duration::from_secs(2),
        "took {took:?}"
    );
    // An event loop's receive does not wait for the body either.
    let start = std::time::Instant::now();
    assert!(matches!(
        a.try_recv_bytes(usize::MAX),
        Err(RecvError::WouldBlock)
    ));
    assert!(start.elapsed() < Duration::from_secs(1));
    // A `max` the message exceeds leaves it kept, as for a whole one.
    assert!(matches!(
        a.recv_bytes_timeout(CAPACITY, Duration::ZERO),
        Err(RecvError::TooLong { .. })
    ));

    signal(writer.pid(), libc::SIGCONT);
    assert_eq!(a.recv_bytes_timeout(usize::MAX, PATIENCE).unwrap(), msg);
    join_ok(&writer);
}

#[test]
fn a_second_reader_between_drops_the_rest_of_a_kept_message_and_the_keeper_is_told() {
    let _serial = serial();
    let _w = Watchdog::new("kept_then_taken", PATIENCE);
    const CAPACITY: usize = 1024;
    let seg = Segment::anonymous(1 << 20).unwrap();
    let options = Pipe::options().capacity(CAPACITY);
    let keeper = options.open_in(&seg, "p", End::A).unwrap();
    let other = options.open_in(&seg, "p", End::A).unwrap();
    let writer = KillOnDrop(
        Process::spawn(|| {
            die_with_parent();
            let b = options.open_in(&seg, "p", End::B).unwrap();
            b.send_bytes(&message(1, 8 * CAPACITY)).unwrap();
            b.send_bytes(b"next").unwrap();
        })
        .unwrap(),
    );
    assert!(keeper.poll(Some(PATIENCE)).unwrap());
    stop(writer.pid());
    assert!(matches!(
        keeper.recv_bytes_timeout(usize::MAX, Duration::from_millis(50)),
        Err(RecvError::Timeout)
    ));
    signal(writer.pid(), libc::SIGCONT);
    // The other handle takes the side: the rest of the first message is
    // the rest of a message it never began, which it drops.
    assert_eq!(other.recv_bytes_timeout(64, PATIENCE).unwrap(), b"next");
    match keeper.recv_bytes_timeout(usize::MAX, Duration::ZERO) {
        Err(RecvError::Truncated { len, received }) => {
            assert_eq!(len, 8 * CAPACITY as u64);
            assert!(received > 0 && received < len, "{received}");
        }
        other => panic!("{other:?}"),
    }
    join_ok(&writer);
}

#[test]
fn a_kept_message_whose_writer_dies_ends_truncated() {
    let _serial = serial();
    let _w = Watchdog::new("kept_writer_dies", PATIENCE);
    const CAPACITY: usize = 1024;
    let (a, b) = Pipe::options().capacity(CAPACITY).create().unwrap();
    let writer = KillOnDrop(
        Process::spawn(|| {
            die_with_parent();
            b.send_bytes(&message(3, 8 * CAPACITY)).unwrap();
        })
        .unwrap(),
    );
    drop(b);
    assert!(a.poll(Some(PATIENCE)).unwrap());
    stop(writer.pid());
    assert!(matches!(
        a.try_recv_bytes(usize::MAX),
        Err(RecvError::WouldBlock)
    ));
    writer.kill().unwrap();
    shmsync_testkit::join_within(&writer, PATIENCE);
    // An event loop's next receive learns it at once, without a wait of
    // its own.
    match a.try_recv_bytes(usize::MAX) {
        Err(RecvError::Truncated { len, received }) => {
            assert_eq!(len, 8 * CAPACITY as u64);
            assert!(received < len);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(a.try_recv_bytes(64), Err(RecvError::Eof)));
}

/// Guards the POSIX-semaphore backend, whose `poll` and `wait` sleep on the
/// pipe's socket (the futex backend sleeps on the ring and passes anyway).
#[test]
fn a_poll_or_wait_after_a_received_message_sleeps_rather_than_spinning() {
    let _serial = serial();
    let _w = Watchdog::new("poll_sleeps", PATIENCE);
    let (a, b) = Pipe::new(true).unwrap();
    let timeout = Duration::from_millis(300);
    for how in ["poll", "wait"] {
        // A poll asleep when the message comes (most likely, not needed for
        // the verdict): it asked the writer for a wake token, which
        // `recv_bytes` leaves in the socket.
        std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                a.send_bytes(b"x").unwrap();
            });
            assert!(b.poll(Some(PATIENCE)).unwrap());
        });
        assert_eq!(b.recv_bytes(16).unwrap(), b"x");
        let (ready, elapsed, cpu) = wall_and_cpu(|| match how {
            "poll" => b.poll(Some(timeout)).unwrap(),
            _ => !wait(&[&b], Some(timeout)).is_empty(),
        });
        assert!(!ready, "{how}: nothing was sent");
        assert!(elapsed >= timeout, "{how} returned after {elapsed:?}");
        // A busy loop burns most of the timeout on an idle machine, and a
        // third of it beside two busy processes; a sleep about 1 ms.
        assert!(
            cpu < timeout / 10,
            "{how} used {cpu:?} of CPU in a {elapsed:?} wait"
        );
    }
}

#[test]
fn a_segment_pipe_opened_with_other_options_is_refused_as_another_pipe() {
    let _serial = serial();
    let seg = Segment::anonymous(1 << 20).unwrap();
    let made = Pipe::options().capacity(4096);
    let a = made.open_in(&seg, "p", End::A).unwrap();
    for other in [
        made.clone().duplex(false),
        made.clone().capacity(8192),
        Pipe::options().capacity(1 << 20),
    ] {
        let err = other.open_in(&seg, "p", End::B).unwrap_err();
        assert!(
            matches!(
                err,
                shmsync::Error::Segment(shmsync::SegmentError::TypeMismatch { .. })
            ),
            "{other:?}: {err}"
        );
        let told = err.to_string();
        assert!(
            told.contains("shmsync::Pipe") && !told.contains("PipeState"),
            "{told}"
        );
    }
    // The same duplex setting, rounded to the same size: the other end.
    let b = made.open_in(&seg, "p", End::B).unwrap();
    b.send_bytes(b"same pipe").unwrap();
    assert_eq!(a.recv_bytes(16).unwrap(), b"same pipe");
}
