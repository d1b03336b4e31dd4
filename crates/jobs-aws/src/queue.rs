//! The SQS job queue and its dead-letter queue.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityInput;
use aws_sdk_sqs::operation::delete_message::DeleteMessageInput;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesInput;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use crate::error::BackendError;
use crate::sqs::{SdkSqs, Sqs};

/// SQS's longest `DelaySeconds` (15 minutes).
pub const MAX_DELAY: Duration = Duration::from_secs(900);
/// Message attribute: how often the message was handed back because a backend failed before its
/// job could be claimed (it sets the next delay).
const DEFERRALS: &str = "deferrals";
/// Message attribute: how often the reconciler brought the message back from the dead-letter queue.
const REDRIVES: &str = "redrives";
/// Message attribute: the attempts the job had when the copy was sent (a retry's copy, an overdue
/// job's resend). Without it a worker takes the message for a job's first delivery and claims it
/// before reading it (`jobs_core::unread`).
const ATTEMPTS: &str = "attempts";
/// Set on the copies a worker keeps on the dead-letter queue (messages it could not tie to a job).
const FAILURE_REASON: &str = "failureReason";

/// One received message.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// How many times SQS has handed this message out, this time included.
    pub receive_count: u32,
    /// How often the message was deferred by a worker whose backend failed (see
    /// [`JobQueue::send_copy`]).
    pub deferrals: u32,
    /// How often the reconciler brought it back from the dead-letter queue.
    pub redrives: u32,
    /// The attempts the job had when this copy was sent; 0 for a job's own message.
    pub attempts: u32,
    /// On the dead-letter queue: the reason a worker gave when it kept the copy there.
    pub failure_reason: Option<String>,
}

/// The message attributes the system sets on its own copies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyMeta {
    pub deferrals: u32,
    pub redrives: u32,
    pub attempts: u32,
}

/// Approximate queue depth, from the queue's attributes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// Messages ready to be received.
    pub visible: u64,
    /// Messages received and not yet deleted (running, or waiting out a retry backoff).
    pub in_flight: u64,
    /// Messages sent with a delay that has not passed.
    pub delayed: u64,
}

impl Depth {
    /// Messages waiting to be received: visible, or delayed.
    pub fn waiting(&self) -> u64 {
        self.visible + self.delayed
    }
}

/// Several queues' depths, added up.
impl std::ops::Add for Depth {
    type Output = Depth;

    fn add(self, other: Depth) -> Depth {
        Depth {
            visible: self.visible + other.visible,
            in_flight: self.in_flight + other.in_flight,
            delayed: self.delayed + other.delayed,
        }
    }
}

/// One job queue (and its pool's dead-letter queue), over the SQS port.
#[derive(Debug, Clone)]
pub struct JobQueue {
    sqs: Arc<dyn Sqs>,
    url: String,
    dlq_url: Option<String>,
}

/// An SQS request built from parts that are always complete.
const COMPLETE: &str = "an SQS request with its queue URL is complete";

impl JobQueue {
    /// A queue over the SDK.
    pub fn new(client: Client, url: impl Into<String>, dlq_url: Option<String>) -> Self {
        JobQueue::over(crate::faults::sqs(SdkSqs::new(client)), url, dlq_url)
    }

