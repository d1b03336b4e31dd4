//! The counters (`GET /jobs/stats`), the dashboard's overview and the outcomes per minute.

use chrono::{DateTime, Utc};
use jobs_aws::Stats;
use serde::Serialize;
use utoipa::ToSchema;

/// Aggregate counters. Field names follow the original design so its clients keep working.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    /// Jobs that ended SUCCEEDED.
    pub succeed_job: u64,
    /// Jobs that ended FAILED (all attempts failed, a permanent failure, or rejected as poison).
    pub failed_job: u64,
    /// Re-attempts started (attempt 2, 3, …).
    pub job_retry: u64,
    /// Jobs accepted (scheduled firings included).
    pub submitted: u64,
    /// Jobs that ended CANCELLED.
    pub cancelled: u64,
    /// Scheduled firings recorded SKIPPED (overlap: forbid).
    pub skipped: u64,
    /// Jobs waiting for a worker to start them: the queue's messages a worker may receive now
    /// (approximate, from SQS). Retries waiting out their backoff are `delayed`, not queued.
    pub queued: u64,
    /// Messages received and not deleted: running, or waiting out a retry backoff.
    pub in_flight: u64,
    /// Messages sent with a delay that has not passed yet (a deferred or re-sent job's copy).
    pub delayed: u64,
}

impl StatsView {
    pub fn new(counts: Stats, depth: jobs_aws::Depth) -> Self {
        StatsView {
            succeed_job: counts.succeeded,
            failed_job: counts.failed,
            job_retry: counts.retries,
            submitted: counts.submitted,
            cancelled: counts.cancelled,
            skipped: counts.skipped,
            queued: depth.visible,
            in_flight: depth.in_flight,
            delayed: depth.delayed,
        }
    }
}

/// Jobs in one open status, counted up to a cap.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenCountView {
    pub count: u64,
    /// The count stopped at its cap (`jobs_aws::store::COUNT_CAP`): there are at least `count`.
    pub capped: bool,
}

impl From<jobs_aws::store::OpenCount> for OpenCountView {
    fn from(c: jobs_aws::store::OpenCount) -> Self {
        OpenCountView { count: c.count, capped: c.capped }
    }
}

/// The jobs that have not ended, by status (from the status index: eventually consistent).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenView {
    /// Over their tenant's limits, waiting to be admitted (no message yet).
    pub waiting: OpenCountView,
    pub queued: OpenCountView,
    pub running: OpenCountView,
    pub retry_wait: OpenCountView,
}

/// The oldest job waiting to start.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OldestView {
    pub job_id: String,
    pub created_at: DateTime<Utc>,
    /// Seconds since it was accepted.
    pub age_secs: u64,
}

/// What the dashboard shows at a glance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OverviewView {
    /// When this was read.
    pub at: DateTime<Utc>,
    pub counters: StatsView,
    pub open: OpenView,
    /// The oldest QUEUED job; `null` when none waits.
    pub oldest_queued: Option<OldestView>,
    /// Messages on the dead-letter queue (approximate); `null` when none is configured.
    pub dead_letters: Option<u64>,
}

impl OverviewView {
    pub fn new(
        at: DateTime<Utc>,
        counts: Stats,
        depth: jobs_aws::Depth,
        dead: Option<jobs_aws::Depth>,
        [waiting, queued, running, retry_wait]: [jobs_aws::store::OpenCount; 4],
        oldest: Option<jobs_aws::store::Oldest>,
    ) -> Self {
        OverviewView {
            at,
            counters: StatsView::new(counts, depth),
            open: OpenView {
                waiting: waiting.into(),
                queued: queued.into(),
                running: running.into(),
                retry_wait: retry_wait.into(),
            },
            oldest_queued: oldest.map(|o| OldestView {
                age_secs: (at - o.created_at).num_seconds().max(0) as u64,
                job_id: o.job_id,
                created_at: o.created_at,
            }),
            dead_letters: dead.map(|d| d.visible + d.in_flight + d.delayed),
        }
    }
}

/// One kind's outcomes in a minute.
#[derive(Debug, Serialize, ToSchema)]
pub struct KindMinuteView {
    pub succeeded: u64,
    pub failed: u64,
}

/// Outcome events in one minute (see `jobs_core::throughput`: events, not net changes).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MinuteView {
    /// The minute's start (UTC).
    pub start: DateTime<Utc>,
    pub succeeded: u64,
    pub failed: u64,
    /// Re-attempts started.
    pub retried: u64,
    pub cancelled: u64,
    pub skipped: u64,
    /// Succeeded and failed by kind (kinds with no outcome that minute are left out; `other`:
    /// jobs of no registered kind).
    pub kinds: std::collections::BTreeMap<String, KindMinuteView>,
    /// Succeeded and failed by tenant: the tenants `tenants.metrics` names, every other one as
    /// `(other)` (at most 101; docs/tenants.md); tenants with no outcome that minute left out.
    pub tenants: std::collections::BTreeMap<String, KindMinuteView>,
}

/// Outcome events per minute, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThroughputView {
    pub minutes: Vec<MinuteView>,
}

impl ThroughputView {
    pub fn new(minutes: Vec<jobs_aws::store::buckets::Minute>) -> Self {
        let minutes = minutes
            .into_iter()
            .map(|m| MinuteView {
                start: m.start,
                succeeded: m.succeeded,
                failed: m.failed,
                retried: m.retried,
                cancelled: m.cancelled,
                skipped: m.skipped,
                kinds: m
                    .kinds
                    .into_iter()
                    .map(|(k, (succeeded, failed))| (k, KindMinuteView { succeeded, failed }))
                    .collect(),
                tenants: m
                    .tenants
                    .into_iter()
                    .map(|(t, (succeeded, failed))| (t, KindMinuteView { succeeded, failed }))
                    .collect(),
            })
            .collect();
        ThroughputView { minutes }
    }
}
