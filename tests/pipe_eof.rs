//! End of file and broken pipes across real processes: when the other end
//! is closed, dropped, exits without dropping, or is SIGKILLed at random
//! instants (mid-stream included: the reader gets `Truncated`, never a
//! short message); within a second of the death; two handles of one end
//! after a fork counting as one; pipes in a segment; the event-loop
//! descriptor. Every wait is bounded.

use shmsync::{End, Event, Pipe, Process, RecvError, Segment, SendError};
use shmsync_testkit::{join_ok, join_within, KillOnDrop, Watchdog, PATIENCE};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

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

/// The bound the issue sets between a death and its notice.
const NOTICE: Duration = Duration::from_secs(1);

#[test]
fn a_child_that_returns_or_exits_or_closes_gives_end_of_file() {
    let _serial = serial();
    let _w = Watchdog::new("exit_kinds", PATIENCE);
    // Returns: its handle is dropped with the closure.
    let (ours, theirs) = Pipe::new(true).unwrap();
    let child = KillOnDrop(Process::spawn(move || theirs.send_bytes(b"bye").unwrap()).unwrap());
    assert_eq!(ours.recv_bytes(8).unwrap(), b"bye");
    assert!(matches!(ours.recv_bytes(8), Err(RecvError::Eof)));
    join_ok(&child);

    // Exits without dropping anything: the kernel closes its socket.
    let (ours, theirs) = Pipe::new(true).unwrap();
    let child = KillOnDrop(
        Process::spawn(move || {
            theirs.send_bytes(b"last words").unwrap();
            // SAFETY: _exit ends the process at once; nothing is dropped.
            unsafe { libc::_exit(0) }
        })
        .unwrap(),
    );
    assert_eq!(ours.recv_bytes(16).unwrap(), b"last words");
    assert!(matches!(ours.recv_bytes(16), Err(RecvError::Eof)));
    join_ok(&child);

    // Closes its end and lives on: end of file comes at once, before it
    // exits.
    let (ours, theirs) = Pipe::new(true).unwrap();
    let done = Event::new().unwrap();
    let child = KillOnDrop(
        Process::spawn({
            let done = &done;
            move || {
                theirs.send_bytes(b"closing").unwrap();
                theirs.close();
                done.wait(Some(PATIENCE));
            }
        })
        .unwrap(),
    );
    assert_eq!(ours.recv_bytes(16).unwrap(), b"closing");
    let t0 = Instant::now();
    assert!(matches!(ours.recv_bytes(16), Err(RecvError::Eof)));
    assert!(t0.elapsed() < NOTICE);
    assert!(
        child.is_alive(),
        "end of file came from the close, not the exit"
    );
    done.set();
    join_ok(&child);
}

