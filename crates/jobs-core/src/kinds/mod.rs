//! The closed registry of job kinds.
//!
//! Each kind is one file in this folder: its payload type (serde, unknown fields rejected), its
//! validation, and the Rust function the worker runs (compiled only with the `run` feature, so the
//! API never links job code). The [`registry!`] call at the bottom is the one list of kinds.
//!
//! **Adding a kind** = add `kinds/<name>.rs` implementing [`JobKind`] (its payload type, its
//! [`KindPolicy`], its function), and one line to the `registry!` call below. Parsing,
//! validation, the API's kind list and payload schemas, and the worker's dispatch all follow.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::policy::RetryPolicy;

mod aggregate;
mod context;
mod fail;
mod flaky;
mod hang;
mod noop;
mod ping;
mod sleep;

pub use aggregate::Aggregate;
#[cfg(feature = "run")]
pub use context::{Cancellation, Checkpoint, JobContext};
pub use context::{CheckpointTooLarge, JobFailure, JobOutput, MAX_CHECKPOINT_BYTES};
pub use fail::Fail;
pub use flaky::Flaky;
pub use hang::Hang;
pub use noop::Noop;
pub use ping::Ping;
pub use sleep::Sleep;

/// A kind's pool, retry policy and time limit, declared next to its payload type. `None` takes
/// the worker's setting (`MAX_ATTEMPTS`, `BACKOFF_BASE_SECS`, `BACKOFF_MAX_SECS`,
/// `ATTEMPT_TIMEOUT_SECS`); a kind's timeout is capped by `ATTEMPT_TIMEOUT_SECS`, its pool's time
/// limit, which stays below the Job's `activeDeadlineSeconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindPolicy {
    /// The pool whose queues, pods and capacity run this kind (`infra-cdk8s/config.json`; a test
    /// holds every kind's pool to the config).
    pub pool: &'static str,
    pub max_attempts: Option<u32>,
    pub backoff_base: Option<Duration>,
    pub backoff_max: Option<Duration>,
    /// The longest one attempt may run before it counts as failed (`timedOut`).
    pub timeout: Option<Duration>,
}

impl KindPolicy {
    pub const DEFAULT: KindPolicy = KindPolicy {
        pool: crate::pools::DEFAULT_POOL,
        max_attempts: None,
        backoff_base: None,
        backoff_max: None,
        timeout: None,
    };

    /// The worker's policy with this kind's choices applied (a base above the maximum backoff is
    /// lowered to it, so the result is always valid).
    pub fn apply(&self, worker: &RetryPolicy) -> RetryPolicy {
        let backoff_max = self.backoff_max.unwrap_or(worker.backoff_max).min(crate::policy::MAX_VISIBILITY);
        RetryPolicy {
            max_attempts: self.max_attempts.unwrap_or(worker.max_attempts).clamp(1, 100),
            max_interruptions: worker.max_interruptions,
            backoff_base: self.backoff_base.unwrap_or(worker.backoff_base).min(backoff_max),
            backoff_max,
        }
    }

    /// The per-attempt time limit under the worker's `limit`.
    pub fn timeout(&self, limit: Duration) -> Duration {
        self.timeout.map_or(limit, |t| t.min(limit))
    }
}

/// One job kind: a payload type plus the function that runs it.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind's name on the wire (`"job": "<NAME>"`).
    const NAME: &'static str;
    /// One line for the API's documentation.
    const DESCRIPTION: &'static str;
    /// Attempts, backoff and time limit for this kind (see [`KindPolicy`]).
    const POLICY: KindPolicy = KindPolicy::DEFAULT;

    /// A payload that passes the checks, for the API's kind list, the dashboard and the docs.
    fn example() -> Self;

    /// Checks the payload's values (types are already checked by serde).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Runs one attempt of the job. Must be cancel-safe: the worker drops the future on SIGTERM,
    /// at the time limit, and after the grace period of a cancel request.
    #[cfg(feature = "run")]
    fn run(&self, ctx: &JobContext) -> impl Future<Output = Result<JobOutput, JobFailure>> + Send;
}

/// Why a kind/payload pair is not a valid job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    #[error("unknown job kind {kind:?}; known kinds: {known}")]
    UnknownKind { kind: String, known: String },
    #[error("invalid payload for job kind {kind:?}: {reason}")]
    InvalidPayload { kind: String, reason: String },
}

/// How a kind runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// A Rust function compiled into the worker (a file in this folder).
    Rust,
    /// A command in a container image, declared in the config ([`crate::command`]).
    Command,
}

/// A Rust kind as the registry lists it.
#[derive(Debug, Clone, Copy)]
pub struct RustKind {
    pub name: &'static str,
    pub description: &'static str,
    pub policy: KindPolicy,
    example: fn() -> Value,
    #[cfg(feature = "schema")]
    schema: fn() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
}

