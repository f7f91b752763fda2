//! A pool of four worker processes, built on two shared-memory `Queue`s
//! and `Process`: Python's `multiprocessing.Pool` example, then a worker
//! killed in the middle of a task, which the pool replaces.
//!
//! ```python
//! from multiprocessing import Pool, TimeoutError
//! import time, os
//!
//! def f(x):
//!     return x*x
//!
//! if __name__ == '__main__':
//!     with Pool(processes=4) as pool:
//!         print(pool.map(f, range(10)))            # [0, 1, 4, ..., 81]
//!         for i in pool.imap_unordered(f, range(10)):
//!             print(i)
//!         res = pool.apply_async(f, (20,))
//!         print(res.get(timeout=1))                # 400
//!         res = pool.apply_async(os.getpid, ())
//!         print(res.get(timeout=1))                # a worker's pid
//!         multiple_results = [pool.apply_async(os.getpid, ()) for i in range(4)]
//!         print([res.get(timeout=1) for res in multiple_results])
//!         res = pool.apply_async(time.sleep, (10,))
//!         try:
//!             print(res.get(timeout=1))
//!         except TimeoutError:
//!             print("We lacked patience and got a multiprocessing.TimeoutError")
//!         print("For the moment, the pool remains available for more work")
//!     print("Now the pool is closed and no longer available")
//! ```
//!
//! The `Pool` below is the example's own, about as small as Python's idea
//! of one: a task queue (parent to workers: `Task`s, plain data), a result
//! queue (workers to parent: `Done`s) and four forked daemon workers that
//! take tasks until the task queue is shut down. The functions a worker can
//! run are named by a number in the task (`Func`), as Python's pickle names
//! them by module and name. `map` gives results in order, `imap_unordered`
//! as they come, `apply_async(..).get(timeout)` one result or `Timeout`
//! (Python's `multiprocessing.TimeoutError`); the task that timed out keeps
//! its worker busy, and the pool goes on with the three others.
//!
//! Beyond Python: each worker writes the id of the task it runs into a
//! shared array. Whenever the parent waits for results it waits on the
//! result queue in slices of 50 ms and, between them, asks every worker's
//! `Process` whether it has exited. The example kills one worker with
//! `SIGKILL` while it runs a task of a `map`; the pool notices within those
//! 50 ms, starts a new worker in its place, puts the lost task back on the
//! queue, and the `map` still returns every result. (Python's own `Pool`
//! would wait for the lost result for ever; `concurrent.futures` gives up
//! with `BrokenProcessPool`.) Results are matched to tasks by id and a
//! duplicate is dropped, so a task may safely run twice: a worker killed
//! after putting its result but before clearing its entry is re-run, and
//! one killed between taking a task and recording it (a window of a few
//! instructions) makes the pool put back every task no live worker is
//! running.
//!
//! Closing the pool shuts the task queue down, dropping the tasks no worker
//! has taken (idle workers exit at once, with code 0), waits half a second
//! for the busy ones to finish, then kills the stragglers: the worker still
//! in its ten-second `sleep`, as Python's `with` block (which calls
//! `terminate()`) does.
//!
//! Every wait is bounded: a result the pool does not get within its
//! timeout, a worker that does not exit, a queue that stays full, each ends
//! the program with an error and a nonzero exit code, never a hang.
//!
//! Run with `cargo run --example pool`. It takes about two seconds and
//! prints what Python prints (the pids differ), then the killed worker's
//! story and how each worker ended.

use bytemuck::{Pod, Zeroable};
use shmsync::{AtomicArray, GetError, Process, Queue};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The longest anything the pool does for itself may take (a `map`, a
/// put on a full queue, a worker's exit after `SIGKILL`).
const PATIENCE: Duration = Duration::from_secs(10);

/// How long the parent waits on the result queue before it looks at the
/// workers' processes again.
const CHECK_EVERY: Duration = Duration::from_millis(50);

/// How long `close` lets busy workers finish before it kills them.
const GRACE: Duration = Duration::from_millis(500);

/// How long the slow `f` of the crash demonstration takes per call.
const SLOW_MS: u64 = 100;

/// What a worker can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Func {
    /// Python's `f(x)`: `x * x`.
    Square = 1,
    /// Python's `os.getpid()`.
    GetPid = 2,
    /// Python's `time.sleep(x)`, in milliseconds here.
    SleepMs = 3,
    /// `f(x)` that takes [`SLOW_MS`]: long enough to be killed in.
    SlowSquare = 4,
}

