//! A pool as `GET /jobs/pools` shows it: its declaration, the deadlines that follow from it, its
//! kinds, and its queues' depth now.

use jobs_aws::Depth;
use jobs_core::pools::{Capacity, Execution, Pool, Priority, Resource};
use serde::Serialize;
use utoipa::ToSchema;

/// One queue's messages now (SQS's approximate counts).
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepthView {
    /// Waiting for a worker.
    pub waiting: u64,
    /// Received and not yet deleted: jobs running.
    pub running: u64,
    /// Sent with a delay not yet passed (retry backoffs, hand-backs).
    pub delayed: u64,
}

impl From<Depth> for QueueDepthView {
    fn from(d: Depth) -> Self {
        QueueDepthView { waiting: d.visible, running: d.in_flight, delayed: d.delayed }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolView {
    pub name: String,
    pub description: String,
    pub capacity: Capacity,
    pub cpu: Resource,
    pub memory: Resource,
    pub ephemeral_storage: String,
    /// The longest one attempt may run (the worker's ATTEMPT_TIMEOUT_SECS).
    pub time_limit_secs: u64,
    /// The pod's activeDeadlineSeconds: the time limit plus the start and stop margins (and the
    /// drain bound).
    pub active_deadline_secs: u64,
    /// How long a job of the pool may wait to start while nothing of it runs before it ends
    /// FAILED (`null`: as long as it takes; a command kind has its own, `GET /jobs/kinds`).
    pub start_deadline_secs: Option<u64>,
    /// Pods (Kubernetes Jobs) at once.
    pub max_replicas: u32,
    pub polling_interval_secs: u32,
    pub execution: Execution,
    /// The kinds it runs.
    pub kinds: Vec<String>,
    /// Both queues added up.
    pub waiting: u64,
    pub running: u64,
    pub delayed: u64,
    /// Each priority's queue (`null`: its depth could not be read just now).
    pub high: Option<QueueDepthView>,
    pub normal: Option<QueueDepthView>,
}

impl PoolView {
    /// `depth(priority)`: that queue's depth, if it could be read.
    pub fn new(pool: &Pool, depth: impl Fn(Priority) -> Option<Depth>) -> Self {
        let (high, normal) =
            (depth(Priority::High).map(QueueDepthView::from), depth(Priority::Normal).map(QueueDepthView::from));
        let sum = |f: fn(&QueueDepthView) -> u64| [high, normal].iter().flatten().map(f).sum();
        let c = &pool.config;
        let timing = pool.timing();
        PoolView {
            name: pool.name.clone(),
            description: c.description.clone(),
            capacity: c.capacity,
            cpu: c.cpu.clone(),
            memory: c.memory.clone(),
            ephemeral_storage: c.ephemeral_storage.clone(),
            time_limit_secs: timing.attempt_timeout.as_secs(),
            active_deadline_secs: timing.active_deadline.as_secs(),
            start_deadline_secs: pool.start_deadline().map(|d| d.as_secs()),
            max_replicas: c.max_replicas,
            polling_interval_secs: c.polling_interval_secs,
            execution: c.execution,
            kinds: jobs_core::kinds()
                .iter()
                .filter(|k| k.policy.pool == pool.name)
                .map(|k| k.name.to_owned())
                .collect(),
            waiting: sum(|d| d.waiting),
            running: sum(|d| d.running),
            delayed: sum(|d| d.delayed),
            high,
            normal,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoolList {
    pub pools: Vec<PoolView>,
}