/// A registered kind, Rust or command: name, description, policy, an example payload.
#[derive(Debug, Clone)]
pub struct KindInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub policy: KindPolicy,
    pub runtime: Runtime,
    /// A payload that passes the kind's checks.
    pub example: Value,
    /// The payload's JSON Schema.
    #[cfg(feature = "schema")]
    pub schema: Value,
    /// The command kind's declaration (a Rust kind: none).
    pub command: Option<&'static crate::command::CommandKind>,
}

fn parse_payload<K: JobKind>(payload: Value) -> Result<K, SpecError> {
    // An absent payload means "all defaults".
    let payload = if payload.is_null() { Value::Object(Default::default()) } else { crate::json::integral(payload) };
    let invalid = |reason: String| SpecError::InvalidPayload { kind: K::NAME.to_owned(), reason };
    // An object: serde would read a list as the fields in order (an empty one as all defaults).
    if !payload.is_object() {
        return Err(invalid(format!("the payload must be a JSON object, not {}", crate::json::type_name(&payload))));
    }
    let spec: K = crate::json::from_value(payload).map_err(|e| invalid(e.to_string()))?;
    spec.validate().map_err(invalid)?;
    Ok(spec)
}

macro_rules! registry {
    ($($variant:ident),+ $(,)?) => {
        /// A validated job of a Rust kind: the kind with its typed payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum RustSpec {
            $($variant($variant),)+
        }

        /// Every Rust kind, in registry order.
        pub const RUST_KINDS: &[RustKind] = &[
            $(RustKind {
                name: $variant::NAME,
                description: $variant::DESCRIPTION,
                policy: $variant::POLICY,
                example: || serde_json::to_value($variant::example()).expect("payloads serialize"),
                #[cfg(feature = "schema")]
                schema: <$variant as utoipa::PartialSchema>::schema,
            },)+
        ];

        impl RustSpec {
            /// Types and validates `payload` for the Rust kind named `kind` (`None`: no such kind).
            fn parse(kind: &str, payload: Value) -> Option<Result<Self, SpecError>> {
                $(if kind == $variant::NAME {
                    return Some(parse_payload::<$variant>(payload).map(RustSpec::$variant));
                })+
                None
            }

            pub fn kind(&self) -> &'static str {
                match self { $(RustSpec::$variant(_) => $variant::NAME,)+ }
            }

            pub fn policy(&self) -> KindPolicy {
                match self { $(RustSpec::$variant(_) => $variant::POLICY,)+ }
            }

            pub fn payload(&self) -> Value {
                match self {
                    $(RustSpec::$variant(p) => serde_json::to_value(p).expect("payloads serialize"),)+
                }
            }

            /// Runs one attempt of this job.
            #[cfg(feature = "run")]
            pub async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobFailure> {
                match self { $(RustSpec::$variant(p) => p.run(ctx).await,)+ }
            }
        }
    };
}

// The one list of Rust kinds (command kinds are declared in the config).
registry![Noop, Sleep, Fail, Flaky, Aggregate, Hang, Ping];

/// A validated job: a Rust kind with its typed payload, or a command kind with a payload that
/// meets its schema.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    Rust(RustSpec),
    Command(crate::command::CommandJob),
}

impl JobSpec {
    /// Types and validates `payload` for the kind named `kind`.
    pub fn parse(kind: &str, payload: Value) -> Result<Self, SpecError> {
        // A command kind may not take a Rust kind's name (checked where they are declared).
        let Some(command) = crate::command::command_kinds().get(kind) else {
            return RustSpec::parse(kind, payload)
                .unwrap_or_else(|| Err(SpecError::UnknownKind { kind: kind.to_owned(), known: kind_names() }))
                .map(JobSpec::Rust);
        };
        // An absent payload means an empty object, as for a Rust kind.
        let payload = if payload.is_null() { Value::Object(Default::default()) } else { payload };
        command.check(&payload).map_err(|reason| SpecError::InvalidPayload { kind: kind.to_owned(), reason })?;
        Ok(JobSpec::Command(crate::command::CommandJob { kind: command, payload }))
    }

