//! Retry policy: how many attempts a job gets and how long to wait before each re-attempt.
//!
//! SQS owns retries: after a failed attempt the worker makes the same message visible again after
//! [`RetryPolicy::backoff`]; the Kubernetes Job itself never retries (`backoffLimit: 0`).

use std::time::Duration;

/// SQS's ceiling for a message's visibility timeout (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 3: one try and 2 retries).
    pub max_attempts: u32,
    /// Times one attempt may be interrupted (SIGTERM: spot reclaim, eviction, a deadline) and
    /// resumed without counting; the next interruption fails the attempt (default 3). This bounds
    /// a run that keeps being stopped.
    pub max_interruptions: u32,
    /// Delay before the first re-attempt; doubled for each later one.
    pub backoff_base: Duration,
    /// Upper bound of any delay.
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            max_interruptions: 3,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(15 * 60),
        }
    }
}

/// Why a retry policy is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("max attempts must be between 1 and 100, got {0}")]
    MaxAttempts(u32),
    #[error("max interruptions must be at most 100, got {0}")]
    MaxInterruptions(u32),
    #[error("maximum backoff must be at most 43200s (the SQS visibility limit), got {0}s")]
    BackoffTooLong(u64),
    #[error("backoff base ({base}s) must not exceed the maximum backoff ({max}s)")]
    BaseAboveMax { base: u64, max: u64 },
}

/// What happens after attempt `n` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Run attempt `next` after `delay`.
    Retry { next: u32, delay: Duration },
    /// No attempts left: the job is FAILED.
    GiveUp,
}

impl RetryPolicy {
    /// Checks the values; the error names the setting that is wrong.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(1..=100).contains(&self.max_attempts) {
            return Err(PolicyError::MaxAttempts(self.max_attempts));
        }
        if self.max_interruptions > 100 {
            return Err(PolicyError::MaxInterruptions(self.max_interruptions));
        }
        if self.backoff_max > MAX_VISIBILITY {
            return Err(PolicyError::BackoffTooLong(self.backoff_max.as_secs()));
        }
        if self.backoff_base > self.backoff_max {
            return Err(PolicyError::BaseAboveMax {
                base: self.backoff_base.as_secs(),
                max: self.backoff_max.as_secs(),
            });
        }
        Ok(())
    }

    /// The delay before re-attempt `next` (2, 3, …): `base × 2^(next-2)`, at most `backoff_max`.
    /// SQS counts visibility in whole seconds, so the delay is rounded up to one.
    pub fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(2).min(31);
        let delay = self.backoff_base.saturating_mul(1u32 << doublings).min(self.backoff_max);
        let secs = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
        Duration::from_secs(secs)
    }

    /// Decides what follows a failure of attempt `attempt`.
    pub fn after_failure(&self, attempt: u32) -> AfterFailure {
        if attempt >= self.max_attempts {
            AfterFailure::GiveUp
        } else {
            let next = attempt + 1;
            AfterFailure::Retry { next, delay: self.backoff(next) }
        }
    }
}

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
        let backoff_max = self.backoff_max.unwrap_or(worker.backoff_max).min(MAX_VISIBILITY);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max: u32, base: u64, cap: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max,
            max_interruptions: 3,
            backoff_base: Duration::from_secs(base),
            backoff_max: Duration::from_secs(cap),
        }
    }

    #[test]
    fn default_is_three_attempts_two_then_four_seconds() {
        let p = RetryPolicy::default();
        let s = Duration::from_secs;
        assert_eq!(p.after_failure(1), AfterFailure::Retry { next: 2, delay: s(2) });
        assert_eq!(p.after_failure(2), AfterFailure::Retry { next: 3, delay: s(4) });
        assert_eq!(p.after_failure(3), AfterFailure::GiveUp);
        assert_eq!(p.after_failure(7), AfterFailure::GiveUp);
        p.validate().unwrap();
    }

    #[test]
    fn backoff_table() {
        // (max attempts, base s, cap s, failed attempt, expected)
        let cases = [
            (1, 2, 900, 1, None),
            (5, 1, 900, 1, Some(1)),
            (5, 1, 900, 2, Some(2)),
            (5, 1, 900, 3, Some(4)),
            (5, 1, 900, 4, Some(8)),
            (5, 1, 900, 5, None),
            (10, 10, 60, 5, Some(60)),
            (100, 2, 43_200, 60, Some(43_200)),
            (3, 0, 900, 1, Some(0)),
        ];
        for (max, base, cap, failed, want) in cases {
            let got = match policy(max, base, cap).after_failure(failed) {
                AfterFailure::Retry { next, delay } => {
                    assert_eq!(next, failed + 1);
                    Some(delay.as_secs())
                }
                AfterFailure::GiveUp => None,
            };
            assert_eq!(got, want, "max {max} base {base} cap {cap} failed {failed}");
        }
    }

    #[test]
    fn sub_second_delays_round_up() {
        let p = RetryPolicy { backoff_base: Duration::from_millis(300), ..RetryPolicy::default() };
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(4), Duration::from_secs(2)); // 1.2 s
    }

    #[test]
    fn validation_names_the_bad_setting() {
        let err = |p: RetryPolicy| p.validate().unwrap_err().to_string();
        assert!(err(policy(0, 2, 900)).contains("max attempts"));
        assert!(err(policy(101, 2, 900)).contains("max attempts"));
        assert!(err(policy(3, 2, 50_000)).contains("visibility limit"));
        assert!(err(policy(3, 10, 5)).contains("must not exceed"));
        assert!(err(RetryPolicy { max_interruptions: 101, ..RetryPolicy::default() }).contains("max interruptions"));
        policy(1, 0, 0).validate().unwrap();
    }
}
