//! The rule for a message this build cannot run (unknown kind or version, invalid payload, a
//! malformed body) that names a job.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::state::{
    Change, Counters, Expect, JobState, JobStatus, Lease, Step, Transition, change, expect_abandoned, expect_from,
};

/// What to do with a job whose message this build cannot run (unknown kind or version, invalid
/// payload, malformed body: a deploy in progress, or a tightened payload rule).
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum OnPoison {
    /// Record the job FAILED with the reason (counted once), then delete the message.
    Record(Transition),
    /// Another worker runs the job under a live lease: leave the job to it.
    Held(Lease),
    /// The job already ended: delete the message.
    Finished(JobStatus),
}

/// The rule for a poison message that names a job. A job that has not ended is FAILED with the
/// reason, whatever it was doing, so deleting the message never strands it; only a job running
/// under another worker's live lease is left to that worker.
pub fn reject(current: Option<&JobState>, reason: &str, now: DateTime<Utc>, grace: Duration) -> OnPoison {
    let failed = |attempts| Change { last_error: Some(reason.to_owned()), ..change(JobStatus::Failed, attempts) };
    let counted = |submitted| Counters { submitted, failed: 1, ..Counters::default() };
    let Some(state) = current else {
        return OnPoison::Record(Transition::new(Step::Reject, Expect::Absent, failed(0), now).counting(counted(1)));
    };
    match state.status {
        status if status.is_terminal() => OnPoison::Finished(status),
        JobStatus::Queued | JobStatus::RetryWait => OnPoison::Record(
            Transition::new(Step::Reject, expect_from(state), failed(state.attempts), now).counting(counted(0)),
        ),
        _ => {
            let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
            if let Some(lease) = state.lease.as_ref().filter(|l| l.until > now + grace) {
                return OnPoison::Held(lease.clone());
            }
            let expect = expect_abandoned(state.attempts, now + grace);
            OnPoison::Record(Transition::new(Step::Reject, expect, failed(state.attempts), now).counting(counted(0)))
        }
    }
}
