//! One test per SQS semantic the code relies on; `tests/sqs_against_ministack.rs` checks the same
//! calls against the emulator.

use std::collections::HashMap;

use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityInput;
use aws_sdk_sqs::operation::create_queue::CreateQueueInput;
use aws_sdk_sqs::operation::delete_message::DeleteMessageInput;
use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesInput;
use aws_sdk_sqs::operation::receive_message::ReceiveMessageInput;
use aws_sdk_sqs::operation::send_message::SendMessageInput;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};

use super::*;

/// A world with queue `q` (visibility 30 s) and, when `max_receives` is set, its dead-letter
/// queue `dlq`; returns the world and q's URL.
fn world(max_receives: Option<u32>) -> (Sqs, String) {
    let mut sqs = Sqs::new();
    let mut attrs = HashMap::from([(QueueAttributeName::VisibilityTimeout, "30".to_owned())]);
    if let Some(max) = max_receives {
        sqs.create_queue(CreateQueueInput::builder().queue_name("dlq").build().unwrap()).unwrap();
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:dlq");
        let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{max}}}"#);
        attrs.insert(QueueAttributeName::RedrivePolicy, policy);
    }
    let out =
        sqs.create_queue(CreateQueueInput::builder().queue_name("q").set_attributes(Some(attrs)).build().unwrap());
    (sqs, out.unwrap().queue_url.unwrap())
}

fn send(sqs: &mut Sqs, url: &str, body: &str) -> Result<String, SqsError> {
    let input = SendMessageInput::builder().queue_url(url).message_body(body).build().unwrap();
    sqs.send_message(input).map(|o| o.message_id.unwrap())
}

fn receive(sqs: &mut Sqs, url: &str, visibility: Option<i32>) -> Option<Message> {
    let input = ReceiveMessageInput::builder()
        .queue_url(url)
        .set_visibility_timeout(visibility)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .message_attribute_names("All")
        .build()
        .unwrap();
    sqs.receive_message(input).unwrap().messages.and_then(|m| m.into_iter().next())
}

fn count(m: &Message) -> u32 {
    m.attributes().unwrap()[&MessageSystemAttributeName::ApproximateReceiveCount].parse().unwrap()
}

fn delete(sqs: &mut Sqs, url: &str, handle: &str) -> Result<(), SqsError> {
    let input = DeleteMessageInput::builder().queue_url(url).receipt_handle(handle).build().unwrap();
    sqs.delete_message(input).map(|_| ())
}

fn hide(sqs: &mut Sqs, url: &str, handle: &str, secs: i32) -> Result<(), SqsError> {
    let input =
        ChangeMessageVisibilityInput::builder().queue_url(url).receipt_handle(handle).visibility_timeout(secs).build();
    sqs.change_message_visibility(input.unwrap()).map(|_| ())
}

/// (visible, in flight, delayed), as `GetQueueAttributes` reports them.
fn depth(sqs: &mut Sqs, url: &str) -> (String, String, String) {
    let input = GetQueueAttributesInput::builder().queue_url(url).attribute_names(QueueAttributeName::All).build();
    let a = sqs.get_queue_attributes(input.unwrap()).unwrap().attributes.unwrap();
    let get = |n: QueueAttributeName| a[&n].clone();
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    )
}

fn d(v: usize, f: usize, l: usize) -> (String, String, String) {
    (v.to_string(), f.to_string(), l.to_string())
}

#[test]
fn a_received_message_is_hidden_for_its_visibility_timeout_then_comes_back_counted() {
    let (mut sqs, q) = world(None);
    let id = send(&mut sqs, &q, "a").unwrap();
    let first = receive(&mut sqs, &q, None).unwrap();
    assert_eq!((first.message_id(), first.body(), count(&first)), (Some(id.as_str()), Some("a"), 1));
    assert_eq!(depth(&mut sqs, &q), d(0, 1, 0));
    assert!(receive(&mut sqs, &q, None).is_none(), "hidden");
    sqs.set_now(29_999);
    assert!(receive(&mut sqs, &q, None).is_none(), "the queue's 30 s");
    sqs.set_now(30_000);
    let second = receive(&mut sqs, &q, Some(5)).unwrap();
    assert_eq!(count(&second), 2);
    assert_ne!(first.receipt_handle(), second.receipt_handle(), "a new handle per receive");
    sqs.set_now(35_000);
    assert_eq!(count(&receive(&mut sqs, &q, Some(0)).unwrap()), 3, "the request's 5 s");
    assert_eq!(count(&receive(&mut sqs, &q, None).unwrap()), 4, "0 s shows it at once");
}

