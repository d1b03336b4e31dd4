//! Job state transitions and the counters they move.
//!
//! ```text
//!  (none) ──submit──▶ QUEUED ──start──▶ RUNNING ──succeed──▶ SUCCEEDED
//!     │                 ▲                 │  │
//!     │                 └──interrupt──────┘  ├──fail, attempts left──▶ RETRY_WAIT ──start──▶ RUNNING
//!     └──start (job from a schedule)──▶ RUNNING └──fail, last attempt──▶ FAILED
//!
//!  QUEUED, RETRY_WAIT ──cancel──▶ CANCELLED ◀──cancel (its worker, asked)── RUNNING
//!  (none) ──skip (a schedule's firing while its previous job runs, overlap: forbid)──▶ SKIPPED
//! ```
//!
//! Every transition is *conditional* on the job's current status, attempt number and, while it
//! runs, the worker that holds it (its lease). The store applies the job change and the counter
//! deltas in one DynamoDB transaction, so a duplicate delivery, a retried request or a crashed
//! worker can never count twice or move a job backwards: a stale writer's condition fails.
//!
//! Counters (the `STATS` item) count **jobs, not attempts**:
//! - `submitted` — jobs accepted (by the API, or created by the worker on first receipt of a
//!   scheduled job or of a message whose job item is missing);
//! - `succeeded` — jobs that ended SUCCEEDED;
//! - `failed` — jobs that ended FAILED: all attempts failed, or the message was rejected as
//!   poison (unknown kind, invalid payload) and never ran;
//! - `retries` — re-attempts started (attempt 2, 3, …); an interrupted attempt that is resumed is
//!   not a new re-attempt;
//! - `cancelled` — jobs that ended CANCELLED (see [`crate::cancel`]);
//! - `skipped` — scheduled firings recorded SKIPPED, never run (see [`crate::overlap`]).
//!
//! So `submitted = succeeded + failed + cancelled + skipped + jobs not yet finished`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::history::{AttemptRun, RunOutcome, Runner};
pub use crate::poison::{OnPoison, reject};
use crate::policy::{AfterFailure, RetryPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Queued,
    Running,
    RetryWait,
    Succeeded,
    Failed,
    /// Cancelled through the API before it finished (terminal).
    Cancelled,
    /// A scheduled firing that did not run because the schedule's previous job had not finished
    /// (`overlap: forbid`; terminal).
    Skipped,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::RetryWait,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
        JobStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "QUEUED",
            JobStatus::Running => "RUNNING",
            JobStatus::RetryWait => "RETRY_WAIT",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
            JobStatus::Skipped => "SKIPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled | JobStatus::Skipped)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A worker's claim on a running attempt. Renewed by the heartbeat together with the message's
/// visibility; a lease that ran out means the worker died without recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    pub until: DateTime<Utc>,
}

/// The parts of a stored job that decide its transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    pub status: JobStatus,
    /// Attempts started so far (an interrupted attempt that is resumed counts once).
    pub attempts: u32,
    pub lease: Option<Lease>,
    /// When the next attempt is due (RETRY_WAIT).
    pub retry_at: Option<DateTime<Utc>>,
    /// Times the current attempt was interrupted and resumed.
    pub interruptions: u32,
    /// Someone asked to cancel the job while it ran; its worker stops it.
    pub cancel_requested: bool,
    /// Start of the latest attempt's run, and who runs it (for the history of an abandoned run).
    pub started_at: Option<DateTime<Utc>>,
    pub runner: Option<Runner>,
    /// The last runs of the job's attempts, oldest first (see [`crate::history`]).
    pub history: Vec<AttemptRun>,
    /// The current attempt's saved progress (see `kinds::Checkpoint`).
    pub checkpoint: Option<Value>,
}

impl JobState {
    /// A job in `status` after `attempts` attempts, with nothing else recorded.
    pub fn new(status: JobStatus, attempts: u32) -> Self {
        JobState {
            status,
            attempts,
            lease: None,
            retry_at: None,
            interruptions: 0,
            cancel_requested: false,
            started_at: None,
            runner: None,
            history: Vec::new(),
            checkpoint: None,
        }
    }
}

