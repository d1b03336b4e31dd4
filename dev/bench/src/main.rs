//! `make bench`: the release binaries against the emulator; one table on stdout, every figure in
//! `dev/bench/results.json` with the machine and the commit. Targets are reported, never asserted.

mod backlog;
mod commands;
mod cost;
mod e2e;
mod footprint;
mod isolation;
mod lambda;
mod pools;
mod procs;
mod proxy;
mod report;
mod runtime_api;
mod stats;
mod tenants;
mod units;

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    about = "Benchmarks: cold start, CPU per request, throughput, latency, AWS cost per job, stats read, worker footprint, the reconciler under a backlog, a short job behind long ones"
)]
pub struct Args {
    /// Jobs through the local stack (throughput, latency).
    #[arg(long, env = "BENCH_JOBS", default_value_t = 1000)]
    pub jobs: usize,
    /// Cold starts per runtime and route; worker starts.
    #[arg(long, env = "BENCH_RUNS", default_value_t = 9)]
    pub runs: usize,
    /// Warm invocations per runtime and route (CPU per request).
    #[arg(long, env = "BENCH_INVOCATIONS", default_value_t = 1000)]
    pub invocations: usize,
    /// Jobs in the reconciler's backlog measurement.
    #[arg(long, env = "BENCH_BACKLOG_JOBS", default_value_t = 5000)]
    pub backlog_jobs: usize,
    /// Worker slots draining that backlog.
    #[arg(long, env = "BENCH_BACKLOG_SLOTS", default_value_t = 2)]
    pub backlog_slots: usize,
    /// Long `sleep` jobs that fill the long pool in the isolation measurement (its maxReplicaCount: 20).
    #[arg(long, env = "BENCH_ISOLATION_LONG", default_value_t = 50)]
    pub isolation_long: usize,
    /// How long each of them sleeps, seconds.
    #[arg(long, env = "BENCH_ISOLATION_LONG_SECS", default_value_t = 90)]
    pub isolation_long_secs: u64,
    /// Job items for the larger stats-read measurement.
    #[arg(long, env = "BENCH_STATS_ITEMS", default_value_t = 100_000)]
    pub stats_items: usize,
    /// Where the results go.
    #[arg(long, default_value = "dev/bench/results.json")]
    pub out: PathBuf,
    /// The Python interpreter with boto3 (the reference handler).
    #[arg(long, env = "BENCH_PYTHON", default_value = ".venv/bin/python")]
    pub python: PathBuf,
    /// The worker image whose size is reported (if a container engine has it).
    #[arg(long, env = "IMAGE", default_value = "localhost/keda-sqs-jobs/data-processor:dev")]
    pub image: String,
    /// Run only these sections (comma-separated); all by default. For iterating on one figure:
    /// write to another `--out` then, so the committed results stay whole.
    #[arg(long, env = "BENCH_ONLY", value_enum, value_delimiter = ',')]
    pub only: Vec<Section>,
}

/// The parts of the bench, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Section {
    /// API cold starts and warm CPU, Rust and the Python reference.
    Api,
    /// AWS requests and cost per job.
    Cost,
    /// The worker's peak RSS, start to first receive, image size.
    Worker,
    /// GET /jobs/stats with few and many job items.
    Stats,
    /// Throughput and latency through the local stack.
    Flow,
    /// The reconciler's copies while a backlog drains with the worker slots full.
    Backlog,
    /// A short job's start behind a pool full of long jobs.
    Isolation,
    /// The drained short pool's throughput and pods per job.
    Drain,
    /// A high-priority job's start behind a normal backlog.
    Priority,
    /// The command-kind wrapper: its time per job beside a Rust kind's, its memory while a
    /// command runs.
    Commands,
    /// A quiet tenant's start behind another tenant's burst (the noisy neighbour), without and
    /// with a limit on the noisy one.
    Tenants,
    /// A tenant's limit sampled every second, then raised at run time.
    Limits,
}

impl Args {
    pub fn runs(&self, section: Section) -> bool {
        self.only.is_empty() || self.only.contains(&section)
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match report::run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
