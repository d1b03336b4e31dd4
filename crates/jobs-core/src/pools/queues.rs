//! Every lane's queues, named after the default pool's queue (the one queue of earlier
//! releases): `<base>` and `<base>-high` for the default pool, `<base>-<lane>` and
//! `<base>-<lane>-high` for the other lanes (a pool, or a command kind: `catalog::lanes`), and one
//! dead-letter queue per pool (`<base>-dlq`, `<base>-<pool>-dlq`). So one URL (`QUEUE_URL`) names
//! them all, and the stacks (config.ts) name them the same way.

use serde::{Deserialize, Serialize};

/// The pool of every kind that names none, and the one whose queue keeps the original name.
pub const DEFAULT_POOL: &str = "default";
/// The longest lane name other than a pool's: a command kind's, so that its queue names fit.
pub const MAX_LANE_NAME_LEN: usize = 24;

/// Where jobs wait and run: a pool's queues and ScaledJob (its Rust kinds, in the worker's
/// image), or a command kind's own (in its image), in its pool's shape and limits. A lane's name
/// names its queues ([`queue_name`]); a command kind's lane dead-letters to its
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

/// A job's priority within its pool: a high job starts before every normal job of its pool
/// that is still waiting (its own queue, received from first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Received first.
    High,
    #[default]
    Normal,
}

impl Priority {
    /// Highest first: the order a worker receives in.
    pub const ALL: [Priority; 2] = [Priority::High, Priority::Normal];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "high",
            Priority::Normal => "normal",
        }
    }

    pub fn parse(text: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// One job queue: a lane's queue of one priority.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QueueName {
    /// The lane (a pool, or a command kind), which names the queue.
    pub lane: String,
    /// The lane's pool (a pool's own lane: itself).
    pub pool: String,
    pub priority: Priority,
}

/// Why a queue URL cannot name the queues.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("{0:?} is not a queue URL (…/<account>/<queue name>)")]
    NotAUrl(String),
    #[error("queue name {0:?} leaves no room for the lane suffixes (at most 50 characters)")]
    TooLong(String),
}

/// SQS allows 80 characters; the longest suffix is a command kind's `-<24 characters>-high`.
const MAX_BASE: usize = 80 - 1 - MAX_LANE_NAME_LEN - 5;

/// The URLs of every queue, from the default pool's normal queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queues {
    /// The URL up to and including the last `/`.
    prefix: String,
    base: String,
}

impl Queues {
    pub fn from_default_url(url: &str) -> Result<Queues, QueueError> {
        let not_a_url = || QueueError::NotAUrl(url.to_owned());
        let (prefix, base) = url.trim_end_matches('/').rsplit_once('/').ok_or_else(not_a_url)?;
        if base.is_empty() || prefix.is_empty() || !prefix.contains("://") {
            return Err(not_a_url());
        }
        if base.len() > MAX_BASE {
            return Err(QueueError::TooLong(base.to_owned()));
        }
        Ok(Queues { prefix: format!("{prefix}/"), base: base.to_owned() })
    }

    /// The default pool's normal queue: the name the others are made from.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, pool: &str, priority: Priority) -> String {
        format!("{}{}", self.prefix, queue_name(&self.base, pool, priority))
    }

    pub fn dlq_url(&self, pool: &str) -> String {
        format!("{}{}", self.prefix, dlq_name(&self.base, pool))
    }

    /// Which queue of which lane `url` is (`None`: none of these).
    pub fn which(&self, url: &str, lanes: &[Lane]) -> Option<QueueName> {
        lanes.iter().find_map(|lane| {
            Priority::ALL.into_iter().find(|p| self.url(lane.name, *p) == url).map(|priority| QueueName {
                lane: lane.name.to_owned(),
                pool: lane.pool.to_owned(),
                priority,
            })
        })
    }
}

/// The ARN of a pool's queue, from the default pool's queue ARN (`arn:aws:sqs:<region>:<account>:<base>`).
pub fn sibling_arn(default_arn: &str, pool: &str, priority: Priority) -> String {
    match default_arn.rsplit_once(':') {
        Some((prefix, base)) => format!("{prefix}:{}", queue_name(base, pool, priority)),
        None => default_arn.to_owned(),
    }
}

/// `<base>[-<pool>][-high]`.
pub fn queue_name(base: &str, pool: &str, priority: Priority) -> String {
    let mut name = base.to_owned();
    if pool != DEFAULT_POOL {
        name.push('-');
        name.push_str(pool);
    }
    if priority == Priority::High {
        name.push_str("-high");
    }
    name
}

/// `<base>[-<pool>]-dlq`.
pub fn dlq_name(base: &str, pool: &str) -> String {
    format!("{}-dlq", queue_name(base, pool, Priority::Normal))
}
