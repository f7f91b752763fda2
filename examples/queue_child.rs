//! A child process puts a list on a queue; the parent takes it and joins
//! the child.
//!
//! ```python
//! from multiprocessing import Process, Queue
//!
//! def f(q):
//!     q.put([42, None, 'hello'])
//!
//! if __name__ == '__main__':
//!     q = Queue()
//!     p = Process(target=f, args=(q,))
//!     p.start()
//!     print(q.get())    # prints "[42, None, 'hello']"
//!     p.join()
//! ```
//!
//! Python pickles the list into its queue. A [`shmsync::Queue<T>`] carries
//! only plain-data `T` (`bytemuck::Pod`: no pointers, so no `String`, no
//! `Vec`), so the list goes on a [`ByteQueue`], whose messages are byte
//! strings of any length: it is the JSON array `[42, null, "hello"]`
//! (a `serde_json::Value`, Python's list of mixed types), encoded to bytes
//! by the child and decoded by the parent, who prints it the way Python
//! does.
//!
//! Every wait is bounded: the parent waits at most 10 s for the message,
//! looking every 100 ms whether the child is still alive, so a child that
//! dies before it puts anything ends the program with an error naming its
//! exit code (Python's `q.get()` would wait for ever).
//!
//! Run with `cargo run --example queue_child`. It prints
//! `[42, None, 'hello']` and then how the child exited (code 0).
//!
//! With the crate's `serde` feature (`cargo run --example queue_child
//! --features serde`), the child also puts a typed Rust tuple
//! `(42, None, "hello")` with [`ByteQueue::put_value`], which encodes it
//! with postcard (the crate's counterpart of pickling), and the parent
//! takes it back with [`ByteQueue::get_value_timeout`].

use serde_json::{json, Value};
use shmsync::{ByteQueue, GetError, Process};
use std::error::Error;
use std::time::{Duration, Instant};

/// The longest the parent waits for the child's message, or for its exit.
const PATIENCE: Duration = Duration::from_secs(10);

/// The child's work: Python's `f(q)`.
fn f(q: &ByteQueue) -> Result<(), Box<dyn Error>> {
    let list = json!([42, null, "hello"]);
    q.put_timeout(&serde_json::to_vec(&list)?, PATIENCE)?;
    #[cfg(feature = "serde")]
    q.put_value_timeout(&(42u32, None::<String>, "hello"), PATIENCE)?;
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    // Room for a few messages (rounded up to a power of two).
    let q = ByteQueue::new(4096)?;
    let p = Process::builder().name("f").spawn(|| {
        if let Err(e) = f(&q) {
            eprintln!("child: {e}");
            std::process::exit(1);
        }
    })?;

    let msg = get_from_child(&q, &p)?;
    let list: Value = serde_json::from_slice(&msg)?;
    println!("{}", python_repr(&list));

    #[cfg(feature = "serde")]
    {
        let typed: (u32, Option<String>, String) = q.get_value_timeout(PATIENCE)?;
        println!("{typed:?} (a typed tuple, postcard-encoded by put_value)");
    }

    let code = p
        .join_timeout(PATIENCE)?
        .ok_or("the child did not exit within 10 s of putting its message")?;
    println!("{} (pid {}) exited with {code}", p.name(), p.pid());
    if code != 0 {
        return Err(format!("the child failed with exit code {code}").into());
    }
    Ok(())
}

/// `q.get()`, bounded: waits in slices of 100 ms, and between them looks
/// whether `child` has exited without putting anything.
fn get_from_child(q: &ByteQueue, child: &Process) -> Result<Vec<u8>, Box<dyn Error>> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match q.get_timeout(Duration::from_millis(100)) {
            Ok(msg) => return Ok(msg),
            Err(GetError::Timeout) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(code) = child.exitcode() {
            // It may have put its message just before it exited.
            return q.try_get().map_err(|_| {
                format!("the child exited with code {code} without putting anything").into()
            });
        }
        if Instant::now() >= deadline {
            return Err("no message from the child within 10 s".into());
        }
    }
}

/// How Python's `print` shows the same value: `None`, `True`, quoted
/// strings in single quotes, lists in brackets.
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
