//! The DynamoDB job store: one table, one item per job (`pk = JOB#<id>`) and one stats item
//! (`pk = STATS`). A [`Transition`] from `jobs_core::state` is applied as a conditional write of
//! the job item plus an `ADD` on the stats item in one `TransactWriteItems`, so the counters move
//! exactly when the job does.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, SecondsFormat, Utc};
use jobs_core::state::{Counters, Expect, Transition};
use jobs_core::{JobMessage, JobState, JobStatus, Lease};
use serde_json::Value;

use crate::error::{BackendError, describe};
use crate::resources::{STATS_KEY, TABLE_KEY, TTL_ATTRIBUTE};

/// How long finished jobs are kept before DynamoDB's TTL deletes them (default 30 days).
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The job is not in the state the transition expects (someone else moved it first).
    #[error("job state changed concurrently (condition failed)")]
    Conflict,
    #[error(transparent)]
    Backend(#[from] BackendError),
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
}

/// The counters of the stats item. See `jobs_core::state` for their exact meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retries: u64,
}

/// Everything stored about one job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub job_id: String,
    pub kind: Option<String>,
    pub payload: Option<Value>,
    pub source: Option<String>,
    pub schedule: Option<String>,
    pub status: JobStatus,
    pub attempts: u32,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub lease: Option<Lease>,
}

impl JobRecord {
    pub fn state(&self) -> JobState {
        JobState {
            status: self.status,
            attempts: self.attempts,
            lease: self.lease.clone(),
            retry_at: self.next_attempt_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct JobStore {
    client: Client,
    table: String,
    retention: Duration,
}

fn idempotency_key(key: &str) -> String {
    format!("IDEM#{key}")
}

fn job_key(job_id: &str) -> String {
    format!("JOB#{job_id}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ts(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// Builds an expression with every attribute name aliased (several are DynamoDB reserved words).
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    set: Vec<String>,
    remove: Vec<String>,
    cond: Vec<String>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        let alias = format!("#{attr}");
        self.names.insert(alias.clone(), attr.to_owned());
        alias
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let alias = format!(":v{}", self.values.len());
        self.values.insert(alias.clone(), v);
        alias
    }

    fn set(&mut self, attr: &str, v: AttributeValue) {
        let (name, value) = (self.name(attr), self.value(v));
        self.set.push(format!("{name} = {value}"));
    }

    fn remove(&mut self, attr: &str) {
        let name = self.name(attr);
        self.remove.push(name);
    }

    fn require(&mut self, attr: &str, op: &str, v: AttributeValue) {
        let (name, value) = (self.name(attr), self.value(v));
        self.cond.push(format!("{name} {op} {value}"));
    }

    fn update_expression(&self) -> String {
        let mut parts = vec![format!("SET {}", self.set.join(", "))];
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }
}

impl JobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        JobStore { client, table: table.into(), retention: DEFAULT_RETENTION }
    }

    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn expires_at(&self, now: DateTime<Utc>) -> AttributeValue {
        n(now.timestamp() + self.retention.as_secs() as i64)
    }

    fn backend<E, R>(&self, op: &str, err: SdkError<E, R>) -> BackendError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if err.code() == Some("ResourceNotFoundException") {
            return BackendError::new(format!("DynamoDB table {:?} does not exist ({op})", self.table));
        }
        BackendError::new(format!("DynamoDB {op} on table {:?} failed: {}", self.table, describe(&err)))
    }

    /// One strongly consistent read of the item with key `pk`.
    async fn read_item(&self, pk: String) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
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

