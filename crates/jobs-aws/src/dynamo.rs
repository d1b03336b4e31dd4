//! The one seam between the job store and DynamoDB: the operations the store uses, taking and
//! giving the SDK's own request and answer types, with the answers the store decides on made
//! values (a failed condition with the item it carried, a cancelled transaction's reasons) and
//! every other failure classified once ([`BackendError`]). [`SdkDynamo`] sends them to AWS (or an
//! emulator); the simulator's in-memory world (`jobs-sim`) implements the same trait.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};

use crate::error::BackendError;

/// What the store does with a request (`get`, `succeed`, `renew`, …): the name by which the fault
/// decorator's plans and the simulator's logs know it (`crate::faults::Call`).
pub type Op = &'static str;

/// An item: its attributes by name.
pub type Item = HashMap<String, AttributeValue>;

/// A future the port returns (boxed, so the store holds any implementation behind one type).
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, DynamoFailure>> + Send + 'a>>;

/// Why a DynamoDB request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum DynamoFailure {
    /// The write's condition did not hold; `item`: the item as it was, when the request asked for
    /// it (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
    #[error("the conditional request failed")]
    ConditionFailed { item: Option<Item> },
    /// The transaction was cancelled: one reason per operation, in order; `error`: the failure as
    /// a backend error (context and source), for reasons that are not failed conditions.
    #[error("transaction cancelled: {error}")]
    Cancelled { reasons: Vec<CancellationReason>, error: BackendError },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl DynamoFailure {
    /// The cancellation reason codes, in order ("None" for operations that were fine); empty for
    /// any other failure.
    pub fn reason_codes(&self) -> Vec<String> {
        match self {
            DynamoFailure::Cancelled { reasons, .. } => {
                reasons.iter().map(|r| r.code().unwrap_or("None").to_owned()).collect()
            }
            _ => Vec::new(),
        }
    }
}

/// The DynamoDB operations the store uses, each named by what the store does with it (`op`).
pub trait Dynamo: Send + Sync + std::fmt::Debug {
    fn get_item(&self, op: Op, input: GetItemInput) -> Answer<'_, GetItemOutput>;
    fn batch_get_item(&self, op: Op, input: BatchGetItemInput) -> Answer<'_, BatchGetItemOutput>;
    fn put_item(&self, op: Op, input: PutItemInput) -> Answer<'_, PutItemOutput>;
    fn update_item(&self, op: Op, input: UpdateItemInput) -> Answer<'_, UpdateItemOutput>;
    fn transact_write_items(&self, op: Op, input: TransactWriteItemsInput) -> Answer<'_, TransactWriteItemsOutput>;
    fn query(&self, op: Op, input: QueryInput) -> Answer<'_, QueryOutput>;
}

/// DynamoDB over the SDK.
#[derive(Debug, Clone)]
pub struct SdkDynamo {
    client: Client,
}

impl SdkDynamo {
    pub fn new(client: Client) -> SdkDynamo {
        SdkDynamo { client }
    }
}

/// A failed SDK call as the store sees it: `condition` reads a failed condition's item out of
/// the operation's error, if that is what it is.
fn failure<E, R>(
    table: &str,
    op: &str,
    err: SdkError<E, R>,
    condition: impl Fn(&E) -> Option<Option<Item>>,
) -> DynamoFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let Some(item) = err.as_service_error().and_then(&condition) {
        return DynamoFailure::ConditionFailed { item };
    }
    if err.code() == Some("ResourceNotFoundException") {
        return BackendError::from_sdk(format!("DynamoDB table {table:?} does not exist ({op})"), err).into();
    }
    BackendError::from_sdk(format!("DynamoDB {op} on table {table:?} failed"), err).into()
}

