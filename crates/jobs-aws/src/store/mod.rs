//! The DynamoDB job store: one table, one item per job (`pk = JOB#<id>`) and sharded stats items
//! (`pk = STATS#<n>`, see [`counters`]). A [`Transition`] from `jobs_core::state` is applied as a
//! conditional write of the job item plus an `ADD` on one stats shard in one
//! `TransactWriteItems`, so the counters move exactly when the job does.
//!
//! Every write carries a token, stored as `lastWrite`: a writer whose answer was lost (a timeout,
//! a dropped connection) retries with the same token (DynamoDB's `ClientRequestToken` makes a
//! repeated transaction a no-op for 10 minutes) and, when the retry's condition fails, reads the
//! item back: its own token there means its first try committed.

pub mod counters;
mod expr;
pub mod item;
pub mod list;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update};
use chrono::Utc;
use jobs_core::reconcile::{self, Timing};
use jobs_core::state::{Counters, Expect, Transition};
use jobs_core::{JobMessage, JobStatus, Lease};
use serde_json::Value;

pub use counters::Stats;
use expr::Expr;
pub use item::{ItemError, JobRecord};
use item::{attr, idempotency_key, job_key, n, s, ts};
pub use list::{Cursor, CursorError, ListFilter, Page};

use crate::error::{BackendError, ErrorKind, kind_of_code};
use crate::faults;
use crate::resources::{DUE_INDEX, DUE_SHARDS, TABLE_KEY, TTL_ATTRIBUTE};

/// How long finished jobs are kept before DynamoDB's TTL deletes them (default 30 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Receipt handles kept on a job item for its lease holder (the newest ones).
const MAX_RECEIPTS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The job is not in the state the write expects (someone else moved it first, or an earlier
    /// try of this very write committed: see [`JobStore::committed`]).
    #[error("job state changed concurrently (condition failed)")]
    ConditionFailed,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A fresh write token.
pub fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

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
}

#[derive(Debug, Clone)]
pub struct JobStore {
    client: Client,
    table: String,
    retention: Duration,
    timing: Timing,
}