#[test]
fn a_delayed_message_is_counted_delayed_until_it_is_visible() {
    let (mut sqs, q) = world(None);
    let input = SendMessageInput::builder().queue_url(&q).message_body("a").delay_seconds(10).build().unwrap();
    sqs.send_message(input).unwrap();
    assert_eq!(depth(&mut sqs, &q), d(0, 0, 1));
    assert!(receive(&mut sqs, &q, None).is_none());
    sqs.set_now(10_000);
    assert_eq!(depth(&mut sqs, &q), d(1, 0, 0));
    assert!(receive(&mut sqs, &q, None).is_some());
    for bad in [-1, 901] {
        let input = SendMessageInput::builder().queue_url(&q).message_body("a").delay_seconds(bad).build().unwrap();
        assert!(matches!(sqs.send_message(input), Err(SqsError::InvalidParameter(_))), "{bad}");
    }
}

#[test]
fn a_stale_receipt_deletes_nothing_and_cannot_change_visibility() {
    let (mut sqs, q) = world(None);
    send(&mut sqs, &q, "a").unwrap();
    let old = receive(&mut sqs, &q, Some(1)).unwrap();
    sqs.set_now(1_000);
    let new = receive(&mut sqs, &q, Some(60)).unwrap();
    delete(&mut sqs, &q, old.receipt_handle().unwrap()).unwrap();
    assert_eq!(sqs.messages(&q).len(), 1, "the stale handle's delete succeeded and deleted nothing");
    assert!(matches!(hide(&mut sqs, &q, old.receipt_handle().unwrap(), 0), Err(SqsError::NotInFlight(_))));
    hide(&mut sqs, &q, new.receipt_handle().unwrap(), 120).unwrap();
    delete(&mut sqs, &q, new.receipt_handle().unwrap()).unwrap();
    assert!(sqs.messages(&q).is_empty());
    assert!(matches!(delete(&mut sqs, &q, new.receipt_handle().unwrap()), Err(SqsError::BadReceipt(_))), "gone");
    assert!(matches!(delete(&mut sqs, &q, "garbage"), Err(SqsError::BadReceipt(_))));
}

#[test]
fn visibility_changes_only_while_hidden_and_at_most_12_hours_from_the_first_receive() {
    let (mut sqs, q) = world(None);
    send(&mut sqs, &q, "a").unwrap();
    let m = receive(&mut sqs, &q, Some(10)).unwrap();
    let h = m.receipt_handle().unwrap();
    hide(&mut sqs, &q, h, 43_200).unwrap();
    sqs.set_now(3_600_000);
    assert!(matches!(hide(&mut sqs, &q, h, 43_200), Err(SqsError::InvalidParameter(_))), "13 h from the receive");
    hide(&mut sqs, &q, h, 39_600).unwrap();
    hide(&mut sqs, &q, h, 0).unwrap();
    assert_eq!(depth(&mut sqs, &q), d(1, 0, 0));
    assert!(matches!(hide(&mut sqs, &q, h, 30), Err(SqsError::NotInFlight(_))), "visible again");
}

#[test]
fn a_message_received_max_receive_count_times_moves_to_the_dead_letter_queue_whole() {
    let (mut sqs, q) = world(Some(2));
    let dlq = Sqs::url_of("dlq");
    let attr = MessageAttributeValue::builder().data_type("Number").string_value("3").build().unwrap();
    let input = SendMessageInput::builder().queue_url(&q).message_body("a").message_attributes("redrives", attr);
    let id = sqs.send_message(input.build().unwrap()).unwrap().message_id.unwrap();
    for n in 1..=2 {
        assert_eq!(count(&receive(&mut sqs, &q, Some(0)).unwrap()), n);
    }
    assert!(receive(&mut sqs, &q, None).is_none(), "the third receive moves it instead");
    assert!(sqs.messages(&q).is_empty());
    let dead = receive(&mut sqs, &dlq, None).unwrap();
    assert_eq!((dead.message_id(), dead.body(), count(&dead)), (Some(id.as_str()), Some("a"), 3), "counted on");
    let redrives = dead.message_attributes().unwrap()["redrives"].string_value();
    assert_eq!(redrives, Some("3"), "its attributes travel with it");
}

