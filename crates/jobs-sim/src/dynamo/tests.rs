//! One test per semantic the code relies on; `tests/against_ministack.rs` checks the same calls
//! against the emulator.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::get_item::GetItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, ReturnValuesOnConditionCheckFailure, Select, TransactWriteItem,
    Update,
};

use super::expr::Placeholders;
use super::*;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn item(attrs: &[(&str, AttributeValue)]) -> Item {
    attrs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
}

fn key(pk: &str) -> Item {
    item(&[("pk", s(pk))])
}

/// Table `t` (key `pk`) with index `by-x` (key `x`, sort `y`, carrying `z`).
fn world() -> Dynamo {
    let mut d = Dynamo::new();
    d.create_table(TableDef {
        name: "t".into(),
        key: KeySchema { partition: "pk".into(), sort: None },
        indexes: vec![IndexDef {
            name: "by-x".into(),
            key: KeySchema { partition: "x".into(), sort: Some("y".into()) },
            projection: Projection::Include(vec!["z".into()]),
        }],
    });
    d
}

fn put(d: &mut Dynamo, attrs: Item) {
    d.put_item(PutItemInput::builder().table_name("t").set_item(Some(attrs)).build().unwrap()).unwrap();
}

fn get(d: &mut Dynamo, pk: &str) -> Option<Item> {
    d.get_item(GetItemInput::builder().table_name("t").set_key(Some(key(pk))).build().unwrap()).unwrap().item
}

fn names(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect())
}

fn values(pairs: &[(&str, AttributeValue)]) -> Option<HashMap<String, AttributeValue>> {
    Some(pairs.iter().map(|(a, b)| ((*a).to_owned(), b.clone())).collect())
}

fn update(
    d: &mut Dynamo,
    pk: &str,
    update: &str,
    cond: Option<&str>,
    vals: &[(&str, AttributeValue)],
) -> Result<Option<Item>, DynamoError> {
    let mut used: Vec<(&str, &str)> = Vec::new();
    for alias in ["#a", "#b", "#c", "#pk"] {
        if update.contains(alias) || cond.is_some_and(|c| c.contains(alias)) {
            used.push((alias, &alias[1..]));
        }
    }
    d.update_item(
        UpdateItemInput::builder()
            .table_name("t")
            .set_key(Some(key(pk)))
            .update_expression(update)
            .set_condition_expression(cond.map(str::to_owned))
            .set_expression_attribute_names(if used.is_empty() { None } else { names(&used) })
            .set_expression_attribute_values(if vals.is_empty() { None } else { values(vals) })
            .return_values(ReturnValue::AllNew)
            .build()
            .unwrap(),
    )
    .map(|o| o.attributes)
}

#[test]
fn conditions_table() {
    let it = item(&[("a", n(5)), ("b", s("RUNNING")), ("c", AttributeValue::L(vec![n(1), n(2)])), ("big", n(10))]);
    let vals = HashMap::from([
        (":five".to_owned(), n(5)),
        (":nine".to_owned(), AttributeValue::N("9.0".into())),
        (":ten".to_owned(), n(10)),
        (":run".to_owned(), s("RUNNING")),
        (":q".to_owned(), s("QUEUED")),
        (":five_s".to_owned(), s("5")),
        (":r".to_owned(), s("RUN")),
        (":two".to_owned(), n(2)),
    ]);
    let names = HashMap::from([("#a".to_owned(), "a".to_owned()), ("#missing".to_owned(), "missing".to_owned())]);
    // (condition, holds)
    let cases = [
        ("#a = :five", true),
        ("#a = :five_s", false),
        ("#a <> :five_s", true),
        ("#a < :nine", true),
        ("big > :nine", true),
        ("#missing = :five", false),
        ("#missing <> :five", true),
        ("#missing < :five", false),
        ("attribute_not_exists(#missing)", true),
        ("attribute_exists(#a)", true),
        ("b IN (:q, :run)", true),
        ("b IN (:q)", false),
        ("#a BETWEEN :five AND :ten", true),
        ("size(c) = :two", true),
        ("size(c) < :two", false),
        ("begins_with(b, :r)", true),
        ("c[1] = :two", true),
        ("NOT #a = :five OR b = :run", true),
        ("NOT (#a = :five OR b = :run)", false),
        ("#a = :ten OR b = :run AND #a = :ten", false),
        ("(attribute_not_exists(#missing) OR #missing < :five) AND #a = :five", true),
    ];
    for (text, want) in cases {
        let mut ph = Placeholders::new(&names, &vals);
        let cond = expr::condition(text, &mut ph).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(expr::holds(&it, &cond).unwrap(), want, "{text}");
    }
}

