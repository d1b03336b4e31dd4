//! Pools: named workload classes, each with its own queues, pod shape, time limit, capacity,
//! concurrency and way of running jobs (one per pod, or drained one after another).
//!
//! They are declared once, in `infra-cdk8s/config.json` (`pools`), which this crate embeds at
//! build time: the CDK stacks and cdk8s charts read the same file (`infra-cdk8s/src/config.ts`
//! validates it the same way), so the API, the worker, the local stack and the manifests cannot
//! disagree about a pool. Each kind names its pool in its [`KindPolicy`](crate::policy::KindPolicy).
//! The deadlines of a pool follow from its time limit with the margins in [`Timing`].

pub mod queues;

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use queues::{DEFAULT_POOL, Lane, Priority, QueueError, QueueName, Queues};

/// The longest time limit a pool may have: SQS hides one received message for at most 12 hours.
pub const MAX_TIME_LIMIT: Duration = Duration::from_secs(12 * 60 * 60);

/// What kind of nodes a pool's pods run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    /// Cheap, reclaimed with two minutes' notice (an interruption: no attempt lost, the job
    /// resumes from its checkpoint).
    Spot,
    /// Never reclaimed: for jobs of hours.
    OnDemand,
}

/// How a pool's pods take jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Execution {
    /// One job per pod (each job in its own container): KEDA starts a Job per message.
    OnePerPod,
    /// A pod takes jobs one after another (each claimed, leased, counted and recorded as
    /// always) until its queues are empty, `maxJobs` jobs or `maxMinutes` have passed; short
    /// jobs stop paying a pod start each.
    #[serde(rename_all = "camelCase")]
    Drain { max_jobs: u32, max_minutes: u32 },
}

/// A request and a limit of one resource, as Kubernetes quantities (`250m`, `512Mi`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub request: String,
    pub limit: String,
}

/// One pool as declared in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PoolConfig {
    pub description: String,
    pub capacity: Capacity,
    pub cpu: Resource,
    pub memory: Resource,
    pub ephemeral_storage: String,
    /// The longest one attempt may run.
    pub time_limit_minutes: u32,
    /// KEDA's maxReplicaCount: pods (Jobs) of this pool at once.
    pub max_replicas: u32,
    /// How often KEDA measures the queues and starts Jobs.
    pub polling_interval_secs: u32,
    pub execution: Execution,
    /// A job of this pool that no worker started this long after it became ready, while nothing
    /// of its lane runs, ends FAILED (`crate::reconcile::on_overdue`); absent: it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_deadline_minutes: Option<u32>,
}

/// A pool: its name and declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub name: String,
    pub config: PoolConfig,
}

pub(crate) fn minutes(m: u32) -> Duration {
    Duration::from_secs(u64::from(m) * 60)
}

/// The margins between a pool's time limit and its pod's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The worker's per-attempt limit (`ATTEMPT_TIMEOUT_SECS`): the pool's time limit.
    pub attempt_timeout: Duration,
    /// The Job's `activeDeadlineSeconds`: what a pod may need before its last attempt starts
    /// ([`START_MARGIN`], plus the drain bound), the attempt, and [`STOP_MARGIN`]. A pod stopped
    /// by it is an interruption (no attempt lost), never a failed job.
    pub active_deadline: Duration,
}

/// The bounds of a start deadline (`startDeadlineMinutes`): longer than a pod takes to start
/// ([`START_MARGIN`]) with room, at most SQS's longest message retention (14 days).
pub const START_DEADLINE_MINUTES: std::ops::RangeInclusive<u32> = 10..=20_160;

/// Pod pending time (a node to provision), the image pull, and the 20 s long poll.
pub const START_MARGIN: Duration = Duration::from_secs(300);
/// The stop grace (30 s) and recording the outcome.
pub const STOP_MARGIN: Duration = Duration::from_secs(60);

impl Pool {
    pub fn time_limit(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.time_limit_minutes) * 60)
    }

    /// How long a job of this pool may wait to start (see [`PoolConfig::start_deadline_minutes`]).
    pub fn start_deadline(&self) -> Option<Duration> {
        self.config.start_deadline_minutes.map(minutes)
    }

    pub fn timing(&self) -> Timing {
        let drain = match self.config.execution {
            Execution::OnePerPod => Duration::ZERO,
            Execution::Drain { max_minutes, .. } => Duration::from_secs(u64::from(max_minutes) * 60),
        };
        Timing {
            attempt_timeout: self.time_limit(),
            active_deadline: START_MARGIN + drain + self.time_limit() + STOP_MARGIN,
        }
    }
}

/// Why a pools declaration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolsError {
    #[error("config: pools: {0}")]
    Json(String),
    #[error("config: pools must include {DEFAULT_POOL:?}")]
    NoDefault,
    #[error("config: pool name {0:?} must be 1-16 of a-z and 0-9, starting with a letter, and not `high` or `dlq`")]
    Name(String),
    #[error("config: pool {pool}: {reason}")]
    Invalid { pool: String, reason: String },
}

