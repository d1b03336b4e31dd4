//! The rules that decide a transition: what to do with a received message, and how an attempt's
//! run ends (succeeded, failed, failed for good, interrupted).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::*;
use crate::policy::{AfterFailure, RetryPolicy};

/// The API accepted a job: a new QUEUED item, `submitted + 1`.
pub fn submit(now: DateTime<Utc>) -> Transition {
    Transition::new(Step::Submit, Expect::Absent, change(JobStatus::Queued, 0), now)
        .counting(Counters { submitted: 1, ..Counters::default() })
}

/// The API accepted a job over its tenant's limits: a new WAITING item, `submitted + 1`. It is
/// sent nowhere until [`admit`]ted.
pub fn wait(now: DateTime<Utc>) -> Transition {
    Transition::new(Step::Wait, Expect::Absent, change(JobStatus::Waiting, 0), now)
        .counting(Counters { submitted: 1, ..Counters::default() })
}

/// A WAITING job takes a slot of its tenant: QUEUED, never sent (the admitter sends it, or the
/// reconciler within its send grace). The store takes the slot in the same transaction.
pub fn admit(now: DateTime<Utc>) -> Transition {
    Transition::new(Step::Admit, expect_from(&JobState::new(JobStatus::Waiting, 0)), change(JobStatus::Queued, 0), now)
}

/// Why a received message is left alone.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// The job already ended: the message is a duplicate; delete it, count nothing.
    Finished(JobStatus),
    /// Another worker holds a live lease on the job (the same message delivered twice): leave the
    /// message; the holder deletes it, or a later receive finds the job finished.
    Held(Lease),
    /// The job waits for a re-attempt that is not due yet (a second copy arrived early): hide the
    /// message until then.
    NotDue(DateTime<Utc>),
    /// The job has no item and is not a firing: it ended and its item expired (or was deleted).
    /// Delete the message; creating the job again would count it twice and reset its attempts.
    Gone,
    /// The job waits for its tenant's admission and has no message of its own yet (this one is a
    /// stray copy): delete it; admission sends a fresh one.
    Waiting,
}

/// What to do with a received message, decided from the job's stored state.
#[derive(Debug, Clone, PartialEq)]
pub enum OnReceive {
    /// Apply the transition, then run attempt `attempt`.
    Start {
        attempt: u32,
        transition: Transition,
    },
    /// This worker already holds the job: its own claim committed although the answer was lost.
    /// Run attempt `attempt` without writing again.
    Resume {
        attempt: u32,
    },
    /// The job ends without running: no attempts left after its worker died (FAILED), or
    /// somebody asked to cancel it (CANCELLED). Apply the transition, delete the message.
    End {
        transition: Transition,
    },
    Skip(Skip),
}

/// How a worker that received a job's message proceeds. `firing`: the job is a schedule's firing
/// ([`crate::message::is_firing`]), whose first receipt creates its item.
///
/// `worker` is the lease the new attempt would hold. A lease is treated as abandoned when less
/// than `grace` is left on it: a live worker renews its lease every third of the visibility
/// timeout, so pass a third of the visibility timeout.
pub fn on_receive(
    current: Option<&JobState>,
    firing: bool,
    worker: &Lease,
    now: DateTime<Utc>,
    grace: Duration,
    policy: &RetryPolicy,
) -> OnReceive {
    let start = |expect: Expect, attempt: u32, counters: Counters, last_error: Option<String>, interruptions| {
        let change = Change {
            lease: Some(worker.clone()),
            started: true,
            last_error,
            interruptions,
            ..change(JobStatus::Running, attempt)
        };
        let transition = Transition::new(Step::Start, expect, change, now).counting(counters);
        OnReceive::Start { attempt, transition: transition.of_job_as_read(current) }
    };
    let Some(state) = current else {
        if !firing {
            return OnReceive::Skip(Skip::Gone);
        }
        // First receipt of a job nobody recorded yet (fired by a schedule): create it running.
        return start(Expect::Absent, 1, Counters { submitted: 1, ..Counters::default() }, None, 0);
    };
    let retry = Counters { retries: 1, ..Counters::default() };
    let give_up = |expect: Expect, error: String| {
        let change = Change { last_error: Some(error), ..change(JobStatus::Failed, state.attempts) };
        OnReceive::End {
            transition: Transition::new(Step::GiveUp, expect, change, now)
                .counting(Counters { failed: 1, ..Counters::default() })
                .of_job_as_read(current),
        }
    };
    let cancel = |expect: Expect| OnReceive::End { transition: super::cancel::cancel_now(state, expect, now) };
    match state.status {
        status if status.is_terminal() => OnReceive::Skip(Skip::Finished(status)),
        JobStatus::Waiting => OnReceive::Skip(Skip::Waiting),
        // A cancel request that its worker did not carry out (it stopped first).
        JobStatus::Queued | JobStatus::RetryWait if state.cancel_requested => cancel(expect_from(state)),
        // Never started (attempts 0), or an interrupted attempt to resume without counting it again.
        JobStatus::Queued => {
            start(expect_from(state), state.attempts.max(1), Counters::default(), None, state.interruptions)
        }
        JobStatus::RetryWait => match state.retry_at {
            Some(due) if due - chrono::Duration::seconds(1) > now => OnReceive::Skip(Skip::NotDue(due)),
            _ if state.attempts >= policy.max_attempts => {
                give_up(expect_from(state), format!("no attempts left ({} of {})", state.attempts, policy.max_attempts))
            }
            _ => start(expect_from(state), state.attempts + 1, retry, None, 0),
        },
        _ => {
            let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
            if let Some(lease) = &state.lease {
                // Owners are unique per worker process: a live lease of our own is our claim.
                if lease.owner == worker.owner && lease.until > now {
                    if state.cancel_requested {
                        return cancel(expect_held(state.attempts, &worker.owner));
                    }
                    return OnReceive::Resume { attempt: state.attempts };
                }
                if lease.until > now + grace {
                    return OnReceive::Skip(Skip::Held(lease.clone()));
                }
            }
            // The worker of this attempt stopped without recording (killed, or cut off from the
            // store for longer than its lease: the two look the same). Like a stop, that resumes
            // the attempt, at most `max_interruptions` times; then the attempt counts as failed.
            let expect = expect_abandoned(state.attempts, now + grace);
            let abandoned = state.abandoned_run(now);
            let with_run = |decision: OnReceive| match decision {
                OnReceive::Start { attempt, transition } => {
                    OnReceive::Start { attempt, transition: transition.with_run(&state.history, abandoned.clone()) }
                }
                OnReceive::End { transition } => {
                    OnReceive::End { transition: transition.with_run(&state.history, abandoned.clone()) }
                }
                other => other,
            };
            if state.cancel_requested {
                return with_run(cancel(expect));
            }
            let count = state.interruptions + 1;
            if count <= policy.max_interruptions {
                let error = format!(
                    "attempt {} abandoned: its worker stopped without recording a result (lease expired); resumed",
                    state.attempts
                );
                return with_run(start(expect, state.attempts, Counters::default(), Some(error), count));
            }
            let error = format!(
                "attempt {} was abandoned {count} times: its worker kept stopping without recording a result",
                state.attempts
            );
            with_run(match policy.after_failure(state.attempts) {
                AfterFailure::Retry { next, .. } => start(expect, next, retry, Some(error), 0),
                AfterFailure::GiveUp => give_up(expect, error),
            })
        }
    }
}

