//! The store's handle on its table: [`JobStore`] (the DynamoDB port, the table, its settings),
//! its error, and what every part of the store shares: reads of one item or a batch, the
//! conditional updates, the write token, and how a failed write is read.

use std::collections::HashMap;
use std::time::Duration;

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemInputBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};
use chrono::Utc;
use jobs_core::clock::SharedClock;
use jobs_core::random::SharedRandom;
use jobs_core::reconcile::{self, Timing};
use jobs_core::state::{Counters, Transition};

use super::counters::Stats;
use super::expr::Expr;
use super::item::{self, JobRecord, job_key, s};
use super::{buckets, counters};
use crate::dynamo::{Dynamo, DynamoFailure, Op, SdkDynamo};
use crate::error::{BackendError, ErrorKind, kind_of_code};
use crate::resources::TABLE_KEY;

/// How long finished jobs are kept before DynamoDB's TTL deletes them (default 30 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// What a conditional write came to once DynamoDB answered: it took effect, or its condition did
/// not hold and nothing was written. A lost write is an answer, not a failure: the job is not in
/// the state the write expects (someone else moved it first, or an earlier try of this very write
/// committed: see [`JobStore::committed`]), and each caller decides what that means for it. A
/// write fails (`Err`) only as the backend does ([`BackendError`]), like a read.
#[must_use = "a lost write changed nothing: decide what that means"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional<T = ()> {
    Applied(T),
    Lost,
}

impl<T> Conditional<T> {
    /// What the applied write returned; `None` if it was lost.
    pub fn applied(self) -> Option<T> {
        match self {
            Conditional::Applied(t) => Some(t),
            Conditional::Lost => None,
        }
    }

    pub fn is_applied(&self) -> bool {
        matches!(self, Conditional::Applied(_))
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Conditional<U> {
        match self {
            Conditional::Applied(t) => Conditional::Applied(f(t)),
            Conditional::Lost => Conditional::Lost,
        }
    }
}

/// A conditional write's result: its answer ([`Conditional`]), or the backend's failure.
pub type WriteResult<T = ()> = Result<Conditional<T>, BackendError>;

/// What an applied [`JobStore::apply`] tells besides success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Who submitted the job, when the write knows: the schedule, for a write that records a
    /// firing; the item's value, for a start (see `jobs_core::submitter`).
    pub submitted_by: Option<String>,
    /// The job holds a slot of its tenant (a start's item says; see `admission`).
    pub slot: bool,
}

#[derive(Debug, Clone)]
pub struct JobStore {
    /// DynamoDB: the SDK's, or the simulator's in-memory one.
    pub(super) db: Arc<dyn Dynamo>,
    pub(super) table: String,
    pub(super) retention: Duration,
    pub(super) timing: Timing,
    /// The limits of a tenant without settings of its own (the config's `tenants.defaults`).
    pub(super) tenant_defaults: jobs_core::tenants::Settings,
    /// The time every timestamp the store writes is read from (the process's clock).
    pub(super) clock: SharedClock,
    /// Where write tokens come from (the process's randomness).
    pub(super) random: SharedRandom,
}

