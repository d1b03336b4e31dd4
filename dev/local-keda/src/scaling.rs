//! KEDA's ScaledJob scaling arithmetic (KEDA >= 2.19), as a pure function.
//!
//! Mirrors `pkg/scaling/scaledjob/metrics.go` (`IsScaledJobActive`) and
//! `pkg/scaling/executor/scale_jobs.go` (`getScalingDecision`, the scaling strategies and
//! `createJobs`) for one trigger:
//!
//! - `maxScale = min(maxReplicaCount, ceil(queueLength / target))`, `scaleTo = ceil(queueLength)`;
//!   active when `queueLength > activationQueueLength` or `minReplicaCount > 0`.
//! - `running` = unfinished Jobs; `pending` = launched Jobs whose pod is not yet running (or does
//!   not yet meet `pendingPodConditions`).
//! - below `minReplicaCount` running Jobs, top up to it; otherwise the strategy gives the
//!   effective max scale from `maxScale`, `running - minReplicaCount` and `pending`:
//!   - default:  `maxScale - running`
//!   - custom:   `min(maxScale - deduction - trunc(running × percentage), maxReplicaCount)`
//!   - accurate: `maxReplicaCount - running` if `maxScale + running > maxReplicaCount`, else
//!     `maxScale - pending`
//!   - eager:    `min(maxReplicaCount - running - pending, maxScale)`, and `scaleTo = maxReplicaCount`
//! - Jobs created (when active) = `min(scaleTo, effectiveMaxScale)`, never below 0.

use serde::Serialize;

/// `spec.scalingStrategy.strategy` (with the custom strategy's two knobs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "strategy")]
pub enum Strategy {
    Default,
    /// KEDA falls back to `Default` unless both knobs are set.
    Custom {
        queue_length_deduction: i64,
        running_job_percentage: f64,
    },
    Accurate,
    Eager,
}

/// The scaling-relevant part of a ScaledJob spec with one queue trigger.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScalingSpec {
    pub strategy: Strategy,
    pub min_replica_count: i64,
    pub max_replica_count: i64,
    /// The trigger's target per Job (`queueLength` of the aws-sqs-queue trigger).
    pub target_per_job: f64,
    /// The trigger's `activationQueueLength`.
    pub activation: f64,
}

/// What the controller observed this polling interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    /// The trigger's metric: messages counted by the scaler.
    pub queue_length: u64,
    /// Unfinished Jobs.
    pub running: i64,
    /// Unfinished Jobs whose pod is not running yet.
    pub pending: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub active: bool,
    pub max_scale: i64,
    pub scale_to: i64,
    pub effective_max_scale: i64,
    pub jobs_to_create: i64,
}

impl Default for ScalingSpec {
    /// KEDA's defaults: default strategy, 0..100 Jobs, target 5 (aws-sqs-queue), activation 0.
    fn default() -> Self {
        ScalingSpec {
            strategy: Strategy::Default,
            min_replica_count: 0,
            max_replica_count: 100,
            target_per_job: 5.0,
            activation: 0.0,
        }
    }
}

fn ceil_i64(x: f64) -> i64 {
    x.ceil() as i64
}

