//! What keeps a running attempt held: the receipts of its message this worker holds, and the
//! heartbeat that renews the lease (with the newest checkpoint), keeps the message hidden and
//! watches for a cancel request.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use jobs_aws::Conditional;
use jobs_core::Lease;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::worker::Worker;

/// The receipt handles of the job's message this worker holds (its own, and those handed over
/// by workers that received the message while the job ran), and whether the lease was lost.
pub(crate) struct Held {
    receipts: Mutex<Vec<String>>,
    lost: watch::Sender<bool>,
    /// Raised by the heartbeat when it finds a cancel request.
    cancel: watch::Sender<bool>,
}

impl Held {
    pub(crate) fn new(receipt: &str, cancel: watch::Sender<bool>) -> Self {
        Held { receipts: Mutex::new(vec![receipt.to_owned()]), lost: watch::channel(false).0, cancel }
    }

    pub(crate) async fn cancel_requested(&self) {
        let mut rx = self.cancel.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    pub(crate) fn receipts(&self) -> Vec<String> {
        self.receipts.lock().expect("receipts lock").clone()
    }

    fn add(&self, handed: Vec<String>) {
        let mut receipts = self.receipts.lock().expect("receipts lock");
        for r in handed {
            if !receipts.contains(&r) {
                info!("took over a receipt of this job's message from a worker that received it");
                receipts.push(r);
            }
        }
    }

    pub(crate) async fn lost(&self) {
        let mut rx = self.lost.subscribe();
        let _ = rx.wait_for(|lost| *lost).await;
    }
}

impl Worker {
    /// Renews the lease and keeps the message hidden every third of the visibility timeout, taking
    /// over receipts handed to this worker; in between, every `CANCEL_CHECK_SECS`, looks for a
    /// cancel request and raises it through `held`. Each renewal also writes the newest checkpoint
    /// the job function saved (no write of its own: a checkpoint rides on the lease). Never
    /// returns: when the lease is found lost it says so through `held` and stops renewing.
    pub(crate) async fn heartbeat(
        &self,
        held: &Held,
        job_id: &str,
        attempt: u32,
        saved: watch::Receiver<Option<serde_json::Value>>,
    ) {
        let every = (self.visibility() / 3).max(Duration::from_secs(1));
        let tick = self.config.cancel_check().min(every);
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(tick).await;
            if !*held.cancel.borrow() {
                match self.store.cancel_requested(job_id).await {
                    Ok(true) => {
                        let _ = held.cancel.send(true);
                    }
                    Ok(false) => {}
                    Err(e) => warn!(error = %e, "could not check for a cancel request; retrying"),
                }
            }
            if renewed.elapsed() + tick / 2 < every {
                continue;
            }
            renewed = Instant::now();
            let now = self.store.now();
            let lease = Lease { owner: self.owner.clone(), until: now + self.visibility() };
            // The newest, every time: idempotent, so a renewal that failed loses nothing.
            let checkpoint = saved.borrow().clone();
            match self.store.renew(job_id, attempt, &lease, checkpoint.as_ref()).await {
                Ok(Conditional::Applied(handed)) => held.add(handed),
                Ok(Conditional::Lost) => {
                    let _ = held.lost.send(true);
                    std::future::pending::<()>().await;
                }
                Err(e) => warn!(error = %e, "could not renew the lease; retrying"),
            }
            for receipt in held.receipts() {
                if let Err(e) = self.queue.set_visibility(&receipt, self.visibility()).await {
                    warn!(error = %e, "could not extend the message's visibility; retrying");
                }
            }
        }
    }
}