#[test]
fn an_update_evaluates_on_the_item_before_it_and_refuses_what_dynamodb_refuses() {
    let mut d = world();
    // An update creates the item (with its key), counting from nothing with if_not_exists.
    let new = update(
        &mut d,
        "j",
        "SET #a = if_not_exists(#a, :zero) + :one, #b = list_append(if_not_exists(#b, :empty), :l)",
        None,
        &[
            (":zero", n(0)),
            (":one", n(1)),
            (":empty", AttributeValue::L(vec![])),
            (":l", AttributeValue::L(vec![s("x")])),
        ],
    )
    .unwrap()
    .unwrap();
    assert_eq!(new, item(&[("pk", s("j")), ("a", n(1)), ("b", AttributeValue::L(vec![s("x")]))]));
    // Right-hand sides see the item as it was: c gets a's old value.
    let new = update(
        &mut d,
        "j",
        "SET #a = #a + :one, #c = #a REMOVE #b ADD n :two",
        None,
        &[(":one", n(1)), (":two", n(2))],
    )
    .unwrap()
    .unwrap();
    assert_eq!(new, item(&[("pk", s("j")), ("a", n(2)), ("c", n(1)), ("n", n(2))]));
    // Refused, the item unchanged.
    let before = get(&mut d, "j");
    type Case<'a> = (&'a str, &'a [(&'a str, AttributeValue)], &'a str);
    let refused: [Case; 7] = [
        ("SET #b = #b + :one", &[(":one", n(1))], "does not exist"),
        ("SET #a = #a + :s", &[(":s", s("x"))], "Incorrect operand type"),
        ("SET #a = :one REMOVE #a", &[(":one", n(1))], "overlap"),
        ("SET #pk = :s", &[(":s", s("k"))], "part of the key"),
        ("SET #a = :undefined", &[], "not defined"),
        ("SET #a = :one", &[(":one", n(1)), (":unused", n(2))], "unused"),
        ("SET log = :one", &[(":one", n(1))], "reserved keyword"),
    ];
    for (text, vals, fragment) in refused {
        match update(&mut d, "j", text, None, vals) {
            Err(DynamoError::Validation(m)) => assert!(m.contains(fragment), "{text}: {m}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    assert_eq!(get(&mut d, "j"), before);
}

#[test]
fn a_failed_condition_changes_nothing_and_returns_the_item_only_when_asked() {
    let mut d = world();
    put(&mut d, item(&[("pk", s("j")), ("a", n(1))]));
    let attempt = |d: &mut Dynamo, all_old: bool| {
        d.put_item(
            PutItemInput::builder()
                .table_name("t")
                .set_item(Some(item(&[("pk", s("j")), ("a", n(9))])))
                .condition_expression("attribute_not_exists(pk)")
                .set_return_values_on_condition_check_failure(
                    all_old.then_some(ReturnValuesOnConditionCheckFailure::AllOld),
                )
                .build()
                .unwrap(),
        )
    };
    assert_eq!(attempt(&mut d, false), Err(DynamoError::ConditionFailed { item: None }));
    assert_eq!(
        attempt(&mut d, true),
        Err(DynamoError::ConditionFailed { item: Some(item(&[("pk", s("j")), ("a", n(1))])) })
    );
    assert_eq!(get(&mut d, "j"), Some(item(&[("pk", s("j")), ("a", n(1))])));
    // UPDATED_OLD: only what changed, as it was.
    let out = d
        .update_item(
            UpdateItemInput::builder()
                .table_name("t")
                .set_key(Some(key("j")))
                .update_expression("SET a = :two, b = :one")
                .set_expression_attribute_values(values(&[(":two", n(2)), (":one", n(1))]))
                .return_values(ReturnValue::UpdatedOld)
                .build()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(out.attributes, Some(item(&[("a", n(1))])));
}

fn counter_update(pk: &str, cond: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name("t")
                .set_key(Some(key(pk)))
                .update_expression("ADD hits :one")
                .set_condition_expression(cond.map(str::to_owned))
                .set_expression_attribute_values(values(&[(":one", n(1))]))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .unwrap(),
        )
        .build()
}

fn transact(d: &mut Dynamo, items: Vec<TransactWriteItem>, token: Option<&str>) -> Result<(), DynamoError> {
    d.transact_write_items(
        TransactWriteItemsInput::builder()
            .set_transact_items(Some(items))
            .set_client_request_token(token.map(str::to_owned))
            .build()
            .unwrap(),
    )
    .map(|_| ())
}

#[test]
fn a_transaction_is_all_or_nothing_with_a_reason_per_operation() {
    let mut d = world();
    put(&mut d, item(&[("pk", s("held")), ("owner", s("w1"))]));
    let check = TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name("t")
                .set_key(Some(key("held")))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .unwrap(),
        )
        .build();
    let Err(DynamoError::TransactionCanceled { reasons }) =
        transact(&mut d, vec![counter_update("a", None), check], None)
    else {
        panic!("cancelled")
    };
    let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap()).collect();
    assert_eq!(codes, ["None", "ConditionalCheckFailed"]);
    assert_eq!(reasons[1].item(), Some(&item(&[("pk", s("held")), ("owner", s("w1"))])));
    assert_eq!(get(&mut d, "a"), None, "nothing of a cancelled transaction is written");
    // Two operations on one item refuse the request.
    let twice = transact(&mut d, vec![counter_update("a", None), counter_update("a", None)], None);
    assert!(matches!(twice, Err(DynamoError::Validation(m)) if m.contains("multiple operations on one item")));
    // A request wrong in itself (here a placeholder it does not define) is refused whole, not
    // cancelled; one that goes wrong on the item (adding to a string) cancels with the reason.
    let undefined = transact(&mut d, vec![counter_update("a", None), counter_update("b", Some("#nope = :one"))], None);
    assert!(matches!(undefined, Err(DynamoError::Validation(m)) if m.contains("not defined")));
    let on_item = transact(&mut d, vec![counter_update("a", None), counter_update("held", None)], None);
    assert!(on_item.is_ok(), "ADD to a missing number creates it: {on_item:?}");
    put(&mut d, item(&[("pk", s("text")), ("hits", s("not a number"))]));
    let Err(DynamoError::TransactionCanceled { reasons }) =
        transact(&mut d, vec![counter_update("a", None), counter_update("text", None)], None)
    else {
        panic!("cancelled")
    };
    let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap()).collect();
    assert_eq!(codes, ["None", "ValidationError"]);
    assert_eq!(get(&mut d, "a").unwrap()["hits"], n(1), "nothing of it was written");
}

