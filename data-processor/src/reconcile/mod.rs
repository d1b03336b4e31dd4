//! `data-processor reconcile`: carries out `jobs_core::reconcile`. Each pass
//!
//! 1. drains every pool's dead-letter queue: a message SQS moved there comes back to its job's
//!    queue (its kind's pool, its priority) as a fresh copy (its job had not ended), is dropped (it had), or, after
//!    `jobs_core::reconcile::MAX_REDRIVES`, ends its job FAILED with the reason. A message nobody
//!    can tie to a job stays there for a person;
//! 2. re-sends the message of every overdue job in the due index (never sent by an API that
//!    crashed, or lost), then moves its due time on. A message the queue refuses (a body an older
//!    API recorded that SQS does not carry) moves its job's due time on with a growing wait and,
//!    after `jobs_core::reconcile::MAX_SEND_REFUSALS`, ends the job FAILED with the reason. A job
//!    waiting on a lane that runs nothing (its image missing, its pods unschedulable) is watched
//!    instead, a look a minute, and ends FAILED with the reason once the lane stayed idle for its
//!    start deadline.
//!
//! 3. for every tenant with an item, frees the slots its ended jobs still hold and admits its
//!    waiting jobs as far as its limits allow (`tenancy`).
//!
//! One message or job that cannot be handled never holds up the others: it is logged, counted in
//! the report (and in the pass's metric line) and left for a later pass.
//!
//! So every accepted job ends SUCCEEDED or FAILED even when its message was lost on the way.

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

use jobs_aws::{BackendError, Conditional, CopyMeta, JobQueue, Received};
use jobs_core::JobMessage;
use jobs_core::reconcile::{self, DeadLetter};
use tracing::{info, warn};

use crate::emf;

mod overdue;
mod reconciler;
mod tenancy;

use overdue::Backlogs;
pub use reconciler::{Reconciler, Report};

/// Dead-letter messages handled per pass (batches of 10).
const DEAD_LETTERS_PER_PASS: usize = 200;
/// Overdue jobs handled per pass.
const OVERDUE_PER_PASS: usize = 500;
/// A dead-letter message is hidden this long while a pass works on it.
const DEAD_LETTER_VISIBILITY: Duration = Duration::from_secs(60);
/// A dead-letter message nobody can tie to a job is looked at again after this long (SQS caps a
/// message's visibility at 12 hours from its receipt).
const UNRESOLVABLE_VISIBILITY: Duration = Duration::from_secs(6 * 60 * 60);

/// Per-job failures of the backend in a row after which a pass stops: that is an outage, not a
/// bad job, and the next pass tries again.
const MAX_ERRORS_IN_A_ROW: usize = 5;

