//! What every Rust kind is: a payload type (serde, unknown fields rejected) with its checks,
//! its [`KindPolicy`] and the function the worker runs; and why a payload is refused.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "run")]
use super::context::{JobContext, JobFailure, JobOutput};
use crate::policy::KindPolicy;

/// One job kind: a payload type plus the function that runs it.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind's name on the wire (`"job": "<NAME>"`).
    const NAME: &'static str;
    /// One line for the API's documentation.
    const DESCRIPTION: &'static str;
    /// Attempts, backoff and time limit for this kind (see [`KindPolicy`]).
    const POLICY: KindPolicy = KindPolicy::DEFAULT;

    /// A payload that passes the checks, for the API's kind list, the dashboard and the docs.
    fn example() -> Self;

    /// Checks the payload's values (types are already checked by serde).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Runs one attempt of the job. Must be cancel-safe: the worker drops the future on SIGTERM,
    /// at the time limit, and after the grace period of a cancel request.
    #[cfg(feature = "run")]
    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<JobOutput, JobFailure>> + Send;
}

/// Why a kind/payload pair is not a valid job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown job kind {kind:?}; known kinds: {known}")]
    UnknownKind { kind: String, known: String },
    #[error("invalid payload for job kind {kind:?}: {reason}")]
    InvalidPayload { kind: String, reason: String },
}
