//! local-scaledjob: wiring only. The rules live in the library (manifest, job, controller).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use jobs_aws::{JobQueue, client};
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

async fn make_executor(run: &Run, scaled_job: &str, queue_url: &str) -> Result<Executor, String> {
    let process = || {
        let worker = match &run.worker_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(|e| e.to_string())?.with_file_name("data-processor"),
        };
        process::Processes::new(worker, run.logs_dir.clone()).map(Executor::Process)
    };
    let container = || async {
        let docker = container::connect(run.docker_host.as_deref()).await?;
        container::Containers::new(docker, &run.image, scaled_job, queue_url, run.logs_dir.clone())
            .await
            .map(Executor::Container)
    };
    match run.executor {
        ExecutorKind::Process => process(),
        ExecutorKind::Container => container().await,
        ExecutorKind::Auto => match container().await {
            Ok(e) => Ok(e),
            Err(why) => {
                tracing::info!(reason = %why, "no usable container engine: Jobs run as processes");
                process()
            }
        },
    }
}

async fn serve(run: Run) -> Result<(), (u8, String)> {
    let mut sj = manifest::load(&run.manifest).map_err(|e| (2, e.to_string()))?;
    if let Some(url) = &run.queue_url {
        sj.trigger.queue_url = url.clone();
    }
    if let Some(secs) = run.polling_interval {
        sj.polling_interval = Duration::from_secs(secs);
    }
    let env = cli::job_env(&sj.job, &run.env).map_err(|e| (2, e))?;
    let executor = make_executor(&run, &sj.name, &sj.trigger.queue_url).await.map_err(|e| (2, e))?;
    let shutdown = Shutdown::listen().map_err(|e| (2, format!("cannot install signal handlers: {e}")))?;
    let crons: SharedCrons = Arc::new(RwLock::new(Vec::new()));
    let mut runners = Vec::new();
    for (slot, path) in run.cronjobs.iter().enumerate() {
        let cj = cronjob::load(path).map_err(|e| (2, e.to_string()))?;
        let env = cli::job_env(&cj.job, &run.env).map_err(|e| (2, e))?;
        let executor = make_executor(&run, &cj.name, &sj.trigger.queue_url).await.map_err(|e| (2, e))?;
        runners.push(CronRunner::new(cj, env, executor, crons.clone(), slot));
    }
    let sdk = client::load(client::Timeouts::WORKER).await.map_err(|e| (2, e.to_string()))?;
    let queue = JobQueue::new(aws_sdk_sqs::Client::new(&sdk), &sj.trigger.queue_url, None);

    let shared: SharedSnapshot = Arc::new(RwLock::new(None));
    let listener = tokio::net::TcpListener::bind(run.state_addr)
        .await
        .map_err(|e| (2, format!("cannot listen on {}: {e}", run.state_addr)))?;
    tracing::info!(addr = %run.state_addr, "state at GET /state");
    let http = tokio::spawn(axum::serve(listener, server::router(shared.clone(), crons)).into_future());
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

    let image = matches!(executor, Executor::Container(_)).then(|| run.image.clone());
    let stop = shutdown.clone();
    Controller::new(sj, image, env, executor, queue, shared).run(async move { stop.requested().await }).await;
    for task in cron_tasks {
        let _ = task.await;
    }
    http.abort();
    let _ = logs.await;
    Ok(())
}
