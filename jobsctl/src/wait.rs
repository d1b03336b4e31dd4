//! Following a job until it ends, and the post-deploy check built on it.
//!
//! [`verdict`] is the rule (a job is pending until its status is terminal); [`until_ended`] polls
//! with it, printing a progress line whenever the status changes, and rides out transient API
//! errors until the deadline. [`check`] submits a noop job with an idempotency key (so repeating
//! a submit whose answer was lost creates no second job), waits for SUCCEEDED and reads the stats.

use std::time::{Duration, Instant};

use jobs_core::JobStatus;
use serde_json::Value;

use crate::client::{Client, ClientError};

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not ended yet (QUEUED, RUNNING, RETRY_WAIT).
    Pending(JobStatus),
    Succeeded,
    /// Ended otherwise: FAILED, CANCELLED or SKIPPED, with the job's last error.
    Ended {
        status: JobStatus,
        error: Option<String>,
    },
}

/// The verdict on a job as `GET /jobs/{id}` returns it; `None` if it has no known status.
pub fn verdict(job: &Value) -> Option<Verdict> {
    let status = JobStatus::parse(job["status"].as_str()?)?;
    Some(match status {
        JobStatus::Succeeded => Verdict::Succeeded,
        s if s.is_terminal() => Verdict::Ended { status: s, error: job["lastError"].as_str().map(str::to_owned) },
        s => Verdict::Pending(s),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("job {id} has not ended after {waited:?} (last status {last})")]
    Timeout { id: String, waited: Duration, last: String },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("job {id} ended {status}{}", error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    Ended { id: String, status: JobStatus, error: Option<String> },
}

/// How often a waiting client asks.
pub const POLL: Duration = Duration::from_secs(2);

/// Polls job `id` until it ends or `timeout` passes; returns the ended job. `progress` gets a line
/// whenever the status changes (and on transient errors).
pub async fn until_ended(
    client: &Client,
    id: &str,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> Result<Value, WaitError> {
    let started = Instant::now();
    let mut last = String::from("unknown");
    loop {
        match client.job(id).await {
            Ok(job) => match verdict(&job) {
                Some(Verdict::Pending(status)) => {
                    if status.as_str() != last {
                        last = status.as_str().to_owned();
                        progress(&format!("job {id}: {last} after {} s", started.elapsed().as_secs()));
                    }
                }
                Some(_) => return Ok(job),
                None => {
                    return Err(ClientError::Decode {
                        url: format!("/jobs/{id}"),
                        detail: format!("no status in {job}"),
                    }
                    .into());
                }
            },
            // The API or the network failed: ask again until the deadline.
            Err(e) if e.is_transient() => progress(&format!("job {id}: {e}; asking again")),
            Err(e) => return Err(e.into()),
        }
        if started.elapsed() >= timeout {
            return Err(WaitError::Timeout { id: id.to_owned(), waited: started.elapsed(), last });
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(100))).await;
    }
}

/// What a passed check saw.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    pub job_id: String,
    pub seconds: f64,
    pub stats: Value,
}

/// Attempts of the submit when the API fails transiently (same idempotency key each time).
const SUBMIT_ATTEMPTS: u32 = 5;

/// The post-deploy check: a `noop` job submitted through the API reaches SUCCEEDED within
/// `timeout` (a worker pod ran it), and `GET /jobs/stats` answers and counts a success.
pub async fn check(
    client: &Client,
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> Result<CheckReport, WaitError> {
    let started = Instant::now();
    let key = format!("deploy-check-{}", uuid::Uuid::new_v4());
    let mut attempt = 1;
    let accepted = loop {
        match client.submit("noop", None, Default::default(), Some(&key)).await {
            Ok(a) => break a,
            Err(e) if e.is_transient() && attempt < SUBMIT_ATTEMPTS => {
                progress(&format!("submit: {e}; again with the same Idempotency-Key"));
                tokio::time::sleep(Duration::from_secs(2u64.pow(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    };
    progress(&format!("submitted noop job {} ({})", accepted.job_id, accepted.status));
    let job = until_ended(client, &accepted.job_id, timeout, &mut progress).await?;
    match verdict(&job) {
        Some(Verdict::Succeeded) => {}
        Some(Verdict::Ended { status, error }) => return Err(WaitError::Ended { id: accepted.job_id, status, error }),
        _ => unreachable!("until_ended returns ended jobs"),
    }
    let stats = client.stats().await?;
    if stats["succeedJob"].as_u64().unwrap_or(0) == 0 {
        return Err(
            ClientError::Decode { url: "/jobs/stats".into(), detail: format!("no success counted: {stats}") }.into()
        );
    }
    Ok(CheckReport { job_id: accepted.job_id, seconds: started.elapsed().as_secs_f64(), stats })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn verdict_table() {
        let cases = [
            (json!({"status": "QUEUED"}), Some(Verdict::Pending(JobStatus::Queued))),
            (json!({"status": "RUNNING"}), Some(Verdict::Pending(JobStatus::Running))),
            (json!({"status": "RETRY_WAIT", "lastError": "boom"}), Some(Verdict::Pending(JobStatus::RetryWait))),
            (json!({"status": "SUCCEEDED"}), Some(Verdict::Succeeded)),
            (
                json!({"status": "FAILED", "lastError": "boom"}),
                Some(Verdict::Ended { status: JobStatus::Failed, error: Some("boom".into()) }),
            ),
            (json!({"status": "CANCELLED"}), Some(Verdict::Ended { status: JobStatus::Cancelled, error: None })),
            (json!({"status": "SKIPPED"}), Some(Verdict::Ended { status: JobStatus::Skipped, error: None })),
            (json!({"status": "done"}), None),
            (json!({}), None),
        ];
        for (job, want) in cases {
            assert_eq!(verdict(&job), want, "{job}");
        }
    }
}