    /// A queue over any implementation of the SQS port (the simulator's world).
    pub fn over(sqs: Arc<dyn Sqs>, url: impl Into<String>, dlq_url: Option<String>) -> Self {
        JobQueue { sqs, url: url.into(), dlq_url }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Long-polls for one message for up to `wait` (0-20 s) and hides it for `visibility`.
    pub async fn receive(&self, wait: Duration, visibility: Duration) -> Result<Option<Received>, BackendError> {
        let request = ReceiveMessageInput::builder()
            .queue_url(&self.url)
            .max_number_of_messages(1)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .visibility_timeout(visibility.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names(DEFERRALS)
            .message_attribute_names(REDRIVES)
            .message_attribute_names(ATTEMPTS)
            .build()
            .expect(COMPLETE);
        let out = self.sqs.receive_message(request).await?;
        let Some(msg) = out.messages.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        received(msg).map(Some)
    }

    pub async fn delete(&self, receipt_handle: &str) -> Result<(), BackendError> {
        self.delete_from(&self.url, receipt_handle).await
    }

    /// Hides the message for `visibility` from now (0 makes it visible at once).
    pub async fn set_visibility(&self, receipt_handle: &str, visibility: Duration) -> Result<(), BackendError> {
        self.hide_in(&self.url, receipt_handle, visibility).await
    }

    /// Sends a job message; returns the SQS message id.
    pub async fn send(&self, body: &str) -> Result<String, BackendError> {
        self.send_copy(body, Duration::ZERO, CopyMeta::default()).await
    }

    /// Sends a fresh copy of a job message, visible after `delay` (at most [`MAX_DELAY`]),
    /// recording how often it was deferred. A worker hands a message back this way, then deletes
    /// the one it holds: the copy starts with a receive count of zero, so receives that did not
    /// advance the job never add up to a redrive to the dead-letter queue.
    pub async fn send_copy(&self, body: &str, delay: Duration, meta: CopyMeta) -> Result<String, BackendError> {
        let mut request = SendMessageInput::builder()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay.min(MAX_DELAY).as_secs() as i32)
            // The job's tenant as its message group: a fair queue in AWS (docs/tenants.md).
            .set_message_group_id(jobs_core::message::tenant_in(body).map(|t| t.as_str().to_owned()));
        for (name, value) in [(DEFERRALS, meta.deferrals), (REDRIVES, meta.redrives), (ATTEMPTS, meta.attempts)] {
            if value > 0 {
                let value = MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(value.to_string())
                    .build()
                    .expect("attribute is complete");
                request = request.message_attributes(name, value);
            }
        }
        let out = self.sqs.send_message(request.build().expect(COMPLETE)).await?;
        Ok(out.message_id.unwrap_or_default())
    }

    /// Keeps a copy of a message that will not be processed on the dead-letter queue, with the
    /// reason (and the job id, when known) as message attributes.
    pub async fn send_to_dlq(&self, body: &str, reason: &str, job_id: Option<&str>) -> Result<(), BackendError> {
        let Some(dlq) = &self.dlq_url else {
            return Err(BackendError::other("no dead-letter queue is configured (DLQ_URL)"));
        };
        let text = |v: &str| {
            MessageAttributeValue::builder().data_type("String").string_value(v).build().expect("attribute is complete")
        };
        // SQS rejects empty bodies; a poison message may be one.
        let body = if body.is_empty() { "(empty message body)" } else { body };
        let mut req = SendMessageInput::builder()
            .queue_url(dlq)
            .message_body(body)
            .message_attributes(FAILURE_REASON, text(&truncate(reason, 1024)));
        if let Some(id) = job_id.filter(|id| !id.is_empty()) {
            req = req.message_attributes("jobId", text(id));
        }
        self.sqs.send_message(req.build().expect(COMPLETE)).await.map(|_| ())
    }

    /// Receives up to `max` messages from the dead-letter queue (no wait), hidden for `visibility`.
    pub async fn receive_dead(&self, max: i32, visibility: Duration) -> Result<Vec<Received>, BackendError> {
        let dlq = self.dlq()?;
        let request = ReceiveMessageInput::builder()
            .queue_url(dlq)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(0)
            .visibility_timeout(visibility.as_secs() as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .build()
            .expect(COMPLETE);
        let out = self.sqs.receive_message(request).await?;
        out.messages.unwrap_or_default().into_iter().map(received).collect()
    }

    /// Deletes a message received from the dead-letter queue.
    pub async fn delete_dead(&self, receipt_handle: &str) -> Result<(), BackendError> {
        self.delete_from(self.dlq()?, receipt_handle).await
    }

    /// Hides a message of the dead-letter queue for `visibility` (one nobody can resolve).
    pub async fn hide_dead(&self, receipt_handle: &str, visibility: Duration) -> Result<(), BackendError> {
        self.hide_in(self.dlq()?, receipt_handle, visibility).await
    }

    async fn delete_from(&self, url: &str, receipt_handle: &str) -> Result<(), BackendError> {
        let request =
            DeleteMessageInput::builder().queue_url(url).receipt_handle(receipt_handle).build().expect(COMPLETE);
        self.sqs.delete_message(request).await.map(|_| ())
    }

    async fn hide_in(&self, url: &str, receipt_handle: &str, visibility: Duration) -> Result<(), BackendError> {
        let request = ChangeMessageVisibilityInput::builder()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(visibility.as_secs().min(43_200) as i32)
            .build()
            .expect(COMPLETE);
        self.sqs.change_message_visibility(request).await.map(|_| ())
    }

    fn dlq(&self) -> Result<&str, BackendError> {
        self.dlq_url.as_deref().ok_or_else(|| BackendError::other("no dead-letter queue is configured (DLQ_URL)"))
    }

    /// The job queue's ARN (the target of schedules).
    pub async fn arn(&self) -> Result<String, BackendError> {
        let request = GetQueueAttributesInput::builder()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::QueueArn)
            .build()
            .expect(COMPLETE);
        let out = self.sqs.get_queue_attributes(request).await?;
        out.attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| BackendError::other(format!("SQS queue {} has no ARN", self.url)))
    }

    /// Approximate depth of the job queue.
    pub async fn depth(&self) -> Result<Depth, BackendError> {
        self.depth_of(&self.url).await
    }

    /// Approximate depth of the dead-letter queue; `None` if none is configured.
    pub async fn dead_depth(&self) -> Result<Option<Depth>, BackendError> {
        match &self.dlq_url {
            Some(url) => self.depth_of(url).await.map(Some),
            None => Ok(None),
        }
    }

    async fn depth_of(&self, url: &str) -> Result<Depth, BackendError> {
        let request = GetQueueAttributesInput::builder()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .build()
            .expect(COMPLETE);
        let out = self.sqs.get_queue_attributes(request).await?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |name: QueueAttributeName| attrs.get(&name).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(Depth {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }
}

/// A received SQS message, with the attributes the system reads.
fn received(msg: aws_sdk_sqs::types::Message) -> Result<Received, BackendError> {
    let receive_count = msg
        .attributes()
        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let attribute = |name: &str| msg.message_attributes().and_then(|a| a.get(name)).and_then(|v| v.string_value());
    let number = |name: &str| attribute(name).and_then(|v| v.parse().ok()).unwrap_or(0);
    let (deferrals, redrives, attempts) = (number(DEFERRALS), number(REDRIVES), number(ATTEMPTS));
    let failure_reason = attribute(FAILURE_REASON).map(str::to_owned);
    Ok(Received {
        receipt_handle: msg
            .receipt_handle
            .ok_or_else(|| BackendError::other("SQS returned a message without a receipt handle"))?,
        message_id: msg.message_id.unwrap_or_default(),
        body: msg.body.unwrap_or_default(),
        receive_count,
        deferrals,
        redrives,
        attempts,
        failure_reason,
    })
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
