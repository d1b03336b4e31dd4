//! Applying a [`Transition`]: the job item's conditional Put or Update, alone or in one
//! `TransactWriteItems` with its counters, throughput bucket and schedule lock; and the single
//! write's answer read back when an SDK retry met the write's own earlier commit.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use jobs_core::JobMessage;
use jobs_core::state::{Expect, Step, Transition};

use super::expr::Expr;
use super::handle::{Conditional, JobStore, WriteResult, Written, single_outcome};
use super::item::{self, attr, n, s};
use crate::dynamo::{DynamoFailure, Op};
use crate::resources::TABLE_KEY;

impl JobStore {
    /// Applies a transition to job `job_id` (of kind `kind` and tenant `tenant`, when known: its
    /// message's otherwise) atomically with its counter deltas and throughput bucket, stamping the
    /// item with `token`. `origin` supplies the job's description when the transition creates the
    /// item. Repeat a write whose answer was lost with the same token: the request is then the
    /// same, bucket included.
    pub async fn apply(
        &self,
        job_id: &str,
        kind: Option<&str>,
        tenant: Option<&jobs_core::Tenant>,
        origin: Option<&JobMessage>,
        tr: &Transition,
        token: &str,
    ) -> WriteResult<Written> {
        let op = tr.step.as_str();
        let job_item = match &tr.expect {
            Expect::Absent => {
                let mut put = self.put_new(job_id, item::Origin::of(origin), tr, token);
                // A slot taken as the job is created: the job holds it (`admission`).
                if let Some(take) = &tr.slot {
                    for (name, value) in super::admission::slot_attributes(&take.tenant, job_id, tr.at) {
                        put.item.insert(name.to_owned(), item::s(value));
                    }
                }
                JobWrite::Put(put)
            }
            Expect::Present { .. } => {
                debug_assert!(tr.slot.is_none(), "a slot is taken as a job is created, or by admission");
                JobWrite::Update(self.update_existing(job_id, tr, token))
            }
        };
        let created_by = || Written { submitted_by: origin.and_then(JobMessage::submitter), slot: tr.slot.is_some() };
        if tr.counters.is_zero() && tr.lock.is_none() && tr.slot.is_none() {
            // A start returns the item as written (no capacity cost): a worker that claimed
            // without reading the job learns who submitted it.
            let written = self.write_single(job_item, tr.step == Step::Start, token, op).await?;
            Ok(written.map(|item| match item {
                Some(item) => Written { submitted_by: item::submitted_by(&item), slot: item::holds_slot(&item) },
                None => created_by(),
            }))
        } else {
            let job_item = match job_item {
                JobWrite::Put(put) => TransactWriteItem::builder().put(put).build(),
                JobWrite::Update(update) => TransactWriteItem::builder().update(update).build(),
            };
            let kind = kind.or(origin.map(|o| o.kind.as_str()));
            let tenant = tenant.or(origin.and_then(|o| o.tenant.as_ref()));
            let mut request = TransactWriteItemsInput::builder()
                .client_request_token(token)
                .transact_items(job_item)
                .transact_items(self.counters_item(&tr.counters, token));
            if let Some(bucket) = self.bucket_item(tr, kind, tenant, token) {
                request = request.transact_items(bucket);
            }
            if let Some(lock) = &tr.lock {
                request = request.transact_items(self.lock_item(lock, tr.at));
            }
            if let Some(take) = &tr.slot {
                let update = super::admission::take_slot(&self.table, take);
                request = request.transact_items(TransactWriteItem::builder().update(update).build());
            }
            let request = request.build().expect("a complete request");
            self.transact(op, request, created_by()).await
        }
    }

    /// One conditional PutItem or UpdateItem stamped with `token`; `returning`: an update returns
    /// the whole item as written. A failed condition returns the item as it is
    /// (`ReturnValuesOnConditionCheckFailure`): carrying this write's own token, it is this very
    /// write, committed by an earlier try whose answer was lost and sent again by the SDK's
    /// retry, and so a success, not "somebody else moved the job".
    async fn write_single(
        &self,
        write: JobWrite,
        returning: bool,
        token: &str,
        op: Op,
    ) -> WriteResult<Option<HashMap<String, AttributeValue>>> {
        let own = |item: Option<&HashMap<String, AttributeValue>>| {
            item.and_then(|i| i.get(item::attr::LAST_WRITE)).and_then(|v| v.as_s().ok()).is_some_and(|t| t == token)
        };
        match write {
            JobWrite::Put(put) => {
                let request = PutItemInput::builder()
                    .table_name(put.table_name)
                    .set_item(Some(put.item))
                    .set_condition_expression(put.condition_expression)
                    .set_expression_attribute_names(put.expression_attribute_names)
                    .set_expression_attribute_values(put.expression_attribute_values)
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .expect("a complete request");
                match self.db.put_item(op, request).await {
                    Err(DynamoFailure::ConditionFailed { item }) if own(item.as_ref()) => {
                        Ok(Conditional::Applied(None))
                    }
                    answer => single_outcome(answer.map(|_| None)),
                }
            }
            JobWrite::Update(update) => {
                let request = UpdateItemInput::builder()
                    .table_name(update.table_name)
                    .set_key(Some(update.key))
                    .update_expression(update.update_expression)
                    .set_condition_expression(update.condition_expression)
                    .set_expression_attribute_names(update.expression_attribute_names)
                    .set_expression_attribute_values(update.expression_attribute_values)
                    .return_values(if returning { ReturnValue::AllNew } else { ReturnValue::None })
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .expect("a complete request");
                match self.db.update_item(op, request).await {
                    Err(DynamoFailure::ConditionFailed { item }) if own(item.as_ref()) => {
                        tracing::info!(op, "a retried write found itself committed");
                        Ok(Conditional::Applied(returning.then_some(item).flatten()))
                    }
                    answer => single_outcome(answer.map(|out| out.attributes)),
                }
            }
        }
    }

    pub(super) fn put_new(&self, job_id: &str, origin: item::Origin<'_>, tr: &Transition, token: &str) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::new_item(job_id, origin, tr, token, self.retention, self.due(tr))))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", TABLE_KEY)
            .build()
            .expect("put is complete")
    }

    pub(super) fn update_existing(&self, job_id: &str, tr: &Transition, token: &str) -> Update {
        let Expect::Present { status, attempts, owner, lease_expired_before, uncancelled } = &tr.expect else {
            unreachable!("update_existing is only called for Expect::Present")
        };
        let mut e = Expr::default();
        for (name, value) in item::change_attributes(job_id, tr, token, self.retention, self.due(tr)) {
            e.set_or_remove(name, value);
        }
        e.require(attr::STATUS, "=", s(status.as_str()));
        e.require(attr::ATTEMPTS, "=", n(attempts));
        if let Some(owner) = owner {
            e.require(attr::LEASE_OWNER, "=", s(owner));
        }
        if let Some(before) = lease_expired_before {
            // A running job without a lease counts as abandoned too.
            let (name, value) = (e.name(attr::LEASE_UNTIL), e.value(n(before.timestamp_millis())));
            e.require_raw(format!("(attribute_not_exists({name}) OR {name} < {value})"));
        }
        if *uncancelled {
            let name = e.name(attr::CANCEL_REQUESTED_AT);
            e.require_raw(format!("attribute_not_exists({name})"));
        }
        self.job_update(job_id, e)
    }
}

enum JobWrite {
    Put(Put),
    Update(Update),
}
