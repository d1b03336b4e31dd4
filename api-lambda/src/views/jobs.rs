//! A job as the API shows it (with its runs, the one in progress included), a page of jobs, and
//! the answer to a submit.

use chrono::{DateTime, Utc};
use jobs_aws::JobRecord;
use jobs_core::history::{AttemptRun, RunOutcome};
use jobs_core::pools::Priority;
use jobs_core::{JobStatus, Tenant};
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
    /// The pool that runs its kind (`GET /jobs/pools`; `null` for a kind this build does not know).
    pub pool: Option<String>,
    /// `high` jobs start before every `normal` job of their pool still waiting.
    pub priority: Priority,
    /// Whose job it is (docs/tenants.md); for a job recorded before tenants, the one its
    /// submitter implies.
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Tenant,
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
    /// Why a WAITING job waits: its tenant's limit it is over, as the last admission decision saw
    /// it (`docs/tenants.md`); `null` otherwise.
    pub waiting_for: Option<String>,
    /// It holds one of its tenant's slots (admitted; given back when it ends).
    pub holds_slot: bool,
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
    fn from(mut r: JobRecord) -> Self {
        let pool = r.kind().and_then(jobs_core::catalog::kind_info).map(|k| k.policy.pool.to_owned());
        let priority = r.priority();
        let message = r.message.take();
        let msg = message.as_ref();
        let mut attempts: Vec<AttemptView> = r.state.history.into_iter().map(AttemptView::from).collect();
        if r.state.status == JobStatus::Running
            && let Some(started_at) = r.state.started_at
        {
            attempts.push(AttemptView {
                attempt: r.state.attempts,
                started_at,
                finished_at: None,
                outcome: AttemptOutcome::Running,
                error: None,
                duration_ms: None,
                worker: r.state.runner.as_ref().map(|w| w.worker.clone()),
                logs: r.state.runner.and_then(|w| w.logs),
            });
        }
        JobView {
            job_id: r.job_id,
            pool,
            priority,
            tenant: r.tenant,
            job: msg.map(|m| m.kind.clone()),
            payload: msg.map(|m| m.payload.clone()),
            status: r.state.status,
            attempts: r.state.attempts,
            source: msg.map(|m| m.source.as_str().to_owned()),
            schedule: msg.and_then(|m| m.schedule.clone()),
            submitted_by: r.submitted_by,
            submitted_at: msg.map(|m| m.submitted_at),
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.state.started_at,
            first_started_at: r.first_started_at,
            finished_at: r.finished_at,
            next_attempt_at: r.state.retry_at,
            // Items written before the store cleared it on success still carry one.
            last_error: r.last_error.filter(|_| r.state.status != JobStatus::Succeeded),
            result: r.result,
            checkpoint: r.state.checkpoint,
            waiting_for: r.wait_reason.filter(|_| r.state.status == JobStatus::Waiting),
            holds_slot: r.state.slot,
            cancel_requested_at: r.cancel_requested_at,
            retry_of: msg.and_then(|m| m.retry_of.clone()),
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
