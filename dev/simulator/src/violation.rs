//! A broken invariant, with what breaks it: what every check of a run returns (`invariants`,
//! `tenants`, the API's answers), and what a failing seed prints.

use jobs_core::JobStatus;

/// A broken invariant, with what breaks it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("schedule {0} is still there after the client deleted it")]
    ScheduleLeft(String),
    #[error("G1: job {job_id} is {status} at the end ({detail})")]
    NotTerminal { job_id: String, status: JobStatus, detail: String },
    #[error("G1: the API accepted job {0}, and it is not in the table")]
    Lost(String),
    #[error("the API accepted job {0}, whose message SQS refuses")]
    AcceptedUnsendable(String),
    #[error("the API refused job {0}, and it is in the table")]
    RefusedButWritten(String),
    #[error(
        "{caller}'s requests with Idempotency-Key {key} made jobs [{made}] and were answered {answered:?}: one job of their own is right"
    )]
    Idempotency { caller: String, key: String, made: String, answered: String },
    #[error("G2: counter {name} is {counted}, the items say {items}")]
    Counter { name: &'static str, counted: u64, items: u64 },
    #[error("G3: job {job_id} ({kind}) had {attempts} attempts; its policy allows {max}")]
    Attempts { job_id: String, kind: String, attempts: u32, max: u32 },
    #[error("G3: job {job_id} ({kind}) ended {status} ({error}); it should have ended {expected}")]
    WrongEnd { job_id: String, kind: String, status: JobStatus, expected: &'static str, error: String },
    #[error("a live lease was taken over: job {job_id} held by {from} for {left_ms} ms more, taken by {to}")]
    LiveLeaseTaken { job_id: String, from: String, to: String, left_ms: i64 },
    #[error("job {job_id} ended {from}, and a later write made it {to}")]
    EndChanged { job_id: String, from: String, to: String },
    #[error("job {0} ended, expired, and is in the table again")]
    Recreated(String),
    #[error("schedule {schedule} forbids overlap, and these of its jobs are open at once: {jobs}")]
    Overlap { schedule: String, jobs: String },
    #[error("G3: job {job_id} of schedule {schedule} ended {status} ({error})")]
    WrongFiredEnd { job_id: String, schedule: String, status: JobStatus, error: String },
    #[error("tenant {tenant} has {running} jobs RUNNING in its slots; its limit is {limit}")]
    OverLimit { tenant: String, running: u64, limit: u64 },
    #[error("tenant {tenant}'s item counts {active} slots; {slots} of its jobs hold one")]
    SlotsLeak { tenant: String, active: u64, slots: u64 },
    #[error("the TTL deleted job {0} while it held a slot of its tenant (counted for good)")]
    ExpiredHoldingSlot(String),
    #[error("the TTL deleted job {job_id} while it was {status}")]
    OpenJobExpired { job_id: String, status: String },
    #[error("queue {queue} still holds {left} message(s) at the end")]
    LeftOnQueue { queue: String, left: usize },
    #[error("the world could not be read: {0}")]
    Unreadable(String),
}
