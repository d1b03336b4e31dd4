//! Admission (`docs/tenants.md`): the writes that move a job and its tenant's item together, so
//! the slots a tenant's item counts (`active`) always equal its jobs that hold one (`tenancy =
//! SLOT#<tenant>`):
//!
//! - a new job takes a slot as it is recorded (in `submit`'s transaction, see [`Seat`]), or is
//!   recorded WAITING with the tenant's waiting mark;
//! - [`JobStore::admit_waiting`]: a tenant's waiting jobs, first to admit first, each WAITING →
//!   QUEUED with a slot in one transaction, while the tenant is under its limits;
//! - [`JobStore::release`]: an ended job gives its slot back (REMOVE the job's mark, `active − 1`),
//!   conditional on the job having ended, so a repeat or a second releaser does nothing.
//!
//! Every transaction carries a client token, so a try repeated after a lost answer is the same
//! request; conditions on the tenant's item (its settings' version, `active < maxRunning`, the
//! minute's starts) make a decision taken from a stale read fail instead of exceeding a limit.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use jobs_core::tenants::limits::{Seat, SlotTake, WaitReason};
use jobs_core::{JobStatus, Tenant};

use super::expr::Expr;
use super::handle::{Conditional, JobStore, WriteResult, failed_conditions, transact_update};
use super::item::JobRecord;
use super::item::{self, attr as job_attr, n, s, ts};
use super::tenants::{attr, slots_partition, tenant_expr, tenant_key, waiting_partition};
use crate::dynamo::Op;
use crate::error::BackendError;
use crate::resources::TTL_ATTRIBUTE;
use crate::resources::{TENANCY_ATTRIBUTE, TENANCY_ORDER_ATTRIBUTE};

/// What became of one waiting job.
#[derive(Debug, Clone, PartialEq)]
enum Admitted {
    /// It holds a slot now (or, the tenant being unlimited, none), QUEUED.
    Queued,
    /// It no longer waits (cancelled, or admitted by another admitter).
    Gone,
    /// The tenant's item changed since it was read: read it again.
    Changed,
}

/// What an admission pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdmitPass {
    /// The jobs admitted, QUEUED and not yet sent (their records, to send their messages).
    pub admitted: Vec<JobRecord>,
    /// Why the next job still waits (`None`: none found waiting, or the pass's budget ran out).
    pub blocked: Option<WaitReason>,
    /// The index showed no waiting job of the tenant (or its item has no waiting mark).
    pub none_waiting: bool,
    /// The tenant's waiting mark as read (see [`JobStore::clear_waiting`]).
    pub waiting_at: Option<DateTime<Utc>>,
}

/// The tenant item's part of taking a slot: [`SlotTake::holds`] as its condition, and
/// [`SlotTake::applied`] as its update.
pub(super) fn take_slot(table: &str, take: &SlotTake) -> Update {
    let mut e = tenant_expr(&take.tenant);
    e.increment(attr::ACTIVE);
    let version = e.name(attr::LIMITS_VERSION);
    if take.version == 0 {
        e.require_raw(format!("attribute_not_exists({version})"));
    } else {
        let v = e.value(n(take.version));
        e.require_raw(format!("{version} = {v}"));
    }
    if let Some(max) = take.limits.max_running {
        let (active, max) = (e.name(attr::ACTIVE), e.value(n(max)));
        e.require_raw(format!("(attribute_not_exists({active}) OR {active} < {max})"));
    }
    // This minute's starts, counted on the item (so takes one after the other never lose one):
    // the first take of a minute writes it, every later one adds to it; with a rate limit, under it.
    let (minute, starts) = (e.name(attr::STARTS_MINUTE), e.name(attr::STARTS));
    if take.new_minute() {
        let m = e.value(n(take.after.minute));
        e.require_raw(format!("(attribute_not_exists({minute}) OR {minute} < {m})"));
        e.set(attr::STARTS_MINUTE, n(take.after.minute));
        e.set(attr::STARTS, n(1));
    } else {
        let (m, one) = (e.value(n(take.read.minute)), e.value(n(1)));
        e.require_raw(format!("{minute} = {m}"));
        if let Some(rate) = take.limits.max_starts_per_minute {
            let rate = e.value(n(rate));
            e.require_raw(format!("{starts} < {rate}"));
        }
        e.set_raw(format!("{starts} = {starts} + {one}"));
    }
    transact_update(table, tenant_key(&take.tenant), e)
}

/// The tenant item's part of recording a job WAITING: the mark the reconciler looks for.
pub(super) fn mark_waiting(table: &str, tenant: &Tenant, now: DateTime<Utc>) -> Update {
    let mut e = tenant_expr(tenant);
    e.set(attr::WAITING_AT, ts(now));
    transact_update(table, tenant_key(tenant), e)
}

