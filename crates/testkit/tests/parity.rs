//! Local and cloud cannot drift: the resources `provision` creates on the emulator (what the tests
//! and the local stack run on) have the attributes the CDK `JobsData` stack declares.
//!
//! Reads the synthesized template, so it is ignored by a plain `cargo test`; `make test-infra`
//! synthesizes and runs it (CDK_TEMPLATE overrides the template path).

use std::path::PathBuf;

use aws_sdk_sqs::types::QueueAttributeName as A;
use jobs_aws::provision;
use serde_json::Value;
use testkit::Emulator;

fn template() -> Value {
    let path = std::env::var("CDK_TEMPLATE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../infra-cdk8s/cdk.out/JobsData.template.json")
    });
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make synth` first)", path.display()));
    serde_json::from_str(&text).expect("template is JSON")
}

/// The one resource of `kind` whose properties satisfy `pick`.
fn resource<'a>(t: &'a Value, kind: &str, pick: impl Fn(&Value) -> bool) -> &'a Value {
    let found: Vec<&Value> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == kind && pick(&r["Properties"]))
        .map(|r| &r["Properties"])
        .collect();
    assert_eq!(found.len(), 1, "exactly one {kind} expected");
    found[0]
}

fn num(v: &Value) -> u64 {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `[ {k1: .., k2: ..}, .. ]` of the template as (k1, k2) pairs.
/// A secondary index: name, key schema, projection.
type Index = (String, Vec<(String, String)>, String);

fn pairs(list: &Value, k1: &str, k2: &str) -> Vec<(String, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| (x[k1].as_str().unwrap().to_owned(), x[k2].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs infra-cdk8s/cdk.out: run by `make test-infra`"]
async fn provisioned_resources_match_the_cdk_data_stack() {
    let t = template();
    let table = resource(&t, "AWS::DynamoDB::GlobalTable", |_| true);
    let group = resource(&t, "AWS::Scheduler::ScheduleGroup", |_| true);
    let table_name = table["TableName"].as_str().unwrap();
    let group_name = group["Name"].as_str().unwrap();
    // Every lane's queues, named after the default pool's (the app's name, as the table's).
    let queues: Vec<&Value> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::SQS::Queue")
        .map(|r| &r["Properties"])
        .collect();
    let queue_name = table_name;

    let emulator = Emulator::start();
    let sdk = emulator.sdk_config();
    let made = provision::ensure(&sdk, queue_name, table_name, group_name).await.expect("provision");

    // Queues: the same set of names, each with the template's attributes.
    let name_of = |url: &str| url.rsplit('/').next().unwrap().to_owned();
    let mut local: Vec<String> = made.queues.iter().map(|u| name_of(u)).collect();
    let mut cloud: Vec<String> = queues.iter().map(|q| q["QueueName"].as_str().unwrap().to_owned()).collect();
    local.sort();
    cloud.sort();
    assert_eq!(local, cloud, "provision makes every queue the data stack declares, and no other");
    let lanes = jobs_core::catalog::lanes().len();
    assert_eq!(
        cloud.len(),
        2 * lanes + jobs_core::pools::pools().iter().count(),
        "normal and high per lane (pool, command kind), a DLQ per pool"
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let attrs = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes().queue_url(url).attribute_names(A::All).send().await.unwrap().attributes.unwrap()
        }
    };
    // The template names a queue's DLQ by logical id: its properties' QueueName.
    let by_id = |id: &str| t["Resources"][id]["Properties"]["QueueName"].as_str().unwrap().to_owned();
    for q in &queues {
        let name = q["QueueName"].as_str().unwrap();
        let url = made.queues.iter().find(|u| name_of(u) == name).unwrap().clone();
        let a = attrs(url).await;
        assert_eq!(num(&a[&A::MessageRetentionPeriod].as_str().into()), num(&q["MessageRetentionPeriod"]), "{name}");
        assert_eq!(q["SqsManagedSseEnabled"], Value::Bool(true), "{name}");
        assert_eq!(a.get(&A::SqsManagedSseEnabled).map(String::as_str), Some("true"), "SSE-SQS on {name}");
        match q.get("RedrivePolicy") {
            Some(policy) => {
                assert_eq!(num(&a[&A::VisibilityTimeout].as_str().into()), num(&q["VisibilityTimeout"]), "{name}");
                let redrive: Value = serde_json::from_str(&a[&A::RedrivePolicy]).unwrap();
                assert_eq!(num(&redrive["maxReceiveCount"]), num(&policy["maxReceiveCount"]), "{name}");
                let target = by_id(policy["deadLetterTargetArn"]["Fn::GetAtt"][0].as_str().unwrap());
                assert!(
                    redrive["deadLetterTargetArn"].as_str().unwrap().ends_with(&format!(":{target}")),
                    "{name}: {redrive}"
                );
            }
            None => assert!(!a.contains_key(&A::RedrivePolicy), "the DLQ {name} redrives nowhere"),
        }
    }

    // Table
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let desc = ddb.describe_table().table_name(table_name).send().await.unwrap().table.unwrap();
    let keys: Vec<(String, String)> =
        desc.key_schema().iter().map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned())).collect();
    assert_eq!(keys, pairs(&table["KeySchema"], "AttributeName", "KeyType"));
    let mut types: Vec<(String, String)> = desc
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
        .collect();
    let mut want = pairs(&table["AttributeDefinitions"], "AttributeName", "AttributeType");
    types.sort();
    want.sort();
    assert_eq!(types, want);
    // The reconciler's due index and the list indexes: names, keys, projections.
    let mut indexes: Vec<Index> = desc
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let keys = i
                .key_schema()
                .iter()
                .map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned()))
                .collect();
            let projection = i.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_owned());
            (i.index_name().unwrap_or_default().to_owned(), keys, projection.unwrap_or_default())
        })
        .collect();
    let mut template_indexes: Vec<Index> = table["GlobalSecondaryIndexes"]
        .as_array()
        .expect("the template declares the due index")
        .iter()
        .map(|i| {
            (
                i["IndexName"].as_str().unwrap().to_owned(),
                pairs(&i["KeySchema"], "AttributeName", "KeyType"),
                i["Projection"]["ProjectionType"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    indexes.sort();
    template_indexes.sort();
    assert_eq!(indexes.len(), 2 + jobs_aws::resources::LIST_INDEXES.len(), "due + the list indexes + tenancy");
    assert_eq!(indexes.len(), 8, "due + 6 list indexes + tenancy (the newest)");
    assert_eq!(indexes, template_indexes);
    let billing = desc.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str().to_owned());
    assert_eq!(billing.as_deref(), table["BillingMode"].as_str());
    let ttl = ddb.describe_time_to_live().table_name(table_name).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), table["TimeToLiveSpecification"]["AttributeName"].as_str());
    assert_eq!(table["TimeToLiveSpecification"]["Enabled"], Value::Bool(true));
    assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));

    // Schedule group
    let scheduler = aws_sdk_scheduler::Client::new(&sdk);
    let g = scheduler.get_schedule_group().name(group_name).send().await.expect("schedule group exists");
    assert_eq!(g.name(), Some(group_name));
}
