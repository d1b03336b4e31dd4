//! AWS requests per job, as the proxy saw them, for three journeys: a successful `noop` job, a
//! job that succeeds after two retries (`flaky`, 2 failures) and a scheduled firing; plus the
//! fixed cost of a deployment that runs no jobs (KEDA's polling, the reconciler's passes). The
//! units are priced with `dev/bench/prices.json`.

use std::collections::BTreeMap;

use jobs_core::{JobMessage, JobSpec, JobStatus, Overlap};
use serde::Serialize;
use serde_json::{Value, json};
use testkit::Stack;

use crate::procs::{self, LocalApi};
use crate::proxy::{Call, Proxy};
use crate::units::{Model, Units};

/// List prices the bench applies (`dev/bench/prices.json`).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub date: String,
    pub region: String,
    pub sqs_per_million_requests: f64,
    pub dynamodb_per_million_write_units: f64,
    pub dynamodb_per_million_read_units: f64,
    pub scheduler_per_million_invocations: f64,
    pub http_api_per_million_requests: f64,
    pub lambda_per_million_requests: f64,
    pub lambda_per_gb_second: f64,
}

/// What one journey costs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Journey {
    pub name: String,
    /// `Service Operation` -> requests.
    pub requests: BTreeMap<String, u64>,
    pub sqs_requests: u64,
    pub dynamodb_write_units: f64,
    pub dynamodb_index_write_units: f64,
    pub dynamodb_read_units: f64,
    pub scheduler_invocations: u64,
    pub api_requests: u64,
    /// US dollars per million such jobs, by service.
    pub usd_per_million: BTreeMap<String, f64>,
    pub usd_per_million_total: f64,
}

/// Prices the calls of one journey. `api_ms`: the Lambda's billed duration per API request.
pub fn price(name: &str, mut calls: Vec<Call>, scheduler: u64, api_requests: u64, api_ms: f64, p: &Prices) -> Journey {
    calls.sort_by_key(|c| c.at);
    let mut model = Model::default();
    let mut units = Units::default();
    let mut requests = BTreeMap::new();
    let mut sqs = 0;
    for c in &calls {
        *requests.entry(format!("{} {}", c.service, c.operation)).or_insert(0) += 1;
        match c.service.as_str() {
            "SQS" => sqs += 1,
            "DynamoDB" => units += model.apply(c),
            _ => {}
        }
    }
    let million = |count: f64, per_million: f64| count * per_million;
    let mut usd = BTreeMap::new();
    usd.insert("sqs".into(), million(sqs as f64, p.sqs_per_million_requests));
    usd.insert(
        "dynamodb".into(),
        million(units.write, p.dynamodb_per_million_write_units)
            + million(units.read, p.dynamodb_per_million_read_units),
    );
    usd.insert("scheduler".into(), million(scheduler as f64, p.scheduler_per_million_invocations));
    // API Gateway + Lambda (256 MB) for the requests that enter through the API.
    let lambda =
        api_requests as f64 * (p.lambda_per_million_requests + 1e6 * 0.25 * api_ms / 1000.0 * p.lambda_per_gb_second);
    usd.insert("apiGatewayAndLambda".into(), million(api_requests as f64, p.http_api_per_million_requests) + lambda);
    let total = usd.values().sum();
    Journey {
        name: name.into(),
        requests,
        sqs_requests: sqs,
        dynamodb_write_units: units.write,
        dynamodb_index_write_units: units.index_write,
        dynamodb_read_units: units.read,
        scheduler_invocations: scheduler,
        api_requests,
        usd_per_million: usd,
        usd_per_million_total: total,
    }
}

/// The fixed cost of a deployment, with or without jobs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Idle {
    pub per_pass: Journey,
    pub passes_per_month: f64,
    pub usd_per_month: f64,
}

/// Everything the journeys need: the stack, the proxy and the API behind it, the worker's env.
pub struct Ctx<'a> {
    pub stack: &'a Stack,
    pub proxy: &'a Proxy,
    pub api: &'a LocalApi,
    pub worker_env: Vec<(String, String)>,
    pub http: reqwest::Client,
}

impl Ctx<'_> {
    async fn post_job(&self, body: Value) -> String {
        let answer: Value =
            self.http.post(format!("{}/jobs", self.api.base)).json(&body).send().await.unwrap().json().await.unwrap();
        answer["jobId"].as_str().unwrap_or_else(|| panic!("POST /jobs: {answer}")).to_owned()
    }

    /// Runs the worker until job `id` has ended (each run takes one message).
    async fn work_until_ended(&self, id: &str, max_runs: usize) -> JobStatus {
        let worker = procs::binary("data-processor");
        for _ in 0..max_runs {
            procs::run_worker(&worker, &self.worker_env, &[("WAIT_TIME_SECS", "5")]).await;
            if let Some(r) = self.stack.store.get(id).await.unwrap()
                && r.state.status.is_terminal()
            {
                return r.state.status;
            }
        }
        panic!("job {id} did not end in {max_runs} worker runs");
    }
}