    /// The store's error for a failed `TransactWriteItems`: `Conflict` when a condition failed.
    fn transact_error<R>(&self, err: SdkError<TransactWriteItemsError, R>) -> StoreError
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if failed_conditions(&err).contains(&true) {
            StoreError::Conflict
        } else {
            self.backend("TransactWriteItems", err).into()
        }
    }

    /// Reads a job (strongly consistent). `None` if there is no such job.
    pub async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, StoreError> {
        match self.read_item(job_key(job_id)).await? {
            None => Ok(None),
            Some(item) => Ok(Some(parse_record(job_id, &item).map_err(BackendError::new)?)),
        }
    }

    /// Reads the counters (one strongly consistent read, whatever the number of jobs).
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let item = self.read_item(STATS_KEY.to_owned()).await?.unwrap_or_default();
        let count = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Stats {
            submitted: count("submitted"),
            succeeded: count("succeeded"),
            failed: count("failed"),
            retries: count("retries"),
        })
    }

    /// Records a job submitted through the API (QUEUED, `submitted + 1`) and, with an
    /// idempotency key, the key: all in one transaction. A key seen within its TTL returns the
    /// job it created instead.
    pub async fn submit(&self, msg: &JobMessage, idempotency: Option<&Idempotency>) -> Result<Submitted, StoreError> {
        let tr = jobs_core::state::submit(Utc::now());
        let job = self.put_new(&msg.job_id, Some(msg), &tr).build().expect("put is complete");
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(job).build())
            .transact_items(TransactWriteItem::builder().update(self.stats_update(&tr.counters)).build());
        if let Some(idem) = idempotency {
            let now = tr.at;
            let item = HashMap::from([
                (TABLE_KEY.to_owned(), s(idempotency_key(&idem.key))),
                ("jobId".to_owned(), s(&msg.job_id)),
                ("fingerprint".to_owned(), s(&idem.fingerprint)),
                ("createdAt".to_owned(), ts(now)),
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
        match request.send().await {
            Ok(_) => Ok(Submitted::Created),
            Err(err) => match idempotency {
                // The key's put is the third item: its condition failing means "seen before".
                Some(idem) if failed_conditions(&err).get(2) == Some(&true) => self.replay(idem).await,
                _ => Err(self.transact_error(err)),
            },
        }
    }

    async fn replay(&self, idem: &Idempotency) -> Result<Submitted, StoreError> {
        let item = self.read_item(idempotency_key(&idem.key)).await?.unwrap_or_default();
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        match (text("jobId"), text("fingerprint")) {
            (Some(job_id), Some(fp)) if fp == idem.fingerprint => Ok(Submitted::Existing { job_id }),
            (Some(_), Some(_)) => Ok(Submitted::KeyReused),
            // Deleted in between (TTL): let the caller retry as new.
            _ => Err(StoreError::Conflict),
        }
    }

    /// Undoes `submit` when the message could not be sent: deletes the job (only if it is still
    /// QUEUED and never started), its idempotency key, and takes back `submitted`.
    pub async fn retract(&self, job_id: &str, idempotency_key_value: Option<&str>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::Delete;
        let job = Delete::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .condition_expression("#st = :queued AND #at = :zero")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#at", "attempts")
            .expression_attribute_values(":queued", s(JobStatus::Queued.as_str()))
            .expression_attribute_values(":zero", n(0))
            .build()
            .expect("delete is complete");
        let counters = Counters { submitted: -1, ..Counters::default() };
        let mut request = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(job).build())
            .transact_items(TransactWriteItem::builder().update(self.stats_update(&counters)).build());
        if let Some(key) = idempotency_key_value {
            let idem = Delete::builder()
                .table_name(&self.table)
                .key(TABLE_KEY, s(idempotency_key(key)))
                .build()
                .expect("delete is complete");
            request = request.transact_items(TransactWriteItem::builder().delete(idem).build());
        }
        request.send().await.map(|_| ()).map_err(|e| self.transact_error(e))
    }

    /// Applies a transition to job `job_id` atomically with its counter deltas. `origin` supplies
    /// the job's description when the transition creates the item.
    pub async fn apply(&self, job_id: &str, origin: Option<&JobMessage>, tr: &Transition) -> Result<(), StoreError> {
        let job_write = match &tr.expect {
            Expect::Absent => JobWrite::Put(self.put_new(job_id, origin, tr)),
            Expect::Present { .. } => JobWrite::Update(self.update_existing(job_id, tr)),
        };
        if tr.counters.is_zero() {
            return self.write_single(job_write).await;
        }
        let job_item = match job_write {
            JobWrite::Put(put) => TransactWriteItem::builder().put(put.build().expect("put is complete")).build(),
            JobWrite::Update(update) => {
                TransactWriteItem::builder().update(update.build().expect("update is complete")).build()
            }
        };
        let stats_item = TransactWriteItem::builder().update(self.stats_update(&tr.counters)).build();
        self.client
            .transact_write_items()
            .transact_items(job_item)
            .transact_items(stats_item)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| self.transact_error(e))
    }

    async fn write_single(&self, write: JobWrite) -> Result<(), StoreError> {
        let result = match write {
            JobWrite::Put(put) => {
                let put = put.build().expect("put is complete");
                self.client
                    .put_item()
                    .table_name(put.table_name)
                    .set_item(Some(put.item))
                    .set_condition_expression(put.condition_expression)
                    .set_expression_attribute_names(put.expression_attribute_names)
                    .set_expression_attribute_values(put.expression_attribute_values)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| (e.code() == Some("ConditionalCheckFailedException"), self.backend("PutItem", e)))
            }
            JobWrite::Update(update) => {
                let update = update.build().expect("update is complete");
                self.client
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
                    .map_err(|e| (e.code() == Some("ConditionalCheckFailedException"), self.backend("UpdateItem", e)))
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err((true, _)) => Err(StoreError::Conflict),
            Err((false, backend)) => Err(backend.into()),
        }
    }

    fn put_new(
        &self,
        job_id: &str,
        origin: Option<&JobMessage>,
        tr: &Transition,
    ) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        let now = tr.at;
        let mut item: HashMap<String, AttributeValue> = HashMap::from([
            (TABLE_KEY.to_owned(), s(job_key(job_id))),
            ("jobId".to_owned(), s(job_id)),
            ("status".to_owned(), s(tr.change.status.as_str())),
            ("attempts".to_owned(), n(tr.change.attempts)),
            ("createdAt".to_owned(), ts(now)),
            ("updatedAt".to_owned(), ts(now)),
            (TTL_ATTRIBUTE.to_owned(), self.expires_at(now)),
        ]);
        if let Some(msg) = origin {
            item.insert("kind".into(), s(&msg.kind));
            item.insert("payload".into(), s(msg.payload.to_string()));
            item.insert("source".into(), s(msg.source.as_str()));
            item.insert("submittedAt".into(), ts(msg.submitted_at));
            if let Some(schedule) = &msg.schedule {
                item.insert("schedule".into(), s(schedule));
            }
        }
        let change = &tr.change;
        if change.started {
            item.insert("startedAt".into(), ts(now));
        }
        if let Some(lease) = &change.lease {
            item.insert("leaseOwner".into(), s(&lease.owner));
            item.insert("leaseUntil".into(), n(lease.until.timestamp_millis()));
        }
        if let Some(error) = &change.last_error {
            item.insert("lastError".into(), s(error));
        }
        if let Some(result) = &change.result {
            item.insert("result".into(), s(result.to_string()));
        }
        if let Some(due) = change.retry_at {
            item.insert("nextAttemptAt".into(), ts(due));
        }
        if change.status.is_terminal() {
            item.insert("finishedAt".into(), ts(now));
        }
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", TABLE_KEY)
    }

    fn update_existing(&self, job_id: &str, tr: &Transition) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let Expect::Present { status, attempts, owner, lease_expired_before } = &tr.expect else {
            unreachable!("update_existing is only called for Expect::Present")
        };
        let (now, change) = (tr.at, &tr.change);
        let mut e = Expr::default();
        e.set("status", s(change.status.as_str()));
        e.set("attempts", n(change.attempts));
        e.set("updatedAt", ts(now));
        if change.started {
            e.set("startedAt", ts(now));
        }
        match &change.lease {
            Some(lease) => {
                e.set("leaseOwner", s(&lease.owner));
                e.set("leaseUntil", n(lease.until.timestamp_millis()));
            }
            None => {
                e.remove("leaseOwner");
                e.remove("leaseUntil");
            }
        }
        if let Some(error) = &change.last_error {
            e.set("lastError", s(error));
        }
        if let Some(result) = &change.result {
            e.set("result", s(result.to_string()));
        }
        match change.retry_at {
            Some(due) => e.set("nextAttemptAt", ts(due)),
            None => e.remove("nextAttemptAt"),
        }
        if change.status.is_terminal() {
            e.set("finishedAt", ts(now));
            e.set(TTL_ATTRIBUTE, self.expires_at(now));
        }
        e.require("status", "=", s(status.as_str()));
        e.require("attempts", "=", n(attempts));
        if let Some(owner) = owner {
            e.require("leaseOwner", "=", s(owner));
        }
        if let Some(before) = lease_expired_before {
            // A running job without a lease counts as abandoned too.
            let (name, value) = (e.name("leaseUntil"), e.value(n(before.timestamp_millis())));
            e.cond.push(format!("(attribute_not_exists({name}) OR {name} < {value})"));
        }
        Update::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, s(job_key(job_id)))
            .update_expression(e.update_expression())
            .condition_expression(e.cond.join(" AND "))
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
    }

    fn stats_update(&self, c: &Counters) -> Update {
        let mut adds = Vec::new();
        let mut values = HashMap::new();
        for (name, delta) in
            [("submitted", c.submitted), ("succeeded", c.succeeded), ("failed", c.failed), ("retries", c.retries)]
        {
            if delta != 0 {
                adds.push(format!("{name} :{name}"));
                values.insert(format!(":{name}"), n(delta));
            }
        }
        Update::builder()
            .table_name(&self.table)
            .key(TABLE_KEY, s(STATS_KEY))
            .update_expression(format!("ADD {}", adds.join(", ")))
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("update is complete")
    }
}