#[test]
fn sigkill_at_random_instants_gives_whole_messages_then_end_of_file_within_a_second() {
    let _serial = serial();
    let _w = Watchdog::new("sigkill", PATIENCE);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut truncated = 0;
    for round in 0..24 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (ours, theirs) = Pipe::options().capacity(16 * 1024).create().unwrap();
        let child = KillOnDrop(
            Process::spawn(move || {
                // Whole and streamed messages, forever; each says its
                // length and fill byte in its first bytes.
                for i in 0u64.. {
                    let len = if i % 3 == 0 {
                        100_000
                    } else {
                        16 + (i % 700) as usize
                    };
                    let mut msg = vec![(i % 251) as u8; len];
                    msg[..8].copy_from_slice(&(len as u64).to_le_bytes());
                    theirs.send_bytes(&msg).unwrap();
                }
            })
            .unwrap(),
        );
        // Let it run a little, reading, then kill it at a random instant.
        let until = Instant::now() + Duration::from_micros(200 + (seed >> 40) % 20_000);
        let mut got = 0u64;
        while Instant::now() < until {
            let msg = ours.recv_bytes(usize::MAX).unwrap();
            check(&msg);
            got += 1;
        }
        child.kill().unwrap();
        let killed = Instant::now();
        assert!(join_within(&child, PATIENCE) < 0);
        loop {
            match ours.recv_bytes(usize::MAX) {
                Ok(msg) => check(&msg),
                Err(RecvError::Truncated { len, received }) => {
                    assert!(received < len, "round {round}");
                    truncated += 1;
                }
                Err(RecvError::Eof) => break,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        assert!(
            killed.elapsed() < NOTICE,
            "round {round}: end of file {:?} after the kill",
            killed.elapsed()
        );
        assert!(got > 0);
        // Sending to the dead end fails too.
        assert!(matches!(
            ours.send_bytes(b"anyone?"),
            Err(SendError::BrokenPipe)
        ));
    }
    // Streamed messages are most of the bytes: some kills land mid-stream.
    eprintln!("{truncated} of 24 kills landed in the middle of a streamed message");
}

/// A message of the kill test: its first 8 bytes are its length, the
/// rest one fill byte.
fn check(msg: &[u8]) {
    let len = u64::from_le_bytes(msg[..8].try_into().unwrap());
    assert_eq!(len as usize, msg.len(), "a short message was delivered");
    assert!(
        msg[8..].iter().all(|&b| b == msg[msg.len() - 1]),
        "message garbled"
    );
}

#[test]
fn a_writer_killed_mid_stream_leaves_truncated_then_end_of_file() {
    let _serial = serial();
    let _w = Watchdog::new("mid_stream", PATIENCE);
    let (ours, theirs) = Pipe::options().capacity(4096).create().unwrap();
    let child = KillOnDrop(
        Process::spawn(move || {
            theirs.send_bytes(&vec![1u8; 1 << 20]).unwrap();
        })
        .unwrap(),
    );
    // The child fills the ring and waits for room: a stream is under way.
    assert!(ours.poll(Some(PATIENCE)).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    child.kill().unwrap();
    join_within(&child, PATIENCE);
    let t0 = Instant::now();
    match ours.recv_bytes(usize::MAX) {
        Err(RecvError::Truncated { len, received }) => {
            assert_eq!(len, 1 << 20);
            assert!(received < len);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(ours.recv_bytes(usize::MAX), Err(RecvError::Eof)));
    assert!(t0.elapsed() < NOTICE);
}

#[test]
fn a_writer_of_one_end_killed_mid_stream_while_another_process_keeps_the_end() {
    let _serial = serial();
    let _w = Watchdog::new("mid_stream_shared", PATIENCE);
    // The parent keeps a handle of the writing end, so the end lives on:
    // the reader learns of the stopped stream from the dead lock holder.
    let (reader, writer) = Pipe::options()
        .duplex(false)
        .capacity(4096)
        .create()
        .unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            writer.send_bytes(&vec![2u8; 1 << 20]).unwrap();
        })
        .unwrap(),
    );
    assert!(reader.poll(Some(PATIENCE)).unwrap());
    std::thread::sleep(Duration::from_millis(20));
    child.kill().unwrap();
    join_within(&child, PATIENCE);
    assert!(matches!(
        reader.recv_bytes(usize::MAX),
        Err(RecvError::Truncated { len, .. }) if len == 1 << 20
    ));
    // The end is still open (the parent's handle): the next message of
    // another writer goes through, and the ring is usable.
    writer.send_bytes(b"still here").unwrap();
    assert_eq!(reader.recv_bytes(64).unwrap(), b"still here");
    assert!(!reader.poll(Some(Duration::ZERO)).unwrap());
}

