//! Jittered exponential backoff for retrying writes in process.

use std::time::Duration;

use jobs_core::random::SharedRandom;

/// Delays of `base × 2ⁿ`, capped at `max`, each drawn uniformly from its upper half ("equal
/// jitter"), so workers that failed together do not retry together.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
    /// The jitter's source (the process's randomness: the simulator's seed there).
    random: SharedRandom,
}

impl Backoff {
    pub fn new(base: Duration, max: Duration, random: SharedRandom) -> Self {
        Backoff { next: base.min(max), max, random }
    }

    /// The delay before the next try.
    pub fn next(&mut self) -> Duration {
        let ceiling = self.next;
        self.next = (self.next * 2).min(self.max);
        let half = ceiling / 2;
        let jitter = self.random.next_u64() % (half.as_millis() as u64 + 1);
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter_in_the_upper_half() {
        let mut b = Backoff::new(Duration::from_millis(200), Duration::from_secs(2), jobs_core::random::system());
        let ceilings = [200, 400, 800, 1600, 2000, 2000];
        for ceiling in ceilings {
            let d = b.next().as_millis() as u64;
            assert!((ceiling / 2..=ceiling).contains(&d), "{d} ms for a {ceiling} ms ceiling");
        }
    }
}