impl Func {
    /// The function a task names; `None` for a number no `Func` has.
    fn from_u32(kind: u32) -> Option<Func> {
        [Func::Square, Func::GetPid, Func::SleepMs, Func::SlowSquare]
            .into_iter()
            .find(|&f| f as u32 == kind)
    }
}

/// A task, parent to worker: plain data, copied byte for byte through the
/// queue (no padding, so `Pod`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Task {
    /// From 1 up; 0 means "no task" in the workers' `running` array.
    id: u64,
    /// A [`Func`].
    kind: u32,
    _pad: u32,
    arg: u64,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id;
        match Func::from_u32(self.kind) {
            Some(Func::Square) => write!(f, "task #{id}: f({})", self.arg),
            Some(Func::GetPid) => write!(f, "task #{id}: os.getpid()"),
            Some(Func::SleepMs) => write!(f, "task #{id}: time.sleep({} s)", self.arg / 1000),
            Some(Func::SlowSquare) => write!(f, "task #{id}: slow f({})", self.arg),
            None => write!(f, "task #{id}: unknown function {}", self.kind),
        }
    }
}

/// A result, worker to parent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
struct Done {
    id: u64,
    value: u64,
    /// The worker's pid.
    pid: u32,
    /// [`OK`] or [`UNKNOWN_FUNCTION`].
    status: u32,
}

const OK: u32 = 0;
const UNKNOWN_FUNCTION: u32 = 1;

/// Why a result did not come.
#[derive(Debug)]
enum PoolError {
    /// Python's `multiprocessing.TimeoutError`: not within the timeout.
    /// The task stays in the pool; its result may still come.
    Timeout,
    /// The worker could not run the task.
    Task(String),
    /// The queues or the processes failed.
    Pool(Box<dyn Error>),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Timeout => f.write_str("timed out waiting for a result"),
            PoolError::Task(what) => write!(f, "the task failed: {what}"),
            PoolError::Pool(e) => write!(f, "pool failure: {e}"),
        }
    }
}

impl Error for PoolError {}

impl PoolError {
    fn pool(e: impl Into<Box<dyn Error>>) -> PoolError {
        PoolError::Pool(e.into())
    }
}

/// The workers' side: take tasks until the queue is shut down.
fn worker(tasks: &Queue<Task>, results: &Queue<Done>, running: &AtomicU64) -> Result<(), String> {
    let pid = std::process::id();
    loop {
        let task = match tasks.get_timeout(Duration::from_secs(1)) {
            Ok(task) => task,
            // Idle. A daemon: if the parent dies, the kernel kills us.
            Err(GetError::Timeout) => continue,
            Err(GetError::ShutDown) => return Ok(()),
            Err(e) => return Err(format!("task queue: {e}")),
        };
        // The parent reads this entry after reaping us (or to pick a
        // worker to kill): SeqCst, the plain choice.
        running.store(task.id, Ordering::SeqCst);
        let (value, status) = match Func::from_u32(task.kind) {
            Some(Func::Square) => (task.arg.wrapping_mul(task.arg), OK),
            Some(Func::GetPid) => (u64::from(pid), OK),
            Some(Func::SleepMs) => {
                std::thread::sleep(Duration::from_millis(task.arg));
                (0, OK)
            }
            Some(Func::SlowSquare) => {
                std::thread::sleep(Duration::from_millis(SLOW_MS));
                (task.arg.wrapping_mul(task.arg), OK)
            }
            None => (0, UNKNOWN_FUNCTION),
        };
        let done = Done {
            id: task.id,
            value,
            pid,
            status,
        };
        results
            .put_timeout(done, PATIENCE)
            .map_err(|e| format!("result queue: {e}"))?;
        running.store(0, Ordering::SeqCst);
    }
}

