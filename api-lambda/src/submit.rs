//! Accepting a job, the one application function behind `POST /jobs` (and, for a retry of an
//! ended job, `POST /jobs/{id}/retry`): record it (QUEUED, `submitted + 1`, the idempotency key,
//! the retried job's `retriedBy`) in one transaction, send its message, mark it sent.
//!
//! The record is the commitment: once it is written, the job will run. A send that fails (or
//! whose answer is lost, or a process that dies right after the record) leaves the job due in the
//! reconciler's index, which sends it within `SEND_GRACE_SECS` plus one pass. Nothing is ever taken
//! back, so a replay of the idempotency key never returns a job that disappears, and a send that
//! succeeded without saying so never leads to a second job.

use jobs_aws::store::Seat;
use jobs_aws::{BackendError, Conditional, Idempotency, JobQueue, JobRecord, JobStore, PoolQueues, Submitted};
use jobs_core::message::Unsendable;
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, JobSpec, JobStatus, Tenant};

use crate::caller::Caller;

/// What became of an accepted job's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// On the queue.
    Sent,
    /// Recorded; the reconciler sends it (the queue failed just now).
    Deferred,
    /// Recorded WAITING over its tenant's limits: sent when it is admitted.
    Waiting,
}

/// Tries of deciding a new job's seat when its tenant's item keeps changing under it; then it
/// waits (and is admitted in turn).
const SEAT_TRIES: u32 = 3;
/// Waiting jobs of the tenant an API request admits after it recorded one WAITING or freed a slot
/// (a few: a slot may have freed meanwhile); after its limits changed, as many as they let in (a
/// raised limit takes effect in the answer, not at the reconciler's next pass).
pub const ADMIT_BUDGET: usize = 5;
pub const ADMIT_AFTER_CHANGE: usize = 100;

/// An accepted job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub job_id: String,
    pub status: JobStatus,
    pub delivery: Delivery,
    /// A new job (`None`: an idempotent replay of an earlier one): its tenant and kind, for the
    /// metrics.
    pub new: Option<(Tenant, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// SQS would refuse the message: nothing was recorded.
    #[error(transparent)]
    Unsendable(#[from] Unsendable),
    #[error("the Idempotency-Key was already used for a different request")]
    KeyReused,
    /// Nothing definite was recorded: retrying with the same Idempotency-Key is safe.
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("the job changed concurrently; retry the request")]
    Raced,
    #[error("no job {0:?}")]
    NotFound(String),
    /// Only FAILED and CANCELLED jobs can be retried.
    #[error("{0}")]
    NotRetryable(String),
}

/// Records `msg` and sends it (see the module's text). A replayed idempotency key returns the
/// job it created, sending its message if that never happened. A message SQS would refuse is
/// refused before anything is recorded: recorded, it could never be delivered.
pub async fn submit(
    store: &JobStore,
    queues: &PoolQueues,
    msg: &JobMessage,
    caller: &Caller,
    idempotency: Option<&Idempotency>,
) -> Result<Accepted, SubmitError> {
    let body = msg.sendable_body()?;
    let tenant = msg.tenant_or_of(&caller.0);
    let mut tries = 0;
    let seat = loop {
        tries += 1;
        let seat = store.seat(&tenant, tries >= SEAT_TRIES).await?;
        let Conditional::Applied(submitted) = store.submit(msg, &caller.0, idempotency, &seat).await? else {
            return Err(SubmitError::Raced);
        };
        match submitted {
            Submitted::Created => break seat,
            Submitted::TenantChanged => continue,
            Submitted::KeyReused => return Err(SubmitError::KeyReused),
            Submitted::NotRetryable => {
                let of = msg.retry_of.as_deref().unwrap_or_default();
                return Err(SubmitError::NotRetryable(format!("job {of:?} has not ended FAILED or CANCELLED")));
            }
            Submitted::Existing { job_id } => return replay(store, queues, job_id).await,
        }
    };
    let (status, delivery) = match &seat {
        Seat::Wait { reason, .. } => {
            tracing::info!(job_id = %msg.job_id, %tenant, %reason, "job WAITING for its tenant's limits");
            // A slot may have freed since the seat was read: admit in turn (this job, or older).
            admit(store, queues, &tenant, ADMIT_BUDGET).await;
            (JobStatus::Waiting, Delivery::Waiting)
        }
        Seat::Free | Seat::Slot(_) => {
            (JobStatus::Queued, send(store, queues.for_job(&msg.kind, msg.priority), &msg.job_id, &body).await)
        }
    };
    tracing::info!(job_id = %msg.job_id, kind = %msg.kind, priority = msg.priority.as_str(), %tenant, submitted_by = %caller.0, ?delivery, "job accepted");
    Ok(Accepted { job_id: msg.job_id.clone(), status, delivery, new: Some((tenant, msg.kind.clone())) })
}

