//! The job API as a library: the router and its state, used by the binary and the tests.

pub mod app;
pub mod caller;
pub mod cancel;
pub mod config;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod submit;
pub mod views;

use std::sync::Arc;

use aws_config::SdkConfig;
use jobs_aws::{BackendError, JobQueue, JobStore, PoolQueues, Schedules};

pub use app::router;
pub use state::AppState;

/// Builds the router's state from the configuration.
pub async fn state(config: &config::Config, sdk: &SdkConfig) -> Result<AppState, BackendError> {
    // The command kinds' schemas compile and their examples meet them (tested on the shipped
    // config): checked before the first job, not at it.
    jobs_core::catalog::command_kinds().check_schemas().map_err(|e| BackendError::other(e.to_string()))?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queues = PoolQueues::new(&sqs, &config.queue_url, jobs_core::pools::pools())
        .map_err(|e| BackendError::other(format!("QUEUE_URL: {e}")))?;
    let queue_arn = match &config.queue_arn {
        Some(arn) => arn.clone(),
        None => JobQueue::new(sqs, &config.queue_url, None).arn().await?,
    };
    Ok(AppState(Arc::new(state::Inner {
        store: JobStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name).with_timing(config.timing()),
        schedules: jobs_aws::faults::scheduler(Schedules::new(
            aws_sdk_scheduler::Client::new(sdk),
            &config.schedule_group,
            &config.scheduler_role_arn,
        )),
        queues,
        queue_arn,
        tokens: caller::Tokens::new(config.api_token.as_deref(), config.api_tokens.as_ref()),
        metrics: metrics::Metrics::default(),
        logs_dir: config.local_logs_dir.clone(),
    })))
}
