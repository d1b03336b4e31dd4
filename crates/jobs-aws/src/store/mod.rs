//! The DynamoDB job store: one table, one item per job (`pk = JOB#<id>`) and sharded stats items
//! (`pk = STATS#<n>`, see [`counters`]). A [`Transition`] from `jobs_core::state` is applied as a
//! conditional write of the job item plus an `ADD` on one stats shard (and, for an outcome, on
//! its minute's throughput bucket, see [`buckets`]) in one `TransactWriteItems`, so the counters
//! move exactly when the job does.
//!
//! Every write carries a token, stored as `lastWrite`: a writer whose answer was lost (a timeout,
//! a dropped connection) retries with the same token (DynamoDB's `ClientRequestToken` makes a
//! repeated transaction a no-op for 10 minutes) and, when the retry's condition fails, reads the
//! item back: its own token there means its first try committed.

pub mod admission;
mod apply;
pub mod buckets;
pub mod counters;
mod due;
mod expr;
pub mod item;
mod lease;
pub mod list;
mod lock;
mod open;
mod submit;
pub mod tenants;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};
use chrono::Utc;
use jobs_core::reconcile::{self, Timing};
use jobs_core::state::{Counters, Transition};

pub use admission::AdmitPass;
pub use counters::Stats;
use expr::Expr;
pub use item::{ItemError, JobRecord};
use item::{job_key, s};
pub use jobs_core::tenants::{Seat, SlotTake};
pub use list::{Cursor, CursorError, ListFilter, Page};
pub use open::{COUNT_CAP, Oldest, OpenCount};
pub use submit::{Idempotency, Submitted};
pub use tenants::{TenancyCounts, TenancyEntry, TenantItem, TenantPage};

use crate::error::{BackendError, ErrorKind, kind_of_code};
use crate::faults;
use crate::resources::TABLE_KEY;

/// How long finished jobs are kept before DynamoDB's TTL deletes them (default 30 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The job is not in the state the write expects (someone else moved it first, or an earlier
    /// try of this very write committed: see [`JobStore::committed`]).
    #[error("job state changed concurrently (condition failed)")]
    ConditionFailed,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What a committed [`JobStore::apply`] tells besides success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Who submitted the job, when the write knows: the schedule, for a write that records a
    /// firing; the item's value, for a start (see `jobs_core::submitter`).
    pub submitted_by: Option<String>,
    /// The job holds a slot of its tenant (a start's item says; see `admission`).
    pub slot: bool,
}

/// A fresh write token.
pub fn token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Debug, Clone)]
pub struct JobStore {
    client: Client,
    table: String,
    retention: Duration,
    timing: Timing,
    /// The limits of a tenant without settings of its own (the config's `tenants.defaults`).
    tenant_defaults: jobs_core::tenants::Settings,
}

impl JobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        JobStore {
            client,
            table: table.into(),
            retention: DEFAULT_RETENTION,
            timing: Timing::default(),
            tenant_defaults: jobs_core::tenants::config().defaults,
        }
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

    /// The limits that apply to a tenant whose item says `item`.
    pub fn limits_of(&self, item: &tenants::TenantItem) -> jobs_core::tenants::Limits {
        item.settings.limits(&self.tenant_defaults)
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
                    // The same item reads the same way every time: not worth retrying.
                    BackendError::with_source(ErrorKind::Invalid, "DynamoDB GetItem", e.to_string(), Box::new(e))
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
        Ok(counters::sum(&self.batch_get(&counters::all_keys(), true).await?))
    }

    /// The items with these keys (at most 100), strongly consistent if `consistent`; unprocessed
    /// keys are retried.
    async fn batch_get(
        &self,
        pks: &[String],
        consistent: bool,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        if pks.is_empty() {
            return Ok(Vec::new());
        }
        faults::before("store.batch-get").await?;
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

    /// The throughput bucket update of a counted transition, on the same shard as its counters;
    /// `None` if it counts no outcome event.
    fn bucket_item(
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
    ) -> Result<Vec<buckets::Minute>, StoreError> {
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

    fn due(&self, tr: &Transition) -> Option<chrono::DateTime<Utc>> {
        reconcile::due_at(&tr.change, tr.at, false, &self.timing)
    }

    /// The conditional UpdateItem of one job item that `e` describes.
    fn update_request(&self, job_id: &str, e: Expr) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
    }

    /// The conditional update `e` of the item with key `pk`.
    async fn update_key(&self, pk: String, e: Expr, op: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(TABLE_KEY, s(pk))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .send()
            .await
            .map(|_| ())
            .map_err(|err| single_error(self, op, err))
    }

    async fn update(&self, job_id: &str, e: Expr, op: &str) -> Result<(), StoreError> {
        self.update_request(job_id, e).send().await.map(|_| ()).map_err(|err| single_error(self, op, err))
    }

    /// The conditional update `e` of job `job_id`'s item, as a transaction item.
    fn job_update(&self, job_id: &str, e: Expr) -> Update {
        transact_update(&self.table, job_key(job_id), e)
    }
}

/// The conditional update `e` of the item with key `pk`, as a transaction item.
fn transact_update(table: &str, pk: String, e: Expr) -> Update {
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