impl Dynamo for SdkDynamo {
    fn get_item(&self, _op: Op, i: GetItemInput) -> Answer<'_, GetItemOutput> {
        let table = i.table_name.clone().unwrap_or_default();
        let request = self
            .client
            .get_item()
            .set_table_name(i.table_name)
            .set_key(i.key)
            .set_consistent_read(i.consistent_read)
            .set_projection_expression(i.projection_expression)
            .set_expression_attribute_names(i.expression_attribute_names);
        Box::pin(async move { request.send().await.map_err(|e| failure(&table, "GetItem", e, |_| None)) })
    }

    fn batch_get_item(&self, _op: Op, i: BatchGetItemInput) -> Answer<'_, BatchGetItemOutput> {
        let table = i.request_items.as_ref().and_then(|r| r.keys().next().cloned()).unwrap_or_default();
        let request = self.client.batch_get_item().set_request_items(i.request_items);
        Box::pin(async move { request.send().await.map_err(|e| failure(&table, "BatchGetItem", e, |_| None)) })
    }

    fn put_item(&self, _op: Op, i: PutItemInput) -> Answer<'_, PutItemOutput> {
        let table = i.table_name.clone().unwrap_or_default();
        let request = self
            .client
            .put_item()
            .set_table_name(i.table_name)
            .set_item(i.item)
            .set_condition_expression(i.condition_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .set_return_values(i.return_values)
            .set_return_values_on_condition_check_failure(i.return_values_on_condition_check_failure);
        Box::pin(async move {
            request.send().await.map_err(|e| {
                failure(&table, "PutItem", e, |e| match e {
                    PutItemError::ConditionalCheckFailedException(c) => Some(c.item.clone()),
                    _ => None,
                })
            })
        })
    }

    fn update_item(&self, _op: Op, i: UpdateItemInput) -> Answer<'_, UpdateItemOutput> {
        let table = i.table_name.clone().unwrap_or_default();
        let request = self
            .client
            .update_item()
            .set_table_name(i.table_name)
            .set_key(i.key)
            .set_update_expression(i.update_expression)
            .set_condition_expression(i.condition_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .set_return_values(i.return_values)
            .set_return_values_on_condition_check_failure(i.return_values_on_condition_check_failure);
        Box::pin(async move {
            request.send().await.map_err(|e| {
                failure(&table, "UpdateItem", e, |e| match e {
                    UpdateItemError::ConditionalCheckFailedException(c) => Some(c.item.clone()),
                    _ => None,
                })
            })
        })
    }

    fn transact_write_items(&self, _op: Op, i: TransactWriteItemsInput) -> Answer<'_, TransactWriteItemsOutput> {
        let table = i
            .transact_items
            .as_ref()
            .and_then(|items| items.first())
            .and_then(|t| {
                t.put.as_ref().map(|p| p.table_name.clone()).or(t.update.as_ref().map(|u| u.table_name.clone()))
            })
            .unwrap_or_default();
        let request = self
            .client
            .transact_write_items()
            .set_transact_items(i.transact_items)
            .set_client_request_token(i.client_request_token);
        Box::pin(async move {
            request.send().await.map_err(|e| {
                let reasons = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                        Some(c.cancellation_reasons().to_vec())
                    }
                    _ => None,
                };
                match (reasons, failure(&table, "TransactWriteItems", e, |_| None)) {
                    (Some(reasons), DynamoFailure::Backend(error)) => DynamoFailure::Cancelled { reasons, error },
                    (_, other) => other,
                }
            })
        })
    }

    fn query(&self, _op: Op, i: QueryInput) -> Answer<'_, QueryOutput> {
        let table = i.table_name.clone().unwrap_or_default();
        let request = self
            .client
            .query()
            .set_table_name(i.table_name)
            .set_index_name(i.index_name)
            .set_key_condition_expression(i.key_condition_expression)
            .set_filter_expression(i.filter_expression)
            .set_projection_expression(i.projection_expression)
            .set_expression_attribute_names(i.expression_attribute_names)
            .set_expression_attribute_values(i.expression_attribute_values)
            .set_select(i.select)
            .set_limit(i.limit)
            .set_exclusive_start_key(i.exclusive_start_key)
            .set_scan_index_forward(i.scan_index_forward)
            .set_consistent_read(i.consistent_read);
        Box::pin(async move { request.send().await.map_err(|e| failure(&table, "Query", e, |_| None)) })
    }
}