/// One worker process of the pool.
struct Worker {
    process: Process,
}

/// What the parent keeps about the pool.
struct State {
    /// Index = the worker's entry in `running`.
    workers: Vec<Worker>,
    /// Workers ever started: names them, as Python's `ForkPoolWorker-N`.
    started: u32,
    next_id: u64,
    /// Tasks put and not answered yet.
    outstanding: HashMap<u64, Task>,
    /// Answers not collected yet.
    ready: HashMap<u64, Done>,
    /// Results that came twice (a task re-run after a death), dropped.
    duplicates: u32,
    last_check: Instant,
}

/// A pool of worker processes.
struct Pool {
    tasks: Queue<Task>,
    results: Queue<Done>,
    /// Per worker: the id of the task it runs, 0 when it runs none.
    running: AtomicArray<u64>,
    state: RefCell<State>,
}

impl Pool {
    /// `Pool(processes=n)`.
    fn new(processes: usize) -> Result<Pool, PoolError> {
        let pool = Pool {
            tasks: Queue::new(256).map_err(PoolError::pool)?,
            results: Queue::new(256).map_err(PoolError::pool)?,
            running: AtomicArray::new(processes).map_err(PoolError::pool)?,
            state: RefCell::new(State {
                workers: Vec::with_capacity(processes),
                started: 0,
                next_id: 1,
                outstanding: HashMap::new(),
                ready: HashMap::new(),
                duplicates: 0,
                last_check: Instant::now(),
            }),
        };
        for slot in 0..processes {
            let worker = pool.start_worker(slot, &mut pool.state.borrow_mut().started)?;
            pool.state.borrow_mut().workers.push(worker);
        }
        Ok(pool)
    }

    /// Forks the worker for entry `slot` of `running`.
    fn start_worker(&self, slot: usize, started: &mut u32) -> Result<Worker, PoolError> {
        *started += 1;
        let running = &self.running.as_slice()[slot];
        running.store(0, Ordering::SeqCst);
        let process = Process::builder()
            .name(format!("ForkPoolWorker-{started}"))
            .daemon(true)
            .spawn(|| {
                if let Err(e) = worker(&self.tasks, &self.results, running) {
                    eprintln!("{}: {e}", Process::current_name());
                    std::process::exit(1);
                }
            })
            .map_err(PoolError::pool)?;
        Ok(Worker { process })
    }

    /// Puts a task on the queue; returns its id.
    fn submit(&self, func: Func, arg: u64) -> Result<u64, PoolError> {
        let task = {
            let mut state = self.state.borrow_mut();
            let id = state.next_id;
            state.next_id += 1;
            let task = Task {
                id,
                kind: func as u32,
                _pad: 0,
                arg,
            };
            state.outstanding.insert(id, task);
            task
        };
        self.tasks
            .put_timeout(task, PATIENCE)
            .map_err(PoolError::pool)?;
        Ok(task.id)
    }

    /// Submits `func` once per argument; the task ids, in whatever
    /// collection the caller keeps them.
    fn submit_all<C: FromIterator<u64>>(
        &self,
        func: Func,
        args: impl IntoIterator<Item = u64>,
    ) -> Result<C, PoolError> {
        args.into_iter().map(|arg| self.submit(func, arg)).collect()
    }

    /// `pool.map(f, args)`: every result, in the order of `args`.
    fn map(&self, func: Func, args: impl IntoIterator<Item = u64>) -> Result<Vec<u64>, PoolError> {
        self.map_async(func, args)?.get(PATIENCE)
    }