/// Every pool, the default first, the others by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pools(Vec<Pool>);

impl Pools {
    /// Reads the `pools` of a config file's text (its other fields are the stacks').
    pub fn from_config(text: &str) -> Result<Pools, PoolsError> {
        #[derive(Deserialize)]
        struct File {
            pools: BTreeMap<String, PoolConfig>,
        }
        let file: File = crate::json::from_slice(text.as_bytes()).map_err(|e| PoolsError::Json(e.to_string()))?;
        Pools::new(file.pools)
    }

    pub fn new(declared: BTreeMap<String, PoolConfig>) -> Result<Pools, PoolsError> {
        if !declared.contains_key(DEFAULT_POOL) {
            return Err(PoolsError::NoDefault);
        }
        let mut pools = Vec::with_capacity(declared.len());
        for (name, config) in declared {
            check_name(&name)?;
            check(&config).map_err(|reason| PoolsError::Invalid { pool: name.clone(), reason })?;
            pools.push(Pool { name, config });
        }
        pools.sort_by_key(|p| (p.name != DEFAULT_POOL, p.name.clone()));
        Ok(Pools(pools))
    }

    pub fn get(&self, name: &str) -> Option<&Pool> {
        self.0.iter().find(|p| p.name == name)
    }

    pub fn default_pool(&self) -> &Pool {
        &self.0[0]
    }

    pub fn iter(&self) -> impl Iterator<Item = &Pool> {
        self.0.iter()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|p| p.name.as_str())
    }
}

/// The config of this build (`infra-cdk8s/config.json`), embedded: its pools and command kinds.
pub const CONFIG: &str = include_str!("../../../../infra-cdk8s/config.json");

/// The pools of this build: `infra-cdk8s/config.json`'s, checked by a test of this crate.
pub fn pools() -> &'static Pools {
    static POOLS: LazyLock<Pools> =
        LazyLock::new(|| Pools::from_config(CONFIG).expect("infra-cdk8s/config.json declares valid pools (tested)"));
    &POOLS
}

/// Pool names become queue names (`<app>-<pool>`, `<app>-<pool>-high`): no `-`, and not the
/// suffixes a queue name ends with.
fn check_name(name: &str) -> Result<(), PoolsError> {
    let plain = name.len() <= 16
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !plain || name == "high" || name == "dlq" {
        return Err(PoolsError::Name(name.to_owned()));
    }
    Ok(())
}

fn check(c: &PoolConfig) -> Result<(), String> {
    use crate::quantity::{bytes, cpu_millis};
    let pair = |what: &str, r: &Resource, parse: fn(&str) -> Result<u64, String>| -> Result<(), String> {
        let (request, limit) = (parse(&r.request)?, parse(&r.limit)?);
        if request == 0 || request > limit {
            return Err(format!(
                "{what}: the request must be above 0 and at most the limit ({} > {})",
                r.request, r.limit
            ));
        }
        Ok(())
    };
    pair("cpu", &c.cpu, cpu_millis)?;
    pair("memory", &c.memory, bytes)?;
    bytes(&c.ephemeral_storage).map_err(|e| format!("ephemeralStorage: {e}"))?;
    if c.description.trim().is_empty() {
        return Err("description must not be empty".into());
    }
    let max_minutes = (MAX_TIME_LIMIT.as_secs() / 60) as u32;
    if !(1..=max_minutes).contains(&c.time_limit_minutes) {
        return Err(format!("timeLimitMinutes must be 1 to {max_minutes} (SQS hides a message for at most 12 hours)"));
    }
    if !(1..=1000).contains(&c.max_replicas) {
        return Err("maxReplicas must be 1 to 1000".into());
    }
    if !(1..=300).contains(&c.polling_interval_secs) {
        return Err("pollingIntervalSecs must be 1 to 300".into());
    }
    if let Execution::Drain { max_jobs, max_minutes: m } = c.execution
        && (!(1..=100_000).contains(&max_jobs) || !(1..=max_minutes).contains(&m))
    {
        return Err(format!("drain: maxJobs must be 1 to 100000 and maxMinutes 1 to {max_minutes}"));
    }
    check_start_deadline(c.start_deadline_minutes)
}

/// A declared start deadline (a pool's or a command kind's) is within [`START_DEADLINE_MINUTES`].
pub fn check_start_deadline(minutes: Option<u32>) -> Result<(), String> {
    match minutes {
        Some(m) if !START_DEADLINE_MINUTES.contains(&m) => Err(format!(
            "startDeadlineMinutes must be {} to {} (a pod needs minutes to start; SQS keeps a message 14 days)",
            START_DEADLINE_MINUTES.start(),
            START_DEADLINE_MINUTES.end()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