#[test]
fn bodies_and_attributes_follow_sqs_rules() {
    let (mut sqs, q) = world(None);
    assert_eq!(send(&mut sqs, &q, ""), Err(SqsError::Missing("MessageBody")));
    for bad in ["a\u{0}b", "\u{1F}", "\u{FFFE}", "\u{FFFF}"] {
        assert!(matches!(send(&mut sqs, &q, bad), Err(SqsError::InvalidContents(_))), "{bad:?}");
    }
    for good in ["\t\n\r", "\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}"] {
        send(&mut sqs, &q, good).unwrap();
    }
    send(&mut sqs, &q, &"x".repeat(256 * 1024)).expect("256 KiB exactly");
    assert!(matches!(send(&mut sqs, &q, &"x".repeat(256 * 1024 + 1)), Err(SqsError::InvalidParameter(_))));
    let text = |v: &str| MessageAttributeValue::builder().data_type("String").string_value(v).build().unwrap();
    let with = |attrs: Vec<(&str, MessageAttributeValue)>, body: &str| {
        let attrs = attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        SendMessageInput::builder().queue_url(Sqs::url_of("q")).message_body(body).set_message_attributes(Some(attrs))
    };
    // Name, type and value: 2 + 6 + 4 bytes.
    let body = "x".repeat(256 * 1024 - 12);
    assert!(sqs.send_message(with(vec![("ab", text("abcd"))], &body).build().unwrap()).is_ok(), "12 bytes more");
    let over = with(vec![("ab", text("abcde"))], &body).build().unwrap();
    assert!(matches!(sqs.send_message(over), Err(SqsError::InvalidParameter(_))), "attributes count in the size");
    let eleven = (0..11).map(|i| (["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"][i], text("v"))).collect();
    assert!(matches!(sqs.send_message(with(eleven, "b").build().unwrap()), Err(SqsError::InvalidParameter(_))));
    let nan = MessageAttributeValue::builder().data_type("Number").string_value("seven").build().unwrap();
    for (name, value) in [
        ("n", nan),
        ("AWS.x", text("v")),
        (".x", text("v")),
        ("a..b", text("v")),
        ("e", text("")),
        ("sp ace", text("v")),
    ] {
        let refused = sqs.send_message(with(vec![(name, value)], "b").build().unwrap());
        assert!(matches!(refused, Err(SqsError::InvalidParameter(_))), "{name}");
    }
}

#[test]
fn a_receive_returns_the_attributes_it_asks_for() {
    let (mut sqs, q) = world(None);
    let number = |v: &str| MessageAttributeValue::builder().data_type("Number").string_value(v).build().unwrap();
    let input = SendMessageInput::builder()
        .queue_url(&q)
        .message_body("a")
        .message_attributes("deferrals", number("1"))
        .message_attributes("attempts", number("2"))
        .message_attributes("x.y", number("3"));
    sqs.send_message(input.build().unwrap()).unwrap();
    let asking = |names: &[&str]| {
        let mut input = ReceiveMessageInput::builder().queue_url(&q).visibility_timeout(0);
        for n in names {
            input = input.message_attribute_names(*n);
        }
        input.build().unwrap()
    };
    for (names, expected) in [
        (vec!["attempts"], vec!["attempts"]),
        (vec!["x.*"], vec!["x.y"]),
        (vec![".*"], vec!["attempts", "deferrals", "x.y"]),
        (vec![], vec![]),
    ] {
        let m = sqs.receive_message(asking(&names)).unwrap().messages.unwrap().remove(0);
        let mut got: Vec<String> = m.message_attributes().map(|a| a.keys().cloned().collect()).unwrap_or_default();
        got.sort();
        assert_eq!(got, expected, "{names:?}");
        assert!(m.attributes().is_none(), "no system attribute was asked for");
    }
}

