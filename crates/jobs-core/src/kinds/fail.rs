use serde::{Deserialize, Serialize};

use super::JobKind;

/// Always fails: exercises the retry path and the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    #[serde(default = "default_message")]
    pub message: String,
}

fn default_message() -> String {
    "job failed on purpose".to_owned()
}

impl JobKind for Fail {
    const NAME: &'static str = "fail";
    const DESCRIPTION: &'static str = "Always fails with `message` (for testing retries).";
    const TIMEOUT: Option<std::time::Duration> = Some(std::time::Duration::from_secs(60));

    fn validate(&self) -> Result<(), String> {
        match self.message.len() {
            0 => Err("message must not be empty".into()),
            n if n > 1024 => Err(format!("message must be at most 1024 bytes, got {n}")),
            _ => Ok(()),
        }
    }

    #[cfg(feature = "run")]
    async fn run(&self, _ctx: &super::JobContext) -> Result<super::JobOutput, super::JobFailure> {
        Err(super::JobFailure(self.message.clone()))
    }
}
