//! Twenty processes print one line each, one at a time, under a `Lock`.
//!
//! ```python
//! from multiprocessing import Process, Lock
//!
//! def l(lock, num):
//!     lock.acquire()
//!     print("Hello Num: %s" % (num))
//!     lock.release()
//!
//! if __name__ == '__main__':
//!     lock = Lock()
//!     for num in range(20):
//!         Process(target=l, args=(lock, num)).start()
//! ```
//!
//! Run with `cargo run --example lock_print`. Each child writes its whole
//! line with one `write` while it holds the lock, so no two lines mix.

use shmsync::{Lock, Process};
use std::io::Write;

fn l(lock: &Lock, num: u32) {
    lock.acquire(true, None).expect("no holder dies here");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "Hello Num: {num}");
    let _ = out.flush();
    drop(out);
    lock.release().expect("this process holds the lock");
}

fn main() -> Result<(), shmsync::Error> {
    let lock = Lock::new()?;
    let children = (0..20)
        .map(|num| Process::spawn(|| l(&lock, num)))
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        assert_eq!(child.join()?, 0, "{} failed", child.name());
    }
    Ok(())
}
