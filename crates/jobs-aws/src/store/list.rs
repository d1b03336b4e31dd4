//! Listing jobs (`GET /jobs`) through the keys-only list indexes, newest first: one Query for a
//! page of keys, one `BatchGetItem` for the items, so a page costs what it holds and never a Scan.
//!
//! One filter picks the index (schedule, else submitter, else tenant, else status, else kind, else
//! all jobs),
//! the most selective first; any other filter,
//! and the index's own key (indexes are eventually consistent), is checked on the items read, in
//! batches of 100 keys and at most 5 queries per page (so at most 500 items read for one page). A
//! page may then come back short with a cursor; a client follows `nextCursor` until it is null.
//! The cursor is the index key of the last job looked at, bound to the index it came from.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jobs_core::JobStatus;

use super::handle::{JobStore, backend};
use super::item::JobRecord;
#[cfg(test)]
use super::item::attr;
use super::item::{self, s};
use crate::error::BackendError;
use crate::resources::{LIST_INDEXES, LIST_SORT_ATTRIBUTE, TABLE_KEY};

/// Queries one page may take before it returns short (with a cursor).
const MAX_ROUNDS: usize = 5;
/// Keys read per query when a second filter is checked on the items.
const MAX_BATCH: usize = 100;
/// The longest cursor: its key holds a `submittedBy` of up to 1024 characters.
pub const MAX_CURSOR_LEN: usize = 4096;
/// The value of `listAll` on every job.
pub const LIST_ALL_VALUE: &str = "JOB";

/// What `GET /jobs` filters on (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
    pub schedule: Option<String>,
    /// Who triggered the job (`submittedBy`, exact).
    pub submitted_by: Option<String>,
    /// Whose job it is. Jobs from before tenants are not in its index: they are not listed.
    pub tenant: Option<jobs_core::Tenant>,
}

impl ListFilter {
    /// The index that serves this filter and its partition value.
    fn index(&self) -> (&'static str, &'static str, String) {
        let pick = |name: &str| LIST_INDEXES.into_iter().find(|(n, _)| *n == name).expect("known index");
        let ((name, key), value) = if let Some(s) = &self.schedule {
            (pick("by-schedule"), s.clone())
        } else if let Some(by) = &self.submitted_by {
            (pick("by-submitter"), by.clone())
        } else if let Some(t) = &self.tenant {
            (pick("by-tenant"), t.as_str().to_owned())
        } else if let Some(st) = self.status {
            (pick("by-status"), st.as_str().to_owned())
        } else if let Some(k) = &self.kind {
            (pick("by-kind"), k.clone())
        } else {
            (pick("by-created"), LIST_ALL_VALUE.to_owned())
        };
        (name, key, value)
    }

    fn matches(&self, r: &JobRecord) -> bool {
        self.status.is_none_or(|st| r.state.status == st)
            && self.kind.as_deref().is_none_or(|k| r.kind() == Some(k))
            && self.schedule.as_deref().is_none_or(|sc| r.schedule() == Some(sc))
            && self.submitted_by.as_ref().is_none_or(|by| r.submitted_by.as_ref() == Some(by))
            && self.tenant.as_ref().is_none_or(|t| r.tenant == *t)
    }
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: {0}")]
pub struct CursorError(String);

/// Where the next page starts: the index key of the last job looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    index: String,
    key: HashMap<String, String>,
}

impl Cursor {
    /// The opaque text form (URL-safe base64 of a small JSON object).
    pub fn encode(&self) -> String {
        let json = serde_json::json!({ "i": self.index, "k": self.key });
        URL_SAFE_NO_PAD.encode(json.to_string())
    }

