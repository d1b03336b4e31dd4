use serde::{Deserialize, Serialize};

use super::kind::JobKind;

/// Answers at once with when it ran: the stand-in for a job of milliseconds (a webhook call, a
/// cache refresh), run in the drained `short` pool, where it pays no pod start of its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Ping {
    /// Returned in the result, to tell jobs apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(max_length = 256))]
    pub tag: Option<String>,
}

/// The longest `tag`.
pub const MAX_TAG: usize = 256;

impl JobKind for Ping {
    const NAME: &'static str = "ping";
    const DESCRIPTION: &'static str =
        "Answers at once with when it ran (and its `tag`): a job of milliseconds, run drained in the short pool.";
    const POLICY: crate::policy::KindPolicy = crate::policy::KindPolicy {
        pool: "short",
        timeout: Some(std::time::Duration::from_secs(30)),
        ..crate::policy::KindPolicy::DEFAULT
    };

    fn example() -> Self {
        Ping { tag: Some("health".into()) }
    }

    fn validate(&self) -> Result<(), String> {
        match &self.tag {
            Some(tag) if tag.len() > MAX_TAG => Err(format!("tag must be at most {MAX_TAG} bytes, got {}", tag.len())),
            _ => Ok(()),
        }
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        let at = ctx.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        Ok(match &self.tag {
            Some(tag) => serde_json::json!({ "at": at, "attempt": ctx.attempt, "tag": tag }),
            None => serde_json::json!({ "at": at, "attempt": ctx.attempt }),
        })
    }
}
