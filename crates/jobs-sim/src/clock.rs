//! The simulated wall clock: a fixed epoch plus the runtime's elapsed time (tokio's clock, which
//! the simulator pauses and advances), plus each process's own skew. The real code reads it
//! through `jobs_core::clock::Clock` (the store's `now()`), so a seed's timestamps are the same on
//! every run.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_core::clock::Clock;
use tokio::time::Instant;

/// The simulation's epoch: every world starts at this wall time.
pub fn epoch() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").expect("a valid time").with_timezone(&Utc)
}

/// One process's wall clock.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    since: Instant,
    /// How far this process's clock is ahead (positive) or behind (negative), in milliseconds.
    skew_ms: i64,
}

impl SimClock {
    /// A clock reading [`epoch`] at `since` (the world's start), off by `skew_ms`.
    pub fn new(since: Instant, skew_ms: i64) -> SimClock {
        SimClock { since, skew_ms }
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        let t = epoch() + self.since.elapsed();
        let skew = Duration::from_millis(self.skew_ms.unsigned_abs());
        if self.skew_ms >= 0 { t + skew } else { t - skew }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_moves_with_the_paused_runtime_and_keeps_its_skew() {
        let since = Instant::now();
        let (ahead, behind) = (SimClock::new(since, 1_500), SimClock::new(since, -250));
        assert_eq!(ahead.now(), epoch() + Duration::from_millis(1_500));
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        assert_eq!(SimClock::new(since, 0).now(), epoch() + Duration::from_secs(3_600));
        assert_eq!(behind.now(), epoch() + Duration::from_millis(3_600_000 - 250));
    }
}
