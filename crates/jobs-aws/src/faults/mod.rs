//! A fault decorator over any implementation of the store's or the queues' port ([`Faulty`]): a
//! plan decides, request by request, which are delayed, which fail before they reach the
//! service, which reach it (and commit, if they can) and lose their answer, which the SDK's own
//! retry sends twice, and where the process dies. The production code has no fault hooks of its
//! own: the simulator wraps its in-memory world in this decorator with a seeded plan, and the
//! process-level tests wrap the SDK's ports with the plan of their `FAULTS` variable ([`spec`],
//! debug builds only).
//!
//! Every request is named by what the caller does with it ([`Call`]): the store names its
//! DynamoDB requests (`store.succeed`, `store.get`, …), the queues' and the schedule group's
//! requests are named by their operation (`sqs.send`, `sqs.receive`, `sqs.delete`,
//! `sqs.visibility`; `scheduler.create`, `scheduler.delete`, …).

pub mod plan;
pub mod spec;

pub use plan::{Call, Fault, Plan, Service};

use std::future::Future;
use std::sync::{Arc, Mutex};

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

use crate::dynamo::{self, Dynamo, Op};
use crate::error::{BackendError, ErrorKind};
use crate::scheduler::{self as schedules, ScheduleInfo, ScheduleRequest, Scheduler};
use crate::sqs::{self, Sqs};

/// A request's future, as the port returns it.
type Answer<'a, T, E> = std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

/// How many requests got each fault.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    /// Failed before reaching the service.
    pub failed: u64,
    /// Lost their answer (replays included).
    pub lost: u64,
}

/// Any implementation of the port, with faults as the plan says.
pub struct Faulty<D> {
    inner: D,
    plan: Mutex<(Plan, u64)>,
    injected: Arc<Mutex<Injected>>,
}

impl<D> std::fmt::Debug for Faulty<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Faulty")
    }
}

impl<D> Faulty<D> {
    pub fn new(inner: D, plan: Plan) -> Faulty<D> {
        Faulty { inner, plan: Mutex::new((plan, 0)), injected: Arc::default() }
    }

    /// What the plan injected so far.
    pub fn injected(&self) -> Injected {
        *self.injected.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fault(&self, call: Call) -> Fault {
        let mut guard = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        let (plan, n) = &mut *guard;
        *n += 1;
        let fault = plan(call, *n);
        let mut injected = self.injected.lock().unwrap_or_else(|e| e.into_inner());
        match fault {
            Fault::Fail(_) => injected.failed += 1,
            Fault::LoseAnswer | Fault::Replay => injected.lost += 1,
            Fault::None | Fault::Delay(_) | Fault::Crash | Fault::CrashAfter => {}
        }
        fault
    }

    /// The call with its planned fault.
    fn run<'a, T, E>(&'a self, call: Call, request: Answer<'a, T, E>) -> Answer<'a, T, E>
    where
        T: Send + 'a,
        E: From<BackendError> + Send + 'a,
    {
        self.run_again(call, request, None)
    }

    /// As [`Faulty::run`]; `again`: the same request once more, sent if the plan replays it.
    fn run_again<'a, T, E>(
        &'a self,
        call: Call,
        request: Answer<'a, T, E>,
        again: Option<Answer<'a, T, E>>,
    ) -> Answer<'a, T, E>
    where
        T: Send + 'a,
        E: From<BackendError> + Send + 'a,
    {
        let fault = self.fault(call);
        Box::pin(async move {
            let context = format!("{call} (injected)");
            match fault {
                Fault::None => request.await,
                Fault::Delay(d) => {
                    tokio::time::sleep(d).await;
                    request.await
                }
                Fault::Fail(kind) => Err(BackendError::of_kind(kind, context, "injected failure").into()),
                Fault::LoseAnswer => {
                    let _ = request.await;
                    Err(BackendError::of_kind(ErrorKind::Ambiguous, context, "injected lost answer").into())
                }
                Fault::Replay => {
                    let first = request.await;
                    match again {
                        Some(again) => again.await,
                        None => first,
                    }
                }
                Fault::Crash => crash(call),
                Fault::CrashAfter => {
                    let _ = request.await;
                    crash(call)
                }
            }
        })
    }
}

/// Ends the process at once, as SIGKILL would: no cleanup, no answer.
fn crash(call: Call) -> ! {
    tracing::error!(%call, "fault injection: crashing the process");
    std::process::abort()
}

fn store(op: Op) -> Call {
    Call { service: Service::Store, op }
}

fn queue(op: Op) -> Call {
    Call { service: Service::Sqs, op }
}