#[test]
fn messages_older_than_the_retention_period_are_gone() {
    let mut sqs = Sqs::new();
    let attrs = HashMap::from([(QueueAttributeName::MessageRetentionPeriod, "60".to_owned())]);
    let q = sqs.create_queue(CreateQueueInput::builder().queue_name("q").set_attributes(Some(attrs)).build().unwrap());
    let q = q.unwrap().queue_url.unwrap();
    send(&mut sqs, &q, "old").unwrap();
    sqs.set_now(30_000);
    send(&mut sqs, &q, "new").unwrap();
    sqs.set_now(60_000);
    let bodies: Vec<String> = sqs.messages(&q).into_iter().map(|m| m.1).collect();
    assert_eq!(bodies, ["new"]);
}

#[test]
fn a_duplicate_delivery_is_a_second_copy_with_its_own_receipts() {
    let (mut sqs, q) = world(None);
    let id = send(&mut sqs, &q, "a").unwrap();
    let first = receive(&mut sqs, &q, Some(60)).unwrap();
    assert!(sqs.duplicate(&q, &id));
    assert_eq!(sqs.in_flight(&q), vec![id.clone()], "the copy is visible, the first is out");
    let copy = receive(&mut sqs, &q, Some(60)).unwrap();
    assert_eq!(sqs.in_flight(&q), vec![id.clone(), id.clone()], "both copies are out");
    assert_eq!((copy.message_id(), count(&copy)), (Some(id.as_str()), 1), "the same message, counted afresh");
    delete(&mut sqs, &q, first.receipt_handle().unwrap()).unwrap();
    assert_eq!(sqs.messages(&q).len(), 1, "the copy is still there");
    delete(&mut sqs, &q, copy.receipt_handle().unwrap()).unwrap();
    assert!(sqs.messages(&q).is_empty());
    assert!(!sqs.duplicate(&q, &id), "nothing left to duplicate");
}

#[test]
fn queues_are_created_once_by_name_and_requests_are_bounded() {
    let (mut sqs, q) = world(None);
    let attrs = HashMap::from([(QueueAttributeName::VisibilityTimeout, "30".to_owned())]);
    let again = CreateQueueInput::builder().queue_name("q").set_attributes(Some(attrs)).build().unwrap();
    assert_eq!(sqs.create_queue(again).unwrap().queue_url.unwrap(), q, "the same attributes: the same queue");
    let attrs = HashMap::from([(QueueAttributeName::VisibilityTimeout, "60".to_owned())]);
    let other = CreateQueueInput::builder().queue_name("q").set_attributes(Some(attrs)).build().unwrap();
    assert!(matches!(sqs.create_queue(other), Err(SqsError::QueueExists(_))));
    for bad in ["", "a.b", "x.fifo", &"a".repeat(81)] {
        let input = CreateQueueInput::builder().queue_name(bad).build().unwrap();
        assert!(matches!(sqs.create_queue(input), Err(SqsError::InvalidParameter(_))), "{bad:?}");
    }
    let policy = HashMap::from([(QueueAttributeName::RedrivePolicy, r#"{"maxReceiveCount":0}"#.to_owned())]);
    let input = CreateQueueInput::builder().queue_name("r").set_attributes(Some(policy)).build().unwrap();
    assert!(matches!(sqs.create_queue(input), Err(SqsError::InvalidParameter(_))));
    let receive_with = |max: i32, wait: i32| {
        ReceiveMessageInput::builder()
            .queue_url(&q)
            .max_number_of_messages(max)
            .wait_time_seconds(wait)
            .build()
            .unwrap()
    };
    for (max, wait) in [(0, 0), (11, 0), (1, 21), (1, -1)] {
        assert!(matches!(sqs.receive_message(receive_with(max, wait)), Err(SqsError::InvalidParameter(_))));
    }
    assert!(matches!(send(&mut sqs, "https://nowhere/q", "a"), Err(SqsError::NoQueue(_))));
}

#[test]
fn a_receive_takes_up_to_ten_visible_messages_in_the_order_they_were_sent() {
    let (mut sqs, q) = world(None);
    for i in 0..12 {
        send(&mut sqs, &q, &i.to_string()).unwrap();
    }
    let input = ReceiveMessageInput::builder().queue_url(&q).max_number_of_messages(10).build().unwrap();
    let bodies: Vec<String> =
        sqs.receive_message(input).unwrap().messages.unwrap().iter().map(|m| m.body().unwrap().to_owned()).collect();
    assert_eq!(bodies, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(depth(&mut sqs, &q), d(2, 10, 0));
}
