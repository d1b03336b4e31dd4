//! A job kind as `GET /jobs/kinds` lists it: its payload schema and its policy.

use jobs_core::RetryPolicy;
use jobs_core::kinds::KindInfo;
use jobs_core::pools::{MAX_TIME_LIMIT, pools};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A job kind's retry policy and time limit as the worker applies it with its default settings
/// (a deployment may change the defaults; a kind's own choices stay).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Seconds before the first re-attempt, doubled for each later one.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// The longest one attempt may run (the kind's limit, at most its pool's); then it fails as
    /// `timedOut`.
    pub timeout_secs: u64,
}

/// A job kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindView {
    pub name: String,
    pub description: String,
    /// The pool whose queues and pods run this kind (`GET /jobs/pools`).
    pub pool: String,
    /// The payload's JSON Schema.
    #[schema(value_type = Object)]
    pub payload_schema: Value,
    pub policy: PolicyView,
}

impl From<&KindInfo> for KindView {
    fn from(k: &KindInfo) -> Self {
        let p = k.policy.apply(&RetryPolicy::default());
        let limit = pools().get(k.policy.pool).map_or(MAX_TIME_LIMIT, |pool| pool.time_limit());
        KindView {
            name: k.name.to_owned(),
            description: k.description.to_owned(),
            pool: k.policy.pool.to_owned(),
            payload_schema: serde_json::to_value((k.schema)()).expect("schemas serialize"),
            policy: PolicyView {
                max_attempts: p.max_attempts,
                backoff_base_secs: p.backoff_base.as_secs(),
                backoff_max_secs: p.backoff_max.as_secs(),
                timeout_secs: k.policy.timeout(limit).as_secs(),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KindList {
    pub kinds: Vec<KindView>,
}
