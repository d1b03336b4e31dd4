//! One attempt of a claimed job: run the job function under its time limit while a heartbeat
//! (`crate::heartbeat`) keeps the lease and the message and watches for a cancel request; record the outcome (with the
//! run's entry in the attempt history), retrying in process (with jittered backoff, while the
//! heartbeat still runs) until the write has a definite answer; then settle the message.

use std::io::Write;
use std::time::Duration;

use tokio::time::Instant;

use chrono::{DateTime, Utc};
use jobs_aws::{BackendError, Conditional, CopyMeta};
use jobs_core::kinds::{Cancellation, Checkpoint, JobContext, JobFailure};
use jobs_core::state::{self, AfterInterrupt, AttemptRun, RunOutcome, Transition};
use jobs_core::{AfterFailure, Job, JobMessage, JobSpec, JobStatus, RetryPolicy, cancel};
use tracing::{error, info, warn};

use crate::claim::Claimed;
use crate::heartbeat::Held;
use crate::retry::Backoff;
use crate::worker::{Outcome, Worker};
use crate::{command, emf};

/// After a stop request, how long an outcome write is still retried (inside Kubernetes' 30 s
/// termination grace period).
const RECORD_GRACE_AFTER_STOP: Duration = Duration::from_secs(10);
/// Failures in a row of an outcome write that are not transient (refused as invalid, access
/// denied, a missing table) before the worker stops trying: retrying them forever would hold the
/// pod, and a KEDA slot, until the Job's deadline. About 10 s with the backoff.
const RECORD_REFUSALS: u32 = 5;

/// How the job function's run ended.
enum Ended {
    /// The function returned (a command exited); `note`: something for the run's history.
    Finished(Result<serde_json::Value, JobFailure>, Option<String>),
    TimedOut(Duration),
    Interrupted,
    /// Somebody asked to cancel the job; `forced`: the function did not return within the grace.
    Cancelled {
        forced: bool,
    },
    Lost,
}

/// What became of an outcome write.
enum Recorded {
    Committed,
    /// Another worker owns the job now (this worker's lease ran out and it was taken over).
    Lost,
    /// Stopped while the backend kept failing, or the backend kept refusing the write: the
    /// result is lost; the attempt will count as abandoned (an interruption, not an attempt) when
    /// its lease runs out, and the message comes back when its visibility does.
    GaveUp(BackendError),
    /// The write would have let the job go on, but a cancel request landed first.
    CancelRequested,
}

/// What to do with the message once the outcome is recorded.
enum Settle {
    /// The job ended: delete every receipt.
    Delete,
    /// Hand the message back, visible after the delay.
    Requeue(Duration),
}

