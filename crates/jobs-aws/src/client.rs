//! AWS SDK configuration from the standard chain (environment, profile, container/pod identity).
//! `AWS_ENDPOINT_URL` points every client at an emulator.
//!
//! The SDK sets no operation timeout by default: a call to an endpoint that accepts the
//! connection and never answers would hang. Every binary sets [`Timeouts`] well below its own
//! deadline (the API's: the Lambda timeout; the worker's: the lease).

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

use crate::error::BackendError;

/// Timeouts for every AWS call of a binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// One try of a call.
    pub attempt: Duration,
    /// A call with all its retries.
    pub operation: Duration,
}

impl Timeouts {
    /// The API: three calls per request at most, inside a 15 s Lambda timeout.
    pub const API: Timeouts = Timeouts {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(2),
        operation: Duration::from_secs(4),
    };
    /// The worker: well inside the lease's third (20 s by default); long polls get their wait on
    /// top (see `JobQueue::receive`).
    pub const WORKER: Timeouts = Timeouts {
        connect: Duration::from_secs(3),
        attempt: Duration::from_secs(5),
        operation: Duration::from_secs(12),
    };
}

/// Loads the shared SDK configuration. Fails clearly when no region is configured (set
/// `AWS_REGION` locally; off EC2, also `AWS_EC2_METADATA_DISABLED=true` skips the metadata probe).
pub async fn load(timeouts: Timeouts) -> Result<SdkConfig, BackendError> {
    let timeout_config = TimeoutConfig::builder()
        .connect_timeout(timeouts.connect)
        .operation_attempt_timeout(timeouts.attempt)
        .operation_timeout(timeouts.operation)
        .build();
    let config = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeout_config).load().await;
    if config.region().is_none() {
        return Err(BackendError::other("no AWS region configured: set AWS_REGION (e.g. us-east-1)"));
    }
    Ok(config)
}
