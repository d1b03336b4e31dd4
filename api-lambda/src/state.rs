//! The state every route shares: the AWS adapters, the local tokens, the metrics, and the limits
//! the routes apply. Its own module, so the routes and the router (`crate::app`) both depend on
//! it and not on each other.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use jobs_aws::{JobStore, PoolQueues, Scheduler};

use crate::metrics::Metrics;

/// Requests larger than this are refused before they are read (413).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Fire times returned with a schedule.
pub const NEXT_FIRE_TIMES: usize = 5;

pub struct Inner {
    pub store: JobStore,
    /// Every pool's queues; a job goes to its kind's pool's queue of its priority.
    pub queues: PoolQueues,
    /// The default pool's normal queue's ARN: the other queues' ARNs follow from it (schedules).
    pub queue_arn: String,
    /// EventBridge Scheduler (the simulator's: in memory).
    pub schedules: Arc<dyn Scheduler>,
    /// Local mode: the bearer tokens (any one of them) every route but `/openapi.json` requires.
    pub tokens: crate::caller::Tokens,
    pub metrics: Metrics,
    /// Local mode: the directory of the pods' log files (`GET /jobs/{id}/runs/{run}/log`).
    pub logs_dir: Option<std::path::PathBuf>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Metrics {
        state.0.metrics.clone()
    }
}
