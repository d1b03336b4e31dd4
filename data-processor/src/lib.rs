//! The job worker as a library: configuration, the message flow ([`worker`]), one attempt's run
//! and record, and [`run`], which builds the adapters and turns outcomes into an exit code.

mod attempt;
pub mod children;
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

use std::sync::Arc;

use jobs_aws::sqs::{SdkSqs, Sqs};
use jobs_aws::{JobQueue, JobStore, PoolQueues, client};
use jobs_runtime::{Shutdown, exit};

use crate::config::{Command, Config};
use crate::reconcile::Reconciler;
use crate::worker::{Outcome, Worker};

/// Runs the worker as configured until its messages are handled or a stop is requested; returns
/// the process exit code (see the `--help` text).
pub async fn run(config: Config, shutdown: Shutdown) -> u8 {
    if let Err(e) = config.policy() {
        tracing::error!(error = %e, "invalid configuration");
        return exit::CONFIG;
    }
    let sdk = match client::load(client::Timeouts::WORKER).await {
        Ok(sdk) => sdk,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return exit::CONFIG;
        }
    };
    let sqs = jobs_aws::faults::sqs(SdkSqs::new(aws_sdk_sqs::Client::new(&sdk)));
    let store = JobStore::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name);
    if let Some(Command::Reconcile(args)) = &config.command {
        let reconciler = match reconciler(&config, args, sqs, store, shutdown) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "invalid configuration (QUEUE_URL)");
                return exit::CONFIG;
            }
        };
        let every = std::time::Duration::from_secs(args.every_secs);
        let healthy = reconciler.run(every, args.for_secs.map(std::time::Duration::from_secs)).await;
        return if healthy { 0 } else { exit::BACKEND };
    }
    let owner = format!("{}/{}", config.runner().worker, uuid::Uuid::new_v4().simple());
    let (limit, take_for) = (config.limit(), config.take_for());
    let mut worker = match worker(config, sqs, store, owner, shutdown) {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return exit::CONFIG;
        }
    };
    tracing::info!(pool = %worker.config.pool, kind = worker.config.command_kind.as_deref(), queues = worker.queues.len(), drain = worker.config.drain, "worker starts");
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

/// The worker `config` describes, over `sqs` and `store` (the SDK's in production; the simulated
/// world's in the simulator), known in leases as `owner`. Its queues: the high-priority one first,
/// both dead-lettering to the pool's queue.
pub fn worker(
    config: Config,
    sqs: Arc<dyn Sqs>,
    store: JobStore,
    owner: String,
    shutdown: Shutdown,
) -> Result<Worker, jobs_core::PolicyError> {
    let policy = config.policy()?;
    let dlq = Some(config.dlq_url.clone());
    let queue = JobQueue::over(sqs.clone(), &config.queue_url, dlq.clone());
    let high = config.high_queue_url.as_ref().map(|url| JobQueue::over(sqs.clone(), url, dlq.clone()));
    let queues: Vec<JobQueue> = high.into_iter().chain([queue.clone()]).collect();
    let store = store.with_retention(config.retention()).with_timing(config.timing());
    let runner = config.runner();
    let build = jobs_core::catalog::Build::current();
    let children = Arc::new(children::Processes);
    Ok(Worker { queues, queue, store, policy, owner, runner, shutdown, config, build, children })
}

/// The reconciler `config` and `args` describe, over `sqs` and `store`. `QUEUE_URL` names the
/// default pool's queue; every pool's queues are named after it.
pub fn reconciler(
    config: &Config,
    args: &config::ReconcileArgs,
    sqs: Arc<dyn Sqs>,
    store: JobStore,
    shutdown: Shutdown,
) -> Result<Reconciler, jobs_core::pools::QueueError> {
    let queues = PoolQueues::over(sqs, &config.queue_url, jobs_core::pools::pools())?;
    let store = store.with_retention(config.retention()).with_timing(config.timing());
    let metrics_namespace = (config.metrics == config::Metrics::Emf).then(|| config.metrics_namespace.clone());
    let start_deadlines = jobs_core::catalog::lanes().iter().map(|l| (l.name, args.start_deadline(l))).collect();
    Ok(Reconciler { queues, store, shutdown, metrics_namespace, start_deadlines })
}
