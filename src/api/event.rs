//! `Event`: Python's `multiprocessing.Event` as a handle to a [`RawEvent`]
//! in shared memory.

use super::error::Error;
use crate::raw::RawEvent;
use crate::shm::Shared;
use std::fmt;
use std::time::Duration;

/// A flag that processes set, clear and wait for.
///
/// # Examples
///
/// ```
/// use shmsync::{Event, Process};
/// use std::time::Duration;
///
/// let ready = Event::new()?;
/// let child = Process::spawn(|| ready.set())?;
/// assert!(ready.wait(Some(Duration::from_secs(10))));
/// assert_eq!(child.join()?, 0);
/// ready.clear();
/// assert!(!ready.wait(Some(Duration::from_millis(1))));
/// # Ok::<(), shmsync::Error>(())
/// ```
#[derive(Clone)]
pub struct Event {
    raw: Shared<RawEvent>,
}

impl Event {
    /// A cleared event in its own shared mapping.
    ///
    /// # Errors
    ///
    /// [`Error::Os`] if the mapping fails.
    pub fn new() -> Result<Event, Error> {
        Ok(Event {
            raw: Shared::new(RawEvent::new())?,
        })
    }

    /// Wraps an event that already lives in shared memory.
    pub fn from_shared(raw: Shared<RawEvent>) -> Event {
        Event { raw }
    }

    /// Sets the flag and wakes every waiter.
    pub fn set(&self) {
        self.raw.set();
    }

    /// Clears the flag.
    pub fn clear(&self) {
        self.raw.clear();
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.raw.is_set()
    }

    /// Python's `wait(timeout=None)`: waits until the flag is set (at once
    /// if it is) or `timeout` runs out, and returns the flag: false only
    /// after a time-out with the flag still clear.
    pub fn wait(&self, timeout: Option<Duration>) -> bool {
        match timeout {
            None => {
                self.raw.wait();
                true
            }
            Some(timeout) => self.raw.wait_for(timeout),
        }
    }

    /// The raw event in shared memory.
    pub fn raw(&self) -> &Shared<RawEvent> {
        &self.raw
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("set", &self.is_set())
            .finish()
    }
}
