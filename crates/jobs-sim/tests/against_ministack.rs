//! The in-memory DynamoDB against the emulator, both through the store's port (`SdkDynamo` to
//! the emulator, `SimDynamo` to the world): the same requests, in the same order, on a table of
//! the same definition, must get the same answers (the item returned, or the refusal's kind:
//! a failed condition with the item it carried, a cancelled transaction's reasons, a request
//! refused as invalid). Where the emulator is the reference, this is what keeps the simulator's
//! world honest.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableInput;
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
    TransactWriteItem, Update,
};
use jobs_aws::ErrorKind;
use jobs_aws::dynamo::{Dynamo as Port, DynamoFailure, SdkDynamo};
use jobs_sim::dynamo::{Dynamo, Item, TableDef};
use jobs_sim::port::SimDynamo;

/// What a request got, in terms both sides can give.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Ok(Option<Item>),
    ConditionFailed(Option<Item>),
    TokenReused,
    Cancelled(Vec<String>, Vec<Option<Item>>),
    Invalid,
    Other(String),
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn table(name: &str) -> CreateTableInput {
    let attr = |n: &str, t| AttributeDefinition::builder().attribute_name(n).attribute_type(t).build().unwrap();
    let key = |n: &str, t| KeySchemaElement::builder().attribute_name(n).key_type(t).build().unwrap();
    CreateTableInput::builder()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk", ScalarAttributeType::S))
        .attribute_definitions(attr("x", ScalarAttributeType::S))
        .attribute_definitions(attr("y", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("by-x")
                .key_schema(key("x", KeyType::Hash))
                .key_schema(key("y", KeyType::Range))
                .projection(
                    Projection::builder().projection_type(ProjectionType::Include).non_key_attributes("z").build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// One request, as either side takes it.
#[derive(Clone)]
enum Request {
    Update(UpdateItemInput),
    Transact(TransactWriteItemsInput),
    Query(QueryInput),
}

/// The placeholders an expression uses, from all those a case may use.
fn used(texts: &[&str], all: &HashMap<String, AttributeValue>) -> Option<HashMap<String, AttributeValue>> {
    let used: HashMap<String, AttributeValue> = all
        .iter()
        .filter(|(k, _)| {
            texts.iter().any(|t| {
                t.match_indices(k.as_str())
                    .any(|(i, _)| !t[i + k.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'))
            })
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!used.is_empty()).then_some(used)
}

fn update(table: &str, pk: &str, expr: &str, cond: Option<&str>, extra: &[(&str, AttributeValue)]) -> Request {
    let mut all: HashMap<String, AttributeValue> = [
        (":one", n(1)),
        (":two", n(2)),
        (":five", n(5)),
        (":zero", n(0)),
        (":run", s("RUNNING")),
        (":q", s("QUEUED")),
        (":five_s", s("5")),
        (":empty", AttributeValue::L(vec![])),
        (":l", AttributeValue::L(vec![s("x")])),
        (":r", s("RUN")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    all.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    let mut texts = vec![expr];
    texts.extend(cond);
    let names: HashMap<String, String> =
        ["status", "a", "missing", "pk"].iter().map(|n| (format!("#{n}"), (*n).to_owned())).collect();
    let names: HashMap<String, String> =
        names.into_iter().filter(|(k, _)| texts.iter().any(|t| t.contains(k.as_str()))).collect();
    Request::Update(
        UpdateItemInput::builder()
            .table_name(table)
            .key("pk", s(pk))
            .update_expression(expr)
            .set_condition_expression(cond.map(str::to_owned))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values(used(&texts, &all))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .unwrap(),
    )
}

fn counter(table: &str, pk: &str, cond: Option<&str>) -> TransactWriteItem {
    let mut values = HashMap::from([(":one".to_owned(), n(1))]);
    if cond.is_some_and(|c| c.contains(":five")) {
        values.insert(":five".to_owned(), n(5));
    }
    let names = cond.filter(|c| c.contains("#a")).map(|_| HashMap::from([("#a".to_owned(), "a".to_owned())]));
    TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name(table)
                .key("pk", s(pk))
                .update_expression("ADD hits :one")
                .set_condition_expression(cond.map(str::to_owned))
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(Some(values))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .unwrap(),
        )
        .build()
}

fn transact(items: Vec<TransactWriteItem>, token: Option<&str>) -> Request {
    Request::Transact(
        TransactWriteItemsInput::builder()
            .set_transact_items(Some(items))
            .set_client_request_token(token.map(str::to_owned))
            .build()
            .unwrap(),
    )
}

fn query(table: &str, x: &str, limit: Option<i32>, forward: bool) -> Request {
    Request::Query(
        QueryInput::builder()
            .table_name(table)
            .index_name("by-x")
            .key_condition_expression("x = :x")
            .expression_attribute_values(":x", s(x))
            .set_limit(limit)
            .scan_index_forward(forward)
            .build()
            .unwrap(),
    )
}

/// The requests, in order: conditions of every shape, updates DynamoDB takes and refuses,
/// transactions that pass, cancel and replay, index queries.
fn requests(t: &str) -> Vec<Request> {
    let mut out = vec![update(t, "j", "SET #a = :five, #status = :run, c = :l, big = :ten", None, &[(":ten", n(10))])];
    let conditions = [
        "#a = :five",
        "#a = :five_s",
        "#a <> :five_s",
        "#missing = :five",
        "#missing <> :five",
        "#missing < :five",
        "attribute_not_exists(#missing)",
        "attribute_not_exists(#a)",
        "#status IN (:q, :run)",
        "#status IN (:q)",
        "#a BETWEEN :zero AND :five",
        "size(c) = :one",
        "size(c) < :one",
        "begins_with(#status, :r)",
        "NOT #a = :five OR #status = :run",
        "NOT (#a = :five OR #status = :run)",
        "#a = :two OR #status = :run AND #a = :two",
        "(attribute_not_exists(#missing) OR #missing < :five) AND #a = :five",
        "big > :nine",
    ];
    for (i, cond) in conditions.iter().enumerate() {
        out.push(update(
            t,
            "j",
            &format!("SET probe{i} = :one"),
            Some(cond),
            &[(":nine", AttributeValue::N("9.0".into()))],
        ));
    }
    // (DynamoDB also refuses two actions on one path, an update of a key attribute, and `+` or
    // ADD of a number and a string; the emulator takes them, so the unit tests hold those.)
    for expr in [
        "SET hits = if_not_exists(hits, :zero) + :one, entries = list_append(if_not_exists(entries, :empty), :l)",
        "SET hits = hits + :one, copied = hits REMOVE entries ADD added :two",
        "SET nothing = nothing + :one",
        "SET log = :one",
    ] {
        out.push(update(t, "j", expr, None, &[]));
    }
    // A creating update, and one whose condition fails on a missing item.
    out.push(update(t, "new", "SET #a = :one", Some("attribute_not_exists(#pk)"), &[]));
    out.push(update(t, "new", "SET #a = :two", Some("attribute_not_exists(#pk)"), &[]));
    // Transactions: both pass; one cancels (reasons in order); one item twice; a token replayed
    // with the same request, then with another.
    out.push(transact(vec![counter(t, "a", None), counter(t, "b", None)], None));
    out.push(transact(
        vec![counter(t, "a", None), counter(t, "j", Some("#a = :five AND attribute_not_exists(hits)"))],
        None,
    ));
    out.push(transact(vec![counter(t, "a", None), counter(t, "j", Some("#undefined = :five"))], None));
    out.push(transact(vec![counter(t, "a", None), counter(t, "a", None)], None));
    out.push(transact(vec![counter(t, "c", None)], Some("token-1")));
    out.push(transact(vec![counter(t, "c", None)], Some("token-1")));
    out.push(transact(vec![counter(t, "d", None)], Some("token-1")));
    out.push(update(t, "c", "SET seen = :one", None, &[]));
    let check = TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name(t)
                .key("pk", s("a"))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .unwrap(),
        )
        .build();
    out.push(transact(vec![check, counter(t, "e", None)], None));
    // The index: sparse, projected, ordered by its sort key, paged.
    for (pk, y) in [("i1", 3), ("i2", 1), ("i3", 2)] {
        out.push(update(
            t,
            pk,
            "SET x = :w, y = :y, z = :z, extra = :z",
            None,
            &[(":w", s("w")), (":y", n(y)), (":z", s("kept"))],
        ));
    }
    out.push(query(t, "w", None, true));
    out.push(query(t, "w", Some(2), false));
    out.push(query(t, "none", None, true));
    out
}

/// Sends `request` through the store's port: over the SDK to the emulator, or to the world.
async fn send(port: &dyn Port, request: Request) -> Answer {
    let refused = |e: DynamoFailure| match e {
        DynamoFailure::ConditionFailed { item } => Answer::ConditionFailed(item),
        DynamoFailure::Cancelled { reasons, .. } => Answer::Cancelled(
            reasons.iter().map(|r| r.code().unwrap_or("None").to_owned()).collect(),
            reasons.iter().map(|r| r.item().cloned()).collect(),
        ),
        DynamoFailure::Backend(e) if e.kind() == ErrorKind::Invalid => Answer::Invalid,
        DynamoFailure::Backend(e) if e.to_string().contains("IdempotentParameterMismatch") => Answer::TokenReused,
        DynamoFailure::Backend(e) => Answer::Other(e.to_string()),
    };
    match request {
        Request::Update(i) => {
            port.update_item("update", i).await.map(|o| Answer::Ok(o.attributes)).unwrap_or_else(refused)
        }
        Request::Transact(i) => {
            port.transact_write_items("transact", i).await.map(|_| Answer::Ok(None)).unwrap_or_else(refused)
        }
        Request::Query(i) => port
            .query("query", i)
            .await
            .map(|o| Answer::Ok(Some(query_answer(o.items(), o.last_evaluated_key.is_some()))))
            .unwrap_or_else(refused),
    }
}

/// A query's items as one comparable item: the page in order, and whether there is more.
fn query_answer(items: &[Item], more: bool) -> Item {
    let mut out = Item::new();
    out.insert("items".into(), AttributeValue::L(items.iter().map(|i| AttributeValue::M(i.clone())).collect()));
    out.insert("more".into(), AttributeValue::Bool(more));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_in_memory_dynamodb_answers_as_the_emulator_does() {
    let emulator = testkit::Emulator::start();
    let client = Client::new(&emulator.sdk_config());
    let name = format!("sim-{}", std::process::id());
    let create = table(&name);
    let c = create.clone();
    client
        .create_table()
        .set_table_name(c.table_name)
        .set_billing_mode(c.billing_mode)
        .set_attribute_definitions(c.attribute_definitions)
        .set_key_schema(c.key_schema)
        .set_global_secondary_indexes(c.global_secondary_indexes)
        .send()
        .await
        .expect("create the table on the emulator");
    let mut world = Dynamo::new();
    world.create_table(TableDef::from_create(&create).expect("a table definition"));
    let (emulator_port, world) = (SdkDynamo::new(client.clone()), SimDynamo::new(world));
    let mut differences = Vec::new();
    let all = requests(&name);
    let total = all.len();
    for (i, request) in all.into_iter().enumerate() {
        let there = send(&emulator_port, request.clone()).await;
        let here = send(&world, request).await;
        if there != here {
            differences.push(format!("request {i}: emulator {there:?}\n            in memory {here:?}"));
        }
    }
    assert!(differences.is_empty(), "{} of {total} requests differ:\n{}", differences.len(), differences.join("\n"));
    let _ = client.delete_table().table_name(&name).send().await;
}
