//! The claim-time writes of a worker: the claim itself (a conditional write whose lost answer is
//! settled by reading back whose write is there), the first delivery's claim before the job is
//! read (`jobs_core::unread`), a `forbid` firing's lock or skip (`jobs_core::overlap`), and
//! handing a second delivery to the worker that holds the job.

use std::time::Duration;

use tokio::time::Instant;

use chrono::{DateTime, Utc};
use jobs_aws::store::Written;
use jobs_aws::{BackendError, Conditional, Received};
use jobs_core::state::{AttemptRun, Transition};
use jobs_core::unread::{self, Delivery};
use jobs_core::{JobMessage, Lease, RetryPolicy, overlap};
use tracing::{info, warn};

use crate::retry::Backoff;
use crate::worker::Worker;

/// Tries of a claim whose backend fails before the message is handed back.
const CLAIM_TRIES: u32 = 3;

/// What a worker holds once it claimed an attempt.
pub(crate) struct Claimed {
    pub attempt: u32,
    /// Interruptions of this attempt so far, as claimed (renewals do not change them).
    pub interruptions: u32,
    /// When this run of the attempt started (the claim).
    pub started_at: DateTime<Utc>,
    /// The job's run history after the claim.
    pub history: Vec<AttemptRun>,
    /// The job's policy (its kind's over the worker's).
    pub policy: RetryPolicy,
    /// What an earlier run of this attempt saved (a resumed attempt only).
    pub checkpoint: Option<serde_json::Value>,
    /// The job holds a slot of its tenant: given back when it ends.
    pub slot: bool,
}

/// What the overlap check made of a firing.
pub(crate) enum Firing {
    /// Start it, taking the schedule's lock (`forbid`) with the start.
    Run(Option<jobs_core::overlap::ScheduleLock>),
    Skipped,
    /// Another worker recorded the job first: decide again.
    Raced,
}

impl Worker {
    /// The claim of a job's first delivery, written before the job is read. `None`: the
    /// delivery is not a likely first, or the job is not in the state it implies (nothing was
    /// written): read the job and decide.
    pub(crate) async fn claim_unread(
        &self,
        msg: &Received,
        job: &JobMessage,
        policy: &RetryPolicy,
    ) -> Result<Option<Claimed>, BackendError> {
        let delivery = Delivery {
            receive_count: msg.receive_count,
            deferrals: msg.deferrals,
            redrives: msg.redrives,
            attempts: msg.attempts,
            firing: job.schedule.is_some(),
            overlap: job.overlap,
        };
        let lease = Lease { owner: self.owner.clone(), until: self.store.now() + self.visibility() };
        let Some(mut transition) = unread::claim_unread(&delivery, &lease, self.store.now()) else { return Ok(None) };
        transition.change.runner = Some(self.runner.clone());
        let Conditional::Applied(applied) = self.claim(&job.job_id, None, Some(job), &transition).await? else {
            info!("not the job's first delivery; reading the job");
            return Ok(None);
        };
        let by = applied.submitted_by.as_deref();
        record_who(by, &job.tenant_or_of(by.unwrap_or_default()));
        Ok(Some(Claimed {
            attempt: transition.change.attempts,
            interruptions: transition.change.interruptions,
            started_at: transition.at,
            history: Vec::new(),
            policy: *policy,
            checkpoint: None,
            slot: applied.slot,
        }))
    }

    /// The first receipt of a firing of a schedule with `overlap: forbid`
    /// (`jobs_core::overlap::on_forbid_firing`): the firing runs only by taking the schedule's
    /// lock from the holder read here, in the transaction that starts it; while the holder has not
    /// ended, the firing is recorded SKIPPED and its message deleted.
    pub(crate) async fn forbid_firing(&self, msg: &Received, job: &JobMessage) -> Result<Firing, BackendError> {
        let Some(schedule) = &job.schedule else { return Ok(Firing::Run(None)) };
        let holder = self.store.schedule_holder(schedule).await?;
        let status = match holder.as_deref() {
            Some(h) if h != job.job_id => self.store.get(h).await?.map(|r| r.state.status),
            _ => None,
        };
        let tr = match overlap::on_forbid_firing(schedule, &job.job_id, holder.as_deref(), status, self.store.now()) {
            overlap::Firing::Take(lock) => return Ok(Firing::Run(Some(lock))),
            overlap::Firing::Skip(tr) => tr,
        };
        if !self.claim(&job.job_id, None, Some(job), &tr).await?.is_applied() {
            return Ok(Firing::Raced);
        }
        info!(previous = holder.as_deref(), "firing SKIPPED: the schedule's previous job has not finished");
        self.delete_all(std::slice::from_ref(&msg.receipt_handle)).await;
        Ok(Firing::Skipped)
    }

