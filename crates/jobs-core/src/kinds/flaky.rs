use serde::{Deserialize, Serialize};

use super::kind::JobKind;

/// The most failures a flaky job may ask for.
pub const MAX_FAILURES: u32 = 10;

/// Fails its first `failures` attempts, then succeeds. Deterministic: decided by attempt number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Flaky {
    /// Attempts that fail before one succeeds.
    #[cfg_attr(feature = "schema", schema(minimum = 0, maximum = 10))]
    pub failures: u32,
}

impl JobKind for Flaky {
    const NAME: &'static str = "flaky";
    const DESCRIPTION: &'static str = "Fails its first `failures` attempts (at most 10), then succeeds.";
    // Up to 10 planned failures: allow them all, with short waits.
    const POLICY: crate::policy::KindPolicy = crate::policy::KindPolicy {
        max_attempts: Some(MAX_FAILURES + 1),
        backoff_base: Some(std::time::Duration::from_secs(1)),
        backoff_max: Some(std::time::Duration::from_secs(30)),
        timeout: Some(std::time::Duration::from_secs(60)),
        ..crate::policy::KindPolicy::DEFAULT
    };

    fn example() -> Self {
        Flaky { failures: 2 }
    }

    fn validate(&self) -> Result<(), String> {
        if self.failures > MAX_FAILURES {
            return Err(format!("failures must be at most {MAX_FAILURES}, got {}", self.failures));
        }
        Ok(())
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        if ctx.attempt <= self.failures {
            return Err(super::context::JobFailure::retryable(format!(
                "flaky: attempt {} of the {} planned failures",
                ctx.attempt, self.failures
            )));
        }
        Ok(serde_json::json!({ "succeededOnAttempt": ctx.attempt }))
    }
}

#[cfg(all(test, feature = "run"))]
mod tests {
    use super::*;
    use crate::kinds::JobContext;

    #[tokio::test]
    async fn fails_exactly_the_first_n_attempts() {
        let job = Flaky { failures: 2 };
        let ctx = |attempt| JobContext {
            job_id: "j".into(),
            attempt,
            cancel: crate::kinds::Cancellation::never(),
            checkpoint: crate::kinds::Checkpoint::none(),
            clock: crate::clock::system(),
        };
        assert!(job.run(&ctx(1)).await.is_err());
        assert!(job.run(&ctx(2)).await.is_err());
        assert_eq!(job.run(&ctx(3)).await.unwrap()["succeededOnAttempt"], 3);
        assert!(Flaky { failures: 0 }.run(&ctx(1)).await.is_ok());
    }
}
