//! The API under the local Runtime API: cold starts (process spawn to the first answer posted)
//! and CPU per warm request, for the Rust `bootstrap` and the Python reference.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

use crate::runtime_api::RuntimeApi;

/// A Lambda runtime to measure: its program and arguments.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub name: &'static str,
    pub program: PathBuf,
    pub args: Vec<String>,
}

const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

fn spawn(rt: &Runtime, env: &[(String, String)], api: &RuntimeApi) -> Child {
    // Lambda sets both region variables (botocore reads only AWS_DEFAULT_REGION).
    let region = env.iter().find(|(k, _)| k == "AWS_REGION").map(|(_, v)| v.clone()).unwrap_or_default();
    Command::new(&rt.program)
        .args(&rt.args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_DEFAULT_REGION", region)
        .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", rt.program.display()))
}

/// The HTTP status in a runtime's answer (an API Gateway v2 response).
fn status_of(body: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(body).ok()?["statusCode"].as_u64()
}

async fn invoke_ok(api: &RuntimeApi, event: String) -> Result<Instant, String> {
    let answer = api.invoke(event, ANSWER_TIMEOUT).await?;
    match status_of(&answer.body) {
        Some(200) if answer.ok => Ok(answer.at),
        _ => Err(format!("unexpected answer: {}", answer.body)),
    }
}

/// One cold start: spawn to the first answer, and of it the init phase (spawn to the first
/// `next`, what Lambda reports as Init Duration).
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    pub total: Duration,
    pub init: Duration,
}

/// `runs` cold starts: a fresh process each.
pub async fn cold_starts(
    rt: &Runtime,
    env: &[(String, String)],
    event: impl Fn() -> String,
    runs: usize,
) -> Result<Vec<ColdStart>, String> {
    let mut out = Vec::with_capacity(runs);
    for _ in 0..runs {
        let api = RuntimeApi::start().await;
        let started = Instant::now();
        let mut child = spawn(rt, env, &api);
        let answered = invoke_ok(&api, event()).await.map_err(|e| format!("{}: {e}", rt.name))?;
        let init = api.init_done().unwrap_or(answered) - started;
        out.push(ColdStart { total: answered - started, init });
        let _ = child.kill().await;
    }
    Ok(out)
}

/// CPU time (user + system) of process `pid`, in milliseconds.
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks * 1000.0 / per_sec)
}

/// Warm requests: CPU-ms and wall-ms per request over `n` invocations after the first.
pub async fn warm(
    rt: &Runtime,
    env: &[(String, String)],
    event: impl Fn() -> String,
    n: usize,
) -> Result<(f64, f64), String> {
    let api = RuntimeApi::start().await;
    let mut child = spawn(rt, env, &api);
    let pid = child.id().ok_or("no pid")?;
    invoke_ok(&api, event()).await?;
    let cpu0 = cpu_ms(pid).ok_or("no /proc stat")?;
    let started = Instant::now();
    for _ in 0..n {
        invoke_ok(&api, event()).await.map_err(|e| format!("{}: {e}", rt.name))?;
    }
    let wall = started.elapsed().as_secs_f64() * 1000.0 / n as f64;
    let cpu = (cpu_ms(pid).ok_or("no /proc stat")? - cpu0) / n as f64;
    let _ = child.kill().await;
    Ok((cpu, wall))
}
