//! Issue 28's targets, against the local controller (process executor):
//!
//! - the noisy neighbour: tenant `a` submits a burst of `noop` jobs at once, then tenant `b` a
//!   few; each of `b`'s jobs' enqueue → first start is read from its record. Without limits `b`
//!   waits behind `a`'s backlog in the default pool's queue (in AWS the fair queue reorders once
//!   `a` is noisy; the emulators deliver in plain order); with `a` limited, `a`'s backlog waits in
//!   its own line and `b`'s jobs start within one polling interval of the pool;
//! - a limit, sampled: `a`'s `sleep` jobs (the long pool) at `maxRunning` 5, its RUNNING jobs
//!   counted every second; then raised to 20 at run time, how long until 20 run.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;
use testkit::Stack;

use crate::stats::percentile;
use crate::{e2e, procs};

/// The default pool's ScaledJob, where `noop` runs.
const SCALED_JOB: &str = "data-processor";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NoisyNeighbour {
    /// `a`'s `maxRunning` (`None`: no limit).
    pub a_max_running: Option<u32>,
    pub burst_jobs: usize,
    pub quiet_jobs: usize,
    pub polling_interval_secs: u64,
    pub max_replica_count: i64,
    /// The quiet tenant's jobs: enqueue → start.
    pub quiet_start_ms_p50: f64,
    pub quiet_start_ms_p99: f64,
    pub quiet_start_ms_max: f64,
    /// The burst's jobs, for comparison.
    pub burst_start_ms_p50: f64,
    pub burst_start_ms_max: f64,
}

/// The noisy neighbour; `limit`: `a`'s `maxRunning`, set before its burst (`None`: no limit).
pub async fn run(
    stack: &Stack,
    burst: usize,
    quiet: usize,
    limit: Option<u32>,
    logs: &std::path::Path,
) -> Result<NoisyNeighbour, String> {
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (controller, state_url) = e2e::start_controller(stack, logs).await?;
    let http = reqwest::Client::new();
    if let Some(limit) = limit {
        put_limit(&http, &api.base, "a", limit).await?;
    }
    let state = http.get(&state_url).send().await.map_err(|e| e.to_string())?;
    let state: serde_json::Value = state.json().await.map_err(|e| e.to_string())?;
    let pool = crate::pools::scaled_job(&state, SCALED_JOB);

    let noisy = e2e::submit_many(&http, &api.base, &json!({"job": "noop", "tenant": "a"}), burst).await?;
    eprintln!("bench: tenant a submitted {burst} jobs; tenant b submits {quiet}");
    let ids = e2e::submit_many(&http, &api.base, &json!({"job": "noop", "tenant": "b"}), quiet).await?;
    let deadline = Instant::now() + Duration::from_secs(300 + burst as u64);
    let waits = e2e::start_waits(stack, &ids, deadline).await?;
    let burst_waits = e2e::start_waits(stack, &noisy, deadline).await?;
    e2e::stop_controller(controller).await;
    Ok(NoisyNeighbour {
        a_max_running: limit,
        burst_jobs: burst,
        quiet_jobs: quiet,
        polling_interval_secs: pool["pollingIntervalSecs"].as_u64().unwrap_or(0),
        max_replica_count: pool["maxReplicaCount"].as_i64().unwrap_or(0),
        quiet_start_ms_p50: percentile(&waits, 50.0),
        quiet_start_ms_p99: percentile(&waits, 99.0),
        quiet_start_ms_max: percentile(&waits, 100.0),
        burst_start_ms_p50: percentile(&burst_waits, 50.0),
        burst_start_ms_max: percentile(&burst_waits, 100.0),
    })
}

async fn put_limit(http: &reqwest::Client, base: &str, tenant: &str, max_running: u32) -> Result<(), String> {
    let resp = http
        .put(format!("{base}/tenants/{tenant}"))
        .json(&json!({"maxRunning": max_running}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if resp.status().is_success() { Ok(()) } else { Err(format!("PUT /tenants/{tenant}: {}", resp.status())) }
}

/// The long pool's ScaledJob, where `sleep` runs.
const LONG_SCALED_JOB: &str = "data-processor-long";

/// A limit sampled every second, then raised.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limited {
    pub jobs: usize,
    pub job_secs: u64,
    pub max_running: u32,
    /// Seconds sampled at `max_running`, and the most RUNNING seen at one sample.
    pub samples: usize,
    pub most_running_seen: usize,
    pub raised_to: u32,
    /// From the PUT that raised the limit until `raised_to` jobs ran at once (`None`: never within
    /// the wait).
    pub reached_ms: Option<f64>,
    pub polling_interval_secs: u64,
    pub max_replica_count: i64,
}

/// `a`'s RUNNING jobs now (one page: at most 100).
async fn running(http: &reqwest::Client, base: &str) -> Result<usize, String> {
    let page: serde_json::Value = http
        .get(format!("{base}/jobs?tenant=a&status=RUNNING&limit=100"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(page["jobs"].as_array().map_or(0, Vec::len))
}

pub async fn limited(stack: &Stack, logs: &std::path::Path) -> Result<Limited, String> {
    const JOBS: usize = 60;
    const JOB_SECS: u64 = 40;
    const LIMIT: u32 = 5;
    const RAISED: u32 = 20;
    const SAMPLE_SECS: usize = 30;
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (controller, state_url) = e2e::start_controller(stack, logs).await?;
    let http = reqwest::Client::new();
    let state: serde_json::Value =
        http.get(&state_url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    let pool = crate::pools::scaled_job(&state, LONG_SCALED_JOB);
    put_limit(&http, &api.base, "a", LIMIT).await?;
    let body = json!({"job": "sleep", "payload": {"ms": JOB_SECS * 1000}, "tenant": "a"});
    e2e::submit_many(&http, &api.base, &body, JOBS).await?;
    eprintln!("bench: tenant a submitted {JOBS} sleep jobs at maxRunning {LIMIT}; sampling {SAMPLE_SECS} s");
    let mut most = 0;
    for _ in 0..SAMPLE_SECS {
        most = most.max(running(&http, &api.base).await?);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    put_limit(&http, &api.base, "a", RAISED).await?;
    let raised = Instant::now();
    let mut reached = None;
    while raised.elapsed() < Duration::from_secs(60) {
        if running(&http, &api.base).await? >= RAISED as usize {
            reached = Some(raised.elapsed().as_secs_f64() * 1000.0);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    e2e::stop_controller(controller).await;
    Ok(Limited {
        jobs: JOBS,
        job_secs: JOB_SECS,
        max_running: LIMIT,
        samples: SAMPLE_SECS,
        most_running_seen: most,
        raised_to: RAISED,
        reached_ms: reached,
        polling_interval_secs: pool["pollingIntervalSecs"].as_u64().unwrap_or(0),
        max_replica_count: pool["maxReplicaCount"].as_i64().unwrap_or(0),
    })
}