/// A slot holder's place in the `tenancy` index.
pub(super) fn slot_attributes(tenant: &Tenant, job_id: &str, at: DateTime<Utc>) -> [(&'static str, String); 2] {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    [(TENANCY_ATTRIBUTE, slots_partition(tenant)), (TENANCY_ORDER_ATTRIBUTE, format!("{at}#{job_id}"))]
}

impl JobStore {
    /// Where a new job of `tenant` goes now, as its item says: no limit (`Free`), a slot, or the
    /// waiting line (over its limits, or behind jobs already waiting; with `wait`, there at once:
    /// the item changed under every earlier try). The API's submit and a worker's first receipt
    /// of a firing decide the same way.
    pub async fn seat(&self, tenant: &Tenant, wait: bool) -> Result<Seat, BackendError> {
        let item = self.tenant(tenant).await?;
        let limits = self.limits_of(&item);
        if !limits.limited() {
            return Ok(Seat::Free);
        }
        if wait {
            return Ok(Seat::Wait { tenant: tenant.clone(), reason: WaitReason::Behind });
        }
        let behind = item.waiting_at.is_some() && !self.tenancy(&waiting_partition(tenant), 1).await?.is_empty();
        Ok(Seat::decide(tenant, &item.state(), &limits, behind, self.now()))
    }

    /// Admits up to `budget` of `tenant`'s waiting jobs, first to admit first, while the tenant is
    /// under its limits. The admitted jobs are QUEUED and due by `send_by` (the reconciler sends
    /// a job whose admitter did not); the caller sends their messages.
    pub async fn admit_waiting(
        &self,
        tenant: &Tenant,
        budget: usize,
        send_by: DateTime<Utc>,
    ) -> Result<AdmitPass, BackendError> {
        let mut pass = AdmitPass::default();
        if budget == 0 {
            return Ok(pass);
        }
        let mut item = self.tenant(tenant).await?;
        pass.waiting_at = item.waiting_at;
        // The mark is written with every WAITING job: without it, nobody waits.
        if item.waiting_at.is_none() {
            pass.none_waiting = true;
            return Ok(pass);
        }
        // A few more than the budget: entries the index still shows after they stopped waiting.
        let waiting = self.tenancy(&waiting_partition(tenant), (budget + 10).min(100) as i32).await?;
        pass.none_waiting = waiting.is_empty();
        for entry in waiting {
            if pass.admitted.len() >= budget {
                break;
            }
            let mut tries = 0;
            loop {
                let limits = item.settings.limits(&self.tenant_defaults);
                let now = self.now();
                let take = match Seat::decide(&item.tenant, &item.state(), &limits, false, now) {
                    Seat::Wait { reason, .. } => {
                        pass.blocked = Some(reason);
                        return Ok(pass);
                    }
                    Seat::Free => None,
                    Seat::Slot(take) => Some(take),
                };
                match self.admit_one(&entry.job_id, tenant, take.as_ref(), now, send_by).await? {
                    Admitted::Queued => {
                        if let Some(take) = take {
                            item.usage = take.after;
                        }
                        if let Some(record) = self.get(&entry.job_id).await? {
                            pass.admitted.push(record);
                        }
                        break;
                    }
                    Admitted::Gone => break,
                    Admitted::Changed if tries < 3 => {
                        tries += 1;
                        item = self.tenant(tenant).await?;
                    }
                    // Other admitters keep changing the tenant: they admit its jobs.
                    Admitted::Changed => return Ok(pass),
                }
            }
        }
        Ok(pass)
    }

    /// One waiting job to QUEUED, taking `take` (`None`: the tenant has no limit now, no slot).
    async fn admit_one(
        &self,
        job_id: &str,
        tenant: &Tenant,
        take: Option<&SlotTake>,
        now: DateTime<Utc>,
        send_by: DateTime<Utc>,
    ) -> Result<Admitted, BackendError> {
        let token = self.token();
        let mut e = Expr::default();
        e.set(job_attr::STATUS, s(JobStatus::Queued.as_str()));
        e.set(job_attr::UPDATED_AT, ts(now));
        e.set(job_attr::LAST_WRITE, s(&token));
        e.set(job_attr::DUE_AT, n(send_by.timestamp_millis()));
        e.set(job_attr::DUE_SHARD, s(item::due_shard(job_id)));
        e.set_or_remove(job_attr::WAIT_REASON, None);
        match take {
            Some(_) => {
                for (name, value) in slot_attributes(tenant, job_id, now) {
                    e.set(name, s(value));
                }
            }
            None => {
                e.set_or_remove(TENANCY_ATTRIBUTE, None);
                e.set_or_remove(TENANCY_ORDER_ATTRIBUTE, None);
            }
        }
        e.require(job_attr::STATUS, "=", s(JobStatus::Waiting.as_str()));
        e.require(TENANCY_ATTRIBUTE, "=", s(waiting_partition(tenant)));
        let mut request = TransactWriteItemsInput::builder()
            .client_request_token(&token)
            .transact_items(TransactWriteItem::builder().update(self.job_update(job_id, e)).build());
        if let Some(take) = take {
            request = request.transact_items(TransactWriteItem::builder().update(take_slot(&self.table, take)).build());
        }
        let answer = self.transact_retrying_lost(request.build().expect("a complete request"), "admit").await;
        match answer {
            Ok(()) => Ok(Admitted::Queued),
            Err(Refusal::Conditions(failed)) if failed.first() == Some(&true) => Ok(Admitted::Gone),
            Err(Refusal::Conditions(_)) => Ok(Admitted::Changed),
            Err(Refusal::Backend(e)) => Err(e),
        }
    }

    /// Job `job_id` of `tenant` ended: its slot goes back (`active − 1`), if it holds one and has
    /// ended. Lost: nothing to give back (it holds none, or it was given back already).
    pub async fn release(&self, job_id: &str, tenant: &Tenant) -> WriteResult {
        let token = self.token();
        let mut e = Expr::default();
        e.set_or_remove(TENANCY_ATTRIBUTE, None);
        e.set_or_remove(TENANCY_ORDER_ATTRIBUTE, None);
        e.set(job_attr::LAST_WRITE, s(&token));
        // Its retention starts now: an ended job that held a slot was written without a TTL.
        let expires = self.now() + chrono::Duration::from_std(self.retention).unwrap_or_default();
        e.set(TTL_ATTRIBUTE, n(expires.timestamp()));
        e.require(TENANCY_ATTRIBUTE, "=", s(slots_partition(tenant)));
        let status = e.name(job_attr::STATUS);
        let ended: Vec<String> =
            JobStatus::ALL.into_iter().filter(|st| st.is_terminal()).map(|st| e.value(s(st.as_str()))).collect();
        e.require_raw(format!("{status} IN ({})", ended.join(", ")));
        let request = TransactWriteItemsInput::builder()
            .client_request_token(&token)
            .transact_items(TransactWriteItem::builder().update(self.job_update(job_id, e)).build())
            .transact_items(TransactWriteItem::builder().update(decrement(&self.table, tenant)).build())
            .build()
            .expect("a complete request");
        match self.transact_retrying_lost(request, "release").await {
            Ok(()) => Ok(Conditional::Applied(())),
            Err(Refusal::Conditions(failed)) => {
                if failed.get(1) == Some(&true) {
                    // `active` at zero with a job holding a slot: never written that way.
                    tracing::error!(job_id, %tenant, "a slot holder's tenant counts no slot; left as it is");
                }
                Ok(Conditional::Lost)
            }
            Err(Refusal::Backend(e)) => Err(e),
        }
    }

    /// Sends a transaction; a lost answer (an ambiguous or transient failure) is sent again with
    /// the same client token, which DynamoDB answers as the first commit if there was one.
    async fn transact_retrying_lost(&self, request: TransactWriteItemsInput, op: Op) -> Result<(), Refusal> {
        let mut tries = 0;
        loop {
            tries += 1;
            let e = match self.db.transact_write_items(op, request.clone()).await {
                Ok(_) => return Ok(()),
                Err(err) => {
                    let failed = failed_conditions(&err);
                    match self.transact_outcome::<()>(err) {
                        Ok(_lost) => return Err(Refusal::Conditions(failed)),
                        Err(e) => e,
                    }
                }
            };
            if tries >= 4 || !(e.is_transient() || e.may_have_taken_effect()) {
                return Err(Refusal::Backend(e));
            }
            tracing::warn!(error = %e, op, "admission write failed; trying again with the same token");
            tokio::time::sleep(std::time::Duration::from_millis(50 * tries)).await;
        }
    }
}

/// `active − 1` on the tenant's item.
fn decrement(table: &str, tenant: &Tenant) -> Update {
    let mut e = tenant_expr(tenant);
    let (active, one, zero) = (e.name(attr::ACTIVE), e.value(n(1)), e.value(n(0)));
    e.require_raw(format!("{active} > {zero}"));
    e.set_raw(format!("{active} = {active} - {one}"));
    transact_update(table, tenant_key(tenant), e)
}

/// Why an admission write did not commit.
enum Refusal {
    /// These items' conditions failed (request order; none marked: a condition failed, which one
    /// unknown).
    Conditions(Vec<bool>),
    Backend(BackendError),
}
