//! Takes messages from the job queue and carries each through the state machine of
//! `jobs_core::state`: claim the job (conditional write), run it with a heartbeat, record the
//! outcome (conditional write + counters, one transaction), then settle the message. The first
//! delivery of a job is claimed before the job is read (`jobs_core::unread`); any other is read
//! first and decided from the job's state. The claim-time writes are in [`crate::claim`]; a
//! message this build cannot run goes to [`crate::unrunnable`].

use std::time::Duration;

use jobs_aws::{BackendError, JobQueue, Received};
use jobs_core::state::{self, OnReceive, Skip};
use jobs_core::{Job, JobMessage, JobStatus, Lease, Overlap, message};
use tracing::{Instrument, info, info_span, warn};

use crate::claim::{Claimed, Firing};
use crate::tenancy::LimitedFiring;
use crate::worker::{MAX_CLAIM_RACES, Outcome, Worker};

impl Worker {
    /// Processes up to `limit` messages (`None`: until the queues are empty), taking no new one
    /// after `take_for` or once a stop is requested. Returns every outcome in order; stops at the
    /// first backend failure.
    pub async fn run(&mut self, limit: Option<u64>, take_for: Option<Duration>) -> Result<Vec<Outcome>, BackendError> {
        let started = tokio::time::Instant::now();
        let mut outcomes = Vec::new();
        while limit.is_none_or(|max| (outcomes.len() as u64) < max) && !self.shutdown.is_requested() {
            if take_for.is_some_and(|bound| started.elapsed() >= bound) {
                info!(messages = outcomes.len(), "drain time bound reached");
                break;
            }
            let received = tokio::select! {
                biased;
                _ = self.shutdown.requested() => break,
                r = self.receive() => r?,
            };
            let Some((queue, msg)) = received else {
                info!(queue = self.queue.url(), "queue is empty");
                if outcomes.is_empty() {
                    outcomes.push(Outcome::Empty);
                }
                break;
            };
            self.queue = queue;
            match self.handle(&msg).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    self.defer(&msg).await;
                    return Err(e);
                }
            }
            if matches!(outcomes.last(), Some(Outcome::Interrupted | Outcome::Unrecorded)) {
                break;
            }
        }
        Ok(outcomes)
    }

    /// The next message and its queue: a look at each higher-priority queue (no wait), then the
    /// long poll on the last (normal) queue, then one more look at the higher ones, so a high job
    /// sent during the long poll is not left for the next pod.
    async fn receive(&self) -> Result<Option<(JobQueue, Received)>, BackendError> {
        let Some((normal, higher)) = self.queues.split_last() else {
            return Ok(None);
        };
        for queue in higher {
            if let Some(msg) = queue.receive(Duration::ZERO, self.visibility()).await? {
                return Ok(Some((queue.clone(), msg)));
            }
        }
        if let Some(msg) = normal.receive(self.config.wait(), self.visibility()).await? {
            return Ok(Some((normal.clone(), msg)));
        }
        for queue in higher {
            if let Some(msg) = queue.receive(Duration::ZERO, self.visibility()).await? {
                return Ok(Some((queue.clone(), msg)));
            }
        }
        Ok(None)
    }

    /// Handles one received message.
    pub async fn handle(&self, msg: &Received) -> Result<Outcome, BackendError> {
        let job = match JobMessage::parse_received(&msg.body, Some(&msg.message_id), Some(self.store.now())) {
            Ok(job) => job,
            Err(e) => {
                let span = info_span!("job", job_id = e.job_id.as_deref().unwrap_or("?"), message_id = %msg.message_id);
                return self
                    .unrunnable(msg, e.job_id.as_deref(), None, e.submitted_at, &e.reason)
                    .instrument(span)
                    .await;
            }
        };
        // `submitted_by` (and the tenant of a message from before tenants) is filled in from the
        // job item once it is read (`claim_and_run`).
        let span = info_span!(
            "job",
            job_id = %job.job_id,
            kind = %job.kind,
            receive_count = msg.receive_count,
            submitted_by = job.submitter(),
            tenant = job.tenant.as_ref().map(|t| t.as_str()),
        );
        async {
            match self.build.job(job) {
                Ok(job) => self.claim_and_run(msg, &job).await,
                Err(unrunnable) => {
                    let (job, reason) = (&unrunnable.message, unrunnable.error.to_string());
                    self.unrunnable(msg, Some(&job.job_id), Some(job), Some(job.submitted_at), &reason).await
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn claim_and_run(&self, msg: &Received, typed: &Job) -> Result<Outcome, BackendError> {
        let job = typed.message();
        // The kind's own attempts, backoff and time limit over the worker's settings.
        let policy = typed.spec().policy().apply(&self.policy);
        let now = self.store.now();
        if message::is_expired_firing(&job.job_id, job.submitted_at, now, self.store.retention())
            && self.store.get(&job.job_id).await?.is_none()
        {
            info!(
                "a firing older than the job retention, its item gone: a late copy of one that ended and expired; dropping it"
            );
            self.queue.delete(&msg.receipt_handle).await?;
            return Ok(Outcome::Duplicate);
        }
        // A firing of a limited tenant is admitted as it is recorded (`crate::tenancy`).
        if message::is_firing(&job.job_id) {
            match self.limited_firing(msg, job, &policy).await? {
                Some(LimitedFiring::Ended(outcome)) => return Ok(outcome),
                Some(LimitedFiring::Run(claimed)) => return Ok(self.run_attempt(msg, typed, claimed).await),
                None => {}
            }
        }
        if let Some(claimed) = self.claim_unread(msg, job, &policy).await? {
            return Ok(self.run_attempt(msg, typed, claimed).await);
        }
        for _ in 0..MAX_CLAIM_RACES {
            let current = self.store.get(&job.job_id).await?;
            if let Some(record) = &current {
                crate::claim::record_who(record.submitted_by.as_deref(), &record.tenant);
            }
            let now = self.store.now();
            let mut lock = None;
            if current.is_none() && job.overlap == Overlap::Forbid {
                match self.forbid_firing(msg, job).await? {
                    Firing::Run(taken) => lock = taken,
                    Firing::Skipped => return Ok(Outcome::Skipped),
                    Firing::Raced => continue,
                }
            }
            let lease = Lease { owner: self.owner.clone(), until: now + self.visibility() };
            let state = current.as_ref().map(|r| &r.state);
            let firing = message::is_firing(&job.job_id);
            match state::on_receive(state, firing, &lease, now, self.grace(), &policy) {
                OnReceive::Skip(Skip::Finished(status)) => {
                    info!(%status, "duplicate delivery of a finished job; deleting the message");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::Skip(Skip::Held(holder)) => {
                    if !self.hand_over(msg, &job.job_id, state.map_or(0, |s| s.attempts), &holder).await?.is_applied() {
                        continue;
                    }
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::Skip(Skip::Waiting) => {
                    info!("the job waits for its tenant's admission, which sends it anew; dropping this copy");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::Skip(Skip::Gone) => {
                    info!("the job's item is gone (it ended and expired); dropping the message");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::Skip(Skip::NotDue(due)) => {
                    let wait = (due - now).to_std().unwrap_or_default();
                    info!(due = %due, "re-attempt not due yet; hiding the message until then");
                    self.queue.set_visibility(&msg.receipt_handle, wait).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnReceive::End { transition } => {
                    let reason = transition.change.last_error.clone().unwrap_or_default();
                    if !self.claim(&job.job_id, None, Some(job), &transition).await?.is_applied() {
                        continue;
                    }
                    self.delete_all(std::slice::from_ref(&msg.receipt_handle)).await;
                    if let Some(record) = current.as_ref().filter(|r| r.state.slot) {
                        self.release_slot(&job.job_id, &record.tenant).await;
                    }
                    if transition.change.status == JobStatus::Cancelled {
                        info!("job CANCELLED: its cancel request is carried out by this receipt");
                        return Ok(Outcome::Cancelled);
                    }
                    warn!(error = %reason, "job FAILED: no attempts left");
                    return Ok(Outcome::Failed);
                }
                OnReceive::Resume { attempt } => {
                    info!(attempt, "this worker already holds the job (its claim's answer was lost); running it");
                    let state = state.expect("a resumed job has an item");
                    let claimed = Claimed {
                        attempt,
                        interruptions: state.interruptions,
                        started_at: state.started_at.unwrap_or(now),
                        history: state.history.clone(),
                        policy,
                        checkpoint: state.checkpoint.clone(),
                        slot: state.slot,
                    };
                    return Ok(self.run_attempt(msg, typed, claimed).await);
                }
                OnReceive::Start { attempt, mut transition } => {
                    transition.change.runner = Some(self.runner.clone());
                    transition.lock = lock;
                    if !self.claim(&job.job_id, None, Some(job), &transition).await?.is_applied() {
                        continue;
                    }
                    // A resumed attempt (interrupted, or abandoned by its worker) goes on from its
                    // checkpoint; a new one starts from nothing (the claim dropped it).
                    let checkpoint =
                        state.filter(|_| !transition.change.drops_checkpoint()).and_then(|s| s.checkpoint.clone());
                    let history =
                        transition.change.history.clone().or(state.map(|s| s.history.clone())).unwrap_or_default();
                    let claimed = Claimed {
                        attempt,
                        interruptions: transition.change.interruptions,
                        started_at: transition.at,
                        history,
                        policy,
                        checkpoint,
                        slot: state.is_some_and(|s| s.slot),
                    };
                    return Ok(self.run_attempt(msg, typed, claimed).await);
                }
            }
        }
        warn!("lost {MAX_CLAIM_RACES} races for the job in a row; leaving the message for later");
        Ok(Outcome::Duplicate)
    }
}
