//! Creates every pool's queues (normal and high priority, one dead-letter queue per pool), the
//! table and the schedule group with the same attributes as the CDK stack, for the local stack
//! and the tests. Idempotent: existing resources and their data are kept; a table
//! made by an earlier release gains the list indexes it lacks. [`remove`] undoes it (test
//! harnesses on a shared endpoint).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::create_table::CreateTableInput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TableDescription, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_sqs::operation::create_queue::CreateQueueInput;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesInput;
use aws_sdk_sqs::types::QueueAttributeName;
use jobs_core::pools::Priority;
use jobs_core::pools::queues::{dlq_name, queue_name as queue_name_of};

use crate::error::BackendError;
use crate::resources::{
    DUE_AT_ATTRIBUTE, DUE_INDEX, DUE_SHARD_ATTRIBUTE, LIST_INDEXES, LIST_SORT_ATTRIBUTE, MAX_RECEIVE_COUNT,
    MESSAGE_RETENTION_SECS, QUEUE_VISIBILITY_TIMEOUT_SECS, TABLE_KEY, TENANCY_ATTRIBUTE, TENANCY_INDEX,
    TENANCY_ORDER_ATTRIBUTE, TENANCY_PROJECTED, TTL_ATTRIBUTE,
};
use crate::sqs::{SdkSqs, Sqs};

/// What was provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioned {
    /// The default pool's normal queue: every other queue is named after it (`QUEUE_URL`).
    pub queue_url: String,
    /// The default pool's dead-letter queue.
    pub dlq_url: String,
    /// Every queue, dead-letter queues included.
    pub queues: Vec<String>,
    pub table: String,
    pub schedule_group: String,
}

/// Ensures every lane's queues and every pool's dead-letter queue (named after `queue_name`, see
/// `jobs_core::pools::Queues`; a command kind's lane dead-letters to its pool's), the table
/// `table` and the schedule group exist.
pub async fn ensure(
    config: &SdkConfig,
    queue_name: &str,
    table: &str,
    schedule_group: &str,
) -> Result<Provisioned, BackendError> {
    ensure_table(&aws_sdk_dynamodb::Client::new(config), table).await?;
    let queues = ensure_queues(&SdkSqs::new(aws_sdk_sqs::Client::new(config)), queue_name).await?;
    crate::scheduler::ensure_group(&aws_sdk_scheduler::Client::new(config), schedule_group).await?;
    let (queue_url, dlq_url) = (queues[0].clone(), queues[1].clone());
    Ok(Provisioned { queue_url, dlq_url, queues, table: table.to_owned(), schedule_group: schedule_group.to_owned() })
}

/// Ensures every lane's queues and every pool's dead-letter queue, named after `queue_name`, over
/// any implementation of the SQS port (the simulator provisions its world with this too). Returns
/// them: the default pool's normal queue, its dead-letter queue, its high queue, then the others.
pub async fn ensure_queues(sqs: &dyn Sqs, queue_name: &str) -> Result<Vec<String>, BackendError> {
    let mut queues = Vec::new();
    // The pools' lanes come first, so each pool's DLQ exists before its command kinds' lanes.
    let mut dlqs = std::collections::HashMap::new();
    for lane in jobs_core::catalog::lanes() {
        let dlq = match dlqs.get(lane.pool) {
            Some(url) => String::clone(url),
            None => {
                let url = ensure_dlq(sqs, &dlq_name(queue_name, lane.pool)).await?;
                dlqs.insert(lane.pool, url.clone());
                url
            }
        };
        let normal = ensure_queue(sqs, &queue_name_of(queue_name, lane.name, Priority::Normal), &dlq).await?;
        let high = ensure_queue(sqs, &queue_name_of(queue_name, lane.name, Priority::High), &dlq).await?;
        queues.push(normal);
        if !lane.command {
            queues.push(dlq);
        }
        queues.push(high);
    }
    Ok(queues)
}

