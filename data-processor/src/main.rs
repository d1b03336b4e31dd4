//! data-processor: one KEDA ScaledJob pod = one run of this binary = one message (by default).
//! Wiring only; the flow is in `worker`, the rules in `jobs-core`.

use std::process::ExitCode;

use clap::Parser;
use jobs_aws::{JobQueue, JobStore, client, telemetry};

mod config;
mod shutdown;
mod worker;

use config::Config;
use shutdown::Shutdown;
use worker::{Outcome, Worker};

const EXIT_CONFIG: u8 = 2;
const EXIT_BACKEND: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init();
    let policy = match config.policy() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let sdk = match client::load().await {
        Ok(sdk) => sdk,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let shutdown = match Shutdown::listen() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
    let worker = Worker {
        queue: JobQueue::new(aws_sdk_sqs::Client::new(&sdk), &config.queue_url, Some(config.dlq_url.clone())),
        store: JobStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name)
            .with_retention(config.retention()),
        policy,
        visibility: config.visibility(),
        wait: config.wait(),
        owner: format!("{host}/{}", uuid::Uuid::new_v4().simple()),
        shutdown,
    };
    match worker.run(config.limit()).await {
        Ok(outcomes) => {
            let code = outcomes.iter().map(|o| o.exit_code()).max().unwrap_or(0);
            let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
            tracing::info!(
                messages = outcomes.iter().filter(|o| **o != Outcome::Empty).count(),
                succeeded = count(Outcome::Succeeded),
                retry_scheduled = count(Outcome::RetryScheduled),
                failed = count(Outcome::Failed),
                rejected = count(Outcome::Rejected),
                duplicates = count(Outcome::Duplicate),
                exit_code = code,
                "worker done"
            );
            ExitCode::from(code)
        }
        Err(e) => {
            tracing::error!(error = %e, "backend failure; the message stays on the queue");
            ExitCode::from(EXIT_BACKEND)
        }
    }
}