#[test]
fn a_send_to_a_dead_end_fails_within_a_second_even_with_room() {
    let _serial = serial();
    let _w = Watchdog::new("broken_pipe", PATIENCE);
    let (ours, theirs) = Pipe::new(true).unwrap();
    let child = KillOnDrop(
        Process::spawn(move || {
            theirs.recv_bytes(8).unwrap();
        })
        .unwrap(),
    );
    ours.send_bytes(b"go").unwrap();
    join_ok(&child);
    let t0 = Instant::now();
    loop {
        match ours.send_bytes(b"x") {
            Ok(()) => std::thread::sleep(Duration::from_millis(1)),
            Err(SendError::BrokenPipe) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(t0.elapsed() < NOTICE, "sends kept succeeding");
    }
}

/// How long after a close a waiting receive, send, `poll` or `wait` may
/// take to see end of file: a wake-up, not the probe schedule (which, 440
/// ms into a wait, asks next about 87 ms later).
const AT_ONCE: Duration = Duration::from_millis(50);

/// Makes a pipe with `make`, runs `wait` on its first end on another
/// thread, drops the second end 440 ms into the wait, and checks what the
/// wait returned with `check`. The wait must return within [`AT_ONCE`] of
/// the close in one of three tries (a loaded machine may be slow to run
/// the woken thread once; the probe schedule is late every time).
fn a_close_ends_at_once<E: shmsync::EndKind, T: Send>(
    what: &str,
    make: impl Fn() -> (shmsync::Connection<E>, shmsync::Connection<E>),
    wait: impl Fn(&shmsync::Connection<E>) -> T + Sync,
    check: impl Fn(T),
) {
    let mut lates = Vec::new();
    for _ in 0..3 {
        let (ours, theirs) = make();
        let started = std::sync::OnceLock::new();
        let (late, got) = std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                started.set(Instant::now()).unwrap();
                let got = wait(&ours);
                (Instant::now(), got)
            });
            // 440 ms from the start of the wait itself, whenever the thread
            // got to run.
            let start = loop {
                match started.get() {
                    Some(&start) => break start,
                    None => std::thread::yield_now(),
                }
            };
            std::thread::sleep(
                (start + Duration::from_millis(440)).saturating_duration_since(Instant::now()),
            );
            let closed = Instant::now();
            drop(theirs);
            let (returned, got) = waiter.join().unwrap();
            (returned.saturating_duration_since(closed), got)
        });
        check(got);
        if late < AT_ONCE {
            return;
        }
        lates.push(late);
    }
    panic!("{what} saw the close late every time: {lates:?}");
}

#[test]
fn a_close_ends_a_long_wait_at_once() {
    let _serial = serial();
    let _w = Watchdog::new("close_at_once", PATIENCE);
    let duplex = || Pipe::new(true).unwrap();
    let eof =
        |got: Result<Vec<u8>, RecvError>| assert!(matches!(got, Err(RecvError::Eof)), "{got:?}");
    a_close_ends_at_once("recv", duplex, |c| c.recv_bytes(8), eof);
    a_close_ends_at_once(
        "poll",
        duplex,
        |c| c.poll(Some(PATIENCE)),
        |got| assert!(got.unwrap()),
    );
    let one_ready = |ready: usize| assert_eq!(ready, 1);
    let wait = |c: &shmsync::Connection| shmsync::wait(&[c], Some(PATIENCE)).len();
    a_close_ends_at_once("wait", duplex, wait, one_ready);
    // The writing end of a one-way pipe, whose `wait` only waits for its
    // reader to go.
    let writer_first = || {
        let (reader, writer) = Pipe::new(false).unwrap();
        (writer, reader)
    };
    a_close_ends_at_once("a writer's wait", writer_first, wait, one_ready);

    // In a segment, where end of file comes from file locks.
    let seg = Segment::anonymous(1 << 20).unwrap();
    let options = Pipe::options().capacity(8192);
    let pipes = std::cell::Cell::new(0);
    let in_segment = || {
        let name = format!("p{}", pipes.replace(pipes.get() + 1));
        (
            options.open_in(&seg, &name, End::A).unwrap(),
            options.open_in(&seg, &name, End::B).unwrap(),
        )
    };
    a_close_ends_at_once("a segment's recv", in_segment, |c| c.recv_bytes(8), eof);
}

#[test]
fn a_sender_blocked_on_a_full_ring_fails_at_once_when_the_reader_closes() {
    let _serial = serial();
    let _w = Watchdog::new("full_close", PATIENCE);
    let full = || {
        let (ours, theirs) = Pipe::options().capacity(4096).create().unwrap();
        ours.send_bytes(&[0; 3000]).unwrap();
        (ours, theirs)
    };
    a_close_ends_at_once(
        "a send blocked on a full ring",
        full,
        |c| c.send_bytes(&[1; 3000]),
        |got| assert!(matches!(got, Err(SendError::BrokenPipe)), "{got:?}"),
    );
}

