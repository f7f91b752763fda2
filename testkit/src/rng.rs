//! A small random generator for tests: sizes, delays and choices that a
//! printed seed replays.

/// A xorshift64* generator. Its state must not be zero (seed with `| 1`).
///
/// # Examples
///
/// ```
/// use shmsync_testkit::Rng;
///
/// let (mut a, mut b) = (Rng(0x5eed), Rng(0x5eed));
/// assert_eq!(a.next(), b.next(), "a seed replays");
/// assert!(a.below(10) < 10);
/// ```
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator seeded from the clock; prints its seed under `test`'s
    /// name, so that a failure can be replayed.
    pub fn from_time(test: &str) -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1;
        eprintln!("{test}: seed {seed:#x}");
        Rng(seed)
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}
