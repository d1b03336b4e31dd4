//! A fault decorator over any implementation of the store's or the queues' port: a seeded plan
//! decides which requests are delayed (so concurrent actors interleave), which fail before they
//! reach the service, and which reach it (and commit, if they can) and lose their answer.

use std::future::Future;
use std::sync::Mutex;

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_sqs::operation::change_message_visibility::{ChangeMessageVisibilityInput, ChangeMessageVisibilityOutput};
use aws_sdk_sqs::operation::create_queue::{CreateQueueInput, CreateQueueOutput};
use aws_sdk_sqs::operation::delete_message::{DeleteMessageInput, DeleteMessageOutput};
use aws_sdk_sqs::operation::get_queue_attributes::{GetQueueAttributesInput, GetQueueAttributesOutput};
use aws_sdk_sqs::operation::receive_message::{ReceiveMessageInput, ReceiveMessageOutput};
use aws_sdk_sqs::operation::send_message::{SendMessageInput, SendMessageOutput};
use jobs_aws::dynamo::{self, Dynamo};
use jobs_aws::sqs::{self, Sqs};
use jobs_aws::{BackendError, ErrorKind};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It reaches the service and its answer comes back.
    None,
    /// It reaches the service after this long (others may get there first), and its answer comes
    /// back.
    Delay(std::time::Duration),
    /// It never reaches the service, which answers with this kind of failure.
    Fail(ErrorKind),
    /// It reaches the service (and commits, if it can), and its answer is lost: a timeout.
    LoseAnswer,
    /// It reaches the service (and commits, if it can), its answer is lost, and the SDK's own
    /// retry sends it again: the caller gets the second answer (a write's own commit can then
    /// read as a failed condition). Single-item writes; any other request goes through as is.
    Replay,
}

/// A request's future, as the port returns it.
type Call<'a, T, E> = std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

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

impl<D> Faulty<D> {
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
            Fault::LoseAnswer | Fault::Replay => injected.1 += 1,
            Fault::None | Fault::Delay(_) => {}
        }
        fault
    }

    /// The call with its planned fault; `service` names it in the injected errors.
    fn run<'a, T, E>(&'a self, service: &'static str, op: &'static str, call: Call<'a, T, E>) -> Call<'a, T, E>
    where
        T: Send + 'a,
        E: From<BackendError> + Send + 'a,
    {
        self.run_again(service, op, call, None)
    }

    /// As [`Faulty::run`]; `again`: the same request once more, sent if the plan replays it.
    fn run_again<'a, T, E>(
        &'a self,
        service: &'static str,
        op: &'static str,
        call: Call<'a, T, E>,
        again: Option<Call<'a, T, E>>,
    ) -> Call<'a, T, E>
    where
        T: Send + 'a,
        E: From<BackendError> + Send + 'a,
    {
        let fault = self.fault(op);
        Box::pin(async move {
            let context = format!("{service} {op} (injected)");
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
                Fault::Replay => {
                    let first = call.await;
                    match again {
                        Some(again) => again.await,
                        None => first,
                    }
                }
            }
        })
    }
}

impl<D: Dynamo> Dynamo for Faulty<D> {
    fn get_item(&self, input: GetItemInput) -> dynamo::Answer<'_, GetItemOutput> {
        self.run("DynamoDB", "GetItem", self.inner.get_item(input))
    }

    fn batch_get_item(&self, input: BatchGetItemInput) -> dynamo::Answer<'_, BatchGetItemOutput> {
        self.run("DynamoDB", "BatchGetItem", self.inner.batch_get_item(input))
    }

    fn put_item(&self, input: PutItemInput) -> dynamo::Answer<'_, PutItemOutput> {
        let again = self.inner.put_item(input.clone());
        self.run_again("DynamoDB", "PutItem", self.inner.put_item(input), Some(again))
    }

    fn update_item(&self, input: UpdateItemInput) -> dynamo::Answer<'_, UpdateItemOutput> {
        let again = self.inner.update_item(input.clone());
        self.run_again("DynamoDB", "UpdateItem", self.inner.update_item(input), Some(again))
    }

    fn transact_write_items(&self, input: TransactWriteItemsInput) -> dynamo::Answer<'_, TransactWriteItemsOutput> {
        self.run("DynamoDB", "TransactWriteItems", self.inner.transact_write_items(input))
    }

    fn query(&self, input: QueryInput) -> dynamo::Answer<'_, QueryOutput> {
        self.run("DynamoDB", "Query", self.inner.query(input))
    }
}

impl<Q: Sqs> Sqs for Faulty<Q> {
    fn create_queue(&self, input: CreateQueueInput) -> sqs::Answer<'_, CreateQueueOutput> {
        self.run("SQS", "CreateQueue", self.inner.create_queue(input))
    }

    fn send_message(&self, input: SendMessageInput) -> sqs::Answer<'_, SendMessageOutput> {
        self.run("SQS", "SendMessage", self.inner.send_message(input))
    }

    fn receive_message(&self, input: ReceiveMessageInput) -> sqs::Answer<'_, ReceiveMessageOutput> {
        self.run("SQS", "ReceiveMessage", self.inner.receive_message(input))
    }

    fn delete_message(&self, input: DeleteMessageInput) -> sqs::Answer<'_, DeleteMessageOutput> {
        self.run("SQS", "DeleteMessage", self.inner.delete_message(input))
    }

    fn change_message_visibility(
        &self,
        input: ChangeMessageVisibilityInput,
    ) -> sqs::Answer<'_, ChangeMessageVisibilityOutput> {
        self.run("SQS", "ChangeMessageVisibility", self.inner.change_message_visibility(input))
    }

    fn get_queue_attributes(&self, input: GetQueueAttributesInput) -> sqs::Answer<'_, GetQueueAttributesOutput> {
        self.run("SQS", "GetQueueAttributes", self.inner.get_queue_attributes(input))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;
    use jobs_aws::dynamo::{Dynamo as _, DynamoFailure};

    use super::*;
    use crate::dynamo::{Dynamo, KeySchema, TableDef};
    use crate::port::SimDynamo;

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
        let answer = faulty.put_item(put).await;
        assert!(matches!(answer, Err(DynamoFailure::ConditionFailed { .. })), "its own commit fails the retry");
        assert_eq!(world.world().items("t").len(), 1, "written once");
        assert_eq!(*faulty.injected.lock().unwrap(), (0, 1), "counted as a lost answer");
    }
}
