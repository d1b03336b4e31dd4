//! The job item's schema: attribute names (here and nowhere else), the one mapping from a
//! [`Change`] to attributes that both Put (a new item) and Update (an existing one) use, and the
//! parsing of an item back into a [`JobRecord`].

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use jobs_core::history::{AttemptRun, Runner};
use jobs_core::message::MESSAGE_VERSION;
use jobs_core::pools::Priority;
use jobs_core::state::{Change, Transition};
use jobs_core::{JobMessage, JobState, JobStatus, Lease, Source, Tenant};
use serde_json::Value;

use crate::resources::{TABLE_KEY, TTL_ATTRIBUTE};

/// Attribute names of a job item.
pub mod attr {
    pub const JOB_ID: &str = "jobId";
    pub const KIND: &str = "kind";
    pub const PAYLOAD: &str = "payload";
    pub const SOURCE: &str = "source";
    pub const SCHEDULE: &str = "schedule";
    pub const SUBMITTED_AT: &str = "submittedAt";
    /// Who triggered the job (`jobs_core::submitter`); also the `by-submitter` list index's key.
    pub const SUBMITTED_BY: &str = "submittedBy";
    /// Whose job it is (`jobs_core::tenants`); also the `by-tenant` list index's key. Items from
    /// before tenants have none: their tenant follows from `submittedBy`.
    pub const TENANT: &str = "tenant";
    pub const STATUS: &str = "status";
    pub const ATTEMPTS: &str = "attempts";
    pub const INTERRUPTIONS: &str = "interruptions";
    pub const CREATED_AT: &str = "createdAt";
    pub const UPDATED_AT: &str = "updatedAt";
    pub const STARTED_AT: &str = "startedAt";
    /// When the job's first attempt started (`startedAt` is the latest run's start).
    pub const FIRST_STARTED_AT: &str = "firstStartedAt";
    /// The current attempt's saved progress: JSON `{"attempt": n, "data": …}` (see
    /// `jobs_core::kinds::Checkpoint` and [`super::checkpoint`]).
    pub const CHECKPOINT: &str = "checkpoint";
    pub const FINISHED_AT: &str = "finishedAt";
    pub const NEXT_ATTEMPT_AT: &str = "nextAttemptAt";
    pub const LAST_ERROR: &str = "lastError";
    pub const RESULT: &str = "result";
    pub const LEASE_OWNER: &str = "leaseOwner";
    pub const LEASE_UNTIL: &str = "leaseUntil";
    /// The token of the last write: lets a writer whose answer was lost see whether it committed.
    pub const LAST_WRITE: &str = "lastWrite";
    /// Receipt handles of this job's message handed to the lease holder by workers that received
    /// it while the job ran (the holder's own handle went stale).
    pub const RECEIPTS: &str = "receipts";
    /// When the API sent the job's message (absent until then: the reconciler sends it).
    pub const SENT_AT: &str = "sentAt";
    /// How often the reconciler sent the message again.
    pub const RESENDS: &str = "resends";
    /// How often the reconciler found the job overdue while its message waited behind a backlog
    /// (and sent nothing).
    pub const BACKLOG_WAITS: &str = "backlogWaits";
    /// Since when every look of the reconciler saw the job's lane idle (nothing in flight, its
    /// message waiting): `jobs_core::reconcile::on_overdue`'s watch for a start deadline.
    pub const IDLE_SINCE: &str = "idleSince";
    /// How often the queue refused the message the reconciler tried to send again
    /// (`jobs_core::reconcile::on_unsent`).
    pub const SEND_REFUSALS: &str = "sendRefusals";
    pub const DUE_AT: &str = crate::resources::DUE_AT_ATTRIBUTE;
    pub const DUE_SHARD: &str = crate::resources::DUE_SHARD_ATTRIBUTE;
    /// The `by-created` list index's key (the same on every job).
    pub const LIST_ALL: &str = crate::resources::LIST_ALL_ATTRIBUTE;
    /// When somebody asked to cancel the running job (its worker stops it).
    pub const CANCEL_REQUESTED_AT: &str = "cancelRequestedAt";
    /// Who runs the current attempt: its worker and where its logs are.
    pub const RUN_WORKER: &str = "runWorker";
    pub const RUN_LOGS: &str = "runLogs";
    /// The last runs of the job's attempts (JSON, see `jobs_core::history`).
    pub const HISTORY: &str = "history";
    /// A job created by `POST /jobs/{id}/retry`: the job it retries; and on that job, the newest
    /// job that retries it.
    pub const RETRY_OF: &str = "retryOf";
    /// `high` only (absent: normal).
    pub const PRIORITY: &str = "priority";
    pub const RETRIED_BY: &str = "retriedBy";
    /// Why a WAITING job waits (`jobs_core::tenants::WaitReason`, as text).
    pub const WAIT_REASON: &str = "waitReason";
    /// Its place in the `tenancy` index: `WAIT#<tenant>` while it waits, `SLOT#<tenant>` while it
    /// holds a slot of its tenant (see `store::admission`).
    pub const TENANCY: &str = crate::resources::TENANCY_ATTRIBUTE;
    pub const TENANCY_ORDER: &str = crate::resources::TENANCY_ORDER_ATTRIBUTE;
    /// Idempotency items.
    pub const FINGERPRINT: &str = "fingerprint";
    /// Schedule lock items (`SCHED#<name>`): the job that holds the schedule.
    pub const HOLDER: &str = "holder";
}