    /// Reads a cursor for `filter`: it must come from the same index and partition.
    pub fn decode(text: &str, filter: &ListFilter) -> Result<Cursor, CursorError> {
        let bad = |why: &str| CursorError(why.to_owned());
        if text.is_empty() || text.len() > MAX_CURSOR_LEN {
            return Err(bad("must be 1-4096 characters"));
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad("not a cursor from this API"))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad("not a cursor from this API"))?;
        let (index, partition_key, partition) = filter.index();
        if value["i"].as_str() != Some(index) {
            return Err(bad("it belongs to a listing with other filters"));
        }
        let key: HashMap<String, String> =
            serde_json::from_value(value["k"].clone()).map_err(|_| bad("not a cursor from this API"))?;
        let valid = key.len() == 3
            && key.get(partition_key) == Some(&partition)
            && key.get(TABLE_KEY).is_some_and(|k| k.strip_prefix("JOB#").is_some_and(jobs_core::message::valid_job_id))
            && key.get(LIST_SORT_ATTRIBUTE).is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
        if !valid {
            return Err(bad("it belongs to a listing with other filters"));
        }
        Ok(Cursor { index: index.to_owned(), key })
    }

    fn start_key(&self) -> HashMap<String, AttributeValue> {
        self.key.iter().map(|(k, v)| (k.clone(), s(v))).collect()
    }

    fn from_key(index: &str, key: &HashMap<String, AttributeValue>) -> Cursor {
        let key = key.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect();
        Cursor { index: index.to_owned(), key }
    }
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub jobs: Vec<JobRecord>,
    pub next: Option<Cursor>,
}

impl JobStore {
    /// Up to `limit` jobs matching `filter`, newest first, from `cursor` on.
    pub async fn list(&self, filter: &ListFilter, limit: usize, cursor: Option<&Cursor>) -> Result<Page, BackendError> {
        let (index, partition_key, partition) = filter.index();
        // One filter is exact on its index: read what the page needs. Others are checked on the
        // items: read larger batches (one BatchGetItem holds 100 keys).
        let exact = [
            filter.status.is_some(),
            filter.kind.is_some(),
            filter.schedule.is_some(),
            filter.submitted_by.is_some(),
            filter.tenant.is_some(),
        ]
        .iter()
        .filter(|f| **f)
        .count()
            <= 1;
        let mut start = cursor.map(Cursor::start_key);
        let mut jobs = Vec::new();
        let mut last: Option<HashMap<String, AttributeValue>> = None;
        for _ in 0..MAX_ROUNDS {
            let batch = if exact { (limit - jobs.len()).max(1) } else { MAX_BATCH };
            let out = self
                .db
                .query(
                    "list",
                    QueryInput::builder()
                        .table_name(&self.table)
                        .index_name(index)
                        .key_condition_expression("#p = :p")
                        .expression_attribute_names("#p", partition_key)
                        .expression_attribute_values(":p", s(&partition))
                        .scan_index_forward(false)
                        .limit(batch as i32)
                        .set_exclusive_start_key(start.take())
                        .build()
                        .expect("a complete request"),
                )
                .await
                .map_err(backend)?;
            let keys = out.items.unwrap_or_default();
            let pks: Vec<String> =
                keys.iter().filter_map(|k| k.get(TABLE_KEY).and_then(|v| v.as_s().ok()).cloned()).collect();
            let mut records = self.read_records(&pks).await?;
            for key in &keys {
                let pk = key.get(TABLE_KEY).and_then(|v| v.as_s().ok());
                if let Some(record) = pk.and_then(|pk| records.remove(pk)).filter(|r| filter.matches(r)) {
                    jobs.push(record);
                }
                last = Some(key.clone());
                if jobs.len() == limit {
                    break;
                }
            }
            let consumed_all = last.as_ref() == keys.last();
            let more = !consumed_all || out.last_evaluated_key.is_some();
            if jobs.len() == limit || !more {
                let next = last.filter(|_| more).map(|k| Cursor::from_key(index, &k));
                return Ok(Page { jobs, next });
            }
            start = out.last_evaluated_key;
        }
        Ok(Page { jobs, next: last.map(|k| Cursor::from_key(index, &k)) })
    }

    /// The newest jobs of schedule `schedule` (at most `n`), newest first.
    pub async fn latest_of_schedule(&self, schedule: &str, n: usize) -> Result<Vec<JobRecord>, BackendError> {
        let filter = ListFilter { schedule: Some(schedule.to_owned()), ..ListFilter::default() };
        Ok(self.list(&filter, n, None).await?.jobs)
    }

