//! A runner for more than two processes (the two-process `Pair` of the
//! testkit covers one child): forks every member first, starts the clock
//! when all are ready, stops it when all are done. The parent sleeps while
//! the members work.

use shmsync::{Process, Shared};
use shmsync_testkit::{KillOnDrop, Padded, PATIENCE};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Times `members` run at once, each in a forked process.
pub struct Crew {
    /// Members ready, the go signal, members done.
    line: Shared<Padded<[AtomicU32; 3]>>,
}

impl Crew {
    pub fn new() -> Crew {
        Crew {
            line: Shared::new(Padded([const { AtomicU32::new(0) }; 3])).expect("mmap"),
        }
    }

    /// Runs every closure in a process of its own, all started at once;
    /// returns the time from the start until the last has finished.
    ///
    /// # Panics
    ///
    /// If a member fails or does not finish within [`PATIENCE`].
    pub fn run(&mut self, members: Vec<Box<dyn FnOnce() + '_>>) -> Duration {
        let [ready, go, done] = &self.line.0;
        ready.store(0, Ordering::SeqCst);
        go.store(0, Ordering::SeqCst);
        done.store(0, Ordering::SeqCst);
        let n = members.len() as u32;
        let kids: Vec<KillOnDrop> = members
            .into_iter()
            .map(|work| {
                KillOnDrop(
                    Process::spawn(move || {
                        // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal
                        // number and touches no memory of ours.
                        unsafe {
                            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
                        };
                        // Release/Acquire: the start line orders each
                        // member's work after the parent's preparations and
                        // before the parent's reading of the results.
                        ready.fetch_add(1, Ordering::Release);
                        let limit = Instant::now() + PATIENCE;
                        while go.load(Ordering::Acquire) == 0 {
                            spin_loop();
                            assert!(Instant::now() < limit, "never started");
                        }
                        work();
                        done.fetch_add(1, Ordering::Release);
                    })
                    .expect("fork"),
                )
            })
            .collect();
        let limit = Instant::now() + PATIENCE;
        while ready.load(Ordering::Acquire) < n {
            std::thread::yield_now();
            assert!(Instant::now() < limit, "members not ready");
        }
        let t0 = Instant::now();
        go.store(1, Ordering::Release);
        // Sleep between looks: the members need both CPUs, and a spinning
        // parent would take one from them (it costs the figure at most one
        // 20 µs step, against runs of tens of milliseconds).
        while done.load(Ordering::Acquire) < n {
            std::thread::sleep(Duration::from_micros(20));
            if Instant::now() > limit {
                panic!("members did not finish within {PATIENCE:?}");
            }
        }
        let elapsed = t0.elapsed();
        for kid in &kids {
            match kid.join_timeout(PATIENCE).expect("waitpid") {
                Some(0) => {}
                code => panic!("bench member {} ended with {code:?}", kid.pid()),
            }
        }
        elapsed
    }
}
