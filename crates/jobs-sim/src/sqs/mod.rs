//! SQS (standard queues) in memory, as strict as the service where the code relies on it:
//! delays, visibility timeouts (at most 12 hours from the first receive), receive counts, a new
//! receipt handle per receive (a stale one deletes nothing, and cannot change visibility),
//! redrive to the dead-letter queue once a message was received `maxReceiveCount` times,
//! retention, the body's size and character rules, message attributes, and duplicate deliveries
//! when the simulator asks for one. Requests and answers are the SDK's own types, as in
//! [`crate::dynamo`].
//!
//! It has no clock: the simulator sets [`Sqs::set_now`]. Receives here never wait; the port
//! (`crate::port`) waits for a long poll.

mod error;
mod queue;
mod rules;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::operation::change_message_visibility::{ChangeMessageVisibilityInput, ChangeMessageVisibilityOutput};
use aws_sdk_sqs::operation::create_queue::{CreateQueueInput, CreateQueueOutput};
use aws_sdk_sqs::operation::delete_message::{DeleteMessageInput, DeleteMessageOutput};
use aws_sdk_sqs::operation::get_queue_attributes::{GetQueueAttributesInput, GetQueueAttributesOutput};
use aws_sdk_sqs::operation::receive_message::{ReceiveMessageInput, ReceiveMessageOutput};
use aws_sdk_sqs::operation::send_message::{SendMessageInput, SendMessageOutput};
use aws_sdk_sqs::types::QueueAttributeName;

pub use error::SqsError;
pub use queue::Settings;
use queue::{Message, Queue, parse_receipt};
pub use rules::{MAX_DELAY_SECS, MAX_RECEIVE, MAX_VISIBILITY_SECS};

/// Every queue of the world, by URL.
#[derive(Debug, Clone, Default)]
pub struct Sqs {
    queues: BTreeMap<String, Queue>,
    now_ms: u64,
    serial: u64,
}

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

impl Sqs {
    pub fn new() -> Sqs {
        Sqs::default()
    }

    pub fn set_now(&mut self, ms: u64) {
        self.now_ms = self.now_ms.max(ms);
        for q in self.queues.values_mut() {
            q.expire(self.now_ms);
        }
    }

    pub fn now(&self) -> u64 {
        self.now_ms
    }

