//! What the reconciler is (its queues, the store, its settings) and what a pass reports; the
//! pass itself is `reconcile` (its steps in `overdue` and `tenancy`).

use std::time::Duration;

use jobs_aws::{JobStore, PoolQueues};
use jobs_runtime::Shutdown;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub dead_letters: usize,
    pub redriven: usize,
    pub dropped: usize,
    pub failed: usize,
    pub unresolvable: usize,
    pub overdue: usize,
    pub resent: usize,
    /// Overdue jobs whose message could not be sent (looked at again later).
    pub unsent: usize,
    /// Overdue jobs whose message presumably waits behind the queue's backlog: nothing sent.
    pub waiting: usize,
    /// Jobs waiting on a lane that runs nothing (watched until its start deadline).
    pub watched: usize,
    /// Jobs ended FAILED: their lane ran nothing for its start deadline.
    pub not_started: usize,
    /// Slots of ended jobs given back to their tenants.
    pub released: usize,
    /// Waiting jobs admitted (QUEUED and sent).
    pub admitted: usize,
    /// Messages and jobs the pass could not handle (read or write failed); each is left for a
    /// later pass, and the pass goes on with the next.
    pub errors: usize,
}

pub struct Reconciler {
    /// Every pool's queues: their dead letters are drained, and a job's message goes to its own.
    pub queues: PoolQueues,
    pub store: JobStore,
    pub shutdown: Shutdown,
    /// Where a pass's metric line goes (`None`: `METRICS=off`).
    pub metrics_namespace: Option<String>,
    /// Each lane's start deadline (`jobs_core::pools::Lane`, or `START_DEADLINE_SECS`).
    pub start_deadlines: std::collections::HashMap<&'static str, Option<Duration>>,
}
