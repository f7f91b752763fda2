//! `Event`: Python's `multiprocessing.Event` as a handle to a [`RawEvent`]
//! in shared memory.

use super::error::{opened_as, Error};
use crate::raw::RawEvent;
use crate::shm::{Segment, Shared};
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
    /// [`Error::Segment`] if the mapping fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = shmsync::Event::new()?;
    /// assert!(!event.is_set());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new() -> Result<Event, Error> {
        Ok(Event {
            raw: Shared::new(RawEvent::new())?,
        })
    }

    /// Wraps an event that already lives in shared memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::raw::RawEvent;
    /// use shmsync::{Event, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let ready = Event::from_shared(segment.get_or_init("ready", RawEvent::new)?);
    /// let same = Event::from_shared(segment.get_or_init("ready", RawEvent::new)?);
    /// ready.set();
    /// assert!(same.is_set());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn from_shared(raw: Shared<RawEvent>) -> Event {
        Event { raw }
    }

    /// The event called `name` in `segment`, made clear if no process has
    /// made it yet: how unrelated processes share an event. Short for
    /// [`from_shared`](Event::from_shared) of [`Segment::get_or_init`].
    ///
    /// # Errors
    ///
    /// [`Error::Segment`] as for [`Segment::get_or_init`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Event, Segment};
    ///
    /// let segment = Segment::anonymous(Segment::MIN_SIZE + 4096)?;
    /// let ready = Event::open_in(&segment, "ready")?; // each process does this
    /// Event::open_in(&segment, "ready")?.set();
    /// assert!(ready.is_set());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str) -> Result<Event, Error> {
        Ok(Event::from_shared(
            segment
                .get_or_init(name, RawEvent::new)
                .map_err(opened_as("shmsync::Event"))?,
        ))
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let go = shmsync::Event::new()?;
    /// std::thread::scope(|s| {
    ///     let wait = || go.wait(Some(Duration::from_secs(5)));
    ///     let waiters = [s.spawn(wait), s.spawn(wait)];
    ///     go.set();
    ///     for waiter in waiters {
    ///         assert!(waiter.join().expect("no panic"), "woken, not timed out");
    ///     }
    /// });
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn set(&self) {
        self.raw.set();
    }

    /// Clears the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = shmsync::Event::new()?;
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// assert!(!event.wait(Some(Duration::from_millis(1))), "waits again");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn clear(&self) {
        self.raw.clear();
    }

    /// Whether the flag is set (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Event, Process};
    ///
    /// let event = Event::new()?;
    /// let child = Process::spawn(|| event.set())?;
    /// assert_eq!(child.join()?, 0);
    /// assert!(event.is_set(), "set in the child, seen here");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn is_set(&self) -> bool {
        self.raw.is_set()
    }

    /// Python's `wait(timeout=None)`: waits until the flag is set (at once
    /// if it is) or `timeout` runs out, and returns the flag: false only
    /// after a time-out with the flag still clear.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = shmsync::Event::new()?;
    /// assert!(!event.wait(Some(Duration::from_millis(5))), "timed out");
    /// event.set();
    /// assert!(event.wait(None), "set: returns at once");
    /// assert!(event.wait(Some(Duration::ZERO)));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::Event;
    ///
    /// let event = Event::new()?;
    /// event.raw().set();
    /// assert!(event.is_set());
    /// let again = Event::from_shared(event.raw().clone()); // another handle
    /// again.clear();
    /// assert!(!event.is_set());
    /// # Ok::<(), shmsync::Error>(())
    /// ```
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
