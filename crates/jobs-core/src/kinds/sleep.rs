use serde::{Deserialize, Serialize};

use super::JobKind;

/// The longest sleep a job may ask for (1 hour).
pub const MAX_SLEEP_MS: u64 = 3_600_000;

/// Sleeps for `ms` milliseconds, then succeeds. Stands in for slow I/O-bound work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    pub ms: u64,
}

impl JobKind for Sleep {
    const NAME: &'static str = "sleep";
    const DESCRIPTION: &'static str = "Sleeps for `ms` milliseconds (at most 3600000), then succeeds.";

    fn validate(&self) -> Result<(), String> {
        if self.ms > MAX_SLEEP_MS {
            return Err(format!("ms must be at most {MAX_SLEEP_MS}, got {}", self.ms));
        }
        Ok(())
    }

    #[cfg(feature = "run")]
    async fn run(&self, _ctx: &super::JobContext) -> Result<super::JobOutput, super::JobFailure> {
        tokio::time::sleep(std::time::Duration::from_millis(self.ms)).await;
        Ok(serde_json::json!({ "sleptMs": self.ms }))
    }
}
