//! Loom models of `RawEvent`: `set` releases every waiter, and no mix of
//! `set` and `clear` strands one.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use shmsync::raw::RawEvent;

#[test]
fn set_releases_every_waiter() {
    loom::model(|| {
        let event = Arc::new(RawEvent::new());
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let event = event.clone();
                thread::spawn(move || event.wait())
            })
            .collect();
        event.set();
        for t in waiters {
            t.join().unwrap();
        }
        assert!(event.is_set());
    });
}

/// `set`, `clear`, `set` racing with a waiter going to sleep: whatever
/// the waiter saw of the first set and the clear, it is not stranded.
/// (Whether a set-then-clear alone releases a waiter depends on whether it
/// had begun waiting, which loom cannot observe; `tests/event.rs` pins
/// that down across processes.)
#[test]
fn set_clear_set_never_strands_a_waiter() {
    loom::model(|| {
        let event = Arc::new(RawEvent::new());
        let waiter = {
            let event = event.clone();
            thread::spawn(move || event.wait())
        };
        event.set();
        event.clear();
        event.set();
        waiter.join().unwrap();
        assert!(event.is_set());
    });
}
