//! API configuration: flags and environment variables (the CDK stack sets the variables).

use clap::Parser;

/// The job API: serves HTTP locally, or runs under AWS Lambda when AWS_LAMBDA_RUNTIME_API is set.
#[derive(Debug, Clone, Parser)]
#[command(name = "api-lambda", version)]
pub struct Config {
    /// URL of the default pool's job queue; every pool's queues (and dead-letter queues) are
    /// named after it (docs/pools.md).
    #[arg(long, env = "QUEUE_URL")]
    pub queue_url: String,

    /// ARN of the default pool's job queue (the other queues' ARNs, the schedules' targets,
    /// follow from it); looked up from the queue when absent.
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

    /// How long a recorded job's message may be unsent before the reconciler sends it, seconds
    /// (the reconciler's setting of the same name).
    #[arg(long, env = "SEND_GRACE_SECS", default_value_t = 60)]
    pub send_grace_secs: u64,

    /// The reconciler's STALE_AFTER_SECS (due times of sent jobs), seconds.
    #[arg(long, env = "STALE_AFTER_SECS", default_value_t = 900)]
    pub stale_after_secs: u64,

    /// Local mode: address to listen on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:3000")]
    pub bind_addr: std::net::SocketAddr,

    /// Local mode: host names besides the loopback ones that requests may name in `Host`
    /// (comma-separated, e.g. a container's service name). Others get 403 (DNS rebinding).
    #[arg(long, env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Local mode: require `Authorization: Bearer <token>` (in AWS, IAM authorization applies).
    /// Jobs submitted with it record `submittedBy: local`.
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,

    /// Local mode: more bearer tokens, each with a name (`name=token,…`); jobs submitted with one
    /// record `submittedBy: local:<name>`.
    #[arg(long, env = "API_TOKENS", hide_env_values = true)]
    pub api_tokens: Option<crate::caller::NamedTokens>,

    /// Local mode: the directory the local controller writes the pods' log files to; a run's log
    /// is served from it (and only from it).
    #[arg(long, env = "LOCAL_LOGS_DIR")]
    pub local_logs_dir: Option<std::path::PathBuf>,
}

impl Config {
    pub fn timing(&self) -> jobs_core::reconcile::Timing {
        jobs_core::reconcile::Timing {
            send_grace: std::time::Duration::from_secs(self.send_grace_secs),
            stale: std::time::Duration::from_secs(self.stale_after_secs),
        }
    }
}