/// Which rule produced a transition: named in logs and by the fault injector's targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Submit,
    Start,
    Succeed,
    Fail,
    Interrupt,
    Reject,
    GiveUp,
    Cancel,
    Skip,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Start => "start",
            Step::Succeed => "succeed",
            Step::Fail => "fail",
            Step::Interrupt => "interrupt",
            Step::Reject => "reject",
            Step::GiveUp => "give-up",
            Step::Cancel => "cancel",
            Step::Skip => "skip",
        }
    }
}

/// Deltas for the STATS item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub submitted: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub retries: i64,
    pub cancelled: i64,
    pub skipped: i64,
}

impl Counters {
    pub fn is_zero(&self) -> bool {
        *self == Counters::default()
    }
}

/// What the job item must look like for a transition to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// No item yet.
    Absent,
    Present {
        status: JobStatus,
        attempts: u32,
        /// The lease owner must be this worker.
        owner: Option<String>,
        /// The lease must have run out before this instant.
        lease_expired_before: Option<DateTime<Utc>>,
        /// Nobody may have asked to cancel the job: set by writes that would let it go on
        /// (a retry, a resume), so a cancel request that lands first wins.
        uncancelled: bool,
    },
}

impl Expect {
    /// Whether a job in `current` meets the expectation: the condition the store writes (an
    /// in-memory store evaluates it directly). A lease that ends exactly at the bound is live.
    pub fn holds(&self, current: Option<&JobState>) -> bool {
        match (self, current) {
            (Expect::Absent, None) => true,
            (Expect::Present { status, attempts, owner, lease_expired_before, uncancelled }, Some(s)) => {
                s.status == *status
                    && s.attempts == *attempts
                    && !(*uncancelled && s.cancel_requested)
                    && owner.as_ref().is_none_or(|o| s.lease.as_ref().is_some_and(|l| &l.owner == o))
                    && lease_expired_before.is_none_or(|t| s.lease.as_ref().is_none_or(|l| l.until < t))
            }
            _ => false,
        }
    }
}

/// The job item after a transition.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub status: JobStatus,
    pub attempts: u32,
    /// `Some`: the lease to hold; `None`: no lease.
    pub lease: Option<Lease>,
    /// This transition starts an attempt (records its start time).
    pub started: bool,
    /// `Some`: the new last error; `None`: keep what is there.
    pub last_error: Option<String>,
    pub result: Option<Value>,
    /// `Some`: when the next attempt is due; `None`: not waiting.
    pub retry_at: Option<DateTime<Utc>>,
    /// Interruptions of the current attempt after this change.
    pub interruptions: u32,
    /// With `started`: who runs the attempt.
    pub runner: Option<Runner>,
    /// `Some`: the job's run history after this change; `None`: keep it.
    pub history: Option<Vec<AttemptRun>>,
    /// `Some`: the attempt's progress to keep for its next run (an interruption's newest
    /// checkpoint); `None`: keep what is there. A new attempt, or the end, drops it.
    pub checkpoint: Option<Value>,
}

impl Change {
    /// This change starts the job's first run: attempt 1, never interrupted. (A resumed or a later
    /// attempt keeps the first start as it was.)
    pub fn first_start(&self) -> bool {
        self.started && self.attempts == 1 && self.interruptions == 0
    }

    /// This change drops the attempt's checkpoint: a new attempt starts from nothing (a resumed
    /// one, `interruptions > 0`, keeps it), and an ended job needs none.
    pub fn drops_checkpoint(&self) -> bool {
        (self.started && self.interruptions == 0) || self.status.is_terminal()
    }
}

/// One conditional state change plus its counter deltas, applied atomically by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub step: Step,
    pub expect: Expect,
    pub change: Change,
    pub counters: Counters,
    pub at: DateTime<Utc>,
    /// Taken with the change, in the same transaction: a schedule's lock (`overlap: forbid`).
    pub lock: Option<crate::overlap::ScheduleLock>,
}

impl Transition {
    pub(crate) fn new(step: Step, expect: Expect, change: Change, at: DateTime<Utc>) -> Self {
        Transition { step, expect, change, counters: Counters::default(), at, lock: None }
    }

    /// The same change, taking `lock` in the same transaction.
    pub fn with_lock(mut self, lock: crate::overlap::ScheduleLock) -> Self {
        self.lock = Some(lock);
        self
    }

