//! A job that held a slot of its tenant ended under this worker: give the slot back and admit the
//! tenant's next waiting job (`docs/tenants.md`). The admitted job is due at once: this worker
//! sends it if it is of its own lane, and the reconciler's next pass sends any other. A failure is
//! logged and left to the reconciler, whose sweep frees the slots of ended jobs.

use chrono::Utc;
use jobs_aws::{JobQueue, faults};
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, Tenant};
use tracing::warn;

use crate::worker::Worker;

/// Waiting jobs a worker admits after it freed a slot (one took its place; a second catches up
/// with a limit that was raised).
const ADMIT_BUDGET: usize = 2;

impl Worker {
    /// Frees job `job_id`'s slot of `tenant` and admits the tenant's next waiting jobs.
    pub(crate) async fn release_slot(&self, job_id: &str, tenant: &Tenant) {
        match self.store.release(job_id, tenant).await {
            Ok(_) => {}
            Err(e) => {
                warn!(error = %e, "could not free the job's slot; the reconciler will");
                return;
            }
        }
        faults::point("after-release");
        let own_lane = self.config.command_kind.as_deref().unwrap_or(&self.config.pool);
        let queue_of = |msg: &JobMessage| -> Option<&JobQueue> {
            if jobs_core::kinds::lane_of(&msg.kind) != own_lane {
                return None;
            }
            // High priority first in `queues` when this worker takes the high queue too.
            match (msg.priority, self.queues.as_slice()) {
                (Priority::High, [high, _normal]) => Some(high),
                (_, [.., normal]) => Some(normal),
                (_, []) => None,
            }
        };
        if let Err(e) = jobs_aws::admit::admit_and_send(&self.store, tenant, ADMIT_BUDGET, Utc::now(), queue_of).await {
            warn!(error = %e, "could not admit the tenant's next job; the reconciler will");
        }
    }
}