    /// [`JobSpec::parse`], and a command kind's payload checked against its schema: what the
    /// API accepts (the worker parses what was accepted, see [`crate::command::CommandKind::check`]).
    #[cfg(feature = "validate")]
    pub fn accept(kind: &str, payload: Value) -> Result<Self, SpecError> {
        let spec = JobSpec::parse(kind, payload)?;
        if let JobSpec::Command(job) = &spec {
            job.kind
                .check_schema(&job.payload)
                .map_err(|reason| SpecError::InvalidPayload { kind: kind.to_owned(), reason })?;
        }
        Ok(spec)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Rust(r) => r.kind(),
            JobSpec::Command(c) => c.kind.name.as_str(),
        }
    }

    /// The kind's pool, retry policy and time limit (see [`KindPolicy`]).
    pub fn policy(&self) -> KindPolicy {
        match self {
            JobSpec::Rust(r) => r.policy(),
            JobSpec::Command(c) => c.kind.policy(),
        }
    }

    /// The payload with every default filled in, as stored and sent.
    pub fn payload(&self) -> Value {
        match self {
            JobSpec::Rust(r) => r.payload(),
            JobSpec::Command(c) => c.payload.clone(),
        }
    }
}

/// Every kind: the Rust kinds in registry order, then the command kinds by name.
pub fn kinds() -> &'static [KindInfo] {
    static KINDS: std::sync::LazyLock<Vec<KindInfo>> = std::sync::LazyLock::new(|| {
        let rust = RUST_KINDS.iter().map(|k| KindInfo {
            name: k.name,
            description: k.description,
            policy: k.policy,
            runtime: Runtime::Rust,
            example: (k.example)(),
            #[cfg(feature = "schema")]
            schema: serde_json::to_value((k.schema)()).expect("schemas serialize"),
            command: None,
        });
        let commands = crate::command::command_kinds().iter().map(|k| KindInfo {
            name: k.name.as_str(),
            description: k.config.description.as_str(),
            policy: k.policy(),
            runtime: Runtime::Command,
            example: k.config.example.clone(),
            #[cfg(feature = "schema")]
            schema: k.schema(),
            command: Some(k),
        });
        rust.chain(commands).collect()
    });
    &KINDS
}

/// The kind `POST /jobs` runs when the request has no body.
pub const DEFAULT_KIND: &str = Aggregate::NAME;

/// A registered kind by name.
pub fn kind_info(name: &str) -> Option<&'static KindInfo> {
    kinds().iter().find(|k| k.name == name)
}

/// The pool that runs `kind` (an unknown kind: the default pool).
pub fn pool_of(kind: &str) -> &'static str {
    kind_info(kind).map_or(crate::pools::DEFAULT_POOL, |k| k.policy.pool)
}

/// Where jobs wait and run: a pool's queues and ScaledJob (its Rust kinds, in the worker's
/// image), or a command kind's own (in its image), in its pool's shape and limits. A lane's name
/// names its queues (`pools::queues::queue_name`); a command kind's lane dead-letters to its
/// pool's DLQ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane {
    pub name: &'static str,
    pub pool: &'static str,
    /// A command kind's lane.
    pub command: bool,
    /// How long a job of the lane may wait to start while nothing of the lane runs (none: it
    /// waits as long as it takes): the command kind's, else its pool's.
    pub start_deadline: Option<std::time::Duration>,
}

/// Every lane: the pools' (the default first), then each command kind's, by name.
pub fn lanes() -> &'static [Lane] {
    static LANES: std::sync::LazyLock<Vec<Lane>> = std::sync::LazyLock::new(|| {
        let all = crate::pools::pools();
        let pools = all.iter().map(|p| Lane {
            name: p.name.as_str(),
            pool: p.name.as_str(),
            command: false,
            start_deadline: p.start_deadline(),
        });
        let commands = crate::command::command_kinds().iter().map(|k| {
            let pool = all.get(&k.config.pool).expect("a command kind's pool is declared (checked)");
            Lane {
                name: k.name.as_str(),
                pool: k.config.pool.as_str(),
                command: true,
                start_deadline: Some(k.start_deadline(pool)),
            }
        });
        pools.chain(commands).collect()
    });
    &LANES
}

/// A lane by name (a pool's, or a command kind's).
pub fn lane(name: &str) -> Option<&'static Lane> {
    lanes().iter().find(|l| l.name == name)
}

/// The lane whose queues a job of `kind` goes to: a command kind's own, else its kind's pool's
/// (an unknown kind: the default pool's, whose workers hand it back for a build that knows it).
pub fn lane_of(kind: &str) -> &'static str {
    match kind_info(kind) {
        Some(KindInfo { command: Some(c), .. }) => c.name.as_str(),
        Some(k) => k.policy.pool,
        None => crate::pools::DEFAULT_POOL,
    }
}