    pub(crate) fn counting(mut self, counters: Counters) -> Self {
        self.counters = counters;
        self
    }

    /// Records `run` (the attempt this transition ends) after `history`, as read at the claim.
    pub fn with_run(mut self, history: &[AttemptRun], run: AttemptRun) -> Self {
        self.change.history = Some(crate::history::append(history, run));
        self
    }
}

/// The job must still be exactly as `state` (status and attempts).
pub(crate) fn expect_from(state: &JobState) -> Expect {
    Expect::Present {
        status: state.status,
        attempts: state.attempts,
        owner: None,
        lease_expired_before: None,
        uncancelled: false,
    }
}

pub(crate) fn expect_held(attempt: u32, owner: &str) -> Expect {
    Expect::Present {
        status: JobStatus::Running,
        attempts: attempt,
        owner: Some(owner.to_owned()),
        lease_expired_before: None,
        uncancelled: false,
    }
}

/// The attempt held by `owner`, as long as nobody asked to cancel the job.
fn expect_held_uncancelled(attempt: u32, owner: &str) -> Expect {
    match expect_held(attempt, owner) {
        Expect::Present { status, attempts, owner, lease_expired_before, .. } => {
            Expect::Present { status, attempts, owner, lease_expired_before, uncancelled: true }
        }
        Expect::Absent => unreachable!(),
    }
}

/// A running job whose lease ran out before `before` (or that has none).
pub(crate) fn expect_abandoned(attempt: u32, before: DateTime<Utc>) -> Expect {
    Expect::Present {
        status: JobStatus::Running,
        attempts: attempt,
        owner: None,
        lease_expired_before: Some(before),
        uncancelled: false,
    }
}

/// A change to `status` and `attempts` that sets nothing else (no lease, not waiting).
pub(crate) fn change(status: JobStatus, attempts: u32) -> Change {
    Change {
        status,
        attempts,
        lease: None,
        started: false,
        last_error: None,
        result: None,
        retry_at: None,
        interruptions: 0,
        runner: None,
        history: None,
        checkpoint: None,
    }
}

