//! `JoinableQueue`: a [`Queue`] whose consumers say when each item is done,
//! and `join`, which waits until all are.
//!
//! The unfinished count is not a counter of its own that every put would
//! have to update (and a producer killed between its commit and that update
//! would leave wrong): it is derived from the ring's commit counter, which
//! a put advances in the same store that publishes the item. Unfinished =
//! items ever committed − `task_done` calls ever, both wrapping `u32`s.
//! After an immediate shutdown the items left in the ring count as done,
//! as in Python: the count is then items ever taken − `task_done` calls
//! (clamped at 0, as Python clamps).

use super::error::TaskDoneTooManyTimes;
use super::pod::Queue;
use crate::api::error::Error;
use crate::ring::IMMEDIATE;
use crate::shm::Segment;
use crate::Deadline;
use bytemuck::Pod;
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A [`Queue`] with Python's `task_done` and `join`: producers can wait
/// until every item put has been processed.
///
/// It derefs to [`Queue`] for `put`, `get` and the rest.
///
/// # A worker that dies holding an item
///
/// As in Python, an item that a worker got and never marked done keeps
/// `join` waiting: nothing can tell "still working on it" from "died
/// working on it" without knowing the workers. What a caller can do:
/// [`join`](JoinableQueue::join) with a timeout and check on the workers
/// (e.g. [`Process::is_alive`](crate::Process::is_alive)) when it times
/// out; count live workers and stop waiting when none is left; or have a
/// supervisor that sees a worker die call
/// [`task_done`](JoinableQueue::task_done) for the item it held (and put
/// it again, if it must be redone).
///
/// # Examples
///
/// ```
/// use shmsync::{JoinableQueue, Process};
/// use std::time::Duration;
///
/// let q = JoinableQueue::<u32>::new(8)?;
/// let worker = Process::spawn(|| {
///     while let Ok(job) = q.get() {
///         let _ = job * 2; // the work
///         q.task_done().unwrap();
///     }
/// })?;
/// for job in 0..20 {
///     q.put(job)?;
/// }
/// assert!(q.join(Some(Duration::from_secs(10))));
/// assert_eq!(q.unfinished_tasks(), 0);
/// q.shutdown(false);
/// assert_eq!(worker.join()?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct JoinableQueue<T: Pod> {
    queue: Queue<T>,
}

impl<T: Pod> JoinableQueue<T> {
    /// An empty queue of at most `capacity` items in its own shared
    /// mapping.
    ///
    /// # Errors
    ///
    /// As [`Queue::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::JoinableQueue::<u32>::new(8)?;
    /// assert_eq!(q.capacity(), 8);
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn new(capacity: usize) -> Result<JoinableQueue<T>, Error> {
        Ok(JoinableQueue {
            queue: Queue::new(capacity)?,
        })
    }

