//! Takes messages from the job queue and carries each through the state machine of
//! `jobs_core::state`: claim the job (conditional write), run it with a heartbeat, record the
//! outcome (conditional write + counters, one transaction), then settle the message (delete it,
//! or hide it for the retry backoff, or release it on SIGTERM).

use std::time::{Duration, Instant};

use chrono::Utc;
use jobs_aws::{BackendError, JobQueue, JobStore, Received, StoreError};
use jobs_core::kinds::JobContext;
use jobs_core::state::{self, OnReceive, Skip, Transition};
use jobs_core::{AfterFailure, JobMessage, JobSpec, Lease, RetryPolicy};
use tracing::{Instrument, info, info_span, warn};

use crate::shutdown::Shutdown;

/// Conditional writes lost to a concurrent worker before this one gives the message back.
const MAX_CLAIM_RACES: usize = 5;
/// After a backend failure the message is hidden this long before another worker may try.
const BACKEND_RETRY_DELAY: Duration = Duration::from_secs(5);

/// How handling one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The queue stayed empty for the whole wait.
    Empty,
    Succeeded,
    /// The attempt failed; the message comes back after the backoff.
    RetryScheduled,
    /// The last attempt failed (or the job's worker died on its last attempt): FAILED.
    Failed,
    /// Poison message: sent to the dead-letter queue without running.
    Rejected,
    /// The job was finished, or is being run by another worker: nothing to do, nothing counted.
    Duplicate,
    /// Stopped by a signal; the message is back on the queue, no retry consumed.
    Interrupted,
    /// Another worker took the job over (this worker's lease ran out): nothing recorded.
    LostLease,
}

impl Outcome {
    /// The process exit code for this outcome (see the `--help` text).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Empty | Outcome::Succeeded | Outcome::Duplicate | Outcome::LostLease => 0,
            Outcome::RetryScheduled | Outcome::Failed | Outcome::Rejected => 1,
            Outcome::Interrupted => 143,
        }
    }
}

pub struct Worker {
    pub queue: JobQueue,
    pub store: JobStore,
    pub policy: RetryPolicy,
    pub visibility: Duration,
    pub wait: Duration,
    /// This worker's identity in leases.
    pub owner: String,
    pub shutdown: Shutdown,
}

/// How one attempt ended.
enum Ended {
    Finished(Result<serde_json::Value, jobs_core::kinds::JobFailure>),
    Interrupted,
    Lost,
}

fn store_err(e: StoreError) -> BackendError {
    match e {
        StoreError::Backend(b) => b,
        StoreError::Conflict => BackendError::new("unexpected write conflict"),
    }
}