/// The API accepted a job: a new QUEUED item, `submitted + 1`.
pub fn submit(now: DateTime<Utc>) -> Transition {
    Transition::new(Step::Submit, Expect::Absent, change(JobStatus::Queued, 0), now)
        .counting(Counters { submitted: 1, ..Counters::default() })
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
        OnReceive::Start { attempt, transition: Transition::new(Step::Start, expect, change, now).counting(counters) }
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
                .counting(Counters { failed: 1, ..Counters::default() }),
        }
    };
    let cancel = |expect: Expect| OnReceive::End { transition: crate::cancel::cancel_now(state, expect, now) };
    match state.status {
        status if status.is_terminal() => OnReceive::Skip(Skip::Finished(status)),
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
            let abandoned = crate::history::abandoned(state, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_run_of_attempt_one_is_the_first_start() {
        // (starts a run, attempt, interruptions so far, first start)
        let cases = [(true, 1, 0, true), (true, 1, 1, false), (true, 2, 0, false), (false, 1, 0, false)];
        for (started, attempts, interruptions, want) in cases {
            let c = Change { started, interruptions, ..change(JobStatus::Running, attempts) };
            assert_eq!(c.first_start(), want, "{started} {attempts} {interruptions}");
        }
    }

    #[test]
    fn a_new_attempt_or_the_end_drops_the_checkpoint_a_resumed_run_keeps_it() {
        // (status after, starts a run, interruptions so far, drops it)
        let cases = [
            (JobStatus::Running, true, 0, true),  // a new attempt (first, or after a failure)
            (JobStatus::Running, true, 2, false), // a resumed one
            (JobStatus::Queued, false, 1, false), // interrupted: handed back, to be resumed
            (JobStatus::RetryWait, false, 0, false),
            (JobStatus::Succeeded, false, 0, true),
            (JobStatus::Failed, false, 3, true),
            (JobStatus::Cancelled, false, 0, true),
        ];
        for (status, started, interruptions, want) in cases {
            let c = Change { started, interruptions, ..change(status, 1) };
            assert_eq!(c.drops_checkpoint(), want, "{status:?} {started} {interruptions}");
        }
    }
    use serde_json::json;

    const GRACE: Duration = Duration::from_secs(10);

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn me() -> Lease {
        Lease { owner: "me".into(), until: t(30) }
    }

    fn other(until: i64) -> Option<Lease> {
        Some(Lease { owner: "other".into(), until: t(until) })
    }

    fn state(status: JobStatus, attempts: u32, lease: Option<Lease>, retry_at: Option<i64>) -> JobState {
        JobState { lease, retry_at: retry_at.map(t), ..JobState::new(status, attempts) }
    }

    fn counters(submitted: i64, succeeded: i64, failed: i64, retries: i64) -> Counters {
        Counters { submitted, succeeded, failed, retries, ..Counters::default() }
    }

    /// (what the store holds, what the worker should do) for a receive at t(0).
    #[derive(Debug)]
    enum Want {
        Start(u32, JobStatus, Counters),
        Resume(u32),
        GiveUp(Counters),
        Skip(Skip),
    }

    #[test]
    fn on_receive_table() {
        use JobStatus::*;
        let policy = RetryPolicy::default();
        let none = Counters::default();
        let cases: Vec<(Option<JobState>, Want)> = vec![
            (None, Want::Start(1, Running, counters(1, 0, 0, 0))),
            (Some(state(Queued, 0, None, None)), Want::Start(1, Running, none)),
            // Interrupted during attempt 2: resumed as attempt 2, not a new re-attempt.
            (Some(state(Queued, 2, None, None)), Want::Start(2, Running, none)),
            (Some(state(RetryWait, 1, None, Some(0))), Want::Start(2, Running, counters(0, 0, 0, 1))),
            (Some(state(RetryWait, 2, None, Some(-5))), Want::Start(3, Running, counters(0, 0, 0, 1))),
            // Due within the one-second tolerance.
            (Some(state(RetryWait, 1, None, Some(1))), Want::Start(2, Running, counters(0, 0, 0, 1))),
            (Some(state(RetryWait, 1, None, Some(5))), Want::Skip(Skip::NotDue(t(5)))),
            // Policy lowered since: no attempts left.
            (Some(state(RetryWait, 3, None, Some(0))), Want::GiveUp(counters(0, 0, 1, 0))),
            (Some(state(Running, 1, other(25), None)), Want::Skip(Skip::Held(other(25).unwrap()))),
            // Our own claim committed but its answer was lost: run it, write nothing.
            (Some(state(Running, 2, Some(me()), None)), Want::Resume(2)),
            // Our own lease ran out: another worker may be taking over; treat it as abandoned.
            (
                Some(state(Running, 2, Some(Lease { until: t(-1), ..me() }), None)),
                Want::Start(2, Running, counters(0, 0, 0, 0)),
            ),
            // Lease about to run out (inside the grace): its worker missed two renewals. The
            // abandoned attempt is resumed (counted among its interruptions), not retried.
            (Some(state(Running, 1, other(9), None)), Want::Start(1, Running, counters(0, 0, 0, 0))),
            (Some(state(Running, 3, other(-60), None)), Want::Start(3, Running, counters(0, 0, 0, 0))),
            (Some(state(Running, 1, None, None)), Want::Start(1, Running, counters(0, 0, 0, 0))),
            // Abandoned more often than max_interruptions: the attempt failed.
            (
                Some(JobState { interruptions: 3, ..state(Running, 2, other(-60), None) }),
                Want::Start(3, Running, counters(0, 0, 0, 1)),
            ),
            (
                Some(JobState { interruptions: 3, ..state(Running, 3, other(-60), None) }),
                Want::GiveUp(counters(0, 0, 1, 0)),
            ),
            (Some(state(Succeeded, 1, None, None)), Want::Skip(Skip::Finished(Succeeded))),
            (Some(state(Failed, 3, None, None)), Want::Skip(Skip::Finished(Failed))),
        ];
        for (current, want) in cases {
            let got = on_receive(current.as_ref(), true, &me(), t(0), GRACE, &policy);
            match (&got, &want) {
                (OnReceive::Start { attempt, transition }, Want::Start(a, status, c)) => {
                    assert_eq!(
                        (attempt, &transition.change.status, &transition.counters),
                        (a, status, c),
                        "{current:?}"
                    );
                    assert_eq!(transition.change.attempts, *a);
                    assert_eq!(transition.change.lease.as_ref(), Some(&me()));
                    assert!(transition.change.started);
                    match (&current, &transition.expect) {
                        (None, Expect::Absent) => {}
                        (Some(s), Expect::Present { status, attempts, owner: None, .. }) => {
                            assert_eq!((status, attempts), (&s.status, &s.attempts))
                        }
                        other => panic!("wrong expectation {other:?}"),
                    }
                }
                (OnReceive::End { transition }, Want::GiveUp(c)) => {
                    assert_eq!(transition.change.status, Failed);
                    assert_eq!(&transition.counters, c);
                    assert!(transition.change.last_error.is_some());
                    assert_eq!(transition.change.lease, None);
                }
                (OnReceive::Skip(s), Want::Skip(w)) => assert_eq!(s, w),
                (OnReceive::Resume { attempt }, Want::Resume(a)) => assert_eq!(attempt, a),
                _ => panic!("{current:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn abandoned_lease_is_rechecked_by_the_store() {
        let current = state(JobStatus::Running, 1, other(-1), None);
        let OnReceive::Start { transition, .. } =
            on_receive(Some(&current), false, &me(), t(0), GRACE, &RetryPolicy::default())
        else {
            panic!("should take over")
        };
        assert_eq!(
            transition.expect,
            Expect::Present {
                status: JobStatus::Running,
                attempts: 1,
                owner: None,
                lease_expired_before: Some(t(10)),
                uncancelled: false
            }
        );
        assert!(transition.change.last_error.unwrap().contains("attempt 1 abandoned"));
    }

    #[test]
    fn outcome_transitions_are_keyed_on_attempt_and_owner() {
        let policy = RetryPolicy::default();
        let held = |attempt| expect_held(attempt, "me");
        let ok = succeed(2, "me", json!({"x": 1}), t(0));
        assert_eq!(
            (ok.expect.clone(), ok.change.status, ok.counters),
            (held(2), JobStatus::Succeeded, counters(0, 1, 0, 0))
        );
        assert_eq!(ok.change.result, Some(json!({"x": 1})));

        // (failed attempt, status after, retry due, counters, needs no cancel request)
        let cases = [
            (1, JobStatus::RetryWait, Some(t(2)), counters(0, 0, 0, 0), true),
            (2, JobStatus::RetryWait, Some(t(4)), counters(0, 0, 0, 0), true),
            (3, JobStatus::Failed, None, counters(0, 0, 1, 0), false),
        ];
        let uncancelled = |attempt| expect_held_uncancelled(attempt, "me");
        for (attempt, status, due, c, unc) in cases {
            let (tr, _) = fail(attempt, "me", "boom", t(0), &policy);
            assert_eq!(tr.expect, if unc { uncancelled(attempt) } else { held(attempt) });
            assert_eq!((tr.change.status, tr.change.retry_at, tr.counters), (status, due, c), "attempt {attempt}");
            assert_eq!(tr.change.attempts, attempt);
            assert_eq!(tr.change.last_error.as_deref(), Some("boom"));
            assert_eq!(tr.change.lease, None);
        }

        let (stop, after) = interrupt(2, "me", 0, t(0), &policy);
        assert_eq!((stop.expect, stop.change.status, stop.change.attempts), (uncancelled(2), JobStatus::Queued, 2));

        let permanent = fail_permanently(1, "me", "bad input", t(0));
        assert_eq!((permanent.expect, permanent.change.status), (held(1), JobStatus::Failed));
        assert_eq!(permanent.counters, counters(0, 0, 1, 0));
        assert!(permanent.change.last_error.unwrap().contains("permanent failure: not retried"));
        assert_eq!((stop.change.interruptions, after), (1, AfterInterrupt::Resume));
        assert!(stop.counters.is_zero());
    }

    #[test]
    fn a_full_life_counts_each_job_once() {
        // Walk fail → retry → retry → FAILED through the pure rules and sum the counters.
        let policy = RetryPolicy::default();
        let mut current: Option<JobState> = None;
        let mut total = Counters::default();
        let mut add = |c: Counters| {
            total.submitted += c.submitted;
            total.succeeded += c.succeeded;
            total.failed += c.failed;
            total.retries += c.retries;
        };
        let apply = |tr: &Transition| JobState {
            status: tr.change.status,
            attempts: tr.change.attempts,
            lease: tr.change.lease.clone(),
            retry_at: tr.change.retry_at,
            interruptions: tr.change.interruptions,
            ..JobState::new(tr.change.status, tr.change.attempts)
        };
        let mut now = t(0);
        loop {
            let lease = Lease { owner: "me".into(), until: now + chrono::Duration::seconds(30) };
            // From its firing's first receipt (no item yet) to FAILED.
            match on_receive(current.as_ref(), true, &lease, now, GRACE, &policy) {
                OnReceive::Start { attempt, transition } => {
                    add(transition.counters);
                    let (tr, _) = fail(attempt, "me", "boom", now, &policy);
                    add(tr.counters);
                    current = Some(apply(&tr));
                    now = tr.change.retry_at.unwrap_or(now);
                }
                OnReceive::Skip(Skip::Finished(JobStatus::Failed)) => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(total, counters(1, 0, 1, 2));
        assert_eq!(current.unwrap().attempts, 3);
    }

    #[test]
    fn interruptions_are_bounded() {
        // (interruptions before, status after, counters, outcome) with 3 attempts, 3 interruptions each.
        let policy = RetryPolicy::default();
        let cases = [
            (0, 1, JobStatus::Queued, counters(0, 0, 0, 0), AfterInterrupt::Resume),
            (2, 1, JobStatus::Queued, counters(0, 0, 0, 0), AfterInterrupt::Resume),
            (
                3,
                1,
                JobStatus::RetryWait,
                counters(0, 0, 0, 0),
                AfterInterrupt::Failed(AfterFailure::Retry { next: 2, delay: Duration::from_secs(2) }),
            ),
            (3, 3, JobStatus::Failed, counters(0, 0, 1, 0), AfterInterrupt::Failed(AfterFailure::GiveUp)),
        ];
        for (before, attempt, status, c, want) in cases {
            let (tr, after) = interrupt(attempt, "me", before, t(0), &policy);
            assert_eq!((tr.change.status, tr.counters, after), (status, c, want), "{before} interruptions");
            assert_eq!(tr.step, Step::Interrupt);
            if status != JobStatus::Queued {
                assert!(tr.change.last_error.unwrap().contains("interrupted 4 times"));
            }
        }
        // The count survives the resume and is reset by the next attempt.
        let resumed = state(JobStatus::Queued, 1, None, None);
        let queued = JobState { interruptions: 2, ..resumed };
        let OnReceive::Start { transition, .. } = on_receive(Some(&queued), false, &me(), t(0), GRACE, &policy) else {
            panic!()
        };
        assert_eq!(transition.change.interruptions, 2);
        let waiting = JobState { interruptions: 2, ..state(JobStatus::RetryWait, 1, None, Some(0)) };
        let OnReceive::Start { transition, .. } = on_receive(Some(&waiting), false, &me(), t(0), GRACE, &policy) else {
            panic!()
        };
        assert_eq!(transition.change.interruptions, 0);
    }

    #[test]
    fn reject_table() {
        use JobStatus::*;
        #[derive(Debug, PartialEq)]
        enum Want {
            Record(Counters),
            Held,
            Finished,
        }
        let cases: Vec<(Option<JobState>, Want)> = vec![
            (None, Want::Record(counters(1, 0, 1, 0))),
            (Some(state(Queued, 0, None, None)), Want::Record(counters(0, 0, 1, 0))),
            // Started jobs are failed too: deleting their only message must not strand them.
            (Some(state(Queued, 1, None, None)), Want::Record(counters(0, 0, 1, 0))),
            (Some(state(RetryWait, 1, None, Some(5))), Want::Record(counters(0, 0, 1, 0))),
            (Some(state(Running, 1, other(-5), None)), Want::Record(counters(0, 0, 1, 0))),
            (Some(state(Running, 1, other(30), None)), Want::Held),
            (Some(state(Succeeded, 1, None, None)), Want::Finished),
            (Some(state(Failed, 0, None, None)), Want::Finished),
        ];
        for (current, want) in cases {
            let got = reject(current.as_ref(), true, "unknown job kind", t(0), GRACE);
            let summary = match &got {
                OnPoison::Record(tr) => {
                    assert_eq!(tr.change.status, Failed);
                    assert_eq!(tr.change.last_error.as_deref(), Some("unknown job kind"));
                    assert_eq!(tr.change.attempts, current.as_ref().map_or(0, |s| s.attempts));
                    Want::Record(tr.counters)
                }
                OnPoison::Held(_) => Want::Held,
                OnPoison::Finished(_) | OnPoison::Gone => Want::Finished,
            };
            assert_eq!(summary, want, "{current:?}");
        }
        // A job that is not a firing and has no item ended and expired: nothing is recorded.
        assert_eq!(reject(None, false, "unknown job kind", t(0), GRACE), OnPoison::Gone);
    }

    #[test]
    fn only_a_firing_creates_its_item() {
        let policy = RetryPolicy::default();
        // A firing's first receipt records it; any other message without an item is dropped.
        let OnReceive::Start { transition, .. } = on_receive(None, true, &me(), t(0), GRACE, &policy) else {
            panic!("a firing starts")
        };
        assert_eq!((transition.expect, transition.counters.submitted), (Expect::Absent, 1));
        assert_eq!(on_receive(None, false, &me(), t(0), GRACE, &policy), OnReceive::Skip(Skip::Gone));
    }

    #[test]
    fn expectations_are_the_store_conditions() {
        let running = |owner: &str, until| JobState {
            lease: Some(Lease { owner: owner.into(), until: t(until) }),
            ..state(JobStatus::Running, 2, None, None)
        };
        let held = expect_held(2, "me");
        let expired = Expect::Present {
            status: JobStatus::Running,
            attempts: 2,
            owner: None,
            lease_expired_before: Some(t(10)),
            uncancelled: false,
        };
        // (expectation, item, holds)
        let cases = [
            (Expect::Absent, None, true),
            (Expect::Absent, Some(state(JobStatus::Queued, 0, None, None)), false),
            (held.clone(), Some(running("me", 30)), true),
            (held.clone(), Some(running("other", 30)), false),
            (held.clone(), Some(state(JobStatus::Running, 2, None, None)), false),
            (held, Some(running("me", 30)).map(|s| JobState { attempts: 3, ..s }), false),
            (expired.clone(), Some(running("other", 9)), true),
            (expired.clone(), Some(running("other", 10)), false),
            (expired.clone(), Some(state(JobStatus::Running, 2, None, None)), true),
            (expired, None, false),
        ];
        for (expect, current, want) in cases {
            assert_eq!(expect.holds(current.as_ref()), want, "{expect:?} on {current:?}");
        }
    }

    /// Clock skew between workers (issue 11, path 10): a live worker renews every third of its
    /// lease, so a lease it holds always has at least two thirds left; another worker takes over
    /// only when less than a third (the grace) is left by its own clock. So takeovers stay correct
    /// while clocks differ by less than a third of the visibility timeout (20 s by default); a
    /// larger skew can cause an early takeover, which the owner-conditioned writes fence (the old
    /// holder's result is dropped, nothing is counted twice).
    #[test]
    fn lease_takeover_tolerates_skew_below_the_grace() {
        let policy = RetryPolicy::default();
        // The holder renewed at its t(0) for 30 s; it renews again at t(10).
        let live = JobState {
            lease: Some(Lease { owner: "holder".into(), until: t(30) }),
            ..state(JobStatus::Running, 1, None, None)
        };
        // The latest moment (holder's clock) before its next renewal, seen by a worker whose clock
        // runs `skew` seconds ahead, with a 10 s grace.
        for (skew, takes_over) in [(0, false), (5, false), (9, false), (11, true)] {
            let now = t(10 + skew);
            let got = on_receive(Some(&live), false, &me(), now, GRACE, &policy);
            assert_eq!(matches!(got, OnReceive::Start { .. }), takes_over, "skew {skew} s: {got:?}");
        }
    }

    #[test]
    fn status_names_round_trip_and_serialize_as_named() {
        for st in JobStatus::ALL {
            assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
        }
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::parse("running"), None);
        assert!(JobStatus::Failed.is_terminal() && !JobStatus::RetryWait.is_terminal());
        assert_eq!(submit(t(0)).counters, counters(1, 0, 0, 0));
    }
}