#[test]
fn a_send_right_after_the_other_end_closes_fails() {
    let _serial = serial();
    let _w = Watchdog::new("send_after_close", PATIENCE);
    // In this process.
    let (ours, theirs) = Pipe::new(true).unwrap();
    // A send first: the send side has just asked, and its schedule would
    // not ask again for 100 ms.
    ours.send_bytes(b"first").unwrap();
    drop(theirs);
    assert!(matches!(
        ours.send_bytes(b"second"),
        Err(SendError::BrokenPipe)
    ));
    assert!(matches!(
        ours.send_bytes(b"third"),
        Err(SendError::BrokenPipe)
    ));

    // In a child that closes its end and lives on.
    let (ours, theirs) = Pipe::new(true).unwrap();
    let (closed, done) = (Event::new().unwrap(), Event::new().unwrap());
    let child = KillOnDrop(
        Process::spawn({
            let (closed, done) = (&closed, &done);
            move || {
                assert_eq!(theirs.recv_bytes(8).unwrap(), b"first");
                theirs.close();
                closed.set();
                done.wait(Some(PATIENCE));
            }
        })
        .unwrap(),
    );
    ours.send_bytes(b"first").unwrap();
    assert!(closed.wait(Some(PATIENCE)));
    assert!(matches!(
        ours.send_bytes(b"second"),
        Err(SendError::BrokenPipe)
    ));
    assert!(child.is_alive(), "the close said so, not the exit");
    done.set();
    join_ok(&child);

    // A handle of the other end closed while another stays: no error.
    let (ours, theirs) = Pipe::new(true).unwrap();
    let child = KillOnDrop(
        Process::spawn(move || {
            // The parent's copy of `theirs` goes when the spawn returns;
            // this one stays until the message comes.
            assert_eq!(theirs.recv_bytes(8).unwrap(), b"kept");
        })
        .unwrap(),
    );
    ours.send_bytes(b"kept").unwrap();
    join_ok(&child);
}

#[test]
fn a_handle_that_saw_end_of_file_fails_its_next_send_at_once() {
    let _serial = serial();
    let _w = Watchdog::new("sticky_eof", PATIENCE);
    // Seen by `recv`: the next send fails without waiting for the send
    // side's own schedule (a reply after end of file must not vanish).
    for seen_by_poll in [false, true] {
        let (ours, theirs) = Pipe::new(true).unwrap();
        // One send first, so the send side's schedule has just asked and
        // would not ask again for a while.
        ours.send_bytes(b"hello").unwrap();
        let child = KillOnDrop(
            Process::spawn(move || {
                assert_eq!(theirs.recv_bytes(8).unwrap(), b"hello");
                theirs.send_bytes(b"bye").unwrap();
            })
            .unwrap(),
        );
        assert_eq!(ours.recv_bytes(8).unwrap(), b"bye");
        join_ok(&child);
        if seen_by_poll {
            assert!(ours.poll(Some(PATIENCE)).unwrap());
        } else {
            assert!(matches!(ours.recv_bytes(8), Err(RecvError::Eof)));
        }
        for _ in 0..3 {
            assert!(
                matches!(ours.send_bytes(b"late"), Err(SendError::BrokenPipe)),
                "a send after end of file (seen by {}) succeeded",
                if seen_by_poll { "poll" } else { "recv" }
            );
        }
    }
}

