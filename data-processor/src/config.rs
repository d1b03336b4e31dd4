//! Worker configuration: every setting is a flag and an environment variable.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use jobs_core::reconcile::Timing;
use jobs_core::{PolicyError, RetryPolicy};

/// Takes one job message from SQS, runs the job, records the outcome in DynamoDB exactly once.
///
/// Exit codes: 0 job succeeded, queue empty, duplicate delivery, or a message this build cannot
/// run handed back (a rollout); 1 the job failed (a retry is
/// scheduled, or it is FAILED) or its message was rejected; 2 invalid configuration; 3 an AWS
/// backend failed before the job was claimed (a fresh copy of the message comes back after a
/// growing delay); 143 stopped by SIGTERM/SIGINT (the message is back on the queue; the attempt is
/// resumed, up to MAX_INTERRUPTIONS times).
///
/// `data-processor reconcile` runs the reconciler instead (the CronJob in keda/cronjob.yaml).
#[derive(Debug, Clone, Parser)]
#[command(name = "data-processor", version)]
pub struct Config {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// URL of the job queue: the pool's normal-priority queue. The reconciler takes the default
    /// pool's, and finds every pool's queues by their names (docs/pools.md).
    #[arg(long, env = "QUEUE_URL")]
    pub queue_url: String,

    /// URL of the pool's high-priority queue, received from before `QUEUE_URL`; without it the
    /// worker takes only `QUEUE_URL`.
    #[arg(long, env = "HIGH_QUEUE_URL")]
    pub high_queue_url: Option<String>,

    /// URL of the pool's dead-letter queue (copies of failed and rejected messages).
    #[arg(long, env = "DLQ_URL")]
    pub dlq_url: String,

    /// The pool this worker serves (infra-cdk8s/config.json), named in its logs and metrics.
    #[arg(long, env = "POOL", default_value = jobs_core::pools::DEFAULT_POOL, value_parser = known_pool)]
    pub pool: String,

    /// The command kind whose lane this worker serves (its ScaledJob sets it; named in its logs).
    #[arg(long = "kind", env = "KIND")]
    pub command_kind: Option<String>,

    /// DynamoDB table of jobs and counters.
    #[arg(long, env = "TABLE_NAME")]
    pub table_name: String,

    /// Attempts per job in all, the first included.
    #[arg(long, env = "MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// Times one attempt may be interrupted (SIGTERM) and resumed; the next interruption fails it.
    #[arg(long, env = "MAX_INTERRUPTIONS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub max_interruptions: u32,

    /// The longest one attempt may run, seconds (a kind may set less); then it fails as timed
    /// out. Default: the pool's time limit. Keep it below the Job's activeDeadlineSeconds, which
    /// would otherwise stop the worker (the manifests derive both from the pool).
    #[arg(long, env = "ATTEMPT_TIMEOUT_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub attempt_timeout_secs: Option<u64>,

    /// After a backend failure before a job is claimed, a fresh copy of its message comes back
    /// after this many seconds, doubled for each further failure of the same message.
    #[arg(long, env = "BACKEND_RETRY_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=900))]
    pub backend_retry_secs: u64,

    /// Upper bound of that delay, seconds (SQS delays messages by at most 900).
    #[arg(long, env = "BACKEND_RETRY_MAX_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=900))]
    pub backend_retry_max_secs: u64,

    /// How long a message this build cannot run (an unknown kind or message version, a payload
    /// it refuses: a rollout in progress) is handed back for a worker that can, counted from when
    /// its job began, before the job is FAILED, seconds.
    #[arg(long, env = "SKEW_WINDOW_SECS", default_value_t = jobs_core::poison::DEFAULT_SKEW_WINDOW.as_secs())]
    pub skew_window_secs: u64,

    /// Seconds before the first re-attempt; doubled for each later one.
    #[arg(long, env = "RETRY_BACKOFF_SECS", default_value_t = 2)]
    pub retry_backoff_secs: u64,

    /// Upper bound of the re-attempt delay, seconds.
    #[arg(long, env = "RETRY_BACKOFF_MAX_SECS", default_value_t = 900)]
    pub retry_backoff_max_secs: u64,

    /// How long a received message stays hidden, and the worker's lease; renewed every third of
    /// it while the job runs, so jobs may run for hours.
    #[arg(long, env = "VISIBILITY_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(3..=43_200))]
    pub visibility_timeout_secs: u64,

    /// Long-polling wait for a message, seconds (0-20). An empty queue after the wait exits 0.
    #[arg(long, env = "WAIT_TIME_SECS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=20))]
    pub wait_time_secs: u64,

    /// Messages to process before exiting (the KEDA ScaledJob model takes one).
    #[arg(long, env = "MAX_MESSAGES", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_messages: u64,

    /// Keep taking messages until the queues are empty (a pool in drain mode; overrides
    /// --max-messages), or a drain bound below is reached.
    #[arg(long, env = "DRAIN", default_value_t = false)]
    pub drain: bool,

