//! The wall clock as a port: every timestamp the system writes (a job's times, leases, due
//! times, marks) is read from a [`Clock`], so the simulator can run the real code on its own
//! time, each simulated process with its own skew, and replay a seed exactly. Production uses
//! [`SystemClock`]. Waiting (sleeps, deadlines) stays on tokio's clock, which the simulator pauses
//! and advances.

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where the time comes from.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;
}

/// The host's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock shared by a process's parts (its store, its worker, its reconciler).
pub type SharedClock = Arc<dyn Clock>;

/// The host's clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that says what it is told: table tests of code that reads the time.
#[derive(Debug)]
pub struct FixedClock(pub std::sync::Mutex<DateTime<Utc>>);

impl FixedClock {
    pub fn at(t: DateTime<Utc>) -> FixedClock {
        FixedClock(std::sync::Mutex::new(t))
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().expect("no panic while the clock is held") += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("no panic while the clock is held")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_says_what_it_is_told_and_the_system_clock_moves() {
        let t = DateTime::parse_from_rfc3339("2026-12-06T10:00:00Z").unwrap().with_timezone(&Utc);
        let clock = FixedClock::at(t);
        assert_eq!(clock.now(), t);
        clock.advance(chrono::Duration::seconds(90));
        assert_eq!(clock.now(), t + chrono::Duration::seconds(90));
        let before = Utc::now();
        let read = system().now();
        assert!(read >= before && read <= Utc::now());
    }
}
