//! The reconciler's overdue jobs: each is sent again, left waiting behind its queue's backlog,
//! watched while its lane runs nothing, or ended FAILED (its lane ran nothing for its start
//! deadline, or the queue keeps refusing its message): `jobs_core::reconcile::on_overdue` and
//! `on_unsent` carried out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_aws::{BackendError, Conditional, CopyMeta, Depth, ErrorKind, JobQueue, JobRecord};
use jobs_core::poison::OnPoison;
use jobs_core::reconcile::{self, Overdue, Unsent};
use tracing::{info, warn};

use super::reconciler::{Reconciler, Report};

impl Reconciler {
    /// Sends an overdue job's message again (`due`: its due time as the index had it), unless it
    /// presumably waits behind its queue's backlog. A message the queue will not take is looked
    /// at again later, and after `jobs_core::reconcile::MAX_SEND_REFUSALS` refusals its job ends
    /// FAILED.
    pub(super) async fn overdue(
        &self,
        job_id: &str,
        due: DateTime<Utc>,
        backlogs: &mut Backlogs,
        report: &mut Report,
    ) -> Result<(), BackendError> {
        let now = self.store.now();
        let record = match self.store.get(job_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Ok(()),
            Err(e) => {
                // An item that cannot be read is looked at again after a while, not every pass.
                let next = now + chrono::Duration::from_std(self.store.timing().stale).unwrap_or_default();
                let _ = self.store.defer_due(job_id, due, next, false).await;
                return Err(e);
            }
        };
        let (state, message) = (&record.state, record.message.as_ref());
        // The job's own lane and queue: its kind's, its priority (an item that names no kind: the
        // default pool's; nothing is sent for it anyway).
        let lane = message.map_or(jobs_core::pools::DEFAULT_POOL, |m| jobs_core::catalog::lane_of(&m.kind));
        let queue = self.queues.get(lane, record.priority());
        let start_deadline = self.start_deadlines.get(lane).copied().flatten();
        let backlog = backlogs.of(queue).await;
        // Only a lane with a deadline needs to know what of it is in flight.
        let in_flight = match start_deadline {
            Some(_) => backlogs.in_flight(self.queues.lane(lane)).await,
            None => 0,
        };
        let lane = reconcile::LaneLook { name: lane, backlog: backlog.waiting(), in_flight, start_deadline };
        let looks = reconcile::Looks {
            changed_at: record.updated_at,
            idle_since: record.idle_since,
            due: record.due_at,
            sent: !record.never_sent(),
            resends: record.resends,
            waits: record.backlog_waits,
        };
        let seen = record.due_at.unwrap_or(due);
        let (delay, next_due) = match reconcile::on_overdue(Some(state), &looks, &lane, now, self.store.timing()) {
            Overdue::Resend { delay, next_due } => (delay, next_due),
            Overdue::Wait { next_due } => {
                // Lost: the job moved on meanwhile and keeps its own due time.
                let _ = self.store.bump_due(job_id, seen, next_due, false).await?;
                info!(job_id, status = %record.state.status, backlog = lane.backlog, "overdue job's message waits behind the queue's backlog; no copy sent");
                report.waiting += 1;
                return Ok(());
            }
            Overdue::Watch { next_due, idle_since } => {
                let _ = self.store.watch_due(job_id, seen, next_due, idle_since).await?;
                info!(job_id, lane = lane.name, %idle_since, backlog = lane.backlog, "job waits on a lane that runs nothing; watched until its start deadline");
                report.watched += 1;
                return Ok(());
            }
            Overdue::NotStarted(transition) => {
                return match self
                    .store
                    .apply(job_id, record.kind(), Some(&record.tenant), None, &transition, &self.store.token())
                    .await
                {
                    Ok(Conditional::Applied(_)) => {
                        warn!(
                            job_id,
                            lane = lane.name,
                            reason = transition.change.last_error.as_deref(),
                            "job FAILED: not started"
                        );
                        report.not_started += 1;
                        Ok(())
                    }
                    // A worker took it meanwhile (or the write was ours and its answer was lost,
                    // the SDK's retry then failing on it): the next pass reads it again.
                    Ok(Conditional::Lost) => Ok(()),
                    Err(e) => Err(e),
                };
            }
            Overdue::Nothing => return Ok(()),
        };
        let sent = match message {
            Some(msg) => queue
                .send_copy(&msg.to_body(), delay, CopyMeta { attempts: state.attempts, ..CopyMeta::default() })
                .await
                .map(|_| ()),
            None => Err(BackendError::of_kind(
                ErrorKind::Invalid,
                "overdue job",
                "its item does not say what the job is (no kind): no message can be made",
            )),
        };
        if let Err(e) = sent {
            report.unsent += 1;
            return self.unsent(job_id, &record, seen, e).await;
        }
        // Lost: the job moved on meanwhile and keeps its own due time.
        if let Err(e) = self.store.bump_due(job_id, seen, next_due, true).await {
            warn!(job_id, error = %e, "could not move the due time on; sent again next pass")
        }
        info!(job_id, status = %record.state.status, resends = record.resends + 1, "overdue job's message sent again");
        report.resent += 1;
        Ok(())
    }

