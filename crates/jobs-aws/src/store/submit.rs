//! Recording a job submitted through the API: the job item, its counters and its idempotency key
//! (and, for a retry, the retried job's mark) in one transaction; and marking it sent.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, JobStatus};
use serde_json::Value;

use super::admission;
use super::expr::Expr;
use super::handle::{Conditional, JobStore, WriteResult, failed_conditions};
use super::item::{Origin, attr, idempotency_key, n, s, ts};
use super::tenants;
use crate::resources::{TABLE_KEY, TTL_ATTRIBUTE};
use jobs_core::tenants::Seat;

/// An `Idempotency-Key` and what it guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// A digest of the request, to tell a retry from a different request reusing the key.
    pub fingerprint: String,
    /// How long the key is remembered.
    pub ttl: Duration,
}

impl Idempotency {
    /// The fingerprint of a job request: SHA-256 over its kind and payload.
    pub fn fingerprint(kind: &str, payload: &Value) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{kind}\n{payload}").as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What `submit` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new job was recorded.
    Created,
    /// The idempotency key was seen before: this is that job.
    Existing { job_id: String },
    /// The idempotency key was used before for a different request; nothing was recorded.
    KeyReused,
    /// A retry of a job that has not ended FAILED or CANCELLED (or does not exist); nothing was
    /// recorded.
    NotRetryable,
    /// The tenant's item changed since the seat was decided (another job took a slot, the limits
    /// changed); nothing was recorded: decide again.
    TenantChanged,
}