    /// The URL a queue of this name gets.
    pub fn url_of(name: &str) -> String {
        format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}")
    }

    pub fn create_queue(&mut self, input: CreateQueueInput) -> Result<CreateQueueOutput, SqsError> {
        let name = input.queue_name.ok_or(SqsError::Missing("QueueName"))?;
        rules::queue_name(&name)?;
        let settings = rules::settings(&input.attributes.unwrap_or_default())?;
        let url = Sqs::url_of(&name);
        if let Some(existing) = self.queues.get(&url) {
            if existing.settings != settings {
                return Err(SqsError::QueueExists(format!("a queue named {name} exists with other attributes")));
            }
        } else {
            let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
            self.queues.insert(url.clone(), Queue { name, arn, settings, messages: Vec::new() });
        }
        Ok(CreateQueueOutput::builder().queue_url(url).build())
    }

    fn queue(&mut self, url: Option<&str>) -> Result<&mut Queue, SqsError> {
        let url = url.ok_or(SqsError::Missing("QueueUrl"))?;
        self.queues.get_mut(url).ok_or_else(|| SqsError::NoQueue(format!("The specified queue does not exist: {url}")))
    }

    pub fn send_message(&mut self, input: SendMessageInput) -> Result<SendMessageOutput, SqsError> {
        let now = self.now_ms;
        self.serial += 1;
        let serial = self.serial;
        let queue = self.queue(input.queue_url.as_deref())?;
        let body = input.message_body.ok_or(SqsError::Missing("MessageBody"))?;
        let attributes = input.message_attributes.unwrap_or_default();
        rules::message(&body, &attributes, queue.settings.max_message_bytes)?;
        let delay = match input.delay_seconds {
            Some(d) if !(0..=MAX_DELAY_SECS).contains(&d) => {
                return Err(SqsError::InvalidParameter(format!("DelaySeconds {d} is not between 0 and 900")));
            }
            Some(d) => d as u32,
            None => queue.settings.delay_secs,
        };
        let id = format!("sim-{serial:08}");
        queue.messages.push(Message {
            id: id.clone(),
            body,
            attributes,
            group: input.message_group_id,
            sent_ms: now,
            visible_at_ms: now + u64::from(delay) * 1000,
            receive_count: 0,
            first_receive_ms: None,
            serial,
        });
        Ok(SendMessageOutput::builder().message_id(id).build())
    }

    /// Takes up to `MaxNumberOfMessages` visible messages, hiding each for the request's
    /// visibility timeout (or the queue's). A message already received `maxReceiveCount` times
    /// moves to the dead-letter queue instead of being returned.
    pub fn receive_message(&mut self, input: ReceiveMessageInput) -> Result<ReceiveMessageOutput, SqsError> {
        let now = self.now_ms;
        let max = input.max_number_of_messages.unwrap_or(1);
        if !(1..=MAX_RECEIVE).contains(&max) {
            return Err(SqsError::InvalidParameter(format!("MaxNumberOfMessages {max} is not between 1 and 10")));
        }
        if let Some(w) = input.wait_time_seconds.filter(|w| !(0..=20).contains(w)) {
            return Err(SqsError::InvalidParameter(format!("WaitTimeSeconds {w} is not between 0 and 20")));
        }
        if let Some(v) = input.visibility_timeout.filter(|&v| v < 0 || v as u64 > MAX_VISIBILITY_SECS) {
            return Err(SqsError::InvalidParameter(format!("VisibilityTimeout {v} is not between 0 and 43200")));
        }
        let queue = self.queue(input.queue_url.as_deref())?;
        let hide =
            input.visibility_timeout.map(|v| v as u64).unwrap_or(u64::from(queue.settings.visibility_timeout_secs));
        let redrive = queue.settings.redrive.clone();
        let mut taken = Vec::new();
        let mut dead = Vec::new();
        for i in queue.visible(now).collect::<Vec<_>>() {
            if taken.len() == max as usize {
                break;
            }
            let m = &mut queue.messages[i];
            if redrive.as_ref().is_some_and(|(_, max_receives)| m.receive_count >= *max_receives) {
                dead.push(i);
                continue;
            }
            m.receive_count += 1;
            m.first_receive_ms.get_or_insert(now);
            m.visible_at_ms = now + hide * 1000;
            taken.push(rules::delivered(m, &input.message_attribute_names, &input.message_system_attribute_names));
        }
        let moved: Vec<Message> = dead.into_iter().rev().map(|i| queue.messages.remove(i)).collect();
        if let Some((dlq_arn, _)) = redrive {
            let dlq = self.queues.values_mut().find(|q| q.arn == dlq_arn);
            // A redrive policy naming a queue that is gone drops the message, as SQS does.
            if let Some(dlq) = dlq {
                // It keeps its receive count (the emulator and SQS count on from it there).
                for mut m in moved.into_iter().rev() {
                    m.visible_at_ms = now;
                    dlq.messages.push(m);
                }
            }
        }
        Ok(ReceiveMessageOutput::builder().set_messages((!taken.is_empty()).then_some(taken)).build())
    }

    /// Deletes the message the handle names. A stale handle (the message was received again
    /// since) succeeds and deletes nothing, as SQS documents it may; the handle of a message that
    /// is gone (deleted, moved or expired) is refused, as the emulator refuses it.
    pub fn delete_message(&mut self, input: DeleteMessageInput) -> Result<DeleteMessageOutput, SqsError> {
        let handle = input.receipt_handle.clone().ok_or(SqsError::Missing("ReceiptHandle"))?;
        let queue = self.queue(input.queue_url.as_deref())?;
        let (serial, n) = parse_receipt(&handle).ok_or_else(|| SqsError::BadReceipt(handle.clone()))?;
        match queue.by_receipt(serial, n) {
            Some((i, true)) => drop(queue.messages.remove(i)),
            Some((_, false)) => {}
            None => return Err(SqsError::BadReceipt(format!("{handle}: the message is gone"))),
        }
        Ok(DeleteMessageOutput::builder().build())
    }

    /// Hides the message the handle names for `VisibilityTimeout` from now (0 shows it). Only
    /// the latest receive's handle of a message still hidden can; at most 12 hours from its first
    /// receive.
    pub fn change_message_visibility(
        &mut self,
        input: ChangeMessageVisibilityInput,
    ) -> Result<ChangeMessageVisibilityOutput, SqsError> {
        let now = self.now_ms;
        let handle = input.receipt_handle.clone().ok_or(SqsError::Missing("ReceiptHandle"))?;
        let timeout = input.visibility_timeout.ok_or(SqsError::Missing("VisibilityTimeout"))?;
        let queue = self.queue(input.queue_url.as_deref())?;
        let (serial, n) = parse_receipt(&handle).ok_or_else(|| SqsError::BadReceipt(handle.clone()))?;
        let i = match queue.by_receipt(serial, n) {
            Some((i, true)) if queue.messages[i].in_flight(now) => i,
            _ => return Err(SqsError::NotInFlight(format!("message {handle} is not in flight"))),
        };
        let m = &mut queue.messages[i];
        let first = m.first_receive_ms.unwrap_or(now);
        if timeout < 0 || (now - first) / 1000 + timeout as u64 > MAX_VISIBILITY_SECS {
            return Err(SqsError::InvalidParameter(format!(
                "VisibilityTimeout {timeout} would hide the message past 12 hours from its first receive"
            )));
        }
        m.visible_at_ms = now + timeout as u64 * 1000;
        Ok(ChangeMessageVisibilityOutput::builder().build())
    }

    pub fn get_queue_attributes(
        &mut self,
        input: GetQueueAttributesInput,
    ) -> Result<GetQueueAttributesOutput, SqsError> {
        let now = self.now_ms;
        let queue = self.queue(input.queue_url.as_deref())?;
        let (visible, in_flight, delayed) = queue.depth(now);
        let all = input.attribute_names.unwrap_or_default();
        let wants = |name: &QueueAttributeName| all.contains(name) || all.contains(&QueueAttributeName::All);
        let mut out = HashMap::new();
        for (name, value) in [
            (QueueAttributeName::QueueArn, queue.arn.clone()),
            (QueueAttributeName::ApproximateNumberOfMessages, visible.to_string()),
            (QueueAttributeName::ApproximateNumberOfMessagesNotVisible, in_flight.to_string()),
            (QueueAttributeName::ApproximateNumberOfMessagesDelayed, delayed.to_string()),
            (QueueAttributeName::VisibilityTimeout, queue.settings.visibility_timeout_secs.to_string()),
        ] {
            if wants(&name) {
                out.insert(name, value);
            }
        }
        Ok(GetQueueAttributesOutput::builder().set_attributes(Some(out)).build())
    }

    /// The simulator's at-least-once delivery: a second copy of a message still on the queue
    /// (same id, body and attributes), visible now with its own receive count. Whether it was.
    pub fn duplicate(&mut self, url: &str, message_id: &str) -> bool {
        self.serial += 1;
        let (serial, now) = (self.serial, self.now_ms);
        let Some(queue) = self.queues.get_mut(url) else { return false };
        let Some(m) = queue.messages.iter().find(|m| m.id == message_id) else { return false };
        let copy = Message { serial, visible_at_ms: now, receive_count: 0, first_receive_ms: None, ..m.clone() };
        queue.messages.push(copy);
        true
    }

    /// The earliest time any message of the queue becomes visible (for a long poll's wait).
    pub fn next_visible(&self, url: &str) -> Option<u64> {
        self.queues.get(url).and_then(|q| q.next_visible(self.now_ms))
    }

    /// Every message on a queue (hidden, delayed or visible): (id, body, receive count).
    pub fn messages(&self, url: &str) -> Vec<(String, String, u32)> {
        let Some(queue) = self.queues.get(url) else { return Vec::new() };
        queue.messages.iter().map(|m| (m.id.clone(), m.body.clone(), m.receive_count)).collect()
    }

    /// The ids of the messages a receive has out (hidden) on a queue.
    pub fn in_flight(&self, url: &str) -> Vec<String> {
        let Some(queue) = self.queues.get(url) else { return Vec::new() };
        queue.messages.iter().filter(|m| m.in_flight(self.now_ms)).map(|m| m.id.clone()).collect()
    }

    /// The URLs of every queue.
    pub fn urls(&self) -> Vec<String> {
        self.queues.keys().cloned().collect()
    }

    /// A queue's name, from its URL.
    pub fn name(&self, url: &str) -> Option<&str> {
        self.queues.get(url).map(|q| q.name.as_str())
    }
}