    /// `pool.map_async(f, args)`.
    fn map_async(
        &self,
        func: Func,
        args: impl IntoIterator<Item = u64>,
    ) -> Result<MapResult<'_>, PoolError> {
        let ids = self.submit_all(func, args)?;
        Ok(MapResult { pool: self, ids })
    }

    /// `pool.imap_unordered(f, args)`: the results as they come.
    fn imap_unordered(
        &self,
        func: Func,
        args: impl IntoIterator<Item = u64>,
    ) -> Result<ImapUnordered<'_>, PoolError> {
        let ids = self.submit_all(func, args)?;
        Ok(ImapUnordered {
            pool: self,
            ids,
            deadline: Instant::now() + PATIENCE,
        })
    }

    /// `pool.apply_async(f, (arg,))`.
    fn apply_async(&self, func: Func, arg: u64) -> Result<AsyncResult<'_>, PoolError> {
        Ok(AsyncResult {
            pool: self,
            id: self.submit(func, arg)?,
        })
    }

    /// Takes the answer to task `id` if it has come.
    fn take(&self, id: u64) -> Option<Result<u64, PoolError>> {
        let done = self.state.borrow_mut().ready.remove(&id)?;
        Some(match done.status {
            OK => Ok(done.value),
            _ => Err(PoolError::Task(format!(
                "worker {} knows no such function",
                done.pid
            ))),
        })
    }

    /// The answer to task `id`, waiting for it until `deadline`.
    fn wait_for(&self, id: u64, deadline: Instant) -> Result<u64, PoolError> {
        loop {
            if let Some(answer) = self.take(id) {
                return answer;
            }
            if Instant::now() >= deadline {
                return Err(PoolError::Timeout);
            }
            self.pump(deadline)?;
        }
    }

    /// Waits at most [`CHECK_EVERY`] (and not past `deadline`) for one
    /// result and files it; then, if it is time, looks at the workers.
    fn pump(&self, deadline: Instant) -> Result<(), PoolError> {
        let slice = deadline
            .saturating_duration_since(Instant::now())
            .min(CHECK_EVERY);
        match self.results.get_timeout(slice) {
            Ok(done) => {
                let mut state = self.state.borrow_mut();
                if state.outstanding.remove(&done.id).is_some() {
                    state.ready.insert(done.id, done);
                } else {
                    state.duplicates += 1;
                }
            }
            // (Empty: a zero slice, the deadline has come.)
            Err(GetError::Timeout | GetError::Empty) => {}
            Err(e) => return Err(PoolError::pool(e)),
        }
        let due = self.state.borrow().last_check.elapsed() >= CHECK_EVERY;
        if due {
            self.check_workers()?;
        }
        Ok(())
    }

    /// Replaces every worker that has exited (the pool is open, so none
    /// should have) and puts its task back on the queue.
    fn check_workers(&self) -> Result<(), PoolError> {
        let mut lost = Vec::new();
        let mut unknown_loss = false;
        {
            let mut guard = self.state.borrow_mut();
            let state = &mut *guard;
            state.last_check = Instant::now();
            for slot in 0..state.workers.len() {
                let old = &state.workers[slot].process;
                if old.is_alive() {
                    continue;
                }
                let how = match old.exitcode() {
                    Some(c) if c < 0 => format!("was killed by signal {}", -c),
                    Some(c) => format!("exited with code {c}"),
                    // Reaped by someone else (a stray `waitpid(-1)`).
                    None => "is gone, exit code unknown,".to_string(),
                };
                let task_id = self.running.as_slice()[slot].swap(0, Ordering::SeqCst);
                let doing = match (task_id, state.outstanding.get(&task_id)) {
                    (0, _) => {
                        // Idle, or killed before it recorded its task.
                        unknown_loss = true;
                        "with no task recorded".to_string()
                    }
                    (_, Some(task)) => {
                        lost.push(*task);
                        format!("while running {task}")
                    }
                    // Its result came: killed after putting it.
                    (id, None) => format!("after finishing task #{id}"),
                };
                println!("pool: {} (pid {}) {how} {doing}", old.name(), old.pid());
                let new = self.start_worker(slot, &mut state.started)?;
                println!(
                    "pool: started {} (pid {}) in its place",
                    new.process.name(),
                    new.process.pid()
                );
                state.workers[slot] = new;
            }
            if unknown_loss {
                // Every task not shown running on a live worker may be the
                // lost one: put them all back (duplicates are dropped).
                let busy: HashSet<u64> =
                    self.running.to_vec(Ordering::SeqCst).into_iter().collect();
                lost = state
                    .outstanding
                    .values()
                    .filter(|task| !busy.contains(&task.id))
                    .copied()
                    .collect();
            }
        }
        for task in lost {
            self.tasks
                .put_timeout(task, PATIENCE)
                .map_err(PoolError::pool)?;
            println!("pool: re-submitted {task}");
        }
        Ok(())
    }

    /// The entry of a worker running one of `ids`, and that task's id;
    /// waits for one at most `timeout`.
    fn worker_running_one_of(&self, ids: &[u64], timeout: Duration) -> Option<(usize, u64)> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let running = self.running.to_vec(Ordering::SeqCst);
            if let Some(found) = running
                .into_iter()
                .enumerate()
                .find(|(_, id)| ids.contains(id))
            {
                return Some(found);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        None
    }

    /// Sends `SIGKILL` to the worker of entry `slot`; returns its name and
    /// pid.
    fn kill_worker(&self, slot: usize) -> Result<(String, u32), PoolError> {
        let state = self.state.borrow();
        let process = &state.workers[slot].process;
        process.kill().map_err(PoolError::pool)?;
        Ok((process.name().to_string(), process.pid()))
    }

    /// The live workers' pids.
    fn pids(&self) -> Vec<u32> {
        let state = self.state.borrow();
        state
            .workers
            .iter()
            .filter(|w| w.process.is_alive())
            .map(|w| w.process.pid())
            .collect()
    }

    /// Python's `terminate()` (what its `with` block calls), gently: no
    /// more tasks, those not taken yet are dropped; workers finish what
    /// they run (at most [`GRACE`]) and exit; the others are killed.
    fn close(self) -> Result<(), PoolError> {
        self.tasks.shutdown(true);
        let state = self.state.borrow();
        let deadline = Instant::now() + GRACE;
        let mut failed = Vec::new();
        for (slot, w) in state.workers.iter().enumerate() {
            let p = &w.process;
            let left = deadline.saturating_duration_since(Instant::now());
            let code = match p.join_timeout(left).map_err(PoolError::pool)? {
                Some(code) => {
                    println!("pool: {} (pid {}) exited with {code}", p.name(), p.pid());
                    code
                }
                None => {
                    let id = self.running.load(slot, Ordering::SeqCst).unwrap_or(0);
                    let doing = match state.outstanding.get(&id) {
                        Some(task) => format!("still running {task}"),
                        None => "still running".to_string(),
                    };
                    p.kill().map_err(PoolError::pool)?;
                    let code = p
                        .join_timeout(PATIENCE)
                        .map_err(PoolError::pool)?
                        .ok_or_else(|| PoolError::pool(format!("{} outlived SIGKILL", p.name())))?;
                    println!(
                        "pool: {} (pid {}) {doing} after {GRACE:?}: killed, exit code {code}",
                        p.name(),
                        p.pid()
                    );
                    // Killed on purpose: not a failure.
                    0
                }
            };
            if code != 0 {
                failed.push(format!("{} exited with {code}", p.name()));
            }
        }
        if state.duplicates > 0 {
            println!("pool: {} duplicate result(s) dropped", state.duplicates);
        }
        let mut unfinished: Vec<&Task> = state.outstanding.values().collect();
        unfinished.sort_by_key(|task| task.id);
        for task in unfinished {
            println!("pool: never finished: {task}");
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(PoolError::pool(failed.join("; ")))
        }
    }
}

