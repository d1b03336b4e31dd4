//! Every kind this build knows, Rust (`kinds/`) and command (the config's `commandKinds`), and
//! where each waits and runs: the parsed job ([`JobSpec`]), the kind list the API serves, and the
//! lanes (a pool's queues, or a command kind's own).

use serde_json::Value;

use crate::command::{CommandJob, CommandKind, CommandKinds};
use crate::kinds::{Aggregate, JobKind, RUST_KINDS, RustSpec, SpecError};
use crate::policy::KindPolicy;
use crate::pools::{DEFAULT_POOL, Lane};

/// How a kind runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// A Rust function compiled into the worker (a file in `kinds/`).
    Rust,
    /// A command in a container image, declared in the config ([`crate::command`]).
    Command,
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
    pub command: Option<&'static CommandKind>,
}

/// A validated job: a Rust kind with its typed payload, or a command kind with a payload that
/// meets its schema.
#[derive(Debug, Clone, PartialEq)]
pub enum JobSpec {
    Rust(RustSpec),
    Command(CommandJob),
}

impl JobSpec {
    /// Types and validates `payload` for the kind named `kind`.
    pub fn parse(kind: &str, payload: Value) -> Result<Self, SpecError> {
        // A command kind may not take a Rust kind's name (checked where they are declared).
        let Some(command) = command_kinds().get(kind) else {
            return RustSpec::parse(kind, payload)
                .unwrap_or_else(|| Err(SpecError::UnknownKind { kind: kind.to_owned(), known: kind_names() }))
                .map(JobSpec::Rust);
        };
        // An absent payload means an empty object, as for a Rust kind.
        let payload = if payload.is_null() { Value::Object(Default::default()) } else { payload };
        command.check(&payload).map_err(|reason| SpecError::InvalidPayload { kind: kind.to_owned(), reason })?;
        Ok(JobSpec::Command(CommandJob { kind: command, payload }))
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

/// The kinds a running build knows: every kind in this catalog. A worker of an earlier build
/// knows fewer, which is how a rolling deploy looks to the queue; the simulator runs such workers
/// ([`Build::without`]) next to current ones to check that a message of a kind one worker does
/// not know is handed back for a worker that does, never failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Build {
    /// Kinds of this catalog the build does not know (none: the current build).
    unknown: Vec<String>,
}

impl Build {
    /// The build that knows every kind of this catalog.
    pub fn current() -> Build {
        Build::default()
    }

    /// A build that does not know `kinds` (an earlier one, from before they were added).
    pub fn without(kinds: &[&str]) -> Build {
        Build { unknown: kinds.iter().map(|k| (*k).to_owned()).collect() }
    }

    /// [`JobSpec::parse`], as this build parses: a kind it does not know is refused as unknown.
    pub fn parse(&self, kind: &str, payload: Value) -> Result<JobSpec, SpecError> {
        if self.unknown.iter().any(|k| k == kind) {
            let known = kinds().iter().map(|k| k.name).filter(|n| !self.unknown.iter().any(|u| u == n));
            return Err(SpecError::UnknownKind { kind: kind.to_owned(), known: known.collect::<Vec<_>>().join(", ") });
        }
        JobSpec::parse(kind, payload)
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
            example: k.example(),
            #[cfg(feature = "schema")]
            schema: k.schema(),
            command: None,
        });
        let commands = command_kinds().iter().map(|k| KindInfo {
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
    kind_info(kind).map_or(DEFAULT_POOL, |k| k.policy.pool)
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
        let commands = command_kinds().iter().map(|k| {
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
        None => DEFAULT_POOL,
    }
}

/// "noop, sleep, …" for error messages.
pub fn kind_names() -> String {
    kinds().iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// The command kinds of this build: `infra-cdk8s/config.json`'s, checked by a test of this crate.
pub fn command_kinds() -> &'static CommandKinds {
    static KINDS: std::sync::LazyLock<CommandKinds> = std::sync::LazyLock::new(|| {
        let rust: Vec<&str> = RUST_KINDS.iter().map(|k| k.name).collect();
        CommandKinds::from_config(crate::pools::CONFIG, crate::pools::pools(), &rust)
            .expect("infra-cdk8s/config.json declares valid command kinds (tested)")
    });
    &KINDS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::RetryPolicy;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn a_build_parses_the_kinds_it_knows_and_refuses_the_others_as_unknown() {
        let earlier = Build::without(&["sleep"]);
        for (build, kind, known) in [
            (&Build::current(), "sleep", true),
            (&Build::current(), "noop", true),
            (&earlier, "sleep", false),
            (&earlier, "noop", true),
            (&earlier, "teleport", false),
        ] {
            let payload = if kind == "sleep" { json!({"ms": 1}) } else { json!({}) };
            let parsed = build.parse(kind, payload);
            match parsed {
                Ok(spec) => assert!(known && spec.kind() == kind, "{kind}"),
                Err(SpecError::UnknownKind { kind: k, known: list }) => {
                    assert!(!known && k == kind, "{kind}");
                    assert!(!list.split(", ").any(|n| n == kind), "{kind} listed as known: {list}");
                }
                Err(e) => panic!("{kind}: {e}"),
            }
        }
    }

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