/// The due-index shard of a job (stable: FNV-1a of its id).
pub fn due_shard(job_id: &str) -> String {
    let hash = job_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % u64::from(crate::resources::DUE_SHARDS)).to_string()
}

pub fn job_key(job_id: &str) -> String {
    format!("JOB#{job_id}")
}

/// The lock item of schedule `name` (`overlap: forbid`).
pub fn schedule_key(name: &str) -> String {
    format!("SCHED#{name}")
}

/// The item of idempotency key `key` as `caller` used it: each caller has keys of its own, so
/// one caller's key never replays another's job. (The caller's length keeps the two parts apart.)
pub fn idempotency_key(caller: &str, key: &str) -> String {
    format!("IDEM#{}:{caller}#{key}", caller.len())
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn ts(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// The attributes a transition writes: `Some` sets, `None` removes. Put writes the `Some`s of a new
/// item; Update sets and removes them on an existing one. `due`: the job's place in the due index
/// (`None` takes it out).
pub fn change_attributes(
    job_id: &str,
    tr: &Transition,
    token: &str,
    retention: Duration,
    due: Option<DateTime<Utc>>,
) -> Vec<(&'static str, Option<AttributeValue>)> {
    let (now, change): (DateTime<Utc>, &Change) = (tr.at, &tr.change);
    let mut out = vec![
        (attr::DUE_AT, due.map(|d| n(d.timestamp_millis()))),
        (attr::DUE_SHARD, due.map(|_| s(due_shard(job_id)))),
        (attr::STATUS, Some(s(change.status.as_str()))),
        (attr::ATTEMPTS, Some(n(change.attempts))),
        (attr::INTERRUPTIONS, Some(n(change.interruptions))),
        (attr::UPDATED_AT, Some(ts(now))),
        (attr::LAST_WRITE, Some(s(token))),
        (attr::LEASE_OWNER, change.lease.as_ref().map(|l| s(&l.owner))),
        (attr::LEASE_UNTIL, change.lease.as_ref().map(|l| n(l.until.timestamp_millis()))),
        (attr::NEXT_ATTEMPT_AT, change.retry_at.map(ts)),
    ];
    // A waiting job that is cancelled leaves the waiting list (admission moves it itself).
    if matches!(tr.expect, jobs_core::state::Expect::Present { status: JobStatus::Waiting, .. })
        && change.status != JobStatus::Waiting
    {
        out.extend([(attr::TENANCY, None), (attr::TENANCY_ORDER, None), (attr::WAIT_REASON, None)]);
    }
    if change.started {
        out.push((attr::STARTED_AT, Some(ts(now))));
        if change.first_start() {
            out.push((attr::FIRST_STARTED_AT, Some(ts(now))));
        }
        out.push((attr::RUN_WORKER, change.runner.as_ref().map(|r| s(&r.worker))));
        out.push((attr::RUN_LOGS, change.runner.as_ref().and_then(|r| r.logs.as_ref()).map(s)));
        // A new attempt's handed-over receipts belong to the old one.
        out.push((attr::RECEIPTS, None));
    }
    // Kept unless the change says otherwise.
    if change.clears_error() {
        out.push((attr::LAST_ERROR, None));
    } else if let Some(error) = &change.last_error {
        out.push((attr::LAST_ERROR, Some(s(error))));
    }
    if let Some(history) = &change.history {
        out.push((attr::HISTORY, Some(s(serde_json::to_string(history).expect("history serializes")))));
    }
    if let Some(result) = &change.result {
        out.push((attr::RESULT, Some(s(result.to_string()))));
    }
    if change.drops_checkpoint() {
        out.push((attr::CHECKPOINT, None));
    } else if let Some(checkpoint) = &change.checkpoint {
        out.push((attr::CHECKPOINT, Some(self::checkpoint(change.attempts, checkpoint))));
    }
    if change.status.is_terminal() {
        out.push((attr::FINISHED_AT, Some(ts(now))));
        // A job that still holds a slot expires from its release: deleted holding one, it would
        // keep the slot counted for good.
        let expires = (!tr.holds_slot).then(|| n(now.timestamp() + retention.as_secs() as i64));
        out.push((TTL_ATTRIBUTE, expires));
        out.push((attr::RECEIPTS, None));
    } else {
        // An open job never expires: its retention starts when it ends. (Items an older version
        // wrote carry one from their creation: it goes with their next change.)
        out.push((TTL_ATTRIBUTE, None));
    }
    out
}

/// What a new job item says about the job: its message and who triggered it (the API's caller;
/// for a schedule's firing, `None` takes it from the message).
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub message: Option<&'a JobMessage>,
    pub submitted_by: Option<&'a str>,
}

impl<'a> Origin<'a> {
    pub fn of(message: Option<&'a JobMessage>) -> Self {
        Origin { message, submitted_by: None }
    }
}

/// A new job item: the key, what the job is (from its message), and the change.
pub fn new_item(
    job_id: &str,
    origin: Origin<'_>,
    tr: &Transition,
    token: &str,
    retention: Duration,
    due: Option<DateTime<Utc>>,
) -> HashMap<String, AttributeValue> {
    let mut item: HashMap<String, AttributeValue> = HashMap::from([
        (TABLE_KEY.to_owned(), s(job_key(job_id))),
        (attr::JOB_ID.to_owned(), s(job_id)),
        (attr::CREATED_AT.to_owned(), ts(tr.at)),
        (attr::LIST_ALL.to_owned(), s("JOB")),
    ]);
    let submitted_by =
        origin.submitted_by.map(str::to_owned).or_else(|| origin.message.and_then(JobMessage::submitter));
    let submitted_by = submitted_by.filter(|by| jobs_core::submitter::valid(by));
    let by = submitted_by.as_deref().unwrap_or_default();
    let tenant = origin.message.map_or_else(|| Tenant::of_submitter(by), |msg| msg.tenant_or_of(by));
    item.insert(attr::TENANT.into(), s(tenant.as_str()));
    if let Some(by) = submitted_by {
        item.insert(attr::SUBMITTED_BY.into(), s(by));
    }
    if let Some(msg) = origin.message {
        item.insert(attr::KIND.into(), s(&msg.kind));
        item.insert(attr::PAYLOAD.into(), s(msg.payload.to_string()));
        item.insert(attr::SOURCE.into(), s(msg.source.as_str()));
        item.insert(attr::SUBMITTED_AT.into(), ts(msg.submitted_at));
        if let Some(schedule) = &msg.schedule {
            item.insert(attr::SCHEDULE.into(), s(schedule));
        }
        if let Some(of) = &msg.retry_of {
            item.insert(attr::RETRY_OF.into(), s(of));
        }
        if msg.priority != Priority::Normal {
            item.insert(attr::PRIORITY.into(), s(msg.priority.as_str()));
        }
    }
    for (name, value) in change_attributes(job_id, tr, token, retention, due) {
        if let Some(value) = value {
            item.insert(name.to_owned(), value);
        }
    }
    item
}

/// Everything stored about one job: what it is (its message, as recorded when the item was
/// made), whose it is, and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub job_id: String,
    /// The job's message: its kind, payload, source, schedule, submission time, priority and the
    /// job it retries. `None` for an item that does not say what the job is (a rejected poison
    /// message's). The item's tenant is its `tenant`; its overlap policy is not kept.
    pub message: Option<JobMessage>,
    pub submitted_by: Option<String>,
    /// Whose job it is (an item from before tenants: the one its submitter implies).
    pub tenant: Tenant,
    /// Where it stands, as the rules read it: status, attempts, lease, retry time,
    /// interruptions, the current run's start and runner, the history, the checkpoint, the slot.
    pub state: JobState,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// The first attempt's start (items written before it was kept: from the history).
    pub first_started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub result: Option<Value>,
    pub last_write: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub resends: u32,
    pub backlog_waits: u32,
    pub idle_since: Option<DateTime<Utc>>,
    pub send_refusals: u32,
    /// When a cancel request reached the running job (`state.cancel_requested` says whether).
    pub cancel_requested_at: Option<DateTime<Utc>>,
    pub retried_by: Option<String>,
    /// WAITING: why (`jobs_core::tenants::WaitReason`, as text).
    pub wait_reason: Option<String>,
}

