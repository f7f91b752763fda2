//! The tour: every shmsync primitive at work across processes, then what
//! this machine measures, shmsync beside what you would use otherwise.
//!
//! Run with `cargo run --release --example tour`. It takes about ten
//! seconds after the build; the figures are this run's, on this machine.

use shmsync::{
    Array, AtomicValue, Barrier, BoundedSemaphore, ByteQueue, Condition, Event, JoinableQueue,
    Lock, Pipe, Process, Queue, RLock, Segment, Semaphore, Shared, SimpleQueue, TryLockError,
    Value,
};
use std::cell::UnsafeCell;
use std::error::Error;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

type Outcome = Result<String, shmsync::Error>;

/// One step of the tour: runs a primitive across processes.
type Step = fn() -> Outcome;

/// Generous bound for anything a healthy step waits for.
const PATIENCE: Duration = Duration::from_secs(20);

fn main() -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    println!(
        "shmsync tour: Python's multiprocessing primitives in shared memory ({} backend, pid {})\n",
        shmsync::BACKEND,
        std::process::id()
    );
    let steps: &[(&str, Step)] = &[
        ("Process", process),
        ("Lock", lock),
        ("RLock", rlock),
        ("Semaphore", semaphore),
        ("Condition", condition),
        ("Event", event),
        ("Barrier", barrier),
        ("Queue", queue),
        ("JoinableQueue", joinable_queue),
        ("SimpleQueue", simple_queue),
        ("ByteQueue", byte_queue),
        ("Pipe", pipe),
        ("Value, Array", value_and_array),
        ("Segment", segment),
        ("owner death", owner_death),
    ];
    for (i, (name, step)) in steps.iter().enumerate() {
        print!("[{:>2}/{}] {name:<14} ", i + 1, steps.len());
        std::io::stdout().flush()?;
        let t = Instant::now();
        let said = step()?;
        println!("ok  {said} ({})", short(t.elapsed()));
    }

    println!("\nmeasuring, two processes unless noted (a few seconds):");
    let rows = [
        measure_pipe_round_trip()?,
        measure_queue()?,
        measure_lock()?,
        measure_counter()?,
    ];
    progress("")?;
    table(&rows);
    println!(
        "\ntour done in {:.1} s. Benchmarks with statistics: cargo bench (see README.md).",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The primitives, each across processes.

fn process() -> Outcome {
    let ok = Process::builder().name("greeter").spawn(|| {
        let _ = Process::current_name();
    })?;
    let exits = Process::spawn(|| std::process::exit(3))?;
    let sleeps = Process::spawn(|| std::thread::sleep(PATIENCE))?;
    sleeps.kill()?;
    let codes = [ok.join()?, exits.join()?, sleeps.join()?];
    assert_eq!(codes, [0, 3, -9]);
    Ok(format!(
        "three children ended {codes:?}: returned, exit(3), killed"
    ))
}

/// A counter that is deliberately not atomic: only the lock keeps
/// increments from being lost.
#[repr(C)]
struct Racy(UnsafeCell<u64>);
// SAFETY: every access happens under the tour's lock.
unsafe impl Sync for Racy {}
// SAFETY: a plain u64: any bytes valid, no pointers, no Drop.
unsafe impl shmsync::ShmSafe for Racy {}

fn lock() -> Outcome {
    let lock = Lock::new()?;
    let counter = Shared::new(Racy(UnsafeCell::new(0)))?;
    let children = (0..4)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..25_000 {
                    let _held = lock.lock().expect("no holder dies here");
                    // SAFETY: under the lock.
                    unsafe { *counter.0.get() += 1 };
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        assert_eq!(child.join()?, 0);
    }
    // SAFETY: every writer has exited.
    let total = unsafe { *counter.0.get() };
    assert_eq!(total, 100_000);
    Ok(format!(
        "4 processes x 25 000 increments of a plain u64 = {total}"
    ))
}

fn rlock() -> Outcome {
    let lock = RLock::new()?;
    let depth_seen = Shared::new(AtomicU32::new(0))?;
    let release = Event::new()?;
    let child = Process::spawn(|| {
        let _a = lock.lock().unwrap();
        let _b = lock.lock().unwrap();
        let _c = lock.lock().unwrap();
        depth_seen.store(lock.depth(), Ordering::Release);
        release.wait(Some(PATIENCE));
    })?;
    let start = Instant::now();
    while depth_seen.load(Ordering::Acquire) == 0 && start.elapsed() < PATIENCE {
        std::thread::yield_now();
    }
    let refused = !lock.acquire(true, Some(Duration::from_millis(5)))?;
    release.set();
    let _mine = lock.lock()?;
    assert_eq!(child.join()?, 0);
    assert!(refused);
    Ok(format!(
        "a child held it {} levels deep; the parent got it once all three were given back",
        depth_seen.load(Ordering::Relaxed)
    ))
}

fn semaphore() -> Outcome {
    let slots = Semaphore::new(2)?;
    let inside = Shared::new(AtomicU32::new(0))?;
    let most = Shared::new(AtomicU32::new(0))?;
    let children = (0..6)
        .map(|_| {
            Process::spawn(|| {
                let _slot = slots.access();
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(3));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for child in &children {
        assert_eq!(child.join()?, 0);
    }
    let most = most.load(Ordering::SeqCst);
    assert!(most <= 2);
    let bounded = BoundedSemaphore::new(1)?;
    assert!(bounded.release().is_err());
    Ok(format!(
        "6 processes through 2 slots, at most {most} inside; a BoundedSemaphore refused a release above its bound"
    ))
}

fn condition() -> Outcome {
    let cond = Condition::new()?;
    let stage_1_done = Shared::new(AtomicBool::new(false))?;
    let stage_2 = (0..2)
        .map(|_| {
            Process::spawn(|| {
                let _held = cond.lock().unwrap();
                let ready = cond
                    .wait_for(|| stage_1_done.load(Ordering::Relaxed), Some(PATIENCE))
                    .unwrap();
                assert!(ready);
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    while cond.n_waiting() < 2 && start.elapsed() < PATIENCE {
        std::thread::sleep(Duration::from_micros(200));
    }
    let stage_1 = Process::spawn(|| {
        let _held = cond.lock().unwrap();
        stage_1_done.store(true, Ordering::Relaxed);
        cond.notify_all().unwrap();
    })?;
    assert_eq!(stage_1.join()?, 0);
    for child in &stage_2 {
        assert_eq!(child.join()?, 0);
    }
    Ok("one stage-1 process released two waiting stage-2 processes".into())
}

fn event() -> Outcome {
    let go = Event::new()?;
    let waiters = (0..3)
        .map(|_| Process::spawn(|| assert!(go.wait(Some(PATIENCE)))))
        .collect::<Result<Vec<_>, _>>()?;
    let setter = Process::spawn(|| go.set())?;
    assert_eq!(setter.join()?, 0);
    for w in &waiters {
        assert_eq!(w.join()?, 0);
    }
    Ok("one process set it, three waiting processes went".into())
}

fn barrier() -> Outcome {
    const PHASES: u32 = 5;
    let barrier = Barrier::new(3)?.with_timeout(PATIENCE);
    let phase = Shared::new([const { AtomicU32::new(0) }; 3])?;
    let parties = (0..3)
        .map(|p| {
            Process::spawn(|| {
                for n in 0..PHASES {
                    phase[p].store(n, Ordering::SeqCst);
                    barrier.wait(None).unwrap();
                    // Everyone reached phase n before anyone goes on.
                    assert!(phase.iter().all(|q| q.load(Ordering::SeqCst) >= n));
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for party in &parties {
        assert_eq!(party.join()?, 0);
    }
    Ok(format!("3 processes kept in step through {PHASES} phases"))
}

fn queue() -> Outcome {
    let q = Queue::<u64>::new(256)?;
    let producer = Process::spawn(|| {
        for i in 1..=10_000 {
            q.put(i).unwrap();
        }
    })?;
    let sum: u64 = (0..10_000).map(|_| q.get().unwrap()).sum();
    assert_eq!(producer.join()?, 0);
    assert_eq!(sum, 10_000 * 10_001 / 2);
    Ok(format!(
        "a child put 10 000 numbers, the parent got them all: sum {sum}"
    ))
}

fn joinable_queue() -> Outcome {
    let jobs = JoinableQueue::<u64>::new(64)?;
    let results = Queue::<u64>::new(64)?;
    let workers = (0..4)
        .map(|_| {
            Process::spawn(|| {
                while let Ok(n) = jobs.get() {
                    results.put(n * n).unwrap();
                    jobs.task_done().unwrap();
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for n in 0..20 {
        jobs.put(n)?;
    }
    assert!(jobs.join(Some(PATIENCE)));
    let mut squares = (0..20)
        .map(|_| results.get())
        .collect::<Result<Vec<_>, _>>()?;
    squares.sort_unstable();
    jobs.shutdown(false);
    for w in &workers {
        assert_eq!(w.join()?, 0);
    }
    assert_eq!(squares[19], 361);
    Ok("4 worker processes squared 0..20; join() returned once every task_done() came in".into())
}

fn simple_queue() -> Outcome {
    let q = SimpleQueue::<u32>::new(8)?;
    let child = Process::spawn(|| q.put(42).unwrap())?;
    let got = q.get()?;
    assert_eq!(child.join()?, 0);
    assert!(q.empty());
    Ok(format!("a child put {got}; empty() again afterwards"))
}

fn byte_queue() -> Outcome {
    let q = ByteQueue::new(4096)?;
    let child = Process::spawn(|| {
        for len in [0, 1, 100, 3000] {
            q.put(&vec![b'x'; len]).unwrap();
        }
    })?;
    let lens = (0..4)
        .map(|_| q.get().map(|m| m.len()))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(child.join()?, 0);
    assert_eq!(lens, [0, 1, 100, 3000]);
    Ok(format!(
        "messages of {lens:?} bytes kept their bounds in one byte ring"
    ))
}

fn pipe() -> Outcome {
    let (parent_end, child_end) = Pipe::new(true)?;
    let child = Process::spawn(move || {
        child_end
            .send_bytes(b"[42, None, 'hello, father.']")
            .unwrap();
        let reply = child_end.recv_bytes(64).unwrap();
        assert_eq!(reply, b"[41, None, 'hello, son.']");
    })?;
    let first = parent_end.recv_bytes(64)?;
    parent_end.send_bytes(b"[41, None, 'hello, son.']")?;
    assert_eq!(child.join()?, 0);
    let eof = parent_end.recv_bytes(64).is_err();
    assert!(eof);
    Ok(format!(
        "got {:?} from a child, answered; end of file once it exited",
        String::from_utf8_lossy(&first)
    ))
}

fn value_and_array() -> Outcome {
    let total = Value::new(0u64)?;
    let numbers = Array::<u64>::from_slice(&[1, 2, 3, 4, 5, 6, 7, 8])?;
    let children = (0..2)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..10_000 {
                    *total.get_lock().unwrap() += 1;
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let prefix = Process::spawn(|| {
        let mut a = numbers.get_lock().unwrap();
        for i in 1..a.len() {
            a[i] += a[i - 1];
        }
    })?;
    for child in children.iter().chain([&prefix]) {
        assert_eq!(child.join()?, 0);
    }
    let sums = numbers.to_vec(0..8)?;
    let counted = total.get()?;
    assert_eq!(counted, 20_000);
    assert_eq!(sums[7], 36);
    Ok(format!(
        "two children counted to {counted} under a Value's lock; a child's prefix sums: {sums:?}"
    ))
}

fn segment() -> Outcome {
    let seg = Segment::anonymous(Segment::MIN_SIZE + 64 * 1024)?;
    let child = Process::spawn(|| {
        let hits = seg.get_or_init("hits", || AtomicU64::new(0)).unwrap();
        hits.fetch_add(1, Ordering::SeqCst);
    })?;
    assert_eq!(child.join()?, 0);
    let hits = seg.get_or_init("hits", || AtomicU64::new(100))?;
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    Ok("a child made the object \"hits\" by name, the parent found it (cargo run --example segment_peer: two programs)".into())
}

fn owner_death() -> Outcome {
    let lock = Lock::new()?;
    let held = Event::new()?;
    let holder = Process::spawn(|| {
        let guard = lock.lock().unwrap();
        held.set();
        std::thread::sleep(PATIENCE);
        drop(guard);
    })?;
    assert!(held.wait(Some(PATIENCE)));
    holder.kill()?;
    let killed = Instant::now();
    let told = match lock.try_lock_for(PATIENCE) {
        Err(TryLockError::OwnerDied(died)) => {
            let guard = died.into_inner();
            guard.mark_consistent();
            true
        }
        _ => false,
    };
    assert!(told);
    let _ = holder.join()?;
    Ok(format!(
        "a holder killed with SIGKILL: the next acquirer was told OwnerDied {} later",
        short(killed.elapsed())
    ))
}

// ---------------------------------------------------------------------------
// Measurements: each row times shmsync and its everyday alternative in
// this run, for about a second each.

struct Row {
    what: &'static str,
    ours: String,
    peer: String,
    /// How many times better shmsync did (> 1: faster).
    ratio: f64,
    verdict: String,
}

/// Runs `round` (one unit of work) in batches until about `budget` passed;
/// returns the nanoseconds per unit.
fn per_unit(budget: Duration, mut batch: impl FnMut(u64)) -> f64 {
    let mut n = 16;
    let start = Instant::now();
    let mut done = 0u64;
    while start.elapsed() < budget {
        batch(n);
        done += n;
        n = (n * 2).min(1 << 20);
    }
    start.elapsed().as_nanos() as f64 / done.max(1) as f64
}

/// Says on one rewritten line what runs now; only on a terminal, where
/// the next line overwrites it.
fn progress(what: &str) -> std::io::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        print!("  {what:<60}\r");
        std::io::stdout().flush()?;
    }
    Ok(())
}

fn os_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe() just made both descriptors, owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn write_all(fd: &OwnedFd, buf: &[u8]) -> bool {
    // SAFETY: `buf` is valid for its length; the descriptor is open.
    unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) == buf.len() as isize }
}

fn read_exact(fd: &OwnedFd, buf: &mut [u8]) -> bool {
    let mut at = 0;
    while at < buf.len() {
        // SAFETY: the rest of `buf` is valid for writes; the descriptor is open.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[at..].as_mut_ptr().cast(),
                buf.len() - at,
            )
        };
        if n <= 0 {
            return false;
        }
        at += n as usize;
    }
    true
}

fn measure_pipe_round_trip() -> Result<Row, Box<dyn Error>> {
    progress("Pipe round trip, 8 bytes: shmsync ...")?;
    let (here, there) = Pipe::new(true)?;
    // The child echoes until an empty message: a forked child also holds
    // the parent's end (as with OS pipes under fork), so it would never
    // see end of file from the parent.
    let echo = Process::spawn(move || {
        while let Ok(msg) = there.recv_bytes(8) {
            if msg.is_empty() || there.send_bytes(&msg).is_err() {
                break;
            }
        }
    })?;
    let ours = per_unit(Duration::from_millis(800), |n| {
        for i in 0..n {
            here.send_bytes(&i.to_ne_bytes()).unwrap();
            here.recv_bytes(8).unwrap();
        }
    });
    here.send_bytes(&[])?;
    echo.join()?;

    progress("Pipe round trip, 8 bytes: OS pipes ...")?;
    let (down_r, down_w) = os_pipe()?;
    let (up_r, up_w) = os_pipe()?;
    const STOP: u64 = u64::MAX;
    let echo = Process::spawn(|| {
        let mut buf = [0u8; 8];
        while read_exact(&down_r, &mut buf)
            && u64::from_ne_bytes(buf) != STOP
            && write_all(&up_w, &buf)
        {}
    })?;
    let peer = per_unit(Duration::from_millis(800), |n| {
        let mut buf = [0u8; 8];
        for i in 0..n {
            assert!(write_all(&down_w, &i.to_ne_bytes()));
            assert!(read_exact(&up_r, &mut buf));
        }
    });
    assert!(write_all(&down_w, &STOP.to_ne_bytes()));
    echo.join()?;
    let ratio = peer / ours;
    Ok(Row {
        what: "Pipe round trip, 8 bytes",
        ours: short(Duration::from_nanos(ours as u64)),
        peer: format!("OS pipe {}", short(Duration::from_nanos(peer as u64))),
        ratio,
        verdict: format!(
            "{ratio:.0}x faster: the message stays in shared memory, no syscall per message"
        ),
    })
}

fn measure_queue() -> Result<Row, Box<dyn Error>> {
    const N: u64 = 2_000_000;
    progress("Queue, 8-byte messages: shmsync ...")?;
    let q = Queue::<u64>::new(1024)?;
    let start = Instant::now();
    let producer = Process::spawn(|| {
        for i in 0..N {
            q.put(i).unwrap();
        }
    })?;
    for _ in 0..N {
        q.get()?;
    }
    producer.join()?;
    let ours = N as f64 / start.elapsed().as_secs_f64();

    progress("Queue, 8-byte messages: OS pipe ...")?;
    const M: u64 = 200_000;
    let (r, w) = os_pipe()?;
    let start = Instant::now();
    let producer = Process::spawn(|| {
        for i in 0..M {
            assert!(write_all(&w, &i.to_ne_bytes()));
        }
    })?;
    drop(w);
    let mut buf = [0u8; 8];
    for _ in 0..M {
        assert!(read_exact(&r, &mut buf));
    }
    producer.join()?;
    let peer = M as f64 / start.elapsed().as_secs_f64();
    let ratio = ours / peer;
    Ok(Row {
        what: "Queue put + get, 8-byte messages",
        ours: format!("{:.1} M/s", ours / 1e6),
        peer: format!("OS pipe {:.1} M/s", peer / 1e6),
        ratio,
        verdict: format!("{ratio:.0}x the messages per second of a pipe"),
    })
}

fn measure_lock() -> Result<Row, Box<dyn Error>> {
    progress("Lock + unlock, one thread: shmsync ...")?;
    let lock = Lock::new()?;
    let ours = per_unit(Duration::from_millis(500), |n| {
        for _ in 0..n {
            drop(std::hint::black_box(lock.lock().unwrap()));
        }
    });
    progress("Lock + unlock, one thread: std Mutex ...")?;
    let mutex = std::sync::Mutex::new(());
    let peer = per_unit(Duration::from_millis(500), |n| {
        for _ in 0..n {
            drop(std::hint::black_box(mutex.lock().unwrap()));
        }
    });
    let ratio = peer / ours;
    let verdict = if ratio >= 0.8 {
        "as cheap as std's Mutex, and it works across processes".to_string()
    } else {
        format!(
            "{:.1}x std's Mutex: the price of recording the holder",
            1.0 / ratio
        )
    };
    Ok(Row {
        what: "Lock + unlock, one thread",
        ours: format!("{ours:.1} ns"),
        peer: format!("std Mutex {peer:.1} ns"),
        ratio,
        verdict,
    })
}

fn measure_counter() -> Result<Row, Box<dyn Error>> {
    const N: u64 = 2_000_000;
    progress("Counter += 1 in two processes: Value under its lock ...")?;
    let value = Value::new(0u64)?;
    let start = Instant::now();
    let children = (0..2)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..N / 2 {
                    *value.get_lock().unwrap() += 1;
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for c in &children {
        assert_eq!(c.join()?, 0);
    }
    let locked = start.elapsed();
    assert_eq!(value.get().map_err(shmsync::Error::from)?, N);

    progress("Counter += 1 in two processes: AtomicValue ...")?;
    let atomic = AtomicValue::new(0u64)?;
    let start = Instant::now();
    let children = (0..2)
        .map(|_| {
            Process::spawn(|| {
                for _ in 0..N / 2 {
                    atomic.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for c in &children {
        assert_eq!(c.join()?, 0);
    }
    let lock_free = start.elapsed();
    assert_eq!(atomic.load(Ordering::Relaxed), N);
    let ratio = lock_free.as_secs_f64() / locked.as_secs_f64();
    Ok(Row {
        what: "Counter += 1, Value under lock",
        ours: format!("{:.1} ns", locked.as_nanos() as f64 / N as f64),
        peer: format!(
            "AtomicValue {:.1} ns",
            lock_free.as_nanos() as f64 / N as f64
        ),
        ratio,
        verdict: format!(
            "a lock costs {:.1}x one atomic add; use AtomicValue for lone counters",
            1.0 / ratio
        ),
    })
}

fn table(rows: &[Row]) {
    println!(
        "  {:<33} {:>12}   {:<22} {:>7}   verdict",
        "what", "shmsync", "the alternative", "ratio"
    );
    println!("  {}", "-".repeat(110));
    for row in rows {
        println!(
            "  {:<33} {:>12}   {:<22} {:>6.1}x   {}",
            row.what, row.ours, row.peer, row.ratio, row.verdict
        );
    }
}

/// A duration in the unit that reads best.
fn short(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} us", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}