impl JobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        JobStore { client, table: table.into(), retention: DEFAULT_RETENTION, timing: Timing::default() }
    }

    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The reconciler's timing, which sets the due times this store writes.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn backend<E, R>(&self, op: &str, err: SdkError<E, R>) -> BackendError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if err.code() == Some("ResourceNotFoundException") {
            return BackendError::from_sdk(format!("DynamoDB table {:?} does not exist ({op})", self.table), err);
        }
        BackendError::from_sdk(format!("DynamoDB {op} on table {:?} failed", self.table), err)
    }

    /// The store's error for a failed `TransactWriteItems`, read from the cancellation reasons:
    /// a failed condition, a conflict with another transaction, throttling, or else the SDK's kind.
    fn transact_error<R>(&self, err: SdkError<TransactWriteItemsError, R>) -> StoreError
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let reasons = cancellation_reasons(&err);
        if reasons.iter().any(|r| r == "ConditionalCheckFailed") {
            return StoreError::ConditionFailed;
        }
        let context = format!("DynamoDB TransactWriteItems on table {:?} failed", self.table);
        match reasons.iter().find_map(|r| kind_of_code(r)) {
            Some(kind) => {
                let detail = format!("transaction cancelled: {}", reasons.join(", "));
                BackendError::with_source(kind, context, detail, Box::new(err)).into()
            }
            None => self.backend("TransactWriteItems", err).into(),
        }
    }

    /// One strongly consistent read of the item with key `pk`.
    async fn read_item(&self, pk: String) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        faults::before("store.get").await?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(TABLE_KEY, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.backend("GetItem", e))?;
        Ok(out.item)
    }

    /// Reads a job (strongly consistent). `None` if there is no such job.
    pub async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, StoreError> {
        match self.read_item(job_key(job_id)).await? {
            None => Ok(None),
            Some(item) => {
                let record = item::parse_record(job_id, &item).map_err(|e| {
                    BackendError::with_source(ErrorKind::Service, "DynamoDB GetItem", e.to_string(), Box::new(e))
                })?;
                Ok(Some(record))
            }
        }
    }

    /// Whether the last write to job `job_id` carried `token`: after an ambiguous answer, tells
    /// "my write committed" from "someone else's did".
    pub async fn committed(&self, job_id: &str, token: &str) -> Result<bool, StoreError> {
        Ok(self.get(job_id).await?.and_then(|r| r.last_write).as_deref() == Some(token))
    }

    /// Reads the counters: one strongly consistent `BatchGetItem` of the shards.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        Ok(counters::sum(&self.batch_get(&counters::all_keys()).await?))
    }

    /// The items with these keys (at most 100), strongly consistent; unprocessed keys are retried.
    async fn batch_get(&self, pks: &[String]) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        if pks.is_empty() {
            return Ok(Vec::new());
        }
        faults::before("store.batch-get").await?;
        let keys: Vec<HashMap<String, AttributeValue>> =
            pks.iter().map(|k| HashMap::from([(TABLE_KEY.to_owned(), s(k))])).collect();
        let mut pending = Some(
            KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().expect("keys are set"),
        );
        let mut items = Vec::new();
        for round in 0..10u32 {
            let Some(request) = pending.take() else { break };
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(20 << round.min(6))).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| self.backend("BatchGetItem", e))?;
            items.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(BackendError::of_kind(
                ErrorKind::Throttled,
                format!("DynamoDB BatchGetItem on table {:?}", self.table),
                "keys left unprocessed after 10 tries",
            )
            .into());
        }
        Ok(items)
    }

    /// The stats shard update for a write's counters (the shard follows from the write's token).
    fn counters_item(&self, c: &Counters, token: &str) -> TransactWriteItem {
        let shard = counters::pick_shard(token);
        TransactWriteItem::builder().update(counters::update(&self.table, shard, c)).build()
    }

    /// Records a job submitted through the API (QUEUED, `submitted + 1`) and, with an
    /// idempotency key, the key: all in one transaction. A key seen within its TTL returns the
    /// job it created instead.
    pub async fn submit(&self, msg: &JobMessage, idempotency: Option<&Idempotency>) -> Result<Submitted, StoreError> {
        faults::before("store.submit").await?;
        let tr = jobs_core::state::submit(Utc::now());
        let token = token();
        let job = self.put_new(&msg.job_id, Some(msg), &tr, &token);
        let mut request = self
            .client
            .transact_write_items()
            .client_request_token(&token)
            .transact_items(TransactWriteItem::builder().put(job).build())
            .transact_items(self.counters_item(&tr.counters, &token));
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
            let update = Update::builder()
                .table_name(&self.table)
                .key(TABLE_KEY, s(job_key(old)))
                .update_expression(e.update_expression())
                .set_condition_expression(e.condition_expression())
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values))
                .build()
                .expect("update is complete");
            request = request.transact_items(TransactWriteItem::builder().update(update).build());
        }
        if let Some(idem) = idempotency {
            let now = tr.at;
            let item = HashMap::from([
                (TABLE_KEY.to_owned(), s(idempotency_key(&idem.key))),
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
            // The key's put goes third, before the retry mark.
            let items = request.get_transact_items().clone().unwrap_or_default();
            let (head, tail) = items.split_at(2);
            let put = TransactWriteItem::builder().put(put).build();
            request = request
                .set_transact_items(Some(head.iter().cloned().chain([put]).chain(tail.iter().cloned()).collect()));
        }
        let result = match request.send().await {
            Ok(_) => Ok(Submitted::Created),
            Err(err) => {
                let failed = failed_conditions(&err);
                match idempotency {
                    // The key's put is the third item: its condition failing means "seen before".
                    Some(idem) if failed.get(2) == Some(&true) => self.replay(idem).await,
                    _ if msg.retry_of.is_some() && failed.get(retry_index) == Some(&true) => {
                        Ok(Submitted::NotRetryable)
                    }
                    _ => Err(self.transact_error(err)),
                }
            }
        };
        faults::after("store.submit")?;
        result
    }

    async fn replay(&self, idem: &Idempotency) -> Result<Submitted, StoreError> {
        let item = self.read_item(idempotency_key(&idem.key)).await?.unwrap_or_default();
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        match (text(attr::JOB_ID), text(attr::FINGERPRINT)) {
            (Some(job_id), Some(fp)) if fp == idem.fingerprint => Ok(Submitted::Existing { job_id }),
            (Some(_), Some(_)) => Ok(Submitted::KeyReused),
            // Deleted in between (TTL): let the caller retry as new.
            _ => Err(StoreError::ConditionFailed),
        }
    }

    /// Applies a transition to job `job_id` atomically with its counter deltas, stamping the item
    /// with `token`. `origin` supplies the job's description when the transition creates the item.
    /// Repeat a write whose answer was lost with the same token.
    pub async fn apply(
        &self,
        job_id: &str,
        origin: Option<&JobMessage>,
        tr: &Transition,
        token: &str,
    ) -> Result<(), StoreError> {
        let target = format!("store.{}", tr.step.as_str());
        faults::before(&target).await?;
        let job_item = match &tr.expect {
            Expect::Absent => JobWrite::Put(self.put_new(job_id, origin, tr, token)),
            Expect::Present { .. } => JobWrite::Update(self.update_existing(job_id, tr, token)),
        };
        let result = if tr.counters.is_zero() {
            self.write_single(job_item).await
        } else {
            let job_item = match job_item {
                JobWrite::Put(put) => TransactWriteItem::builder().put(put).build(),
                JobWrite::Update(update) => TransactWriteItem::builder().update(update).build(),
            };
            self.client
                .transact_write_items()
                .client_request_token(token)
                .transact_items(job_item)
                .transact_items(self.counters_item(&tr.counters, token))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| self.transact_error(e))
        };
        result?;
        faults::after(&target)?;
        Ok(())
    }

    /// Renews the lease of a running attempt held by `lease.owner`. Returns the receipt handles
    /// other workers handed over since the last renewal (they received the job's message while it
    /// ran), and takes them off the item.
    pub async fn renew(&self, job_id: &str, attempt: u32, lease: &Lease) -> Result<Vec<String>, StoreError> {
        faults::before("store.renew").await?;
        let mut e = Expr::default();
        e.set(attr::LEASE_UNTIL, n(lease.until.timestamp_millis()));
        e.set(attr::UPDATED_AT, ts(Utc::now()));
        let due = lease.until + chrono::Duration::from_std(self.timing.stale).unwrap_or_default();
        e.set(attr::DUE_AT, n(due.timestamp_millis()));
        e.set_or_remove(attr::RECEIPTS, None);
        held_by(&mut e, attempt, &lease.owner);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|err| single_error(self, "UpdateItem", err))?;
        Ok(out.attributes.as_ref().map(item::receipts).unwrap_or_default())
    }

    /// Asks the worker running attempt `attempt` to cancel the job (see `jobs_core::cancel`).
    /// `ConditionFailed`: the job is no longer running that attempt; decide again.
    pub async fn request_cancel(&self, job_id: &str, attempt: u32) -> Result<(), StoreError> {
        faults::before("store.request-cancel").await?;
        let mut e = Expr::default();
        e.set(attr::CANCEL_REQUESTED_AT, ts(Utc::now()));
        e.require(attr::STATUS, "=", s(JobStatus::Running.as_str()));
        e.require(attr::ATTEMPTS, "=", n(attempt));
        self.update(job_id, e, "UpdateItem").await
    }

    /// Whether somebody asked to cancel job `job_id`: the worker's quick check, a strongly
    /// consistent read of one attribute (half a read unit).
    pub async fn cancel_requested(&self, job_id: &str) -> Result<bool, StoreError> {
        faults::before("store.cancel-check").await?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .projection_expression("#c")
            .expression_attribute_names("#c", attr::CANCEL_REQUESTED_AT)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.backend("GetItem", e))?;
        Ok(out.item.is_some_and(|i| i.contains_key(attr::CANCEL_REQUESTED_AT)))
    }

    /// Hands a receipt handle of the job's message to the worker that runs attempt `attempt`
    /// under `holder`'s lease: its own handle went stale when the message was received again, so
    /// without this it could neither keep the message hidden nor delete it.
    pub async fn hand_over(&self, job_id: &str, attempt: u32, holder: &str, receipt: &str) -> Result<(), StoreError> {
        faults::before("store.hand-over").await?;
        let mut e = Expr::default();
        e.append(attr::RECEIPTS, AttributeValue::L(vec![s(receipt)]));
        held_by(&mut e, attempt, holder);
        // Bounded: a job that keeps being received while it runs does not grow its item.
        let (name, max) = (e.name(attr::RECEIPTS), e.value(n(MAX_RECEIPTS)));
        e.require_raw(format!("(attribute_not_exists({name}) OR size({name}) < {max})"));
        self.update(job_id, e, "UpdateItem").await
    }

    async fn write_single(&self, write: JobWrite) -> Result<(), StoreError> {
        match write {
            JobWrite::Put(put) => self
                .client
                .put_item()
                .table_name(put.table_name)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| single_error(self, "PutItem", e)),
            JobWrite::Update(update) => self
                .client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| single_error(self, "UpdateItem", e)),
        }
    }

    fn due(&self, tr: &Transition) -> Option<chrono::DateTime<Utc>> {
        reconcile::due_at(&tr.change, tr.at, false, &self.timing)
    }

    /// The API sent the message of a job it recorded: it is due `stale` from now (a reconciler
    /// pass sends the message of a job whose API never got that far).
    pub async fn mark_sent(&self, job_id: &str) -> Result<(), StoreError> {
        faults::before("store.mark-sent").await?;
        let now = Utc::now();
        let mut e = Expr::default();
        e.set(attr::SENT_AT, ts(now));
        let due = now + chrono::Duration::from_std(self.timing.stale).unwrap_or_default();
        e.set(attr::DUE_AT, n(due.timestamp_millis()));
        e.require(attr::STATUS, "=", s(JobStatus::Queued.as_str()));
        e.require(attr::ATTEMPTS, "=", n(0));
        self.update(job_id, e, "UpdateItem").await
    }

    /// Jobs in the due index that were due before `now`, at most `limit`: one query per shard,
    /// so the cost follows the number of overdue jobs, never the table's size.
    pub async fn overdue(&self, now: chrono::DateTime<Utc>, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        for shard in 0..DUE_SHARDS {
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name(DUE_INDEX)
                    .key_condition_expression("#shard = :shard AND #due < :now")
                    .expression_attribute_names("#shard", attr::DUE_SHARD)
                    .expression_attribute_names("#due", attr::DUE_AT)
                    .expression_attribute_values(":shard", s(shard.to_string()))
                    .expression_attribute_values(":now", n(now.timestamp_millis()))
                    .limit((limit - ids.len()).clamp(1, 100) as i32)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| self.backend("Query", e))?;
                for item in out.items.unwrap_or_default() {
                    if let Some(id) =
                        item.get(TABLE_KEY).and_then(|v| v.as_s().ok()).and_then(|k| k.strip_prefix("JOB#"))
                    {
                        ids.push(id.to_owned());
                    }
                }
                start = out.last_evaluated_key;
                if start.is_none() || ids.len() >= limit {
                    break;
                }
            }
            if ids.len() >= limit {
                break;
            }
        }
        Ok(ids)
    }

    /// Moves an overdue job's due time to `next` after its message was sent again, if its due
    /// time is still `seen` (a job that moved on meanwhile keeps its own).
    pub async fn bump_due(
        &self,
        job_id: &str,
        seen: chrono::DateTime<Utc>,
        next: chrono::DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut e = Expr::default();
        e.set(attr::DUE_AT, n(next.timestamp_millis()));
        e.increment(attr::RESENDS);
        e.require(attr::DUE_AT, "=", n(seen.timestamp_millis()));
        self.update(job_id, e, "UpdateItem").await
    }

    async fn update(&self, job_id: &str, e: Expr, op: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| single_error(self, op, err))
    }

    fn put_new(&self, job_id: &str, origin: Option<&JobMessage>, tr: &Transition, token: &str) -> Put {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item::new_item(job_id, origin, tr, token, self.retention, self.due(tr))))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", TABLE_KEY)
            .build()
            .expect("put is complete")
    }

    fn update_existing(&self, job_id: &str, tr: &Transition, token: &str) -> Update {
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
        Update::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .build()
            .expect("update is complete")
    }
}

/// Conditions for a write by the holder of attempt `attempt`.
fn held_by(e: &mut Expr, attempt: u32, owner: &str) {
    e.require(attr::STATUS, "=", s(JobStatus::Running.as_str()));
    e.require(attr::ATTEMPTS, "=", n(attempt));
    e.require(attr::LEASE_OWNER, "=", s(owner));
}

fn single_error<E, R>(store: &JobStore, op: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if err.code() == Some("ConditionalCheckFailedException") {
        StoreError::ConditionFailed
    } else {
        store.backend(op, err).into()
    }
}

/// The reason codes of a cancelled transaction, in request order ("None" for items that were fine);
/// empty for any other error.
fn cancellation_reasons<R>(err: &SdkError<TransactWriteItemsError, R>) -> Vec<String> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect()
        }
        _ => Vec::new(),
    }
}

/// For a cancelled transaction, whether each item's condition failed (in request order).
fn failed_conditions<R>(err: &SdkError<TransactWriteItemsError, R>) -> Vec<bool> {
    cancellation_reasons(err).iter().map(|r| r == "ConditionalCheckFailed").collect()
}

enum JobWrite {
    Put(Put),
    Update(Update),
}
