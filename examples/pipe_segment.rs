//! Two unrelated programs talking through a pipe in a named segment.
//!
//! The first run creates the segment `/shmsync-example-pipe-<pid>`, opens
//! end A of the pipe `chat` in it, and starts this same program again as a
//! separate process (`exec`: no memory shared but the segment's name),
//! which opens the segment by name and end B, answers three questions, and
//! exits. Its end closes with it, so the first program's next receive is
//! end of file, as it would be if the other program crashed.
//!
//! Run with `cargo run --example pipe_segment`.

use shmsync::{End, Pipe, RecvError, Segment};
use std::process::Command;

fn options() -> shmsync::PipeOptions {
    Pipe::options().capacity(64 * 1024)
}

/// The second program: answers every question until end of file.
fn answer(name: &str) -> Result<(), Box<dyn std::error::Error>> {
    let segment = Segment::open(name)?;
    let b = options().open_in(&segment, "chat", End::B)?;
    for _ in 0..3 {
        let question = b.recv_bytes(1024)?;
        let reply = format!("{} letters", question.len());
        b.send_bytes(reply.as_bytes())?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    if let (Some(role), Some(name)) = (args.next(), args.next()) {
        assert_eq!(role, "answer");
        return answer(&name);
    }
    let name = format!("/shmsync-example-pipe-{}", std::process::id());
    let segment = Segment::create(&name, 1 << 20)?;
    let a = options().open_in(&segment, "chat", End::A)?;
    let mut other = Command::new(std::env::current_exe()?)
        .args(["answer", &name])
        .spawn()?;
    for question in ["why", "what for", "how come"] {
        a.send_bytes(question.as_bytes())?;
        let reply = a.recv_bytes(1024)?;
        println!("{question:?} -> {:?}", String::from_utf8_lossy(&reply));
    }
    let status = other.wait()?;
    assert!(status.success());
    match a.recv_bytes(1024) {
        Err(RecvError::Eof) => println!("the other program is gone: end of file"),
        other => panic!("expected end of file, got {other:?}"),
    }
    segment.remove()?;
    Ok(())
}
