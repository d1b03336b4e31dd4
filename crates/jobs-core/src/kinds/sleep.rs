use serde::{Deserialize, Serialize};

use super::JobKind;

/// The longest sleep a job may ask for (1 hour).
pub const MAX_SLEEP_MS: u64 = 3_600_000;

/// Sleeps for `ms` milliseconds, then succeeds. Stands in for slow I/O-bound work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    /// How long to sleep.
    #[cfg_attr(feature = "schema", schema(minimum = 0, maximum = 3_600_000))]
    pub ms: u64,
}

impl JobKind for Sleep {
    const NAME: &'static str = "sleep";
    const DESCRIPTION: &'static str =
        "Sleeps for `ms` milliseconds (at most 3600000), then succeeds; stops early when cancelled.";

    fn validate(&self) -> Result<(), String> {
        if self.ms > MAX_SLEEP_MS {
            return Err(format!("ms must be at most {MAX_SLEEP_MS}, got {}", self.ms));
        }
        Ok(())
    }

    #[cfg(feature = "run")]
    async fn run(&self, ctx: &super::JobContext) -> Result<super::JobOutput, super::JobFailure> {
        let started = std::time::Instant::now();
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_millis(self.ms)) => Ok(serde_json::json!({ "sleptMs": self.ms })),
            () = ctx.cancel.cancelled() => Err(super::JobFailure::retryable(format!(
                "sleep cancelled after {} ms", started.elapsed().as_millis()
            ))),
        }
    }
}
