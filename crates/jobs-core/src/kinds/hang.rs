use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::kind::JobKind;
use crate::policy::KindPolicy;

/// Never finishes on its own and ignores cancellation: shows a kind's own time limit and
/// attempts (each attempt times out after 3 s; two attempts), and the worker's hard stop after a
/// cancel request's grace period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Hang {}

impl JobKind for Hang {
    const NAME: &'static str = "hang";
    const DESCRIPTION: &'static str = "Never returns and ignores cancellation (for testing time limits and stops): each attempt times out after 3 s; 2 attempts.";
    const POLICY: KindPolicy = KindPolicy {
        max_attempts: Some(2),
        backoff_base: Some(Duration::from_secs(1)),
        backoff_max: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(3)),
        ..KindPolicy::DEFAULT
    };

    fn example() -> Self {
        Hang {}
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        _ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        std::future::pending().await
    }
}
