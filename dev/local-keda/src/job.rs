//! A Kubernetes Job's life, as the Job controller runs it, for one pod at a time (`parallelism`
//! and `completions` 1, `restartPolicy: Never`): pure state transitions, no I/O.
//!
//! - A pod that exits 0 completes the Job.
//! - A pod that fails is replaced after a back-off (10 s, doubled per failure, at most 6 min) until
//!   `backoffLimit` failures have been retried; the next failure fails the Job (`BackoffLimitExceeded`).
//! - A pod whose container cannot be created or started stays Pending (like `CreateContainerError`)
//!   and is tried again after the same back-off; it does not count against `backoffLimit`.
//! - `activeDeadlineSeconds` counts from the Job's start (its creation here): when it passes, a
//!   running pod gets SIGTERM, then SIGKILL after `terminationGracePeriodSeconds`, and the Job
//!   fails (`DeadlineExceeded`).
//! - Finished Jobs beyond `successfulJobsHistoryLimit` / `failedJobsHistoryLimit` are deleted,
//!   oldest first (KEDA's cleanup).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The Job settings these rules need (from the manifest's `jobTargetRef`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub backoff_limit: u32,
    pub active_deadline: Option<Duration>,
    pub grace: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailReason {
    BackoffLimitExceeded,
    DeadlineExceeded,
    /// The controller stopped and terminated the Job (local only: `make down`).
    ControllerStopped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
pub enum Phase {
    /// A pod was asked for and is not running yet.
    Pending,
    Running,
    /// The pod was sent SIGTERM at `since`; SIGKILL follows after the grace period.
    Terminating {
        since: DateTime<Utc>,
        reason: FailReason,
        killed: bool,
    },
    /// The last pod failed; the next starts at `until`.
    BackingOff {
        until: DateTime<Utc>,
    },
    Succeeded,
    Failed {
        reason: FailReason,
    },
}

/// What the executor must do for a Job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    StartPod,
    /// SIGTERM.
    Terminate,
    /// SIGKILL.
    Kill,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub name: String,
    #[serde(flatten)]
    pub phase: Phase,
    pub created_at: DateTime<Utc>,
    /// The Job's `status.startTime`: the deadline counts from here.
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Pods started for this Job, and how many of them failed.
    pub pods: u32,
    pub failed_pods: u32,
    /// A started pod has not ended yet.
    pub pod_live: bool,
    pub last_exit_code: Option<i64>,
    /// Why the pod is not running (its container could not be created or started), and when the
    /// next try is due.
    pub waiting: Option<String>,
    pub start_failures: u32,
    pub retry_start_at: Option<DateTime<Utc>>,
}

/// Kubernetes' pod-failure back-off: 10 s × 2^(failures-1), at most 6 minutes.
pub fn pod_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs((10u64 << exp).min(360))
}

fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Job {
    /// A new Job; its first pod is to be started right away.
    pub fn new(name: impl Into<String>, now: DateTime<Utc>) -> Job {
        Job {
            name: name.into(),
            phase: Phase::Pending,
            created_at: now,
            started_at: now,
            finished_at: None,
            pods: 0,
            failed_pods: 0,
            pod_live: false,
            last_exit_code: None,
            waiting: None,
            start_failures: 0,
            retry_start_at: None,
        }
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Succeeded | Phase::Failed { .. })
    }

    /// Pending in KEDA's sense: unfinished and its pod is not (yet) running and ready.
    pub fn is_pending(&self) -> bool {
        matches!(self.phase, Phase::Pending | Phase::BackingOff { .. })
    }

    /// The name the next pod gets (`<job>-<n>`).
    pub fn next_pod_name(&self) -> String {
        format!("{}-{}", self.name, self.pods + 1)
    }

    /// The current (or last) pod's name.
    pub fn pod_name(&self) -> Option<String> {
        (self.pods > 0).then(|| format!("{}-{}", self.name, self.pods))
    }

    /// A pod was started.
    pub fn pod_started(&mut self) {
        self.pods += 1;
        self.pod_live = true;
        self.waiting = None;
        self.retry_start_at = None;
    }

    /// The pod could not be created or started: it stays Pending and is tried again later.
    pub fn pod_start_failed(&mut self, error: String, now: DateTime<Utc>) {
        self.start_failures += 1;
        self.waiting = Some(error);
        self.retry_start_at = Some(after(now, pod_backoff(self.start_failures)));
    }

    /// The pod is running (Ready).
    pub fn pod_running(&mut self) {
        if self.phase == Phase::Pending {
            self.phase = Phase::Running;
        }
    }

    /// The pod ended with `exit_code` (`None`: unknown, e.g. its container vanished).
    pub fn pod_exited(&mut self, exit_code: Option<i64>, now: DateTime<Utc>, limits: &Limits) {
        if self.is_finished() {
            return;
        }
        self.pod_live = false;
        self.last_exit_code = exit_code;
        if let Phase::Terminating { reason, .. } = self.phase {
            self.finish(Phase::Failed { reason }, now);
            return;
        }
        if exit_code == Some(0) {
            self.finish(Phase::Succeeded, now);
            return;
        }
        self.failed_pods += 1;
        if self.failed_pods > limits.backoff_limit {
            self.finish(Phase::Failed { reason: FailReason::BackoffLimitExceeded }, now);
        } else {
            self.phase = Phase::BackingOff { until: after(now, pod_backoff(self.failed_pods)) };
        }
    }

    fn finish(&mut self, phase: Phase, now: DateTime<Utc>) {
        self.phase = phase;
        self.finished_at = Some(now);
    }

    /// Deadlines and back-offs at `now`: what to do next, if anything.
    pub fn tick(&mut self, now: DateTime<Utc>, limits: &Limits) -> Option<Action> {
        let deadline_passed = limits.active_deadline.is_some_and(|d| now >= after(self.started_at, d));
        match self.phase {
            Phase::Pending | Phase::Running if deadline_passed && self.pod_live => {
                self.phase = Phase::Terminating { since: now, reason: FailReason::DeadlineExceeded, killed: false };
                Some(Action::Terminate)
            }
            Phase::Pending | Phase::BackingOff { .. } if deadline_passed => {
                self.finish(Phase::Failed { reason: FailReason::DeadlineExceeded }, now);
                None
            }
            Phase::Pending if !self.pod_live && self.retry_start_at.is_none_or(|at| now >= at) => {
                Some(Action::StartPod)
            }
            Phase::BackingOff { until } if now >= until => {
                self.phase = Phase::Pending;
                Some(Action::StartPod)
            }
            Phase::Terminating { since, reason, killed: false } if now >= after(since, limits.grace) => {
                self.phase = Phase::Terminating { since, reason, killed: true };
                Some(Action::Kill)
            }
            _ => None,
        }
    }

    /// The controller is stopping: terminate a live pod, fail a Job that has none.
    pub fn stop(&mut self, now: DateTime<Utc>) -> Option<Action> {
        match self.phase {
            Phase::Pending | Phase::Running if self.pod_live => {
                self.phase = Phase::Terminating { since: now, reason: FailReason::ControllerStopped, killed: false };
                Some(Action::Terminate)
            }
            Phase::Pending | Phase::BackingOff { .. } => {
                self.finish(Phase::Failed { reason: FailReason::ControllerStopped }, now);
                None
            }
            _ => None,
        }
    }
}

