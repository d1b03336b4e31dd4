//! The in-memory world behind the store's DynamoDB port (`jobs_aws::dynamo::Dynamo`), and a
//! fault decorator over any implementation of the port: the real `JobStore` runs unchanged over
//! either, and a seeded plan decides which requests fail before they reach the table, and which
//! reach it and lose their answer.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use jobs_aws::dynamo::{Answer, Dynamo as Port, DynamoFailure};
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
    fn get_item(&self, input: GetItemInput) -> Answer<'_, GetItemOutput> {
        answer!(self, "GetItem", input.table_name.clone().unwrap_or_default(), get_item, input)
    }

    fn batch_get_item(&self, input: BatchGetItemInput) -> Answer<'_, BatchGetItemOutput> {
        let table = input.request_items.as_ref().and_then(|r| r.keys().next().cloned()).unwrap_or_default();
        answer!(self, "BatchGetItem", table, batch_get_item, input)
    }

    fn put_item(&self, input: PutItemInput) -> Answer<'_, PutItemOutput> {
        answer!(self, "PutItem", input.table_name.clone().unwrap_or_default(), put_item, input)
    }

    fn update_item(&self, input: UpdateItemInput) -> Answer<'_, UpdateItemOutput> {
        answer!(self, "UpdateItem", input.table_name.clone().unwrap_or_default(), update_item, input)
    }

    fn transact_write_items(&self, input: TransactWriteItemsInput) -> Answer<'_, TransactWriteItemsOutput> {
        answer!(self, "TransactWriteItems", String::new(), transact_write_items, input)
    }

    fn query(&self, input: QueryInput) -> Answer<'_, QueryOutput> {
        answer!(self, "Query", input.table_name.clone().unwrap_or_default(), query, input)
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It reaches the table and its answer comes back.
    None,
    /// It reaches the table after this long (others may get there first), and its answer comes
    /// back.
    Delay(std::time::Duration),
    /// It never reaches the table: the service answers with this kind of failure.
    Fail(ErrorKind),
    /// It reaches the table (and commits, if it can), and its answer is lost: a timeout.
    LoseAnswer,
}

/// Decides each request's fate: `(operation, sequence number) -> Fault`.
pub type Plan = Box<dyn FnMut(&'static str, u64) -> Fault + Send>;

/// Any implementation of the port, with faults as the plan says.
pub struct Faulty<D> {
    inner: D,
    plan: Mutex<(Plan, u64)>,
    /// How many requests got each fault: (failed, lost answers).
    pub injected: Mutex<(u64, u64)>,
}

impl<D> std::fmt::Debug for Faulty<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faulty")
    }
}

impl<D: Port> Faulty<D> {
    pub fn new(inner: D, plan: Plan) -> Faulty<D> {
        Faulty { inner, plan: Mutex::new((plan, 0)), injected: Mutex::new((0, 0)) }
    }

    fn fault(&self, op: &'static str) -> Fault {
        let mut guard = self.plan.lock().expect("plan");
        let (plan, n) = &mut *guard;
        *n += 1;
        let fault = plan(op, *n);
        let mut injected = self.injected.lock().expect("counts");
        match fault {
            Fault::Fail(_) => injected.0 += 1,
            Fault::LoseAnswer => injected.1 += 1,
            Fault::None | Fault::Delay(_) => {}
        }
        fault
    }

    fn run<'a, T: Send + 'a>(&'a self, op: &'static str, call: Answer<'a, T>) -> Answer<'a, T> {
        let fault = self.fault(op);
        Box::pin(async move {
            let context = format!("DynamoDB {op} (injected)");
            match fault {
                Fault::None => call.await,
                Fault::Delay(d) => {
                    tokio::time::sleep(d).await;
                    call.await
                }
                Fault::Fail(kind) => Err(BackendError::of_kind(kind, context, "injected failure").into()),
                Fault::LoseAnswer => {
                    let _ = call.await;
                    Err(BackendError::of_kind(ErrorKind::Ambiguous, context, "injected lost answer").into())
                }
            }
        })
    }
}

impl<D: Port> Port for Faulty<D> {
    fn get_item(&self, input: GetItemInput) -> Answer<'_, GetItemOutput> {
        self.run("GetItem", self.inner.get_item(input))
    }

    fn batch_get_item(&self, input: BatchGetItemInput) -> Answer<'_, BatchGetItemOutput> {
        self.run("BatchGetItem", self.inner.batch_get_item(input))
    }

    fn put_item(&self, input: PutItemInput) -> Answer<'_, PutItemOutput> {
        self.run("PutItem", self.inner.put_item(input))
    }

    fn update_item(&self, input: UpdateItemInput) -> Answer<'_, UpdateItemOutput> {
        self.run("UpdateItem", self.inner.update_item(input))
    }

    fn transact_write_items(&self, input: TransactWriteItemsInput) -> Answer<'_, TransactWriteItemsOutput> {
        self.run("TransactWriteItems", self.inner.transact_write_items(input))
    }

    fn query(&self, input: QueryInput) -> Answer<'_, QueryOutput> {
        self.run("Query", self.inner.query(input))
    }
}
