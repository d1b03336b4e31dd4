//! The in-memory DynamoDB behind the store's port (`jobs_aws::dynamo::Dynamo`): the real
//! `JobStore` runs over it unchanged.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use jobs_aws::dynamo::{Answer, Dynamo as Port, DynamoFailure, Op};
use jobs_aws::{BackendError, ErrorKind};

use crate::dynamo::{Dynamo, DynamoError};

/// The world's DynamoDB, shared by every process of the simulation. Its clock is the runtime's:
/// milliseconds since the world was made, on tokio's (simulated, when paused) clock.
#[derive(Clone)]
pub struct SimDynamo(pub Arc<Mutex<Dynamo>>, tokio::time::Instant);

impl std::fmt::Debug for SimDynamo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimDynamo")
    }
}

impl SimDynamo {
    pub fn new(world: Dynamo) -> SimDynamo {
        SimDynamo(Arc::new(Mutex::new(world)), tokio::time::Instant::now())
    }

    /// The world, its clock set to now: to read it whole, or expire items.
    pub fn world(&self) -> std::sync::MutexGuard<'_, Dynamo> {
        lock(&self.0, self.1)
    }
}

fn lock(world: &Mutex<Dynamo>, since: tokio::time::Instant) -> std::sync::MutexGuard<'_, Dynamo> {
    let mut w = world.lock().expect("no panic while the world is held");
    w.set_now(since.elapsed().as_millis() as u64);
    w
}

/// The failure the SDK adapter would have made of the service's answer.
fn failure(op: &str, table: &str, e: DynamoError) -> DynamoFailure {
    let context = format!("DynamoDB {op} on table {table:?} failed");
    match e {
        DynamoError::ConditionFailed { item } => DynamoFailure::ConditionFailed { item },
        DynamoError::TransactionCanceled { reasons } => {
            let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
            let detail = format!("TransactionCanceledException: [{}]", codes.join(", "));
            DynamoFailure::Cancelled { reasons, error: BackendError::of_kind(ErrorKind::Service, context, detail) }
        }
        DynamoError::TokenReused => {
            BackendError::of_kind(ErrorKind::Service, context, "IdempotentParameterMismatchException").into()
        }
        DynamoError::NotFound(t) => {
            BackendError::of_kind(ErrorKind::NotFound, format!("DynamoDB table {t:?} does not exist ({op})"), "").into()
        }
        DynamoError::Validation(m) => BackendError::of_kind(ErrorKind::Invalid, context, m).into(),
    }
}

/// The request is carried out when the answer is awaited (not when it is made), so that a
/// delay before it lets other requests reach the table first.
macro_rules! answer {
    ($self:ident, $op:literal, $table:expr, $call:ident, $input:ident) => {{
        let (table, world, since) = ($table, $self.0.clone(), $self.1);
        Box::pin(async move {
            let result = lock(&world, since).$call($input);
            result.map_err(|e| failure($op, &table, e))
        })
    }};
}

impl Port for SimDynamo {
    fn get_item(&self, _op: Op, input: GetItemInput) -> Answer<'_, GetItemOutput> {
        answer!(self, "GetItem", input.table_name.clone().unwrap_or_default(), get_item, input)
    }

    fn batch_get_item(&self, _op: Op, input: BatchGetItemInput) -> Answer<'_, BatchGetItemOutput> {
        let table = input.request_items.as_ref().and_then(|r| r.keys().next().cloned()).unwrap_or_default();
        answer!(self, "BatchGetItem", table, batch_get_item, input)
    }

    fn put_item(&self, _op: Op, input: PutItemInput) -> Answer<'_, PutItemOutput> {
        answer!(self, "PutItem", input.table_name.clone().unwrap_or_default(), put_item, input)
    }

    fn update_item(&self, _op: Op, input: UpdateItemInput) -> Answer<'_, UpdateItemOutput> {
        answer!(self, "UpdateItem", input.table_name.clone().unwrap_or_default(), update_item, input)
    }

    fn transact_write_items(&self, _op: Op, input: TransactWriteItemsInput) -> Answer<'_, TransactWriteItemsOutput> {
        answer!(self, "TransactWriteItems", String::new(), transact_write_items, input)
    }

    fn query(&self, _op: Op, input: QueryInput) -> Answer<'_, QueryOutput> {
        answer!(self, "Query", input.table_name.clone().unwrap_or_default(), query, input)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use jobs_aws::faults::{Fault, Faulty};

    use super::*;
    use crate::dynamo::{KeySchema, TableDef};

    #[tokio::test]
    async fn a_replayed_write_commits_once_and_answers_with_its_second_try() {
        let mut world = Dynamo::new();
        world.create_table(TableDef {
            name: "t".into(),
            key: KeySchema { partition: "pk".into(), sort: None },
            indexes: vec![],
        });
        let world = SimDynamo::new(world);
        let faulty = Faulty::new(world.clone(), Box::new(|_, _| Fault::Replay));
        let put = PutItemInput::builder()
            .table_name("t")
            .item("pk", AttributeValue::S("a".into()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .unwrap();
        let answer = faulty.put_item("submit", put).await;
        assert!(matches!(answer, Err(DynamoFailure::ConditionFailed { .. })), "its own commit fails the retry");
        assert_eq!(world.world().items("t").len(), 1, "written once");
        assert_eq!((faulty.injected().failed, faulty.injected().lost), (0, 1), "counted as a lost answer");
    }
}
