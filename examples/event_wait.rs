//! Processes wait for an `Event` that another process sets.
//!
//! Python's `multiprocessing.Event` (a clone of `threading.Event`): a flag,
//! false at first, that `set()` makes true; `wait(timeout)` blocks until it
//! is true or the timeout runs out. Run with
//! `cargo run --example event_wait`.

use shmsync::{Event, Process};
use std::time::{Duration, Instant};

fn main() -> Result<(), shmsync::Error> {
    let ready = Event::new()?;
    let waiters = (0..3)
        .map(|i| {
            Process::spawn(|| {
                let start = Instant::now();
                assert!(ready.wait(Some(Duration::from_secs(30))), "never set");
                println!("waiter {i} saw the event after {:?}", start.elapsed());
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    assert!(
        !ready.wait(Some(Duration::from_millis(20))),
        "nobody set it yet"
    );
    let setter = Process::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        println!("setter: set");
        ready.set();
    })?;
    assert_eq!(setter.join()?, 0);
    for w in &waiters {
        assert_eq!(w.join()?, 0);
    }
    assert!(ready.is_set());
    ready.clear();
    assert!(!ready.is_set());
    Ok(())
}
