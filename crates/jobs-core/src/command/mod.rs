//! Command kinds: a job kind that is a command (a script, a program in any language) in a
//! container image, declared in `infra-cdk8s/config.json` (`commandKinds`) with no Rust code.
//!
//! The declaration is embedded at build time, like the pools, so the API (which validates payloads
//! against the kind's JSON Schema) and the worker (which runs the command as a child process, see
//! [`contract`]) read the same one. A command kind gets what a Rust kind gets: its pool, its
//! policy, the exactly-once accounting, cancel, the time limit and the attempt history.

pub mod contract;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::policy::KindPolicy;

/// Where a command kind's image comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Image {
    /// An image that exists already (`registry/name:tag`), run as it is.
    Reference(String),
    /// An image built from a directory of this repository (its `Containerfile`).
    #[serde(rename_all = "camelCase")]
    Build { build: String },
}

/// One command kind as declared in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommandConfig {
    pub description: String,
    /// The pool whose shape, time limit and capacity run it.
    #[serde(default = "default_pool")]
    pub pool: String,
    pub image: Image,
    /// The command's working directory: absolute, or relative to the worker's (the image's
    /// `WORKDIR`; the repository's root under `make up`'s process executor).
    #[serde(default)]
    pub working_dir: Option<String>,
    /// The program and its arguments (a program without `/` is looked up in `PATH`).
    pub command: Vec<String>,
    /// Extra environment for the command (names outside the `JOB_` contract).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Exit codes that mean "no retry can fix this": the job fails at once.
    #[serde(default)]
    pub permanent_exit_codes: Vec<i32>,
    #[serde(default)]
    pub max_attempts: Option<u32>,
    #[serde(default)]
    pub backoff_base_secs: Option<u64>,
    #[serde(default)]
    pub backoff_max_secs: Option<u64>,
    /// The longest one attempt may run (at most the pool's time limit).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// How long a job may wait for a worker to start it while nothing of the kind's lane runs
    /// (its image missing, its pods unschedulable) before it ends FAILED; absent: the pool's, or
    /// [`DEFAULT_START_DEADLINE`] (a kind's image is its own, and may be missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_deadline_minutes: Option<u32>,
    /// The payload's JSON Schema; none: any JSON object.
    #[serde(default)]
    pub schema: Option<Value>,
    /// A payload that passes the schema, shown by the API, the dashboard and the docs.
    pub example: Value,
}

fn default_pool() -> String {
    crate::pools::DEFAULT_POOL.to_owned()
}

/// A declared command kind. With the `validate` feature (the API's build) its schema is compiled
/// the first time a payload is checked against it.
pub struct CommandKind {
    pub name: String,
    pub config: CommandConfig,
    #[cfg(feature = "validate")]
    validator: std::sync::OnceLock<Result<Option<jsonschema::Validator>, String>>,
}

impl std::fmt::Debug for CommandKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandKind").field("name", &self.name).field("config", &self.config).finish_non_exhaustive()
    }
}

impl PartialEq for CommandKind {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.config == other.config
    }
}

/// A command kind's start deadline when neither it nor its pool declares one.
pub const DEFAULT_START_DEADLINE: Duration = Duration::from_secs(60 * 60);

/// The schema every command kind's payload meets, whatever its own says.
pub const OBJECT_SCHEMA: &str = r#"{"type":"object"}"#;

impl CommandKind {
    /// The kind's pool and policy (see [`KindPolicy`]).
    pub fn policy(&'static self) -> KindPolicy {
        let c = &self.config;
        KindPolicy {
            pool: c.pool.as_str(),
            max_attempts: c.max_attempts,
            backoff_base: c.backoff_base_secs.map(Duration::from_secs),
            backoff_max: c.backoff_max_secs.map(Duration::from_secs),
            timeout: c.timeout_secs.map(Duration::from_secs),
        }
    }

