//! Admitting a tenant's waiting jobs and sending the admitted ones (`docs/tenants.md`): what the
//! API does after it records a job WAITING or cancels one holding a slot, the worker after a job
//! that held a slot ends, and the reconciler on every pass for every tenant with waiting jobs.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_core::{JobMessage, Tenant};

use crate::BackendError;
use crate::JobQueue;
use crate::store::{AdmitPass, JobStore};

/// How long after the waiting mark was last written an admitter that finds nobody waiting may
/// clear it: far beyond the index's lag, so a job just recorded is never missed.
pub const MARK_SETTLE: Duration = Duration::from_secs(60);

/// Admits up to `budget` of `tenant`'s waiting jobs (due by `send_by` if nobody sends them) and
/// sends each to the queue `queue_of` gives (`None`: the reconciler sends it when it is due),
/// marking it sent. A send that fails is logged: the reconciler sends the job when it is due.
pub async fn admit_and_send<'q>(
    store: &JobStore,
    tenant: &Tenant,
    budget: usize,
    send_by: DateTime<Utc>,
    queue_of: impl Fn(&JobMessage) -> Option<&'q JobQueue>,
) -> Result<AdmitPass, BackendError> {
    let pass = store.admit_waiting(tenant, budget, send_by).await?;
    for record in &pass.admitted {
        let Some(msg) = &record.message else { continue };
        let Some(queue) = queue_of(msg) else { continue };
        match queue.send(&msg.to_body()).await {
            Ok(_) => {
                // Lost: a worker took the job already.
                if let Err(e) = store.mark_sent(&msg.job_id).await {
                    tracing::warn!(job_id = %msg.job_id, error = %e, "could not mark an admitted job sent");
                }
            }
            Err(e) => {
                tracing::warn!(job_id = %msg.job_id, error = %e, "could not send an admitted job; the reconciler will")
            }
        }
        tracing::info!(job_id = %msg.job_id, %tenant, "job admitted (WAITING -> QUEUED)");
    }
    if pass.none_waiting
        && let Some(mark) =
            pass.waiting_at.filter(|m| store.now() - *m > chrono::Duration::from_std(MARK_SETTLE).unwrap_or_default())
    {
        // Lost: a job was recorded WAITING since; the next pass sees it.
        let _ = store.clear_waiting(tenant, mark).await?;
    }
    if let Some(reason) = pass.blocked {
        tracing::debug!(%tenant, %reason, admitted = pass.admitted.len(), "the tenant's next job still waits");
    }
    Ok(pass)
}
