//! A job as the API shows it (with its runs, the one in progress included), a page of jobs, and
//! the answer to a submit.

use chrono::{DateTime, Utc};
use jobs_aws::JobRecord;
use jobs_core::history::{AttemptRun, RunOutcome};
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, JobState, JobStatus, Tenant};
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

/// A job as stored: what was asked ([`JobDescription`], from the message its item recorded), where
/// it stands ([`JobProgress`], from its state), and the bookkeeping around them. One JSON object:
/// the two parts are flattened into it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    pub job_id: String,
    #[serde(flatten)]
    pub description: JobDescription,
    #[serde(flatten)]
    pub progress: JobProgress,
    /// Whose job it is (docs/tenants.md); for a job recorded before tenants, the one its
    /// submitter implies.
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Tenant,
    /// Who triggered the job: the caller's IAM ARN (in AWS), `schedule:<name>`, `local` or
    /// `local:<token name>` (`null` for jobs recorded before this was kept).
    pub submitted_by: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Start of the first attempt (`null` before it, or when the history no longer holds it).
    pub first_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Why the job is where it is: the error of the attempt it waits to retry (RETRY_WAIT), or why
    /// it ended FAILED, CANCELLED or SKIPPED. `null` for a SUCCEEDED job: earlier failures stay
    /// in `attemptHistory`, each with its run.
    pub last_error: Option<String>,
    /// The job's result summary (SUCCEEDED).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    /// Why a WAITING job waits: its tenant's limit it is over, as the last admission decision saw
    /// it (`docs/tenants.md`); `null` otherwise.
    pub waiting_for: Option<String>,
    /// When a cancel request reached the running job (its worker stops it within seconds).
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// The newest job that retries this one.
    pub retried_by: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(r: JobRecord) -> Self {
        let status = r.state.status;
        JobView {
            job_id: r.job_id,
            description: JobDescription::from(r.message),
            progress: JobProgress::from(r.state),
            tenant: r.tenant,
            submitted_by: r.submitted_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            first_started_at: r.first_started_at,
            finished_at: r.finished_at,
            // Items written before the store cleared it on success still carry one.
            last_error: r.last_error.filter(|_| status != JobStatus::Succeeded),
            result: r.result,
            waiting_for: r.wait_reason.filter(|_| status == JobStatus::Waiting),
            cancel_requested_at: r.cancel_requested_at,
            retried_by: r.retried_by,
        }
    }
}

/// What was asked: the job's message as its item recorded it, without the wire's own fields
/// (version, overlap policy). Every field is `null` (the priority `normal`) for an item that
/// does not say what the job is: a rejected poison message's.
#[derive(Debug, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobDescription {
    /// The job kind (`null` for a message that named none).
    pub job: Option<String>,
    /// The payload with its defaults filled in.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// The pool that runs its kind (`GET /jobs/pools`; `null` for a kind this build does not know).
    pub pool: Option<String>,
    /// `high` jobs start before every `normal` job of their pool still waiting.
    pub priority: Priority,
    /// `api` or `schedule`.
    pub source: Option<String>,
    pub schedule: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// The job this one retries.
    pub retry_of: Option<String>,
}

impl From<Option<JobMessage>> for JobDescription {
    fn from(message: Option<JobMessage>) -> Self {
        let Some(m) = message else { return JobDescription::default() };
        JobDescription {
            pool: jobs_core::catalog::kind_info(&m.kind).map(|k| k.policy.pool.to_owned()),
            job: Some(m.kind),
            payload: Some(m.payload),
            priority: m.priority,
            source: Some(m.source.as_str().to_owned()),
            schedule: m.schedule,
            submitted_at: Some(m.submitted_at),
            retry_of: m.retry_of,
        }
    }
}

/// Where the job stands: its state as the rules read it, with the run in progress shown as the
/// last entry of its history.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobProgress {
    pub status: JobStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Start of the latest attempt (of its latest run, for an attempt resumed after an
    /// interruption).
    pub started_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (RETRY_WAIT).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The current attempt's saved progress (a kind that checkpoints, like `sleep`): what a run
    /// stopped by its node resumes from. `null` once the job ended.
    #[schema(value_type = Option<Object>)]
    pub checkpoint: Option<Value>,
    /// It holds one of its tenant's slots (admitted; given back when it ends).
    pub holds_slot: bool,
    /// One entry per run of an attempt, oldest first (the last 20 ended runs are kept), then the
    /// run in progress while the job is RUNNING (`outcome: running`, no `finishedAt`).
    pub attempt_history: Vec<AttemptView>,
}

impl From<JobState> for JobProgress {
    fn from(s: JobState) -> Self {
        let mut runs: Vec<AttemptView> = s.history.into_iter().map(AttemptView::from).collect();
        if s.status == JobStatus::Running
            && let Some(started_at) = s.started_at
        {
            runs.push(AttemptView {
                attempt: s.attempts,
                started_at,
                finished_at: None,
                outcome: AttemptOutcome::Running,
                error: None,
                duration_ms: None,
                worker: s.runner.as_ref().map(|w| w.worker.clone()),
                logs: s.runner.and_then(|w| w.logs),
            });
        }
        JobProgress {
            status: s.status,
            attempts: s.attempts,
            started_at: s.started_at,
            next_attempt_at: s.retry_at,
            checkpoint: s.checkpoint,
            holds_slot: s.slot,
            attempt_history: runs,
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use jobs_core::history::Runner;
    use serde_json::json;

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_description_is_the_recorded_message_or_nulls_for_an_item_that_names_none() {
        let known = JobMessage::new_api("sleep", json!({"ms": 5}), at(0));
        let unknown = JobMessage::new_api("retired-kind", json!({}), at(0));
        let cases = [
            (Some(known), Some("sleep"), Some("long"), Some("api")),
            // A kind this build does not know still shows; its pool cannot be said.
            (Some(unknown), Some("retired-kind"), None, Some("api")),
            // A rejected poison message's item.
            (None, None, None, None),
        ];
        for (message, job, pool, source) in cases {
            let d = JobDescription::from(message);
            assert_eq!((d.job.as_deref(), d.pool.as_deref(), d.source.as_deref()), (job, pool, source));
            assert_eq!(d.payload.is_some(), job.is_some());
            assert_eq!(d.submitted_at, job.map(|_| at(0)));
            assert_eq!(d.priority, Priority::Normal);
        }
    }

    #[test]
    fn progress_shows_the_run_in_progress_only_while_the_job_runs() {
        for (status, started, runs, last) in [
            (JobStatus::Running, Some(at(10)), 1, Some(AttemptOutcome::Running)),
            // A RUNNING item without its run's start (written before it was kept) shows no run.
            (JobStatus::Running, None, 0, None),
            (JobStatus::RetryWait, Some(at(10)), 0, None),
            (JobStatus::Succeeded, Some(at(10)), 0, None),
        ] {
            let mut state = JobState::new(status, 2);
            state.started_at = started;
            state.runner = Some(Runner { worker: "pod-1".into(), logs: Some("/logs/pod-1.log".into()) });
            state.slot = true;
            let p = JobProgress::from(state);
            assert_eq!(p.attempt_history.len(), runs, "{status:?}");
            let run = p.attempt_history.last();
            assert_eq!(run.map(|r| r.outcome), last);
            if let Some(run) = run {
                assert_eq!((run.attempt, run.started_at, run.finished_at), (2, at(10), None));
                assert_eq!((run.worker.as_deref(), run.logs.as_deref()), (Some("pod-1"), Some("/logs/pod-1.log")));
            }
            assert_eq!((p.status, p.attempts, p.holds_slot), (status, 2, true));
        }
    }
}