    /// Draining: jobs to take at most before exiting.
    #[arg(long, env = "DRAIN_MAX_JOBS", value_parser = clap::value_parser!(u64).range(1..))]
    pub drain_max_jobs: Option<u64>,

    /// Draining: take no further job after this many seconds (the one running finishes).
    #[arg(long, env = "DRAIN_MAX_SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub drain_max_secs: Option<u64>,

    /// A job still unchanged this long past its expected progress has its message sent again by
    /// the reconciler (doubling each time), seconds.
    #[arg(long, env = "STALE_AFTER_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    pub stale_after_secs: u64,

    /// How long the API may take between recording a job and sending it before the reconciler
    /// sends it, seconds.
    #[arg(long, env = "SEND_GRACE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub send_grace_secs: u64,

    /// How often a running job's item is checked for a cancel request, seconds (one strongly
    /// consistent read of one attribute each time).
    #[arg(long, env = "CANCEL_CHECK_SECS", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub cancel_check_secs: u64,

    /// After a cancel request reaches the job function, how long it may take to return before the
    /// worker stops it, seconds.
    #[arg(long, env = "CANCEL_GRACE_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=300))]
    pub cancel_grace_secs: u64,

    /// This worker's name in the job's attempt history (the pod name in Kubernetes).
    #[arg(long, env = "WORKER_NAME")]
    pub worker_name: Option<String>,

    /// Where this worker's log lines are, shown with each attempt it runs: a CloudWatch log
    /// group and stream in AWS, a file locally.
    #[arg(long, env = "LOG_LOCATION")]
    pub log_location: Option<String>,

    /// Days a finished job stays in the table before DynamoDB's TTL removes it.
    #[arg(long, env = "JOB_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub retention_days: u64,

    /// `emf`: a CloudWatch Embedded Metric Format line on stdout per recorded attempt (see
    /// `emf.rs`); `off`: none.
    #[arg(long, env = "METRICS", value_enum, default_value_t = Metrics::Emf)]
    pub metrics: Metrics,

    /// The CloudWatch namespace of those metrics.
    #[arg(long, env = "METRICS_NAMESPACE", default_value = crate::emf::DEFAULT_NAMESPACE)]
    pub metrics_namespace: String,
}

/// Whether the worker writes metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Metrics {
    Emf,
    Off,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Re-send the messages of overdue jobs and bring dead-lettered messages back (or end their
    /// jobs FAILED with the reason), every `--every` seconds, for `--for` seconds (default: once).
    Reconcile(ReconcileArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ReconcileArgs {
    /// Seconds between passes.
    #[arg(long = "every", env = "RECONCILE_EVERY_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub every_secs: u64,
    /// Keep passing for this many seconds (the CronJob runs every minute for 50 s); without it,
    /// one pass.
    #[arg(long = "for", env = "RECONCILE_FOR_SECS")]
    pub for_secs: Option<u64>,
    /// Replaces every lane's start deadline from the config (seconds; 0: no lane has one). For
    /// tests, and for an operator who must hold every waiting job through an outage.
    #[arg(long = "start-deadline", env = "START_DEADLINE_SECS")]
    pub start_deadline_secs: Option<u64>,
}

impl ReconcileArgs {
    /// A lane's start deadline: the config's, unless replaced.
    pub fn start_deadline(&self, lane: &jobs_core::pools::Lane) -> Option<Duration> {
        match self.start_deadline_secs {
            Some(0) => None,
            Some(secs) => Some(Duration::from_secs(secs)),
            None => lane.start_deadline,
        }
    }
}

impl Config {
    pub fn timing(&self) -> Timing {
        Timing {
            send_grace: Duration::from_secs(self.send_grace_secs),
            stale: Duration::from_secs(self.stale_after_secs),
        }
    }

    pub fn policy(&self) -> Result<RetryPolicy, PolicyError> {
        let policy = RetryPolicy {
            max_attempts: self.max_attempts,
            max_interruptions: self.max_interruptions,
            backoff_base: Duration::from_secs(self.retry_backoff_secs),
            backoff_max: Duration::from_secs(self.retry_backoff_max_secs),
        };
        policy.validate()?;
        Ok(policy)
    }

    pub fn visibility(&self) -> Duration {
        Duration::from_secs(self.visibility_timeout_secs)
    }

    pub fn wait(&self) -> Duration {
        Duration::from_secs(self.wait_time_secs)
    }

    pub fn attempt_timeout(&self) -> Duration {
        match self.attempt_timeout_secs {
            Some(secs) => Duration::from_secs(secs),
            None => {
                jobs_core::pools::pools().get(&self.pool).map_or(jobs_core::pools::MAX_TIME_LIMIT, |p| p.time_limit())
            }
        }
    }

    /// The delay before a deferred message comes back, after `deferrals` earlier deferrals.
    pub fn skew_window(&self) -> Duration {
        Duration::from_secs(self.skew_window_secs)
    }

    pub fn backend_retry(&self, deferrals: u32) -> Duration {
        let secs = self.backend_retry_secs.saturating_mul(1 << deferrals.min(10));
        Duration::from_secs(secs.min(self.backend_retry_max_secs))
    }

    pub fn cancel_check(&self) -> Duration {
        Duration::from_secs(self.cancel_check_secs)
    }

    pub fn cancel_grace(&self) -> Duration {
        Duration::from_secs(self.cancel_grace_secs)
    }

    /// Who runs the attempts of this worker (name: `WORKER_NAME`, else `HOSTNAME`).
    pub fn runner(&self) -> jobs_core::state::Runner {
        let worker = self
            .worker_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| format!("pid-{}", std::process::id()));
        jobs_core::state::Runner { worker, logs: self.log_location.clone().filter(|l| !l.is_empty()) }
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_days * 24 * 60 * 60)
    }

    /// How many messages to take at most (`None`: until the queues are empty).
    pub fn limit(&self) -> Option<u64> {
        if self.drain { self.drain_max_jobs } else { Some(self.max_messages) }
    }

    /// Draining: how long to keep taking new messages (`None`: no bound).
    pub fn take_for(&self) -> Option<Duration> {
        self.drain.then_some(self.drain_max_secs.map(Duration::from_secs)).flatten()
    }
}