/// After `close`, nothing is left to do; without it (an early return on an
/// error), or after a `close` that failed half-way: shut the queue down and
/// kill every worker still running, bounded, as Python's `terminate()`.
/// (They are daemons too: they would die with the parent anyway.)
impl Drop for Pool {
    fn drop(&mut self) {
        self.tasks.shutdown(true);
        if let Ok(state) = self.state.try_borrow() {
            for w in state.workers.iter().filter(|w| w.process.is_alive()) {
                let _ = w.process.kill();
                let _ = w.process.join_timeout(Duration::from_secs(1));
            }
        }
    }
}

/// `pool.apply_async(..)`'s answer: Python's `AsyncResult`.
struct AsyncResult<'p> {
    pool: &'p Pool,
    id: u64,
}

impl AsyncResult<'_> {
    /// `res.get(timeout)`.
    fn get(&self, timeout: Duration) -> Result<u64, PoolError> {
        self.pool.wait_for(self.id, Instant::now() + timeout)
    }
}

/// `pool.map_async(..)`'s answer.
struct MapResult<'p> {
    pool: &'p Pool,
    ids: Vec<u64>,
}

impl MapResult<'_> {
    /// Every result in order, all within `timeout`.
    fn get(&self, timeout: Duration) -> Result<Vec<u64>, PoolError> {
        let deadline = Instant::now() + timeout;
        self.ids
            .iter()
            .map(|&id| self.pool.wait_for(id, deadline))
            .collect()
    }
}

