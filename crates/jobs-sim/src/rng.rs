//! The simulation's randomness: a small seeded generator (xorshift64*), so that a seed is a run
//! and a failing one can be replayed. Tests that drive real processes at random (the chaos run)
//! use it too.

/// A seeded pseudo-random generator; the same seed gives the same numbers.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value; zero is moved off the generator's fixed point).
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The seeded generator as the product's randomness port (`jobs_core::random::Random`): the
/// store's write tokens, and so the counter shards they pick, follow the seed.
#[derive(Debug)]
pub struct SeededRandom(std::sync::Mutex<Rng>);

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom(std::sync::Mutex::new(Rng::new(seed)))
    }
}

impl jobs_core::random::Random for SeededRandom {
    fn next_u64(&self) -> u64 {
        self.0.lock().expect("no panic while the generator is held").next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_is_a_sequence() {
        let run = |seed| {
            let mut r = Rng::new(seed);
            (0..5).map(|_| r.below(1000)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let mut zero = Rng::new(0);
        assert_ne!(zero.next_u64(), zero.next_u64(), "seed 0 is not stuck");
    }
}
