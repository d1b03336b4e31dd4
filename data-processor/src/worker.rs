//! The worker: what it holds (its queues, the store, its settings, its identity) and how a
//! message it cannot keep is handed back. How it takes and decides each message is
//! [`crate::receive`]; a claim is [`crate::claim`], an attempt [`crate::attempt`], a tenant's
//! slot [`crate::tenancy`], a message this build cannot run [`crate::unrunnable`].
//!
//! A message is never given back for another receive of the same copy: when a worker must hand
//! it back (a backend failed before the claim, a stop, a retry backoff) it sends a fresh copy with
//! the delay and deletes the one it holds. So receives that do not advance a job never add up to
//! SQS's redrive, which would strand the job.

use std::time::Duration;

use jobs_aws::{CopyMeta, JobQueue, JobStore, Received};
use jobs_core::RetryPolicy;
use jobs_core::state::Runner;
use jobs_runtime::Shutdown;
use tracing::warn;

/// Conditional writes lost to a concurrent worker before this one gives the message back.
pub(crate) const MAX_CLAIM_RACES: usize = 5;

/// How handling one message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The queue stayed empty for the whole wait.
    Empty,
    Succeeded,
    /// The attempt failed; the message comes back after the backoff.
    RetryScheduled,
    /// The last attempt failed (or the job's worker died on its last attempt): FAILED.
    Failed,
    /// Poison message: recorded FAILED without running.
    Rejected,
    /// The job was finished, or is being run by another worker: nothing to do, nothing counted.
    Duplicate,
    /// Stopped by a signal; the message is back on the queue, the attempt will be resumed.
    Interrupted,
    /// Another worker took the job over (this worker's lease ran out): nothing recorded.
    LostLease,
    /// Cancelled on request: stopped while running, or found cancelled before it ran.
    Cancelled,
    /// This build cannot run the message (a rollout in progress?): handed back for a later one.
    Deferred,
    /// The backend kept refusing the outcome write: nothing recorded, the message comes back
    /// after its visibility timeout and the attempt is resumed.
    Unrecorded,
    /// A schedule's firing recorded SKIPPED (its previous job had not finished, or its tenant was
    /// over its limits; overlap: forbid).
    Skipped,
    /// A schedule's firing recorded WAITING: its tenant is over its limits; admission sends it.
    Waiting,
}

impl Outcome {
    /// The process exit code for this outcome (see the `--help` text).
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Empty
            | Outcome::Succeeded
            | Outcome::Duplicate
            | Outcome::LostLease
            | Outcome::Cancelled
            | Outcome::Deferred
            | Outcome::Skipped
            | Outcome::Waiting => 0,
            Outcome::RetryScheduled | Outcome::Failed | Outcome::Rejected => 1,
            Outcome::Interrupted => jobs_runtime::exit::INTERRUPTED,
            Outcome::Unrecorded => jobs_runtime::exit::BACKEND,
        }
    }
}

pub struct Worker {
    /// The queues this worker takes messages from, highest priority first (its pool's).
    pub queues: Vec<JobQueue>,
    /// The queue of the message being handled: its copies, receipts and hand-backs stay there.
    pub queue: JobQueue,
    pub store: JobStore,
    pub config: crate::config::Config,
    pub policy: RetryPolicy,
    /// This worker's identity in leases (unique per process).
    pub owner: String,
    /// Its name and log location, for the attempt history.
    pub runner: Runner,
    pub shutdown: Shutdown,
    /// The kinds this build runs (production: every kind of the catalog; the simulator's workers
    /// of an earlier build know fewer).
    pub build: jobs_core::catalog::Build,
    /// Starts command kinds' children (production: real processes; the simulator's: simulated).
    pub children: std::sync::Arc<dyn crate::children::Spawn>,
}

impl Worker {
    pub fn visibility(&self) -> Duration {
        self.config.visibility()
    }

    /// A lease is treated as abandoned when less than this is left on it (a live worker renews
    /// every third of the visibility timeout).
    pub fn grace(&self) -> Duration {
        self.visibility() / 3
    }

    /// A backend failed before the job could be claimed: nothing is lost. A fresh copy of the
    /// message comes back after a delay that grows with each deferral of the same message.
    pub(crate) async fn defer(&self, msg: &Received) {
        self.hand_back(msg, self.config.backend_retry(msg.deferrals)).await;
    }

    /// Hands the message back: a fresh copy after `delay` (`deferrals + 1`), the held one deleted.
    pub(crate) async fn hand_back(&self, msg: &Received, delay: Duration) {
        let meta = CopyMeta { deferrals: msg.deferrals + 1, redrives: msg.redrives, attempts: msg.attempts };
        let copied = self.queue.send_copy(&msg.body, delay, meta).await;
        let released = match copied {
            Ok(_) => self.queue.delete(&msg.receipt_handle).await,
            // Without a copy, hide the one we hold (that receive then counts toward the redrive).
            Err(e) => {
                warn!(error = %e, "cannot send a fresh copy of the message; hiding it instead");
                self.queue.set_visibility(&msg.receipt_handle, delay).await
            }
        };
        match released {
            Ok(()) => warn!(delay_secs = delay.as_secs(), deferrals = msg.deferrals + 1, "message deferred"),
            Err(e) => warn!(error = %e, "could not release the message; it reappears after its visibility timeout"),
        }
    }

    /// Deletes every receipt of the message (after the job ended). Failures are logged: a copy
    /// left behind is found finished and deleted by the next receive.
    pub(crate) async fn delete_all(&self, receipts: &[String]) {
        for receipt in receipts {
            if let Err(e) = self.queue.delete(receipt).await {
                warn!(error = %e, "could not delete the message; its next receipt finds the job finished");
            }
        }
    }
}
