//! The jobs that have not ended, as the dashboard shows them: how many are in each open status,
//! and the oldest one waiting to start. Both read the keys-only `by-status` index (never a
//! Scan); a count stops at a cap, so its cost stays bounded whatever the backlog.

use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::types::Select;
use chrono::{DateTime, Utc};
use jobs_core::JobStatus;

use super::handle::{JobStore, backend};
use super::item::s;
use crate::error::BackendError;
use crate::resources::{LIST_INDEXES, LIST_SORT_ATTRIBUTE, TABLE_KEY};

/// How many jobs of one status an open count reads at most (index entries are ~100 bytes:
/// about 5 read units at the cap).
pub const COUNT_CAP: u64 = 2000;

/// Jobs in one status, counted up to [`COUNT_CAP`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenCount {
    pub count: u64,
    /// The count stopped at the cap: there are at least `count`.
    pub capped: bool,
}

/// The oldest job of a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oldest {
    pub job_id: String,
    pub created_at: DateTime<Utc>,
}

fn by_status() -> (&'static str, &'static str) {
    LIST_INDEXES.into_iter().find(|(name, _)| *name == "by-status").expect("the by-status index")
}

impl JobStore {
    /// How many jobs are in `status` (eventually consistent, like the index), up to [`COUNT_CAP`].
    pub async fn count_status(&self, status: JobStatus) -> Result<OpenCount, BackendError> {
        let (index, key) = by_status();
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = self
                .db
                .query(
                    "count-status",
                    QueryInput::builder()
                        .table_name(&self.table)
                        .index_name(index)
                        .key_condition_expression("#p = :p")
                        .expression_attribute_names("#p", key)
                        .expression_attribute_values(":p", s(status.as_str()))
                        .select(Select::Count)
                        .limit((COUNT_CAP - count) as i32)
                        .set_exclusive_start_key(start.take())
                        .build()
                        .expect("a complete request"),
                )
                .await
                .map_err(backend)?;
            count += out.count as u64;
            match out.last_evaluated_key {
                Some(_) if count >= COUNT_CAP => return Ok(OpenCount { count, capped: true }),
                Some(key) => start = Some(key),
                None => return Ok(OpenCount { count, capped: false }),
            }
        }
    }

    /// The oldest job in `status` by creation time, if any (one query of one index entry).
    pub async fn oldest(&self, status: JobStatus) -> Result<Option<Oldest>, BackendError> {
        let (index, key) = by_status();
        let out = self
            .db
            .query(
                "oldest",
                QueryInput::builder()
                    .table_name(&self.table)
                    .index_name(index)
                    .key_condition_expression("#p = :p")
                    .expression_attribute_names("#p", key)
                    .expression_attribute_values(":p", s(status.as_str()))
                    .scan_index_forward(true)
                    .limit(1)
                    .build()
                    .expect("a complete request"),
            )
            .await
            .map_err(backend)?;
        let Some(entry) = out.items.unwrap_or_default().into_iter().next() else { return Ok(None) };
        let text = |name: &str| entry.get(name).and_then(|v| v.as_s().ok()).cloned();
        let job_id = text(TABLE_KEY).and_then(|pk| pk.strip_prefix("JOB#").map(str::to_owned));
        let created_at = text(LIST_SORT_ATTRIBUTE).and_then(|t| DateTime::parse_from_rfc3339(&t).ok());
        Ok(job_id.zip(created_at).map(|(job_id, at)| Oldest { job_id, created_at: at.with_timezone(&Utc) }))
    }
}
