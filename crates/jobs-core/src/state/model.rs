//! The job model: statuses, the state a rule reads, the conditional change a transition writes,
//! and the counters it moves.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::history::{AttemptRun, Runner};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    /// Accepted over its tenant's limits: no message, no pod, until it is admitted (QUEUED).
    Waiting,
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
    pub const ALL: [JobStatus; 8] = [
        JobStatus::Waiting,
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
            JobStatus::Waiting => "WAITING",
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
    /// It holds one of its tenant's slots (`crate::tenants`). Every rule that decides a change
    /// from this state carries it into the change ([`Transition::holds_slot`]), so no writer has
    /// to remember it.
    pub slot: bool,
}

impl JobState {
    /// The history entry of this job's current run when its worker vanished, as the worker that
    /// finds it at `now` records it: it ended when its lease ran out (or now, if that is sooner).
    pub fn abandoned_run(&self, now: DateTime<Utc>) -> AttemptRun {
        let ended = self.lease.as_ref().map_or(now, |l| l.until.min(now));
        let started = self.started_at.unwrap_or(ended).min(ended);
        AttemptRun::new(
            self.attempts,
            started,
            ended,
            crate::history::RunOutcome::Abandoned,
            Some("its worker stopped without recording a result (lease expired)"),
            self.runner.as_ref(),
        )
    }

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
            slot: false,
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
    /// Accepted over the tenant's limits (WAITING).
    Wait,
    /// A WAITING job takes a slot of its tenant (QUEUED).
    Admit,
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
            Step::Wait => "wait",
            Step::Admit => "admit",
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

    /// This change removes the job's `lastError`: a job that succeeded has no error (the runs that
    /// failed before keep theirs in the history).
    pub fn clears_error(&self) -> bool {
        self.status == JobStatus::Succeeded
    }

    /// This change drops the attempt's checkpoint: a new attempt starts from nothing (a resumed
    /// one, `interruptions > 0`, keeps it), and an ended job needs none.
    pub fn drops_checkpoint(&self) -> bool {
        (self.started && self.interruptions == 0) || self.status.is_terminal()
    }
}

/// Taking a schedule's lock (`overlap: forbid`, `crate::overlap`): `holder` becomes the job that
/// holds it, if it is still held by `expect` (`None`: nobody) when the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleLock {
    pub schedule: String,
    pub expect: Option<String>,
    pub holder: String,
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
    pub lock: Option<ScheduleLock>,
    /// Taken with the change, in the same transaction: a slot of the job's tenant (a schedule's
    /// firing of a limited tenant, recorded as it starts; `crate::tenants::limits`).
    pub slot: Option<crate::tenants::SlotTake>,
    /// The job holds a slot of its tenant, as the writer read it. A change that ends it then
    /// leaves its retention to the slot's release (`store::admission::release`): an item the TTL
    /// deleted while it held a slot would keep that slot counted for good.
    pub holds_slot: bool,
}

impl Transition {
    pub(crate) fn new(step: Step, expect: Expect, change: Change, at: DateTime<Utc>) -> Self {
        Transition {
            step,
            expect,
            change,
            counters: Counters::default(),
            at,
            lock: None,
            slot: None,
            holds_slot: false,
        }
    }

    /// The same change, of a job that holds a slot of its tenant (`yes`) as the writer read it.
    /// The rules that decide from a [`JobState`] set it ([`Transition::of_job_as_read`]); the
    /// worker sets it for the changes of the attempt it claimed.
    pub fn holding_slot(mut self, yes: bool) -> Self {
        self.holds_slot = yes;
        self
    }

    /// The same change, of the job as `read` (`None`: no item): whether it holds a slot.
    pub(crate) fn of_job_as_read(self, read: Option<&JobState>) -> Self {
        self.holding_slot(read.is_some_and(|s| s.slot))
    }

    /// The same change, taking `lock` in the same transaction.
    pub fn with_lock(mut self, lock: ScheduleLock) -> Self {
        self.lock = Some(lock);
        self
    }

    /// The same change, taking a slot of the job's tenant in the same transaction.
    pub fn with_slot(mut self, take: crate::tenants::SlotTake) -> Self {
        self.slot = Some(take);
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
pub(crate) fn expect_held_uncancelled(attempt: u32, owner: &str) -> Expect {
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
