//! The reconciler under a backlog: N `noop` jobs submitted at once to an API whose stale
//! threshold is short, drained by a fixed number of worker slots (workers that take messages until
//! the queue is empty, started again as they exit: the slots stay full), while the reconciler
//! passes every few seconds with the same threshold. Most jobs wait past the threshold; each of
//! them was copied at least once before the reconciler learnt to wait for a backlog. Copies sent ÷
//! jobs (target ≤ 1 %), from the reconciler's own metric lines.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use testkit::Stack;
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

use crate::{e2e, procs};

/// The stale threshold of the API and the reconciler here (900 s in production).
const STALE_SECS: u64 = 10;
/// The reconciler's pass interval here (10 s in production).
const EVERY_SECS: u64 = 2;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backlog {
    pub jobs: usize,
    pub slots: usize,
    pub stale_secs: u64,
    pub reconcile_every_secs: u64,
    pub seconds: f64,
    pub succeeded: u64,
    /// Jobs that started more than `stale_secs` after they were recorded.
    pub jobs_waited_past_stale: usize,
    /// Copies the reconciler sent, and overdue jobs it found waiting behind the backlog.
    pub copies: u64,
    pub copies_per_job: f64,
    pub waits: u64,
}

pub async fn run(stack: &Stack, jobs: usize, slots: usize) -> Result<Backlog, String> {
    let stale = ("STALE_AFTER_SECS".to_owned(), STALE_SECS.to_string());
    let mut api_env = procs::api_env(stack, &stack.emulator.endpoint).await;
    api_env.push(stale.clone());
    let api = procs::serve_api(&api_env).await;
    let mut worker_env = procs::env_via(stack.worker_env(), &stack.emulator.endpoint);
    worker_env.push(stale);
    worker_env.push(("METRICS".into(), "off".into()));

    let mut reconciler = Command::new(procs::binary("data-processor"))
        .args(["reconcile", "--every", &EVERY_SECS.to_string(), "--for", "86400"])
        .env_clear()
        .envs(worker_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("METRICS", "emf")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start the reconciler: {e}"))?;
    let mut lines = tokio::io::BufReader::new(reconciler.stdout.take().ok_or("no reconciler stdout")?).lines();
    let metrics = tokio::spawn(async move {
        let (mut copies, mut waits) = (0, 0);
        while let Ok(Some(line)) = lines.next_line().await {
            let doc: Value = serde_json::from_str(&line).unwrap_or_default();
            copies += doc["ReconcileResent"].as_u64().unwrap_or(0);
            waits += doc["ReconcileWaiting"].as_u64().unwrap_or(0);
        }
        (copies, waits)
    });

    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..slots {
        let (env, done) = (worker_env.clone(), done.clone());
        workers.spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let run = Command::new(procs::binary("data-processor"))
                    .env_clear()
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .env("DRAIN", "true")
                    .env("WAIT_TIME_SECS", "1")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .status()
                    .await;
                if run.is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        });
    }
    e2e::submit_noops(&reqwest::Client::new(), &api.base, jobs).await?;
    eprintln!(
        "bench: {jobs} jobs submitted in {:.1} s; {slots} worker slots draining",
        started.elapsed().as_secs_f64()
    );
    let stats = e2e::until_ended(stack, jobs, started).await;
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    while workers.join_next().await.is_some() {}
    // The passes that saw the backlog have reported; stop and count.
    let _ = reconciler.kill().await;
    let (copies, waits) = metrics.await.map_err(|e| e.to_string())?;
    let stats = stats?;
    let (latencies, _) = e2e::job_times(stack).await?;
    let jobs_waited_past_stale = latencies.iter().filter(|ms| **ms > (STALE_SECS * 1000) as f64).count();
    Ok(Backlog {
        jobs,
        slots,
        stale_secs: STALE_SECS,
        reconcile_every_secs: EVERY_SECS,
        seconds,
        succeeded: stats.succeeded,
        jobs_waited_past_stale,
        copies,
        copies_per_job: copies as f64 / jobs as f64,
        waits,
    })
}
