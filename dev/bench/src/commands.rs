//! The command-kind wrapper's cost: the same empty work as a Rust kind (`noop`) and as a command
//! (`shell` with `seconds: 0`: `sh job.sh`), each attempt's recorded duration (claim → record)
//! and the worker run's wall time; and the worker's own memory while its child runs (`VmRSS`,
//! sampled every 20 ms while it has a child).

use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use testkit::Stack;

use crate::procs;
use crate::stats::percentile;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wrapper {
    pub runs: usize,
    /// Claim → record of a `noop` attempt (a Rust kind), median ms.
    pub rust_attempt_ms: f64,
    /// Claim → record of a `shell {"seconds": 0}` attempt (spawn, `sh` start and exit, output
    /// drained, result read), median ms.
    pub command_attempt_ms: f64,
    /// The difference: what the wrapper adds per job.
    pub overhead_ms: f64,
    pub command_attempt_ms_max: f64,
    /// The worker process from start to exit, one job each, median ms.
    pub rust_worker_wall_ms: f64,
    pub command_worker_wall_ms: f64,
    /// The worker's resident memory while its command runs (`shell {"seconds": 2}`), max over
    /// the runs, MiB; the command's own is not counted.
    pub wrapper_rss_mib_while_child_runs: f64,
}

pub async fn measure(stack: &Stack, runs: usize) -> Result<Wrapper, String> {
    let root = procs::workspace_root();
    let worker = procs::binary("data-processor");
    let (mut rust, mut command, mut rust_wall, mut command_wall, mut rss) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (ms, wall, _) = one(stack, &worker, &root, "noop", serde_json::json!({})).await?;
        rust.push(ms);
        rust_wall.push(wall);
        let (ms, wall, _) = one(stack, &worker, &root, "shell", serde_json::json!({"seconds": 0})).await?;
        command.push(ms);
        command_wall.push(wall);
    }
    for _ in 0..3.min(runs) {
        let (_, _, peak) = one(stack, &worker, &root, "shell", serde_json::json!({"seconds": 2})).await?;
        rss.push(peak.ok_or("never saw the worker with its child")?);
    }
    let (r, c) = (percentile(&rust, 50.0), percentile(&command, 50.0));
    Ok(Wrapper {
        runs,
        rust_attempt_ms: r,
        command_attempt_ms: c,
        overhead_ms: c - r,
        command_attempt_ms_max: percentile(&command, 100.0),
        rust_worker_wall_ms: percentile(&rust_wall, 50.0),
        command_worker_wall_ms: percentile(&command_wall, 50.0),
        wrapper_rss_mib_while_child_runs: percentile(&rss, 100.0),
    })
}

/// One job of `kind` through a worker of its lane (run from the repository's root, as the local
/// stack does): its attempt's recorded duration, the worker's wall time, and the worker's
/// largest resident memory seen while it had a child (MiB).
async fn one(
    stack: &Stack,
    worker: &Path,
    root: &Path,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(f64, f64, Option<f64>), String> {
    let msg = stack.submit_routed(kind, payload).await;
    let lane = jobs_core::catalog::lane_of(kind);
    let env = procs::env_via(stack.pool_env(lane), &stack.emulator.endpoint);
    let started = Instant::now();
    let mut child = tokio::process::Command::new(worker)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("WAIT_TIME_SECS", "5")
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("start the worker: {e}"))?;
    let pid = child.id().ok_or("no pid")?;
    let mut peak: Option<f64> = None;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if has_children(pid)
            && let Some(kib) = vm_rss_kib(pid)
        {
            peak = Some(peak.unwrap_or(0.0).max(kib as f64 / 1024.0));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    if !status.success() {
        return Err(format!("the {kind} worker exited {status}"));
    }
    let rec = stack.store.get(&msg.job_id).await.map_err(|e| e.to_string())?.ok_or("no job item")?;
    let run = rec.state.history.first().ok_or("no attempt recorded")?;
    Ok((run.duration_ms as f64, wall, peak))
}

/// Whether any thread of `pid` has a child (the thread that spawned it lists it).
fn has_children(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return false };
    tasks.flatten().any(|t| std::fs::read_to_string(t.path().join("children")).is_ok_and(|c| !c.trim().is_empty()))
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