#[test]
fn a_client_token_makes_a_retried_transaction_count_once_for_ten_minutes() {
    let mut d = world();
    d.set_now(1_000);
    let hits = |d: &mut Dynamo| get(d, "a").and_then(|i| i.get("hits").cloned());
    transact(&mut d, vec![counter_update("a", None)], Some("tok")).unwrap();
    // The answer was lost; the SDK (or the code) sends the same request again.
    d.set_now(1_000 + TOKEN_WINDOW_MS - 1);
    transact(&mut d, vec![counter_update("a", None)], Some("tok")).unwrap();
    assert_eq!(hits(&mut d), Some(n(1)), "the same request within the window is not applied again");
    assert_eq!(transact(&mut d, vec![counter_update("b", None)], Some("tok")), Err(DynamoError::TokenReused));
    d.set_now(1_000 + TOKEN_WINDOW_MS);
    transact(&mut d, vec![counter_update("a", None)], Some("tok")).unwrap();
    assert_eq!(hits(&mut d), Some(n(2)), "after the window the token is forgotten");
}

fn query_index(d: &mut Dynamo, x: &str, limit: Option<i32>, start: Option<Item>, forward: bool) -> QueryOutput {
    d.query(
        QueryInput::builder()
            .table_name("t")
            .index_name("by-x")
            .key_condition_expression("x = :x")
            .set_expression_attribute_values(values(&[(":x", s(x))]))
            .set_limit(limit)
            .set_exclusive_start_key(start)
            .scan_index_forward(forward)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn an_index_is_sparse_projected_and_late_by_the_lag() {
    let mut d = world();
    d.set_index_lag(500);
    d.set_now(10_000);
    put(&mut d, item(&[("pk", s("1")), ("x", s("w")), ("y", n(2)), ("z", s("kept")), ("other", s("dropped"))]));
    put(&mut d, item(&[("pk", s("2")), ("other", s("no index key"))]));
    assert_eq!(query_index(&mut d, "w", None, None, true).count, 0, "not there yet");
    d.set_now(10_500);
    let out = query_index(&mut d, "w", None, None, true);
    assert_eq!(out.items.unwrap(), vec![item(&[("pk", s("1")), ("x", s("w")), ("y", n(2)), ("z", s("kept"))])]);
    // A change of the index key moves the entry, late too; the table reads it at once.
    put(&mut d, item(&[("pk", s("1")), ("x", s("v")), ("y", n(2))]));
    assert_eq!(get(&mut d, "1").unwrap().get("x"), Some(&s("v")));
    assert_eq!(query_index(&mut d, "w", None, None, true).count, 1, "the old entry is still seen");
    d.set_now(11_000);
    assert_eq!(query_index(&mut d, "w", None, None, true).count, 0);
    assert_eq!(query_index(&mut d, "v", None, None, true).count, 1);
    let consistent = d.query(
        QueryInput::builder()
            .table_name("t")
            .index_name("by-x")
            .key_condition_expression("x = :x")
            .set_expression_attribute_values(values(&[(":x", s("v"))]))
            .consistent_read(true)
            .build()
            .unwrap(),
    );
    assert!(matches!(consistent, Err(DynamoError::Validation(_))));
}

#[test]
fn a_query_pages_in_key_order_either_way_and_counts_before_its_filter() {
    let mut d = world();
    for (pk, y) in [("a", 3), ("b", 1), ("c", 2), ("d", 1)] {
        put(&mut d, item(&[("pk", s(pk)), ("x", s("w")), ("y", n(y))]));
    }
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = query_index(&mut d, "w", Some(3), start, true);
        seen.extend(page.items.unwrap().iter().map(|i| i["pk"].clone()));
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    assert_eq!(seen, [s("b"), s("d"), s("c"), s("a")], "by y, then by the table key");
    let back = query_index(&mut d, "w", Some(2), None, false);
    assert_eq!(back.items.unwrap().iter().map(|i| i["pk"].clone()).collect::<Vec<_>>(), [s("a"), s("c")]);
    let filtered = d
        .query(
            QueryInput::builder()
                .table_name("t")
                .index_name("by-x")
                .key_condition_expression("x = :x AND y < :three")
                .filter_expression("y > :one")
                .set_expression_attribute_values(values(&[(":x", s("w")), (":three", n(3)), (":one", n(1))]))
                .select(Select::Count)
                .build()
                .unwrap(),
        )
        .unwrap();
    assert_eq!((filtered.count, filtered.scanned_count, filtered.items), (1, 3, None));
    let bad = d.query(
        QueryInput::builder()
            .table_name("t")
            .index_name("by-x")
            .key_condition_expression("y = :one")
            .set_expression_attribute_values(values(&[(":one", n(1))]))
            .build()
            .unwrap(),
    );
    assert!(matches!(bad, Err(DynamoError::Validation(_))), "a key condition without the partition key");
}

#[test]
fn ttl_deletes_only_when_the_simulator_says_and_only_what_expired() {
    let mut d = world();
    put(&mut d, item(&[("pk", s("old")), ("expiresAt", n(100))]));
    put(&mut d, item(&[("pk", s("new")), ("expiresAt", n(200))]));
    put(&mut d, item(&[("pk", s("open"))]));
    assert!(get(&mut d, "old").is_some(), "an expired item is read until it is deleted");
    d.journal();
    assert_eq!(d.expire("t", "expiresAt", 150), 1);
    let written = d.take_journal();
    assert_eq!(written.len(), 1);
    assert!(written[0].ttl && written[0].new.is_none());
    assert_eq!(written[0].old.as_ref().and_then(|i| i.get("pk")), Some(&s("old")));
    assert_eq!(
        (get(&mut d, "old").is_some(), get(&mut d, "new").is_some(), get(&mut d, "open").is_some()),
        (false, true, true)
    );
}

#[test]
fn an_item_over_400_kb_is_refused() {
    let mut d = world();
    let big = item(&[("pk", s("j")), ("blob", s(&"x".repeat(MAX_ITEM_BYTES)))]);
    let out = d.put_item(PutItemInput::builder().table_name("t").set_item(Some(big)).build().unwrap());
    assert!(matches!(out, Err(DynamoError::Validation(m)) if m.contains("maximum allowed size")));
    assert_eq!(get(&mut d, "j"), None);
}

#[test]
fn a_put_in_a_transaction_and_an_unknown_table() {
    let mut d = world();
    let p = |table: &str| {
        TransactWriteItem::builder()
            .put(Put::builder().table_name(table).set_item(Some(key("p"))).build().unwrap())
            .build()
    };
    assert!(matches!(transact(&mut d, vec![p("nope")], None), Err(DynamoError::NotFound(_))));
    transact(&mut d, vec![p("t")], None).unwrap();
    assert_eq!(get(&mut d, "p"), Some(key("p")));
}

#[test]
fn the_journal_keeps_each_committed_write_with_the_item_before_and_after() {
    let mut d = world();
    put(&mut d, item(&[("pk", s("a")), ("v", n(1))]));
    assert!(d.take_journal().is_empty(), "nothing is kept until asked");
    d.journal();
    d.set_now(7);
    put(&mut d, item(&[("pk", s("a")), ("v", n(2))]));
    let refused = PutItemInput::builder()
        .table_name("t")
        .set_item(Some(item(&[("pk", s("a")), ("v", n(3))])))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .unwrap();
    assert!(d.put_item(refused).is_err());
    let writes = d.take_journal();
    assert_eq!(writes.len(), 1, "a refused write is not a write");
    let w = &writes[0];
    assert_eq!((w.table.as_str(), w.at), ("t", 7));
    assert_eq!((w.old.as_ref().unwrap()["v"].clone(), w.new.as_ref().unwrap()["v"].clone()), (n(1), n(2)));
    assert!(d.take_journal().is_empty(), "taken");
}
