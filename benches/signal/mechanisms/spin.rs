//! The bare spin: the hardware floor under every signal.

use super::PingPong;
use shmsync::{Deadline, Shared};
use shmsync_testkit::{Alarm, Padded};
use std::hint::spin_loop;
use std::sync::atomic::{AtomicU32, Ordering};

/// The bare spin: one shared turn counter, polled with spin hints.
pub struct Spin(Shared<Padded<AtomicU32>>);

impl Spin {
    pub fn new() -> Spin {
        Spin(Shared::new(Padded(AtomicU32::new(0))).expect("mmap"))
    }

    #[inline]
    fn await_turn(&self, turn: u32) {
        let ball = &self.0 .0;
        let mut spins: u32 = 0;
        // Acquire: pairs with the other side's Release store, so every turn
        // follows the previous one.
        while ball.load(Ordering::Acquire) != turn {
            spin_loop();
            spins = spins.wrapping_add(1);
            if spins % 65_536 == 0 {
                assert!(!Alarm::fired(), "spin: turn {turn} did not come in time");
            }
        }
    }
}

impl PingPong for Spin {
    fn reset(&self) {
        self.0 .0.store(0, Ordering::Relaxed);
    }

    #[inline]
    fn parent_round(&self, round: u64, _deadline: Deadline) {
        let turn = (2 * round) as u32;
        // Release: pairs with the child's Acquire load in `await_turn`.
        self.0 .0.store(turn.wrapping_add(1), Ordering::Release);
        self.await_turn(turn.wrapping_add(2));
    }

    #[inline]
    fn child_round(&self, round: u64, _deadline: Deadline) {
        let turn = (2 * round) as u32;
        self.await_turn(turn.wrapping_add(1));
        // Release: pairs with the parent's Acquire load in `await_turn`.
        self.0 .0.store(turn.wrapping_add(2), Ordering::Release);
    }

    fn check(&self, iters: u64) {
        assert_eq!(
            self.0 .0.load(Ordering::Relaxed),
            (2 * iters) as u32,
            "spin: turns were lost"
        );
    }
}
