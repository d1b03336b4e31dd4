//! Writes by and for the worker that holds a running attempt: renewing its lease, handing it the
//! receipts of its message, and the cancel request it watches for.

use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use jobs_core::{JobStatus, Lease};

use super::expr::Expr;
use super::handle::{JobStore, WriteResult, backend, single_outcome};
use super::item::{self, attr, job_key, n, s, ts};
use crate::error::BackendError;
use crate::resources::TABLE_KEY;

/// Receipt handles kept on a job item for its lease holder (the newest ones).
const MAX_RECEIPTS: usize = 8;

impl JobStore {
    /// Renews the lease of a running attempt held by `lease.owner`. Returns the receipt handles
    /// other workers handed over since the last renewal (they received the job's message while it
    /// ran), and takes them off the item.
    pub async fn renew(
        &self,
        job_id: &str,
        attempt: u32,
        lease: &Lease,
        checkpoint: Option<&serde_json::Value>,
    ) -> WriteResult<Vec<String>> {
        let mut e = Expr::default();
        e.set(attr::LEASE_UNTIL, n(lease.until.timestamp_millis()));
        // The job's newest progress, written only while this worker holds the attempt.
        if let Some(checkpoint) = checkpoint {
            e.set(attr::CHECKPOINT, item::checkpoint(attempt, checkpoint));
        }
        e.set(attr::UPDATED_AT, ts(self.now()));
        let due = lease.until + chrono::Duration::from_std(self.timing.stale).unwrap_or_default();
        e.set(attr::DUE_AT, n(due.timestamp_millis()));
        e.set_or_remove(attr::RECEIPTS, None);
        held_by(&mut e, attempt, &lease.owner);
        let request = self.update_request(job_id, e).return_values(ReturnValue::UpdatedOld);
        let answer = self.db.update_item("renew", request.build().expect("a complete request")).await;
        single_outcome(answer.map(|out| out.attributes.as_ref().map(item::receipts).unwrap_or_default()))
    }

    /// Asks the worker running attempt `attempt` to cancel the job (see `jobs_core::cancel`).
    /// Lost: the job is no longer running that attempt; decide again.
    pub async fn request_cancel(&self, job_id: &str, attempt: u32) -> WriteResult {
        let mut e = Expr::default();
        e.set(attr::CANCEL_REQUESTED_AT, ts(self.now()));
        e.require(attr::STATUS, "=", s(JobStatus::Running.as_str()));
        e.require(attr::ATTEMPTS, "=", n(attempt));
        self.update("request-cancel", job_id, e).await
    }

    /// Whether somebody asked to cancel job `job_id`: the worker's quick check, a strongly
    /// consistent read of one attribute (half a read unit).
    pub async fn cancel_requested(&self, job_id: &str) -> Result<bool, BackendError> {
        let out = self
            .db
            .get_item(
                "cancel-check",
                GetItemInput::builder()
                    .table_name(&self.table)
                    .key(TABLE_KEY, s(job_key(job_id)))
                    .projection_expression("#c")
                    .expression_attribute_names("#c", attr::CANCEL_REQUESTED_AT)
                    .consistent_read(true)
                    .build()
                    .expect("a complete request"),
            )
            .await
            .map_err(backend)?;
        Ok(out.item.is_some_and(|i| i.contains_key(attr::CANCEL_REQUESTED_AT)))
    }

    /// Hands a receipt handle of the job's message to the worker that runs attempt `attempt`
    /// under `holder`'s lease: its own handle went stale when the message was received again, so
    /// without this it could neither keep the message hidden nor delete it.
    pub async fn hand_over(&self, job_id: &str, attempt: u32, holder: &str, receipt: &str) -> WriteResult {
        let mut e = Expr::default();
        e.append(attr::RECEIPTS, AttributeValue::L(vec![s(receipt)]));
        held_by(&mut e, attempt, holder);
        // Bounded: a job that keeps being received while it runs does not grow its item.
        let (name, max) = (e.name(attr::RECEIPTS), e.value(n(MAX_RECEIPTS)));
        e.require_raw(format!("(attribute_not_exists({name}) OR size({name}) < {max})"));
        self.update("hand-over", job_id, e).await
    }
}

/// Conditions for a write by the holder of attempt `attempt`.
fn held_by(e: &mut Expr, attempt: u32, owner: &str) {
    e.require(attr::STATUS, "=", s(JobStatus::Running.as_str()));
    e.require(attr::ATTEMPTS, "=", n(attempt));
    e.require(attr::LEASE_OWNER, "=", s(owner));
}