impl JobRecord {
    /// The job's kind, if the item says.
    pub fn kind(&self) -> Option<&str> {
        self.message.as_ref().map(|m| m.kind.as_str())
    }

    /// The schedule that fired it, if one did.
    pub fn schedule(&self) -> Option<&str> {
        self.message.as_ref().and_then(|m| m.schedule.as_deref())
    }

    /// Its priority within its pool (`normal` for an item that does not say what the job is).
    pub fn priority(&self) -> Priority {
        self.message.as_ref().map_or(Priority::Normal, |m| m.priority)
    }

    /// The API recorded the job and never sent its message (it died, or the send failed): no
    /// queue holds it, so it is sent now, backlog or not.
    pub fn never_sent(&self) -> bool {
        self.state.status == JobStatus::Queued && self.state.attempts == 0 && self.sent_at.is_none()
    }
}

/// Why a stored item is not a job record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job item {job_id}: {reason}")]
pub struct ItemError {
    pub job_id: String,
    pub reason: String,
}

/// The job's submitter, from an item.
pub fn submitted_by(item: &HashMap<String, AttributeValue>) -> Option<String> {
    item.get(attr::SUBMITTED_BY).and_then(|v| v.as_s().ok()).cloned()
}

/// Whether the job holds a slot of its tenant, from an item.
pub fn holds_slot(item: &HashMap<String, AttributeValue>) -> bool {
    item.get(attr::TENANCY).and_then(|v| v.as_s().ok()).is_some_and(|t| t.starts_with("SLOT#"))
}