impl<D: Dynamo> Dynamo for Faulty<D> {
    fn get_item(&self, op: Op, input: GetItemInput) -> dynamo::Answer<'_, GetItemOutput> {
        self.run(store(op), self.inner.get_item(op, input))
    }

    fn batch_get_item(&self, op: Op, input: BatchGetItemInput) -> dynamo::Answer<'_, BatchGetItemOutput> {
        self.run(store(op), self.inner.batch_get_item(op, input))
    }

    fn put_item(&self, op: Op, input: PutItemInput) -> dynamo::Answer<'_, PutItemOutput> {
        let again = self.inner.put_item(op, input.clone());
        self.run_again(store(op), self.inner.put_item(op, input), Some(again))
    }

    fn update_item(&self, op: Op, input: UpdateItemInput) -> dynamo::Answer<'_, UpdateItemOutput> {
        let again = self.inner.update_item(op, input.clone());
        self.run_again(store(op), self.inner.update_item(op, input), Some(again))
    }

    fn transact_write_items(
        &self,
        op: Op,
        input: TransactWriteItemsInput,
    ) -> dynamo::Answer<'_, TransactWriteItemsOutput> {
        self.run(store(op), self.inner.transact_write_items(op, input))
    }

    fn query(&self, op: Op, input: QueryInput) -> dynamo::Answer<'_, QueryOutput> {
        self.run(store(op), self.inner.query(op, input))
    }
}

impl<Q: Sqs> Sqs for Faulty<Q> {
    fn create_queue(&self, input: CreateQueueInput) -> sqs::Answer<'_, CreateQueueOutput> {
        self.run(queue("create-queue"), self.inner.create_queue(input))
    }

    fn send_message(&self, input: SendMessageInput) -> sqs::Answer<'_, SendMessageOutput> {
        self.run(queue("send"), self.inner.send_message(input))
    }

    fn receive_message(&self, input: ReceiveMessageInput) -> sqs::Answer<'_, ReceiveMessageOutput> {
        self.run(queue("receive"), self.inner.receive_message(input))
    }

    fn delete_message(&self, input: DeleteMessageInput) -> sqs::Answer<'_, DeleteMessageOutput> {
        self.run(queue("delete"), self.inner.delete_message(input))
    }

    fn change_message_visibility(
        &self,
        input: ChangeMessageVisibilityInput,
    ) -> sqs::Answer<'_, ChangeMessageVisibilityOutput> {
        self.run(queue("visibility"), self.inner.change_message_visibility(input))
    }

    fn get_queue_attributes(&self, input: GetQueueAttributesInput) -> sqs::Answer<'_, GetQueueAttributesOutput> {
        self.run(queue("attributes"), self.inner.get_queue_attributes(input))
    }
}

fn schedule(op: Op) -> Call {
    Call { service: Service::Scheduler, op }
}

/// A replayed request answers as its first try: the SDK sends a schedule's create, update or
/// delete again with the same client token, which EventBridge Scheduler answers as the first.
impl<S: Scheduler> Scheduler for Faulty<S> {
    fn create<'a>(&'a self, req: &'a ScheduleRequest) -> schedules::Answer<'a, ()> {
        self.run(schedule("create"), self.inner.create(req))
    }

    fn update<'a>(&'a self, req: &'a ScheduleRequest) -> schedules::Answer<'a, ()> {
        self.run(schedule("update"), self.inner.update(req))
    }

    fn get<'a>(&'a self, name: &'a str) -> schedules::Answer<'a, ScheduleInfo> {
        self.run(schedule("get"), self.inner.get(name))
    }

    fn list(&self) -> schedules::Answer<'_, Vec<ScheduleInfo>> {
        self.run(schedule("list"), self.inner.list())
    }

    fn delete<'a>(&'a self, name: &'a str) -> schedules::Answer<'a, ()> {
        self.run(schedule("delete"), self.inner.delete(name))
    }
}

/// The store's port as the binaries use it: the SDK's, with the faults of `FAULTS` (debug builds).
pub fn dynamo(port: crate::dynamo::SdkDynamo) -> Arc<dyn Dynamo> {
    match spec::from_env() {
        Some(plan) => Arc::new(Faulty::new(port, plan)),
        None => Arc::new(port),
    }
}

/// The queues' port as the binaries use it: the SDK's, with the faults of `FAULTS` (debug builds).
pub fn sqs(port: crate::sqs::SdkSqs) -> Arc<dyn Sqs> {
    match spec::from_env() {
        Some(plan) => Arc::new(Faulty::new(port, plan)),
        None => Arc::new(port),
    }
}

/// The schedule group's port as the API uses it: the SDK's, with the faults of `FAULTS` (debug
/// builds).
pub fn scheduler(port: crate::scheduler::Schedules) -> Arc<dyn Scheduler> {
    match spec::from_env() {
        Some(plan) => Arc::new(Faulty::new(port, plan)),
        None => Arc::new(port),
    }
}