    /// How long a job of this kind may wait to start ([`CommandConfig::start_deadline_minutes`]).
    pub fn start_deadline(&self, pool: &crate::pools::Pool) -> Duration {
        self.config
            .start_deadline_minutes
            .map(crate::pools::minutes)
            .or(pool.start_deadline())
            .unwrap_or(DEFAULT_START_DEADLINE)
    }

    /// The payload's JSON Schema as declared (or "any object").
    pub fn schema(&self) -> Value {
        self.config.schema.clone().unwrap_or_else(|| serde_json::from_str(OBJECT_SCHEMA).expect("valid JSON"))
    }

    /// Checks what every reader of a job checks: the payload is a JSON object. Its schema is the
    /// API's to check, where a job is accepted ([`CommandKind::check_schema`]): the worker runs
    /// what was accepted, so a deploy that tightens a schema strands no accepted job.
    pub fn check(&self, payload: &Value) -> Result<(), String> {
        if payload.is_object() {
            Ok(())
        } else {
            Err(format!("the payload must be a JSON object, not {}", crate::json::type_name(payload)))
        }
    }

    /// Checks a payload against the kind's schema (compiled on first use). The reason names the
    /// failing places (`/channels/0: "fax" is not one of ...`).
    #[cfg(feature = "validate")]
    pub fn check_schema(&self, payload: &Value) -> Result<(), String> {
        let compiled = self.validator.get_or_init(|| match &self.config.schema {
            None => Ok(None),
            Some(schema) => jsonschema::validator_for(schema).map(Some).map_err(|e| format!("schema: {e}")),
        });
        let validator = match compiled {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(()),
            Err(e) => return Err(e.clone()),
        };
        let errors: Vec<String> = validator
            .iter_errors(payload)
            .take(5)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() { e.to_string() } else { format!("{at}: {e}") }
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
    }
}

/// A command kind with its payload, checked: what the worker runs.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandJob {
    pub kind: &'static CommandKind,
    pub payload: Value,
}

/// Why a command kinds declaration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandKindsError {
    #[error("config: commandKinds: {0}")]
    Json(String),
    #[error("config: command kind {kind:?}: {reason}")]
    Invalid { kind: String, reason: String },
}

/// The longest a command kind's name may be: it names the kind's queues (`<app>-<kind>-high`).
pub const MAX_NAME_LEN: usize = crate::pools::queues::MAX_LANE_NAME_LEN;

/// Every declared command kind, by name.
#[derive(Debug, Default)]
pub struct CommandKinds(Vec<CommandKind>);

