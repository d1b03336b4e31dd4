//! The one seam between the job queues and SQS: the operations the queues use, taking and giving
//! the SDK's own request and answer types, every failure classified once ([`BackendError`]).
//! [`SdkSqs`] sends them to AWS (or an emulator); the simulator's in-memory world (`jobs-sim`)
//! implements the same trait, as it does the store's (`crate::dynamo`).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::change_message_visibility::{ChangeMessageVisibilityInput, ChangeMessageVisibilityOutput};
use aws_sdk_sqs::operation::create_queue::{CreateQueueInput, CreateQueueOutput};
use aws_sdk_sqs::operation::delete_message::{DeleteMessageInput, DeleteMessageOutput};
use aws_sdk_sqs::operation::get_queue_attributes::{GetQueueAttributesInput, GetQueueAttributesOutput};
use aws_sdk_sqs::operation::receive_message::{ReceiveMessageInput, ReceiveMessageOutput};
use aws_sdk_sqs::operation::send_message::{SendMessageInput, SendMessageOutput};

use crate::error::BackendError;

/// A future the port returns (boxed, so a queue holds any implementation behind one type).
pub type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, BackendError>> + Send + 'a>>;

/// The SQS operations the job queues (and provisioning's queues) use.
pub trait Sqs: Send + Sync + std::fmt::Debug {
    fn create_queue(&self, input: CreateQueueInput) -> Answer<'_, CreateQueueOutput>;
    fn send_message(&self, input: SendMessageInput) -> Answer<'_, SendMessageOutput>;
    /// Long-polls for up to the request's `WaitTimeSeconds`.
    fn receive_message(&self, input: ReceiveMessageInput) -> Answer<'_, ReceiveMessageOutput>;
    fn delete_message(&self, input: DeleteMessageInput) -> Answer<'_, DeleteMessageOutput>;
    fn change_message_visibility(
        &self,
        input: ChangeMessageVisibilityInput,
    ) -> Answer<'_, ChangeMessageVisibilityOutput>;
    fn get_queue_attributes(&self, input: GetQueueAttributesInput) -> Answer<'_, GetQueueAttributesOutput>;
}

/// SQS over the SDK.
#[derive(Debug, Clone)]
pub struct SdkSqs {
    client: Client,
}

impl SdkSqs {
    pub fn new(client: Client) -> SdkSqs {
        SdkSqs { client }
    }
}

/// A failed SDK call, classified; a queue that does not exist is named as such.
fn failure<E, R>(url: &str, op: &str, err: SdkError<E, R>) -> BackendError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = err.code().unwrap_or_default();
    if code.contains("NonExistentQueue") || code.contains("QueueDoesNotExist") {
        return BackendError::from_sdk(format!("SQS queue {url} does not exist ({op})"), err);
    }
    BackendError::from_sdk(format!("SQS {op} on {url} failed"), err)
}

impl Sqs for SdkSqs {
    fn create_queue(&self, i: CreateQueueInput) -> Answer<'_, CreateQueueOutput> {
        let name = i.queue_name.clone().unwrap_or_default();
        let request = self.client.create_queue().set_queue_name(i.queue_name).set_attributes(i.attributes);
        Box::pin(async move { request.send().await.map_err(|e| failure(&name, "CreateQueue", e)) })
    }

    fn send_message(&self, i: SendMessageInput) -> Answer<'_, SendMessageOutput> {
        let url = i.queue_url.clone().unwrap_or_default();
        let request = self
            .client
            .send_message()
            .set_queue_url(i.queue_url)
            .set_message_body(i.message_body)
            .set_delay_seconds(i.delay_seconds)
            .set_message_attributes(i.message_attributes)
            .set_message_group_id(i.message_group_id);
        Box::pin(async move { request.send().await.map_err(|e| failure(&url, "SendMessage", e)) })
    }

    fn receive_message(&self, i: ReceiveMessageInput) -> Answer<'_, ReceiveMessageOutput> {
        let url = i.queue_url.clone().unwrap_or_default();
        let wait = Duration::from_secs(i.wait_time_seconds.unwrap_or(0).clamp(0, 20) as u64);
        let request = self
            .client
            .receive_message()
            .set_queue_url(i.queue_url)
            .set_max_number_of_messages(i.max_number_of_messages)
            .set_wait_time_seconds(i.wait_time_seconds)
            .set_visibility_timeout(i.visibility_timeout)
            .set_message_system_attribute_names(i.message_system_attribute_names)
            .set_message_attribute_names(i.message_attribute_names)
            .customize()
            // A long poll is answered after up to `wait`: the binary's timeouts come on top.
            .config_override(
                aws_sdk_sqs::config::Builder::default().timeout_config(
                    aws_config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout(wait + Duration::from_secs(10))
                        .operation_timeout(wait + Duration::from_secs(25))
                        .build(),
                ),
            );
        Box::pin(async move { request.send().await.map_err(|e| failure(&url, "ReceiveMessage", e)) })
    }

    fn delete_message(&self, i: DeleteMessageInput) -> Answer<'_, DeleteMessageOutput> {
        let url = i.queue_url.clone().unwrap_or_default();
        let request = self.client.delete_message().set_queue_url(i.queue_url).set_receipt_handle(i.receipt_handle);
        Box::pin(async move { request.send().await.map_err(|e| failure(&url, "DeleteMessage", e)) })
    }

    fn change_message_visibility(&self, i: ChangeMessageVisibilityInput) -> Answer<'_, ChangeMessageVisibilityOutput> {
        let url = i.queue_url.clone().unwrap_or_default();
        let request = self
            .client
            .change_message_visibility()
            .set_queue_url(i.queue_url)
            .set_receipt_handle(i.receipt_handle)
            .set_visibility_timeout(i.visibility_timeout);
        Box::pin(async move { request.send().await.map_err(|e| failure(&url, "ChangeMessageVisibility", e)) })
    }

    fn get_queue_attributes(&self, i: GetQueueAttributesInput) -> Answer<'_, GetQueueAttributesOutput> {
        let url = i.queue_url.clone().unwrap_or_default();
        let request =
            self.client.get_queue_attributes().set_queue_url(i.queue_url).set_attribute_names(i.attribute_names);
        Box::pin(async move { request.send().await.map_err(|e| failure(&url, "GetQueueAttributes", e)) })
    }
}