pub fn parse_record(job_id: &str, item: &HashMap<String, AttributeValue>) -> Result<JobRecord, ItemError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let time =
        |name: &str| text(name).and_then(|v| DateTime::parse_from_rfc3339(&v).ok()).map(|t| t.with_timezone(&Utc));
    let json = |name: &str| text(name).and_then(|v| serde_json::from_str(&v).ok());
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
    let count = |name: &str| number(name).unwrap_or(0).try_into().unwrap_or(0);
    let bad = |reason: String| ItemError { job_id: job_id.to_owned(), reason };
    let by = submitted_by(item);
    let status_text = text(attr::STATUS).ok_or_else(|| bad("no status".into()))?;
    let status = JobStatus::parse(&status_text).ok_or_else(|| bad(format!("unknown status {status_text:?}")))?;
    // An unreadable history is dropped rather than making the job unreadable.
    let history: Vec<AttemptRun> = text(attr::HISTORY).and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default();
    let lease = match (text(attr::LEASE_OWNER), number(attr::LEASE_UNTIL).and_then(DateTime::from_timestamp_millis)) {
        (Some(owner), Some(until)) => Some(Lease { owner, until }),
        _ => None,
    };
    let tenant = text(attr::TENANT)
        .and_then(|t| Tenant::parse(&t).ok())
        .unwrap_or_else(|| Tenant::of_submitter(by.as_deref().unwrap_or_default()));
    // What the item recorded of the job's message (items from before `submittedAt` was kept: its
    // creation stands in).
    let message =
        text(attr::KIND).zip(time(attr::SUBMITTED_AT).or(time(attr::CREATED_AT))).map(|(kind, at)| JobMessage {
            v: MESSAGE_VERSION,
            job_id: job_id.to_owned(),
            kind,
            payload: json(attr::PAYLOAD).unwrap_or(Value::Null),
            submitted_at: at,
            source: if text(attr::SOURCE).as_deref() == Some("schedule") { Source::Schedule } else { Source::Api },
            schedule: text(attr::SCHEDULE),
            overlap: Default::default(),
            retry_of: text(attr::RETRY_OF),
            priority: text(attr::PRIORITY).and_then(|p| Priority::parse(&p)).unwrap_or_default(),
            tenant: Some(tenant.clone()),
        });
    let cancel_requested_at = time(attr::CANCEL_REQUESTED_AT);
    let first_started_at =
        time(attr::FIRST_STARTED_AT).or_else(|| first_start_from_history(&history, time(attr::STARTED_AT)));
    let state = JobState {
        status,
        attempts: count(attr::ATTEMPTS),
        lease,
        retry_at: time(attr::NEXT_ATTEMPT_AT),
        interruptions: count(attr::INTERRUPTIONS),
        cancel_requested: cancel_requested_at.is_some(),
        started_at: time(attr::STARTED_AT),
        runner: text(attr::RUN_WORKER).map(|worker| Runner { worker, logs: text(attr::RUN_LOGS) }),
        history,
        checkpoint: current_checkpoint(json(attr::CHECKPOINT), count(attr::ATTEMPTS)),
        slot: holds_slot(item),
    };
    Ok(JobRecord {
        job_id: job_id.to_owned(),
        message,
        tenant,
        submitted_by: by,
        created_at: time(attr::CREATED_AT),
        updated_at: time(attr::UPDATED_AT),
        first_started_at,
        finished_at: time(attr::FINISHED_AT),
        last_error: text(attr::LAST_ERROR),
        result: json(attr::RESULT),
        last_write: text(attr::LAST_WRITE),
        sent_at: time(attr::SENT_AT),
        due_at: number(attr::DUE_AT).and_then(DateTime::from_timestamp_millis),
        resends: count(attr::RESENDS),
        backlog_waits: count(attr::BACKLOG_WAITS),
        idle_since: time(attr::IDLE_SINCE),
        send_refusals: count(attr::SEND_REFUSALS),
        cancel_requested_at,
        retried_by: text(attr::RETRIED_BY),
        wait_reason: text(attr::WAIT_REASON),
        state,
    })
}

