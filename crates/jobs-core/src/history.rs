//! A job's attempt history: one entry per run of an attempt (a resumed attempt has one entry per
//! run), written by the transition that ends the run. The store keeps the last [`MAX_RUNS`].

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

/// Runs kept per job (the oldest are dropped first).
pub const MAX_RUNS: usize = 20;
/// Longest error text kept in one entry (the job's `lastError` keeps the whole last one).
pub const MAX_ERROR_CHARS: usize = 512;

/// How one run of an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RunOutcome {
    Succeeded,
    Failed,
    /// The attempt ran past its time limit (a failed attempt).
    TimedOut,
    /// Its worker was stopped (SIGTERM) and handed the attempt back.
    Interrupted,
    /// Its worker vanished without recording (its lease ran out); found by the next worker.
    Abandoned,
    Cancelled,
}

/// Who runs an attempt: the worker (pod or process) and where its log lines are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runner {
    pub worker: String,
    pub logs: Option<String>,
}

/// One run of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttemptRun {
    /// The attempt (1-based) this run belongs to.
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub outcome: RunOutcome,
    /// What went wrong (at most 512 characters).
    pub error: Option<String>,
    pub duration_ms: u64,
    /// The pod (in Kubernetes) or process that ran it.
    pub worker: Option<String>,
    /// Where the run's log lines are: a CloudWatch log group and stream in AWS, a file locally.
    pub logs: Option<String>,
}

impl AttemptRun {
    pub fn new(
        attempt: u32,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        outcome: RunOutcome,
        error: Option<&str>,
        runner: Option<&Runner>,
    ) -> Self {
        // Milliseconds, as the job item's own times: a run's start is the item's `startedAt`.
        let (started_at, finished_at) = (started_at.trunc_subsecs(3), finished_at.trunc_subsecs(3));
        AttemptRun {
            attempt,
            started_at,
            finished_at,
            outcome,
            error: error.map(|e| e.chars().take(MAX_ERROR_CHARS).collect()),
            duration_ms: (finished_at - started_at).num_milliseconds().max(0) as u64,
            worker: runner.map(|r| r.worker.clone()),
            logs: runner.and_then(|r| r.logs.clone()),
        }
    }
}

/// `history` with `run` added, keeping the last [`MAX_RUNS`].
pub fn append(history: &[AttemptRun], run: AttemptRun) -> Vec<AttemptRun> {
    let keep = history.len().saturating_sub(MAX_RUNS - 1);
    history[keep..].iter().cloned().chain([run]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn run(attempt: u32) -> AttemptRun {
        AttemptRun::new(attempt, t(0), t(2), RunOutcome::Failed, Some("boom"), None)
    }

    #[test]
    fn append_keeps_the_last_runs() {
        // (runs before, runs after, first attempt kept)
        for (before, after, first) in [(0, 1, 1), (1, 2, 1), (19, 20, 1), (20, 20, 2), (25, 20, 7)] {
            let history: Vec<_> = (1..=before).map(run).collect();
            let got = append(&history, run(before + 1));
            assert_eq!((got.len(), got[0].attempt), (after, first), "{before} runs before");
            assert_eq!(got.last().unwrap().attempt, before + 1);
        }
    }

    #[test]
    fn entries_measure_and_bound() {
        let runner = Runner { worker: "pod-1".into(), logs: Some("/tmp/x.log".into()) };
        let e = AttemptRun::new(2, t(0), t(3), RunOutcome::TimedOut, Some(&"x".repeat(2000)), Some(&runner));
        assert_eq!((e.duration_ms, e.error.as_ref().unwrap().len()), (3000, MAX_ERROR_CHARS));
        assert_eq!((e.worker.as_deref(), e.logs.as_deref()), (Some("pod-1"), Some("/tmp/x.log")));
        let back = AttemptRun::new(1, t(5), t(3), RunOutcome::Failed, None, None);
        assert_eq!(back.duration_ms, 0, "a clock step back never gives a negative duration");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!((json["outcome"].as_str(), json["durationMs"].as_u64()), (Some("timedOut"), Some(3000)));
    }
}
