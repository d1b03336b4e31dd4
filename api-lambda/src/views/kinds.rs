//! A job kind as `GET /jobs/kinds` lists it: its payload schema and its policy.

use jobs_core::RetryPolicy;
use jobs_core::catalog::{KindInfo, Runtime};
use jobs_core::command::Image;
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
    /// How long a job may wait for a worker to start it while nothing of its lane runs (its
    /// image missing, its pods unschedulable) before it ends FAILED; `null`: as long as it takes.
    pub start_deadline_secs: Option<u64>,
}

/// What a command kind runs (see docs/kinds.md).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandView {
    /// The image: a reference, or the repository directory it is built from.
    pub image: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    pub working_dir: Option<String>,
    /// Exit codes that fail the job at once (any other non-zero code is retried).
    pub permanent_exit_codes: Vec<i32>,
}

/// A job kind.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KindView {
    pub name: String,
    pub description: String,
    /// `rust`: a function compiled into the worker; `command`: a command in a container image,
    /// declared in the config.
    pub runtime: Runtime,
    /// A payload that passes the kind's checks.
    #[schema(value_type = Object)]
    pub example: Value,
    /// What a command kind runs (a Rust kind: absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandView>,
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
            runtime: k.runtime,
            example: k.example.clone(),
            command: k.command.map(|c| CommandView {
                image: match &c.config.image {
                    Image::Reference(r) => r.clone(),
                    Image::Build { build } => format!("built from {build}/"),
                },
                command: c.config.command.clone(),
                working_dir: c.config.working_dir.clone(),
                permanent_exit_codes: c.config.permanent_exit_codes.clone(),
            }),
            payload_schema: k.schema.clone(),
            policy: PolicyView {
                max_attempts: p.max_attempts,
                backoff_base_secs: p.backoff_base.as_secs(),
                backoff_max_secs: p.backoff_max.as_secs(),
                timeout_secs: k.policy.timeout(limit).as_secs(),
                start_deadline_secs: jobs_core::catalog::lane(jobs_core::catalog::lane_of(k.name))
                    .and_then(|l| l.start_deadline)
                    .map(|d| d.as_secs()),
            },
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KindList {
    pub kinds: Vec<KindView>,
}