    /// The job items with these keys (consistent reads), by key.
    async fn read_records(&self, pks: &[String]) -> Result<HashMap<String, JobRecord>, BackendError> {
        let items = self.batch_get(pks, true).await?;
        let mut out = HashMap::new();
        for item in items {
            let Some(pk) = item.get(TABLE_KEY).and_then(|v| v.as_s().ok()).cloned() else { continue };
            let Some(id) = pk.strip_prefix("JOB#") else { continue };
            match item::parse_record(id, &item) {
                Ok(record) => {
                    out.insert(pk, record);
                }
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable job item in a listing"),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor_for(filter: &ListFilter, pk: &str) -> Cursor {
        let (index, key, value) = filter.index();
        let key = HashMap::from([
            (TABLE_KEY.to_owned(), pk.to_owned()),
            (LIST_SORT_ATTRIBUTE.to_owned(), "2026-12-01T10:00:00.000Z".to_owned()),
            (key.to_owned(), value),
        ]);
        Cursor { index: index.to_owned(), key }
    }

    #[test]
    fn the_filter_picks_the_index() {
        let f = |status: Option<JobStatus>, kind: Option<&str>, schedule: Option<&str>| ListFilter {
            status,
            kind: kind.map(str::to_owned),
            schedule: schedule.map(str::to_owned),
            submitted_by: None,
            tenant: None,
        };
        let by = |filter: ListFilter| ListFilter { submitted_by: Some("local:ci".into()), ..filter };
        let of = |filter: ListFilter| ListFilter { tenant: Some(jobs_core::Tenant::parse("acme").unwrap()), ..filter };
        let cases = [
            (f(None, None, None), ("by-created", attr::LIST_ALL, "JOB")),
            (f(Some(JobStatus::Failed), None, None), ("by-status", "status", "FAILED")),
            (f(None, Some("sleep"), None), ("by-kind", "kind", "sleep")),
            (f(Some(JobStatus::Failed), Some("sleep"), None), ("by-status", "status", "FAILED")),
            (f(Some(JobStatus::Failed), Some("sleep"), Some("n")), ("by-schedule", "schedule", "n")),
            (by(f(None, None, None)), ("by-submitter", attr::SUBMITTED_BY, "local:ci")),
            (by(f(Some(JobStatus::Failed), Some("sleep"), None)), ("by-submitter", attr::SUBMITTED_BY, "local:ci")),
            (by(f(None, None, Some("n"))), ("by-schedule", "schedule", "n")),
            (of(f(None, None, None)), ("by-tenant", attr::TENANT, "acme")),
            (of(f(Some(JobStatus::Failed), Some("sleep"), None)), ("by-tenant", attr::TENANT, "acme")),
            (of(by(f(None, None, None))), ("by-submitter", attr::SUBMITTED_BY, "local:ci")),
            (of(f(None, None, Some("n"))), ("by-schedule", "schedule", "n")),
        ];
        for (filter, (index, key, value)) in cases {
            let got = filter.index();
            assert_eq!((got.0, got.1, got.2.as_str()), (index, key, value), "{filter:?}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let failed = ListFilter { status: Some(JobStatus::Failed), ..ListFilter::default() };
        let c = cursor_for(&failed, "JOB#0193-a");
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, &failed), Ok(c.clone()));
        let other = ListFilter { status: Some(JobStatus::Succeeded), ..ListFilter::default() };
        let forged =
            URL_SAFE_NO_PAD.encode(r#"{"i":"by-status","k":{"pk":"STATS#1","createdAt":"x","status":"FAILED"}}"#);
        // (text, filter, fragment of the error)
        let cases = [
            ("", &failed, "1-4096"),
            ("%%%", &failed, "not a cursor"),
            ("bm90IGpzb24", &failed, "not a cursor"), // "not json"
            (text.as_str(), &other, "other filters"),
            (text.as_str(), &ListFilter::default(), "other filters"),
            (forged.as_str(), &failed, "other filters"),
        ];
        for (text, filter, fragment) in cases {
            let err = Cursor::decode(text, filter).unwrap_err();
            assert!(err.to_string().contains(fragment), "{text:?}: {err}");
        }
        assert!(Cursor::decode(&"a".repeat(MAX_CURSOR_LEN + 1), &failed).is_err());
        // A cursor of the longest submitter fits.
        let long =
            ListFilter { submitted_by: Some("a".repeat(jobs_core::submitter::MAX_LEN)), ..ListFilter::default() };
        let c = cursor_for(&long, "JOB#0193-a");
        assert_eq!(Cursor::decode(&c.encode(), &long), Ok(c));
    }
}
