//! Issue 26's targets through the local stack (every pool's ScaledJob, process executor):
//!
//! - **drain**: `jobs` `ping` jobs submitted at once to the drained `short` pool: jobs/s from the
//!   first submit to the last end, pods started ÷ jobs, every job counted once (before pools: one
//!   pod per message, 5.0 jobs/s at most: maxReplicaCount ÷ pollingInterval);
//! - **priority**: a normal backlog of `backlog` `noop` jobs in the default pool, then one high
//!   `noop`: its enqueue → attempt start beside the backlog's (before pools: behind the whole
//!   backlog, 198 s at p99).

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use testkit::Stack;

use crate::stats::percentile;
use crate::{e2e, procs};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drain {
    pub jobs: usize,
    pub succeeded: u64,
    pub seconds: f64,
    pub jobs_per_second: f64,
    pub pods_started: u64,
    pub pods_per_job: f64,
    pub max_replica_count: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Priority {
    pub backlog: usize,
    pub polling_interval_secs: u64,
    pub high_start_ms: f64,
    /// The normal jobs waiting when the high one was submitted, started after it.
    pub overtaken: usize,
    pub backlog_start_ms_p50: f64,
    pub backlog_start_ms_p99: f64,
}

/// The ScaledJob `name` in the controller's `GET /state`.
pub fn scaled_job(state: &Value, name: &str) -> Value {
    state["scaledJobs"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["scaledJob"] == name).cloned())
        .unwrap_or_default()
}

async fn state(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    http.get(url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())
}

pub async fn drain(stack: &Stack, jobs: usize, logs: &std::path::Path) -> Result<Drain, String> {
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (mut controller, state_url) = e2e::start_controller(stack, logs).await?;
    let http = reqwest::Client::new();
    let first = chrono::Utc::now();
    let started = Instant::now();
    e2e::submit_many(&http, &api.base, &json!({"job": "ping"}), jobs).await?;
    eprintln!("bench: {jobs} ping jobs submitted in {:.1} s; waiting for them to end", started.elapsed().as_secs_f64());
    let stats = e2e::until_ended(stack, jobs, started).await?;
    let (_, last_end) = e2e::job_times(stack).await?;
    let short = scaled_job(&state(&http, &state_url).await?, "data-processor-short");
    let _ = controller.kill().await;
    let seconds = (last_end - first).num_milliseconds() as f64 / 1000.0;
    let pods = short["totals"]["podsStarted"].as_u64().unwrap_or(0);
    Ok(Drain {
        jobs,
        succeeded: stats.succeeded,
        seconds,
        jobs_per_second: jobs as f64 / seconds,
        pods_started: pods,
        pods_per_job: pods as f64 / jobs as f64,
        max_replica_count: short["maxReplicaCount"].as_i64().unwrap_or(0),
    })
}

pub async fn priority(stack: &Stack, backlog: usize, logs: &std::path::Path) -> Result<Priority, String> {
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (mut controller, state_url) = e2e::start_controller(stack, logs).await?;
    let http = reqwest::Client::new();
    let interval =
        scaled_job(&state(&http, &state_url).await?, "data-processor")["pollingIntervalSecs"].as_u64().unwrap_or(0);
    let started = Instant::now();
    let normal = e2e::submit_many(&http, &api.base, &json!({"job": "noop"}), backlog).await?;
    let high = e2e::submit_many(&http, &api.base, &json!({"job": "noop", "priority": "high"}), 1).await?.remove(0);
    eprintln!("bench: {backlog} normal jobs, then one high, submitted in {:.1} s", started.elapsed().as_secs_f64());
    e2e::until_ended(stack, backlog + 1, started).await?;
    let _ = controller.kill().await;
    let start_of = |r: &jobs_aws::JobRecord| {
        (
            r.first_started_at.unwrap_or_default(),
            (r.first_started_at.unwrap_or_default() - r.created_at.unwrap_or_default()).num_milliseconds() as f64,
        )
    };
    let h = stack.store.get(&high).await.map_err(|e| e.to_string())?.ok_or("the high job is gone")?;
    let (high_at, high_ms) = start_of(&h);
    let mut waits = Vec::new();
    let mut overtaken = 0;
    for id in &normal {
        let r = stack.store.get(id).await.map_err(|e| e.to_string())?.ok_or("a normal job is gone")?;
        let (at, ms) = start_of(&r);
        waits.push(ms);
        overtaken += usize::from(at > high_at);
    }
    Ok(Priority {
        backlog,
        polling_interval_secs: interval,
        high_start_ms: high_ms,
        overtaken,
        backlog_start_ms_p50: percentile(&waits, 50.0),
        backlog_start_ms_p99: percentile(&waits, 99.0),
    })
}
