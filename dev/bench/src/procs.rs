//! Starting the release binaries under test: where they are, the environment that binds them to
//! the bench's resources, the API served locally, and a worker run with its peak memory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::Stack;
use tokio::process::{Child, Command};

/// A release binary next to the bench's own (`cargo build --release` builds them together).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let path = exe.parent().expect("target dir").join(name);
    assert!(path.exists(), "{} is not built (make bench builds it)", path.display());
    path
}

/// The deployed Lambda's `bootstrap`, unpacked from the zip `make package` built (static, as
/// it runs on provided.al2023). Python's zipfile (the project needs Python anyway, unlike unzip).
pub fn bootstrap(zip: &Path) -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("bench-bootstrap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(zip)
        .arg(&dir)
        .output()
        .map_err(|e| format!("python3 -m zipfile: {e}"))?;
    if !out.status.success() {
        return Err(format!("{} (make package builds it): {}", zip.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let path = dir.join("bootstrap");
    // zipfile does not keep the mode bits.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The repository root (the bench runs from anywhere).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An environment with every AWS call sent to `endpoint` (the emulator, or the counting proxy).
pub fn env_via(base: Vec<(&'static str, String)>, endpoint: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> =
        base.into_iter().filter(|(k, _)| *k != "AWS_ENDPOINT_URL").map(|(k, v)| (k.to_owned(), v)).collect();
    env.push(("AWS_ENDPOINT_URL".into(), endpoint.to_owned()));
    env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    env.push(("LOG_FORMAT".into(), "json".into()));
    env.push(("RUST_LOG".into(), "info".into()));
    env
}

/// The API environment as in AWS (QUEUE_ARN set, so nothing is looked up at start).
pub async fn api_env(stack: &Stack, endpoint: &str) -> Vec<(String, String)> {
    let mut env = env_via(stack.api_env(), endpoint);
    env.push(("QUEUE_ARN".into(), stack.queue.arn().await.expect("queue ARN")));
    env
}

/// The API binary serving HTTP on a free port; killed when dropped.
pub struct LocalApi {
    _child: Child,
    pub base: String,
}

pub async fn serve_api(env: &[(String, String)]) -> LocalApi {
    let port = testkit::free_port();
    let child = Command::new(binary("api-lambda"))
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the API");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "the API did not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    LocalApi { _child: child, base: format!("http://127.0.0.1:{port}") }
}

/// One finished worker run.
#[derive(Debug, Clone, Copy)]
pub struct WorkerRun {
    pub started: Instant,
    pub code: i32,
    /// Peak resident memory (the kernel's `ru_maxrss`), KiB.
    pub peak_rss_kib: i64,
}

/// Runs the worker once (it takes one message) and waits for it with `wait4`, which reports its
/// peak memory.
pub async fn run_worker(program: &Path, env: &[(String, String)], extra: &[(&str, &str)]) -> WorkerRun {
    let mut cmd = std::process::Command::new(program);
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // BENCH_WORKER_LOG=1 shows the workers' logs (to see why a journey did not end).
        .stderr(if std::env::var_os("BENCH_WORKER_LOG").is_some() { Stdio::inherit() } else { Stdio::null() });
    let started = Instant::now();
    let child = cmd.spawn().expect("start the worker");
    let pid = child.id() as libc::pid_t;
    tokio::task::spawn_blocking(move || {
        let _child = child; // reaped by wait4 below, not by std
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is this process's child, not reaped yet; both pointers are valid.
        let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(rc, pid, "wait4");
        let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
        WorkerRun { started, code, peak_rss_kib: usage.ru_maxrss }
    })
    .await
    .expect("wait for the worker")
}
