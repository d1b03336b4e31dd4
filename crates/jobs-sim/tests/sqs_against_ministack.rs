//! The in-memory SQS against the emulator, both through the queues' port (`SdkSqs` to the
//! emulator, `SimSqs` to the world): the same requests, in the same order, on queues created the
//! same way, must get the same answers (the messages received with their receive counts and the
//! attributes asked for, the depths, or the failure's kind).
//!
//! Where the emulator is laxer than SQS's documented rules, the world keeps the rules and the case
//! is held by its unit tests only (`src/sqs/tests.rs`): the emulator accepts a delay past 900 s,
//! a body past 256 KiB (the classic `MaximumMessageSize` default), a `Number` attribute that is not
//! a number, an attribute name starting with `AWS.`, and a visibility change of a message no
//! longer in flight. A stale receipt's delete succeeds on both; SQS documents that it may delete
//! nothing, and the world deletes nothing (the harder case for the code).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityInput;
use aws_sdk_sqs::operation::create_queue::CreateQueueInput;
use aws_sdk_sqs::operation::delete_message::DeleteMessageInput;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesInput;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use jobs_aws::ErrorKind;
use jobs_aws::sqs::{SdkSqs, Sqs as Port};
use jobs_sim::port::SimSqs;
use jobs_sim::sqs::Sqs;

/// What a request got, in terms both sides can give.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Ok,
    /// Messages: body, receive count, the message attributes returned (name=value, sorted).
    Received(Vec<(String, u32, Vec<String>)>),
    /// (visible, in flight, delayed).
    Depth(String, String, String),
    Failed(ErrorKind),
}

/// One side: its port, and the URLs of its queues by the name both sides use.
struct Side {
    port: Box<dyn Port>,
    urls: HashMap<String, String>,
    /// The receipt handles each side got, by the name the script gives them.
    receipts: HashMap<String, String>,
}

