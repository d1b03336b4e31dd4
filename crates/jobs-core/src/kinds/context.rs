//! What a job function is given and gives back: its attempt's context (the cancel signal, the
//! saved progress) and its result or failure.

use serde_json::Value;

/// What the worker knows about the attempt it is running.
#[cfg(feature = "run")]
#[derive(Debug, Clone)]
pub struct JobContext {
    pub job_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// Set when somebody cancels the job: a long job checks it (or awaits
    /// [`Cancellation::cancelled`]) and returns early. The worker stops it after a grace period
    /// anyway.
    pub cancel: Cancellation,
    /// The attempt's saved progress: what an interrupted run of it saved, and where this run saves
    /// its own (see [`Checkpoint`]).
    pub checkpoint: Checkpoint,
    /// The time as the worker reads it: a job that writes a time reads it here, so the simulator's
    /// runs replay exactly.
    pub clock: crate::clock::SharedClock,
}

/// The most a checkpoint may hold, as JSON text.
pub const MAX_CHECKPOINT_BYTES: usize = 4096;

/// A job's progress within one attempt, so that a run stopped by its node (a spot reclaim, a
/// drain: an interruption, which costs no attempt) is resumed where it was rather than from the
/// start. The function saves small JSON as it goes; the worker writes the newest with its next
/// lease renewal (every few seconds, only while it holds the lease) and with the interruption
/// itself, and the next run of the same attempt receives it. A new attempt (after a failure)
/// starts without one.
#[cfg(feature = "run")]
#[derive(Debug, Clone)]
pub struct Checkpoint {
    previous: Option<Value>,
    latest: std::sync::Arc<tokio::sync::watch::Sender<Option<Value>>>,
}

/// A checkpoint over [`MAX_CHECKPOINT_BYTES`]: it is not saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a checkpoint may hold at most {MAX_CHECKPOINT_BYTES} bytes of JSON, this one {0}")]
pub struct CheckpointTooLarge(pub usize);

#[cfg(feature = "run")]
impl Checkpoint {
    /// A checkpoint resumed from `previous`, and the receiver the worker writes from.
    pub fn new(previous: Option<Value>) -> (tokio::sync::watch::Receiver<Option<Value>>, Self) {
        let (tx, rx) = tokio::sync::watch::channel(None);
        (rx, Checkpoint { previous, latest: std::sync::Arc::new(tx) })
    }

    /// No previous progress, and nobody writes what is saved (tests).
    pub fn none() -> Self {
        Checkpoint::new(None).1
    }

    /// What an earlier run of this attempt saved last (`None` on a fresh attempt).
    pub fn previous(&self) -> Option<&Value> {
        self.previous.as_ref()
    }

    /// Saves `value` as the attempt's progress (replacing what this run saved before).
    pub fn save(&self, value: Value) -> Result<(), CheckpointTooLarge> {
        let size = value.to_string().len();
        if size > MAX_CHECKPOINT_BYTES {
            return Err(CheckpointTooLarge(size));
        }
        self.latest.send_replace(Some(value));
        Ok(())
    }
}

/// A job's cancellation signal, as seen by the job function.
#[cfg(feature = "run")]
#[derive(Debug, Clone)]
pub struct Cancellation(tokio::sync::watch::Receiver<bool>);

#[cfg(feature = "run")]
impl Cancellation {
    /// A signal and the sender that raises it.
    pub fn new() -> (tokio::sync::watch::Sender<bool>, Self) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        (tx, Cancellation(rx))
    }

    /// A signal that is never raised.
    pub fn never() -> Self {
        Cancellation(tokio::sync::watch::channel(false).1)
    }

    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the job is cancelled (never, if it is not).
    pub async fn cancelled(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A job function's successful result: a small JSON summary stored on the job item.
pub type JobOutput = Value;

/// A job function's failure: the message is recorded as the job's last error. A permanent
/// failure (bad input only the run could discover) ends the job FAILED without retries.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct JobFailure {
    pub message: String,
    pub permanent: bool,
}

impl JobFailure {
    /// A failure a later attempt may not have (the default).
    pub fn retryable(message: impl Into<String>) -> Self {
        JobFailure { message: message.into(), permanent: false }
    }

    /// A failure no retry can fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        JobFailure { message: message.into(), permanent: true }
    }
}
