//! The job worker as a library: configuration, the message flow ([`worker`]), one attempt's run
//! and record, and [`run`], which builds the adapters and turns outcomes into an exit code.

mod attempt;
mod claim;
mod command;
pub mod config;
pub mod emf;
mod heartbeat;
pub mod install;
pub mod receive;
pub mod reconcile;
mod retry;
mod tenancy;
mod unrunnable;
pub mod worker;

use jobs_aws::{JobQueue, JobStore, PoolQueues, client};
use jobs_runtime::{Shutdown, exit};

use crate::config::{Command, Config};
use crate::reconcile::Reconciler;
use crate::worker::{Outcome, Worker};

/// Runs the worker as configured until its messages are handled or a stop is requested; returns
/// the process exit code (see the `--help` text).
pub async fn run(config: Config, shutdown: Shutdown) -> u8 {
    let policy = match config.policy() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return exit::CONFIG;
        }
    };
    let sdk = match client::load(client::Timeouts::WORKER).await {
        Ok(sdk) => sdk,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return exit::CONFIG;
        }
    };
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = JobQueue::new(sqs.clone(), &config.queue_url, Some(config.dlq_url.clone()));
    let store = JobStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name)
        .with_retention(config.retention())
        .with_timing(config.timing());
    if let Some(Command::Reconcile(args)) = &config.command {
        let metrics_namespace = (config.metrics == config::Metrics::Emf).then(|| config.metrics_namespace.clone());
        // QUEUE_URL names the default pool's queue; every pool's queues are named after it.
        let queues = match PoolQueues::new(&sqs, &config.queue_url, jobs_core::pools::pools()) {
            Ok(q) => q,
            Err(e) => {
                tracing::error!(error = %e, "invalid configuration (QUEUE_URL)");
                return exit::CONFIG;
            }
        };
        let start_deadlines = jobs_core::catalog::lanes().iter().map(|l| (l.name, args.start_deadline(l))).collect();
        let reconciler = Reconciler { queues, store, shutdown, metrics_namespace, start_deadlines };
        let every = std::time::Duration::from_secs(args.every_secs);
        let healthy = reconciler.run(every, args.for_secs.map(std::time::Duration::from_secs)).await;
        return if healthy { 0 } else { exit::BACKEND };
    }
    let runner = config.runner();
    let owner = format!("{}/{}", runner.worker, uuid::Uuid::new_v4().simple());
    // High priority first; both queues' dead letters go to the pool's DLQ.
    let high = config.high_queue_url.as_ref().map(|url| JobQueue::new(sqs.clone(), url, Some(config.dlq_url.clone())));
    let queues: Vec<JobQueue> = high.into_iter().chain([queue.clone()]).collect();
    let (limit, take_for) = (config.limit(), config.take_for());
    tracing::info!(pool = %config.pool, kind = config.command_kind.as_deref(), queues = queues.len(), drain = config.drain, "worker starts");
    let mut worker = Worker { queues, queue, store, policy, owner, runner, shutdown, config };
    match worker.run(limit, take_for).await {
        Ok(outcomes) => {
            let code = outcomes.iter().map(|o| o.exit_code()).max().unwrap_or(0);
            let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
            tracing::info!(
                messages = outcomes.iter().filter(|o| **o != Outcome::Empty).count(),
                succeeded = count(Outcome::Succeeded),
                retry_scheduled = count(Outcome::RetryScheduled),
                failed = count(Outcome::Failed),
                cancelled = count(Outcome::Cancelled),
                skipped = count(Outcome::Skipped),
                waiting = count(Outcome::Waiting),
                rejected = count(Outcome::Rejected),
                duplicates = count(Outcome::Duplicate),
                exit_code = code,
                "worker done"
            );
            code
        }
        Err(e) => {
            tracing::error!(error = %e, "backend failure; the message comes back later");
            exit::BACKEND
        }
    }
}