/// For a cancelled transaction, whether each item's condition failed (in request order); empty for
/// any other error.
fn failed_conditions<R>(err: &SdkError<TransactWriteItemsError, R>) -> Vec<bool> {
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
            c.cancellation_reasons().iter().map(|r| r.code() == Some("ConditionalCheckFailed")).collect()
        }
        _ => Vec::new(),
    }
}

enum JobWrite {
    Put(aws_sdk_dynamodb::types::builders::PutBuilder),
    Update(aws_sdk_dynamodb::types::builders::UpdateBuilder),
}

fn parse_record(job_id: &str, item: &HashMap<String, AttributeValue>) -> Result<JobRecord, String> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let time =
        |name: &str| text(name).and_then(|v| DateTime::parse_from_rfc3339(&v).ok()).map(|t| t.with_timezone(&Utc));
    let json = |name: &str| text(name).and_then(|v| serde_json::from_str(&v).ok());
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
    let status_text = text("status").ok_or_else(|| format!("job {job_id} has no status"))?;
    let status =
        JobStatus::parse(&status_text).ok_or_else(|| format!("job {job_id} has unknown status {status_text:?}"))?;
    let lease = match (text("leaseOwner"), number("leaseUntil").and_then(DateTime::from_timestamp_millis)) {
        (Some(owner), Some(until)) => Some(Lease { owner, until }),
        _ => None,
    };
    Ok(JobRecord {
        job_id: job_id.to_owned(),
        kind: text("kind"),
        payload: json("payload"),
        source: text("source"),
        schedule: text("schedule"),
        status,
        attempts: number("attempts").unwrap_or(0).try_into().unwrap_or(0),
        submitted_at: time("submittedAt"),
        created_at: time("createdAt"),
        updated_at: time("updatedAt"),
        started_at: time("startedAt"),
        finished_at: time("finishedAt"),
        next_attempt_at: time("nextAttemptAt"),
        last_error: text("lastError"),
        result: json("result"),
        lease,
    })
}
