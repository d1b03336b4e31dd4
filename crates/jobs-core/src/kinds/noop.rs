use serde::{Deserialize, Serialize};

use super::JobKind;

/// Does nothing and succeeds: the cheapest end-to-end probe of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Noop {}

impl JobKind for Noop {
    const NAME: &'static str = "noop";
    const DESCRIPTION: &'static str = "Does nothing and succeeds.";
    const POLICY: super::KindPolicy =
        super::KindPolicy { timeout: Some(std::time::Duration::from_secs(60)), ..super::KindPolicy::DEFAULT };

    fn example() -> Self {
        Noop {}
    }

    #[cfg(feature = "run")]
    async fn run(&self, _ctx: &super::JobContext) -> Result<super::JobOutput, super::JobFailure> {
        Ok(serde_json::json!({}))
    }
}
