//! The noisy neighbour (issue 28's first target): tenant `a` submits a burst of `noop` jobs at
//! once, then tenant `b` submits a few; each of `b`'s jobs' enqueue → first start is read from
//! its record. Both tenants' jobs share the default pool's queue and ScaledJob (the local
//! controller, process executor), so `b` waits behind `a`'s backlog today; the target is one
//! polling interval of the pool. (In AWS the queue is a fair queue, which SQS reorders once `a`
//! is noisy; the emulators deliver in plain order.)

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

pub async fn run(stack: &Stack, burst: usize, quiet: usize, logs: &std::path::Path) -> Result<NoisyNeighbour, String> {
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (controller, state_url) = e2e::start_controller(stack, logs).await?;
    let http = reqwest::Client::new();
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
