//! `data-processor reconcile`: carries out `jobs_core::reconcile`. Each pass
//!
//! 1. drains the dead-letter queue: a message SQS moved there comes back to the job queue as a
//!    fresh copy (its job had not ended), is dropped (it had), or, after
//!    `jobs_core::reconcile::MAX_REDRIVES`, ends its job FAILED with the reason. A message nobody
//!    can tie to a job stays there for a person;
//! 2. re-sends the message of every overdue job in the due index (never sent by an API that
//!    crashed, or lost), then moves its due time on.
//!
//! So every accepted job ends SUCCEEDED or FAILED even when its message was lost on the way.

use std::time::{Duration, Instant};

use chrono::Utc;
use jobs_aws::{BackendError, CopyMeta, JobQueue, JobRecord, JobStore, Received, StoreError, store};
use jobs_core::JobMessage;
use jobs_core::reconcile::{self, DeadLetter, Overdue};
use jobs_runtime::Shutdown;
use tracing::{info, warn};

/// Dead-letter messages handled per pass (batches of 10).
const DEAD_LETTERS_PER_PASS: usize = 200;
/// Overdue jobs handled per pass.
const OVERDUE_PER_PASS: usize = 500;
/// A dead-letter message is hidden this long while a pass works on it.
const DEAD_LETTER_VISIBILITY: Duration = Duration::from_secs(60);
/// A dead-letter message nobody can tie to a job is looked at again after this long (SQS caps a
/// message's visibility at 12 hours from its receipt).
const UNRESOLVABLE_VISIBILITY: Duration = Duration::from_secs(6 * 60 * 60);

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub dead_letters: usize,
    pub redriven: usize,
    pub dropped: usize,
    pub failed: usize,
    pub unresolvable: usize,
    pub overdue: usize,
    pub resent: usize,
}

pub struct Reconciler {
    pub queue: JobQueue,
    pub store: JobStore,
    pub shutdown: Shutdown,
}

impl Reconciler {
    /// Passes every `every` until `run_for` has passed (one pass without it) or a stop is
    /// requested. Returns false if a pass failed.
    pub async fn run(&self, every: Duration, run_for: Option<Duration>) -> bool {
        let started = Instant::now();
        let mut healthy = true;
        loop {
            match self.pass().await {
                Ok(report) if report != Report::default() => info!(?report, "reconcile pass"),
                Ok(_) => {}
                Err(e) => {
                    healthy = false;
                    warn!(error = %e, "reconcile pass failed; the next one tries again");
                }
            }
            let Some(total) = run_for else { break };
            if started.elapsed() + every > total || self.shutdown.is_requested() {
                break;
            }
            tokio::select! {
                biased;
                () = self.shutdown.requested() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
        healthy
    }

    /// One pass: the dead-letter queue, then the overdue jobs.
    pub async fn pass(&self) -> Result<Report, BackendError> {
        let mut report = Report::default();
        while report.dead_letters < DEAD_LETTERS_PER_PASS && !self.shutdown.is_requested() {
            let batch = self.queue.receive_dead(10, DEAD_LETTER_VISIBILITY).await?;
            if batch.is_empty() {
                break;
            }
            for msg in &batch {
                report.dead_letters += 1;
                self.dead_letter(msg, &mut report).await?;
            }
        }
        let now = Utc::now();
        for job_id in self.store.overdue(now, OVERDUE_PER_PASS).await.map_err(backend)? {
            report.overdue += 1;
            if self.overdue(&job_id).await? {
                report.resent += 1;
            }
        }
        Ok(report)
    }

    async fn dead_letter(&self, msg: &Received, report: &mut Report) -> Result<(), BackendError> {
        let now = Utc::now();
        let (job_id, job) = match JobMessage::parse_received(&msg.body, Some(&msg.message_id), Some(now)) {
            Ok(job) => (job.job_id.clone(), Some(job)),
            // A poison message that names a job goes back to a worker, which records it FAILED.
            Err(e) if e.job_id.is_some() => (e.job_id.unwrap_or_default(), None),
            Err(e) => {
                warn!(message_id = %msg.message_id, reason = %e.reason, "dead-lettered message names no job; left for a person");
                report.unresolvable += 1;
                if let Err(e) = self.queue.hide_dead(&msg.receipt_handle, UNRESOLVABLE_VISIBILITY).await {
                    warn!(error = %e, "could not hide the message; the next pass sees it again");
                }
                return Ok(());
            }
        };
        let current = self.store.get(&job_id).await.map_err(backend)?;
        let state = current.as_ref().map(JobRecord::state);
        match reconcile::on_dead_letter(state.as_ref(), msg.redrives, msg.receive_count, now) {
            DeadLetter::Drop => report.dropped += 1,
            DeadLetter::Resend { delay } => {
                let body = job.as_ref().map_or_else(|| msg.body.clone(), JobMessage::to_body);
                let meta =
                    CopyMeta { redrives: msg.redrives + 1, deferrals: 0, attempts: state.map_or(0, |s| s.attempts) };
                self.queue.send_copy(&body, delay, meta).await?;
                info!(%job_id, redrives = meta.redrives, "dead-lettered message sent back to the job queue");
                report.redriven += 1;
            }
            DeadLetter::Fail(transition) => {
                match self
                    .store
                    .apply(
                        &job_id,
                        current.as_ref().and_then(|r| r.kind.as_deref()),
                        job.as_ref(),
                        &transition,
                        &store::token(),
                    )
                    .await
                {
                    // Moved meanwhile: look again next pass.
                    Err(StoreError::ConditionFailed) => return Ok(()),
                    other => drop(other.map_err(backend)?),
                }
                warn!(%job_id, reason = transition.change.last_error.as_deref(), "job FAILED: its message kept being dead-lettered");
                report.failed += 1;
            }
        }
        self.queue.delete_dead(&msg.receipt_handle).await
    }

    /// Sends an overdue job's message again; `false` if it had moved on.
    async fn overdue(&self, job_id: &str) -> Result<bool, BackendError> {
        let now = Utc::now();
        let Some(record) = self.store.get(job_id).await.map_err(backend)? else { return Ok(false) };
        let state = record.state();
        let Overdue::Resend { delay, next_due } =
            reconcile::on_overdue(Some(&state), record.due_at, record.resends, now, self.store.timing())
        else {
            return Ok(false);
        };
        let Some(msg) = record.message() else {
            warn!(job_id, "overdue job has no kind recorded; cannot send it");
            return Ok(false);
        };
        self.queue
            .send_copy(&msg.to_body(), delay, CopyMeta { attempts: state.attempts, ..CopyMeta::default() })
            .await?;
        let seen = record.due_at.unwrap_or(now);
        match self.store.bump_due(job_id, seen, next_due).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(StoreError::Backend(e)) => {
                warn!(job_id, error = %e, "could not move the due time on; sent again next pass")
            }
        }
        info!(job_id, status = %record.status, resends = record.resends + 1, "overdue job's message sent again");
        Ok(true)
    }
}

fn backend(e: StoreError) -> BackendError {
    crate::worker::into_backend(e)
}