/// The three journeys and the idle cost, priced.
pub async fn journeys(ctx: &Ctx<'_>, api_ms: f64, p: &Prices) -> (Vec<Journey>, Idle) {
    let mut out = Vec::new();
    ctx.proxy.take();

    let id = ctx.post_job(json!({"job": "noop"})).await;
    assert_eq!(ctx.work_until_ended(&id, 3).await, JobStatus::Succeeded);
    out.push(price("noop job, succeeded", ctx.proxy.take(), 0, 1, api_ms, p));

    let id = ctx.post_job(json!({"job": "flaky", "payload": {"failures": 2}})).await;
    assert_eq!(ctx.work_until_ended(&id, 10).await, JobStatus::Succeeded);
    out.push(price("flaky job, 2 retries then succeeded", ctx.proxy.take(), 0, 1, api_ms, p));

    // A firing as EventBridge Scheduler delivers it: one SendMessage of the schedule's template.
    let spec = JobSpec::parse("noop", Value::Null).unwrap();
    let body = JobMessage::schedule_template(
        &spec,
        "bench",
        Overlap::Allow,
        jobs_core::pools::Priority::Normal,
        &jobs_core::Tenant::default(),
    )
    .replace(
        jobs_core::message::SCHEDULER_SCHEDULED_TIME,
        &chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    let sqs = aws_sdk_sqs::Client::new(&testkit::Emulator::sdk_config_for(&ctx.proxy.endpoint));
    sqs.send_message().queue_url(&ctx.stack.resources.queue_url).message_body(body).send().await.unwrap();
    let worker = procs::binary("data-processor");
    procs::run_worker(&worker, &ctx.worker_env, &[("WAIT_TIME_SECS", "5")]).await;
    out.push(price("scheduled firing, succeeded", ctx.proxy.take(), 1, 0, api_ms, p));

    // A tenant with a limit (docs/tenants.md): a job that takes a slot as it is accepted and
    // gives it back when it ends; then two jobs at once at maxRunning 1, the second WAITING until
    // the first's worker admits it (the pair, to compare with twice the first).
    let put = ctx.http.put(format!("{}/tenants/bench", ctx.api.base)).json(&json!({"maxRunning": 1})).send().await;
    assert!(put.unwrap().status().is_success(), "PUT /tenants/bench");
    ctx.proxy.take();
    let id = ctx.post_job(json!({"job": "noop", "tenant": "bench"})).await;
    assert_eq!(ctx.work_until_ended(&id, 3).await, JobStatus::Succeeded);
    out.push(price("noop job of a limited tenant (slot taken and given back)", ctx.proxy.take(), 0, 1, api_ms, p));
    let first = ctx.post_job(json!({"job": "noop", "tenant": "bench"})).await;
    let waited = ctx.post_job(json!({"job": "noop", "tenant": "bench"})).await;
    assert_eq!(ctx.stack.store.get(&waited).await.unwrap().map(|r| r.state.status), Some(JobStatus::Waiting));
    assert_eq!(ctx.work_until_ended(&first, 3).await, JobStatus::Succeeded);
    assert_eq!(ctx.work_until_ended(&waited, 3).await, JobStatus::Succeeded);
    out.push(price(
        "two noop jobs of a tenant at maxRunning 1, the second WAITING then admitted",
        ctx.proxy.take(),
        0,
        2,
        api_ms,
        p,
    ));

    // Idle: one reconciler pass and one KEDA poll, each every 10 s, all month long.
    ctx.proxy.take();
    let status = tokio::process::Command::new(&worker)
        .arg("reconcile")
        .env_clear()
        .envs(ctx.worker_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "one reconciler pass");
    let mut pass = ctx.proxy.take();
    pass.push(Call {
        at: std::time::Instant::now(),
        service: "SQS".into(),
        operation: "GetQueueAttributes (KEDA poll)".into(),
        body: Value::Null,
        status: 200,
    });
    let per_pass = price("idle: one reconciler pass and one KEDA poll", pass, 0, 0, api_ms, p);
    let passes_per_month = 30.0 * 24.0 * 3600.0 / 10.0;
    let idle =
        Idle { usd_per_month: per_pass.usd_per_million_total * passes_per_month / 1e6, passes_per_month, per_pass };
    (out, idle)
}
