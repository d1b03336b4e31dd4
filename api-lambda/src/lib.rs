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
pub mod submit;
pub mod views;

use std::sync::Arc;

use aws_config::SdkConfig;
use jobs_aws::{BackendError, JobQueue, JobStore, Schedules};

pub use app::{AppState, router};

/// Builds the router's state from the configuration.
pub async fn state(config: &config::Config, sdk: &SdkConfig) -> Result<AppState, BackendError> {
    let queue = JobQueue::new(aws_sdk_sqs::Client::new(sdk), &config.queue_url, Some(config.dlq_url()));
    let queue_arn = match &config.queue_arn {
        Some(arn) => arn.clone(),
        None => queue.arn().await?,
    };
    Ok(AppState(Arc::new(app::Inner {
        store: JobStore::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name).with_timing(config.timing()),
        schedules: Schedules::new(
            aws_sdk_scheduler::Client::new(sdk),
            &config.schedule_group,
            queue_arn,
            &config.scheduler_role_arn,
        ),
        queue,
        tokens: caller::Tokens::new(config.api_token.as_deref(), config.api_tokens.as_ref()),
        metrics: metrics::Metrics::default(),
        logs_dir: config.local_logs_dir.clone(),
    })))
}
