//! The command line: arguments, what each command prints (a human line or `--json`), and the exit
//! codes that say what went wrong.

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::auth::{self, AuthMode};
use crate::client::{Client, ClientError};
use crate::wait::{self, WaitError};

/// Exit codes.
pub mod exit {
    /// The job ended, but not SUCCEEDED (`--wait`, `check`).
    pub const JOB_NOT_SUCCEEDED: u8 = 1;
    /// Bad arguments or configuration (no region, no credentials).
    pub const CONFIG: u8 = 2;
    /// The API or the network failed (5xx, no answer): try again.
    pub const BACKEND: u8 = 3;
    /// The API refused the request (4xx: bad input, unknown job, not authorized).
    pub const REFUSED: u8 = 4;
    /// The job had not ended when the timeout passed.
    pub const TIMEOUT: u8 = 5;
}

#[derive(Debug, Parser)]
#[command(
    name = "jobsctl",
    version,
    about = "The job API from a terminal or a pipeline.",
    after_help = "Authorization: a bearer token with --token (the local API's API_TOKEN); SigV4 for \
an *.amazonaws.com URL or with --sigv4 (credentials from the standard AWS chain); else none.\n\
Exit codes: 0 ok; 1 the job ended but not SUCCEEDED; 2 bad arguments or configuration; 3 the API \
or network failed; 4 the API refused the request; 5 timed out."
)]
pub struct Args {
    /// The API's base URL (the JobsApi output ApiUrl in AWS).
    #[arg(long, env = "JOBS_API_URL", default_value = "http://127.0.0.1:3000", global = true)]
    pub api: url::Url,
    /// Bearer token (local API with API_TOKEN / API_TOKENS).
    #[arg(long, env = "JOBS_API_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Sign with SigV4 even if the URL is not *.amazonaws.com (a custom domain).
    #[arg(long, global = true)]
    pub sigv4: bool,
    /// The region to sign for (default AWS_REGION, else the URL's).
    #[arg(long, env = "AWS_REGION", global = true)]
    pub region: Option<String>,
    /// Print JSON instead of a human line.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Submit a job.
    Submit {
        /// The job kind (GET /jobs/kinds lists them).
        kind: String,
        /// The payload as JSON (default: the kind's defaults).
        #[arg(long)]
        payload: Option<String>,
        /// Idempotency-Key: the same key within 24 h returns the same job.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait until the job ends; exit 0 only if it SUCCEEDED.
        #[arg(long)]
        wait: bool,
        /// With --wait: seconds before giving up.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Show one job.
    Get { id: String },
    /// The counters and the queue's depth.
    Stats,
    /// Post-deploy check: a noop job reaches SUCCEEDED within the timeout, then the stats answer.
    Check {
        /// Seconds to wait for the job (a cold cluster first starts a spot node).
        #[arg(long, default_value_t = 900)]
        timeout: u64,
    },
}

/// Runs the command; returns the exit code.
pub async fn run(args: Args) -> u8 {
    let mode = match auth::choose(&args.api, args.token.as_deref(), args.sigv4.then_some(true), args.region.as_deref())
    {
        Ok(mode) => mode,
        Err(e) => return fail(&e.to_string(), exit::CONFIG),
    };
    let signed = matches!(mode, AuthMode::SigV4 { .. });
    let client = match Client::new(args.api.clone(), mode).await {
        Ok(c) => c,
        Err(e) => return client_failure(&e),
    };
    let progress = |line: &str| eprintln!("{line}");
    let result: Result<Value, WaitError> = match &args.command {
        Command::Submit { kind, payload, idempotency_key, wait, timeout } => {
            let payload = match payload.as_deref().map(serde_json::from_str::<Value>).transpose() {
                Ok(p) => p,
                Err(e) => return fail(&format!("--payload is not JSON: {e}"), exit::CONFIG),
            };
            match client.submit(kind, payload.as_ref(), idempotency_key.as_deref()).await {
                Err(e) => Err(e.into()),
                Ok(accepted) if !wait => Ok(serde_json::json!({"jobId": accepted.job_id, "status": accepted.status})),
                Ok(accepted) => {
                    let job = wait::until_ended(&client, &accepted.job_id, Duration::from_secs(*timeout), progress).await;
                    job.and_then(|job| match wait::verdict(&job) {
                        Some(wait::Verdict::Ended { status, error }) => Err(WaitError::Ended { id: accepted.job_id, status, error }),
                        _ => Ok(job),
                    })
                }
            }
        }
        Command::Get { id } => client.job(id).await.map_err(WaitError::from),
        Command::Stats => client.stats().await.map_err(WaitError::from),
        Command::Check { timeout } => wait::check(&client, Duration::from_secs(*timeout), progress).await.map(|r| {
            serde_json::json!({"passed": true, "jobId": r.job_id, "seconds": r.seconds, "stats": r.stats, "sigv4": signed})
        }),
    };
    match result {
        Ok(value) => {
            println!("{}", if args.json { value.to_string() } else { human(&args.command, &value) });
            0
        }
        Err(WaitError::Client(e)) => client_failure(&e),
        Err(e @ WaitError::Timeout { .. }) => fail(&e.to_string(), exit::TIMEOUT),
        Err(e @ WaitError::Ended { .. }) => fail(&e.to_string(), exit::JOB_NOT_SUCCEEDED),
    }
}

fn fail(message: &str, code: u8) -> u8 {
    eprintln!("jobsctl: {message}");
    code
}

fn client_failure(e: &ClientError) -> u8 {
    let code = match e {
        ClientError::Api { status, .. } if *status < 500 && *status != 429 => exit::REFUSED,
        ClientError::Credentials(_) | ClientError::Sign(_) => exit::CONFIG,
        _ => exit::BACKEND,
    };
    fail(&e.to_string(), code)
}

/// The human form of a command's answer.
pub fn human(command: &Command, v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
    let n = |k: &str| v[k].as_u64().map(|n| n.to_string()).unwrap_or_else(|| "-".into());
    match command {
        Command::Submit { .. } | Command::Get { .. } => {
            let mut line = format!("{}  {}", s("jobId"), s("status"));
            if v.get("job").is_some() {
                line += &format!("  {}  attempts {}  by {}", s("job"), n("attempts"), s("submittedBy"));
            }
            if let Some(e) = v["lastError"].as_str() {
                line += &format!("  error: {e}");
            }
            line
        }
        Command::Stats => format!(
            "submitted {}  succeeded {}  failed {}  retries {}  cancelled {}  skipped {}  queued {}  in flight {}",
            n("submitted"),
            n("succeedJob"),
            n("failedJob"),
            n("jobRetry"),
            n("cancelled"),
            n("skipped"),
            n("queued"),
            n("inFlight")
        ),
        Command::Check { .. } => {
            let stats = &v["stats"];
            format!(
                "deploy check passed: job {} SUCCEEDED in {:.1} s; submitted {}, succeeded {}, failed {}",
                s("jobId"),
                v["seconds"].as_f64().unwrap_or_default(),
                stats["submitted"],
                stats["succeedJob"],
                stats["failedJob"]
            )
        }
    }
}