impl Reconciler {
    /// Passes every `every` until `run_for` has passed (one pass without it) or a stop is
    /// requested. Returns false if a pass failed or could not handle a job.
    pub async fn run(&self, every: Duration, run_for: Option<Duration>) -> bool {
        let started = Instant::now();
        let mut healthy = true;
        loop {
            match self.pass().await {
                Ok(report) => {
                    healthy &= report.errors == 0;
                    if report != Report::default() {
                        info!(?report, "reconcile pass");
                        self.emit(&report);
                    }
                }
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

    /// The pass's EMF line on stdout. Best effort: a closed stdout must not stop the reconciler.
    fn emit(&self, r: &Report) {
        let Some(namespace) = &self.metrics_namespace else { return };
        let p = emf::PassMetrics {
            resent: r.resent,
            redriven: r.redriven,
            failed: r.failed,
            not_started: r.not_started,
            unsent: r.unsent,
            waiting: r.waiting,
            errors: r.errors,
            at: self.store.now(),
        };
        let _ = writeln!(std::io::stdout().lock(), "{}", emf::pass_line(namespace, &p));
    }

    /// One pass: the dead-letter queue, then the overdue jobs. A message or job that cannot be
    /// handled is logged, counted in the report and left for a later pass; the pass goes on with
    /// the next. It fails only when the queues or the index cannot be read at all, or the backend
    /// fails for several jobs in a row (an outage).
    pub async fn pass(&self) -> Result<Report, BackendError> {
        let mut report = Report::default();
        let mut in_a_row = Streak::default();
        'dead: for (_, pool) in self.queues.dead_letters() {
            while report.dead_letters < DEAD_LETTERS_PER_PASS && !self.shutdown.is_requested() {
                let batch = pool.receive_dead(10, DEAD_LETTER_VISIBILITY).await?;
                if batch.is_empty() {
                    break;
                }
                for msg in &batch {
                    report.dead_letters += 1;
                    let result = self.dead_letter(pool, msg, &mut report).await;
                    if let Err(e) = result {
                        // Hidden for DEAD_LETTER_VISIBILITY: a later pass sees it again.
                        warn!(message_id = %msg.message_id, error = %e, "could not handle a dead-lettered message; next pass");
                        report.errors += 1;
                        if in_a_row.failed() {
                            break 'dead;
                        }
                    } else {
                        in_a_row.ok();
                    }
                }
            }
        }
        let now = self.store.now();
        let overdue = self.store.overdue(now, OVERDUE_PER_PASS).await?;
        let mut backlogs = Backlogs::default();
        for (job_id, due) in overdue {
            if self.shutdown.is_requested() {
                break;
            }
            report.overdue += 1;
            match self.overdue(&job_id, due, &mut backlogs, &mut report).await {
                Ok(()) => in_a_row.ok(),
                Err(e) => {
                    warn!(job_id, error = %e, "could not recover the overdue job; a later pass tries again");
                    report.errors += 1;
                    if in_a_row.failed() {
                        return Err(e);
                    }
                }
            }
        }
        self.tenancy(&mut report).await?;
        Ok(report)
    }

    /// A message from `pool`'s dead-letter queue (`pool`: that pool's normal queue).
    async fn dead_letter(&self, pool: &JobQueue, msg: &Received, report: &mut Report) -> Result<(), BackendError> {
        let now = self.store.now();
        let (job_id, job) = match JobMessage::parse_received(&msg.body, Some(&msg.message_id), Some(now)) {
            Ok(job) => (job.job_id.clone(), Some(job)),
            // A poison message that names a job goes back to a worker, which records it FAILED.
            Err(e) if e.job_id.is_some() => (e.job_id.unwrap_or_default(), None),
            Err(e) => {
                warn!(message_id = %msg.message_id, reason = %e.reason, "dead-lettered message names no job; left for a person");
                report.unresolvable += 1;
                if let Err(e) = pool.hide_dead(&msg.receipt_handle, UNRESOLVABLE_VISIBILITY).await {
                    warn!(error = %e, "could not hide the message; the next pass sees it again");
                }
                return Ok(());
            }
        };
        let current = self.store.get(&job_id).await?;
        let state = current.as_ref().map(|r| &r.state);
        // A firing older than the retention whose item is gone ended and expired: not created again.
        let expired = job.as_ref().is_some_and(|j| {
            jobs_core::message::is_expired_firing(&job_id, j.submitted_at, now, self.store.retention())
        });
        let firing = jobs_core::message::is_firing(&job_id) && !expired;
        match reconcile::on_dead_letter(state, firing, msg.redrives, msg.receive_count, now) {
            DeadLetter::Drop => report.dropped += 1,
            DeadLetter::Resend { delay } => {
                let body = job.as_ref().map_or_else(|| msg.body.clone(), JobMessage::to_body);
                let meta =
                    CopyMeta { redrives: msg.redrives + 1, deferrals: 0, attempts: state.map_or(0, |s| s.attempts) };
                // Its job's own queue; a body that cannot be read goes back where it came from.
                let to = job.as_ref().map_or(pool, |j| self.queues.for_job(&j.kind, j.priority));
                to.send_copy(&body, delay, meta).await?;
                info!(%job_id, redrives = meta.redrives, "dead-lettered message sent back to the job queue");
                report.redriven += 1;
            }
            DeadLetter::Fail(transition) => {
                match self
                    .store
                    .apply(
                        &job_id,
                        current.as_ref().and_then(|r| r.kind()),
                        current.as_ref().map(|r| &r.tenant),
                        job.as_ref(),
                        &transition,
                        &self.store.token(),
                    )
                    .await
                {
                    // Moved meanwhile: look again next pass.
                    Ok(Conditional::Lost) => return Ok(()),
                    Ok(Conditional::Applied(_)) => {}
                    Err(e) => return Err(e),
                }
                warn!(%job_id, reason = transition.change.last_error.as_deref(), "job FAILED: its message kept being dead-lettered");
                report.failed += 1;
            }
        }
        pool.delete_dead(&msg.receipt_handle).await
    }
}

/// Backend failures in a row, across messages and jobs.
#[derive(Default)]
struct Streak(usize);

impl Streak {
    fn ok(&mut self) {
        self.0 = 0;
    }

    /// One more failure; true when there were too many in a row.
    fn failed(&mut self) -> bool {
        self.0 += 1;
        self.0 >= MAX_ERRORS_IN_A_ROW
    }
}
