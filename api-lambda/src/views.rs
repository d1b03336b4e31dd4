//! What the API answers: the JSON shapes of jobs, pages, counters, kinds and schedules, each built
//! from what the adapters return. Nullable fields are declared so (`null` when not known).

use chrono::{DateTime, Utc};
use jobs_aws::{JobRecord, ScheduleInfo, Stats};
use jobs_core::history::{AttemptRun, RunOutcome};
use jobs_core::kinds::KindInfo;
use jobs_core::{JobStatus, Overlap, RetryPolicy};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// The answer to `POST /jobs` and `POST /jobs/{id}/retry`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    pub job_id: String,
    /// `QUEUED` for a new job; the job's current status when an idempotency key replays it.
    pub status: JobStatus,
}

/// A job as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    pub job_id: String,
    /// The job kind (`null` for a message that named none).
    pub job: Option<String>,
    /// The payload with its defaults filled in.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    pub status: JobStatus,
    /// Attempts started.
    pub attempts: u32,
    /// `api` or `schedule`.
    pub source: Option<String>,
    pub schedule: Option<String>,
    /// Who triggered the job: the caller's IAM ARN (in AWS), `schedule:<name>`, `local` or
    /// `local:<token name>` (`null` for jobs recorded before this was kept).
    pub submitted_by: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Start of the latest attempt (of its latest run, for an attempt resumed after an
    /// interruption).
    pub started_at: Option<DateTime<Utc>>,
    /// Start of the first attempt (`null` before it, or when the history no longer holds it).
    pub first_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (RETRY_WAIT).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the job is where it is: the error of the attempt it waits to retry (RETRY_WAIT), or why
    /// it ended FAILED, CANCELLED or SKIPPED. `null` for a SUCCEEDED job: earlier failures stay
    /// in `attemptHistory`, each with its run.
    pub last_error: Option<String>,
    /// The job's result summary (SUCCEEDED).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// The current attempt's saved progress (a kind that checkpoints, like `sleep`): what a run
    /// stopped by its node resumes from. `null` once the job ended.
    #[schema(value_type = Option<Object>)]
    pub checkpoint: Option<Value>,
    /// When a cancel request reached the running job (its worker stops it within seconds).
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// The job this one retries, and the newest job that retries this one.
    pub retry_of: Option<String>,
    pub retried_by: Option<String>,
    /// One entry per run of an attempt, oldest first (the last 20 ended runs are kept), then the
    /// run in progress while the job is RUNNING (`outcome: running`, no `finishedAt`).
    pub attempt_history: Vec<AttemptView>,
}

impl From<JobRecord> for JobView {
    fn from(r: JobRecord) -> Self {
        let mut attempts: Vec<AttemptView> = r.history.into_iter().map(AttemptView::from).collect();
        if r.status == JobStatus::Running
            && let Some(started_at) = r.started_at
        {
            attempts.push(AttemptView {
                attempt: r.attempts,
                started_at,
                finished_at: None,
                outcome: AttemptOutcome::Running,
                error: None,
                duration_ms: None,
                worker: r.runner.as_ref().map(|w| w.worker.clone()),
                logs: r.runner.and_then(|w| w.logs),
            });
        }
        JobView {
            job_id: r.job_id,
            job: r.kind,
            payload: r.payload,
            status: r.status,
            attempts: r.attempts,
            source: r.source,
            schedule: r.schedule,
            submitted_by: r.submitted_by,
            submitted_at: r.submitted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            first_started_at: r.first_started_at,
            finished_at: r.finished_at,
            next_attempt_at: r.next_attempt_at,
            // Items written before the store cleared it on success still carry one.
            last_error: r.last_error.filter(|_| r.status != JobStatus::Succeeded),
            result: r.result,
            checkpoint: r.checkpoint,
            cancel_requested_at: r.cancel_requested_at,
            retry_of: r.retry_of,
            retried_by: r.retried_by,
            attempt_history: attempts,
        }
    }
}

/// How a run of an attempt ended, or `running` for the run in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AttemptOutcome {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Abandoned,
    Cancelled,
}

impl From<RunOutcome> for AttemptOutcome {
    fn from(o: RunOutcome) -> Self {
        match o {
            RunOutcome::Succeeded => AttemptOutcome::Succeeded,
            RunOutcome::Failed => AttemptOutcome::Failed,
            RunOutcome::TimedOut => AttemptOutcome::TimedOut,
            RunOutcome::Interrupted => AttemptOutcome::Interrupted,
            RunOutcome::Abandoned => AttemptOutcome::Abandoned,
            RunOutcome::Cancelled => AttemptOutcome::Cancelled,
        }
    }
}

/// One run of an attempt: ended (`jobs_core::history::AttemptRun`) or in progress.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    /// The attempt (1-based) this run belongs to.
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    /// `null` while it runs.
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: AttemptOutcome,
    /// What went wrong in this run (at most 512 characters).
    pub error: Option<String>,
    /// `null` while it runs.
    pub duration_ms: Option<u64>,
    /// The pod (in Kubernetes) or process that ran it.
    pub worker: Option<String>,
    /// Where the run's log lines are: a CloudWatch log group (its stream is named after the pod)
    /// in AWS, a file locally.
    pub logs: Option<String>,
}