/// Names of finished Jobs to delete: the oldest beyond each history limit.
pub fn history_to_delete(jobs: &[Job], successful_limit: usize, failed_limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (succeeded, limit) in [(true, successful_limit), (false, failed_limit)] {
        let mut finished: Vec<&Job> =
            jobs.iter().filter(|j| j.is_finished() && (j.phase == Phase::Succeeded) == succeeded).collect();
        finished.sort_by_key(|j| std::cmp::Reverse((j.finished_at, j.created_at)));
        out.extend(finished.into_iter().skip(limit).map(|j| j.name.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }
    fn limits(backoff_limit: u32, deadline: Option<u64>) -> Limits {
        Limits { backoff_limit, active_deadline: deadline.map(Duration::from_secs), grace: Duration::from_secs(30) }
    }
    fn started(at: i64) -> Job {
        let mut job = Job::new("j", t(at));
        assert_eq!(job.tick(t(at), &limits(0, None)), Some(Action::StartPod));
        job.pod_started();
        assert_eq!(job.tick(t(at), &limits(0, None)), None, "one pod at a time");
        job.pod_running();
        job
    }

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_six_minutes() {
        let table = [(1, 10), (2, 20), (3, 40), (4, 80), (5, 160), (6, 320), (7, 360), (30, 360)];
        for (failures, secs) in table {
            assert_eq!(pod_backoff(failures), Duration::from_secs(secs), "{failures}");
        }
    }

    #[test]
    fn exit_codes_and_backoff_limit() {
        // (backoffLimit, exit codes of successive pods, expected final phase, pods started)
        let table: &[(u32, &[i64], Phase, u32)] = &[
            (0, &[0], Phase::Succeeded, 1),
            (0, &[1], Phase::Failed { reason: FailReason::BackoffLimitExceeded }, 1),
            (0, &[143], Phase::Failed { reason: FailReason::BackoffLimitExceeded }, 1),
            (2, &[1, 0], Phase::Succeeded, 2),
            (2, &[1, 1, 0], Phase::Succeeded, 3),
            (2, &[1, 1, 1], Phase::Failed { reason: FailReason::BackoffLimitExceeded }, 3),
        ];
        for &(backoff_limit, codes, expected, pods) in table {
            let l = limits(backoff_limit, None);
            let mut job = started(0);
            let mut now = 0;
            for (i, code) in codes.iter().enumerate() {
                job.pod_exited(Some(*code), t(now), &l);
                if i + 1 < codes.len() {
                    let Phase::BackingOff { until } = job.phase else {
                        panic!("expected a back-off, got {:?}", job.phase)
                    };
                    assert_eq!(job.tick(until - chrono::Duration::seconds(1), &l), None, "back-off not over yet");
                    now = until.timestamp() - 1_800_000_000;
                    assert_eq!(job.tick(t(now), &l), Some(Action::StartPod));
                    assert_eq!(job.next_pod_name(), format!("j-{}", i + 2));
                    job.pod_started();
                    job.pod_running();
                }
            }
            assert_eq!((job.phase, job.pods), (expected, pods), "backoffLimit {backoff_limit}, exits {codes:?}");
            assert!(job.finished_at.is_some());
        }
    }

    #[test]
    fn a_pod_that_cannot_start_stays_pending_and_is_retried() {
        let l = limits(0, Some(100));
        let mut job = Job::new("j", t(0));
        assert_eq!(job.tick(t(0), &l), Some(Action::StartPod));
        job.pod_start_failed("no such image".into(), t(0));
        assert!(job.is_pending() && !job.is_finished(), "not a failed pod: {:?}", job.phase);
        assert_eq!(job.waiting.as_deref(), Some("no such image"));
        assert_eq!(job.tick(t(9), &l), None, "retried after 10 s");
        assert_eq!(job.tick(t(10), &l), Some(Action::StartPod));
        job.pod_start_failed("still no image".into(), t(10));
        assert_eq!(job.tick(t(29), &l), None, "then 20 s");
        assert_eq!(job.tick(t(30), &l), Some(Action::StartPod));
        job.pod_started();
        assert_eq!((job.pods, job.waiting.clone(), job.failed_pods), (1, None, 0));
        // Never started before the deadline: failed without a pod to stop.
        let mut stuck = Job::new("s", t(0));
        stuck.pod_start_failed("no such image".into(), t(0));
        assert_eq!(stuck.tick(t(100), &l), None);
        assert_eq!(stuck.phase, Phase::Failed { reason: FailReason::DeadlineExceeded });
    }

    #[test]
    fn active_deadline_terminates_then_kills() {
        let l = limits(3, Some(60));
        let mut job = started(0);
        assert_eq!(job.tick(t(59), &l), None);
        assert_eq!(job.tick(t(60), &l), Some(Action::Terminate));
        assert_eq!(job.tick(t(70), &l), None, "within the grace period");
        assert_eq!(job.tick(t(90), &l), Some(Action::Kill));
        assert_eq!(job.tick(t(95), &l), None, "SIGKILL only once");
        // Whatever the exit code (143 after SIGTERM, even 0), a deadline fails the Job, no retry.
        job.pod_exited(Some(0), t(96), &l);
        assert_eq!(job.phase, Phase::Failed { reason: FailReason::DeadlineExceeded });
    }

    #[test]
    fn deadline_counts_from_the_first_pod_across_backoffs() {
        let l = limits(5, Some(30));
        let mut job = started(0);
        job.pod_exited(Some(1), t(25), &l); // back-off until 35, past the deadline at 30
        assert_eq!(job.tick(t(30), &l), None);
        assert_eq!(job.phase, Phase::Failed { reason: FailReason::DeadlineExceeded });
    }

    #[test]
    fn pending_and_running_for_the_scaler() {
        let l = limits(1, None);
        let mut job = Job::new("j", t(0));
        assert!(job.is_pending() && !job.is_finished());
        job.tick(t(0), &l);
        job.pod_started();
        assert!(job.is_pending(), "started but not running yet");
        job.pod_running();
        assert!(!job.is_pending());
        job.pod_exited(Some(1), t(1), &l);
        assert!(job.is_pending() && !job.is_finished(), "backing off counts as pending");
    }

    #[test]
    fn stopping_the_controller() {
        let mut running = started(0);
        assert_eq!(running.stop(t(5)), Some(Action::Terminate));
        running.pod_exited(Some(143), t(6), &limits(0, None));
        assert_eq!(running.phase, Phase::Failed { reason: FailReason::ControllerStopped });
        let mut waiting = Job::new("w", t(0));
        assert_eq!(waiting.stop(t(1)), None);
        assert_eq!(waiting.phase, Phase::Failed { reason: FailReason::ControllerStopped });
    }

    #[test]
    fn history_keeps_the_newest_of_each_outcome() {
        let l = limits(0, None);
        let jobs: Vec<Job> = (0..6)
            .map(|i| {
                let mut j = started(i);
                j.name = format!("j{i}");
                j.pod_exited(Some(i % 2), t(100 + i), &l); // j0, j2, j4 succeed; j1, j3, j5 fail
                j
            })
            .chain(std::iter::once(started(50))) // still running: never deleted
            .collect();
        let mut doomed = history_to_delete(&jobs, 2, 1);
        doomed.sort();
        assert_eq!(doomed, ["j0", "j1", "j3"]);
        assert!(history_to_delete(&jobs, 10, 10).is_empty());
    }
}
