//! The API binary served locally, tested over HTTP against a real emulator.

use std::path::Path;
use std::time::Duration;

use aws_sdk_scheduler::types::FlexibleTimeWindowMode;
use jobs_aws::Scheduler as _;
use jobs_core::pools::Priority;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};
use tokio::process::Command;

async fn start_api(stack: &Stack, extra: &[(&str, &str)]) -> Api {
    Api::start(stack, Path::new(env!("CARGO_BIN_EXE_api-lambda")), extra).await
}

/// Sends raw request bytes and reads the whole response: (status, JSON body).
async fn raw(api: &Api, request: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(api.base.trim_start_matches("http://")).await.unwrap();
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the whole JSON body is in (the server may keep the connection open).
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk)).await.expect("response").unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if n == 0 || text.split_once("\r\n\r\n").is_some_and(|(_, b)| serde_json::from_str::<Value>(b).is_ok()) {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The messages on every pool's queues (left there).
async fn queue_bodies(stack: &Stack) -> Vec<Value> {
    stack.queued().await.into_iter().map(|q| q.body).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn post_jobs_enqueues_and_get_job_reads_it() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;

    // No body at all: the default kind, as `curl -X POST /jobs` in the original design.
    let (status, body) = api.call(Method::POST, "/jobs", None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "QUEUED");
    let id = body["jobId"].as_str().unwrap().to_owned();

    let (status, job) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert_eq!(
        (job["status"].as_str(), job["job"].as_str(), job["attempts"].as_u64()),
        (Some("QUEUED"), Some("aggregate"), Some(0))
    );
    assert_eq!(job["payload"], json!({"records": 100000, "seed": 42}));
    assert_eq!(job["source"], "api");
    assert_eq!(job["submittedBy"], "local", "the local API without a token");

    let (status, body) = api.post("/jobs", json!({"job": "sleep", "payload": {"ms": 5}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, high) = api.post("/jobs", json!({"job": "ping", "priority": "high"})).await;
    assert_eq!(status, StatusCode::OK, "{high}");
    let (status, report) = api.post("/jobs", json!({"job": "report", "payload": {"campaign": "x"}})).await;
    assert_eq!(status, StatusCode::OK, "{report}");

    // Each job on its kind's lane's queue of its priority: its pool's, a command kind's own.
    let mut messages = stack.queued().await;
    messages.sort_by(|a, b| (&a.lane, a.priority).cmp(&(&b.lane, b.priority)));
    let seen: Vec<(&str, Priority, &str)> =
        messages.iter().map(|q| (q.lane.as_str(), q.priority, q.body["job"].as_str().unwrap())).collect();
    assert_eq!(
        seen,
        [
            ("large", Priority::Normal, "aggregate"),
            ("long", Priority::Normal, "sleep"),
            ("report", Priority::Normal, "report"),
            ("short", Priority::High, "ping")
        ]
    );
    assert!(messages.iter().any(|q| q.body["jobId"] == id.as_str()));
    assert!(messages.iter().any(|q| q.body["job"] == "sleep" && q.body["payload"] == json!({"ms": 5})));
    assert!(messages.iter().all(|q| (q.priority == Priority::High) == (q.body["priority"] == "high")), "{messages:?}");
    let (_, job) = api.get(&format!("/jobs/{}", high["jobId"].as_str().unwrap())).await;
    assert_eq!((job["priority"].as_str(), job["pool"].as_str()), (Some("high"), Some("short")), "{job}");
    let (_, job) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!((job["priority"].as_str(), job["pool"].as_str()), (Some("normal"), Some("large")), "{job}");
    let (_, job) = api.get(&format!("/jobs/{}", report["jobId"].as_str().unwrap())).await;
    assert_eq!(job["pool"].as_str(), Some("default"), "a command kind's pool: {job}");
    let (status, err) = api.post("/jobs", json!({"job": "noop", "priority": "urgent"})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_field")), "{err}");

    let (status, stats) = api.get("/jobs/stats").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats["submitted"], 4, "the refused priority recorded nothing");
    assert_eq!(
        (stats["succeedJob"].as_u64(), stats["failedJob"].as_u64(), stats["jobRetry"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    // Every lane's queues count (the report job waits on its own).
    assert_eq!(stats["queued"].as_u64().unwrap() + stats["inFlight"].as_u64().unwrap(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_a_json_4xx_and_change_nothing() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;
    let long_message = json!({"job": "fail", "payload": {"message": "x".repeat(300_000)}}).to_string();
    /// (method, path, body, headers, expected status, expected error code)
    type Case<'a> = (Method, &'a str, Option<String>, Vec<(&'a str, &'a str)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (Method::POST, "/jobs", Some("not json".into()), vec![], StatusCode::BAD_REQUEST, "invalid_json"),
        (
            Method::POST,
            "/jobs",
            Some(r#"{"job":"sleep","extra":1}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (Method::POST, "/jobs", Some(r#"{"job":"teleport"}"#.into()), vec![], StatusCode::BAD_REQUEST, "unknown_kind"),
        (
            Method::POST,
            "/jobs",
            Some(r#"{"job":"sleep","payload":{"ms":-1}}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (Method::POST, "/jobs", Some(r#"{"job":"sleep"}"#.into()), vec![], StatusCode::BAD_REQUEST, "invalid_payload"),
        (Method::POST, "/jobs", Some(long_message), vec![], StatusCode::BAD_REQUEST, "invalid_payload"),
        (
            Method::POST,
            "/jobs",
            None,
            vec![("Idempotency-Key", "bad key")],
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
        ),
        (Method::GET, "/jobs/0193a0c0-7e1f-7000-8000-000000000000", None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/jobs/bad%20id", None, vec![], StatusCode::BAD_REQUEST, "invalid_job_id"),
        (Method::DELETE, "/jobs", None, vec![], StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (Method::PUT, "/jobs/stats", None, vec![], StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (Method::GET, "/jobs/schedule", None, vec![], StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (Method::GET, "/nothing/here", None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (Method::GET, "/jobs/throughput?minutes=0", None, vec![], StatusCode::BAD_REQUEST, "invalid_query"),
        (Method::GET, "/jobs/throughput?minutes=61", None, vec![], StatusCode::BAD_REQUEST, "invalid_query"),
        (Method::GET, "/jobs/throughput?hours=1", None, vec![], StatusCode::BAD_REQUEST, "invalid_query"),
        (Method::POST, "/jobs/overview", None, vec![], StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        (Method::POST, "/jobs/schedule", Some("{}".into()), vec![], StatusCode::BAD_REQUEST, "invalid_field"),
        (Method::POST, "/jobs/schedules", Some("{".into()), vec![], StatusCode::BAD_REQUEST, "invalid_json"),
        (Method::POST, "/jobs", Some(r#"{"job":5}"#.into()), vec![], StatusCode::BAD_REQUEST, "invalid_field"),
        (Method::GET, "/jobs/x/runs/0/log", None, vec![], StatusCode::BAD_REQUEST, "invalid_run"),
        (Method::GET, "/jobs/x/runs/1/log", None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"0 0 1 * MON"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_schedule",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"61 * * * *"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_schedule",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"0 0 31 2 *"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_schedule",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"cron(0 7 * * MON *)"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_schedule",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"0 7 * * MON","timezone":"Mars/Olympus"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_timezone",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"0 7 * * MON","job":"teleport"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "unknown_kind",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"0 7 * * MON","name":"bad name"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (Method::GET, "/jobs/schedules/nope", None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (Method::DELETE, "/jobs/schedules/nope", None, vec![], StatusCode::NOT_FOUND, "not_found"),
        (
            Method::PATCH,
            "/jobs/schedules/nope",
            Some(r#"{"state":"DISABLED"}"#.into()),
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        // A character SQS does not carry: recorded, the job could never be sent.
        (
            Method::POST,
            "/jobs",
            Some(r#"{"job":"fail","payload":{"message":"\uffff"}}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "unsendable_payload",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"rate(1 hour)","job":"fail","payload":{"message":"\ufffe"}}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "unsendable_payload",
        ),
        // Periods past any date a clock can hold (these used to panic the server).
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"rate(99999999 days)"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_schedule",
        ),
        (
            Method::POST,
            "/jobs/schedule",
            Some(r#"{"cron":"rate(18446744073709551615 minutes)"}"#.into()),
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_schedule",
        ),
    ];
    for (method, path, body, headers, want_status, want_code) in cases {
        let (status, value) = api.call(method.clone(), path, body, &headers).await;
        assert_eq!(status, want_status, "{method} {path}: {value}");
        assert_eq!(value["error"]["code"], want_code, "{method} {path}: {value}");
        assert!(!value["error"]["message"].as_str().unwrap_or_default().is_empty(), "{method} {path}: {value}");
    }
    // Over 1 MiB: refused from the headers alone, before the body is read. (Sent raw: a client
    // uploading the whole body would race the server's close after its early answer.)
    let (status, value) = raw(&api, "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2097152\r\n\r\n").await;
    assert_eq!((status, value["error"]["code"].as_str()), (413, Some("payload_too_large")), "{value}");

    // Nothing was recorded, enqueued or scheduled.
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!(stats["submitted"], 0, "{stats}");
    assert!(queue_bodies(&stack).await.is_empty());
    let (_, list) = api.get("/jobs/schedules").await;
    assert_eq!(list["schedules"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotency_key_returns_the_same_job() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;
    let body = json!({"job": "noop"}).to_string();
    let key = [("Idempotency-Key", "order-42")];
    let (s1, first) = api.call(Method::POST, "/jobs", Some(body.clone()), &key).await;
    let (s2, second) = api.call(Method::POST, "/jobs", Some(body.clone()), &key).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(first["jobId"], second["jobId"]);
    assert_eq!(queue_bodies(&stack).await.len(), 1, "the replay enqueued nothing");

    let other = json!({"job": "sleep", "payload": {"ms": 1}}).to_string();
    let (status, err) = api.call(Method::POST, "/jobs", Some(other), &key).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(err["error"]["code"], "idempotency_key_reused");

    let (status, third) = api.call(Method::POST, "/jobs", Some(body), &[("Idempotency-Key", "order-43")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(third["jobId"], first["jobId"]);
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!(stats["submitted"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_are_created_listed_read_and_deleted() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;
    let request = json!({"cron": "0 7 * * MON", "timezone": "Europe/Berlin", "name": "weekly-report", "job": "sleep", "payload": {"ms": 10}});
    let (status, created) = api.post("/jobs/schedule", request.clone()).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["expression"], "cron(0 7 ? * MON *)");
    assert_eq!(created["timezone"], "Europe/Berlin");
    let times = created["nextFireTimes"].as_array().unwrap();
    assert_eq!(times.len(), 5);
    for t in times {
        let t = chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap()).unwrap();
        assert_eq!((t.format("%a %H:%M").to_string()), "Mon 07:00", "{t}");
    }

    // Exactly what EventBridge Scheduler holds.
    let scheduler = aws_sdk_scheduler::Client::new(&stack.sdk);
    let stored = scheduler
        .get_schedule()
        .name("weekly-report")
        .group_name(&stack.resources.schedule_group)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.schedule_expression(), Some("cron(0 7 ? * MON *)"));
    assert_eq!(stored.schedule_expression_timezone(), Some("Europe/Berlin"));
    assert_eq!(stored.flexible_time_window().unwrap().mode(), &FlexibleTimeWindowMode::Off);
    let target = stored.target().unwrap();
    // The queue of the kind's pool (sleep: long), of the schedule's priority.
    assert_eq!(target.arn(), stack.queues.get("long", Priority::Normal).arn().await.unwrap());
    assert_eq!(target.role_arn(), testkit::SCHEDULER_ROLE_ARN);
    assert_eq!((created["pool"].as_str(), created["priority"].as_str()), (Some("long"), Some("normal")));
    let input: Value = serde_json::from_str(target.input().unwrap()).unwrap();
    // The job id follows from the schedule and the scheduled time (one firing, one job), not from
    // the execution id, which a Scheduler retry changes.
    assert_eq!(input.get("jobId"), None, "{input}");
    assert_eq!(input["submittedAt"], "<aws.scheduler.scheduled-time>");
    assert_eq!(
        (input["job"].as_str(), input["source"].as_str(), input["schedule"].as_str()),
        (Some("sleep"), Some("schedule"), Some("weekly-report"))
    );

    let (status, err) = api.post("/jobs/schedule", request).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("schedule_exists")));

    let (status, every) =
        api.post("/jobs/schedule", json!({"cron": "rate(5 minutes)", "name": "every-5", "priority": "high"})).await;
    assert_eq!(status, StatusCode::OK, "{every}");
    assert_eq!((every["pool"].as_str(), every["priority"].as_str()), (Some("large"), Some("high")));
    let target_of = |name: &'static str| {
        let scheduler = scheduler.clone();
        let group = stack.resources.schedule_group.clone();
        async move {
            let s = scheduler.get_schedule().name(name).group_name(group).send().await.unwrap();
            s.target().unwrap().arn().to_owned()
        }
    };
    assert_eq!(target_of("every-5").await, stack.queues.get("large", Priority::High).arn().await.unwrap());
    // A change of priority moves the firings to the other queue.
    let (status, changed) =
        api.call(Method::PATCH, "/jobs/schedules/every-5", Some(json!({"priority": "normal"}).to_string()), &[]).await;
    assert_eq!((status, changed["priority"].as_str()), (StatusCode::OK, Some("normal")), "{changed}");
    assert_eq!(target_of("every-5").await, stack.queues.get("large", Priority::Normal).arn().await.unwrap());
    // A command kind's schedule fires into the kind's own queue.
    let (status, nightly) = api
        .post(
            "/jobs/schedule",
            json!({"cron": "0 3 * * *", "name": "nightly-shell", "job": "shell", "payload": {"seconds": 1}}),
        )
        .await;
    assert_eq!((status, nightly["pool"].as_str()), (StatusCode::OK, Some("default")), "{nightly}");
    assert_eq!(target_of("nightly-shell").await, stack.queues.get("shell", Priority::Normal).arn().await.unwrap());
    let (status, _) = api.call(Method::DELETE, "/jobs/schedules/nightly-shell", None, &[]).await;
    assert!(status.is_success());
    let (status, list) = api.get("/jobs/schedules").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["schedules"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["weekly-report", "every-5"]);

    let (status, one) = api.get("/jobs/schedules/weekly-report").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (one["expression"].as_str(), one["job"].as_str(), one["payload"].clone()),
        (Some("cron(0 7 ? * MON *)"), Some("sleep"), json!({"ms": 10}))
    );
    assert_eq!(one["nextFireTimes"], created["nextFireTimes"]);

    let (status, _) = api.call(Method::DELETE, "/jobs/schedules/weekly-report", None, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.get("/jobs/schedules/weekly-report").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.call(Method::DELETE, "/jobs/schedules/weekly-report", None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A schedule whose job kind this build does not know (a kind retired while its schedule lived
/// on, or one a newer API created) can still be paused, resumed and deleted.
#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_of_a_retired_kind_can_be_paused_resumed_and_deleted() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;
    let input = json!({"v": 1, "job": "retired", "payload": {"x": 1}, "submittedAt": "<aws.scheduler.scheduled-time>",
        "source": "schedule", "schedule": "legacy"})
    .to_string();
    let schedules = jobs_aws::Schedules::new(
        aws_sdk_scheduler::Client::new(&stack.sdk),
        &stack.resources.schedule_group,
        testkit::SCHEDULER_ROLE_ARN,
    );
    schedules
        .create(&jobs_aws::ScheduleRequest {
            name: "legacy".into(),
            expression: "cron(0 7 ? * MON *)".into(),
            timezone: "Europe/Berlin".into(),
            input: input.clone(),
            description: "retired job, from \"0 7 * * MON\"".into(),
            enabled: true,
            target_arn: stack.queue.arn().await.unwrap(),
        })
        .await
        .unwrap();
    let patch = |state: &str| json!({"state": state}).to_string();
    let (status, out) = api.call(Method::PATCH, "/jobs/schedules/legacy", Some(patch("DISABLED")), &[]).await;
    assert_eq!((status, out["state"].as_str()), (StatusCode::OK, Some("DISABLED")), "{out}");
    let (status, out) = api.call(Method::PATCH, "/jobs/schedules/legacy", Some(patch("ENABLED")), &[]).await;
    assert_eq!((status, out["state"].as_str()), (StatusCode::OK, Some("ENABLED")), "{out}");
    // The definition went back untouched.
    let (_, read) = api.get("/jobs/schedules/legacy").await;
    assert_eq!(
        (read["expression"].as_str(), read["timezone"].as_str()),
        (Some("cron(0 7 ? * MON *)"), Some("Europe/Berlin"))
    );
    let stored = schedules.get("legacy").await.unwrap();
    assert_eq!(stored.input.as_deref(), Some(input.as_str()));
    // Changing its job still needs a kind this build knows.
    let (status, out) =
        api.call(Method::PATCH, "/jobs/schedules/legacy", Some(json!({"payload": {}}).to_string()), &[]).await;
    assert_eq!((status, out["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("unknown_kind")), "{out}");
    let (status, out) = api.call(Method::PATCH, "/jobs/schedules/legacy", Some("{}".into()), &[]).await;
    assert_eq!((status, out["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("nothing_to_change")), "{out}");
    let (status, _) = api.call(Method::DELETE, "/jobs/schedules/legacy", None, &[]).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// Any web page can make the browser call a loopback port: the local API refuses requests that
/// name a foreign `Host` (DNS rebinding) or come from another origin, and changes nothing for
/// them; a terminal's `curl` and the dashboard's own calls pass.
#[tokio::test(flavor = "multi_thread")]
async fn the_local_api_refuses_cross_site_and_rebinding_requests() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[("ALLOWED_HOSTS", "jobs-api.internal")]).await;
    let own = api.base.clone();
    let form = Some(r#"{"job":"noop"}"#.to_owned());
    /// (method, headers, body, expected status, expected error code)
    type Case<'a> = (Method, Vec<(&'a str, &'a str)>, Option<String>, StatusCode, Option<&'a str>);
    let cases: Vec<Case> = vec![
        // A page elsewhere posting a form: text/plain needs no CORS preflight.
        (
            Method::POST,
            vec![("origin", "http://evil.example"), ("content-type", "text/plain"), ("sec-fetch-site", "cross-site")],
            form.clone(),
            StatusCode::FORBIDDEN,
            Some("cross_origin"),
        ),
        (Method::POST, vec![("origin", "null")], form.clone(), StatusCode::FORBIDDEN, Some("cross_origin")),
        (
            Method::POST,
            vec![("sec-fetch-site", "same-site")],
            form.clone(),
            StatusCode::FORBIDDEN,
            Some("cross_origin"),
        ),
        (Method::GET, vec![("origin", "http://localhost:1")], None, StatusCode::FORBIDDEN, Some("cross_origin")),
        // The dashboard's own call, and curl.
        (
            Method::POST,
            vec![("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
            form.clone(),
            StatusCode::OK,
            None,
        ),
        (Method::POST, vec![], form.clone(), StatusCode::OK, None),
    ];
    for (method, headers, body, want, code) in cases {
        let (status, value) = api.call(method.clone(), "/jobs", body, &headers).await;
        assert_eq!((status, value["error"]["code"].as_str()), (want, code), "{method} {headers:?}: {value}");
    }
    // DNS rebinding: the page's own name in Host. The operator's allowed name passes.
    let port = own.rsplit(':').next().unwrap();
    for (host, want) in
        [("evil.example", 403), ("127.0.0.1.nip.example", 403), ("jobs-api.internal", 200), ("localhost", 200)]
    {
        let request =
            format!("POST /jobs HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        let (status, value) = raw(&api, &request).await;
        assert_eq!(status, want, "Host {host}: {value}");
        if want == 403 {
            assert_eq!(value["error"]["code"], "foreign_host", "{value}");
        }
    }
    // Only the four accepted requests recorded a job.
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!(stats["submitted"], 4, "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stats_count_jobs_after_the_worker_ran_them() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;
    for body in [json!({"job": "ping"}), json!({"job": "flaky", "payload": {"failures": 1}}), json!({"job": "fail"})] {
        let (status, _) = api.post("/jobs", body).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, before) = api.get("/jobs/overview").await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["open"]["queued"], json!({"count": 3, "capped": false}), "{before}");
    assert_eq!((before["open"]["running"]["count"].as_u64(), before["deadLetters"].as_u64()), (Some(0), Some(0)));
    let oldest = &before["oldestQueued"];
    let (_, first) = api.get("/jobs?status=QUEUED&limit=3").await;
    assert_eq!(oldest["jobId"], first["jobs"][2]["jobId"], "the first submitted: {before}");
    assert!(oldest["ageSecs"].as_u64().unwrap() < 60, "{oldest}");
    // Each pool's worker drains its queues until every job ended (retries come back after 2 s
    // and 4 s): ping runs in the short pool, the others in the default pool.
    for (pool, code) in [("short", 0), ("default", 1)] {
        let status = Command::new(testkit::workspace_binary("data-processor"))
            .env_clear()
            .envs(stack.pool_env(pool))
            .env("DRAIN", "true")
            .env("WAIT_TIME_SECS", "6")
            .env("LOG_FORMAT", "text")
            .status()
            .await
            .unwrap();
        assert_eq!(status.code(), Some(code), "{pool}: some attempts failed in the default pool only");
    }
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!(
        stats,
        json!({"succeedJob": 2, "failedJob": 1, "jobRetry": 3, "submitted": 3, "cancelled": 0, "skipped": 0, "queued": 0, "inFlight": 0, "delayed": 0})
    );
    let (_, after) = api.get("/jobs/overview").await;
    assert_eq!(after["counters"], stats);
    assert_eq!(
        after["open"]["queued"]["count"].as_u64().unwrap() + after["open"]["running"]["count"].as_u64().unwrap(),
        0
    );
    assert_eq!(after["oldestQueued"], Value::Null, "{after}");
    // The outcomes, per minute: summed over the hour they equal the counters (no operator retry).
    let (status, hour) = api.get("/jobs/throughput").await;
    assert_eq!(status, StatusCode::OK, "{hour}");
    let minutes = hour["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let sum = |f: &dyn Fn(&Value) -> u64| minutes.iter().map(f).sum::<u64>();
    let field = |name: &'static str| move |m: &Value| m[name].as_u64().unwrap();
    assert_eq!((sum(&field("succeeded")), sum(&field("failed")), sum(&field("retried"))), (2, 1, 3), "{hour}");
    let kind = |k: &'static str, f: &'static str| move |m: &Value| m["kinds"][k][f].as_u64().unwrap_or(0);
    assert_eq!(
        [
            sum(&kind("ping", "succeeded")),
            sum(&kind("flaky", "succeeded")),
            sum(&kind("fail", "failed")),
            sum(&kind("fail", "succeeded"))
        ],
        [1, 1, 1, 0]
    );
    let (_, last) = api.get("/jobs/throughput?minutes=2").await;
    assert_eq!(last["minutes"].as_array().unwrap().len(), 2);
    assert_eq!(last["minutes"][1]["start"], minutes[59]["start"], "the current minute is last");
}

#[tokio::test(flavor = "multi_thread")]
async fn backend_failures_are_503_or_defer_the_send() {
    let stack = Stack::start().await;
    // The table is missing: nothing is recorded or sent.
    let api = start_api(&stack, &[("TABLE_NAME", "no-such-table")]).await;
    let (status, err) = api.post("/jobs", json!({"job": "noop"})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("backend_unavailable")));
    assert!(err["error"]["message"].as_str().unwrap().contains("does not exist"), "{err}");
    let (status, _) = api.get("/jobs/stats").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Every route that reads or writes the table says so, never a 200 or a 404.
    for (method, path) in [
        (Method::GET, "/jobs"),
        (Method::GET, "/jobs?status=FAILED"),
        (Method::GET, "/jobs/some-job"),
        (Method::GET, "/jobs/overview"),
        (Method::GET, "/jobs/throughput"),
        (Method::POST, "/jobs/some-job/cancel"),
        (Method::POST, "/jobs/some-job/retry"),
    ] {
        let (status, err) = api.call(method.clone(), path, None, &[]).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("backend_unavailable")),
            "{method} {path}"
        );
    }
    assert!(queue_bodies(&stack).await.is_empty());

    // The queue is missing: the job is recorded (202), and the reconciler (or a retry) sends it.
    let arn = stack.queue.arn().await.unwrap();
    let missing = format!("{}/000000000000/no-such-queue", stack.emulator.endpoint);
    let api = start_api(&stack, &[("QUEUE_URL", &missing), ("QUEUE_ARN", &arn)]).await;
    let (status, accepted) = api.call(Method::POST, "/jobs", None, &[("Idempotency-Key", "k1")]).await;
    assert_eq!((status, accepted["status"].as_str()), (StatusCode::ACCEPTED, Some("QUEUED")), "{accepted}");
    assert_eq!(stack.store.stats().await.unwrap().submitted, 1, "recorded, never taken back");
    assert!(queue_bodies(&stack).await.is_empty());
    // A retry against a healthy API returns the same job and sends its message.
    let api = start_api(&stack, &[]).await;
    let (status, replay) = api.call(Method::POST, "/jobs", None, &[("Idempotency-Key", "k1")]).await;
    assert_eq!((status, &replay["jobId"]), (StatusCode::OK, &accepted["jobId"]), "{replay}");
    assert_eq!(stack.store.stats().await.unwrap().submitted, 1);
    let bodies = queue_bodies(&stack).await;
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["jobId"], accepted["jobId"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_job_records_whose_token_submitted_it_and_the_list_filters_on_it() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[("API_TOKEN", "plain"), ("API_TOKENS", "ci=tok-ci,ops=tok-ops")]).await;
    let submit = |token: &'static str, kind: &'static str| {
        let api = &api;
        async move {
            let auth = format!("Bearer {token}");
            let body = json!({"job": kind}).to_string();
            let (status, body) = api.call(Method::POST, "/jobs", Some(body), &[("Authorization", &auth)]).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["jobId"].as_str().unwrap().to_owned()
        }
    };
    let ci = [submit("tok-ci", "noop").await, submit("tok-ci", "aggregate").await];
    let ops = submit("tok-ops", "noop").await;
    let plain = submit("plain", "noop").await;
    let auth = [("Authorization", "Bearer tok-ops")];
    let by = |path: String| {
        let api = &api;
        async move {
            let (status, body) = api.call(Method::GET, &path, None, &auth).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            body
        }
    };
    for (id, who) in [(&ci[0], "local:ci"), (&ci[1], "local:ci"), (&ops, "local:ops"), (&plain, "local")] {
        assert_eq!(by(format!("/jobs/{id}")).await["submittedBy"], who, "{id}");
    }
    let ids = |page: Value| -> Vec<String> {
        page["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap().to_owned()).collect()
    };
    // Newest first, through the by-submitter index; with another filter, checked on the items.
    assert_eq!(ids(by("/jobs?submittedBy=local:ci".into()).await), vec![ci[1].clone(), ci[0].clone()]);
    assert_eq!(ids(by("/jobs?submittedBy=local:ci&kind=noop".into()).await), vec![ci[0].clone()]);
    assert_eq!(ids(by("/jobs?submittedBy=local:ops&status=QUEUED".into()).await), vec![ops.clone()]);
    assert_eq!(ids(by("/jobs?submittedBy=local".into()).await), vec![plain.clone()]);
    assert!(ids(by("/jobs?submittedBy=arn:aws:iam::123456789012:user/nobody".into()).await).is_empty());
    // Paging through one submitter's jobs.
    let first = by("/jobs?submittedBy=local:ci&limit=1".into()).await;
    assert_eq!(ids(first.clone()), vec![ci[1].clone()]);
    let cursor = first["nextCursor"].as_str().expect("a second page").to_owned();
    let second = by(format!("/jobs?submittedBy=local:ci&limit=1&cursor={cursor}")).await;
    assert_eq!(ids(second), vec![ci[0].clone()]);
    // A cursor belongs to its filter.
    let (status, err) =
        api.call(Method::GET, &format!("/jobs?submittedBy=local:ops&cursor={cursor}"), None, &auth).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_cursor")));
    let (status, err) = api.call(Method::GET, "/jobs?submittedBy=a%20b", None, &auth).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_filter")));

    // A retry is submitted by whoever asks for it (here of a job cancelled while queued).
    let (status, _) = api.call(Method::POST, &format!("/jobs/{ops}/cancel"), None, &auth).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/jobs/{ops}/retry");
    let (status, retried) = api.call(Method::POST, &path, None, &[("Authorization", "Bearer tok-ci")]).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    let retried = by(format!("/jobs/{}", retried["jobId"].as_str().unwrap())).await;
    assert_eq!((retried["submittedBy"].as_str(), retried["retryOf"].as_str()), (Some("local:ci"), Some(ops.as_str())));
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_token_guards_every_route_but_the_openapi_document_and_the_dashboards_files() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[("API_TOKEN", "s3cret")]).await;
    let (status, err) = api.get("/jobs/stats").await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
    let (status, _) = api.call(Method::GET, "/jobs/stats", None, &[("Authorization", "Bearer wrong")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = api.call(Method::POST, "/jobs", None, &[("Authorization", "Bearer s3cret")]).await;
    assert_eq!(status, StatusCode::OK);
    for (method, path) in [
        (Method::GET, "/jobs"),
        (Method::GET, "/jobs/kinds"),
        (Method::POST, "/jobs/x/cancel"),
        (Method::GET, "/jobs/overview"),
        (Method::GET, "/jobs/throughput"),
    ] {
        let (status, _) = api.call(method, path, None, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    // The dashboard's files hold no data: a browser loads them, then asks for the token.
    for path in ["/", "/ui/app.js", "/ui/app.css"] {
        let (status, body) = api.call(Method::GET, path, None, &[]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!body.as_str().unwrap_or_default().contains("s3cret"), "{path}");
    }

    let (status, doc) = api.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/jobs", "post"),
        ("/jobs/{id}", "get"),
        ("/jobs/stats", "get"),
        ("/jobs/overview", "get"),
        ("/jobs/throughput", "get"),
        ("/jobs/schedule", "post"),
        ("/jobs/schedules", "get"),
        ("/jobs/schedules/{name}", "get"),
        ("/jobs/schedules/{name}", "delete"),
        ("/jobs", "get"),
        ("/jobs/kinds", "get"),
        ("/jobs/{id}/cancel", "post"),
        ("/jobs/{id}/retry", "post"),
        ("/jobs/schedules/{name}", "patch"),
    ] {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(paths["/jobs"]["post"]["responses"]["413"].is_object());
}

/// `GET /metrics` counts every answer under its route's template (never the path itself), one
/// series for all unmatched paths, and needs the token like every route but the document.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_requests_by_route_template_and_status() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[("API_TOKEN", "s3cret")]).await;
    let auth = [("Authorization", "Bearer s3cret")];
    let (status, body) = api.call(Method::POST, "/jobs", Some(r#"{"job":"noop"}"#.into()), &auth).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["jobId"].as_str().unwrap();
    for path in [format!("/jobs/{id}"), "/jobs/nope".into(), "/no/such/route".into(), "/no/such/other".into()] {
        api.call(Method::GET, &path, None, &auth).await;
    }
    api.get("/jobs/stats").await; // 401

    let scrape = |headers: &'static [(&'static str, &'static str)]| {
        let request = headers.iter().fold(api.http.get(format!("{}/metrics", api.base)), |r, (k, v)| r.header(*k, *v));
        async move { request.send().await.unwrap() }
    };
    assert_eq!(scrape(&[]).await.status(), StatusCode::UNAUTHORIZED);
    let response = scrape(&[("Authorization", "Bearer s3cret")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    let value =
        |series: &str| text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse::<f64>().ok());
    let cases = [
        (r#"api_http_requests_total{method="POST",route="/jobs",status="200"}"#, 1.0),
        (r#"api_http_requests_total{method="GET",route="/jobs/{id}",status="200"}"#, 1.0),
        (r#"api_http_requests_total{method="GET",route="/jobs/{id}",status="404"}"#, 1.0),
        (r#"api_http_requests_total{method="GET",route="unmatched",status="404"}"#, 2.0),
        (r#"api_http_requests_total{method="GET",route="/jobs/stats",status="401"}"#, 1.0),
        (r#"api_http_requests_total{method="GET",route="/metrics",status="401"}"#, 1.0),
        (r#"api_http_request_duration_seconds_count{method="GET",route="/jobs/{id}"}"#, 2.0),
    ];
    for (series, want) in cases {
        assert_eq!(value(series), Some(want), "{series} in\n{text}");
    }
    assert!(!text.contains(id), "no series names a job: {text}");
}

/// A schedule's answers agree with each other and with what is stored (issue 25): a `rate()`'s
/// next fire times count from its creation and do not move between calls, in whole seconds; the
/// create answer's `createdAt` is the stored one; `POST /jobs/schedules` is the canonical route
/// (the first design's `POST /jobs/schedule` stays); a 405 names what the route accepts.
#[tokio::test(flavor = "multi_thread")]
async fn schedule_answers_agree_between_calls_and_routes() {
    let stack = Stack::start().await;
    let api = start_api(&stack, &[]).await;
    let (status, created) =
        api.post("/jobs/schedules", json!({"cron": "rate(1 minute)", "name": "tick", "job": "noop"})).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let (status, alias) =
        api.post("/jobs/schedule", json!({"cron": "rate(7 minutes)", "name": "tock", "job": "noop"})).await;
    assert_eq!(status, StatusCode::OK, "{alias}");

    let (_, first) = api.get("/jobs/schedules/tick").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, second) = api.get("/jobs/schedules/tick").await;
    assert_eq!(first["nextFireTimes"], second["nextFireTimes"], "the times stay put");
    assert_eq!(created["createdAt"], first["createdAt"], "the create answer is what is stored");
    let created_at = chrono::DateTime::parse_from_rfc3339(first["createdAt"].as_str().unwrap()).unwrap();
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = first["nextFireTimes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let t = t.as_str().unwrap();
            assert!(!t.contains('.'), "whole seconds: {t}");
            chrono::DateTime::parse_from_rfc3339(t).unwrap()
        })
        .collect();
    assert_eq!(times.len(), 5);
    for (i, t) in times.iter().enumerate() {
        let since = t.timestamp() - created_at.timestamp();
        assert!(since > 0 && since % 60 == 0, "fire time {i} is a whole number of periods after creation: {since} s");
        if i > 0 {
            assert_eq!(t.timestamp() - times[i - 1].timestamp(), 60);
        }
    }
    assert!(times[0].timestamp() > chrono::Utc::now().timestamp() - 2, "the next one is ahead");

    // The list agrees with each schedule's own answer.
    let (_, list) = api.get("/jobs/schedules").await;
    let listed = list["schedules"].as_array().unwrap();
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tick", "tock"]);
    assert_eq!(listed[0]["nextFireTimes"], first["nextFireTimes"]);
    for s in listed {
        let (_, own) = api.get(&format!("/jobs/schedules/{}", s["name"].as_str().unwrap())).await;
        assert_eq!((&s["lastRun"], &s["createdAt"]), (&own["lastRun"], &own["createdAt"]), "{s}");
    }

    // A 405 says what the route accepts, in the header and the message.
    for (method, path, allowed) in
        [(Method::PUT, "/jobs/schedules", ["GET", "POST"]), (Method::GET, "/jobs/schedule", ["POST", "POST"])]
    {
        let response =
            reqwest::Client::new().request(method.clone(), format!("{}{path}", api.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let allow = response.headers().get("allow").expect("an Allow header").to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        for m in allowed {
            assert!(allow.contains(m) && message.contains(m), "{method} {path}: Allow {allow:?}, {message}");
        }
        assert!(message.contains(path) && message.contains(method.as_str()), "{message}");
    }
}