impl JobStore {
    /// The store over DynamoDB (the SDK's client).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        JobStore::over(crate::faults::dynamo(SdkDynamo::new(client)), table)
    }

    /// The store over any implementation of the DynamoDB operations it uses.
    pub fn over(db: Arc<dyn Dynamo>, table: impl Into<String>) -> Self {
        JobStore {
            db,
            table: table.into(),
            retention: DEFAULT_RETENTION,
            timing: Timing::default(),
            tenant_defaults: jobs_core::tenants::config().defaults,
            clock: jobs_core::clock::system(),
            random: jobs_core::random::system(),
        }
    }

    /// The store reading the time from `clock` (the simulator's, for a simulated process).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// The process's time: what the store writes, and what the code that uses it decides on.
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.clock.now()
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The store drawing its write tokens from `random` (the simulator's seed).
    pub fn with_random(mut self, random: SharedRandom) -> Self {
        self.random = random;
        self
    }

    /// The process's randomness (a backoff's jitter draws from it too).
    pub fn random(&self) -> &SharedRandom {
        &self.random
    }

    /// A fresh write token (it also picks the counter shards the write adds to).
    pub fn token(&self) -> String {
        self.random.token()
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

    /// Tenants' default limits other than the config's (tests).
    pub fn with_tenant_defaults(mut self, defaults: jobs_core::tenants::Settings) -> Self {
        self.tenant_defaults = defaults;
        self
    }

    /// The limits of a tenant without settings of its own.
    pub fn tenant_defaults(&self) -> jobs_core::tenants::Settings {
        self.tenant_defaults
    }

    /// How long an ended job is kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// What a failed `TransactWriteItems` came to, read from the cancellation reasons: a failed
    /// condition (lost), or a conflict with another transaction, throttling, or else the backend's
    /// failure.
    pub(super) fn transact_outcome<T>(&self, err: DynamoFailure) -> WriteResult<T> {
        let reasons = err.reason_codes();
        if reasons.iter().any(|r| r == "ConditionalCheckFailed") {
            return Ok(Conditional::Lost);
        }
        match err {
            DynamoFailure::Cancelled { error, .. } => match reasons.iter().find_map(|r| kind_of_code(r)) {
                Some(kind) => {
                    let context = format!("DynamoDB TransactWriteItems on table {:?} failed", self.table);
                    let detail = format!("transaction cancelled: {}", reasons.join(", "));
                    Err(BackendError::with_source(kind, context, detail, Box::new(error)))
                }
                None => Err(error),
            },
            DynamoFailure::ConditionFailed { .. } => Ok(Conditional::Lost),
            DynamoFailure::Backend(e) => Err(e),
        }
    }

    /// A `TransactWriteItems`' answer as a write's: `applied` if it committed.
    pub(super) async fn transact<T>(
        &self,
        op: Op,
        request: aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput,
        applied: T,
    ) -> WriteResult<T> {
        match self.db.transact_write_items(op, request).await {
            Ok(_) => Ok(Conditional::Applied(applied)),
            Err(e) => self.transact_outcome(e),
        }
    }

    /// One strongly consistent read (`op`) of the item with key `pk`.
    pub(super) async fn read_item(
        &self,
        op: Op,
        pk: String,
    ) -> Result<Option<HashMap<String, AttributeValue>>, BackendError> {
        let request = GetItemInput::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, s(pk))
            .consistent_read(true)
            .build()
            .expect("a complete GetItem");
        let out = self.db.get_item(op, request).await.map_err(backend)?;
        Ok(out.item)
    }

    /// Reads a job (strongly consistent). `None` if there is no such job.
    pub async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, BackendError> {
        match self.read_item("get", job_key(job_id)).await? {
            None => Ok(None),
            Some(item) => {
                let record = item::parse_record(job_id, &item).map_err(|e| {
                    // The same item reads the same way every time: not worth retrying.
                    BackendError::with_source(ErrorKind::Invalid, "DynamoDB GetItem", e.to_string(), Box::new(e))
                })?;
                Ok(Some(record))
            }
        }
    }

    /// Whether the last write to job `job_id` carried `token`: after an ambiguous answer, tells
    /// "my write committed" from "someone else's did".
    pub async fn committed(&self, job_id: &str, token: &str) -> Result<bool, BackendError> {
        Ok(self.get(job_id).await?.and_then(|r| r.last_write).as_deref() == Some(token))
    }

    /// Reads the counters: one strongly consistent `BatchGetItem` of the shards.
    pub async fn stats(&self) -> Result<Stats, BackendError> {
        Ok(counters::sum(&self.batch_get(&counters::all_keys(), true).await?))
    }

    /// The items with these keys (at most 100), strongly consistent if `consistent`; unprocessed
    /// keys are retried.
    pub(super) async fn batch_get(
        &self,
        pks: &[String],
        consistent: bool,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, BackendError> {
        if pks.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<HashMap<String, AttributeValue>> =
            pks.iter().map(|k| HashMap::from([(TABLE_KEY.to_owned(), s(k))])).collect();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(consistent)
                .build()
                .expect("keys are set"),
        );
        let mut items = Vec::new();
        for round in 0..10u32 {
            let Some(request) = pending.take() else { break };
            if round > 0 {
                tokio::time::sleep(Duration::from_millis(20 << round.min(6))).await;
            }
            let request = BatchGetItemInput::builder()
                .request_items(&self.table, request)
                .build()
                .expect("a complete BatchGetItem");
            let out = self.db.batch_get_item("batch-get", request).await.map_err(backend)?;
            items.extend(out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending = out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(BackendError::of_kind(
                ErrorKind::Throttled,
                format!("DynamoDB BatchGetItem on table {:?}", self.table),
                "keys left unprocessed after 10 tries",
            ));
        }
        Ok(items)
    }

    /// The stats shard update for a write's counters (the shard follows from the write's token).
    pub(super) fn counters_item(&self, c: &Counters, token: &str) -> TransactWriteItem {
        let shard = counters::pick_shard(token);
        TransactWriteItem::builder().update(counters::update(&self.table, shard, c)).build()
    }

    /// The throughput bucket update of a counted transition, on the same shard as its counters;
    /// `None` if it counts no outcome event.
    pub(super) fn bucket_item(
        &self,
        tr: &Transition,
        kind: Option<&str>,
        tenant: Option<&jobs_core::Tenant>,
        token: &str,
    ) -> Option<TransactWriteItem> {
        let add = jobs_core::throughput::add(&tr.counters, tr.at, kind, tenant)?;
        let shard = counters::pick_shard(token);
        Some(TransactWriteItem::builder().update(buckets::update(&self.table, shard, &add)).build())
    }

    /// The last `minutes` minutes of outcome events up to `now` (at most
    /// `jobs_core::throughput::MAX_MINUTES`), oldest first. Eventually consistent: a bucket is a
    /// rate, read again on the next refresh.
    pub async fn throughput(
        &self,
        now: chrono::DateTime<Utc>,
        minutes: u32,
    ) -> Result<Vec<buckets::Minute>, BackendError> {
        let minutes = jobs_core::throughput::last_minutes(now, minutes.min(jobs_core::throughput::MAX_MINUTES));
        let keys = buckets::keys(&minutes);
        let mut reads = tokio::task::JoinSet::new();
        for chunk in keys.chunks(100) {
            let (store, chunk) = (self.clone(), chunk.to_vec());
            reads.spawn(async move { store.batch_get(&chunk, false).await });
        }
        let mut items = Vec::new();
        while let Some(read) = reads.join_next().await {
            let read = read.map_err(|e| BackendError::other(format!("bucket read task failed: {e}")))?;
            items.extend(read?);
        }
        Ok(buckets::sum(&minutes, &items))
    }

    pub(super) fn due(&self, tr: &Transition) -> Option<chrono::DateTime<Utc>> {
        reconcile::due_at(&tr.change, tr.at, false, &self.timing)
    }

    /// The conditional UpdateItem of one job item that `e` describes.
    pub(super) fn update_request(&self, job_id: &str, e: Expr) -> UpdateItemInputBuilder {
        self.key_update(job_key(job_id), e)
    }

    /// The conditional UpdateItem `e` of the item with key `pk`.
    fn key_update(&self, pk: String, e: Expr) -> UpdateItemInputBuilder {
        UpdateItemInput::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, s(pk))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
    }

    /// The conditional update `e` (`op`) of the item with key `pk`.
    pub(super) async fn update_key(&self, op: Op, pk: String, e: Expr) -> WriteResult {
        let request = self.key_update(pk, e).build().expect("a complete UpdateItem");
        single_outcome(self.db.update_item(op, request).await.map(|_| ()))
    }

    /// The conditional update `e` (`op`) of job `job_id`'s item.
    pub(super) async fn update(&self, op: Op, job_id: &str, e: Expr) -> WriteResult {
        self.update_key(op, job_key(job_id), e).await
    }

    /// The conditional update `e` of job `job_id`'s item, as a transaction item.
    pub(super) fn job_update(&self, job_id: &str, e: Expr) -> Update {
        transact_update(&self.table, job_key(job_id), e)
    }
}

