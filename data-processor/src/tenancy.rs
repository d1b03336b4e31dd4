//! A worker's part in tenants' limits (`docs/tenants.md`):
//!
//! - a job that held a slot of its tenant ended under this worker: give the slot back and admit
//!   the tenant's next waiting job. The admitted job is due at once: this worker sends it if it is
//!   of its own lane, and the reconciler's next pass sends any other. A failure is logged and left
//!   to the reconciler, whose sweep frees the slots of ended jobs;
//! - a schedule's firing of a limited tenant, on its first receipt: recorded as it starts *with*
//!   a slot (one transaction), or WAITING (its message deleted: admission sends it again), or, for
//!   a `forbid` schedule, SKIPPED (admitted later, it could run beside the schedule's next firing).

use jobs_aws::{BackendError, JobQueue, Received};
use jobs_core::pools::Priority;
use jobs_core::state::{self, OnReceive};
use jobs_core::tenants::Seat;
use jobs_core::{JobMessage, Lease, Overlap, RetryPolicy, Tenant, overlap};
use tracing::{info, warn};

use crate::claim::{Claimed, Firing};
use crate::worker::{Outcome, Worker};

/// What became of a limited tenant's firing.
pub(crate) enum LimitedFiring {
    /// Recorded without running (WAITING, SKIPPED), or left for later.
    Ended(Outcome),
    /// Recorded RUNNING with a slot: run it.
    Run(Claimed),
}

/// Tries of recording a firing while others change its tenant's item.
const FIRING_TRIES: u32 = 3;

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
        self.admit_next(tenant).await;
    }

    /// Admits `tenant`'s next waiting jobs, sending those of this worker's lane.
    pub(crate) async fn admit_next(&self, tenant: &Tenant) {
        let own_lane = self.config.command_kind.as_deref().unwrap_or(&self.config.pool);
        let queue_of = |msg: &JobMessage| -> Option<&JobQueue> {
            if jobs_core::catalog::lane_of(&msg.kind) != own_lane {
                return None;
            }
            // High priority first in `queues` when this worker takes the high queue too.
            match (msg.priority, self.queues.as_slice()) {
                (Priority::High, [high, _normal]) => Some(high),
                (_, [.., normal]) => Some(normal),
                (_, []) => None,
            }
        };
        if let Err(e) =
            jobs_aws::admit::admit_and_send(&self.store, tenant, ADMIT_BUDGET, self.store.now(), queue_of).await
        {
            warn!(error = %e, "could not admit the tenant's next job; the reconciler will");
        }
    }
}

impl Worker {
    /// The first receipt of a firing whose tenant has limits (see the module's text). `None`: the
    /// tenant has none, or the firing is already recorded: the usual flow takes it.
    pub(crate) async fn limited_firing(
        &self,
        msg: &Received,
        job: &JobMessage,
        policy: &RetryPolicy,
    ) -> Result<Option<LimitedFiring>, BackendError> {
        let tenant = job.tenant_or_of(job.submitter().as_deref().unwrap_or_default());
        for _ in 0..FIRING_TRIES {
            let seat = self.store.seat(&tenant, false).await?;
            if seat == Seat::Free || self.store.get(&job.job_id).await?.is_some() {
                return Ok(None);
            }
            let now = self.store.now();
            match seat {
                Seat::Free => return Ok(None),
                Seat::Wait { reason, .. } if job.overlap == Overlap::Forbid => {
                    let tr = overlap::skipped_over_limits(&tenant, &reason, now);
                    if !self.claim(&job.job_id, None, Some(job), &tr).await?.is_applied() {
                        continue;
                    }
                    info!(%reason, "firing SKIPPED: its tenant is over its limits (overlap: forbid)");
                    self.delete_all(std::slice::from_ref(&msg.receipt_handle)).await;
                    return Ok(Some(LimitedFiring::Ended(Outcome::Skipped)));
                }
                seat @ Seat::Wait { .. } => {
                    let by = job.submitter().unwrap_or_default();
                    match self.store.submit(job, &by, None, &seat).await {
                        Ok(jobs_aws::Conditional::Applied(jobs_aws::Submitted::Created)) => {}
                        Ok(_) => continue,
                        Err(e) => return Err(e),
                    }
                    info!("firing WAITING: its tenant is over its limits; admission sends it");
                    self.delete_all(std::slice::from_ref(&msg.receipt_handle)).await;
                    self.admit_next(&tenant).await;
                    return Ok(Some(LimitedFiring::Ended(Outcome::Waiting)));
                }
                Seat::Slot(take) => {
                    let lock = match job.overlap {
                        Overlap::Forbid => match self.forbid_firing(msg, job).await? {
                            Firing::Run(lock) => lock,
                            Firing::Skipped => return Ok(Some(LimitedFiring::Ended(Outcome::Skipped))),
                            Firing::Raced => continue,
                        },
                        Overlap::Allow => None,
                    };
                    let lease = Lease { owner: self.owner.clone(), until: now + self.visibility() };
                    let OnReceive::Start { attempt, mut transition } =
                        state::on_receive(None, true, &lease, now, self.grace(), policy)
                    else {
                        unreachable!("a firing's first receipt starts it")
                    };
                    transition.change.runner = Some(self.runner.clone());
                    transition.lock = lock;
                    let transition = transition.with_slot(take);
                    if !self.claim(&job.job_id, None, Some(job), &transition).await?.is_applied() {
                        continue;
                    }
                    info!("firing started holding a slot of its tenant");
                    return Ok(Some(LimitedFiring::Run(Claimed {
                        attempt,
                        interruptions: 0,
                        started_at: transition.at,
                        history: Vec::new(),
                        policy: *policy,
                        checkpoint: None,
                        slot: true,
                    })));
                }
            }
        }
        warn!("the firing's tenant kept changing; leaving the message for later");
        Ok(Some(LimitedFiring::Ended(Outcome::Duplicate)))
    }
}