impl JobStore {
    /// Records a job submitted through the API by `submitted_by` (QUEUED, or WAITING as `seat`
    /// says; `submitted + 1`) and, with an idempotency key, the key; taking the tenant's slot or
    /// marking it waiting: all in one transaction. A key seen within its TTL returns the job it
    /// created instead. Lost: a condition nothing above explains failed (the job's id is taken,
    /// the key expired between the write and its read): nothing was recorded; try again.
    pub async fn submit(
        &self,
        msg: &JobMessage,
        submitted_by: &str,
        idempotency: Option<&Idempotency>,
        seat: &Seat,
    ) -> WriteResult<Submitted> {
        let now = self.now();
        let tr = match seat {
            Seat::Wait { .. } => jobs_core::state::wait(now),
            Seat::Free | Seat::Slot(_) => jobs_core::state::submit(now),
        };
        let token = self.token();
        let mut job =
            self.put_new(&msg.job_id, Origin { message: Some(msg), submitted_by: Some(submitted_by) }, &tr, &token);
        let (tenant_write, place): (Option<Update>, Vec<(&str, String)>) = match seat {
            Seat::Free => (None, Vec::new()),
            Seat::Slot(take) => (
                Some(admission::take_slot(&self.table, take)),
                admission::slot_attributes(&take.tenant, &msg.job_id, now).to_vec(),
            ),
            Seat::Wait { tenant, reason } => (
                Some(admission::mark_waiting(&self.table, tenant, now)),
                vec![
                    (attr::TENANCY, tenants::waiting_partition(tenant)),
                    (
                        attr::TENANCY_ORDER,
                        tenants::waiting_order(msg.priority == Priority::High, msg.submitted_at, &msg.job_id),
                    ),
                    (attr::WAIT_REASON, reason.to_string()),
                ],
            ),
        };
        for (name, value) in place {
            job.item.insert(name.to_owned(), s(value));
        }
        let mut request = TransactWriteItemsInput::builder()
            .client_request_token(&token)
            .transact_items(TransactWriteItem::builder().put(job).build())
            .transact_items(self.counters_item(&tr.counters, &token));
        // Item order matters: a failed condition is told by its index (key third, retry mark last).
        if let Some(idem) = idempotency {
            let now = tr.at;
            let item = HashMap::from([
                (TABLE_KEY.to_owned(), s(idempotency_key(submitted_by, &idem.key))),
                (attr::JOB_ID.to_owned(), s(&msg.job_id)),
                (attr::FINGERPRINT.to_owned(), s(&idem.fingerprint)),
                (attr::CREATED_AT.to_owned(), ts(now)),
                (TTL_ATTRIBUTE.to_owned(), n(now.timestamp() + idem.ttl.as_secs() as i64)),
            ]);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                // DynamoDB's TTL deletes lazily: an expired key counts as absent.
                .condition_expression("attribute_not_exists(#pk) OR #exp < :now")
                .expression_attribute_names("#pk", TABLE_KEY)
                .expression_attribute_names("#exp", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", n(now.timestamp()))
                .build()
                .expect("put is complete");
            request = request.transact_items(TransactWriteItem::builder().put(put).build());
        }
        // A retry marks the job it retries, which must have ended FAILED or CANCELLED.
        let retry_index = if idempotency.is_some() { 3 } else { 2 };
        if let Some(old) = &msg.retry_of {
            let mut e = Expr::default();
            e.set(attr::RETRIED_BY, s(&msg.job_id));
            let (status, failed, cancelled) = (
                e.name(attr::STATUS),
                e.value(s(JobStatus::Failed.as_str())),
                e.value(s(JobStatus::Cancelled.as_str())),
            );
            e.require_raw(format!("{status} IN ({failed}, {cancelled})"));
            request = request.transact_items(TransactWriteItem::builder().update(self.job_update(old, e)).build());
        }
        // The tenant's item last.
        let tenant_index = 2 + usize::from(idempotency.is_some()) + usize::from(msg.retry_of.is_some());
        if let Some(update) = tenant_write {
            request = request.transact_items(TransactWriteItem::builder().update(update).build());
        }
        match self.db.transact_write_items("submit", request.build().expect("a complete request")).await {
            Ok(_) => Ok(Conditional::Applied(Submitted::Created)),
            Err(err) => {
                let failed = failed_conditions(&err);
                match idempotency {
                    // The key's put is the third item: its condition failing means "seen before".
                    Some(idem) if failed.get(2) == Some(&true) => self.replay(submitted_by, idem).await,
                    _ if msg.retry_of.is_some() && failed.get(retry_index) == Some(&true) => {
                        Ok(Conditional::Applied(Submitted::NotRetryable))
                    }
                    _ if failed.get(tenant_index) == Some(&true) => Ok(Conditional::Applied(Submitted::TenantChanged)),
                    _ => self.transact_outcome(err),
                }
            }
        }
    }

    async fn replay(&self, caller: &str, idem: &Idempotency) -> WriteResult<Submitted> {
        let item = self.read_item("get-key", idempotency_key(caller, &idem.key)).await?.unwrap_or_default();
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        match (text(attr::JOB_ID), text(attr::FINGERPRINT)) {
            (Some(job_id), Some(fp)) if fp == idem.fingerprint => {
                Ok(Conditional::Applied(Submitted::Existing { job_id }))
            }
            (Some(_), Some(_)) => Ok(Conditional::Applied(Submitted::KeyReused)),
            // Deleted in between (TTL): let the caller retry as new.
            _ => Ok(Conditional::Lost),
        }
    }

    /// The API sent the message of a job it recorded: it is due `stale` from now (a reconciler
    /// pass sends the message of a job whose API never got that far). Lost: a worker took the job
    /// (or it was cancelled) first.
    pub async fn mark_sent(&self, job_id: &str) -> WriteResult {
        let now = self.now();
        let mut e = Expr::default();
        e.set(attr::SENT_AT, ts(now));
        let due = now + chrono::Duration::from_std(self.timing.stale).unwrap_or_default();
        e.set(attr::DUE_AT, n(due.timestamp_millis()));
        e.require(attr::STATUS, "=", s(JobStatus::Queued.as_str()));
        e.require(attr::ATTEMPTS, "=", n(0));
        self.update("mark-sent", job_id, e).await
    }
}
