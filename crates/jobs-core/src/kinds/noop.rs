use serde::{Deserialize, Serialize};

use super::kind::JobKind;

/// Does nothing and succeeds: the cheapest end-to-end probe of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Noop {}

impl JobKind for Noop {
    const NAME: &'static str = "noop";
    const DESCRIPTION: &'static str = "Does nothing and succeeds.";
    const POLICY: crate::policy::KindPolicy = crate::policy::KindPolicy {
        timeout: Some(std::time::Duration::from_secs(60)),
        ..crate::policy::KindPolicy::DEFAULT
    };

    fn example() -> Self {
        Noop {}
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        _ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        Ok(serde_json::json!({}))
    }
}