/// "noop, sleep, …" for error messages.
pub fn kind_names() -> String {
    kinds().iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_unique_and_plain() {
        let mut names: Vec<_> = kinds().iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), kinds().len());
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
        assert!(kinds().iter().any(|k| k.name == DEFAULT_KIND));
    }

    #[test]
    fn kind_policies_apply_over_the_worker_settings() {
        let worker = RetryPolicy::default();
        let s = Duration::from_secs;
        // (kind policy, attempts, base, max) after applying
        let cases = [
            (KindPolicy::DEFAULT, 3, s(2), s(900)),
            (KindPolicy { max_attempts: Some(1), ..KindPolicy::DEFAULT }, 1, s(2), s(900)),
            (KindPolicy { max_attempts: Some(0), backoff_base: Some(s(30)), ..KindPolicy::DEFAULT }, 1, s(30), s(900)),
            (
                KindPolicy { backoff_base: Some(s(60)), backoff_max: Some(s(10)), ..KindPolicy::DEFAULT },
                3,
                s(10),
                s(10),
            ),
            (KindPolicy { backoff_max: Some(s(99_999)), ..KindPolicy::DEFAULT }, 3, s(2), s(43_200)),
        ];
        for (kind, attempts, base, max) in cases {
            let p = kind.apply(&worker);
            assert_eq!((p.max_attempts, p.backoff_base, p.backoff_max), (attempts, base, max), "{kind:?}");
            p.validate().unwrap();
        }
        let limit = s(3780);
        assert_eq!(KindPolicy::DEFAULT.timeout(limit), limit);
        assert_eq!(KindPolicy { timeout: Some(s(60)), ..KindPolicy::DEFAULT }.timeout(limit), s(60));
        assert_eq!(KindPolicy { timeout: Some(s(9999)), ..KindPolicy::DEFAULT }.timeout(limit), limit);
        assert!(kinds().iter().all(|k| k.policy.apply(&worker).validate().is_ok()));
        assert_eq!(kind_info("fail").map(|k| k.policy.max_attempts), Some(None));
        assert!(kind_info("nope").is_none());
    }

    #[test]
    fn parse_table() {
        // (kind, payload, Ok(payload after defaults) or Err(fragment))
        let cases: Vec<(&str, Value, Result<Value, &str>)> = vec![
            ("noop", Value::Null, Ok(json!({}))),
            ("noop", json!({}), Ok(json!({}))),
            ("noop", json!({"x": 1}), Err("unknown field `x`")),
            ("sleep", json!({"ms": 10}), Ok(json!({"ms": 10}))),
            ("sleep", json!({"ms": 10.0}), Ok(json!({"ms": 10}))),
            ("sleep", json!({"ms": 10.5}), Err("invalid type: floating point")),
            ("aggregate", json!({"seed": 9_223_372_036_854_775_808u64}), Err("seed must be at most")),
            ("sleep", json!({}), Err("missing field `ms`")),
            ("sleep", json!({"ms": -1}), Err("invalid value")),
            ("sleep", json!({"ms": 43_200_001}), Err("at most 43200000")),
            ("fail", Value::Null, Ok(json!({"message": "job failed on purpose", "permanent": false}))),
            ("fail", json!({"permanent": true}), Ok(json!({"message": "job failed on purpose", "permanent": true}))),
            ("fail", json!({"message": ""}), Err("must not be empty")),
            ("flaky", json!({"failures": 2}), Ok(json!({"failures": 2}))),
            ("flaky", json!({"failures": 11}), Err("at most 10")),
            ("aggregate", Value::Null, Ok(json!({"records": 100000, "seed": 42}))),
            ("aggregate", json!({"records": 0}), Err("between 1 and")),
            ("aggregate", json!({"records": 20_000_000}), Err("between 1 and")),
            ("aggregate", json!("text"), Err("must be a JSON object, not a string")),
            ("aggregate", json!([]), Err("must be a JSON object, not an array")),
            ("noop", json!([]), Err("must be a JSON object")),
            (
                "nope",
                json!({}),
                Err("unknown job kind \"nope\"; known kinds: noop, sleep, fail, flaky, aggregate, hang, ping"),
            ),
            ("", json!({}), Err("unknown job kind")),
            ("ping", Value::Null, Ok(json!({}))),
            ("ping", json!({"tag": "a"}), Ok(json!({"tag": "a"}))),
            ("ping", json!({"tag": "x".repeat(257)}), Err("at most 256")),
        ];
        for (kind, payload, want) in cases {
            let got = JobSpec::parse(kind, payload.clone());
            match (got, want) {
                (Ok(spec), Ok(expected)) => {
                    assert_eq!(spec.kind(), kind);
                    assert_eq!(spec.payload(), expected, "{kind} {payload}");
                }
                (Err(e), Err(fragment)) => {
                    assert!(e.to_string().contains(fragment), "{kind} {payload}: {e}")
                }
                (got, want) => panic!("{kind} {payload}: got {got:?}, want {want:?}"),
            }
        }
    }
}
