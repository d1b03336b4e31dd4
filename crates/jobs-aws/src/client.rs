//! AWS SDK configuration from the standard chain (environment, profile, container/pod identity).
//! `AWS_ENDPOINT_URL` points every client at an emulator.
//!
//! The SDK's TLS roots are the system's (rustls-native-certs); [`prefer_ca_bundle`] makes it read
//! them once instead of twice.
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

/// The system CA bundle files, in the order they are looked for: Amazon Linux 2023 (Lambda's
/// `provided.al2023`, update-ca-trust), Debian and Ubuntu (the worker image, update-ca-certificates).
/// Each holds every trusted root of its system, locally added ones included.
pub const CA_BUNDLES: [&str; 2] = ["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt"];

/// Points the SDK's TLS roots at the system's CA bundle file (`SSL_CERT_FILE`), unless
/// `SSL_CERT_FILE` or `SSL_CERT_DIR` is set already. Left alone, rustls-native-certs reads the
/// bundle and then every file of the certificates directory, the same roots once more: on this
/// machine the directory took 1.9 ms of the API's 6.5 ms process start (`docs/bench.md`).
/// Returns the bundle chosen.
///
/// Call it first thing in `main`, before any other thread exists: it sets an environment variable.
pub fn prefer_ca_bundle() -> Option<&'static str> {
    let set = |name: &str| std::env::var_os(name).is_some();
    let bundle = ca_bundle(set("SSL_CERT_FILE") || set("SSL_CERT_DIR"), |p| std::path::Path::new(p).is_file())?;
    // SAFETY: called before the binary starts any thread, so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("SSL_CERT_FILE", bundle) };
    Some(bundle)
}

/// The bundle to use: none when the operator chose the roots, else the first that exists.
fn ca_bundle(operator_chose: bool, exists: impl Fn(&str) -> bool) -> Option<&'static str> {
    if operator_chose {
        return None;
    }
    CA_BUNDLES.into_iter().find(|p| exists(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_existing_bundle_unless_the_operator_chose() {
        let al2023 = CA_BUNDLES[0];
        let debian = CA_BUNDLES[1];
        // (operator set SSL_CERT_FILE/DIR, files that exist, chosen)
        let cases: [(bool, &[&str], Option<&str>); 5] = [
            (false, &[al2023, debian], Some(al2023)),
            (false, &[debian], Some(debian)),
            (false, &[], None), // native probing as before
            (true, &[al2023], None),
            (true, &[], None),
        ];
        for (chose, files, want) in cases {
            assert_eq!(ca_bundle(chose, |p| files.contains(&p)), want, "{chose} {files:?}");
        }
    }
}
