//! A message this build cannot run (an unknown kind or message version, a payload or envelope
//! field it refuses): handed back while the skew window lasts, then its job is FAILED with the
//! reason (`jobs_core::poison::on_unrunnable`); a message that names no job is kept on the
//! dead-letter queue for a person.

use chrono::Utc;
use jobs_aws::{BackendError, Received};
use jobs_core::poison::OnPoison;
use jobs_core::poison::{self, OnUnrunnable, Unrunnable};
use jobs_core::{JobMessage, message};
use tracing::{info, warn};

use crate::worker::{MAX_CLAIM_RACES, Outcome, Worker};

impl Worker {
    /// A message that this build cannot run (`jobs_core::poison::on_unrunnable`). Inside the skew
    /// window it is handed back as a fresh copy, nothing written; after it, a job it names that
    /// has not ended is recorded FAILED with the reason, then the message is deleted. A job that
    /// ended, or runs under another worker's lease, is left alone; a message that names no job is
    /// kept on the dead-letter queue for a person.
    pub(crate) async fn unrunnable(
        &self,
        msg: &Received,
        job_id: Option<&str>,
        origin: Option<&JobMessage>,
        submitted_at: Option<chrono::DateTime<Utc>>,
        reason: &str,
    ) -> Result<Outcome, BackendError> {
        let Some(id) = job_id else {
            warn!(reason, "rejecting a message that names no job");
            self.keep_dlq_copy(msg, reason).await;
            self.queue.delete(&msg.receipt_handle).await?;
            return Ok(Outcome::Rejected);
        };
        for _ in 0..MAX_CLAIM_RACES {
            let current = self.store.get(id).await?;
            let kind = current.as_ref().and_then(|r| r.kind().map(str::to_owned));
            let since = current.as_ref().and_then(|r| r.created_at).or(submitted_at);
            let state = current.map(|r| r.state);
            let m = Unrunnable { reason, firing: message::is_firing(id), since, deferrals: msg.deferrals };
            match poison::on_unrunnable(state.as_ref(), &m, self.store.now(), self.grace(), self.config.skew_window()) {
                OnUnrunnable::Defer { delay } => {
                    warn!(
                        reason,
                        delay_secs = delay.as_secs(),
                        "this build cannot run the message; handing it back for a worker that can (a rollout in progress?)"
                    );
                    self.hand_back(msg, delay).await;
                    return Ok(Outcome::Deferred);
                }
                OnUnrunnable::Now(OnPoison::Finished(status)) => {
                    info!(%status, "the job already ended; deleting the message");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnUnrunnable::Now(OnPoison::Gone) => {
                    info!("the job's item is gone (it ended and expired); deleting the message");
                    self.queue.delete(&msg.receipt_handle).await?;
                    return Ok(Outcome::Duplicate);
                }
                OnUnrunnable::Now(OnPoison::Held(holder)) => {
                    if self.hand_over(msg, id, state.map_or(0, |s| s.attempts), &holder).await?.is_applied() {
                        return Ok(Outcome::Duplicate);
                    }
                }
                OnUnrunnable::Now(OnPoison::Record(transition)) => {
                    if self.claim(id, kind.as_deref(), origin, &transition).await?.is_applied() {
                        warn!(
                            reason = transition.change.last_error.as_deref(),
                            "job FAILED: this build cannot run its message"
                        );
                        break;
                    }
                }
            }
        }
        self.queue.delete(&msg.receipt_handle).await?;
        Ok(Outcome::Rejected)
    }

    /// Keeps a message that names no job on the dead-letter queue, for a person (a job's own
    /// failure is on its item: status, reason, payload). Best effort.
    async fn keep_dlq_copy(&self, msg: &Received, reason: &str) {
        if let Err(e) = self.queue.send_to_dlq(&msg.body, reason, None).await {
            warn!(error = %e, "could not keep a copy on the dead-letter queue");
        }
    }
}