impl CommandKinds {
    /// Reads the `commandKinds` of a config file's text (absent: none), checked against its pools
    /// and the Rust kinds' names.
    pub fn from_config(
        text: &str,
        pools: &crate::pools::Pools,
        rust_kinds: &[&str],
    ) -> Result<Self, CommandKindsError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct File {
            #[serde(default)]
            command_kinds: BTreeMap<String, CommandConfig>,
        }
        let file: File =
            crate::json::from_slice(text.as_bytes()).map_err(|e| CommandKindsError::Json(e.to_string()))?;
        CommandKinds::new(file.command_kinds, pools, rust_kinds)
    }

    pub fn new(
        declared: BTreeMap<String, CommandConfig>,
        pools: &crate::pools::Pools,
        rust_kinds: &[&str],
    ) -> Result<Self, CommandKindsError> {
        let mut kinds = Vec::with_capacity(declared.len());
        for (name, config) in declared {
            let invalid = |reason: String| CommandKindsError::Invalid { kind: name.clone(), reason };
            if rust_kinds.contains(&name.as_str()) {
                return Err(invalid("a Rust kind has this name".into()));
            }
            check_name(&name).map_err(invalid)?;
            if pools.get(&name).is_some() {
                return Err(invalid("a pool has this name (its queues would be the pool's)".into()));
            }
            check(&config, pools).map_err(invalid)?;
            let kind = CommandKind {
                name: name.clone(),
                config,
                #[cfg(feature = "validate")]
                validator: std::sync::OnceLock::new(),
            };
            kind.check(&kind.config.example).map_err(|e| invalid(format!("example: {e}")))?;
            kinds.push(kind);
        }
        Ok(CommandKinds(kinds))
    }

    pub fn get(&self, name: &str) -> Option<&CommandKind> {
        self.0.iter().find(|k| k.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &CommandKind> {
        self.0.iter()
    }

    /// Compiles every kind's schema and checks its example against it: the API does so at start
    /// (a schema that does not compile stops it there, not at the first job), the tests on the
    /// shipped config.
    #[cfg(feature = "validate")]
    pub fn check_schemas(&self) -> Result<(), CommandKindsError> {
        for kind in &self.0 {
            kind.check_schema(&kind.config.example).map_err(|reason| CommandKindsError::Invalid {
                kind: kind.name.clone(),
                reason: if reason.starts_with("schema:") { reason } else { format!("example: {reason}") },
            })?;
        }
        Ok(())
    }
}

/// Kind names are lowercase words joined by `-`, like the Rust kinds'; they name the kind's
/// queues, so not the suffixes a queue name ends with.
fn check_name(name: &str) -> Result<(), String> {
    let plain = (1..=MAX_NAME_LEN).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let suffix = ["high", "dlq"].iter().any(|s| name == *s || name.ends_with(&format!("-{s}")));
    if plain && !suffix {
        Ok(())
    } else {
        Err(format!(
            "the name must be 1-{MAX_NAME_LEN} of a-z, 0-9 and `-`, starting with a letter, not ending in `-`, `-high` or `-dlq`"
        ))
    }
}

fn check(c: &CommandConfig, pools: &crate::pools::Pools) -> Result<(), String> {
    if c.description.trim().is_empty() {
        return Err("description must not be empty".into());
    }
    let pool = pools.get(&c.pool).ok_or_else(|| format!("pool {:?} is not declared", c.pool))?;
    match &c.image {
        Image::Reference(r) if r.trim().is_empty() || r.contains(char::is_whitespace) => {
            return Err(format!("image {r:?} is not an image reference"));
        }
        Image::Build { build } if build.is_empty() || build.starts_with('/') || build.contains("..") => {
            return Err(format!("image.build {build:?} must be a directory inside the repository"));
        }
        _ => {}
    }
    if c.command.is_empty() || c.command.iter().any(|a| a.is_empty() || a.contains('\0')) {
        return Err("command must be a program and its arguments, none empty".into());
    }
    if let Some(dir) = &c.working_dir
        && (dir.is_empty() || dir.contains('\0'))
    {
        return Err("workingDir must not be empty".into());
    }
    for name in c.env.keys() {
        let shell_name = name.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
            && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !shell_name || name.starts_with(contract::RESERVED_PREFIX) {
            return Err(format!(
                "env {name:?}: names are A-Z, 0-9 and `_`, and `{}*` is the job contract's",
                contract::RESERVED_PREFIX
            ));
        }
    }
    if let Some(code) = c.permanent_exit_codes.iter().find(|c| !(1..=255).contains(*c)) {
        return Err(format!("permanentExitCodes: {code} is not an exit code of a failure (1-255)"));
    }
    if c.max_attempts.is_some_and(|n| !(1..=100).contains(&n)) {
        return Err("maxAttempts must be 1 to 100".into());
    }
    let limit = pool.time_limit().as_secs();
    if c.timeout_secs.is_some_and(|t| t == 0 || t > limit) {
        return Err(format!("timeoutSecs must be 1 to the pool's time limit ({limit} s)"));
    }
    crate::pools::check_start_deadline(c.start_deadline_minutes)?;
    let max_backoff = crate::policy::MAX_VISIBILITY.as_secs();
    if c.backoff_base_secs.is_some_and(|b| b == 0) || c.backoff_max_secs.is_some_and(|m| m == 0 || m > max_backoff) {
        return Err(format!("backoffBaseSecs must be above 0, backoffMaxSecs 1 to {max_backoff}"));
    }
    if c.schema.as_ref().is_some_and(|s| !s.is_object() && !s.is_boolean()) {
        return Err("schema: a JSON Schema is an object (or true/false)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
