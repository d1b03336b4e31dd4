//! The reconciler's reads and writes of the due index: overdue jobs, and moving a due time on.

use aws_sdk_dynamodb::operation::query::QueryInput;
use chrono::Utc;

use super::expr::Expr;
use super::handle::{JobStore, WriteResult, backend};
use super::item::{attr, n, s, ts};
use crate::error::BackendError;
use crate::resources::{DUE_INDEX, DUE_SHARDS, TABLE_KEY, TTL_ATTRIBUTE};

impl JobStore {
    /// Jobs in the due index that were due before `now`, at most `limit`, each with its due time
    /// as the index had it: one query per shard, so the cost follows the number of overdue jobs,
    /// never the table's size.
    pub async fn overdue(
        &self,
        now: chrono::DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(String, chrono::DateTime<Utc>)>, BackendError> {
        let mut ids = Vec::new();
        for shard in 0..DUE_SHARDS {
            let mut start = None;
            loop {
                let out = self
                    .db
                    .query(
                        "overdue",
                        QueryInput::builder()
                            .table_name(&self.table)
                            .index_name(DUE_INDEX)
                            .key_condition_expression("#shard = :shard AND #due < :now")
                            .expression_attribute_names("#shard", attr::DUE_SHARD)
                            .expression_attribute_names("#due", attr::DUE_AT)
                            .expression_attribute_values(":shard", s(shard.to_string()))
                            .expression_attribute_values(":now", n(now.timestamp_millis()))
                            .limit((limit - ids.len()).clamp(1, 100) as i32)
                            .set_exclusive_start_key(start)
                            .build()
                            .expect("a complete request"),
                    )
                    .await
                    .map_err(backend)?;
                for item in out.items.unwrap_or_default() {
                    let id = item.get(TABLE_KEY).and_then(|v| v.as_s().ok()).and_then(|k| k.strip_prefix("JOB#"));
                    let due = item
                        .get(attr::DUE_AT)
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok())
                        .and_then(chrono::DateTime::from_timestamp_millis);
                    if let (Some(id), Some(due)) = (id, due) {
                        ids.push((id.to_owned(), due));
                    }
                }
                start = out.last_evaluated_key;
                if start.is_none() || ids.len() >= limit {
                    break;
                }
            }
            if ids.len() >= limit {
                break;
            }
        }
        Ok(ids)
    }

    /// Moves an overdue job's due time to `next` after its message was sent again (`resent`) or
    /// found waiting behind a backlog, if its due time is still `seen` (a job that moved on
    /// meanwhile keeps its own).
    pub async fn bump_due(
        &self,
        job_id: &str,
        seen: chrono::DateTime<Utc>,
        next: chrono::DateTime<Utc>,
        resent: bool,
    ) -> WriteResult {
        let mut e = due_moved(seen, next, None);
        e.increment(if resent { attr::RESENDS } else { attr::BACKLOG_WAITS });
        self.update("bump-due", job_id, e).await
    }

    /// Moves an overdue job's due time to `next` after its message could not be sent, if its due
    /// time is still `seen`; `refused`: the queue refused the message itself (one more refusal).
    pub async fn defer_due(
        &self,
        job_id: &str,
        seen: chrono::DateTime<Utc>,
        next: chrono::DateTime<Utc>,
        refused: bool,
    ) -> WriteResult {
        let mut e = due_moved(seen, next, None);
        if refused {
            e.increment(attr::SEND_REFUSALS);
        }
        self.update("defer-due", job_id, e).await
    }

    /// Moves the due time of a job that waits on an idle lane to `next` (the next look of the
    /// watch), recording since when its lane was seen idle, if its due time is still `seen`.
    pub async fn watch_due(
        &self,
        job_id: &str,
        seen: chrono::DateTime<Utc>,
        next: chrono::DateTime<Utc>,
        idle_since: chrono::DateTime<Utc>,
    ) -> WriteResult {
        self.update("watch-due", job_id, due_moved(seen, next, Some(idle_since))).await
    }
}

/// The update every look of the reconciler makes: the due time from `seen` (still as read) to
/// `next`; the lane's watch (`idleSince`) kept up or ended (a busy look, a job that does not wait
/// to start); no TTL (an open job never expires; an item an older version wrote may carry one).
fn due_moved(
    seen: chrono::DateTime<Utc>,
    next: chrono::DateTime<Utc>,
    idle_since: Option<chrono::DateTime<Utc>>,
) -> Expr {
    let mut e = Expr::default();
    e.set(attr::DUE_AT, n(next.timestamp_millis()));
    e.set_or_remove(attr::IDLE_SINCE, idle_since.map(ts));
    e.set_or_remove(TTL_ATTRIBUTE, None);
    e.require(attr::DUE_AT, "=", n(seen.timestamp_millis()));
    e
}