/// A checkpoint as stored: with the attempt that saved it, so that only a run of that attempt
/// resumes from it (a worker of an older release starts a new attempt without dropping it).
pub fn checkpoint(attempt: u32, data: &Value) -> AttributeValue {
    s(serde_json::json!({ "attempt": attempt, "data": data }).to_string())
}

/// The stored checkpoint if the job's current attempt saved it.
fn current_checkpoint(stored: Option<Value>, attempts: u32) -> Option<Value> {
    let mut stored = stored?;
    (stored["attempt"].as_u64() == Some(u64::from(attempts))).then(|| stored["data"].take())
}

/// An older item's first start: its oldest kept run if that is attempt 1's, else (no run ended
/// yet) the current run's start. `None` when the first runs were dropped from the history.
fn first_start_from_history(history: &[AttemptRun], started: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match history.first() {
        Some(run) if run.attempt == 1 => Some(run.started_at),
        Some(_) => None,
        None => started,
    }
}

/// Receipt handles handed over to the lease holder (see [`attr::RECEIPTS`]).
pub fn receipts(item: &HashMap<String, AttributeValue>) -> Vec<String> {
    match item.get(attr::RECEIPTS) {
        Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs_core::{RetryPolicy, state};
    use serde_json::json;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn a_new_item_round_trips_through_parsing() {
        let msg = JobMessage::new_api("sleep", json!({"ms": 5}), t(0));
        let lease = Lease { owner: "w-1".into(), until: t(60) };
        let state::OnReceive::Start { transition, .. } =
            state::on_receive(None, true, &lease, t(1), Duration::from_secs(20), &RetryPolicy::default())
        else {
            panic!("a new job starts")
        };
        let origin = Origin { message: Some(&msg), submitted_by: Some("arn:aws:iam::123456789012:user/alice") };
        let item = new_item(&msg.job_id, origin, &transition, "tok-1", DAY, Some(t(90)));
        assert_eq!(item[TABLE_KEY], s(format!("JOB#{}", msg.job_id)));
        assert!(!item.contains_key(TTL_ATTRIBUTE), "an open job never expires");
        let rec = parse_record(&msg.job_id, &item).unwrap();
        assert_eq!((rec.state.status, rec.state.attempts, rec.state.interruptions), (JobStatus::Running, 1, 0));
        assert_eq!((rec.kind(), rec.message.as_ref().map(|m| &m.payload)), (Some("sleep"), Some(&json!({"ms": 5}))));
        assert_eq!((rec.state.lease.clone(), rec.last_write.as_deref()), (Some(lease), Some("tok-1")));
        assert_eq!((rec.state.started_at, rec.message.as_ref().map(|m| m.submitted_at)), (Some(t(1)), Some(t(0))));
        assert!(rec.finished_at.is_none() && rec.last_error.is_none());
        assert_eq!((rec.due_at, item[attr::DUE_SHARD].clone()), (Some(t(90)), s(due_shard(&msg.job_id))));
        assert_eq!(rec.submitted_by.as_deref(), Some("arn:aws:iam::123456789012:user/alice"));
        // A message from before tenants: the item takes the tenant its submitter implies, and the
        // message sent again from the item names it.
        assert_eq!((rec.tenant.as_str(), item[attr::TENANT].clone()), ("alice", s("alice")));
        let again = JobMessage { tenant: Some(rec.tenant.clone()), ..msg.clone() };
        assert_eq!(rec.message, Some(again), "the message can be sent again from the item");
        // A message that names its tenant keeps it, whoever submitted it.
        let acme = JobMessage { tenant: Some(Tenant::parse("acme").unwrap()), ..msg.clone() };
        let by = Origin { message: Some(&acme), submitted_by: origin.submitted_by };
        let item = new_item(&acme.job_id, by, &transition, "t", DAY, None);
        assert_eq!(parse_record(&acme.job_id, &item).unwrap().message, Some(acme.clone()));
    }

    #[test]
    fn a_new_item_says_who_triggered_the_job() {
        let tr = state::submit(t(0));
        let api = JobMessage::new_api("noop", json!({}), t(0));
        let fired = JobMessage { source: Source::Schedule, schedule: Some("nightly".into()), ..api.clone() };
        let by =
            |origin: Origin<'_>| parse_record("j", &new_item("j", origin, &tr, "tok", DAY, None)).unwrap().submitted_by;
        // (origin, submittedBy recorded)
        let cases: Vec<(Origin<'_>, Option<&str>)> = vec![
            (Origin { message: Some(&api), submitted_by: Some("local:ci") }, Some("local:ci")),
            (Origin::of(Some(&fired)), Some("schedule:nightly")),
            // A message alone does not say who sent an API job (the API records it).
            (Origin::of(Some(&api)), None),
            (Origin::of(None), None),
            // Never an unusable index key.
            (Origin { message: Some(&api), submitted_by: Some("") }, None),
        ];
        for (origin, want) in cases {
            assert_eq!(by(origin).as_deref(), want, "{origin:?}");
        }
    }

    #[test]
    fn changes_set_and_remove_the_same_attributes_for_put_and_update() {
        let policy = RetryPolicy::default();
        let names = |tr: &Transition| {
            let due = (!tr.change.status.is_terminal()).then(|| t(9));
            let mut v: Vec<(String, bool)> = change_attributes("j", tr, "tok", DAY, due)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.is_some()))
                .collect();
            v.sort();
            v
        };
        // (transition, attributes set, attributes removed)
        let (retry, _) = state::fail(1, "w", "boom", t(0), &policy);
        let (last, _) = state::fail(3, "w", "boom", t(0), &policy);
        let ok = state::succeed(1, "w", json!({"x": 1}), t(0));
        let cases: Vec<(Transition, &[&str], &[&str])> = vec![
            (
                retry,
                &[
                    "attempts",
                    "dueAt",
                    "dueShard",
                    "interruptions",
                    "lastError",
                    "lastWrite",
                    "nextAttemptAt",
                    "status",
                    "updatedAt",
                ],
                &["expiresAt", "leaseOwner", "leaseUntil"],
            ),
            (
                last,
                &[
                    "attempts",
                    "expiresAt",
                    "finishedAt",
                    "interruptions",
                    "lastError",
                    "lastWrite",
                    "status",
                    "updatedAt",
                ],
                &["checkpoint", "dueAt", "dueShard", "leaseOwner", "leaseUntil", "nextAttemptAt", "receipts"],
            ),
            (
                ok,
                &["attempts", "expiresAt", "finishedAt", "interruptions", "lastWrite", "result", "status", "updatedAt"],
                // A job that succeeded has no error (its failed runs keep theirs).
                &[
                    "checkpoint",
                    "dueAt",
                    "dueShard",
                    "lastError",
                    "leaseOwner",
                    "leaseUntil",
                    "nextAttemptAt",
                    "receipts",
                ],
            ),
        ];
        for (tr, set, removed) in cases {
            let got = names(&tr);
            let want_set: Vec<&str> = got.iter().filter(|(_, s)| *s).map(|(k, _)| k.as_str()).collect();
            let want_removed: Vec<&str> = got.iter().filter(|(_, s)| !*s).map(|(k, _)| k.as_str()).collect();
            assert_eq!((want_set.as_slice(), want_removed.as_slice()), (set, removed), "{:?}", tr.step);
        }
    }

    #[test]
    fn only_the_attempt_that_saved_a_checkpoint_resumes_from_it() {
        let item = |attempts: u32, stored: Option<&str>| {
            let mut item =
                HashMap::from([(attr::STATUS.to_owned(), s("QUEUED")), (attr::ATTEMPTS.to_owned(), n(attempts))]);
            if let Some(c) = stored {
                item.insert(attr::CHECKPOINT.to_owned(), s(c));
            }
            parse_record("j", &item).unwrap().state.checkpoint
        };
        let saved = checkpoint(2, &json!({"sleptMs": 3000}));
        let saved = saved.as_s().unwrap().as_str();
        // (attempts on the item, stored checkpoint, what a run of the current attempt gets)
        let cases = [
            (2, Some(saved), Some(json!({"sleptMs": 3000}))),
            // An older worker started attempt 3 without dropping attempt 2's progress.
            (3, Some(saved), None),
            (2, None, None),
            (2, Some("not json"), None),
            (2, Some(r#"{"sleptMs": 3000}"#), None),
        ];
        for (attempts, stored, want) in cases {
            assert_eq!(item(attempts, stored), want, "{attempts} {stored:?}");
        }
    }

    #[test]
    fn malformed_items_are_errors_not_panics() {
        let err = parse_record("j", &HashMap::new()).unwrap_err();
        assert_eq!(err.to_string(), "job item j: no status");
        let item = HashMap::from([(attr::STATUS.to_owned(), s("DONE"))]);
        assert!(parse_record("j", &item).unwrap_err().reason.contains("unknown status"));
        let item = HashMap::from([
            (attr::STATUS.to_owned(), s("QUEUED")),
            (attr::ATTEMPTS.to_owned(), n("x")),
            (attr::RECEIPTS.to_owned(), AttributeValue::L(vec![s("r1"), n(2)])),
        ]);
        assert_eq!(parse_record("j", &item).unwrap().state.attempts, 0);
        assert_eq!(receipts(&item), vec!["r1".to_owned()]);
    }
}