/// Deletes what [`ensure`] created: the schedule group (with its schedules), both queues and the
/// table. Whatever is already gone is skipped; every deletion is tried, the first error returned.
pub async fn remove(config: &SdkConfig, p: &Provisioned) -> Result<(), BackendError> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let ddb = aws_sdk_dynamodb::Client::new(config);
    let results = [
        crate::scheduler::delete_group(&aws_sdk_scheduler::Client::new(config), &p.schedule_group).await,
        delete_table(&ddb, &p.table).await,
    ];
    let mut first = results.into_iter().collect::<Result<(), _>>();
    for url in &p.queues {
        let deleted = delete_queue(&sqs, url).await;
        first = first.and(deleted);
    }
    first
}

/// Deletes a table; one that does not exist is no error.
pub async fn delete_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), BackendError> {
    match ddb.delete_table().table_name(table).send().await {
        Err(e) if e.code() != Some("ResourceNotFoundException") => {
            Err(BackendError::from_sdk(format!("DeleteTable {table} failed"), e))
        }
        _ => Ok(()),
    }
}

/// Deletes a queue; one that does not exist is no error.
pub async fn delete_queue(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<(), BackendError> {
    match sqs.delete_queue().queue_url(url).send().await {
        Err(e) if !matches!(e.code(), Some("AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist")) => {
            Err(BackendError::from_sdk(format!("DeleteQueue {url} failed"), e))
        }
        _ => Ok(()),
    }
}

fn definition(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().expect("definition is complete")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key is complete")
}

fn keys_only() -> Projection {
    Projection::builder().projection_type(ProjectionType::KeysOnly).build()
}

/// The list indexes carry keys only; the tenancy index a few attributes more.
fn projection(index: &str) -> Projection {
    if index != TENANCY_INDEX {
        return keys_only();
    }
    Projection::builder()
        .projection_type(ProjectionType::Include)
        .set_non_key_attributes(Some(TENANCY_PROJECTED.iter().map(|a| a.to_string()).collect()))
        .build()
}

/// The job list's indexes (keys only: a page is read back with one BatchGetItem), and the
/// tenants' admission index: (name, partition key, sort key), all strings.
fn string_keyed_indexes() -> Vec<(&'static str, &'static str, &'static str)> {
    LIST_INDEXES
        .into_iter()
        .map(|(name, partition_key)| (name, partition_key, LIST_SORT_ATTRIBUTE))
        .chain([(TENANCY_INDEX, TENANCY_ATTRIBUTE, TENANCY_ORDER_ATTRIBUTE)])
        .collect()
}

/// The table's definition: its key, and every index with its keys and projection. `provision`
/// creates it; the simulator's in-memory table is made from it too.
pub fn table_definition(table: &str) -> CreateTableInput {
    // The sparse index of jobs that have not ended, by due time (keys only: the reconciler reads
    // each overdue job itself).
    let due_index = GlobalSecondaryIndex::builder()
        .index_name(DUE_INDEX)
        .key_schema(key(DUE_SHARD_ATTRIBUTE, KeyType::Hash))
        .key_schema(key(DUE_AT_ATTRIBUTE, KeyType::Range))
        .projection(keys_only())
        .build()
        .expect("index is complete");
    let indexes = string_keyed_indexes();
    let index = |(name, partition_key, sort_key): (&str, &str, &str)| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(partition_key, KeyType::Hash))
            .key_schema(key(sort_key, KeyType::Range))
            .projection(projection(name))
            .build()
            .expect("index is complete")
    };
    let mut request = CreateTableInput::builder();
    let mut defined = std::collections::BTreeSet::new();
    for &(name, partition_key, sort_key) in &indexes {
        request = request.global_secondary_indexes(index((name, partition_key, sort_key)));
        for attribute in [partition_key, sort_key] {
            if defined.insert(attribute) {
                request = request.attribute_definitions(definition(attribute, ScalarAttributeType::S));
            }
        }
    }
    request
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition(TABLE_KEY, ScalarAttributeType::S))
        .attribute_definitions(definition(DUE_SHARD_ATTRIBUTE, ScalarAttributeType::S))
        .attribute_definitions(definition(DUE_AT_ATTRIBUTE, ScalarAttributeType::N))
        .key_schema(key(TABLE_KEY, KeyType::Hash))
        .global_secondary_indexes(due_index)
        .build()
        .expect("the table's definition is complete")
}

