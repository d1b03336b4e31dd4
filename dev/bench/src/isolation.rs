//! A short job behind a full pool of long ones (issue 26's first target): `long` `sleep` jobs fill
//! the long pool's `maxReplicaCount` through the local controller (every pool's ScaledJob of
//! `keda/`, process executor); then `short` `noop` jobs (the default pool) are submitted, and each
//! one's enqueue → attempt start is read from its record. With one queue and one ScaledJob for
//! every kind (before pools: 99.7 s behind 90-second sleeps), a short job waited for a long one to
//! end; with pools, it starts within one polling interval of its own pool.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use testkit::Stack;

use crate::stats::percentile;
use crate::{e2e, procs};

/// Where `sleep` runs (the long pool) and `noop` (the default pool).
const LONG_SCALED_JOB: &str = "data-processor-long";
const SHORT_SCALED_JOB: &str = "data-processor";

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Isolation {
    pub long_jobs: usize,
    pub long_secs: u64,
    pub short_jobs: usize,
    pub max_replica_count: i64,
    pub polling_interval_secs: u64,
    /// From the first long job's submit until every Job slot ran one.
    pub pool_full_after_secs: f64,
    pub short_start_ms_p50: f64,
    pub short_start_ms_max: f64,
}

pub async fn run(
    stack: &Stack,
    long: usize,
    long_secs: u64,
    short: usize,
    logs: &std::path::Path,
) -> Result<Isolation, String> {
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (controller, state_url) = e2e::start_controller(stack, logs).await?;
    let http = reqwest::Client::new();
    let state = |http: reqwest::Client, url: String| async move {
        let r = http.get(url).send().await.map_err(|e| e.to_string())?;
        r.json::<Value>().await.map_err(|e| e.to_string())
    };
    let of = crate::pools::scaled_job;
    let first = state(http.clone(), state_url.clone()).await?;
    let slots = of(&first, LONG_SCALED_JOB)["maxReplicaCount"].as_i64().unwrap_or(0);

    let started = Instant::now();
    e2e::submit_many(&http, &api.base, &json!({"job": "sleep", "payload": {"ms": long_secs * 1000}}), long).await?;
    let full = (long as i64).min(slots);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let s = of(&state(http.clone(), state_url.clone()).await?, LONG_SCALED_JOB);
        let pending = s["pending"].as_i64().unwrap_or(0);
        if s["running"].as_i64().unwrap_or(0) - pending >= full {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the pool did not fill ({full} Jobs) within 300 s"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let pool_full_after_secs = started.elapsed().as_secs_f64();
    eprintln!("bench: {full} long jobs fill the pool after {pool_full_after_secs:.0} s; submitting {short} short jobs");

    let ids = e2e::submit_many(&http, &api.base, &json!({"job": "noop"}), short).await?;
    let waits = e2e::start_waits(stack, &ids, Instant::now() + Duration::from_secs(long_secs + 180)).await?;
    // The controller stops its pods (the long jobs still sleeping) before it exits.
    e2e::stop_controller(controller).await;
    Ok(Isolation {
        long_jobs: long,
        long_secs,
        short_jobs: short,
        max_replica_count: slots,
        polling_interval_secs: of(&first, SHORT_SCALED_JOB)["pollingIntervalSecs"].as_u64().unwrap_or(0),
        pool_full_after_secs,
        short_start_ms_p50: percentile(&waits, 50.0),
        short_start_ms_max: percentile(&waits, 100.0),
    })
}
