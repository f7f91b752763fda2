//! Python's first `multiprocessing` example: start a process that greets,
//! and wait for it.
//!
//! ```python
//! from multiprocessing import Process
//!
//! def f(name):
//!     print('hello', name)
//!
//! if __name__ == '__main__':
//!     p = Process(target=f, args=('bob',))
//!     p.start()
//!     p.join()
//! ```
//!
//! Run with `cargo run --example hello_process`.

use shmsync::Process;

fn f(name: &str) {
    println!(
        "hello {name} (I am {}, pid {}, child of {})",
        Process::current_name(),
        std::process::id(),
        std::os::unix::process::parent_id()
    );
}

fn main() -> Result<(), shmsync::Error> {
    let p = Process::builder().name("greeter").spawn(|| f("bob"))?;
    let code = p.join()?;
    println!("{} (pid {}) exited with {code}", p.name(), p.pid());
    assert_eq!(code, 0);
    Ok(())
}
