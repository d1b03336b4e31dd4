use serde::{Deserialize, Serialize};

use super::kind::JobKind;

/// Always fails: exercises the retry path, or with `permanent` a failure that is never retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Fail {
    /// The error to fail with.
    #[serde(default = "default_message")]
    #[cfg_attr(feature = "schema", schema(min_length = 1, max_length = 1024, default = "job failed on purpose"))]
    pub message: String,
    /// Fail permanently: the job ends FAILED at its first attempt, without retries.
    #[serde(default)]
    pub permanent: bool,
}

fn default_message() -> String {
    "job failed on purpose".to_owned()
}

impl JobKind for Fail {
    const NAME: &'static str = "fail";
    const DESCRIPTION: &'static str =
        "Always fails with `message` (for testing retries); with `permanent`, once and without retries.";
    const POLICY: crate::policy::KindPolicy = crate::policy::KindPolicy {
        timeout: Some(std::time::Duration::from_secs(60)),
        ..crate::policy::KindPolicy::DEFAULT
    };

    fn example() -> Self {
        Fail { message: "the input file is missing".into(), permanent: true }
    }

    fn validate(&self) -> Result<(), String> {
        match self.message.len() {
            0 => Err("message must not be empty".into()),
            n if n > 1024 => Err(format!("message must be at most 1024 bytes, got {n}")),
            _ => Ok(()),
        }
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        _ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        match self.permanent {
            true => Err(super::context::JobFailure::permanent(self.message.clone())),
            false => Err(super::context::JobFailure::retryable(self.message.clone())),
        }
    }
}
