//! SQS's request rules, as documented: queue names and attributes, what a message body may hold
//! and how large it may be, message attributes (at most 10, their names, types and values), and
//! which attributes a receive returns. Written here from SQS's documentation, not shared with the
//! product's own checks (`jobs_core::message`), so a mistake there is caught here.

use std::collections::HashMap;

use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use super::error::SqsError;
use super::queue::{Message as Stored, Settings};

/// The longest a message may stay hidden, counted from its first receive (12 hours).
pub const MAX_VISIBILITY_SECS: u64 = 43_200;
/// SQS's longest delay (15 minutes).
pub const MAX_DELAY_SECS: i32 = 900;
/// Messages one receive returns at most.
pub const MAX_RECEIVE: i32 = 10;

/// Message attributes one message may carry.
const MAX_ATTRIBUTES: usize = 10;

pub fn queue_name(name: &str) -> Result<(), SqsError> {
    let ok =
        (1..=80).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(SqsError::InvalidParameter(format!(
            "queue name {name:?}: 1 to 80 letters, digits, hyphens and underscores (FIFO queues are not simulated)"
        )))
    }
}

fn number(
    attrs: &HashMap<QueueAttributeName, String>,
    name: QueueAttributeName,
    range: (u64, u64),
) -> Result<Option<u64>, SqsError> {
    let Some(text) = attrs.get(&name) else { return Ok(None) };
    match text.parse::<u64>() {
        Ok(v) if (range.0..=range.1).contains(&v) => Ok(Some(v)),
        _ => Err(SqsError::InvalidParameter(format!("{name} {text:?} is not between {} and {}", range.0, range.1))),
    }
}

/// A queue's settings from the attributes it is created with (those the world does not model,
/// such as encryption or a policy, are accepted and ignored).
pub fn settings(attrs: &HashMap<QueueAttributeName, String>) -> Result<Settings, SqsError> {
    let default = Settings::default();
    let redrive = match attrs.get(&QueueAttributeName::RedrivePolicy) {
        None => None,
        Some(text) => {
            let bad = || SqsError::InvalidParameter(format!("RedrivePolicy {text:?} is invalid"));
            let policy: serde_json::Value = serde_json::from_str(text).map_err(|_| bad())?;
            let arn = policy["deadLetterTargetArn"].as_str().ok_or_else(bad)?.to_owned();
            let max = &policy["maxReceiveCount"];
            let max = max.as_u64().or_else(|| max.as_str().and_then(|s| s.parse().ok())).ok_or_else(bad)?;
            if !(1..=1000).contains(&max) {
                return Err(bad());
            }
            Some((arn, max as u32))
        }
    };
    Ok(Settings {
        visibility_timeout_secs: number(attrs, QueueAttributeName::VisibilityTimeout, (0, MAX_VISIBILITY_SECS))?
            .map_or(default.visibility_timeout_secs, |v| v as u32),
        delay_secs: number(attrs, QueueAttributeName::DelaySeconds, (0, 900))?.map_or(default.delay_secs, |v| v as u32),
        retention_secs: number(attrs, QueueAttributeName::MessageRetentionPeriod, (60, 1_209_600))?
            .map_or(default.retention_secs, |v| v as u32),
        max_message_bytes: number(attrs, QueueAttributeName::MaximumMessageSize, (1024, 1_048_576))?
            .map_or(default.max_message_bytes, |v| v as usize),
        redrive,
    })
}

/// The characters SQS carries in a body or a string attribute: #x9, #xA, #xD, #x20 to #xD7FF,
/// #xE000 to #xFFFD, #x10000 to #x10FFFF.
fn carried(c: char) -> bool {
    let c = c as u32;
    c == 0x9 || c == 0xA || c == 0xD || (0x20..=0xD7FF).contains(&c) || (0xE000..=0xFFFD).contains(&c) || c >= 0x10000
}

fn attribute_name(name: &str) -> Result<(), SqsError> {
    let lower = name.to_ascii_lowercase();
    let ok = (1..=256).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok { Ok(()) } else { Err(SqsError::InvalidParameter(format!("message attribute name {name:?} is invalid"))) }
}

