//! The reconciler's third step (`docs/tenants.md`): for every tenant with an item, free the slots
//! of its jobs that ended without giving theirs back (a worker killed between its outcome and the
//! release, a job ended by a reconciler's or an old worker's write), then admit its waiting jobs
//! as far as its limits allow and send them. So a killed worker or API never strands a slot or a
//! waiting job for longer than one pass.

use jobs_aws::BackendError;
use jobs_aws::store::tenants::slots_partition;
use jobs_core::Tenant;
use tracing::{info, warn};

use super::reconciler::{Reconciler, Report};

/// Tenants looked at per pass (pages of 100).
const TENANTS_PER_PASS: usize = 1000;
/// Slot holders of one tenant looked at per pass.
const SLOTS_PER_TENANT: i32 = 200;
/// Waiting jobs of one tenant admitted per pass.
const ADMIT_PER_TENANT: usize = 100;

impl Reconciler {
    pub(super) async fn tenancy(&self, report: &mut Report) -> Result<(), BackendError> {
        let mut after: Option<Tenant> = None;
        let mut seen = 0;
        loop {
            let page = self.store.tenants(after.as_ref(), 100).await?;
            for item in &page.tenants {
                if self.shutdown.is_requested() {
                    return Ok(());
                }
                seen += 1;
                if let Err(e) =
                    self.tenant(&item.tenant, item.usage.active > 0, item.waiting_at.is_some(), report).await
                {
                    warn!(tenant = %item.tenant, error = %e, "could not settle the tenant's slots or admit its jobs; next pass");
                    report.errors += 1;
                }
            }
            match page.next {
                Some(next) if seen < TENANTS_PER_PASS => after = Some(next),
                _ => return Ok(()),
            }
        }
    }

    async fn tenant(&self, tenant: &Tenant, holds: bool, waits: bool, report: &mut Report) -> Result<(), BackendError> {
        if holds {
            for entry in self.store.tenancy(&slots_partition(tenant), SLOTS_PER_TENANT).await? {
                // The index's status may lag; `release` checks the job's own.
                if entry.status.is_some_and(|s| s.is_terminal())
                    && self.store.release(&entry.job_id, tenant).await?.is_applied()
                {
                    info!(job_id = %entry.job_id, %tenant, "freed the slot of an ended job");
                    report.released += 1;
                }
            }
        }
        // Its waiting mark is written with every WAITING job: without it, nobody waits.
        if waits {
            let send_by =
                self.store.now() + chrono::Duration::from_std(self.store.timing().send_grace).unwrap_or_default();
            let pass = jobs_aws::admit::admit_and_send(&self.store, tenant, ADMIT_PER_TENANT, send_by, |msg| {
                Some(self.queues.for_job(&msg.kind, msg.priority))
            })
            .await?;
            report.admitted += pass.admitted.len();
        }
        Ok(())
    }
}