/// The conditional update `e` of the item with key `pk`, as a transaction item.
pub(super) fn transact_update(table: &str, pk: String, e: Expr) -> Update {
    Update::builder()
        .table_name(table)
        .key(TABLE_KEY, s(pk))
        .update_expression(e.update_expression())
        .set_condition_expression(e.condition_expression())
        .set_expression_attribute_names(Some(e.names))
        .set_expression_attribute_values(Some(e.values))
        .build()
        .expect("update is complete")
}

/// A single conditional write's answer: applied, lost (its condition), or the backend's failure.
pub(super) fn single_outcome<T>(answer: Result<T, DynamoFailure>) -> WriteResult<T> {
    match answer {
        Ok(t) => Ok(Conditional::Applied(t)),
        Err(DynamoFailure::ConditionFailed { .. }) => Ok(Conditional::Lost),
        Err(other) => Err(backend(other)),
    }
}

/// A read's (or an unconditional write's) failure, which can only be the backend's.
pub(super) fn backend(err: DynamoFailure) -> BackendError {
    match err {
        DynamoFailure::Backend(e) | DynamoFailure::Cancelled { error: e, .. } => e,
        DynamoFailure::ConditionFailed { .. } => BackendError::other("a condition failed where none was set"),
    }
}

/// For a cancelled transaction, whether each item's condition failed (in request order).
pub(super) fn failed_conditions(err: &DynamoFailure) -> Vec<bool> {
    err.reason_codes().iter().map(|r| r == "ConditionalCheckFailed").collect()
}
