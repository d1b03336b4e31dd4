//! The OpenAPI 3.1 document, generated from the handlers and types, then made exact where derives
//! cannot say it: `POST /jobs` takes one of the kinds, each with its own payload schema,
//! discriminated by `job`.

use axum::Json;
use jobs_core::catalog::Runtime;
use jobs_core::catalog::kinds as all_kinds;
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes::{jobs, kinds, overview, pools, schedules, tenants};
use crate::views;

#[derive(OpenApi)]
#[openapi(
    info(title = "keda-sqs-jobs API", description = "Enqueue, list, cancel and retry jobs, schedule them with cron, read their status, history and the counters. In AWS every route but /openapi.json uses IAM authorization (SigV4); locally an optional bearer token (API_TOKEN)."),
    paths(
        jobs::create_job, jobs::list_jobs, jobs::get_job, jobs::cancel_job, jobs::retry_job, jobs::stats,
        crate::routes::logs::run_log,
        overview::overview, overview::throughput,
        kinds::list_kinds, pools::list_pools,
        schedules::create_schedule, schedules::create_schedule_alias, schedules::list_schedules, schedules::get_schedule, schedules::patch_schedule,
        schedules::delete_schedule,
        tenants::list_tenants, tenants::get_tenant, tenants::put_tenant, tenants::delete_tenant,
    ),
    components(schemas(
        jobs::JobRequest, views::JobAccepted, views::JobView, views::JobList, jobs_core::JobStatus, views::StatsView,
        views::OverviewView, views::OpenView, views::OpenCountView, views::OldestView, views::ThroughputView,
        views::MinuteView, views::KindMinuteView,
        views::KindList, views::KindView, views::PolicyView, views::CommandView, jobs_core::catalog::Runtime, views::PoolList, views::PoolView, views::QueueDepthView,
        jobs_core::pools::Capacity, jobs_core::pools::Execution, jobs_core::pools::Resource, jobs_core::pools::Priority,
        jobs::RetryRequest, views::ScheduleState, views::LastRun,
        schedules::ScheduleBody, schedules::SchedulePatch, views::ScheduleView, views::ScheduleList,
        views::AttemptView, views::AttemptOutcome, jobs_core::Overlap,
        views::TenantView, views::TenantList, views::TenantUsageView, jobs_core::tenants::Limits, jobs_core::tenants::Settings, jobs_core::tenants::limits::Patch,
        ErrorBody, ErrorDetail,
    )),
    tags((name = "jobs", description = "Jobs, kinds and counters"), (name = "schedules", description = "Cron schedules (EventBridge Scheduler)"), (name = "tenants", description = "Tenants' limits and usage (docs/tenants.md)")),
)]
pub struct ApiDoc;

/// The document as served.
pub fn document_value() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    let schemas = &mut doc["components"]["schemas"];
    let mut variants = Vec::new();
    for kind in all_kinds() {
        let mut payload = kind.schema.clone();
        if kind.runtime == Runtime::Rust {
            // Their payload types refuse unknown fields; a command kind's schema says for itself.
            payload["additionalProperties"] = Value::Bool(false);
        }
        // A payload whose fields all have defaults may be omitted or null.
        let needs_payload = payload["required"].as_array().is_some_and(|r| !r.is_empty());
        let title = format!("{}Job", kind.name.replace('-', "_"));
        let mut request = json!({
            "type": "object",
            "description": kind.description,
            "required": ["job"],
            "properties": {
                "job": { "type": "string", "enum": [kind.name] },
                "priority": { "oneOf": [{ "$ref": "#/components/schemas/Priority" }, { "type": "null" }] },
            },
            "additionalProperties": false,
        });
        if needs_payload {
            request["required"] = json!(["job", "payload"]);
            request["properties"]["payload"] = payload;
        } else {
            request["properties"]["payload"] = json!({ "oneOf": [payload, { "type": "null" }] });
        }
        schemas[&title] = request;
        variants.push(json!({ "$ref": format!("#/components/schemas/{title}") }));
    }
    let mapping: serde_json::Map<String, Value> = all_kinds()
        .iter()
        .map(|k| (k.name.to_owned(), json!(format!("#/components/schemas/{}Job", k.name.replace('-', "_")))))
        .collect();
    // Kind names are a closed set: say so wherever one is named.
    let names: Vec<&str> = all_kinds().iter().map(|k| k.name).collect();
    schemas["ScheduleBody"]["properties"]["job"] = json!({ "type": ["string", "null"], "enum": names.iter().map(|n| json!(n)).chain([Value::Null]).collect::<Vec<_>>() });
    if let Some(params) = doc["paths"]["/jobs"]["get"]["parameters"].as_array_mut() {
        for p in params.iter_mut().filter(|p| p["name"] == "kind") {
            p["schema"] = json!({ "type": "string", "enum": names });
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    schemas["JobRequest"] = json!({
        "description": "A job: its kind (`job`) and the kind's payload (omitted fields take their defaults). No body at all runs the default kind (aggregate) with its defaults.",
        "oneOf": variants,
        "discriminator": { "propertyName": "job", "mapping": mapping },
    });
    doc
}

/// `GET /openapi.json`
pub async fn document() -> Json<Value> {
    Json(document_value())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The document's bounds of a tenant's limits are the ones the API checks: a value the
    /// document allows is never refused.
    #[test]
    fn the_limits_bounds_are_the_checked_ones() {
        use jobs_core::tenants::limits::{MAX_LIMIT, MAX_WEIGHT};
        let doc = document_value();
        let patch = &doc["components"]["schemas"]["Patch"]["properties"];
        for (field, lo, hi) in
            [("maxRunning", 0, MAX_LIMIT), ("maxStartsPerMinute", 0, MAX_LIMIT), ("weight", 1, MAX_WEIGHT)]
        {
            assert_eq!(
                (patch[field]["minimum"].as_u64(), patch[field]["maximum"].as_u64()),
                (Some(lo), Some(hi.into())),
                "{field}: {patch}"
            );
        }
    }

    /// API Gateway sends only the routes the stack lists to the Lambda: every documented operation
    /// must be one of them (and the stack lists no other), or it answers 404 in AWS alone.
    #[test]
    fn the_api_stack_routes_every_documented_operation() {
        let stack =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../infra-cdk8s/src/stacks/api-stack.ts"))
                .expect("the API stack's source");
        let routed: BTreeSet<(String, String)> = stack
            .lines()
            .filter_map(|l| l.trim().strip_prefix("[apigwv2.HttpMethod."))
            .filter_map(|l| {
                let (method, rest) = l.split_once(", '")?;
                Some((method.to_lowercase(), rest.split_once('\'')?.0.to_owned()))
            })
            .collect();
        let doc = document_value();
        let mut documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
            .collect();
        documented.insert(("get".into(), "/openapi.json".into()));
        assert_eq!(routed, documented);
    }
}