/// A message's body and attributes against SQS's rules; `max_bytes`: the queue's largest message
/// (body and attributes: names, types and values).
pub fn message(
    body: &str,
    attributes: &HashMap<String, MessageAttributeValue>,
    max_bytes: usize,
) -> Result<(), SqsError> {
    if body.is_empty() {
        return Err(SqsError::Missing("MessageBody"));
    }
    if let Some((at, c)) = body.char_indices().find(|(_, c)| !carried(*c)) {
        return Err(SqsError::InvalidContents(format!("invalid character U+{:04X} at byte {at}", c as u32)));
    }
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(SqsError::InvalidParameter(format!("{} message attributes; at most 10", attributes.len())));
    }
    let mut size = body.len();
    for (name, value) in attributes {
        attribute_name(name)?;
        let data_type = value.data_type();
        let base = data_type.split('.').next().unwrap_or_default();
        let invalid = |why: &str| SqsError::InvalidParameter(format!("message attribute {name:?}: {why}"));
        let text = value.string_value();
        let binary = value.binary_value();
        match base {
            "String" | "Number" => {
                let text = text.filter(|t| !t.is_empty()).ok_or_else(|| invalid("needs a non-empty StringValue"))?;
                if text.chars().any(|c| !carried(c)) {
                    return Err(SqsError::InvalidContents(format!(
                        "message attribute {name:?} has an invalid character"
                    )));
                }
                if base == "Number" && text.parse::<f64>().is_err() {
                    return Err(invalid("a Number's value must be a number"));
                }
                size += text.len();
            }
            "Binary" => size += binary.ok_or_else(|| invalid("needs a BinaryValue"))?.as_ref().len(),
            _ => return Err(invalid("DataType must be String, Number or Binary")),
        }
        size += name.len() + data_type.len();
    }
    if size > max_bytes {
        return Err(SqsError::InvalidParameter(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max_bytes} bytes."
        )));
    }
    Ok(())
}

/// Whether a receive asking for `wanted` (names, `All`, `.*` or `prefix.*`) returns attribute `name`.
fn wanted(wanted: &[String], name: &str) -> bool {
    wanted.iter().any(|w| match w.as_str() {
        "All" | ".*" => true,
        w => match w.strip_suffix(".*") {
            Some(prefix) => name.starts_with(prefix) && name[prefix.len()..].starts_with('.'),
            None => w == name,
        },
    })
}

/// The message as a receive hands it out (its latest receipt handle, the attributes asked for).
pub fn delivered(
    m: &Stored,
    message_attributes: &Option<Vec<String>>,
    system: &Option<Vec<MessageSystemAttributeName>>,
) -> Message {
    let names = message_attributes.clone().unwrap_or_default();
    let chosen: HashMap<String, MessageAttributeValue> =
        m.attributes.iter().filter(|(k, _)| wanted(&names, k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let system = system.clone().unwrap_or_default();
    let asks = |n: &MessageSystemAttributeName| system.contains(n) || system.contains(&MessageSystemAttributeName::All);
    let mut attributes = HashMap::new();
    for (name, value) in [
        (MessageSystemAttributeName::ApproximateReceiveCount, m.receive_count.to_string()),
        (MessageSystemAttributeName::SentTimestamp, m.sent_ms.to_string()),
        (MessageSystemAttributeName::ApproximateFirstReceiveTimestamp, m.first_receive_ms.unwrap_or(0).to_string()),
    ] {
        if asks(&name) {
            attributes.insert(name, value);
        }
    }
    if let Some(group) = m.group.as_ref().filter(|_| asks(&MessageSystemAttributeName::MessageGroupId)) {
        attributes.insert(MessageSystemAttributeName::MessageGroupId, group.clone());
    }
    Message::builder()
        .message_id(&m.id)
        .receipt_handle(m.receipt(m.receive_count))
        .body(&m.body)
        .set_attributes((!attributes.is_empty()).then_some(attributes))
        .set_message_attributes((!chosen.is_empty()).then_some(chosen))
        .build()
}
