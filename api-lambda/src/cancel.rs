//! Cancelling a job, the application function behind `POST /jobs/{id}/cancel`: read the job,
//! decide (`jobs_core::cancel`), write conditionally, and decide again when another writer moved
//! the job first. Repeating a request gives the same answer.

use jobs_aws::{BackendError, Conditional, JobRecord, JobStore, PoolQueues};
use jobs_core::JobStatus;
use jobs_core::cancel::{OnCancel, on_cancel};

/// Conditional writes lost to workers before the request gives up (409, retry).
const MAX_RACES: usize = 5;

/// What a cancel request achieved.
#[derive(Debug)]
pub enum Cancelled {
    /// The job is CANCELLED.
    Done(JobRecord),
    /// The job runs; its worker was asked and records CANCELLED within seconds.
    Requested(JobRecord),
}

#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("no job {0:?}")]
    NotFound(String),
    #[error("job {id:?} already ended {status}; only WAITING, QUEUED, RETRY_WAIT and RUNNING jobs can be cancelled")]
    Finished { id: String, status: JobStatus },
    #[error("the job kept changing; retry the request")]
    Raced,
    /// The request may or may not have taken effect: repeating it is safe.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

pub async fn cancel(store: &JobStore, queues: &PoolQueues, id: &str) -> Result<Cancelled, CancelError> {
    for _ in 0..MAX_RACES {
        let record = store.get(id).await?.ok_or_else(|| CancelError::NotFound(id.to_owned()))?;
        let written = match on_cancel(&record.state, store.now()) {
            OnCancel::Cancelled => {
                release(store, queues, &record).await;
                return Ok(Cancelled::Done(record));
            }
            OnCancel::Asked => return Ok(Cancelled::Requested(record)),
            OnCancel::Finished(status) => return Err(CancelError::Finished { id: id.to_owned(), status }),
            OnCancel::Cancel(tr) => {
                store.apply(id, record.kind(), Some(&record.tenant), None, &tr, &store.token()).await?.map(|_| ())
            }
            OnCancel::Ask { attempt } => store.request_cancel(id, attempt).await?,
        };
        match written {
            // Read back what the job looks like now (a worker may already have acted on it).
            Conditional::Applied(()) => {
                let record = store.get(id).await?.ok_or_else(|| CancelError::NotFound(id.to_owned()))?;
                tracing::info!(job_id = id, status = %record.state.status, "cancel requested");
                release(store, queues, &record).await;
                return Ok(match record.state.status {
                    JobStatus::Running | JobStatus::Queued | JobStatus::RetryWait => Cancelled::Requested(record),
                    _ => Cancelled::Done(record),
                });
            }
            // The job moved meanwhile: decide again.
            Conditional::Lost => continue,
        }
    }
    Err(CancelError::Raced)
}

/// A cancelled job that held a slot of its tenant gives it back, and the tenant's next waiting
/// job is admitted. A failure is logged: the reconciler's sweep frees the slot on its next pass.
async fn release(store: &JobStore, queues: &PoolQueues, record: &JobRecord) {
    if !(record.state.slot && record.state.status.is_terminal()) {
        return;
    }
    match store.release(&record.job_id, &record.tenant).await {
        Ok(_) => crate::submit::admit(store, queues, &record.tenant, crate::submit::ADMIT_BUDGET).await,
        Err(e) => {
            tracing::warn!(job_id = %record.job_id, error = %e, "could not free the job's slot; the reconciler will")
        }
    }
}
