//! The command line: arguments, what each command asks the API, what it prints (human lines and
//! tables from [`crate::render`], or the answer as JSON with `--json`), and the exit codes that say
//! what went wrong.

use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::answer::{Answer, Failure, json_arg};
use crate::auth::{self, AuthMode};
use crate::client::{Accepted, Client, ClientError, JobOptions, ListFilter};
use crate::wait::{self, WaitError};
use crate::{render, watch};

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
        /// The job kind (`jobsctl kinds` lists them).
        kind: String,
        /// The payload as JSON (default: the kind's defaults).
        #[arg(long)]
        payload: Option<String>,
        /// `high` starts before every `normal` job of its pool still waiting (default normal).
        #[arg(long, value_parser = ["high", "normal"])]
        priority: Option<String>,
        /// Whose job it is (default: your own tenant, see docs/tenants.md).
        #[arg(long)]
        tenant: Option<String>,
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
    /// List jobs, newest first (one page; --cursor for the next).
    List {
        /// WAITING, QUEUED, RUNNING, RETRY_WAIT, SUCCEEDED, FAILED, CANCELLED or SKIPPED.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// Jobs fired by this schedule.
        #[arg(long)]
        schedule: Option<String>,
        /// Jobs submitted by this caller (an IAM ARN, `schedule:<name>`, `local[:<name>]`).
        #[arg(long)]
        submitted_by: Option<String>,
        /// Jobs of this tenant.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        /// The `nextCursor` of the previous page.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Cancel a job: at once if it waits, through its worker if it runs.
    Cancel { id: String },
    /// Run a FAILED or CANCELLED job again, as a new job.
    Retry {
        id: String,
        /// The new job's priority (default: the old job's).
        #[arg(long, value_parser = ["high", "normal"])]
        priority: Option<String>,
        /// The new job's tenant (default: the old job's).
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait until the new job ends; exit 0 only if it SUCCEEDED.
        #[arg(long)]
        wait: bool,
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Follow jobs until every one has ended; exit 0 only if all SUCCEEDED.
    Watch {
        #[arg(required = true)]
        ids: Vec<String>,
        /// Seconds before giving up.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// The job kinds, with their pool, retry policy and payload schema (--json).
    Kinds,
    /// The pools: each one's shape, time limit, capacity, concurrency and queues now.
    Pools,
    /// Tenants: their limits, changed at run time, and what they use (docs/tenants.md).
    #[command(subcommand)]
    Tenants(crate::tenants::TenantsCommand),
    /// The counters and the queue's depth.
    Stats,
    /// Cron schedules that submit jobs.
    #[command(subcommand)]
    Schedule(crate::schedule::ScheduleCommand),
    /// Post-deploy check: a noop job reaches SUCCEEDED within the timeout, then the stats answer.
    Check {
        /// Seconds to wait for the job (a cold cluster first starts a spot node).
        #[arg(long, default_value_t = 900)]
        timeout: u64,
    },
    /// Serve the dashboard on localhost and forward its calls to the API, signed (SigV4 in AWS)
    /// or with the token, like `kubectl proxy`. Prints the URL to open; Ctrl-C (or SIGTERM) stops.
    Ui {
        /// Where to listen (a loopback address; port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8001")]
        listen: std::net::SocketAddr,
    },
}

/// Runs the command; returns the exit code.
pub async fn run(args: Args) -> u8 {
    let mode = match auth::choose(&args.api, args.token.as_deref(), args.sigv4.then_some(true), args.region.as_deref())
    {
        Ok(mode) => mode,
        Err(e) => return fail(args.json, "config", &e.to_string(), exit::CONFIG),
    };
    let signed = matches!(mode, AuthMode::SigV4 { .. });
    let client = match Client::new(args.api.clone(), mode).await {
        Ok(c) => c,
        Err(e) => return client_failure(args.json, &e),
    };
    if let Command::Ui { listen } = &args.command {
        if !listen.ip().is_loopback() {
            let message = format!("--listen {listen}: jobsctl ui listens on a loopback address only");
            return fail(args.json, "config", &message, exit::CONFIG);
        }
        return match crate::proxy::run(client, *listen, jobs_runtime::shutdown::stop_requested()).await {
            Ok(()) => 0,
            Err(e) => fail(args.json, "config", &format!("jobsctl ui on {listen}: {e}"), exit::CONFIG),
        };
    }
    let result = match execute(&client, &args.command, signed).await {
        Ok(result) => result,
        Err(Failure::Usage(message)) => return fail(args.json, "usage", &message, exit::CONFIG),
        Err(Failure::Wait(e)) => return wait_failure(args.json, e),
    };
    if args.json {
        println!("{}", result.value);
    } else if !result.human.is_empty() {
        println!("{}", result.human);
    }
    result.code
}

fn progress(line: &str) {
    eprintln!("{line}");
}

async fn execute(client: &Client, command: &Command, signed: bool) -> Result<Answer, Failure> {
    Ok(match command {
        Command::Submit { kind, payload, priority, tenant, idempotency_key, wait, timeout } => {
            let payload = json_arg("payload", payload.as_deref())?;
            let options = JobOptions { priority: priority.as_deref(), tenant: tenant.as_deref() };
            let accepted = client.submit(kind, payload.as_ref(), options, idempotency_key.as_deref()).await?;
            accepted_answer(client, accepted, *wait, *timeout).await?
        }
        Command::Get { id } => {
            let job = client.job(id).await?;
            let human = render::job_line(&job);
            Answer::ok(job, human)
        }
        Command::List { status, kind, schedule, submitted_by, tenant, limit, cursor } => {
            let filter = ListFilter {
                status: status.clone(),
                kind: kind.clone(),
                schedule: schedule.clone(),
                submitted_by: submitted_by.clone(),
                tenant: tenant.clone(),
                limit: *limit,
                cursor: cursor.clone(),
            };
            let page = client.list(&filter).await?;
            let jobs = page["jobs"].as_array().cloned().unwrap_or_default();
            if let Some(next) = page["nextCursor"].as_str() {
                eprintln!("more: {}", filter.next_page_command(next));
            }
            Answer::ok(page, render::jobs_table(&jobs))
        }
        Command::Cancel { id } => {
            let job = client.cancel(id).await?;
            let human = match job["status"].as_str() {
                Some("CANCELLED") => render::job_line(&job),
                _ => format!("{}  (cancel requested: its worker stops it)", render::job_line(&job)),
            };
            Answer::ok(job, human)
        }
        Command::Retry { id, priority, tenant, idempotency_key, wait, timeout } => {
            let options = JobOptions { priority: priority.as_deref(), tenant: tenant.as_deref() };
            let accepted = client.retry(id, options, idempotency_key.as_deref()).await?;
            accepted_answer(client, accepted, *wait, *timeout).await?
        }
        Command::Watch { ids, timeout } => {
            let jobs = watch::watch(client, ids, Duration::from_secs(*timeout), progress).await?;
            let tally = watch::Tally::of(&jobs.iter().cloned().map(Some).collect::<Vec<_>>());
            let code = if tally.all_succeeded { 0 } else { exit::JOB_NOT_SUCCEEDED };
            Answer { human: render::jobs_table(&jobs), value: Value::Array(jobs), code }
        }
        Command::Kinds => {
            let kinds = client.kinds().await?;
            let human = render::kinds_table(&kinds);
            Answer::ok(kinds, human)
        }
        Command::Pools => {
            let pools = client.pools().await?;
            let human = render::pools_table(&pools);
            Answer::ok(pools, human)
        }
        Command::Stats => {
            let stats = client.stats().await?;
            let human = render::stats_line(&stats);
            Answer::ok(stats, human)
        }
        Command::Schedule(command) => crate::schedule::execute(client, command).await?,
        Command::Tenants(command) => crate::tenants::execute(client, command).await?,
        Command::Check { timeout } => {
            let r = wait::check(client, Duration::from_secs(*timeout), progress).await?;
            let stats = &r.stats;
            let human = format!(
                "deploy check passed: job {} SUCCEEDED in {:.1} s; submitted {}, succeeded {}, failed {}",
                r.job_id, r.seconds, stats["submitted"], stats["succeedJob"], stats["failedJob"]
            );
            let value = serde_json::json!({"passed": true, "jobId": r.job_id, "seconds": r.seconds, "stats": r.stats, "sigv4": signed});
            Answer::ok(value, human)
        }
        Command::Ui { .. } => unreachable!("run serves the dashboard before commands execute"),
    })
}

/// A submitted job's answer; with `wait`, the job once it ended (exit 1 unless it SUCCEEDED).
async fn accepted_answer(client: &Client, accepted: Accepted, wait: bool, timeout: u64) -> Result<Answer, Failure> {
    if !wait {
        let value = serde_json::json!({"jobId": accepted.job_id, "status": accepted.status});
        let human = render::job_line(&value);
        return Ok(Answer::ok(value, human));
    }
    let job = wait::until_ended(client, &accepted.job_id, Duration::from_secs(timeout), progress).await?;
    match wait::verdict(&job) {
        Some(wait::Verdict::Ended { status, error }) => {
            Err(WaitError::Ended { id: accepted.job_id, status, error }.into())
        }
        _ => {
            let human = render::job_line(&job);
            Ok(Answer::ok(job, human))
        }
    }
}

/// Says what failed on stderr and, with `--json`, as `{"error": {"code", "message"}}` on stdout
/// (the API's own error, with its `status`, when it refused), so a script reads one stream.
fn fail(json: bool, error_code: &str, message: &str, code: u8) -> u8 {
    fail_with(json, serde_json::json!({"error": {"code": error_code, "message": message}}), message, code)
}

fn fail_with(json: bool, value: Value, message: &str, code: u8) -> u8 {
    eprintln!("jobsctl: {message}");
    if json {
        println!("{value}");
    }
    code
}

fn wait_failure(json: bool, e: WaitError) -> u8 {
    match e {
        WaitError::Client(e) => client_failure(json, &e),
        e @ WaitError::Timeout { .. } => fail(json, "timeout", &e.to_string(), exit::TIMEOUT),
        e @ WaitError::Ended { .. } => fail(json, "job_not_succeeded", &e.to_string(), exit::JOB_NOT_SUCCEEDED),
    }
}

fn client_failure(json: bool, e: &ClientError) -> u8 {
    let code = match e {
        ClientError::Api { status, .. } if *status < 500 && *status != 429 => exit::REFUSED,
        ClientError::Credentials(_) | ClientError::Sign(_) => exit::CONFIG,
        _ => exit::BACKEND,
    };
    let value = match e {
        ClientError::Api { status, code, message } => {
            serde_json::json!({"status": status, "error": {"code": code, "message": message}})
        }
        ClientError::Transport { .. } => serde_json::json!({"error": {"code": "transport", "message": e.to_string()}}),
        ClientError::Credentials(_) | ClientError::Sign(_) => {
            serde_json::json!({"error": {"code": "credentials", "message": e.to_string()}})
        }
        ClientError::Decode { .. } => serde_json::json!({"error": {"code": "decode", "message": e.to_string()}}),
    };
    fail_with(json, value, &e.to_string(), code)
}
