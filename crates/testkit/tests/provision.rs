//! Provisioning an endpoint that already holds a table from an earlier release (`make up
//! EMULATOR_URL=…` against a long-lived emulator): the table gains the list indexes it lacks and
//! keeps its items, so the new routes work on it.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use jobs_aws::provision;
use jobs_aws::resources::{LIST_INDEXES, LIST_SORT_ATTRIBUTE, TABLE_KEY, TENANCY_INDEX};
use testkit::Emulator;

#[tokio::test(flavor = "multi_thread")]
async fn an_older_table_gains_the_missing_list_indexes_and_keeps_its_items() {
    let emulator = Emulator::start();
    let ddb = aws_sdk_dynamodb::Client::new(&emulator.sdk_config());
    let table = format!("{}old", std::env::var("TEST_RESOURCE_PREFIX").unwrap_or_default());
    let key =
        |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().unwrap();
    let string = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().unwrap()
    };
    // The table as the release before `by-submitter` made it: one list index only.
    let (old_index, old_key) = LIST_INDEXES[0];
    ddb.create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string(TABLE_KEY))
        .attribute_definitions(string(old_key))
        .attribute_definitions(string(LIST_SORT_ATTRIBUTE))
        .key_schema(key(TABLE_KEY, KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(old_index)
                .key_schema(key(old_key, KeyType::Hash))
                .key_schema(key(LIST_SORT_ATTRIBUTE, KeyType::Range))
                .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb.put_item()
        .table_name(&table)
        .item(TABLE_KEY, AttributeValue::S("JOB#kept".into()))
        .item("submittedBy", AttributeValue::S("local:ci".into()))
        .item(LIST_SORT_ATTRIBUTE, AttributeValue::S("2026-12-01T10:00:00.000Z".into()))
        .send()
        .await
        .unwrap();

    provision::ensure_table(&ddb, &table).await.expect("provisioning an existing table");
    // Twice: nothing left to add.
    provision::ensure_table(&ddb, &table).await.expect("provisioning is idempotent");

    let described = ddb.describe_table().table_name(&table).send().await.unwrap();
    let mut names: Vec<&str> =
        described.table().unwrap().global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect();
    names.sort();
    let mut want: Vec<&str> = LIST_INDEXES.iter().map(|(name, _)| *name).chain([TENANCY_INDEX]).collect();
    want.sort();
    assert_eq!(names, want, "every list index and the tenancy index, the due index being made only with a new table");
    let kept = ddb.get_item().table_name(&table).key(TABLE_KEY, AttributeValue::S("JOB#kept".into())).send().await;
    assert!(kept.unwrap().item.is_some(), "the table's items are kept");
    // The new index answers (and holds the item written before it existed: DynamoDB backfills).
    let found = ddb
        .query()
        .table_name(&table)
        .index_name("by-submitter")
        .key_condition_expression("submittedBy = :s")
        .expression_attribute_values(":s", AttributeValue::S("local:ci".into()))
        .send()
        .await
        .expect("the by-submitter index answers");
    assert_eq!(found.count(), 1);
    provision::delete_table(&ddb, &table).await.unwrap();
}