impl Worker {
    pub(crate) async fn run_attempt(&self, msg: &jobs_aws::Received, typed: &Job, claimed: Claimed) -> Outcome {
        let (job, spec) = (typed.message(), typed.spec());
        let Claimed { attempt, interruptions, started_at, ref history, ref policy, checkpoint, slot } = claimed;
        let (cancel_tx, cancel) = Cancellation::new();
        if let Some(c) = &checkpoint {
            info!(attempt, checkpoint = %c, "resuming the attempt from its checkpoint");
        }
        let (saved, checkpoint) = Checkpoint::new(checkpoint);
        let ctx =
            JobContext { job_id: job.job_id.clone(), attempt, cancel, checkpoint, clock: self.store.clock().clone() };
        let timeout = spec.policy().timeout(self.config.attempt_timeout());
        let held = Held::new(&msg.receipt_handle, cancel_tx);
        let started = Instant::now();
        info!(attempt, max_attempts = policy.max_attempts, timeout_secs = timeout.as_secs(), "attempt started");
        let heartbeat = self.heartbeat(&held, &job.job_id, attempt, saved.clone());
        tokio::pin!(heartbeat);
        // Boxed so that it can be dropped (stopped) as soon as the attempt ends. A command is
        // asked to stop first (`stop`): SIGTERM, SIGKILL after the grace.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let grace = self.config.cancel_grace();
        let mut run: std::pin::Pin<Box<dyn Future<Output = command::Ran> + Send + '_>> = match spec {
            JobSpec::Rust(rust) => Box::pin(async { command::Ran { result: rust.run(&ctx).await, note: None } }),
            JobSpec::Command(job) => Box::pin(command::run(job, &ctx, stopped, grace, &*self.children)),
        };
        // A result that is ready wins over a stop, a cancel or the time limit arriving at once.
        let mut ended = tokio::select! {
            biased;
            () = held.lost() => Ended::Lost,
            () = &mut heartbeat => Ended::Lost,
            ran = &mut run => Ended::Finished(ran.result, ran.note),
            () = self.shutdown.requested() => Ended::Interrupted,
            () = held.cancel_requested() => Ended::Cancelled { forced: false },
            () = tokio::time::sleep(timeout) => Ended::TimedOut(timeout),
        };
        if let Ended::Cancelled { .. } = ended {
            // The function saw the signal through its context; give it the grace to return.
            let grace = self.config.cancel_grace();
            info!(attempt, grace_secs = grace.as_secs(), "cancel requested; asking the job function to stop");
            ended = tokio::select! {
                biased;
                () = held.lost() => Ended::Lost,
                () = &mut heartbeat => Ended::Lost,
                _ = &mut run => Ended::Cancelled { forced: false },
                () = tokio::time::sleep(grace) => Ended::Cancelled { forced: true },
            };
        }
        if matches!(spec, JobSpec::Command(_)) && matches!(ended, Ended::TimedOut(_) | Ended::Interrupted) {
            // A command gets its grace to stop (and its output to end) before the outcome is
            // written; the heartbeat keeps the lease meanwhile.
            stop.send_replace(true);
            tokio::select! {
                biased;
                _ = tokio::time::timeout(grace + Duration::from_secs(3), &mut run) => {}
                () = &mut heartbeat => {}
            }
        }
        drop(run); // a function still running after a cancel's grace or a time limit stops here
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let now = self.store.now();
        let entry = |outcome: RunOutcome, error: Option<&str>| {
            AttemptRun::new(attempt, started_at, now, outcome, error, Some(&self.runner))
        };
        let (transition, settle, outcome) = match ended {
            Ended::Lost => {
                warn!(attempt, elapsed_ms, "lease lost to another worker; stopping without recording");
                return Outcome::LostLease;
            }
            Ended::Finished(Ok(result), note) => (
                state::succeed(attempt, &self.owner, result, now)
                    .with_run(history, entry(RunOutcome::Succeeded, note.as_deref())),
                Settle::Delete,
                Outcome::Succeeded,
            ),
            Ended::Finished(Err(failure), _) if failure.permanent => (
                state::fail_permanently(attempt, &self.owner, &failure.message, now)
                    .with_run(history, entry(RunOutcome::Failed, Some(&failure.message))),
                Settle::Delete,
                Outcome::Failed,
            ),
            Ended::Finished(Err(failure), _) => self.failed(
                attempt,
                &failure.message,
                now,
                policy,
                history,
                entry(RunOutcome::Failed, Some(&failure.message)),
            ),
            Ended::TimedOut(after) => {
                let error = format!("attempt {attempt} timed out after {}s", after.as_secs());
                self.failed(attempt, &error, now, policy, history, entry(RunOutcome::TimedOut, Some(&error)))
            }
            Ended::Cancelled { forced } => {
                let how = if forced { "stopped after the grace period" } else { "returned" };
                info!(attempt, elapsed_ms, "the job function {how} after the cancel request");
                self.cancelled(attempt, now, history, entry(RunOutcome::Cancelled, None))
            }
            Ended::Interrupted => {
                let (mut transition, after) = state::interrupt(attempt, &self.owner, interruptions, now, policy);
                // The progress saved since the last renewal goes with the interruption.
                transition.change.checkpoint = saved.borrow().clone();
                let error = transition.change.last_error.clone();
                let transition = transition.with_run(history, entry(RunOutcome::Interrupted, error.as_deref()));
                let settle = match after {
                    AfterInterrupt::Resume => Settle::Requeue(Duration::ZERO),
                    AfterInterrupt::Failed(AfterFailure::Retry { delay, .. }) => Settle::Requeue(delay),
                    AfterInterrupt::Failed(AfterFailure::GiveUp) => Settle::Delete,
                };
                let outcome = if after == AfterInterrupt::Failed(AfterFailure::GiveUp) {
                    Outcome::Failed
                } else {
                    Outcome::Interrupted
                };
                (transition, settle, outcome)
            }
        };
        let transition = transition.holding_slot(slot);
        // The heartbeat goes on while the outcome is written, so a slow or failing backend does not
        // cost the lease (a renewal that fails because this very write committed is harmless).
        let mut recorded = tokio::select! {
            biased;
            recorded = self.record(&job.job_id, &job.kind, job.tenant.as_ref(), attempt, &transition) => recorded,
            () = &mut heartbeat => unreachable!("the heartbeat never ends on its own"),
        };
        let (transition, settle, outcome) = if let Recorded::CancelRequested = recorded {
            // A retry or a resume lost to a cancel request: the job ends CANCELLED instead.
            let run = transition.change.history.as_ref().and_then(|h| h.last().cloned());
            let run = AttemptRun {
                outcome: RunOutcome::Cancelled,
                ..run.unwrap_or_else(|| entry(RunOutcome::Cancelled, None))
            };
            let mut cancelled = self.cancelled(attempt, now, history, run);
            cancelled.0 = cancelled.0.holding_slot(slot);
            recorded = tokio::select! {
                biased;
                recorded = self.record(&job.job_id, &job.kind, job.tenant.as_ref(), attempt, &cancelled.0) => recorded,
                () = &mut heartbeat => unreachable!("the heartbeat never ends on its own"),
            };
            cancelled
        } else {
            (transition, settle, outcome)
        };
        match recorded {
            Recorded::Committed => {}
            Recorded::Lost | Recorded::CancelRequested => {
                warn!(attempt, elapsed_ms, "another worker took the job over; this result is dropped");
                return Outcome::LostLease;
            }
            Recorded::GaveUp(e) if self.shutdown.is_requested() => {
                error!(attempt, error = %e, "stopping without recording the outcome; the attempt will count as abandoned");
                return Outcome::Interrupted;
            }
            Recorded::GaveUp(e) => {
                error!(attempt, error = %e, "the backend keeps refusing the outcome; exiting without it: the message comes back after its visibility timeout and the attempt is resumed (an interruption, not an attempt)");
                return Outcome::Unrecorded;
            }
        }
        let error = transition.change.last_error.as_deref().unwrap_or_default();
        match settle {
            Settle::Delete => {
                self.delete_all(&held.receipts()).await;
                if slot {
                    self.release_slot(&job.job_id, &job.tenant_or_of(job.submitter().as_deref().unwrap_or_default()))
                        .await;
                }
            }
            Settle::Requeue(delay) => {
                self.requeue(&held, job, delay, CopyMeta { deferrals: 0, redrives: msg.redrives, attempts: attempt })
                    .await;
            }
        }
        if self.config.metrics == crate::config::Metrics::Emf {
            let ended = match outcome {
                Outcome::Succeeded => Some("SUCCEEDED"),
                Outcome::Failed => Some("FAILED"),
                Outcome::Cancelled => Some("CANCELLED"),
                _ => None,
            };
            // The first run of the first attempt: how long the job waited to start.
            let queued_ms = (attempt == 1 && interruptions == 0)
                .then(|| (started_at - job.submitted_at).num_milliseconds().max(0) as u64);
            let tenant = job.tenant_or_of(job.submitter().as_deref().unwrap_or_default());
            let metrics = emf::AttemptMetrics {
                job_id: &job.job_id,
                kind: &job.kind,
                tenant: jobs_core::tenants::config().metric_label(&tenant),
                attempt,
                duration_ms: elapsed_ms,
                ended,
                queued_ms,
                at: now,
            };
            // Best effort: a closed stdout must not stop the worker (println! would panic).
            let _ = writeln!(std::io::stdout().lock(), "{}", emf::line(&self.config.metrics_namespace, &metrics));
        }
        match outcome {
            Outcome::Succeeded => info!(attempt, elapsed_ms, "job SUCCEEDED"),
            Outcome::Cancelled => info!(attempt, elapsed_ms, "job CANCELLED"),
            Outcome::Failed => warn!(attempt, elapsed_ms, error, "job FAILED"),
            Outcome::Interrupted => warn!(attempt, elapsed_ms, "attempt interrupted; message handed back"),
            _ => warn!(attempt, elapsed_ms, error, "attempt failed; retry scheduled"),
        }
        outcome
    }

    fn cancelled(
        &self,
        attempt: u32,
        now: DateTime<Utc>,
        history: &[AttemptRun],
        run: AttemptRun,
    ) -> (Transition, Settle, Outcome) {
        (cancel::stopped(attempt, &self.owner, now).with_run(history, run), Settle::Delete, Outcome::Cancelled)
    }

    fn failed(
        &self,
        attempt: u32,
        error: &str,
        now: DateTime<Utc>,
        policy: &RetryPolicy,
        history: &[AttemptRun],
        run: AttemptRun,
    ) -> (Transition, Settle, Outcome) {
        let (transition, decision) = state::fail(attempt, &self.owner, error, now, policy);
        let transition = transition.with_run(history, run);
        match decision {
            AfterFailure::Retry { delay, .. } => (transition, Settle::Requeue(delay), Outcome::RetryScheduled),
            AfterFailure::GiveUp => (transition, Settle::Delete, Outcome::Failed),
        }
    }

    /// Writes an outcome until it has a definite answer. Transient failures are retried with
    /// jittered backoff (this worker holds the result, and the heartbeat its lease); failures that
    /// are not transient, [`RECORD_REFUSALS`] times in a row; after an answer was lost, a failed
    /// condition is settled by reading back whose write is there. After a stop request it keeps
    /// trying for [`RECORD_GRACE_AFTER_STOP`].
    async fn record(
        &self,
        job_id: &str,
        kind: &str,
        tenant: Option<&jobs_core::Tenant>,
        attempt: u32,
        tr: &Transition,
    ) -> Recorded {
        let token = self.store.token();
        let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5), self.store.random().clone());
        let mut maybe_committed = false;
        let mut stop_deadline: Option<Instant> = None;
        let mut refusals = 0;
        loop {
            let e = match self.store.apply(job_id, Some(kind), tenant, None, tr, &token).await {
                Ok(Conditional::Applied(_)) => return Recorded::Committed,
                Ok(Conditional::Lost) if !maybe_committed => match self.store.get(job_id).await {
                    // Still ours, so what failed is the "no cancel request" condition.
                    Ok(Some(r))
                        if r.state.status == JobStatus::Running
                            && r.state.attempts == attempt
                            && r.cancel_requested_at.is_some()
                            && r.state.lease.as_ref().is_some_and(|l| l.owner == self.owner) =>
                    {
                        return Recorded::CancelRequested;
                    }
                    Ok(_) => return Recorded::Lost,
                    Err(e) => e,
                },
                Ok(Conditional::Lost) => match self.store.committed(job_id, &token).await {
                    Ok(true) => return Recorded::Committed,
                    Ok(false) => return Recorded::Lost,
                    Err(e) => e,
                },
                Err(e) => {
                    maybe_committed |= e.may_have_taken_effect();
                    e
                }
            };
            refusals = if e.is_transient() { 0 } else { refusals + 1 };
            if refusals >= RECORD_REFUSALS {
                return Recorded::GaveUp(e);
            }
            if self.shutdown.is_requested() {
                let deadline = *stop_deadline.get_or_insert_with(|| Instant::now() + RECORD_GRACE_AFTER_STOP);
                if Instant::now() >= deadline {
                    return Recorded::GaveUp(e);
                }
            }
            let delay = backoff.next();
            warn!(error = %e, step = tr.step.as_str(), retry_in_ms = delay.as_millis() as u64, "could not record the outcome; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// Hands the message back, visible after `delay`: a fresh copy (a new receive count; the
    /// normalized body, so a scheduled job keeps its id), then every receipt held is deleted.
    /// Without a copy, the newest receipt is hidden for the delay instead.
    async fn requeue(&self, held: &Held, job: &JobMessage, delay: Duration, meta: CopyMeta) {
        let receipts = held.receipts();
        match self.queue.send_copy(&job.to_body(), delay, meta).await {
            Ok(_) => self.delete_all(&receipts).await,
            Err(e) => {
                warn!(error = %e, "cannot send a fresh copy of the message; hiding the one held instead");
                if let Some(newest) = receipts.last()
                    && let Err(e) = self.queue.set_visibility(newest, delay).await
                {
                    warn!(error = %e, "could not hide the message; it reappears after its visibility timeout");
                }
            }
        }
    }
}
