//! A parent and a child talk both ways over one duplex `Pipe`; the parent
//! then sees end of file once the child has gone.
//!
//! ```python
//! from multiprocessing import Process, Pipe
//!
//! def f(conn):
//!     conn.send([42, None, 'hello，father.'])
//!     print(conn.recv())
//!     conn.close()
//!
//! if __name__ == '__main__':
//!     parent_conn, child_conn = Pipe()
//!     p = Process(target=f, args=(child_conn,))
//!     p.start()
//!     print(parent_conn.recv())   # [42, None, 'hello，father.']
//!     parent_conn.send([41, None, 'hello, son.'])
//!     p.join()
//! ```
//!
//! Python pickles the lists; here they are JSON arrays (`serde_json`)
//! sent as byte messages with `send_bytes`, and printed the way Python
//! prints them (the full-width comma in `'hello，father.'` is part of the
//! original and arrives intact: messages are bytes). The crate's `serde`
//! feature adds `Connection::send` / `recv` of any serde value; this
//! example runs without it.
//!
//! Every wait is bounded: receives use `recv_bytes_timeout`, which also
//! ends when the other end is gone (end of file), so a peer that dies
//! gives an error at once, never a hang. A forked child gets a
//! copy of every handle its parent has, the parent's end of the pipe
//! included (as under Python's `fork`), and that copy keeps the parent's end
//! open for as long as the child holds it: the child here drops its copy
//! first, so that it would see end of file if the parent went. The parent
//! has no copy of the child's end once the child is started (the closure
//! that owned it is gone), so after the child exits, the parent's next
//! receive is end of file, which the program shows.
//!
//! Run with `cargo run --example pipe_duplex`. Expect the parent's
//! `[42, None, 'hello，father.']`, the child's `[41, None, 'hello, son.']`,
//! the child's exit code (0) and the end of file.

use serde_json::{json, Value};
use shmsync::{Connection, Pipe, Process, RecvError};
use std::error::Error;
use std::time::Duration;

/// The longest either side waits for a message, or the parent for the
/// child's exit.
const PATIENCE: Duration = Duration::from_secs(10);

/// The largest message either side takes.
const MAX_MESSAGE: usize = 64 * 1024;

/// The child's work: Python's `f(conn)`.
fn f(conn: Connection) -> Result<(), Box<dyn Error>> {
    send(&conn, &json!([42, null, "hello，father."]))?;
    println!("{}", python_repr(&recv(&conn)?));
    conn.close();
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let (parent_conn, child_conn) = Pipe::new(true)?;
    // In an Option so that the child can drop its copy (see the docs above).
    let mut parent_conn = Some(parent_conn);
    let p = Process::builder().name("son").spawn(|| {
        drop(parent_conn.take());
        if let Err(e) = f(child_conn) {
            eprintln!("child: {e}");
            std::process::exit(1);
        }
    })?;
    let parent_conn = parent_conn.expect("only the child's copy was taken");

    println!("{}", python_repr(&recv(&parent_conn)?));
    send(&parent_conn, &json!([41, null, "hello, son."]))?;

    let code = p
        .join_timeout(PATIENCE)?
        .ok_or("the child did not exit within 10 s")?;
    println!("{} (pid {}) exited with {code}", p.name(), p.pid());
    if code != 0 {
        return Err(format!("the child failed with exit code {code}").into());
    }

    // The child's end is closed everywhere now: end of file.
    match parent_conn.recv_bytes_timeout(MAX_MESSAGE, PATIENCE) {
        Err(RecvError::Eof) => println!("parent: end of file, the child's end is closed"),
        Err(RecvError::Timeout) => {
            return Err("no end of file within 10 s of the child's exit".into())
        }
        Ok(msg) => return Err(format!("unexpected message of {} bytes", msg.len()).into()),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Python's `conn.send(obj)`, for JSON values.
fn send(conn: &Connection, value: &Value) -> Result<(), Box<dyn Error>> {
    conn.send_bytes(&serde_json::to_vec(value)?)?;
    Ok(())
}

/// Python's `conn.recv()`, waiting at most [`PATIENCE`]: an error on a
/// timeout and at end of file (the other end closed without sending).
fn recv(conn: &Connection) -> Result<Value, Box<dyn Error>> {
    match conn.recv_bytes_timeout(MAX_MESSAGE, PATIENCE) {
        Ok(msg) => Ok(serde_json::from_slice(&msg)?),
        Err(RecvError::Timeout) => Err("no message within 10 s".into()),
        Err(RecvError::Eof) => Err("end of file: the other end closed without sending".into()),
        Err(e) => Err(e.into()),
    }
}

/// How Python's `print` shows the same value: `None`, `True`, strings in
/// single quotes, lists in brackets.
fn python_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_repr).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("'{k}': {}", python_repr(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}
