//! Shared by the worker's integration tests: the worker binary as a child process bound to a
//! [`Stack`], and reads of the job items, counters and queue.
#![allow(dead_code)] // each test binary uses a different part

use std::process::Stdio;
use std::time::{Duration, Instant};

use jobs_aws::{JobRecord, Stats};
use jobs_core::{JobMessage, JobStatus};
use serde_json::Value;
use testkit::Stack;
use tokio::process::{Child, Command};

pub const WORKER: &str = env!("CARGO_BIN_EXE_data-processor");

pub struct Run {
    pub code: i32,
    /// stderr: the log lines.
    pub log: String,
    /// stdout: the metrics (EMF) lines.
    pub out: String,
}

/// A worker of the default pool.
pub fn worker(stack: &Stack, extra: &[(&str, &str)]) -> Command {
    worker_in(stack, jobs_core::pools::DEFAULT_POOL, extra)
}

/// A worker of `pool` (its queues, as its ScaledJob sets them).
pub fn worker_in(stack: &Stack, pool: &str, extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(WORKER);
    cmd.env_clear()
        .envs(stack.pool_env(pool))
        .env("WAIT_TIME_SECS", "1")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        // As an image sets them: the commands of command kinds are found on PATH, and their
        // `workingDir`s are relative to the repository's root (the image's WORKDIR).
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

pub async fn finish(child: Child) -> Run {
    let out = child.wait_with_output().await.expect("worker output");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    eprintln!("--- worker log ---\n{log}");
    Run { code: out.status.code().unwrap_or(-1), log, out: String::from_utf8_lossy(&out.stdout).into_owned() }
}

pub async fn run_worker(stack: &Stack, extra: &[(&str, &str)]) -> Run {
    finish(worker(stack, extra).spawn().expect("spawn worker")).await
}

pub async fn submit(stack: &Stack, kind: &str, payload: Value) -> JobMessage {
    stack.submit(kind, payload).await
}

pub async fn job(stack: &Stack, id: &str) -> JobRecord {
    stack.store.get(id).await.expect("read job").expect("job exists")
}

pub async fn stats(stack: &Stack) -> Stats {
    stack.store.stats().await.expect("stats")
}

/// The outcome events of the last hour's throughput buckets, summed: (succeeded, failed,
/// retried, cancelled), and per kind (succeeded, failed).
pub async fn bucket_totals(stack: &Stack) -> ((u64, u64, u64, u64), std::collections::BTreeMap<String, (u64, u64)>) {
    let minutes = stack.store.throughput(chrono::Utc::now(), 60).await.expect("throughput");
    let mut kinds = std::collections::BTreeMap::<String, (u64, u64)>::new();
    let mut total = (0, 0, 0, 0);
    for m in minutes {
        total = (total.0 + m.succeeded, total.1 + m.failed, total.2 + m.retried, total.3 + m.cancelled);
        for (kind, (ok, failed)) in m.kinds {
            let slot = kinds.entry(kind).or_default();
            *slot = (slot.0 + ok, slot.1 + failed);
        }
    }
    (total, kinds)
}

pub fn counts(submitted: u64, succeeded: u64, failed: u64, retries: u64) -> Stats {
    Stats { submitted, succeeded, failed, retries, ..Stats::default() }
}

/// Messages on every pool's job queues: visible (delayed ones included) and in flight.
pub async fn queued(stack: &Stack) -> (u64, u64) {
    let d = stack.queues.total_depth().await.expect("queue depths");
    (d.visible + d.delayed, d.in_flight)
}

pub async fn wait_for_status(stack: &Stack, id: &str, status: JobStatus) -> JobRecord {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(rec) = stack.store.get(id).await.expect("read job")
            && rec.state.status == status
        {
            return rec;
        }
        assert!(Instant::now() < deadline, "job {id} never reached {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn signal(child: &Child, sig: i32) {
    let pid = child.id().expect("child pid") as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// The `expiresAt` of job `id`'s item (`None`: it has none, or there is no item).
pub async fn expires_at(stack: &Stack, id: &str) -> Option<i64> {
    let out = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.resources.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{id}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.item?.get(jobs_aws::resources::TTL_ATTRIBUTE)?.as_n().ok()?.parse().ok()
}
