//! Receiving from a child process inside a tokio event loop.
//!
//! A `Connection` made by `Pipe::new` is `AsFd`: its descriptor polls
//! readable when a message or end of file waits for a reader that found
//! nothing (`try_recv_bytes` declared it waiting). The messages themselves
//! stay in shared memory; a writer sends a wake token down the socket only
//! when the reader waits, so a busy pipe makes no system call per message.
//!
//! Run with `cargo run --example pipe_tokio`.

use shmsync::{Connection, Pipe, Process, RecvError};
use std::io;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Messages the child sends: small ones, and every tenth longer than the
/// ring (streamed).
const MESSAGES: u32 = 1_000;

fn message(i: u32) -> Vec<u8> {
    let len = if i % 10 == 0 {
        300_000
    } else {
        16 + i as usize % 100
    };
    vec![(i % 251) as u8; len]
}

/// Receives every message until end of file, sleeping in the event loop
/// whenever the pipe is empty; returns how many arrived.
///
/// The order matters: try first, and await readiness only after
/// `WouldBlock`, which declared this reader waiting (a writer sends a wake
/// token only to a reader that declared itself so).
async fn receive_all(conn: Connection) -> io::Result<u32> {
    // SAFETY: the connection owns its socket, which stays open and the
    // same for as long as the connection (held by the AsyncFd) lives.
    let conn = unsafe { AsyncFd::register_with_interest(conn, Interest::READABLE) }
        .map_err(io::Error::from)?;
    let mut received = 0;
    loop {
        match conn.get_ref().try_recv_bytes(usize::MAX) {
            Ok(msg) => {
                assert_eq!(msg, message(received), "message {received}");
                received += 1;
            }
            Err(RecvError::WouldBlock) => conn.readable().await?.clear_ready(),
            Err(RecvError::Eof) => return Ok(received),
            Err(e) => return Err(e.into()),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (ours, theirs) = Pipe::new(false)?;
    let child = Process::spawn(move || {
        for i in 0..MESSAGES {
            theirs.send_bytes(&message(i)).expect("send");
            if i % 100 == 0 {
                // Let the parent's loop go idle now and then.
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    let received = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), receive_all(ours)).await
    })??;
    assert_eq!(received, MESSAGES);
    assert_eq!(child.join()?, 0);
    println!("received {received} messages from the child through tokio, then end of file");
    Ok(())
}
