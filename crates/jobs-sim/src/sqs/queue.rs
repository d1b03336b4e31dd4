//! One queue's messages and what happens to each: sent (maybe delayed), received (hidden for a
//! visibility timeout, its receive count up, a new receipt handle), hidden again or shown,
//! deleted, expired after the retention period. Receipt handles name the message and the receive
//! that gave them out, so a handle from an earlier receive is known to be stale.

use std::collections::HashMap;

use aws_sdk_sqs::types::MessageAttributeValue;

/// A queue's settings (its attributes at creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub visibility_timeout_secs: u32,
    pub delay_secs: u32,
    pub retention_secs: u32,
    pub max_message_bytes: usize,
    /// `RedrivePolicy`: the dead-letter queue's ARN and `maxReceiveCount`.
    pub redrive: Option<(String, u32)>,
}

impl Default for Settings {
    /// SQS's defaults for a queue created without attributes.
    fn default() -> Settings {
        Settings {
            visibility_timeout_secs: 30,
            delay_secs: 0,
            retention_secs: 4 * 24 * 3600,
            max_message_bytes: 256 * 1024,
            redrive: None,
        }
    }
}

/// One message (one copy of it: a duplicate is a second `Message` with the same id).
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: String,
    pub attributes: HashMap<String, MessageAttributeValue>,
    pub group: Option<String>,
    /// When it was first sent (kept when it moves to a dead-letter queue).
    pub sent_ms: u64,
    /// Visible from then on (after a delay, or a visibility timeout).
    pub visible_at_ms: u64,
    pub receive_count: u32,
    pub first_receive_ms: Option<u64>,
    /// The copy's serial number in the world: receipt handles name it.
    pub serial: u64,
}

impl Message {
    /// The receipt handle the `n`th receive of this copy gave out.
    pub fn receipt(&self, n: u32) -> String {
        format!("sim-rh:{}:{}", self.serial, n)
    }

    /// Whether a receive has it out, hidden (not merely delayed).
    pub fn in_flight(&self, now: u64) -> bool {
        self.receive_count > 0 && self.visible_at_ms > now
    }

    pub fn delayed(&self, now: u64) -> bool {
        self.receive_count == 0 && self.visible_at_ms > now
    }
}

/// A receipt handle read back: the copy and the receive it came from.
pub fn parse_receipt(handle: &str) -> Option<(u64, u32)> {
    let rest = handle.strip_prefix("sim-rh:")?;
    let (serial, n) = rest.split_once(':')?;
    Some((serial.parse().ok()?, n.parse().ok()?))
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub arn: String,
    pub settings: Settings,
    /// In the order they were sent.
    pub messages: Vec<Message>,
}

impl Queue {
    /// Drops the messages older than the retention period.
    pub fn expire(&mut self, now: u64) {
        let keep = u64::from(self.settings.retention_secs) * 1000;
        self.messages.retain(|m| m.sent_ms + keep > now);
    }

    /// Visible messages, in the order they were sent.
    pub fn visible(&self, now: u64) -> impl Iterator<Item = usize> + '_ {
        self.messages.iter().enumerate().filter(move |(_, m)| m.visible_at_ms <= now).map(|(i, _)| i)
    }

    /// The earliest time a hidden or delayed message becomes visible.
    pub fn next_visible(&self, now: u64) -> Option<u64> {
        self.messages.iter().map(|m| m.visible_at_ms).filter(|&t| t > now).min()
    }

    /// (visible, in flight, delayed).
    pub fn depth(&self, now: u64) -> (usize, usize, usize) {
        let visible = self.messages.iter().filter(|m| m.visible_at_ms <= now).count();
        let in_flight = self.messages.iter().filter(|m| m.in_flight(now)).count();
        let delayed = self.messages.iter().filter(|m| m.delayed(now)).count();
        (visible, in_flight, delayed)
    }

    /// The copy a receipt handle names, if it is still on the queue: its index, and whether the
    /// handle is the latest receive's.
    pub fn by_receipt(&self, serial: u64, n: u32) -> Option<(usize, bool)> {
        self.messages.iter().position(|m| m.serial == serial).map(|i| (i, self.messages[i].receive_count == n))
    }
}