#[test]
fn a_sender_blocked_on_a_full_ring_fails_when_the_reader_is_killed() {
    let _serial = serial();
    let _w = Watchdog::new("blocked_sender", PATIENCE);
    let (ours, theirs) = Pipe::options().capacity(1024).create().unwrap();
    let child = KillOnDrop(
        Process::spawn(move || {
            std::thread::sleep(Duration::from_secs(600));
            drop(theirs);
        })
        .unwrap(),
    );
    let sender = std::thread::spawn(move || {
        let t = loop {
            if let Err(e) = ours.send_bytes(&[0; 100]) {
                break e;
            }
        };
        (t, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap();
    let killed = Instant::now();
    let (err, at) = sender.join().unwrap();
    assert!(matches!(err, SendError::BrokenPipe), "{err}");
    assert!(at.duration_since(killed) < NOTICE);
}

#[test]
fn two_handles_of_one_end_after_a_fork_count_as_one() {
    let _serial = serial();
    let _w = Watchdog::new("fork_copies", PATIENCE);
    let (a, b) = Pipe::new(true).unwrap();
    let release = Event::new().unwrap();
    // The child has a copy of `b` (inherited, unused) until released.
    let child = KillOnDrop(
        Process::spawn(|| {
            release.wait(Some(PATIENCE));
            let _ = &b;
        })
        .unwrap(),
    );
    drop(b);
    assert!(
        !a.poll(Some(Duration::from_millis(300))).unwrap(),
        "the child's copy keeps end B open"
    );
    a.send_bytes(b"still open").unwrap();
    release.set();
    join_ok(&child);
    let t0 = Instant::now();
    assert!(a.poll(Some(PATIENCE)).unwrap());
    assert!(t0.elapsed() < NOTICE);
    assert!(matches!(a.recv_bytes(8), Err(RecvError::Eof)));
}

#[test]
fn a_pipe_in_a_segment_sees_its_other_end_come_and_go() {
    let _serial = serial();
    let _w = Watchdog::new("segment", PATIENCE);
    let seg = Segment::anonymous(1 << 20).unwrap();
    let options = Pipe::options().capacity(8192);
    let a = options.open_in(&seg, "p", End::A).unwrap();
    // B has never been opened: no end of file yet.
    assert!(!a.poll(Some(Duration::from_millis(150))).unwrap());
    // A child opens B, streams a message longer than the ring, returns.
    let child = KillOnDrop(
        Process::spawn(|| {
            let b = options.open_in(&seg, "p", End::B).unwrap();
            b.send_bytes(&vec![9u8; 100_000]).unwrap();
            assert_eq!(b.recv_bytes(8).unwrap(), b"thanks");
        })
        .unwrap(),
    );
    assert_eq!(a.recv_bytes(usize::MAX).unwrap(), vec![9u8; 100_000]);
    a.send_bytes(b"thanks").unwrap();
    join_ok(&child);
    let t0 = Instant::now();
    assert!(matches!(a.recv_bytes(8), Err(RecvError::Eof)));
    assert!(t0.elapsed() < NOTICE);
    assert!(matches!(a.send_bytes(b"?"), Err(SendError::BrokenPipe)));

    // B again, in a child that is SIGKILLed holding it. Until it has
    // opened B, A still sees end of file: wait for it to say so.
    let opened = Event::new().unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            let b = options.open_in(&seg, "p", End::B).unwrap();
            b.send_bytes(b"again").unwrap();
            opened.set();
            std::thread::sleep(Duration::from_secs(600));
        })
        .unwrap(),
    );
    assert!(opened.wait(Some(PATIENCE)));
    assert_eq!(a.recv_bytes(8).unwrap(), b"again");
    child.kill().unwrap();
    let killed = Instant::now();
    join_within(&child, PATIENCE);
    assert!(matches!(a.recv_bytes(8), Err(RecvError::Eof)));
    assert!(killed.elapsed() < NOTICE);

    // Two handles of B in one process: gone only when both are.
    let b1 = options.open_in(&seg, "p", End::B).unwrap();
    let b2 = options.open_in(&seg, "p", End::B).unwrap();
    drop(b1);
    assert!(!a.poll(Some(Duration::from_millis(150))).unwrap());
    b2.send_bytes(b"b2").unwrap();
    assert_eq!(a.recv_bytes(8).unwrap(), b"b2");
    drop(b2);
    assert!(a.poll(Some(PATIENCE)).unwrap());
    assert!(matches!(a.recv_bytes(8), Err(RecvError::Eof)));
    // Opening it with other options is refused.
    assert!(Pipe::options()
        .capacity(4096)
        .open_in(&seg, "p", End::B)
        .is_err());
    assert!(options
        .clone()
        .duplex(false)
        .open_in(&seg, "p", End::B)
        .is_err());
}

#[test]
fn the_event_loop_descriptor_polls_readable_for_messages_and_end_of_file() {
    let _serial = serial();
    use rustix::event::{poll, PollFd, PollFlags};
    let _w = Watchdog::new("event_fd", PATIENCE);
    let readable = |conn: &shmsync::Connection, ms: i64| {
        let ts = rustix::time::Timespec {
            tv_sec: ms / 1000,
            tv_nsec: (ms % 1000) * 1_000_000,
        };
        let fd = conn.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        poll(&mut fds, Some(&ts)).unwrap() == 1
    };
    let (ours, theirs) = Pipe::new(true).unwrap();
    let go = Event::new().unwrap();
    let child = KillOnDrop(
        Process::spawn(|| {
            go.wait(Some(PATIENCE));
            theirs.send_bytes(b"one").unwrap();
            go.wait(Some(PATIENCE));
            theirs.send_bytes(b"two").unwrap();
        })
        .unwrap(),
    );
    drop(theirs);
    // Nothing there: the receive declares itself waiting.
    assert!(matches!(ours.try_recv_bytes(8), Err(RecvError::WouldBlock)));
    assert!(!readable(&ours, 50));
    go.set();
    assert!(
        readable(&ours, 60_000),
        "a message makes the descriptor readable"
    );
    assert_eq!(ours.try_recv_bytes(8).unwrap(), b"one");
    go.clear();
    // Without a declared wait, a message sends no token.
    go.set();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(ours.try_recv_bytes(8).unwrap(), b"two");
    join_ok(&child);
    assert!(readable(&ours, 60_000), "end of file makes it readable");
    assert!(matches!(ours.try_recv_bytes(8), Err(RecvError::Eof)));
}

