//! The deterministic simulator (`make simulate`, and a short run in `make test`): the real
//! worker, reconciler and API code, wired by the binaries' own functions, runs over the in-memory
//! AWS of `jobs-sim` on one thread with the clock paused, so a seed is a run and a failing seed
//! replays exactly. Each seed: API calls (submissions of kinds whose end is known, a command kind
//! among them with a simulated child, high priorities, poison payloads, idempotent retries,
//! cancels, schedules, a tenant's limits), schedule firings, a pod per waiting message of each
//! lane as KEDA starts them (during a rolling deploy some of an earlier build), the reconciler's
//! CronJob, the table's TTL, index lag, crashes at whatever await a process is in, SIGTERM stops,
//! clock skew, delays, throttling, lost answers and outages; then the run settles without faults
//! and the invariants are checked ([`invariants`]).

pub mod api;
pub mod child;
pub mod faults;
pub mod invariants;
pub mod pods;
pub mod run;
pub mod schedules;
pub mod tenants;
pub mod violation;
pub mod world;

pub use run::{Options, Summary, run};

/// The one-line command that replays `seed`.
pub fn replay(seed: u64) -> String {
    format!("make simulate SIM_SEED={seed}")
}
