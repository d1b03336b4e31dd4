//! The closed registry of job kinds.
//!
//! Each kind is one file in this folder: its payload type (serde, unknown fields rejected), its
//! validation, and the Rust function the worker runs (compiled only with the `run` feature, so the
//! API never links job code). The [`registry!`] call at the bottom is the one list of kinds.
//!
//! **Adding a kind** = add `kinds/<name>.rs` implementing [`JobKind`], and one line to the
//! `registry!` call below. Parsing, validation, the API's kind list and the worker's dispatch all
//! follow from that line.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

mod aggregate;
mod fail;
mod flaky;
mod noop;
mod sleep;

pub use aggregate::Aggregate;
pub use fail::Fail;
pub use flaky::Flaky;
pub use noop::Noop;
pub use sleep::Sleep;

/// What the worker knows about the attempt it is running.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
}

/// A job function's successful result: a small JSON summary stored on the job item.
pub type JobOutput = Value;

/// A job function's failure: the message is recorded as the job's last error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct JobFailure(pub String);

/// One job kind: a payload type plus the function that runs it.
pub trait JobKind: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The kind's name on the wire (`"job": "<NAME>"`).
    const NAME: &'static str;
    /// One line for the API's documentation.
    const DESCRIPTION: &'static str;
    /// The longest one attempt may run before it counts as failed (`timedOut`). `None` leaves it
    /// to the worker's `ATTEMPT_TIMEOUT_SECS`, which stays below the Job's `activeDeadlineSeconds`;
    /// a kind's own limit is capped by it too.
    const TIMEOUT: Option<Duration> = None;

    /// Checks the payload's values (types are already checked by serde).
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Runs one attempt of the job. Must be cancel-safe: the worker drops the future on SIGTERM.
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

/// Name and description of a registered kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindInfo {
    pub name: &'static str,
    pub description: &'static str,
}

fn parse_payload<K: JobKind>(payload: Value) -> Result<K, SpecError> {
    // An absent payload means "all defaults".
    let payload = if payload.is_null() { Value::Object(Default::default()) } else { payload };
    let invalid = |reason: String| SpecError::InvalidPayload { kind: K::NAME.to_owned(), reason };
    let spec: K = serde_json::from_value(payload).map_err(|e| invalid(e.to_string()))?;
    spec.validate().map_err(invalid)?;
    Ok(spec)
}

macro_rules! registry {
    ($($variant:ident),+ $(,)?) => {
        /// A validated job: its kind with a typed payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum JobSpec {
            $($variant($variant),)+
        }

        /// Every registered kind, in registry order.
        pub const KINDS: &[KindInfo] = &[
            $(KindInfo { name: $variant::NAME, description: $variant::DESCRIPTION },)+
        ];

        impl JobSpec {
            /// Types and validates `payload` for the kind named `kind`.
            pub fn parse(kind: &str, payload: Value) -> Result<Self, SpecError> {
                $(if kind == $variant::NAME {
                    return parse_payload::<$variant>(payload).map(JobSpec::$variant);
                })+
                Err(SpecError::UnknownKind { kind: kind.to_owned(), known: kind_names() })
            }

            pub fn kind(&self) -> &'static str {
                match self { $(JobSpec::$variant(_) => $variant::NAME,)+ }
            }

            /// The kind's own per-attempt time limit (see [`JobKind::TIMEOUT`]).
            pub fn timeout(&self) -> Option<Duration> {
                match self { $(JobSpec::$variant(_) => $variant::TIMEOUT,)+ }
            }

            /// The payload with every default filled in, as stored and sent.
            pub fn payload(&self) -> Value {
                match self {
                    $(JobSpec::$variant(p) => serde_json::to_value(p).expect("payloads serialize"),)+
                }
            }

            /// Runs one attempt of this job.
            #[cfg(feature = "run")]
            pub async fn run(&self, ctx: &JobContext) -> Result<JobOutput, JobFailure> {
                match self { $(JobSpec::$variant(p) => p.run(ctx).await,)+ }
            }
        }
    };
}

// The one list of job kinds.
registry![Noop, Sleep, Fail, Flaky, Aggregate];

/// The kind `POST /jobs` runs when the request has no body.
pub const DEFAULT_KIND: &str = Aggregate::NAME;

/// "noop, sleep, …" for error messages.
pub fn kind_names() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_unique_and_plain() {
        let mut names: Vec<_> = KINDS.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')));
        assert!(KINDS.iter().any(|k| k.name == DEFAULT_KIND));
    }

    #[test]
    fn parse_table() {
        // (kind, payload, Ok(payload after defaults) or Err(fragment))
        let cases: Vec<(&str, Value, Result<Value, &str>)> = vec![
            ("noop", Value::Null, Ok(json!({}))),
            ("noop", json!({}), Ok(json!({}))),
            ("noop", json!({"x": 1}), Err("unknown field `x`")),
            ("sleep", json!({"ms": 10}), Ok(json!({"ms": 10}))),
            ("sleep", json!({}), Err("missing field `ms`")),
            ("sleep", json!({"ms": -1}), Err("invalid value")),
            ("sleep", json!({"ms": 3_600_001}), Err("at most 3600000")),
            ("fail", Value::Null, Ok(json!({"message": "job failed on purpose"}))),
            ("fail", json!({"message": ""}), Err("must not be empty")),
            ("flaky", json!({"failures": 2}), Ok(json!({"failures": 2}))),
            ("flaky", json!({"failures": 11}), Err("at most 10")),
            ("aggregate", Value::Null, Ok(json!({"records": 100000, "seed": 42}))),
            ("aggregate", json!({"records": 0}), Err("between 1 and")),
            ("aggregate", json!({"records": 20_000_000}), Err("between 1 and")),
            ("aggregate", json!("text"), Err("invalid type")),
            ("nope", json!({}), Err("unknown job kind \"nope\"; known kinds: noop, sleep, fail, flaky, aggregate")),
            ("", json!({}), Err("unknown job kind")),
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
