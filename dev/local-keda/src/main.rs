//! local-scaledjob: wiring only. The rules live in the library (manifest, job, controller).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use jobs_aws::{JobQueue, client};
use jobs_core::pools::Queues;
use jobs_runtime::{Shutdown, telemetry};
use local_keda::cli::{self, Cli, Command, ExecutorKind, Run};
use local_keda::controller::{Controller, SharedSnapshot};
use local_keda::cron::{CronRunner, SharedCrons};
use local_keda::executor::{Executor, container, process};
use local_keda::{cronjob, manifest, server, status};
use tokio::sync::RwLock;

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Status(s) => {
            status::watch(&s.api, &s.controller, s.token.as_deref(), Duration::from_secs(1), s.once).await;
            ExitCode::SUCCESS
        }
        Command::Run(run) => {
            telemetry::init();
            match serve(run).await {
                Ok(()) => ExitCode::SUCCESS,
                Err((code, e)) => {
                    tracing::error!(error = %e, "local-scaledjob cannot run");
                    ExitCode::from(code)
                }
            }
        }
    }
}

async fn make_executor(
    run: &Run,
    template: &manifest::JobTemplate,
    scaled_job: &str,
    queue_url: &str,
) -> Result<Executor, String> {
    let process = || {
        let worker = match &run.worker_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("data-processor"),
        };
        process::Processes::new(worker, run.logs_dir.clone()).map(Executor::Process)
    };
    // Asked for containers, a command kind's missing image is what it is in a cluster: a lane
    // whose pods cannot start. Otherwise any missing image means "run processes instead".
    let container = |absent_kind_image| async move {
        let engine = container::connect(run.docker_host.as_deref()).await?;
        let logs = run.logs_dir.clone();
        container::Containers::new(engine, &run.image, template, scaled_job, queue_url, logs, absent_kind_image)
            .await
            .map(|c| Executor::Container(Box::new(c)))
    };
    match run.executor {
        ExecutorKind::Process => process(),
        ExecutorKind::Container => container(true).await,
        ExecutorKind::Auto => match container(false).await {
            Ok(e) => Ok(e),
            Err(why) => {
                tracing::info!(reason = %why, "no usable container engine: Jobs run as processes");
                process()
            }
        },
    }
}

async fn serve(run: Run) -> Result<(), (u8, String)> {
    // Without --manifest: every ScaledJob of the directory, and its CronJobs with the --cronjob ones.
    let (manifests, mut cronjob_paths) = if run.manifests.is_empty() {
        manifest::discover(&run.dir).map_err(|e| (2, e.to_string()))?
    } else {
        (run.manifests.clone(), Vec::new())
    };
    for path in &run.cronjobs {
        if !cronjob_paths.iter().any(|p| same_file(p, path)) {
            cronjob_paths.push(path.clone());
        }
    }
    if manifests.is_empty() {
        return Err((2, format!("no ScaledJob manifest in {} and none given with --manifest", run.dir.display())));
    }
    let local = match &run.queue_url {
        Some(url) => Some(Queues::from_default_url(url).map_err(|e| (2, format!("--queue-url: {e}")))?),
        None => None,
    };
    let mut scaled_jobs = Vec::new();
    for path in &manifests {
        let mut sj = manifest::load(path).map_err(|e| (2, e.to_string()))?;
        if let Some(local) = &local {
            sj.localize(local).map_err(|e| (2, format!("{}: {e}", path.display())))?;
        }
        if let Some(secs) = run.polling_interval {
            sj.polling_interval = Duration::from_secs(secs);
        }
        scaled_jobs.push(sj);
    }
    scaled_jobs.sort_by(|a, b| a.name.cmp(&b.name));
    // Containers carry the stack's default queue as their label (make down removes them by it).
    let stack_queue = run.queue_url.clone().unwrap_or_else(|| scaled_jobs[0].triggers[0].queue_url.clone());
    let shutdown = Shutdown::listen().map_err(|e| (2, format!("cannot install signal handlers: {e}")))?;
    let sdk = client::load(client::Timeouts::WORKER).await.map_err(|e| (2, e.to_string()))?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);

    let mut controllers = Vec::new();
    let mut snapshots: Vec<SharedSnapshot> = Vec::new();
    for sj in scaled_jobs {
        let env = cli::job_env(&sj.job, &run.env).map_err(|e| (2, format!("{}: {e}", sj.name)))?;
        let executor = make_executor(&run, &sj.job, &sj.name, &stack_queue).await.map_err(|e| (2, e))?;
        let image = match &executor {
            Executor::Container(c) => Some(c.image().to_owned()),
            Executor::Process(_) => None,
        };
        let queues = sj.triggers.iter().map(|t| JobQueue::new(sqs.clone(), &t.queue_url, None)).collect();
        let shared: SharedSnapshot = Arc::new(RwLock::new(None));
        snapshots.push(shared.clone());
        controllers.push(Controller::new(sj, image, env, executor, queues, shared));
    }
    let crons: SharedCrons = Arc::new(RwLock::new(Vec::new()));
    let mut runners = Vec::new();
    for (slot, path) in cronjob_paths.iter().enumerate() {
        let mut cj = cronjob::load(path).map_err(|e| (2, e.to_string()))?;
        if let Some(local) = &local {
            cj.job.localize(local);
        }
        let env = cli::job_env(&cj.job, &run.env).map_err(|e| (2, e))?;
        let executor = make_executor(&run, &cj.job, &cj.name, &stack_queue).await.map_err(|e| (2, e))?;
        runners.push(CronRunner::new(cj, env, executor, crons.clone(), slot));
    }

    let listener = tokio::net::TcpListener::bind(run.state_addr)
        .await
        .map_err(|e| (2, format!("cannot listen on {}: {e}", run.state_addr)))?;
    tracing::info!(addr = %run.state_addr, scaled_jobs = controllers.len(), "state at GET /state");
    let http = tokio::spawn(axum::serve(listener, server::router(snapshots, crons)).into_future());
    let cron_tasks: Vec<_> = runners
        .into_iter()
        .map(|runner| {
            let stop = shutdown.clone();
            tokio::spawn(runner.run(run.start_cronjobs, async move { stop.requested().await }))
        })
        .collect();

    let stop = shutdown.clone();
    let retention = Duration::from_secs(run.logs_retention_days * 24 * 60 * 60);
    let logs =
        tokio::spawn(local_keda::logs::keep(run.logs_dir.clone(), retention, async move { stop.requested().await }));

    // Each ScaledJob its own control loop, as KEDA runs one per ScaledJob.
    let loops: Vec<_> = controllers
        .into_iter()
        .map(|controller| {
            let stop = shutdown.clone();
            tokio::spawn(controller.run(async move { stop.requested().await }))
        })
        .collect();
    for task in loops.into_iter().chain(cron_tasks) {
        let _ = task.await;
    }
    http.abort();
    let _ = logs.await;
    Ok(())
}

/// Whether two paths name the same file (`keda/cronjob.yaml` and `./keda/cronjob.yaml`).
fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
