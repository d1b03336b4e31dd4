//! The API under the Lambda Runtime API (cold starts, warm CPU; Rust beside the Python
//! reference) and what a job costs in AWS requests and dollars.

use serde_json::json;
use testkit::Stack;

use super::table::{Report, target};
use crate::lambda::{self, Runtime};
use crate::proxy::Proxy;
use crate::runtime_api::http_event;
use crate::stats::Spread;
use crate::{Args, cost, procs};

fn post_job_event() -> String {
    http_event("POST", "/jobs", Some(r#"{"job":"noop"}"#))
}

/// The API (1-2) under the Runtime API: cold starts and warm CPU, Rust and the Python reference.
/// Returns the warm wall time of `POST /jobs` (the Lambda duration the cost section prices).
pub(super) async fn api(args: &Args, root: &std::path::Path, rust: &Runtime, r: &mut Report) -> Result<f64, String> {
    eprintln!("bench: API cold starts and warm requests (Rust bootstrap, Python + boto3 reference)");
    let stack = Stack::start().await;
    let env = procs::api_env(&stack, &stack.emulator.endpoint).await;
    let python = Runtime {
        name: "python",
        program: root.join(&args.python),
        args: vec![root.join("dev/bench/python/bootstrap.py").display().to_string()],
    };
    type Event = fn() -> String;
    let routes: [(&str, Event); 2] =
        [("GET /jobs/stats", || http_event("GET", "/jobs/stats", None)), ("POST /jobs", post_job_event)];
    let mut api = json!({});
    let mut submit_wall_ms = 0.0;
    for (route, event) in routes {
        let mut per_route = json!({});
        let mut medians = Vec::new();
        for rt in [rust, &python] {
            let starts = lambda::cold_starts(rt, &env, event, args.runs).await?;
            let cold = Spread::of(&starts.iter().map(|s| s.total).collect::<Vec<_>>());
            let init = Spread::of(&starts.iter().map(|s| s.init).collect::<Vec<_>>());
            let (cpu, wall) = lambda::warm(rt, &env, event, args.invocations).await?;
            if rt.name == "rust" && route == "POST /jobs" {
                submit_wall_ms = wall;
            }
            medians.push(cold.median_ms);
            r.row(
                format!("{route} cold start, {}", rt.name),
                format!(
                    "{:.1} ms (min {:.1}, max {:.1}, {} runs; init {:.1})",
                    cold.median_ms, cold.min_ms, cold.max_ms, cold.runs, init.median_ms
                ),
                "",
            );
            r.row(
                format!("{route} warm, {}", rt.name),
                format!("{cpu:.2} CPU-ms, {wall:.2} ms per request ({} requests)", args.invocations),
                "",
            );
            per_route[rt.name] =
                json!({"coldStart": cold, "init": init, "warmCpuMsPerRequest": cpu, "warmWallMsPerRequest": wall});
        }
        let ratio = medians[1] / medians[0];
        r.row(format!("{route} cold start, python ÷ rust"), format!("{ratio:.1}×"), target(ratio >= 20.0, "≥ 20×"));
        per_route["coldStartRatio"] = json!(ratio);
        api[route] = per_route;
    }
    r.results["api"] = api;
    Ok(submit_wall_ms)
}

/// AWS requests and cost per job (5). The Lambda's duration is the warm `POST /jobs` (measured
/// here when the API section did not run).
pub(super) async fn cost(
    args: &Args,
    rust: &Runtime,
    submit_wall_ms: Option<f64>,
    prices: &cost::Prices,
    r: &mut Report,
) -> Result<(), String> {
    eprintln!("bench: AWS requests per job");
    let stack = Stack::start().await;
    let submit_wall_ms = match submit_wall_ms {
        Some(ms) => ms,
        None => {
            // On a stack of its own: the jobs it submits must not queue ahead of the journeys'.
            let warm = Stack::start().await;
            let env = procs::api_env(&warm, &warm.emulator.endpoint).await;
            lambda::warm(rust, &env, post_job_event, args.invocations).await?.1
        }
    };
    let proxy = Proxy::start(&stack.emulator.endpoint).await;
    let local = procs::serve_api(&procs::api_env(&stack, &proxy.endpoint).await).await;
    let ctx = cost::Ctx {
        stack: &stack,
        proxy: &proxy,
        api: &local,
        worker_env: procs::env_via(stack.worker_env(), &proxy.endpoint),
        http: reqwest::Client::new(),
    };
    let (journeys, idle) = cost::journeys(&ctx, submit_wall_ms, prices).await;
    for j in &journeys {
        let requests: u64 = j.requests.values().sum();
        r.row(
            format!("cost: {}", j.name),
            format!(
                "{requests} requests (SQS {}, DynamoDB {:.0} WRU of which {:.0} index, {:.1} RRU, Scheduler {}, API {}): ${:.2} per million jobs",
                j.sqs_requests, j.dynamodb_write_units, j.dynamodb_index_write_units, j.dynamodb_read_units, j.scheduler_invocations, j.api_requests, j.usd_per_million_total
            ),
            "",
        );
    }
    r.row(
        "cost: idle deployment",
        format!("${:.2} per month ({:.0} reconciler passes + KEDA polls)", idle.usd_per_month, idle.passes_per_month),
        "",
    );
    r.results["cost"] =
        json!({"prices": {"date": prices.date, "region": prices.region}, "journeys": journeys, "idle": idle});
    Ok(())
}
