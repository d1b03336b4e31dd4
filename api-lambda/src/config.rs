//! API configuration: flags and environment variables (the CDK stack sets the variables).

use clap::Parser;

/// The job API: serves HTTP locally, or runs under AWS Lambda when AWS_LAMBDA_RUNTIME_API is set.
#[derive(Debug, Clone, Parser)]
#[command(name = "api-lambda", version)]
pub struct Config {
    /// URL of the job queue.
    #[arg(long, env = "QUEUE_URL")]
    pub queue_url: String,

    /// ARN of the job queue (the schedules' target); looked up from the queue when absent.
    #[arg(long, env = "QUEUE_ARN")]
    pub queue_arn: Option<String>,

    /// DynamoDB table of jobs and counters.
    #[arg(long, env = "TABLE_NAME")]
    pub table_name: String,

    /// EventBridge Scheduler group the schedules are created in.
    #[arg(long, env = "SCHEDULE_GROUP", default_value = "keda-sqs-jobs")]
    pub schedule_group: String,

    /// Role EventBridge Scheduler assumes to send to the queue (allowed only sqs:SendMessage on it).
    #[arg(long, env = "SCHEDULER_ROLE_ARN")]
    pub scheduler_role_arn: String,

    /// Local mode: address to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:3000")]
    pub bind_addr: std::net::SocketAddr,

    /// Local mode: require `Authorization: Bearer <token>` (in AWS, IAM authorization applies).
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
}