/// Attempt `attempt` succeeded: SUCCEEDED, `succeeded + 1`.
pub fn succeed(attempt: u32, owner: &str, result: Value, now: DateTime<Utc>) -> Transition {
    let change = Change { result: Some(result), ..change(JobStatus::Succeeded, attempt) };
    Transition::new(Step::Succeed, expect_held(attempt, owner), change, now)
        .counting(Counters { succeeded: 1, ..Counters::default() })
}

/// Attempt `attempt` failed. With attempts left: RETRY_WAIT until the backoff has passed (the
/// re-attempt is counted when it starts). Otherwise FAILED, `failed + 1`.
pub fn fail(
    attempt: u32,
    owner: &str,
    error: &str,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
) -> (Transition, AfterFailure) {
    let decision = policy.after_failure(attempt);
    let (status, retry_at, counters) = match decision {
        AfterFailure::Retry { delay, .. } => (
            JobStatus::RetryWait,
            Some(now + chrono::Duration::from_std(delay).expect("backoff fits")),
            Counters::default(),
        ),
        AfterFailure::GiveUp => (JobStatus::Failed, None, Counters { failed: 1, ..Counters::default() }),
    };
    let change = Change { last_error: Some(error.to_owned()), retry_at, ..change(status, attempt) };
    // A retry lets the job go on: a cancel request that landed first wins (see `cancel`).
    let expect = match decision {
        AfterFailure::Retry { .. } => expect_held_uncancelled(attempt, owner),
        AfterFailure::GiveUp => expect_held(attempt, owner),
    };
    (Transition::new(Step::Fail, expect, change, now).counting(counters), decision)
}

/// Attempt `attempt` failed in a way no retry can fix (the job function said so): FAILED at once,
/// `failed + 1`, whatever attempts are left.
pub fn fail_permanently(attempt: u32, owner: &str, error: &str, now: DateTime<Utc>) -> Transition {
    let error = format!("{error} (permanent failure: not retried)");
    let change = Change { last_error: Some(error), ..change(JobStatus::Failed, attempt) };
    Transition::new(Step::Fail, expect_held(attempt, owner), change, now)
        .counting(Counters { failed: 1, ..Counters::default() })
}

/// How an interrupted attempt continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterInterrupt {
    /// Back to QUEUED: the next worker resumes the same attempt, no retry consumed.
    Resume,
    /// Interrupted too often: the attempt counts as failed.
    Failed(AfterFailure),
}

/// The worker was told to stop (SIGTERM) during attempt `attempt`, which had been interrupted
/// `interruptions` times before. Up to `max_interruptions` times it goes back to QUEUED keeping the
/// attempt number; after that the interruption is a failure of the attempt, so a run that keeps
/// being stopped (a deadline, a node that never survives the job) ends FAILED, saying why.
pub fn interrupt(
    attempt: u32,
    owner: &str,
    interruptions: u32,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
) -> (Transition, AfterInterrupt) {
    let count = interruptions + 1;
    if count > policy.max_interruptions {
        let error = format!("attempt {attempt} was interrupted {count} times (worker stopped before it finished)");
        let (transition, decision) = fail(attempt, owner, &error, now, policy);
        return (Transition { step: Step::Interrupt, ..transition }, AfterInterrupt::Failed(decision));
    }
    let change = Change {
        last_error: Some(format!("attempt {attempt} interrupted (worker stopping); it will be resumed")),
        interruptions: count,
        ..change(JobStatus::Queued, attempt)
    };
    (Transition::new(Step::Interrupt, expect_held_uncancelled(attempt, owner), change, now), AfterInterrupt::Resume)
}