impl Worker {
    /// Processes up to `limit` messages (`None`: until the queue is empty or a stop is requested).
    /// Returns every outcome in order; stops at the first backend failure.
    pub async fn run(&self, limit: Option<u64>) -> Result<Vec<Outcome>, BackendError> {
        let mut outcomes = Vec::new();
        while limit.is_none_or(|max| (outcomes.len() as u64) < max) && !self.shutdown.is_requested() {
            let received = tokio::select! {
                r = self.queue.receive(self.wait, self.visibility) => r?,
                _ = self.shutdown.requested() => break,
            };
            let Some(msg) = received else {
                info!(queue = self.queue.url(), "queue is empty");
                if outcomes.is_empty() {
                    outcomes.push(Outcome::Empty);
                }
                break;
            };
            match self.handle(&msg).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    // Nothing is lost: the message reappears after a short delay.
                    if let Err(release) = self.queue.set_visibility(&msg.receipt_handle, BACKEND_RETRY_DELAY).await {
                        warn!(error = %release, "could not release the message; it reappears after its visibility timeout");
                    }
                    return Err(e);
                }
            }
            if outcomes.last() == Some(&Outcome::Interrupted) {
                break;
            }
        }
        Ok(outcomes)
    }

    /// Handles one received message.
    pub async fn handle(&self, msg: &Received) -> Result<Outcome, BackendError> {
        let job = match JobMessage::parse_received(&msg.body, Some(&msg.message_id), Some(Utc::now())) {
            Ok(job) => job,
            Err(e) => {
                let span = info_span!("job", job_id = e.job_id.as_deref().unwrap_or("?"), message_id = %msg.message_id);
                return self.reject(msg, e.job_id.as_deref(), None, &e.reason).instrument(span).await;
            }
        };
        let span = info_span!("job", job_id = %job.job_id, kind = %job.kind, receive_count = msg.receive_count);
        async {
            match JobSpec::parse(&job.kind, job.payload.clone()) {
                Ok(spec) => self.claim_and_run(msg, &job, &spec).await,
                Err(e) => self.reject(msg, Some(&job.job_id), Some(&job), &e.to_string()).await,
            }
        }
        .instrument(span)
        .await
    }

    async fn claim_and_run(&self, msg: &Received, job: &JobMessage, spec: &JobSpec) -> Result<Outcome, BackendError> {
        let grace = self.visibility / 3;
        for _ in 0..MAX_CLAIM_RACES {
            let current = self.store.get(&job.job_id).await.map_err(store_err)?;
            let now = Utc::now();
            let lease = Lease { owner: self.owner.clone(), until: now + self.visibility };
            let decision = state::on_receive(current.map(|r| r.state()).as_ref(), &lease, now, grace, &self.policy);
            match decision {
                OnReceive::Skip(Skip::Finished(status)) => {
                    info!(%status, "duplicate delivery of a finished job; deleting the message");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::Skip(Skip::Held(holder)) => {
                    info!(holder = %holder.owner, "job is running on another worker; leaving this delivery alone");
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::Skip(Skip::NotDue(due)) => {
                    let wait = (due - now).to_std().unwrap_or_default();
                    info!(due = %due, "re-attempt not due yet; hiding the message until then");
                    self.queue.set_visibility(&msg.receipt_handle, wait).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::GiveUp { transition } => {
                    let reason = transition.change.last_error.clone().unwrap_or_default();
                    self.queue.send_to_dlq(&msg.body, &reason, Some(&job.job_id)).await?;
                    match self.store.apply(&job.job_id, Some(job), &transition).await {
                        Err(StoreError::Conflict) => continue,
                        other => other.map_err(store_err)?,
                    }
                    warn!(error = %reason, "job FAILED: no attempts left");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Failed);
                }
                OnReceive::Start { attempt, transition } => {
                    match self.store.apply(&job.job_id, Some(job), &transition).await {
                        Err(StoreError::Conflict) => continue,
                        other => other.map_err(store_err)?,
                    }
                    return self.run_attempt(msg, job, spec, attempt).await;
                }
            }
        }
        warn!("lost {MAX_CLAIM_RACES} races for the job in a row; leaving the message for later");
        Ok(Outcome::Duplicate)
    }

    async fn run_attempt(
        &self,
        msg: &Received,
        job: &JobMessage,
        spec: &JobSpec,
        attempt: u32,
    ) -> Result<Outcome, BackendError> {
        let ctx = JobContext { job_id: job.job_id.clone(), attempt };
        let started = Instant::now();
        info!(attempt, max_attempts = self.policy.max_attempts, "attempt started");
        let ended = tokio::select! {
            result = spec.run(&ctx) => Ended::Finished(result),
            () = self.heartbeat(msg, &job.job_id, attempt) => Ended::Lost,
            () = self.shutdown.requested() => Ended::Interrupted,
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let now = Utc::now();
        match ended {
            Ended::Lost => {
                warn!(attempt, "lease lost to another worker; stopping without recording");
                Ok(Outcome::LostLease)
            }
            Ended::Interrupted => {
                match self.store.apply(&job.job_id, None, &state::interrupt(attempt, &self.owner, now)).await {
                    Ok(()) | Err(StoreError::Conflict) => {}
                    Err(StoreError::Backend(e)) => {
                        warn!(error = %e, "could not record the interruption")
                    }
                }
                self.queue.set_visibility(&msg.receipt_handle, Duration::ZERO).await?;
                warn!(attempt, elapsed_ms, "attempt interrupted; message released for another worker");
                Ok(Outcome::Interrupted)
            }
            Ended::Finished(Ok(result)) => {
                if !self.record(job, &state::succeed(attempt, &self.owner, result, now)).await? {
                    return Ok(Outcome::LostLease);
                }
                self.queue.delete(&msg.receipt_handle).await?;
                info!(attempt, elapsed_ms, "job SUCCEEDED");
                Ok(Outcome::Succeeded)
            }
            Ended::Finished(Err(failure)) => {
                let (transition, decision) = state::fail(attempt, &self.owner, &failure.0, now, &self.policy);
                if decision == AfterFailure::GiveUp {
                    // Copy first: a crash after this leaves a duplicate copy, never none.
                    self.queue.send_to_dlq(&msg.body, &failure.0, Some(&job.job_id)).await?;
                }
                if !self.record(job, &transition).await? {
                    return Ok(Outcome::LostLease);
                }
                match decision {
                    AfterFailure::Retry { next, delay } => {
                        self.queue.set_visibility(&msg.receipt_handle, delay).await?;
                        warn!(attempt, elapsed_ms, error = %failure, next_attempt = next, delay_secs = delay.as_secs(), "attempt failed; retry scheduled");
                        Ok(Outcome::RetryScheduled)
                    }
                    AfterFailure::GiveUp => {
                        self.queue.delete(&msg.receipt_handle).await?;
                        warn!(attempt, elapsed_ms, error = %failure, "job FAILED after its last attempt");
                        Ok(Outcome::Failed)
                    }
                }
            }
        }
    }

    /// Records an outcome; `false` if another worker owns the job now.
    async fn record(&self, job: &JobMessage, transition: &Transition) -> Result<bool, BackendError> {
        match self.store.apply(&job.job_id, None, transition).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(StoreError::Backend(e)) => Err(e),
        }
    }

    /// Renews the lease and the message's visibility every third of the visibility timeout.
    /// Returns only when the lease was lost.
    async fn heartbeat(&self, msg: &Received, job_id: &str, attempt: u32) {
        let every = (self.visibility / 3).max(Duration::from_secs(1));
        loop {
            tokio::time::sleep(every).await;
            let now = Utc::now();
            let lease = Lease { owner: self.owner.clone(), until: now + self.visibility };
            match self.store.apply(job_id, None, &state::renew(attempt, &lease, now)).await {
                Ok(()) => {}
                Err(StoreError::Conflict) => return,
                Err(StoreError::Backend(e)) => {
                    warn!(error = %e, "could not renew the lease; retrying")
                }
            }
            if let Err(e) = self.queue.set_visibility(&msg.receipt_handle, self.visibility).await {
                warn!(error = %e, "could not extend the message's visibility; retrying");
            }
        }
    }

    /// A message that can never run: keep a copy on the DLQ, record the job FAILED when the
    /// message names one that never started, delete the message.
    async fn reject(
        &self,
        msg: &Received,
        job_id: Option<&str>,
        origin: Option<&JobMessage>,
        reason: &str,
    ) -> Result<Outcome, BackendError> {
        warn!(reason, "rejecting poison message");
        self.queue.send_to_dlq(&msg.body, reason, job_id).await?;
        if let Some(id) = job_id {
            for _ in 0..MAX_CLAIM_RACES {
                let current = self.store.get(id).await.map_err(store_err)?;
                let Some(transition) = state::reject(current.map(|r| r.state()).as_ref(), reason, Utc::now()) else {
                    info!("job already started or finished; left as it is");
                    break;
                };
                match self.store.apply(id, origin, &transition).await {
                    Ok(()) => break,
                    Err(StoreError::Conflict) => continue,
                    Err(StoreError::Backend(e)) => return Err(e),
                }
            }
        }
        self.queue.delete(&msg.receipt_handle).await?;
        Ok(Outcome::Rejected)
    }
}