#[cfg(feature = "test-hooks")]
#[test]
fn a_writer_killed_before_its_wake_token_leaves_the_next_writer_to_send_one() {
    use rustix::event::{poll, PollFd, PollFlags};
    use shmsync::ring::hooks::{self, Step};
    let _serial = serial();
    let _w = Watchdog::new("token_due", PATIENCE);
    let readable_within_2s = |conn: &shmsync::Connection| {
        let ts = rustix::time::Timespec {
            tv_sec: 2,
            tv_nsec: 0,
        };
        let fd = conn.as_fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        poll(&mut fds, Some(&ts)).unwrap() == 1
    };
    let (reader, writer) = Pipe::new(true).unwrap();
    // The reader, in an event loop, declares itself waiting.
    assert!(matches!(
        reader.try_recv_bytes(8),
        Err(RecvError::WouldBlock)
    ));
    // One of two processes holding the writing end dies after its commit,
    // before its token: the message is there, unannounced.
    let first = Process::spawn(|| {
        hooks::crash_at(Step::TokenDue, 0);
        let _ = writer.send_bytes(b"one");
        unreachable!("the send should have been killed before its token");
    })
    .unwrap();
    assert_eq!(join_within(&first, PATIENCE), -libc::SIGKILL);
    // The other holder's next send finds the declaration still up and
    // sends the token: the descriptor polls readable.
    writer.send_bytes(b"two").unwrap();
    assert!(readable_within_2s(&reader), "no wake token after the death");
    assert_eq!(reader.try_recv_bytes(8).unwrap(), b"one");
    assert_eq!(reader.try_recv_bytes(8).unwrap(), b"two");
}

#[test]
fn an_event_loop_takes_a_message_longer_than_the_ring_piece_by_piece() {
    let _serial = serial();
    use rustix::event::{poll, PollFd, PollFlags};
    let _w = Watchdog::new("event_fd_stream", PATIENCE);
    const CAPACITY: usize = 1024;
    let (ours, theirs) = Pipe::options().capacity(CAPACITY).create().unwrap();
    let msg: Vec<u8> = (0..64 * CAPACITY).map(|i| (i * 13 + 5) as u8).collect();
    // Both on one CPU: the writer moves only while the reader waits, so
    // the reader meets the middle of the message again and again.
    let one_cpu = || {
        let mut set = rustix::thread::CpuSet::new();
        set.set(0);
        rustix::thread::sched_setaffinity(None, &set).unwrap();
    };
    one_cpu();
    let child = KillOnDrop(
        Process::spawn(|| {
            one_cpu();
            theirs.send_bytes(&msg).unwrap();
        })
        .unwrap(),
    );
    drop(theirs);
    // An event loop: try, and on WouldBlock wait for the descriptor. Each
    // piece that arrives after a WouldBlock must make it readable, or the
    // poll below times out.
    let mut would_block = 0u32;
    let got = loop {
        match ours.try_recv_bytes(usize::MAX) {
            Ok(got) => break got,
            Err(RecvError::WouldBlock) => {
                would_block += 1;
                let ts = rustix::time::Timespec {
                    tv_sec: 10,
                    tv_nsec: 0,
                };
                let fd = ours.as_fd();
                let mut fds = [PollFd::new(&fd, PollFlags::IN)];
                assert_eq!(
                    poll(&mut fds, Some(&ts)).unwrap(),
                    1,
                    "no token for a piece"
                );
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    assert!(got == msg, "the message came back altered");
    assert!(would_block > 0, "the receive never met the middle");
    join_ok(&child);
}