pub async fn ensure_table(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), BackendError> {
    let d = table_definition(table);
    let created = ddb
        .create_table()
        .set_table_name(d.table_name)
        .set_billing_mode(d.billing_mode)
        .set_attribute_definitions(d.attribute_definitions)
        .set_key_schema(d.key_schema)
        .set_global_secondary_indexes(d.global_secondary_indexes)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => {}
        Err(e) => {
            return Err(BackendError::from_sdk(format!("CreateTable {table} failed"), e));
        }
    }
    let described = wait_active(ddb, table).await?;
    // A table from an earlier release: add the indexes it lacks, one per UpdateTable (the
    // service's limit), each backfilled before the next.
    let present: Vec<&str> =
        described.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect::<Vec<_>>();
    let missing: Vec<(&str, &str, &str)> =
        string_keyed_indexes().into_iter().filter(|(name, ..)| !present.contains(name)).collect();
    for (name, partition_key, sort_key) in missing {
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(name)
            .key_schema(key(partition_key, KeyType::Hash))
            .key_schema(key(sort_key, KeyType::Range))
            .projection(projection(name))
            .build()
            .expect("index is complete");
        ddb.update_table()
            .table_name(table)
            .attribute_definitions(definition(partition_key, ScalarAttributeType::S))
            .attribute_definitions(definition(sort_key, ScalarAttributeType::S))
            .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(|e| BackendError::from_sdk(format!("UpdateTable {table} (add index {name}) failed"), e))?;
        tracing::info!(table, index = name, "added an index the table lacked");
        wait_active(ddb, table).await?;
    }
    let ttl = ddb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("ttl is complete"),
        )
        .send()
        .await;
    match ttl {
        Ok(_) => Ok(()),
        // Already enabled.
        Err(e) if e.code() == Some("ValidationException") => Ok(()),
        Err(e) => Err(BackendError::from_sdk(format!("UpdateTimeToLive {table} failed"), e)),
    }
}

/// Waits (up to about a minute) until the table and its indexes are ACTIVE; returns its description.
async fn wait_active(ddb: &aws_sdk_dynamodb::Client, table: &str) -> Result<TableDescription, BackendError> {
    for _ in 0..600 {
        let out = ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| BackendError::from_sdk(format!("DescribeTable {table} failed"), e))?;
        let Some(description) = out.table else {
            return Err(BackendError::other(format!("DescribeTable {table} returned no table")));
        };
        let indexes_ready = description
            .global_secondary_indexes()
            .iter()
            .all(|i| i.index_status().is_none_or(|s| *s == IndexStatus::Active));
        if description.table_status() == Some(&TableStatus::Active) && indexes_ready {
            return Ok(description);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(BackendError::other(format!("table {table} did not become ACTIVE within a minute")))
}

/// A dead-letter queue (no redrive of its own: the reconciler drains it).
async fn ensure_dlq(sqs: &dyn Sqs, dlq_name: &str) -> Result<String, BackendError> {
    let input = CreateQueueInput::builder()
        .queue_name(dlq_name)
        .attributes(QueueAttributeName::MessageRetentionPeriod, MESSAGE_RETENTION_SECS.to_string())
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .build()
        .expect("a queue name is set");
    Ok(sqs.create_queue(input).await?.queue_url.unwrap_or_default())
}

/// A job queue whose messages SQS moves to the dead-letter queue `dlq_url` after
/// `MAX_RECEIVE_COUNT` receives.
async fn ensure_queue(sqs: &dyn Sqs, name: &str, dlq_url: &str) -> Result<String, BackendError> {
    let arn = GetQueueAttributesInput::builder()
        .queue_url(dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .build()
        .expect("a queue URL is set");
    let dlq_arn = sqs
        .get_queue_attributes(arn)
        .await?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| BackendError::other(format!("queue {dlq_url} has no ARN")))?;
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":{MAX_RECEIVE_COUNT}}}"#);
    let input = CreateQueueInput::builder()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, QUEUE_VISIBILITY_TIMEOUT_SECS.to_string())
        .attributes(QueueAttributeName::MessageRetentionPeriod, MESSAGE_RETENTION_SECS.to_string())
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .build()
        .expect("a queue name is set");
    Ok(sqs.create_queue(input).await?.queue_url.unwrap_or_default())
}
