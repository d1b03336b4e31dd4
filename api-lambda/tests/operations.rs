//! The operator routes over HTTP against the emulator: listing and paging, kinds, schedule
//! changes, and the OpenAPI document's exactness. (Cancel and retry with a real worker are in
//! `data-processor/tests/operate.rs`.)

use std::collections::HashSet;
use std::path::Path;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};

async fn start() -> (Stack, Api) {
    let stack = Stack::start().await;
    let api = Api::start(&stack, Path::new(env!("CARGO_BIN_EXE_api-lambda")), &[]).await;
    (stack, api)
}

fn ids(page: &Value) -> Vec<String> {
    page["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap().to_owned()).collect()
}

/// A schema's properties, its `allOf` parts' (followed through their `$ref`s) included.
fn properties(schemas: &Value, name: &str) -> serde_json::Map<String, Value> {
    let schema = &schemas[name];
    let mut all = schema["properties"].as_object().cloned().unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        let inner = match part["$ref"].as_str() {
            Some(r) => properties(schemas, r.trim_start_matches("#/components/schemas/")),
            None => part["properties"].as_object().cloned().unwrap_or_default(),
        };
        all.extend(inner);
    }
    all
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_listed_newest_first_in_pages_and_filtered() {
    let (_stack, api) = start().await;
    let mut submitted = Vec::new();
    for i in 0..25 {
        let body = if i % 5 == 0 { json!({"job": "noop"}) } else { json!({"job": "sleep", "payload": {"ms": i}}) };
        let (status, out) = api.post("/jobs", body).await;
        assert_eq!(status, StatusCode::OK, "{out}");
        submitted.push(out["jobId"].as_str().unwrap().to_owned());
    }
    let newest_first: Vec<String> = submitted.iter().rev().cloned().collect();

    // Pages of 10: 10, 10, 5, then no cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut sizes = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/jobs?limit=10&cursor={c}"),
            None => "/jobs?limit=10".to_owned(),
        };
        let (status, page) = api.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        sizes.push(page["jobs"].as_array().unwrap().len());
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(sizes.len() < 10, "paging never ends");
    }
    assert_eq!(seen, newest_first, "every job once, newest first");
    assert_eq!(&sizes[..3], [10, 10, 5]);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);

    // Each entry has the shape of GET /jobs/{id}.
    let (_, page) = api.get("/jobs?limit=1").await;
    let (_, one) = api.get(&format!("/jobs/{}", submitted[24])).await;
    assert_eq!(page["jobs"][0], one);
    assert_eq!(one["attemptHistory"], json!([]));

    // Default page size 20; filters by kind and status (and both).
    let (_, page) = api.get("/jobs").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 20);
    let (_, noops) = api.get("/jobs?kind=noop").await;
    assert_eq!(
        ids(&noops),
        newest_first
            .iter()
            .enumerate()
            .filter(|(i, _)| (24 - i) % 5 == 0)
            .map(|(_, id)| id.clone())
            .collect::<Vec<_>>()
    );
    let (_, queued) = api.get("/jobs?status=QUEUED&kind=noop&limit=2").await;
    assert_eq!(ids(&queued), ids(&noops)[..2].to_vec());
    let next = queued["nextCursor"].as_str().unwrap().to_owned();
    let (_, rest) = api.get(&format!("/jobs?status=QUEUED&kind=noop&limit=2&cursor={next}")).await;
    assert_eq!(ids(&rest), ids(&noops)[2..4].to_vec());
    let (_, none) = api.get("/jobs?status=FAILED").await;
    assert_eq!((none["jobs"].clone(), none["nextCursor"].clone()), (json!([]), Value::Null));

    // Bad filters and cursors are 400s with a code.
    let cases = [
        ("/jobs?limit=0", "invalid_limit"),
        ("/jobs?limit=101", "invalid_limit"),
        ("/jobs?limit=x", "invalid_limit"),
        ("/jobs?status=DONE", "invalid_filter"),
        ("/jobs?kind=teleport", "invalid_filter"),
        ("/jobs?schedule=a%20b", "invalid_filter"),
        ("/jobs?cursor=nonsense", "invalid_cursor"),
        ("/jobs?color=red", "invalid_query"),
    ];
    for (path, want) in cases {
        let (status, body) = api.get(path).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, want), "{path}: {body}");
    }
    // A cursor belongs to its filters.
    let (status, body) = api.get(&format!("/jobs?status=FAILED&cursor={next}")).await;
    assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_cursor"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kinds_list_their_schemas_and_policies_and_bodies_must_name_a_kind() {
    let (_stack, api) = start().await;
    let (status, kinds) = api.get("/jobs/kinds").await;
    assert_eq!(status, StatusCode::OK);
    let kinds = kinds["kinds"].as_array().unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["noop", "sleep", "fail", "flaky", "aggregate", "hang", "ping", "report", "shell"]);
    let runtimes: Vec<&str> = kinds.iter().map(|k| k["runtime"].as_str().unwrap()).collect();
    assert_eq!(runtimes, ["rust", "rust", "rust", "rust", "rust", "rust", "rust", "command", "command"]);
    let sleep = &kinds[1];
    assert_eq!(sleep["example"], json!({"ms": 2000}));
    assert!(sleep.get("command").is_none(), "{sleep}");
    let report = &kinds[7];
    assert_eq!(report["command"]["command"], json!(["python3", "report.py"]));
    assert_eq!(report["command"]["permanentExitCodes"], json!([3]));
    assert_eq!(report["payloadSchema"]["required"], json!(["campaign"]), "the schema as declared");
    assert_eq!(report["policy"]["timeoutSecs"], 600);
    assert_eq!(sleep["payloadSchema"]["required"], json!(["ms"]));
    assert_eq!(sleep["payloadSchema"]["properties"]["ms"]["maximum"], json!(43_200_000));
    // sleep runs in the long pool: its attempts may last the pool's 12 hours.
    assert_eq!(
        sleep["policy"],
        json!({"maxAttempts": 3, "backoffBaseSecs": 2, "backoffMaxSecs": 900, "timeoutSecs": 43_200, "startDeadlineSecs": null})
    );
    // A command kind has a start deadline (its pool declares none: the default hour).
    assert_eq!(report["policy"]["startDeadlineSecs"], 3600);
    let pools: Vec<&str> = kinds.iter().map(|k| k["pool"].as_str().unwrap()).collect();
    assert_eq!(pools, ["default", "long", "default", "default", "large", "default", "short", "default", "default"]);

    // The pools: each one's shape and limits from the config, its kinds, its queues now.
    let (status, list) = api.get("/jobs/pools").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let pools = list["pools"].as_array().unwrap();
    let names: Vec<&str> = pools.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "large", "long", "short"]);
    let long = &pools[2];
    assert_eq!(
        (long["capacity"].as_str(), long["timeLimitSecs"].as_u64(), long["activeDeadlineSecs"].as_u64()),
        (Some("on-demand"), Some(43_200), Some(300 + 43_200 + 60))
    );
    assert_eq!(long["kinds"], json!(["sleep"]));
    assert_eq!(pools[3]["execution"], json!({"mode": "drain", "maxJobs": 1000, "maxMinutes": 10}));
    assert_eq!(pools[1]["cpu"], json!({"request": "2", "limit": "4"}));
    let (status, _) = api.post("/jobs", json!({"job": "sleep", "payload": {"ms": 1}, "priority": "high"})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = api.get("/jobs/pools").await;
    let long = &list["pools"][2];
    assert_eq!(
        (long["waiting"].as_u64(), long["high"]["waiting"].as_u64(), long["normal"]["waiting"].as_u64()),
        (Some(1), Some(1), Some(0)),
        "{long}"
    );
    assert_eq!(kinds[3]["policy"]["maxAttempts"], 11, "flaky allows all its planned failures");
    // Every kind's example is a payload it takes.
    for kind in kinds {
        let body = json!({"job": kind["name"], "payload": kind["example"]});
        let (status, out) = api.post("/jobs", body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {out}");
    }

    for (body, want) in [
        (json!({}), "missing_job"),
        (json!({"payload": {"records": 5}}), "missing_job"),
        (json!({"job": "sleep", "payload": {}}), "invalid_payload"),
    ] {
        let (status, out) = api.post("/jobs", body.clone()).await;
        assert_eq!((status, code(&out)), (StatusCode::BAD_REQUEST, want), "{body}: {out}");
    }
    // A command kind's payload is checked against its schema before anything is recorded; the
    // error names the failing place.
    let (_, before) = api.get("/jobs/stats").await;
    for (payload, place) in [
        (json!({"campaign": "spring", "channels": ["email", "fax"]}), "/channels/1: "),
        (json!({"campaign": "Spring Sale"}), "/campaign: "),
        (json!({}), "\"campaign\" is a required property"),
    ] {
        let (status, out) = api.post("/jobs", json!({"job": "report", "payload": payload})).await;
        assert_eq!((status, code(&out)), (StatusCode::BAD_REQUEST, "invalid_payload"), "{payload}: {out}");
        assert!(out["error"]["message"].as_str().unwrap().contains(place), "{payload}: {out}");
    }
    let (_, after) = api.get("/jobs/stats").await;
    assert!(before["submitted"].is_u64(), "{before}");
    assert_eq!(before["submitted"], after["submitted"], "nothing recorded");
    let (status, _) = api.call(Method::POST, "/jobs", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "no body still runs the default kind");
    // Malformed ids on the job routes.
    for path in ["/jobs/a%20b/cancel", "/jobs/a%20b/retry"] {
        let (status, body) = api.call(Method::POST, path, None, &[]).await;
        assert_eq!((status, code(&body)), (StatusCode::BAD_REQUEST, "invalid_job_id"), "{path}");
    }
    let (status, body) = api.call(Method::POST, "/jobs/missing/retry", None, &[]).await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_paused_resumed_and_changed_in_place() {
    let (stack, api) = start().await;
    let (status, created) = api
        .post(
            "/jobs/schedule",
            json!({"name": "nightly", "cron": "0 2 * * *", "job": "aggregate", "payload": {"records": 10}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!((created["overlap"].as_str(), created["state"].as_str()), (Some("allow"), Some("ENABLED")));
    let patch = |body: Value| {
        let api = &api;
        async move { api.call(Method::PATCH, "/jobs/schedules/nightly", Some(body.to_string()), &[]).await }
    };

    let (status, paused) = patch(json!({"state": "DISABLED"})).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!((paused["state"].as_str(), paused["nextFireTimes"].clone()), (Some("DISABLED"), json!([])));
    assert_eq!(paused["payload"], json!({"records": 10, "seed": 42}), "the rest stays");
    let (_, read) = api.get("/jobs/schedules/nightly").await;
    assert_eq!((read["state"].as_str(), read["lastRun"].clone()), (Some("DISABLED"), Value::Null));

    let (status, changed) = patch(json!({"state": "ENABLED", "cron": "30 6 * * MON", "timezone": "Europe/Berlin", "payload": {"records": 99}, "overlap": "forbid"})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["expression"], "cron(30 6 ? * MON *)");
    assert_eq!((changed["timezone"].as_str(), changed["overlap"].as_str()), (Some("Europe/Berlin"), Some("forbid")));
    assert!(changed["nextFireTimes"][0].as_str().unwrap().contains("T06:30:00+0"), "{changed}");
    // The Scheduler holds what the API says: the template carries the new payload and overlap.
    let stored = aws_sdk_scheduler::Client::new(&stack.sdk)
        .get_schedule()
        .name("nightly")
        .group_name(&stack.resources.schedule_group)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(stored.target.unwrap().input.as_deref().unwrap()).unwrap();
    assert_eq!(
        (input["payload"].clone(), input["overlap"].clone()),
        (json!({"records": 99, "seed": 42}), json!("forbid"))
    );
    assert_eq!(stored.state.map(|s| s.as_str().to_owned()).as_deref(), Some("ENABLED"));
    let (_, read) = api.get("/jobs/schedules/nightly").await;
    assert_eq!(read["expression"], changed["expression"]);

    // Bad changes are 400s and change nothing.
    for (body, want) in [
        (json!({"cron": "61 * * * *"}), "invalid_schedule"),
        (json!({"timezone": "Mars/Olympus"}), "invalid_timezone"),
        (json!({"payload": {"records": 0}}), "invalid_payload"),
        (json!({"state": "PAUSED"}), "invalid_field"),
        (json!({"name": "other"}), "invalid_field"),
    ] {
        let (status, out) = patch(body.clone()).await;
        assert_eq!((status, code(&out)), (StatusCode::BAD_REQUEST, want), "{body}: {out}");
    }
    let (_, after) = api.get("/jobs/schedules/nightly").await;
    assert_eq!(after["expression"], changed["expression"]);
    let (status, out) = api.call(Method::PATCH, "/jobs/schedules/missing", Some("{}".into()), &[]).await;
    assert_eq!((status, code(&out)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, out) = api.call(Method::PATCH, "/jobs/schedules/a%20b", Some("{}".into()), &[]).await;
    assert_eq!((status, code(&out)), (StatusCode::BAD_REQUEST, "invalid_name"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_is_exact_about_kinds_nulls_and_bounds() {
    let (_stack, api) = start().await;
    let (status, doc) = api.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    let request = &schemas["JobRequest"];
    assert_eq!(request["discriminator"]["propertyName"], "job");
    assert_eq!(request["oneOf"].as_array().unwrap().len(), jobs_core::kinds().len());
    let sleep = &schemas["sleepJob"];
    assert_eq!(sleep["required"], json!(["job", "payload"]), "sleep needs its payload: {sleep}");
    assert_eq!(sleep["properties"]["payload"]["additionalProperties"], json!(false));
    assert!(schemas["noopJob"]["properties"]["payload"]["oneOf"].is_array(), "an all-defaults payload may be null");
    // A job's view composes what was asked and where it stands; nullable fields say so.
    let parts: Vec<&str> =
        schemas["JobView"]["allOf"].as_array().unwrap().iter().filter_map(|p| p["$ref"].as_str()).collect();
    assert_eq!(parts, ["#/components/schemas/JobDescription", "#/components/schemas/JobProgress"]);
    let declared = properties(schemas, "JobView");
    for nullable in ["result", "payload", "startedAt", "retryOf"] {
        let field = &declared[nullable];
        assert!(field.to_string().contains("null"), "{nullable} is nullable: {field}");
    }
    assert_eq!(declared["holdsSlot"]["type"], "boolean");
    // A served job has exactly the declared keys, every one present (nulls included).
    let (_, accepted) = api.post("/jobs", json!({"job": "sleep", "payload": {"ms": 5}})).await;
    let (status, job) = api.get(&format!("/jobs/{}", accepted["jobId"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    let served: HashSet<&String> = job.as_object().unwrap().keys().collect();
    assert_eq!(served, declared.keys().collect::<HashSet<_>>(), "{job}");
    // Patterns and bounds on ids, names, limits.
    let params = doc["paths"]["/jobs"]["get"]["parameters"].as_array().unwrap();
    let limit = params.iter().find(|p| p["name"] == "limit").unwrap();
    assert_eq!((limit["schema"]["minimum"].clone(), limit["schema"]["maximum"].clone()), (json!(1), json!(100)));
    let id = &doc["paths"]["/jobs/{id}"]["get"]["parameters"][0];
    assert_eq!(id["schema"]["pattern"], "^[A-Za-z0-9._:-]{1,128}$");
    for path in ["/jobs/{id}/cancel", "/jobs/{id}/retry", "/jobs/kinds", "/jobs/schedules/{name}"] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
    assert!(doc["paths"]["/jobs/schedules/{name}"]["patch"].is_object());
}
