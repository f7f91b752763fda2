//! `wait_queues`: sleeping until any of several queues has something to
//! get, as Python programs do with
//! `multiprocessing.connection.wait([q._reader, ...])`.
//!
//! The sleep is the rings' multi-wait (`ring::multi`): each ring's data
//! signal is announced, one heavy fence covers them all, and the thread
//! sleeps on every signal word at once (`futex_waitv` on the futex backend;
//! elsewhere on the first ring, in slices, looking at the others between
//! slices). Any put, and any shutdown, on any of the queues ends it. Nothing
//! is taken: a queue found ready may be emptied by another consumer before
//! this one gets, so the caller gets without waiting and waits again if it
//! found nothing.

use super::bytes::ByteQueue;
use super::joinable::JoinableQueue;
use super::pod::Queue;
use super::simple::SimpleQueue;
use crate::ring::{wait_for_any_data, RawRing};
use crate::Deadline;
use bytemuck::Pod;
use std::time::Duration;

mod sealed {
    /// The ring under a queue: what [`super::wait_queues`] looks at.
    pub trait Sealed {
        fn raw_ring(&self) -> &super::RawRing;
    }
}

/// A queue that [`wait_queues`] can wait on: [`Queue`], [`ByteQueue`],
/// [`JoinableQueue`] and [`SimpleQueue`] (sealed: other types cannot
/// implement it).
///
/// # Examples
///
/// A list of queues of different types:
///
/// ```
/// use shmsync::{ByteQueue, Queue, Waitable};
///
/// let numbers = Queue::<u64>::new(16)?;
/// let texts = ByteQueue::new(4096)?;
/// let all: [&dyn Waitable; 2] = [&numbers, &texts];
/// texts.put(b"hi")?;
/// assert!(!all[0].is_ready());
/// assert!(all[1].is_ready());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Waitable: sealed::Sealed {
    /// Whether a get would return now without waiting for a message (a
    /// snapshot): a message is there, or the queue was shut down (the get
    /// then drains what is left, or fails at once), or a peer wrote over
    /// its counters (the get fails at once with `Corrupted`).
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{Queue, Waitable};
    ///
    /// let q = Queue::<u8>::new(4)?;
    /// assert!(!q.is_ready());
    /// q.shutdown(false);
    /// assert!(q.is_ready(), "a get fails at once: nothing to wait for");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    fn is_ready(&self) -> bool {
        self.raw_ring().is_ready_to_get()
    }
}

impl<T: Pod> sealed::Sealed for Queue<T> {
    fn raw_ring(&self) -> &RawRing {
        self.ring.raw()
    }
}
impl<T: Pod> Waitable for Queue<T> {}

impl sealed::Sealed for ByteQueue {
    fn raw_ring(&self) -> &RawRing {
        self.ring.raw()
    }
}
impl Waitable for ByteQueue {}

impl<T: Pod> sealed::Sealed for JoinableQueue<T> {
    fn raw_ring(&self) -> &RawRing {
        self.queue().ring.raw()
    }
}
impl<T: Pod> Waitable for JoinableQueue<T> {}

impl<T: Pod> sealed::Sealed for SimpleQueue<T> {
    fn raw_ring(&self) -> &RawRing {
        self.queue().ring.raw()
    }
}
impl<T: Pod> Waitable for SimpleQueue<T> {}

/// Waits until at least one of `queues` is ready to get from
/// ([`Waitable::is_ready`]), or `timeout` runs out, and returns the
/// positions of the ready ones in `queues`, in order. `None` waits as long
/// as it takes; an empty result means the time ran out.
///
/// This is Python's `multiprocessing.connection.wait` over queues'
/// readers: a worker that serves a task queue and a control queue, or a
/// consumer of several producers' queues, sleeps in the kernel until any
/// of them has a message, never in a busy loop. It takes nothing: with
/// several consumers on one queue, another may get the message first, so
/// get without waiting ([`Queue::try_get`]) and wait again if it finds
/// nothing. A queue is ready after a shutdown too: its gets no longer wait.
/// With no queues it sleeps until the timeout (for ever with `None`, as
/// Python's does).
///
/// # Examples
///
/// ```
/// use shmsync::{wait_queues, ByteQueue, GetError, Process, Queue};
/// use std::time::Duration;
///
/// let tasks = Queue::<u64>::new(64)?;
/// let control = ByteQueue::new(4096)?;
/// let child = Process::spawn(|| control.put(b"stop").unwrap())?;
/// loop {
///     let ready = wait_queues(&[&tasks, &control], Some(Duration::from_secs(10)));
///     assert!(!ready.is_empty(), "nothing came in 10 s");
///     if ready.contains(&0) {
///         match tasks.try_get() {
///             Ok(task) => println!("task {task}"),
///             Err(GetError::Empty) => {} // another worker took it
///             Err(e) => return Err(e.into()),
///         }
///     }
///     if ready.contains(&1) && control.try_get()? == b"stop" {
///         break;
///     }
/// }
/// assert_eq!(child.join()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wait_queues(queues: &[&dyn Waitable], timeout: Option<Duration>) -> Vec<usize> {
    let deadline = timeout.map_or(Deadline::NEVER, Deadline::after);
    let ready = || queues.iter().any(|q| q.is_ready());
    if queues.is_empty() {
        // Nothing can become ready: the whole wait is the timeout.
        std::thread::sleep(deadline.remaining());
        return Vec::new();
    }
    let rings: Vec<&RawRing> = queues.iter().map(|q| q.raw_ring()).collect();
    wait_for_any_data(&rings, deadline, ready);
    queues
        .iter()
        .enumerate()
        .filter(|(_, q)| q.is_ready())
        .map(|(at, _)| at)
        .collect()
}
