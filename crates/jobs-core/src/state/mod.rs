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
//!  (none) ──wait (over its tenant's limits)──▶ WAITING ──admit (a slot)──▶ QUEUED
//!  WAITING ──cancel──▶ CANCELLED
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
//! - `cancelled` — jobs that ended CANCELLED (see [`cancel`]);
//! - `skipped` — scheduled firings recorded SKIPPED, never run (see [`crate::overlap`]).
//!
//! So `submitted = succeeded + failed + cancelled + skipped + jobs not yet finished`.
//!
//! `model`: what a job's state and a transition are; `receive`: the rules that decide a
//! transition (a received message, an attempt's end, an interruption); `cancel`: a cancel
//! request's.

pub mod cancel;
mod model;
mod receive;
#[cfg(test)]
mod tests;

pub use model::*;
pub use receive::*;

pub use crate::history::{AttemptRun, RunOutcome, Runner};