/// One request of the script.
#[derive(Clone)]
enum Step {
    Send {
        queue: &'static str,
        body: String,
        delay: Option<i32>,
        attributes: Vec<(&'static str, &'static str, &'static str)>,
    },
    /// Receive one message, hidden for `visibility`; its handle is kept as `keep`.
    Receive {
        queue: &'static str,
        visibility: i32,
        keep: &'static str,
    },
    Delete {
        queue: &'static str,
        receipt: &'static str,
    },
    Hide {
        queue: &'static str,
        receipt: &'static str,
        secs: i32,
    },
    Depth(&'static str),
    Sleep(u64),
}

fn send(queue: &'static str, body: &str) -> Step {
    Step::Send { queue, body: body.to_owned(), delay: None, attributes: Vec::new() }
}

fn attr(data_type: &str, value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type(data_type).string_value(value).build().unwrap()
}

impl Side {
    async fn create(port: Box<dyn Port>, prefix: &str) -> Side {
        let mut urls = HashMap::new();
        let dlq = format!("{prefix}-dlq");
        let out = port.create_queue(CreateQueueInput::builder().queue_name(&dlq).build().unwrap()).await.unwrap();
        let dlq_url = out.queue_url.unwrap();
        let arn = port
            .get_queue_attributes(
                GetQueueAttributesInput::builder()
                    .queue_url(&dlq_url)
                    .attribute_names(QueueAttributeName::QueueArn)
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap()
            .attributes
            .unwrap()[&QueueAttributeName::QueueArn]
            .clone();
        let attrs = HashMap::from([
            (QueueAttributeName::VisibilityTimeout, "30".to_owned()),
            (QueueAttributeName::RedrivePolicy, format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":2}}"#)),
        ]);
        let q = format!("{prefix}-q");
        let out =
            port.create_queue(CreateQueueInput::builder().queue_name(&q).set_attributes(Some(attrs)).build().unwrap());
        urls.insert("q".to_owned(), out.await.unwrap().queue_url.unwrap());
        urls.insert("dlq".to_owned(), dlq_url);
        urls.insert("gone".to_owned(), format!("{}-gone", urls["q"]));
        Side { port, urls, receipts: HashMap::new() }
    }

    async fn run(&mut self, step: &Step) -> Option<Answer> {
        let failed = |e: jobs_aws::BackendError| Answer::Failed(e.kind());
        let url = |q: &str| self.urls[q].clone();
        Some(match step {
            Step::Send { queue, body, delay, attributes } => {
                let attrs = attributes.iter().map(|(n, t, v)| ((*n).to_owned(), attr(t, v))).collect();
                let input = SendMessageInput::builder()
                    .queue_url(url(queue))
                    .message_body(body)
                    .set_delay_seconds(*delay)
                    .set_message_attributes(Some(attrs))
                    .build()
                    .unwrap();
                self.port.send_message(input).await.map_or_else(failed, |_| Answer::Ok)
            }
            Step::Receive { queue, visibility, keep } => {
                let input = ReceiveMessageInput::builder()
                    .queue_url(url(queue))
                    .visibility_timeout(*visibility)
                    .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                    .message_attribute_names("attempts")
                    .message_attribute_names("x.*")
                    .build()
                    .unwrap();
                match self.port.receive_message(input).await {
                    Err(e) => failed(e),
                    Ok(out) => {
                        let messages = out.messages.unwrap_or_default();
                        if let Some(m) = messages.first() {
                            self.receipts.insert((*keep).to_owned(), m.receipt_handle().unwrap().to_owned());
                        }
                        Answer::Received(
                            messages
                                .iter()
                                .map(|m| {
                                    let count = m.attributes().unwrap()
                                        [&MessageSystemAttributeName::ApproximateReceiveCount]
                                        .parse()
                                        .unwrap();
                                    let mut attrs: Vec<String> = m
                                        .message_attributes()
                                        .map(|a| {
                                            a.iter()
                                                .map(|(k, v)| format!("{k}={}", v.string_value().unwrap_or("")))
                                                .collect()
                                        })
                                        .unwrap_or_default();
                                    attrs.sort();
                                    (m.body().unwrap().to_owned(), count, attrs)
                                })
                                .collect(),
                        )
                    }
                }
            }
            Step::Delete { queue, receipt } => {
                let handle = self.receipts.get(*receipt).cloned().unwrap_or_else(|| (*receipt).to_owned());
                let input = DeleteMessageInput::builder().queue_url(url(queue)).receipt_handle(handle).build().unwrap();
                self.port.delete_message(input).await.map_or_else(failed, |_| Answer::Ok)
            }
            Step::Hide { queue, receipt, secs } => {
                let handle = self.receipts.get(*receipt).cloned().unwrap_or_else(|| (*receipt).to_owned());
                let input = ChangeMessageVisibilityInput::builder()
                    .queue_url(url(queue))
                    .receipt_handle(handle)
                    .visibility_timeout(*secs)
                    .build()
                    .unwrap();
                self.port.change_message_visibility(input).await.map_or_else(failed, |_| Answer::Ok)
            }
            Step::Depth(queue) => {
                let input = GetQueueAttributesInput::builder()
                    .queue_url(url(queue))
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                    .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                    .build()
                    .unwrap();
                match self.port.get_queue_attributes(input).await {
                    Err(e) => failed(e),
                    Ok(out) => {
                        let a = out.attributes.unwrap_or_default();
                        let get = |n| a.get(&n).cloned().unwrap_or_default();
                        Answer::Depth(
                            get(QueueAttributeName::ApproximateNumberOfMessages),
                            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
                            get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
                        )
                    }
                }
            }
            Step::Sleep(_) => return None,
        })
    }
}

/// The script: each case names what it checks.
fn script() -> Vec<(&'static str, Step)> {
    let received = |keep| Step::Receive { queue: "q", visibility: 0, keep };
    vec![
        ("the queues start empty", Step::Depth("q")),
        ("an empty body is refused", send("q", "")),
        ("NUL is outside SQS's characters", send("q", "a\u{0}b")),
        ("U+FFFE is outside SQS's characters", send("q", "\u{FFFE}")),
        ("nothing refused was queued", Step::Depth("q")),
        ("a queue that does not exist", send("gone", "a")),
        (
            "a message with attributes",
            Step::Send {
                queue: "q",
                body: "first \u{D7FF}\u{E000}\u{10FFFF}\t\n".into(),
                delay: None,
                attributes: vec![("attempts", "Number", "2"), ("x.y", "String", "z"), ("other", "String", "o")],
            },
        ),
        ("its first receive: count 1, the attributes asked for", received("r1")),
        ("visible again at once: count 2", received("r2")),
        ("its third receive moves it to the dead-letter queue", received("r3")),
        ("gone from the queue", Step::Depth("q")),
        ("on the dead-letter queue", Step::Depth("dlq")),
        (
            "received from the dead-letter queue, attributes whole",
            Step::Receive { queue: "dlq", visibility: 30, keep: "d1" },
        ),
        ("the dead message is in flight", Step::Depth("dlq")),
        ("deleted by its receipt", Step::Delete { queue: "dlq", receipt: "d1" }),
        ("the dead-letter queue is empty", Step::Depth("dlq")),
        ("a delayed message", Step::Send { queue: "q", body: "later".into(), delay: Some(2), attributes: vec![] }),
        ("counted as delayed", Step::Depth("q")),
        ("not received while delayed", received("none")),
        ("the delay passes", Step::Sleep(2_200)),
        ("visible", Step::Depth("q")),
        ("received, hidden for 30 s", Step::Receive { queue: "q", visibility: 30, keep: "l1" }),
        ("in flight", Step::Depth("q")),
        ("a hidden message is not received", received("none")),
        ("its visibility can be changed by its receipt", Step::Hide { queue: "q", receipt: "l1", secs: 0 }),
        ("visible again", Step::Depth("q")),
        ("received again", Step::Receive { queue: "q", visibility: 30, keep: "l2" }),
        ("deleted by the latest receipt", Step::Delete { queue: "q", receipt: "l2" }),
        ("the queue is empty", Step::Depth("q")),
        ("a deleted message's receipt is refused", Step::Delete { queue: "q", receipt: "l2" }),
        ("a deleted message's visibility cannot change", Step::Hide { queue: "q", receipt: "l2", secs: 0 }),
        ("a malformed receipt handle is refused", Step::Delete { queue: "q", receipt: "not-a-receipt-handle" }),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_in_memory_sqs_answers_as_the_emulator_does() {
    let emulator = testkit::Emulator::start();
    let client = aws_sdk_sqs::Client::new(&emulator.sdk_config());
    let prefix = format!("sim-{}", std::process::id());
    let mut emulated = Side::create(Box::new(SdkSqs::new(client)), &prefix).await;
    let mut simulated = Side::create(Box::new(SimSqs::new(Sqs::new())), &prefix).await;
    let mut differences = Vec::new();
    for (n, (case, step)) in script().into_iter().enumerate() {
        if let Step::Sleep(ms) = step {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            continue;
        }
        let (want, got) = (emulated.run(&step).await, simulated.run(&step).await);
        if want != got {
            differences.push(format!("#{n} {case}: emulator {want:?}, world {got:?}"));
        }
    }
    assert!(differences.is_empty(), "the world differs from the emulator:\n{}", differences.join("\n"));
}