    /// The joinable queue called `name` in `segment`; see
    /// [`Queue::get_or_init_in`]. A [`Queue`] and a `JoinableQueue` of the
    /// same `T` and capacity may open the same object.
    ///
    /// # Errors
    ///
    /// As [`Queue::get_or_init_in`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{JoinableQueue, Queue, Segment};
    /// use std::time::Duration;
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let jobs = JoinableQueue::<u32>::get_or_init_in(&seg, "jobs", 8)?;
    /// let plain = Queue::<u32>::open_in(&seg, "jobs", 8)?;
    /// plain.put(1)?;
    /// assert_eq!(jobs.unfinished_tasks(), 1);
    /// jobs.get()?;
    /// jobs.task_done()?;
    /// assert!(jobs.join(Some(Duration::from_secs(1))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn get_or_init_in(segment: &Segment, name: &str, capacity: usize) -> Result<Self, Error> {
        Ok(JoinableQueue {
            queue: Queue::get_or_init_in(segment, name, capacity)?,
        })
    }

    /// The joinable queue called `name` in `segment`, made by another
    /// process; see [`Queue::open_in`].
    ///
    /// # Errors
    ///
    /// As [`Queue::open_in`].
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{JoinableQueue, Segment};
    ///
    /// let seg = Segment::anonymous(64 * 1024)?;
    /// let made = JoinableQueue::<u32>::get_or_init_in(&seg, "jobs", 8)?;
    /// let found = JoinableQueue::<u32>::open_in(&seg, "jobs", 8)?; // another process would
    /// made.put(1)?;
    /// assert_eq!(found.unfinished_tasks(), 1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn open_in(segment: &Segment, name: &str, capacity: usize) -> Result<Self, Error> {
        Ok(JoinableQueue {
            queue: Queue::open_in(segment, name, capacity)?,
        })
    }

    /// Python's `task_done()`: one item taken from the queue has been
    /// processed.
    ///
    /// # Errors
    ///
    /// [`TaskDoneTooManyTimes`] if every item put is already done.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::JoinableQueue::<u8>::new(2)?;
    /// q.put(1)?;
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.task_done().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneTooManyTimes> {
        let meta = &self.queue.ring.state().meta;
        // Relaxed: the CAS below decides; the reads it is checked against
        // (the commit counters) are Acquire.
        let mut done = meta.tasks_done.load(Ordering::Relaxed);
        loop {
            let unfinished = self.unfinished_given(done);
            if unfinished == 0 {
                return Err(TaskDoneTooManyTimes);
            }
            // AcqRel: Release pairs with the Acquire load in
            // `unfinished_tasks` of a joiner, which then sees the work
            // done before this call; Acquire orders this call after the
            // previous ones.
            match meta.tasks_done.compare_exchange_weak(
                done,
                done.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if unfinished == 1 {
                        meta.joined.notify();
                    }
                    return Ok(());
                }
                Err(now) => done = now,
            }
        }
    }

    /// Items put and not yet marked done (a snapshot): Python's
    /// `unfinished_tasks`.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = shmsync::JoinableQueue::<u8>::new(4)?;
    /// q.put(1)?;
    /// q.put(2)?;
    /// q.get()?;
    /// assert_eq!(q.unfinished_tasks(), 2, "taken is not done");
    /// q.task_done()?;
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        // Acquire: pairs with the Release of `task_done`.
        let done = self
            .queue
            .ring
            .state()
            .meta
            .tasks_done
            .load(Ordering::Acquire);
        self.unfinished_given(done) as usize
    }

    fn unfinished_given(&self, done: u32) -> u32 {
        let ring = self.queue.ring.raw();
        // The state first: an immediate shutdown seen here has stopped the
        // gets, whose counter is then final but for gets under way.
        let reference = if ring.state() & IMMEDIATE != 0 {
            // Acquire: pairs with the consumers' Release commits.
            ring.head.load(Ordering::Acquire)
        } else {
            // Acquire: pairs with the producers' Release commits.
            ring.tail.load(Ordering::Acquire)
        };
        let unfinished = reference.wrapping_sub(done) as i32;
        unfinished.max(0) as u32
    }

    /// Python's `join()`: waits until every item put has been marked done,
    /// at most `timeout` (`None`: as long as it takes); returns whether
    /// they all are. Returns at once if none is unfinished.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let q = shmsync::JoinableQueue::<u8>::new(4)?;
    /// assert!(q.join(Some(Duration::ZERO)), "nothing unfinished");
    /// q.put(1)?;
    /// assert!(!q.join(Some(Duration::from_millis(5))));
    /// q.get()?;
    /// q.task_done()?;
    /// assert!(q.join(Some(Duration::from_secs(1))));
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn join(&self, timeout: Option<Duration>) -> bool {
        let deadline = match timeout {
            None => Deadline::NEVER,
            Some(t) => Deadline::after(t),
        };
        // The sleeper's heavy fence must reach the task_done callers' light
        // ones (see `sys::barrier`).
        crate::shim::register_fences();
        let meta = &self.queue.ring.state().meta;
        meta.joined
            .wait_until(deadline, None, || self.unfinished_tasks() == 0);
        self.unfinished_tasks() == 0
    }

    /// The plain queue.
    ///
    /// # Examples
    ///
    /// ```
    /// use shmsync::{JoinableQueue, Queue};
    ///
    /// let q = JoinableQueue::<u8>::new(4)?;
    /// let plain: Queue<u8> = q.queue().clone();
    /// plain.put(1)?;
    /// assert_eq!(q.unfinished_tasks(), 1, "a put through the plain queue counts too");
    /// # Ok::<(), shmsync::Error>(())
    /// ```
    pub fn queue(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T: Pod> Deref for JoinableQueue<T> {
    type Target = Queue<T>;

    fn deref(&self) -> &Queue<T> {
        &self.queue
    }
}

impl<T: Pod> Clone for JoinableQueue<T> {
    fn clone(&self) -> Self {
        JoinableQueue {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Pod> fmt::Debug for JoinableQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinableQueue")
            .field("qsize", &self.qsize())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish()
    }
}