    /// An overdue job's message could not be made or sent: `jobs_core::reconcile::on_unsent`.
    /// Returns the error unless the job was dealt with for good (FAILED).
    async fn unsent(
        &self,
        job_id: &str,
        record: &JobRecord,
        seen: DateTime<Utc>,
        error: BackendError,
    ) -> Result<(), BackendError> {
        let refused = error.kind() == ErrorKind::Invalid;
        let decision = reconcile::on_unsent(
            &record.state,
            record.send_refusals,
            refused,
            &error.to_string(),
            self.store.now(),
            // An overdue job's lease ran out long ago: no grace to leave it.
            Duration::ZERO,
            self.store.timing(),
        );
        match decision {
            Unsent::Later { next_due, refused } => {
                if let Err(e) = self.store.defer_due(job_id, seen, next_due, refused).await {
                    warn!(job_id, error = %e, "could not move the due time on");
                }
                if !refused {
                    return Err(error);
                }
                warn!(job_id, error = %error, refusals = record.send_refusals + 1, next = %next_due, "the queue refused the job's message; trying again later");
                Ok(())
            }
            Unsent::GiveUp(OnPoison::Record(transition)) => {
                match self
                    .store
                    .apply(job_id, record.kind(), Some(&record.tenant), None, &transition, &self.store.token())
                    .await
                {
                    Ok(Conditional::Applied(_)) => {
                        warn!(
                            job_id,
                            reason = transition.change.last_error.as_deref(),
                            "job FAILED: its message cannot be sent"
                        );
                        Ok(())
                    }
                    // Moved meanwhile (a worker took it): nothing to end.
                    Ok(Conditional::Lost) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            Unsent::GiveUp(OnPoison::Held(_) | OnPoison::Finished(_) | OnPoison::Gone) => Ok(()),
        }
    }
}

/// Each queue's depth, read once per pass when an overdue job of its lane is looked at. Unknown
/// (the read failed) counts as empty: a copy too many is harmless, a lost message never sent
/// again is not; and a lane that cannot be read ends no job "not started" (nothing waits).
#[derive(Default)]
pub(super) struct Backlogs(std::collections::HashMap<String, Depth>);

impl Backlogs {
    async fn of(&mut self, queue: &JobQueue) -> Depth {
        if let Some(d) = self.0.get(queue.url()) {
            return *d;
        }
        let depth = queue.depth().await.unwrap_or_else(|e| {
            warn!(queue = queue.url(), error = %e, "could not read the queue's depth; overdue jobs are sent again");
            Depth::default()
        });
        self.0.insert(queue.url().to_owned(), depth);
        depth
    }

    /// Messages of a lane's queues in flight (received, not yet deleted).
    async fn in_flight(&mut self, queues: impl IntoIterator<Item = &JobQueue>) -> u64 {
        let mut n = 0;
        for queue in queues {
            n += self.of(queue).await.in_flight;
        }
        n
    }
}