/// `pool.imap_unordered(..)`'s iterator.
struct ImapUnordered<'p> {
    pool: &'p Pool,
    ids: HashSet<u64>,
    deadline: Instant,
}

impl Iterator for ImapUnordered<'_> {
    type Item = Result<u64, PoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ids.is_empty() {
            return None;
        }
        loop {
            let pool = self.pool;
            if let Some(id) = self
                .ids
                .iter()
                .copied()
                .find(|&id| pool.state.borrow().ready.contains_key(&id))
            {
                self.ids.remove(&id);
                return pool.take(id);
            }
            if Instant::now() >= self.deadline {
                self.ids.clear();
                return Some(Err(PoolError::Timeout));
            }
            if let Err(e) = pool.pump(self.deadline) {
                self.ids.clear();
                return Some(Err(e));
            }
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let second = Duration::from_secs(1);
    let pool = Pool::new(4)?;

    // print "[0, 1, 4,..., 81]"
    println!("{:?}", pool.map(Func::Square, 0..10)?);

    // print same numbers in arbitrary order
    for i in pool.imap_unordered(Func::Square, 0..10)? {
        println!("{}", i?);
    }

    // evaluate "f(20)" asynchronously: prints "400"
    let res = pool.apply_async(Func::Square, 20)?;
    println!("{}", res.get(second)?);

    // evaluate "os.getpid()" asynchronously: prints a worker's pid
    let res = pool.apply_async(Func::GetPid, 0)?;
    println!("{}", res.get(second)?);

    // launching multiple evaluations asynchronously *may* use more processes
    let multiple_results = (0..4)
        .map(|_| pool.apply_async(Func::GetPid, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let pids = multiple_results
        .iter()
        .map(|res| res.get(second))
        .collect::<Result<Vec<_>, _>>()?;
    println!("{pids:?}");

    // make a single worker sleep for 10 seconds
    let res = pool.apply_async(Func::SleepMs, 10_000)?;
    match res.get(second) {
        Ok(value) => println!("{value}"),
        Err(PoolError::Timeout) => {
            println!("We lacked patience and got a multiprocessing.TimeoutError")
        }
        Err(e) => return Err(e.into()),
    }

    println!("For the moment, the pool remains available for more work");

    // Beyond Python: a worker killed in the middle of a task.
    println!();
    let args = 0..9;
    let job = pool.map_async(Func::SlowSquare, args.clone())?;
    let (slot, task) = pool
        .worker_running_one_of(&job.ids, PATIENCE)
        .ok_or("no worker took a task of the map")?;
    let (name, pid) = pool.kill_worker(slot)?;
    println!("main: killing {name} (pid {pid}) with SIGKILL while it runs task #{task}");
    let squares = job.get(PATIENCE)?;
    println!("{squares:?}");
    let expected: Vec<u64> = args.map(|x| x * x).collect();
    if squares != expected {
        return Err(format!("the map returned {squares:?}, not {expected:?}").into());
    }
    println!("main: the map is complete; live workers {:?}", pool.pids());
    println!();

    // exiting the 'with'-block has stopped the pool
    pool.close()?;
    println!("Now the pool is closed and no longer available");
    Ok(())
}