/// Admits `tenant`'s waiting jobs in turn, as far as its limits allow (after a job was recorded
/// WAITING, or a slot freed). A failure is logged: the reconciler admits them on its next pass.
pub async fn admit(store: &JobStore, queues: &PoolQueues, tenant: &Tenant, budget: usize) {
    let send_by = store.now() + chrono::Duration::from_std(store.timing().send_grace).unwrap_or_default();
    let sent = jobs_aws::admit::admit_and_send(store, tenant, budget, send_by, |msg| {
        Some(queues.for_job(&msg.kind, msg.priority))
    })
    .await;
    if let Err(e) = sent {
        tracing::warn!(%tenant, error = %e, "could not admit the tenant's waiting jobs; the reconciler will");
    }
}

/// What a retry may change of the old job (`None`: keep the old job's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub priority: Option<Priority>,
    pub tenant: Option<Tenant>,
}

/// Submits a new job with the kind and payload of job `old`, which must have ended FAILED or
/// CANCELLED; the new job's `retryOf` and the old one's `retriedBy` link them. It keeps the old
/// job's priority and tenant unless `overrides` says otherwise.
pub async fn retry(
    store: &JobStore,
    queues: &PoolQueues,
    old: &str,
    caller: &Caller,
    idempotency: Option<&Idempotency>,
    overrides: Overrides,
) -> Result<Accepted, SubmitError> {
    let record = store.get(old).await?.ok_or_else(|| SubmitError::NotFound(old.to_owned()))?;
    if !matches!(record.state.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(SubmitError::NotRetryable(format!(
            "job {old:?} is {}; only FAILED and CANCELLED jobs can be retried",
            record.state.status
        )));
    }
    let spec = match &record.message {
        // A retry is accepted anew: a command kind's payload meets its schema of today.
        Some(old_msg) => JobSpec::accept(&old_msg.kind, old_msg.payload.clone()),
        None => return Err(SubmitError::NotRetryable(format!("job {old:?} names no job kind"))),
    };
    let spec = spec.map_err(|e| SubmitError::NotRetryable(format!("job {old:?} cannot run again: {e}")))?;
    let msg = JobMessage {
        retry_of: Some(old.to_owned()),
        priority: overrides.priority.unwrap_or(record.priority()),
        tenant: Some(overrides.tenant.unwrap_or(record.tenant)),
        ..JobMessage::for_spec(&spec, store.now())
    };
    submit(store, queues, &msg, caller, idempotency).await
}

/// The job an idempotency key created. If its message was never sent (the first request died
/// in between, or its send failed), it is sent now rather than at the reconciler's next pass.
async fn replay(store: &JobStore, queues: &PoolQueues, job_id: String) -> Result<Accepted, SubmitError> {
    let record = store.get(&job_id).await?;
    let status = record.as_ref().map_or(JobStatus::Queued, |r| r.state.status);
    let unsent = record.as_ref().is_some_and(JobRecord::never_sent);
    let delivery = match record.filter(|_| unsent).and_then(|r| r.message) {
        Some(msg) => send(store, queues.for_job(&msg.kind, msg.priority), &job_id, &msg.to_body()).await,
        None => Delivery::Sent,
    };
    tracing::info!(job_id, ?delivery, "idempotent replay");
    Ok(Accepted { job_id, status, delivery, new: None })
}

async fn send(store: &JobStore, queue: &JobQueue, job_id: &str, body: &str) -> Delivery {
    if let Err(e) = queue.send(body).await {
        tracing::warn!(job_id, error = %e, "could not send the job's message; the reconciler will");
        return Delivery::Deferred;
    }
    // Lost: a worker already took the job, nothing to mark. Failed: the reconciler sends it once
    // more, a duplicate is harmless.
    if let Err(e) = store.mark_sent(job_id).await {
        tracing::warn!(job_id, error = %e, "could not mark the job sent");
    }
    Delivery::Sent
}