/// One polling interval's decision.
pub fn decide(spec: &ScalingSpec, seen: Observed) -> Decision {
    let queue = seen.queue_length as f64;
    let max_replicas = spec.max_replica_count;
    // IsScaledJobActive
    let per_scaler_max =
        if spec.target_per_job > 0.0 { (max_replicas as f64).min((queue / spec.target_per_job).ceil()) } else { 0.0 };
    let active = queue > spec.activation || spec.min_replica_count > 0;
    let max_scale = ceil_i64((max_replicas as f64).min(per_scaler_max));
    let scale_to = ceil_i64(queue);

    // getScalingDecision
    let (effective, scale_to) = if seen.running < spec.min_replica_count {
        let top_up = spec.min_replica_count - seen.running;
        (top_up, top_up)
    } else {
        let running = seen.running - spec.min_replica_count;
        match spec.strategy {
            Strategy::Default => (max_scale - running, scale_to),
            Strategy::Custom { queue_length_deduction, running_job_percentage } => (
                (max_scale - queue_length_deduction - (running as f64 * running_job_percentage) as i64)
                    .min(max_replicas),
                scale_to,
            ),
            Strategy::Accurate => {
                if max_scale + running > max_replicas {
                    (max_replicas - running, scale_to)
                } else {
                    (max_scale - seen.pending, scale_to)
                }
            }
            Strategy::Eager => ((max_replicas - running - seen.pending).min(max_scale), max_replicas),
        }
    };
    let effective = effective.max(0);
    // createJobs
    let jobs_to_create = if active && effective > 0 { scale_to.min(effective).max(0) } else { 0 };
    Decision { active, max_scale, scale_to, effective_max_scale: effective, jobs_to_create }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(strategy: Strategy, min: i64, max: i64) -> ScalingSpec {
        ScalingSpec { strategy, min_replica_count: min, max_replica_count: max, target_per_job: 1.0, activation: 0.0 }
    }
    fn seen(queue_length: u64, running: i64, pending: i64) -> Observed {
        Observed { queue_length, running, pending }
    }

    #[test]
    fn jobs_to_create_per_strategy() {
        let custom = Strategy::Custom { queue_length_deduction: 1, running_job_percentage: 0.5 };
        // (strategy, min, max, queue, running, pending, expected jobs)
        let table: &[(Strategy, i64, i64, u64, i64, i64, i64)] = &[
            // KEDA docs, maxReplicaCount table (target 1 unless noted below)
            (Strategy::Default, 0, 3, 10, 0, 0, 3),
            (Strategy::Default, 0, 3, 10, 1, 0, 2),
            (Strategy::Default, 0, 100, 10, 0, 0, 10),
            // KEDA docs, eager example: 3 long jobs running, 6 messages counted
            (Strategy::Default, 0, 10, 6, 3, 0, 3),
            (Strategy::Eager, 0, 10, 6, 3, 0, 6),
            // default: maxScale - running
            (Strategy::Default, 0, 10, 0, 0, 0, 0),
            (Strategy::Default, 0, 10, 3, 0, 0, 3),
            (Strategy::Default, 0, 10, 10, 2, 0, 8),
            (Strategy::Default, 0, 10, 20, 3, 0, 7),
            // messages held by running jobs are invisible: default then under-scales
            (Strategy::Default, 0, 10, 3, 3, 0, 0),
            // default ignores pending: it re-creates Jobs for messages not yet taken
            (Strategy::Default, 0, 10, 3, 3, 3, 0),
            (Strategy::Default, 0, 10, 5, 2, 2, 3),
            // custom: min(maxScale - 1 - trunc(running * 0.5), max)
            (custom, 0, 10, 10, 4, 0, 7),
            (custom, 0, 10, 10, 5, 0, 7),
            (custom, 0, 10, 2, 0, 0, 1),
            (custom, 0, 10, 1, 6, 0, 0),
            // accurate: max - running when maxScale + running > max, else maxScale - pending
            (Strategy::Accurate, 0, 10, 3, 0, 0, 3),
            (Strategy::Accurate, 0, 10, 3, 2, 2, 1),
            (Strategy::Accurate, 0, 10, 3, 3, 3, 0),
            (Strategy::Accurate, 0, 10, 8, 5, 0, 5),
            (Strategy::Accurate, 0, 10, 8, 10, 0, 0),
            (Strategy::Accurate, 0, 10, 100, 0, 0, 10),
            // eager: min(max - running - pending, maxScale), scaleTo = max
            (Strategy::Eager, 0, 10, 3, 0, 0, 3),
            (Strategy::Eager, 0, 10, 3, 5, 0, 3),
            (Strategy::Eager, 0, 10, 3, 8, 1, 1),
            (Strategy::Eager, 0, 10, 20, 2, 2, 6),
            // minReplicaCount: top up to it first, then the strategy sees running - min
            (Strategy::Default, 2, 10, 0, 0, 0, 2),
            (Strategy::Default, 2, 10, 0, 1, 0, 1),
            (Strategy::Default, 2, 10, 0, 2, 0, 0),
            (Strategy::Accurate, 2, 10, 4, 2, 0, 4),
        ];
        for &(strategy, min, max, queue, running, pending, want) in table {
            let d = decide(&spec(strategy, min, max), seen(queue, running, pending));
            assert_eq!(
                d.jobs_to_create, want,
                "{strategy:?} min={min} max={max} queue={queue} running={running} pending={pending}: {d:?}"
            );
        }
    }

    #[test]
    fn max_scale_is_ceil_of_queue_over_target_capped_at_max_replicas() {
        // (target, max, queue, maxScale); the KEDA docs rows: (2, 3, 10) -> 3 and (5, 3, 4) -> 1
        let table: &[(f64, i64, u64, i64)] = &[
            (2.0, 3, 10, 3),
            (5.0, 3, 4, 1),
            (1.0, 10, 7, 7),
            (5.0, 10, 7, 2),
            (5.0, 10, 10, 2),
            (5.0, 10, 11, 3),
            (1.0, 4, 7, 4),
            (2.5, 100, 6, 3),
        ];
        for &(target, max, queue, want) in table {
            let s = ScalingSpec { target_per_job: target, max_replica_count: max, ..spec(Strategy::Default, 0, max) };
            assert_eq!(decide(&s, seen(queue, 0, 0)).max_scale, want, "target {target} max {max} queue {queue}");
        }
    }

    #[test]
    fn activation_threshold_gates_creation() {
        let s = ScalingSpec { activation: 2.0, ..spec(Strategy::Accurate, 0, 10) };
        assert!(!decide(&s, seen(2, 0, 0)).active);
        assert_eq!(decide(&s, seen(2, 0, 0)).jobs_to_create, 0);
        assert_eq!(decide(&s, seen(3, 0, 0)).jobs_to_create, 3);
        // minReplicaCount > 0 makes the ScaledJob active whatever the queue says
        assert!(decide(&spec(Strategy::Default, 1, 10), seen(0, 0, 0)).active);
    }

    /// With `accurate`, and a queue length that counts only messages no Job has taken yet, the
    /// Jobs created over any sequence of polls never exceed the messages, however slowly they
    /// start, as long as the backlog stays within half of maxReplicaCount (see the next test).
    #[test]
    fn accurate_never_creates_more_jobs_than_messages_while_jobs_are_slow_to_start() {
        for messages in [1u64, 3, 7, 20, 25] {
            for start_delay in [0usize, 1, 3, 10] {
                let s = spec(Strategy::Accurate, 0, 50);
                // pending jobs: (polls until they take a message)
                let mut pending: Vec<usize> = Vec::new();
                let mut running_with_message = 0i64;
                let mut visible = messages;
                let mut created = 0u64;
                for _ in 0..200 {
                    let d =
                        decide(&s, seen(visible, pending.len() as i64 + running_with_message, pending.len() as i64));
                    created += d.jobs_to_create as u64;
                    pending.extend(std::iter::repeat_n(start_delay, d.jobs_to_create as usize));
                    // time passes: started jobs take a message each (and finish at once)
                    pending.iter_mut().for_each(|p| *p = p.saturating_sub(1));
                    let started = pending.iter().filter(|p| **p == 0).count();
                    pending.retain(|p| *p > 0);
                    visible -= (started as u64).min(visible);
                    running_with_message = 0;
                }
                assert_eq!(visible, 0, "all messages taken ({messages} messages, delay {start_delay})");
                assert_eq!(created, messages, "{messages} messages, start delay {start_delay} polls");
            }
        }
    }

    /// KEDA's accurate strategy caps at `maxReplicaCount - running` without subtracting pending
    /// Jobs once `maxScale + running` exceeds maxReplicaCount: near the cap, slow starts do get
    /// extra Jobs (they find the queue empty and exit 0). Mirrored, not "fixed".
    #[test]
    fn accurate_near_the_cap_ignores_pending_jobs_like_keda() {
        let s = spec(Strategy::Accurate, 0, 10);
        assert_eq!(decide(&s, seen(7, 0, 0)).jobs_to_create, 7);
        assert_eq!(decide(&s, seen(7, 7, 7)).jobs_to_create, 3);
        assert_eq!(decide(&s, seen(3, 3, 3)).jobs_to_create, 0);
    }

    #[test]
    fn eager_fills_free_slots_even_for_messages_pending_jobs_will_take() {
        let s = spec(Strategy::Eager, 0, 10);
        assert_eq!(decide(&s, seen(3, 3, 3)).jobs_to_create, 3, "eager ignores that 3 pending Jobs will take them");
        assert_eq!(decide(&spec(Strategy::Accurate, 0, 10), seen(3, 3, 3)).jobs_to_create, 0);
    }
}
