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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_host_time() {
        let before = Utc::now();
        let read = system().now();
        assert!(read >= before && read <= Utc::now());
    }
}