fn known_pool(name: &str) -> Result<String, String> {
    let pools = jobs_core::pools::pools();
    match pools.get(name) {
        Some(_) => Ok(name.to_owned()),
        None => Err(format!(
            "no pool {name:?} in this build's config; pools: {}",
            pools.names().collect::<Vec<_>>().join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: [&str; 7] = ["data-processor", "--queue-url", "q", "--dlq-url", "d", "--table-name", "t"];

    fn parse(extra: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(REQUIRED.iter().chain(extra))
    }

    #[test]
    fn defaults_match_the_documented_behaviour() {
        let c = parse(&[]).unwrap();
        let p = c.policy().unwrap();
        assert_eq!((p.max_attempts, p.backoff_base.as_secs()), (3, 2));
        assert_eq!((c.visibility().as_secs(), c.wait().as_secs(), c.limit()), (60, 20, Some(1)));
        assert_eq!((parse(&["--drain"]).unwrap().limit(), c.take_for(), c.pool.as_str()), (None, None, "default"));
        let d =
            parse(&["--drain", "--drain-max-jobs", "500", "--drain-max-secs", "600", "--max-messages", "3"]).unwrap();
        assert_eq!((d.limit(), d.take_for()), (Some(500), Some(Duration::from_secs(600))));
        // The bounds are a drain's: a one-message worker ignores them.
        assert_eq!(parse(&["--drain-max-secs", "600"]).unwrap().take_for(), None);
    }

    #[test]
    fn invalid_values_are_rejected_with_the_setting_named() {
        let cases: [(&[&str], &str); 7] = [
            (&["--pool", "gpu"], "no pool \"gpu\""),
            (&["--drain-max-jobs", "0"], "--drain-max-jobs"),
            (&["--max-attempts", "0"], "--max-attempts"),
            (&["--wait-time-secs", "21"], "--wait-time-secs"),
            (&["--visibility-timeout-secs", "2"], "--visibility-timeout-secs"),
            (&["--max-messages", "0"], "--max-messages"),
            (&["--retry-backoff-secs", "soon"], "--retry-backoff-secs"),
        ];
        for (args, name) in cases {
            let err = parse(args).unwrap_err().to_string();
            assert!(err.contains(name), "{args:?}: {err}");
        }
        let missing = Config::try_parse_from(["data-processor"]).unwrap_err().to_string();
        assert!(missing.contains("--queue-url") && missing.contains("--table-name"), "{missing}");
        let policy = parse(&["--retry-backoff-secs", "100", "--retry-backoff-max-secs", "10"]).unwrap().policy();
        assert!(policy.unwrap_err().to_string().contains("must not exceed"));
        let c = parse(&[]).unwrap();
        let delays: Vec<u64> = (0..6).map(|d| c.backend_retry(d).as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        assert_eq!((c.attempt_timeout().as_secs(), c.policy().unwrap().max_interruptions), (3600, 3));
        assert_eq!(parse(&["--pool", "long"]).unwrap().attempt_timeout().as_secs(), 43_200);
        assert_eq!(parse(&["--pool", "long", "--attempt-timeout-secs", "5"]).unwrap().attempt_timeout().as_secs(), 5);
        assert_eq!(c.timing(), Timing::default());
        assert!(c.command.is_none());
        let r = parse(&["reconcile", "--every", "5", "--for", "50"]).unwrap();
        let Some(Command::Reconcile(args)) = r.command else { panic!("reconcile") };
        assert_eq!((args.every_secs, args.for_secs), (5, Some(50)));
    }
}
