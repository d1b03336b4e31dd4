//! A schedule as every schedule route answers it: its definition, next fire times and last run.

use chrono::{DateTime, Utc};
use jobs_aws::{JobRecord, ScheduleInfo};
use jobs_core::pools::Priority;
use jobs_core::{JobStatus, Overlap, Tenant};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// ENABLED (fires) or DISABLED (paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ScheduleState {
    Enabled,
    Disabled,
}

/// The newest job a schedule fired.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    pub job_id: String,
    pub status: JobStatus,
    /// When the firing's job was recorded.
    pub at: Option<DateTime<Utc>>,
}

impl From<JobRecord> for LastRun {
    fn from(r: JobRecord) -> Self {
        LastRun { job_id: r.job_id, status: r.state.status, at: r.created_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub name: String,
    /// The EventBridge Scheduler expression.
    #[schema(example = "cron(0 7 ? * MON *)")]
    pub expression: String,
    pub timezone: String,
    pub state: ScheduleState,
    pub job: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// `forbid`: a firing while the previous job runs is SKIPPED.
    pub overlap: Overlap,
    /// The priority of the jobs it fires.
    pub priority: Priority,
    /// The tenant of the jobs it fires (a schedule from before tenants: `default`).
    #[schema(value_type = String, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Tenant,
    /// The pool that runs them (the kind's).
    pub pool: Option<String>,
    /// The next fire times, RFC 3339 in the schedule's time zone, whole seconds (none while
    /// DISABLED). A `rate()` counts from the schedule's creation (or `StartDate`), so the times
    /// stay put between calls. EventBridge fires within a minute of each.
    pub next_fire_times: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    /// The newest job the schedule fired (`null` before its first firing).
    pub last_run: Option<LastRun>,
}

impl ScheduleView {
    /// The view of a stored schedule at `now`, with its newest job.
    pub fn new(info: ScheduleInfo, last_run: Option<JobRecord>, now: DateTime<Utc>) -> Self {
        let input: Option<Value> = info.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
        let field = |name: &str| input.as_ref().and_then(|i| i.get(name)).cloned();
        let state = if info.state == "DISABLED" { ScheduleState::Disabled } else { ScheduleState::Enabled };
        let start = info.start_date.or(info.created_at).unwrap_or(now);
        ScheduleView {
            next_fire_times: match state {
                ScheduleState::Enabled => fire_times(&info.expression, &info.timezone, start, now),
                ScheduleState::Disabled => Vec::new(),
            },
            pool: field("job")
                .and_then(|j| j.as_str().and_then(jobs_core::catalog::kind_info))
                .map(|k| k.policy.pool.to_owned()),
            priority: field("priority").and_then(|p| serde_json::from_value(p).ok()).unwrap_or_default(),
            tenant: field("tenant").and_then(|t| serde_json::from_value(t).ok()).unwrap_or_default(),
            job: field("job").and_then(|j| j.as_str().map(str::to_owned)),
            payload: field("payload"),
            overlap: field("overlap").and_then(|o| serde_json::from_value(o).ok()).unwrap_or_default(),
            name: info.name,
            expression: info.expression,
            timezone: info.timezone,
            state,
            created_at: info.created_at,
            last_run: last_run.map(Into::into),
        }
    }
}

/// The next fire times of an expression in its time zone, as RFC 3339 text (none if it is not
/// one this API reads).
fn fire_times(expression: &str, timezone: &str, start: DateTime<Utc>, now: DateTime<Utc>) -> Vec<String> {
    let parsed = jobs_core::schedule::parse(expression).and_then(|s| {
        let tz: chrono_tz::Tz = jobs_core::schedule::parse_timezone(timezone)?;
        s.fire_times_since(start, tz, now, crate::state::NEXT_FIRE_TIMES)
    });
    let text = |t: &DateTime<chrono_tz::Tz>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    parsed.map(|times| times.iter().map(text).collect()).unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}
