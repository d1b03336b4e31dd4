//! Throughput and latency through the local stack: N `noop` jobs submitted at once to the API,
//! run by the local ScaledJob controller from `keda/scaledjob.yaml` (its polling interval, its
//! `accurate` strategy, its `maxReplicaCount`), each Job a worker process. Jobs/s from the first
//! submit to the last job's end; enqueue -> attempt start per job (behind that backlog); Jobs
//! created per message. Then the latency without a backlog: jobs submitted one at a time, spread
//! over three polling intervals.

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use testkit::Stack;
use tokio::process::Command;

use crate::procs;
use crate::stats::percentile;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flow {
    pub jobs: usize,
    pub succeeded: u64,
    pub seconds: f64,
    pub jobs_per_second: f64,
    pub jobs_created: u64,
    pub jobs_created_per_message: f64,
    pub polling_interval_secs: u64,
    pub max_replica_count: i64,
    pub start_latency_ms_p50: f64,
    pub start_latency_ms_p99: f64,
    pub start_latency_ms_max: f64,
    /// Without a backlog (`trickle_jobs` spread over three polling intervals).
    pub trickle_jobs: usize,
    pub idle_start_latency_ms_p50: f64,
    pub idle_start_latency_ms_p99: f64,
}

/// The local ScaledJob controller of every pool's ScaledJob in `keda/` (process executor) on
/// `stack`'s queues, once it serves `/state`: the process and the state URL.
pub async fn start_controller(
    stack: &Stack,
    logs: &std::path::Path,
) -> Result<(tokio::process::Child, String), String> {
    let env = procs::env_via(stack.api_env(), &stack.emulator.endpoint);
    let port = testkit::free_port();
    // The queue variables come from each manifest, pointed at the stack's queues (--queue-url).
    let worker_env: Vec<(String, String)> = procs::env_via(stack.worker_env(), &stack.emulator.endpoint)
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "QUEUE_URL" | "HIGH_QUEUE_URL" | "DLQ_URL" | "POOL"))
        .collect();
    let mut controller = Command::new(procs::binary("local-scaledjob"));
    controller.arg("run");
    // keda/scaledjob*.yaml: a ScaledJob per pool.
    let keda = procs::workspace_root().join("keda");
    let mut manifests: Vec<_> = std::fs::read_dir(&keda)
        .map_err(|e| format!("{}: {e}", keda.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("scaledjob")))
        .collect();
    manifests.sort();
    for m in manifests {
        controller.arg("--manifest").arg(m);
    }
    controller
        .args(["--queue-url", &stack.resources.queue_url, "--executor", "process"])
        .arg("--worker-bin")
        .arg(procs::binary("data-processor"))
        .arg("--logs-dir")
        .arg(logs)
        .args(["--state-addr", &format!("127.0.0.1:{port}")]);
    for (k, v) in &worker_env {
        controller.args(["--env", &format!("{k}={v}")]);
    }
    let controller = controller
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start the controller: {e}"))?;
    let http = reqwest::Client::new();
    let state_url = format!("http://127.0.0.1:{port}/state");
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(&state_url).send().await.is_err() {
        if Instant::now() > deadline {
            return Err("the controller did not serve /state".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((controller, state_url))
}

pub async fn run(stack: &Stack, jobs: usize, logs: &std::path::Path) -> Result<Flow, String> {
    let api = procs::serve_api(&procs::env_via(stack.api_env(), &stack.emulator.endpoint)).await;
    let (mut controller, state_url) = start_controller(stack, logs).await?;
    let http = reqwest::Client::new();

    let first = Utc::now();
    let started = Instant::now();
    submit_noops(&http, &api.base, jobs).await?;
    eprintln!("bench: {jobs} jobs submitted in {:.1} s; waiting for them to end", started.elapsed().as_secs_f64());
    let stats = until_ended(stack, jobs, started).await?;
    let state: Value =
        http.get(&state_url).send().await.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
    let (latencies, last_end) = job_times(stack).await?;

    // No backlog: one job at a time, spread over three polling intervals.
    // noop runs in the default pool: its ScaledJob (listed first).
    let default = &state["scaledJobs"][0];
    let interval = default["pollingIntervalSecs"].as_u64().unwrap_or(10);
    let trickle = 30usize;
    let gap = Duration::from_millis(interval * 3000 / trickle as u64);
    let mut ids = Vec::new();
    for _ in 0..trickle {
        let r = http.post(format!("{}/jobs", api.base)).json(&json!({"job": "noop"})).send().await;
        let r: Value = r.map_err(|e| e.to_string())?.json().await.map_err(|e| e.to_string())?;
        ids.push(r["jobId"].as_str().ok_or("no jobId")?.to_owned());
        tokio::time::sleep(gap).await;
    }
    let idle = start_waits(stack, &ids, Instant::now() + Duration::from_secs(interval * 6 + 60)).await?;
    let _ = controller.kill().await;

    let seconds = (last_end - first).num_milliseconds() as f64 / 1000.0;
    let created = state["totals"]["jobsCreated"].as_u64().unwrap_or(0);
    Ok(Flow {
        jobs,
        succeeded: stats.succeeded,
        seconds,
        jobs_per_second: jobs as f64 / seconds,
        jobs_created: created,
        jobs_created_per_message: created as f64 / jobs as f64,
        polling_interval_secs: default["pollingIntervalSecs"].as_u64().unwrap_or(0),
        max_replica_count: default["maxReplicaCount"].as_i64().unwrap_or(0),
        start_latency_ms_p50: percentile(&latencies, 50.0),
        start_latency_ms_p99: percentile(&latencies, 99.0),
        start_latency_ms_max: percentile(&latencies, 100.0),
        trickle_jobs: trickle,
        idle_start_latency_ms_p50: percentile(&idle, 50.0),
        idle_start_latency_ms_p99: percentile(&idle, 99.0),
    })
}

/// Submits `jobs` noop jobs to the API at `base`, 16 at a time.
pub async fn submit_noops(http: &reqwest::Client, base: &str, jobs: usize) -> Result<(), String> {
    submit_many(http, base, &json!({"job": "noop"}), jobs).await.map(|_| ())
}

/// Submits `jobs` jobs with `body` to the API at `base`, 16 at a time; their ids.
pub async fn submit_many(http: &reqwest::Client, base: &str, body: &Value, jobs: usize) -> Result<Vec<String>, String> {
    let mut pending = tokio::task::JoinSet::new();
    let mut ids = Vec::with_capacity(jobs);
    for i in 0..jobs {
        if pending.len() >= 16 {
            ids.push(pending.join_next().await.unwrap().map_err(|e| e.to_string())??);
        }
        let (http, url, body) = (http.clone(), format!("{base}/jobs"), body.clone());
        pending.spawn(async move {
            let r = http.post(url).json(&body).send().await.map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(format!("submit {i}: HTTP {}", r.status()));
            }
            let answer: Value = r.json().await.map_err(|e| e.to_string())?;
            answer["jobId"].as_str().map(str::to_owned).ok_or_else(|| format!("submit {i}: no jobId"))
        });
    }
    while let Some(r) = pending.join_next().await {
        ids.push(r.map_err(|e| e.to_string())??);
    }
    Ok(ids)
}

/// Each job's enqueue → first start (ms, from its record), waiting for each until `deadline`.
pub async fn start_waits(stack: &Stack, ids: &[String], deadline: Instant) -> Result<Vec<f64>, String> {
    let mut waits = Vec::with_capacity(ids.len());
    for id in ids {
        loop {
            let r = stack.store.get(id).await.map_err(|e| e.to_string())?;
            if let Some(r) = r.filter(|r| r.first_started_at.is_some()) {
                let (started, created) = (r.first_started_at.unwrap_or_default(), r.created_at.unwrap_or_default());
                waits.push((started - created).num_milliseconds() as f64);
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("job {id} did not start"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(waits)
}

/// Stops the local controller with SIGTERM (it stops its pods first) and waits up to a minute.
pub async fn stop_controller(controller: tokio::process::Child) {
    if let Some(pid) = controller.id() {
        // SAFETY: a plain signal to a child this process started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), controller.wait_with_output()).await;
}

/// Waits until `jobs` jobs have ended (progress every 10 s); their counters.
pub async fn until_ended(stack: &Stack, jobs: usize, started: Instant) -> Result<jobs_aws::Stats, String> {
    let timeout = Duration::from_secs(120 + jobs as u64);
    let mut last_print = Instant::now();
    loop {
        let s = stack.store.stats().await.map_err(|e| e.to_string())?;
        if (s.succeeded + s.failed) as usize >= jobs {
            return Ok(s);
        }
        if started.elapsed() > timeout {
            return Err(format!("only {} of {jobs} jobs ended within {timeout:?}", s.succeeded + s.failed));
        }
        if last_print.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "bench: {} of {jobs} ended after {:.0} s",
                s.succeeded + s.failed,
                started.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Per job: createdAt -> startedAt (ms); and the last finishedAt. Read with a Scan (the bench's
/// own read, not part of any figure).
pub async fn job_times(stack: &Stack) -> Result<(Vec<f64>, DateTime<Utc>), String> {
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let mut latencies = Vec::new();
    let mut last = DateTime::<Utc>::MIN_UTC;
    let mut start_key = None;
    loop {
        let out = ddb
            .scan()
            .table_name(&stack.resources.table)
            .set_exclusive_start_key(start_key)
            .send()
            .await
            .map_err(|e| format!("scan: {e}"))?;
        for item in out.items() {
            let time = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc))
            };
            let (Some(created), Some(started)) = (time("createdAt"), time("startedAt")) else { continue };
            latencies.push((started - created).num_milliseconds() as f64);
            if let Some(finished) = time("finishedAt") {
                last = last.max(finished);
            }
        }
        start_key = out.last_evaluated_key;
        if start_key.is_none() {
            break;
        }
    }
    Ok((latencies, last))
}