    /// Applies a claim-time transition (start, give up, reject). Lost: another worker moved the
    /// job first. A lost answer is settled by reading back whose write is there.
    pub(crate) async fn claim(
        &self,
        job_id: &str,
        kind: Option<&str>,
        origin: Option<&JobMessage>,
        tr: &Transition,
    ) -> Result<Conditional<Written>, BackendError> {
        let won = |mine: bool| if mine { Conditional::Applied(Written::default()) } else { Conditional::Lost };
        let token = self.store.token();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1), self.store.random().clone());
        let mut maybe_committed = false;
        for attempt in 1..=CLAIM_TRIES {
            match self.store.apply(job_id, kind, None, origin, tr, &token).await {
                Ok(Conditional::Applied(written)) => return Ok(Conditional::Applied(written)),
                Ok(Conditional::Lost) if maybe_committed => return self.settle_claim(job_id, &token).await.map(won),
                Ok(Conditional::Lost) => return Ok(Conditional::Lost),
                Err(e) if e.is_transient() && attempt < CLAIM_TRIES => {
                    maybe_committed |= e.may_have_taken_effect();
                    warn!(error = %e, step = tr.step.as_str(), "claim write failed; retrying");
                    tokio::time::sleep(backoff.next()).await;
                }
                Err(e) => {
                    // Settle it now: a claim that committed must not be walked away from.
                    if (maybe_committed || e.may_have_taken_effect()) && self.settle_claim(job_id, &token).await? {
                        return Ok(Conditional::Applied(Written::default()));
                    }
                    return Err(e);
                }
            }
        }
        unreachable!("the last try returns")
    }

    /// Whether a claim whose answer was lost committed: the item is read back (its `lastWrite`
    /// is the claim's token or not), and a read that fails is tried again for as long as the
    /// lease the claim would have taken leaves time to run the job. Walking away from a claim
    /// that committed would cost the job an interruption.
    async fn settle_claim(&self, job_id: &str, token: &str) -> Result<bool, BackendError> {
        let deadline = Instant::now() + self.grace();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), self.store.random().clone());
        loop {
            match self.store.committed(job_id, token).await {
                Ok(mine) => return Ok(mine),
                Err(e) => {
                    let delay = backoff.next();
                    if Instant::now() + delay >= deadline {
                        return Err(e);
                    }
                    warn!(error = %e, "could not read back whether the claim committed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Another worker runs the job under a live lease and this copy of its message came to us:
    /// hand our receipt handle to the holder (its own went stale when SQS delivered the message
    /// again), so it can keep the message hidden and delete it at the end. Lost: the holder
    /// changed meanwhile; decide again.
    pub(crate) async fn hand_over(
        &self,
        msg: &Received,
        job_id: &str,
        attempt: u32,
        holder: &Lease,
    ) -> Result<Conditional, BackendError> {
        let handed = self.store.hand_over(job_id, attempt, &holder.owner, &msg.receipt_handle).await?;
        if handed.is_applied() {
            info!(holder = %holder.owner, "job is running on another worker; handed it this delivery");
        }
        Ok(handed)
    }
}

/// Puts who the job is for (its submitter and tenant) on the job's log span.
pub(crate) fn record_who(submitted_by: Option<&str>, tenant: &jobs_core::Tenant) {
    let span = tracing::Span::current();
    if let Some(by) = submitted_by {
        span.record("submitted_by", by);
    }
    span.record("tenant", tenant.as_str());
}
