//! Shared by the end-to-end tests: the controller process, the job mix and its expected outcome.
#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{Api, Stack, free_port, workspace_binary};
use tokio::process::{Child, Command};

/// The scaling interval the tests use instead of the manifest's 10 s (the arithmetic is the same;
/// the tests only wait less). It stays well above the time a worker needs to take its message.
pub const POLLING_INTERVAL: &str = "3";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub async fn api(stack: &Stack) -> Api {
    Api::start(stack, &workspace_binary("api-lambda"), &[]).await
}

/// A deployed manifest (`keda/<file>`) with some text replaced, written to a temporary file.
pub fn manifest_with(file: &str, replacements: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(workspace_root().join("keda").join(file)).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "keda/{file} no longer contains {from:?}");
        text = text.replace(from, to);
    }
    let path = std::env::temp_dir().join(format!("scaledjob-{}.yaml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, text).unwrap();
    path
}

/// A running `local-scaledjob run`, killed if dropped.
pub struct Controller {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    http: reqwest::Client,
}

impl Controller {
    /// The controller of every pool's ScaledJob in keda/ (or of `manifest` alone), on `stack`'s
    /// queues.
    pub async fn start(stack: &Stack, extra: &[&str], logs: &Path, manifest: Option<&Path>) -> Controller {
        let port = free_port();
        let manifests = match manifest {
            Some(m) => vec![m.to_path_buf()],
            None => local_keda::manifest::discover(&workspace_root().join("keda")).unwrap().0,
        };
        let log = logs.with_extension("controller.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_local-scaledjob"));
        cmd.arg("run");
        for m in &manifests {
            cmd.arg("--manifest").arg(m);
        }
        // The manifests' queues become the stack's of the same pool and priority.
        cmd.args(["--queue-url", &stack.resources.queue_url])
            .arg("--worker-bin")
            .arg(workspace_binary("data-processor"))
            .arg("--logs-dir")
            .arg(logs)
            .args(["--state-addr", &format!("127.0.0.1:{port}"), "--polling-interval", POLLING_INTERVAL])
            .args(["--env", "LOG_FORMAT=text"]);
        for (k, v) in stack.emulator.env() {
            cmd.args(["--env", &format!("{k}={v}")]);
        }
        cmd.args(["--env", &format!("TABLE_NAME={}", stack.resources.table)]);
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .args(extra)
            .env_clear()
            .envs(stack.emulator.env())
            .env("LOG_FORMAT", "text")
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // As `make up` runs it: command kinds' workingDirs are relative to the repository.
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn local-scaledjob");
        let mut controller =
            Controller { child, base: format!("http://127.0.0.1:{port}"), log, http: reqwest::Client::new() };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = controller.http.get(format!("{}/state", controller.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            if let Ok(Some(status)) = controller.child.try_wait() {
                panic!("local-scaledjob exited with {status}: {}", controller.output());
            }
            assert!(Instant::now() < deadline, "the controller did not serve /state: {}", controller.output());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        controller
    }

    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /metrics`: (content type, the sample lines as `series value`).
    pub async fn metrics(&self) -> (String, Vec<String>) {
        let r = self.http.get(format!("{}/metrics", self.base)).send().await.expect("GET /metrics");
        assert!(r.status().is_success(), "GET /metrics: {}", r.status());
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        let text = r.text().await.expect("metrics text");
        (content_type, text.lines().filter(|l| !l.starts_with('#')).map(str::to_owned).collect())
    }

    /// `GET /state`: every ScaledJob's Jobs and totals added up, and each of them.
    pub async fn state(&self) -> Value {
        let r = self.http.get(format!("{}/state", self.base)).send().await.expect("GET /state");
        r.json().await.expect("state JSON")
    }

    /// SIGTERM, then the exit code (None when it did not exit within 90 s, or was killed).
    pub async fn stop(mut self) -> Option<i32> {
        let pid = self.child.id().expect("running") as libc::pid_t;
        // SAFETY: our own, not yet reaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        match tokio::time::timeout(Duration::from_secs(90), self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                eprintln!("controller output:\n{}", self.output());
                None
            }
        }
    }
}

/// Polls `probe` every 250 ms until it yields a value.
pub async fn poll<T, F, Fut>(timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The mix, in this order: noop, sleep 300 ms, aggregate, flaky (fails once), fail.
const MIX: [(&str, &str, &str, u64); 7] = [
    ("noop", "{}", "SUCCEEDED", 1),
    ("sleep", r#"{"ms": 300}"#, "SUCCEEDED", 1),
    ("aggregate", r#"{"records": 20000, "seed": 3}"#, "SUCCEEDED", 1),
    ("flaky", r#"{"failures": 1}"#, "SUCCEEDED", 2),
    ("fail", r#"{"message": "e2e"}"#, "FAILED", 3),
    // Command kinds: their own ScaledJobs, their own image in containers.
    ("report", r#"{"campaign": "e2e", "days": 2}"#, "SUCCEEDED", 1),
    ("shell", r#"{"seconds": 0, "exitCode": 64, "message": "e2e"}"#, "FAILED", 1),
];

pub struct Submitted(Vec<(String, &'static str, &'static str, u64)>);

impl Submitted {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// (job id, kind, expected status, expected attempts)
    pub fn expect_each(&self) -> Vec<(String, &'static str, &'static str, u64)> {
        self.0.clone()
    }
}

/// Submits `n` jobs through the API, cycling through the mix.
pub async fn submit_mix(api: &Api, n: usize) -> Submitted {
    let mut out = Vec::new();
    for i in 0..n {
        let (kind, payload, status, attempts) = MIX[i % MIX.len()];
        let payload: Value = serde_json::from_str(payload).unwrap();
        let (code, body) = api.post("/jobs", json!({"job": kind, "payload": payload})).await;
        assert!(code.is_success(), "POST /jobs {kind}: {body}");
        out.push((body["jobId"].as_str().unwrap().to_owned(), kind, status, attempts));
    }
    Submitted(out)
}

pub struct Want {
    pub succeeded: u64,
    pub failed: u64,
    pub retries: u64,
    /// Attempts that ended well: Jobs (pods) that exit 0.
    pub succeeded_attempts: u64,
}

/// The stats the mix must produce, and the number of message deliveries (attempts) in all.
pub fn expected_outcomes(submitted: &Submitted) -> (Want, u64) {
    let mut want = Want { succeeded: 0, failed: 0, retries: 0, succeeded_attempts: 0 };
    let mut attempts = 0;
    for (_, _, status, n) in &submitted.0 {
        attempts += n;
        want.retries += n - 1;
        if *status == "SUCCEEDED" {
            want.succeeded += 1;
            want.succeeded_attempts += 1;
        } else {
            want.failed += 1;
        }
    }
    (want, attempts)
}

/// Waits until `jobs` jobs are terminal in the stats and the controller runs no Job; returns
/// the controller's final state.
pub async fn wait_until_settled(api: &Api, controller: &Controller, jobs: u64, timeout: Duration) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let stats = api.get("/jobs/stats").await.1;
        let state = controller.state().await;
        let terminal = stats["succeedJob"].as_u64().unwrap_or(0) + stats["failedJob"].as_u64().unwrap_or(0);
        if terminal >= jobs && state["running"] == 0 && stats["queued"] == 0 && stats["inFlight"] == 0 {
            return state;
        }
        assert!(
            Instant::now() < deadline,
            "not settled within {timeout:?}: stats {stats}\nstate {state}\ncontroller log:\n{}",
            controller.output()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Worker processes bound to this stack's queue (found through their command and environment).
/// The worker processes of `stack` (of any pool) still alive.
pub fn worker_processes(stack: &Stack) -> Vec<u32> {
    let needle = format!("QUEUE_URL={}", stack.resources.queue_url);
    let worker = workspace_binary("data-processor");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == worker))
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                // Any pool's queue: `<stack queue>[-<pool>]`.
                .map(|env| env.split(|b| *b == 0).any(|var| var.starts_with(needle.as_bytes())))
                .unwrap_or(false)
        })
        .collect()
}
