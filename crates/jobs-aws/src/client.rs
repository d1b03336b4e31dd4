//! AWS SDK configuration from the standard chain (environment, profile, container/pod identity).
//! `AWS_ENDPOINT_URL` points every client at an emulator.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::error::BackendError;

/// Loads the shared SDK configuration. Fails clearly when no region is configured (set
/// `AWS_REGION` locally; off EC2, also `AWS_EC2_METADATA_DISABLED=true` skips the metadata probe).
pub async fn load() -> Result<SdkConfig, BackendError> {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    if config.region().is_none() {
        return Err(BackendError::new("no AWS region configured: set AWS_REGION (e.g. us-east-1)"));
    }
    Ok(config)
}