impl From<AttemptRun> for AttemptView {
    fn from(r: AttemptRun) -> Self {
        AttemptView {
            attempt: r.attempt,
            started_at: r.started_at,
            finished_at: Some(r.finished_at),
            outcome: r.outcome.into(),
            error: r.error,
            duration_ms: Some(r.duration_ms),
            worker: r.worker,
            logs: r.logs,
        }
    }
}

/// A page of `GET /jobs`, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `cursor` for the next page; `null` on the last page. A page may hold fewer jobs
    /// than `limit` and still have a next one.
    pub next_cursor: Option<String>,
}

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
        [queued, running, retry_wait]: [jobs_aws::store::OpenCount; 3],
        oldest: Option<jobs_aws::store::Oldest>,
    ) -> Self {
        OverviewView {
            at,
            counters: StatsView::new(counts, depth),
            open: OpenView { queued: queued.into(), running: running.into(), retry_wait: retry_wait.into() },
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
            })
            .collect();
        ThroughputView { minutes }
    }
}

/// A job kind's retry policy and time limit as the worker applies it with its default settings
/// (a deployment may change the defaults; a kind's own choices stay).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Seconds before the first re-attempt, doubled for each later one.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// The longest one attempt may run; then it fails as `timedOut`.
    pub timeout_secs: u64,
}

/// A job kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindView {
    pub name: String,
    pub description: String,
    /// The payload's JSON Schema.
    #[schema(value_type = Object)]
    pub payload_schema: Value,
    pub policy: PolicyView,
}

impl From<&KindInfo> for KindView {
    fn from(k: &KindInfo) -> Self {
        let p = k.policy.apply(&RetryPolicy::default());
        KindView {
            name: k.name.to_owned(),
            description: k.description.to_owned(),
            payload_schema: serde_json::to_value((k.schema)()).expect("schemas serialize"),
            policy: PolicyView {
                max_attempts: p.max_attempts,
                backoff_base_secs: p.backoff_base.as_secs(),
                backoff_max_secs: p.backoff_max.as_secs(),
                timeout_secs: k.policy.timeout(jobs_core::policy::DEFAULT_ATTEMPT_TIMEOUT).as_secs(),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KindList {
    pub kinds: Vec<KindView>,
}

/// ENABLED (fires) or DISABLED (paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScheduleState {
    Enabled,
    Disabled,
}

/// The newest job a schedule fired.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    pub job_id: String,
    pub status: JobStatus,
    /// When the firing's job was recorded.
    pub at: Option<DateTime<Utc>>,
}

impl From<JobRecord> for LastRun {
    fn from(r: JobRecord) -> Self {
        LastRun { job_id: r.job_id, status: r.status, at: r.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub name: String,
    /// The EventBridge Scheduler expression.
    #[schema(example = "cron(0 7 ? * MON *)")]
    pub expression: String,
    pub timezone: String,
    pub state: ScheduleState,
    pub job: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// `forbid`: a firing while the previous job runs is SKIPPED.
    pub overlap: Overlap,
    /// The next fire times, RFC 3339 in the schedule's time zone, whole seconds (none while
    /// DISABLED). A `rate()` counts from the schedule's creation (or `StartDate`), so the times
    /// stay put between calls. EventBridge fires within a minute of each.
    pub next_fire_times: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The newest job the schedule fired (`null` before its first firing).
    pub last_run: Option<LastRun>,
}

impl ScheduleView {
    /// The view of a stored schedule at `now`, with its newest job.
    pub fn new(info: ScheduleInfo, last_run: Option<JobRecord>, now: DateTime<Utc>) -> Self {
        let input: Option<Value> = info.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
        let field = |name: &str| input.as_ref().and_then(|i| i.get(name)).cloned();
        let state = if info.state == "DISABLED" { ScheduleState::Disabled } else { ScheduleState::Enabled };
        let start = info.start_date.or(info.created_at).unwrap_or(now);
        ScheduleView {
            next_fire_times: match state {
                ScheduleState::Enabled => fire_times(&info.expression, &info.timezone, start, now),
                ScheduleState::Disabled => Vec::new(),
            },
            job: field("job").and_then(|j| j.as_str().map(str::to_owned)),
            payload: field("payload"),
            overlap: field("overlap").and_then(|o| serde_json::from_value(o).ok()).unwrap_or_default(),
            name: info.name,
            expression: info.expression,
            timezone: info.timezone,
            state,
            created_at: info.created_at,
            last_run: last_run.map(Into::into),
        }
    }
}

/// The next fire times of an expression in its time zone, as RFC 3339 text (none if it is not
/// one this API reads).
fn fire_times(expression: &str, timezone: &str, start: DateTime<Utc>, now: DateTime<Utc>) -> Vec<String> {
    let parsed = jobs_core::schedule::parse(expression).and_then(|s| {
        let tz: chrono_tz::Tz = jobs_core::schedule::parse_timezone(timezone)?;
        s.fire_times_since(start, tz, now, crate::app::NEXT_FIRE_TIMES)
    });
    let text = |t: &DateTime<chrono_tz::Tz>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    parsed.map(|times| times.iter().map(text).collect()).unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}
