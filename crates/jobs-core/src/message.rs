//! The job message: the JSON body that travels on SQS from the API or a schedule to the worker.
//!
//! ```json
//! {"v":1,"jobId":"0193…","job":"sleep","payload":{"ms":500},
//!  "submittedAt":"2026-11-21T10:00:00Z","source":"api"}
//! ```
//!
//! The envelope is versioned (`v`). A body that is not JSON, has an unknown version or misses a
//! field is a [`MessageError`], never a panic. The error keeps the job id when one could be read so
//! the worker can record the job as FAILED.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalog::JobSpec;
use crate::overlap::Overlap;
use crate::pools::Priority;
use crate::tenants::Tenant;

/// The only envelope version this build reads and writes.
pub const MESSAGE_VERSION: u32 = 1;

/// SQS's classic maximum message size (256 KiB). The API refuses larger jobs before sending, so
/// the same message can also travel through EventBridge Scheduler and the dead-letter queue.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Why a message body cannot travel on SQS. SQS refuses a whole `SendMessage` whose body holds a
/// character outside its set, so a job with one would be recorded and never delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsendable {
    #[error("the job message is {size} bytes; SQS takes at most {MAX_MESSAGE_BYTES}")]
    TooLarge { size: usize },
    #[error(
        "the job message contains U+{code:04X} at byte {at}: SQS carries only #x9, #xA, #xD, #x20-#xD7FF, \
         #xE000-#xFFFD and #x10000-#x10FFFF"
    )]
    Character { code: u32, at: usize },
}

/// Whether SQS carries `c` in a message body (its documented character set).
pub fn sqs_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks a body against what SQS (and EventBridge Scheduler, which sends it on) accepts: its
/// size, then its characters.
pub fn check_sendable(body: &str) -> Result<(), Unsendable> {
    if body.len() > MAX_MESSAGE_BYTES {
        return Err(Unsendable::TooLarge { size: body.len() });
    }
    match body.char_indices().find(|(_, c)| !sqs_char(*c)) {
        Some((at, c)) => Err(Unsendable::Character { code: c as u32, at }),
        None => Ok(()),
    }
}

/// The longest job id accepted (ids from schedules are the scheduler's execution id).
pub const MAX_JOB_ID_LEN: usize = 128;

/// EventBridge Scheduler replaces these context attributes in a schedule's input at each firing.
/// The execution id changes with every attempted invocation (a Scheduler retry gets a new one), so
/// job ids are derived from the schedule and the scheduled time instead: one firing, one job.
/// Schedules created by earlier versions still carry the execution id; it is ignored.
pub const SCHEDULER_EXECUTION_ID: &str = "<aws.scheduler.execution-id>";
pub const SCHEDULER_SCHEDULED_TIME: &str = "<aws.scheduler.scheduled-time>";
/// Job ids of scheduled jobs: `sched:<schedule>:<scheduled time>`.
pub const SCHEDULED_JOB_PREFIX: &str = "sched:";

/// Who put the job on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Api,
    Schedule,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Schedule => "schedule",
        }
    }
}

/// One job on the queue. `payload` is kept as JSON here; [`crate::catalog::JobSpec`] gives it a type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobMessage {
    pub v: u32,
    /// Absent in a schedule's template: derived from the schedule and the scheduled time.
    #[serde(default)]
    pub job_id: String,
    /// The job kind's name (`"job"` on the wire, as in the API's request body).
    #[serde(rename = "job")]
    pub kind: String,
    #[serde(default)]
    pub payload: Value,
    pub submitted_at: DateTime<Utc>,
    pub source: Source,
    /// The schedule that fired this job, for `source: schedule`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The schedule's overlap policy (see [`crate::overlap`]).
    #[serde(default, skip_serializing_if = "Overlap::is_allow")]
    pub overlap: Overlap,
    /// The job this one retries (`POST /jobs/{id}/retry`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// Its priority within its pool (the queue it travels on). Written only when `high`, so a
    /// normal job's message reads the same to a worker of an earlier release.
    #[serde(default, skip_serializing_if = "is_normal")]
    pub priority: Priority,
    /// Whose job it is (see [`crate::tenants`]). Every message this release writes names it; a
    /// message from before tenants (or a schedule made then) names none, and the job's item, or
    /// else [`Tenant::of_submitter`], says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Tenant>,
}

fn is_normal(p: &Priority) -> bool {
    *p == Priority::Normal
}

/// Why a body is not a usable job message. Carries the job id when one could be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct MessageError {
    pub job_id: Option<String>,
    /// The message's `submittedAt`, when one could be read: when its job began.
    pub submitted_at: Option<DateTime<Utc>>,
    pub reason: String,
}

impl JobMessage {
    /// A new message for a job submitted through the API, with a fresh time-ordered id.
    pub fn new_api(kind: &str, payload: Value, now: DateTime<Utc>) -> Self {
        JobMessage {
            v: MESSAGE_VERSION,
            job_id: uuid::Uuid::now_v7().to_string(),
            kind: kind.to_owned(),
            payload,
            submitted_at: now,
            source: Source::Api,
            schedule: None,
            overlap: Overlap::Allow,
            retry_of: None,
            priority: Priority::Normal,
            tenant: None,
        }
    }

    /// The message of a validated job (its payload with every default filled in).
    pub fn for_spec(spec: &JobSpec, now: DateTime<Utc>) -> Self {
        Self::new_api(spec.kind(), spec.payload(), now)
    }

    /// The message template of a schedule: EventBridge Scheduler fills in the scheduled time at
    /// each firing, and the job id follows from it.
    pub fn schedule_template(
        spec: &JobSpec,
        schedule: &str,
        overlap: Overlap,
        priority: Priority,
        tenant: &Tenant,
    ) -> String {
        let mut template = serde_json::json!({
            "v": MESSAGE_VERSION,
            "job": spec.kind(),
            "payload": spec.payload(),
            "submittedAt": SCHEDULER_SCHEDULED_TIME,
            "source": Source::Schedule,
            "schedule": schedule,
            "tenant": tenant,
        });
        if !overlap.is_allow() {
            template["overlap"] = serde_json::json!(overlap);
        }
        if priority != Priority::Normal {
            template["priority"] = serde_json::json!(priority);
        }
        template.to_string()
    }

    /// Parses and checks a message body. Never panics.
    pub fn parse(body: &str) -> Result<Self, MessageError> {
        Self::parse_received(body, None, None)
    }

    /// Parses a message as received from SQS. A scheduled job's id is `sched:<schedule>:<scheduled
    /// time>`, so a firing that the Scheduler delivers twice is one job. Emulators deliver a
    /// schedule's input without replacing the placeholders; then `received_at` stands in for the
    /// scheduled time and the SQS message id (unique per firing there) for it in the job id.
    pub fn parse_received(
        body: &str,
        message_id: Option<&str>,
        received_at: Option<DateTime<Utc>>,
    ) -> Result<Self, MessageError> {
        let mut value: Value = serde_json::from_str(body).map_err(|e| MessageError {
            job_id: None,
            submitted_at: None,
            reason: format!("message body is not JSON: {e}"),
        })?;
        if value.get("source").and_then(Value::as_str) == Some("schedule") {
            scheduled_job_id(&mut value, message_id, received_at);
        }
        let job_id = value.get("jobId").and_then(Value::as_str).filter(|id| valid_job_id(id)).map(str::to_owned);
        let submitted_at = value.get("submittedAt").and_then(Value::as_str).and_then(|t| t.parse().ok());
        let fail = |reason: String| MessageError { job_id: job_id.clone(), submitted_at, reason };
        match value.get("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(MESSAGE_VERSION as u64) => {}
            Some(other) => return Err(fail(format!("unsupported message version {other}"))),
            None => return Err(fail("message has no version field \"v\"".into())),
        }
        let msg: JobMessage = serde_json::from_value(value).map_err(|e| fail(format!("malformed job message: {e}")))?;
        if !valid_job_id(&msg.job_id) {
            return Err(fail(format!(
                "invalid jobId {:?}: 1-{MAX_JOB_ID_LEN} characters of A-Z a-z 0-9 - _ . :",
                msg.job_id
            )));
        }
        if msg.source == Source::Schedule && msg.schedule.as_deref().unwrap_or("").is_empty() {
            return Err(fail("a message from a schedule must name the schedule".into()));
        }
        Ok(msg)
    }

    /// Who triggered the job, as far as the message tells: a schedule's firing names it (an API
    /// job's submitter is recorded by the API on the job item, see [`crate::submitter`]).
    pub fn submitter(&self) -> Option<String> {
        match (self.source, &self.schedule) {
            (Source::Schedule, Some(name)) => Some(crate::submitter::of_schedule(name)),
            _ => None,
        }
    }

    /// The job's tenant: the message's, else the one its submitter implies.
    pub fn tenant_or_of(&self, submitter: &str) -> Tenant {
        self.tenant.clone().unwrap_or_else(|| Tenant::of_submitter(submitter))
    }

    /// The body to put on the queue.
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("a JobMessage always serializes")
    }

    /// The body, if SQS can carry it (see [`check_sendable`]).
    pub fn sendable_body(&self) -> Result<String, Unsendable> {
        let body = self.to_body();
        check_sendable(&body)?;
        Ok(body)
    }
}

/// Gives a scheduled message its job id (unless it has one from this scheme already, as a copy
/// the worker re-sent does) and fills in a missing scheduled time.
fn scheduled_job_id(value: &mut Value, message_id: Option<&str>, received_at: Option<DateTime<Utc>>) {
    let Some(map) = value.as_object_mut() else { return };
    if map.get("jobId").and_then(Value::as_str).is_some_and(|id| id.starts_with(SCHEDULED_JOB_PREFIX)) {
        return;
    }
    let schedule = map.get("schedule").and_then(Value::as_str).unwrap_or_default().to_owned();
    let time = map.get("submittedAt").and_then(Value::as_str).unwrap_or_default().to_owned();
    let firing = match time.parse::<DateTime<Utc>>() {
        Ok(at) => Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        Err(_) if time == SCHEDULER_SCHEDULED_TIME => {
            if let Some(at) = received_at {
                map.insert("submittedAt".into(), Value::String(at.to_rfc3339()));
            }
            message_id.map(str::to_owned)
        }
        Err(_) => None,
    };
    if let Some(firing) = firing.filter(|_| !schedule.is_empty()) {
        map.insert("jobId".into(), Value::String(format!("{SCHEDULED_JOB_PREFIX}{schedule}:{firing}")));
    }
}

/// The tenant a message body names (only that field is kept; the rest is skipped): the SQS
/// message group of every send (`MessageGroupId`, which makes a standard queue a fair queue in
/// AWS: a tenant with a backlog no longer delays the others' messages). `None` for a body that
/// is not a job message or names no valid tenant (a message from before tenants): SQS then
/// treats it as a tenant of its own.
pub fn tenant_in(body: &str) -> Option<Tenant> {
    #[derive(Deserialize)]
    struct Peek {
        tenant: Option<Tenant>,
    }
    serde_json::from_str::<Peek>(body).ok()?.tenant
}

/// Whether job `job_id` is a schedule's firing: the only job whose item its message's first
/// receipt creates. Any other job is recorded before its message is sent, so a message whose item
/// is gone belongs to a job that ended and expired: it must not be created again.
pub fn is_firing(job_id: &str) -> bool {
    job_id.starts_with(SCHEDULED_JOB_PREFIX)
}

/// Whether firing `job_id`, scheduled at `scheduled_at`, is older than an ended job is kept
/// (`retention`): with no item it is not new but a late copy (a redrive, a duplicate) of one
/// whose job ended and expired, and creating it would run and count it again. (A firing that
/// truly waited that long is dropped too: it is older than any job the table keeps.)
pub fn is_expired_firing(job_id: &str, scheduled_at: DateTime<Utc>, now: DateTime<Utc>, retention: Duration) -> bool {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    is_firing(job_id) && scheduled_at.checked_add_signed(retention).is_some_and(|end| end < now)
}

/// Job ids are used in DynamoDB keys and logs: keep them short and plain.
pub fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_JOB_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_firing_older_than_the_retention_is_expired() {
        let t = |s: i64| DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap();
        let day = Duration::from_secs(86_400);
        for (id, scheduled, now, expired) in [
            ("sched:nightly:x", t(0), t(86_399), false),
            ("sched:nightly:x", t(0), t(86_400), false),
            ("sched:nightly:x", t(0), t(86_401), true),
            ("job-1", t(0), t(10 * 86_400), false),
            ("sched:nightly:x", t(0), t(-5), false),
        ] {
            assert_eq!(is_expired_firing(id, scheduled, now, day), expired, "{id} at {now}");
        }
        assert!(!is_expired_firing("sched:a:b", t(0), t(1 << 40), Duration::MAX), "no overflow");
    }

    use super::*;
    use serde_json::json;

    fn t() -> Tenant {
        Tenant::parse("t").unwrap()
    }

    fn body(v: Value) -> String {
        v.to_string()
    }

    #[test]
    fn round_trips() {
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        let msg = JobMessage::new_api("sleep", json!({"ms": 5}), now);
        let parsed = JobMessage::parse(&msg.to_body()).unwrap();
        assert_eq!(parsed, msg);
        assert_eq!(parsed.job_id.len(), 36);
        let wire: Value = serde_json::from_str(&msg.to_body()).unwrap();
        assert_eq!(wire["job"], "sleep");
        assert_eq!(wire["source"], "api");
        assert!(wire.get("schedule").is_none());
    }

    /// A rolling deploy across pools: a new API's normal message is the body an earlier worker
    /// reads (no `priority` key); a high one carries it, and to a worker that does not know the
    /// field it is a message naming its job (handed back within the skew window, as the rollout
    /// test in data-processor/tests/worker.rs shows for what a build cannot run), never one that
    /// names none.
    #[test]
    fn priority_is_written_only_when_high_and_an_unknown_field_keeps_the_job_id() {
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        let normal = JobMessage::new_api("noop", json!({}), now);
        assert!(!normal.to_body().contains("priority"), "{}", normal.to_body());
        let high = JobMessage { priority: Priority::High, ..normal.clone() };
        assert!(high.to_body().contains(r#""priority":"high""#), "{}", high.to_body());
        assert_eq!(JobMessage::parse(&high.to_body()).unwrap(), high);
        let schedule = JobMessage::schedule_template(
            &JobSpec::parse("noop", json!({})).unwrap(),
            "s",
            Overlap::Allow,
            Priority::Normal,
            &t(),
        );
        assert!(!schedule.contains("priority"), "{schedule}");
        // A newer producer's field: the job id and its start survive the refusal.
        let mut newer: Value = serde_json::from_str(&normal.to_body()).unwrap();
        newer["deadline"] = json!("2026-11-22T00:00:00Z");
        let e = JobMessage::parse(&newer.to_string()).unwrap_err();
        assert_eq!((e.job_id.as_deref(), e.submitted_at), (Some(normal.job_id.as_str()), Some(now)), "{e:?}");
        assert!(e.reason.contains("unknown field `deadline`"), "{}", e.reason);
    }

    /// The tenant travels on every message this release writes; one from before tenants (no key)
    /// still parses and its tenant follows from the submitter; a bad one is refused with the job
    /// id kept (the worker records why).
    #[test]
    fn the_tenant_travels_and_older_messages_have_none() {
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        let acme = Tenant::parse("acme").unwrap();
        let msg = JobMessage { tenant: Some(acme.clone()), ..JobMessage::new_api("noop", json!({}), now) };
        assert!(msg.to_body().contains(r#""tenant":"acme""#), "{}", msg.to_body());
        assert_eq!(JobMessage::parse(&msg.to_body()).unwrap(), msg);
        assert_eq!(msg.tenant_or_of("local:ci"), acme);
        let older = JobMessage::new_api("noop", json!({}), now);
        let parsed = JobMessage::parse(&older.to_body()).unwrap();
        assert_eq!((parsed.tenant.clone(), parsed.tenant_or_of("local:ci").as_str()), (None, "ci"));
        let mut bad: Value = serde_json::from_str(&older.to_body()).unwrap();
        bad["tenant"] = json!("a b");
        let e = JobMessage::parse(&bad.to_string()).unwrap_err();
        assert_eq!(e.job_id.as_deref(), Some(older.job_id.as_str()));
        assert!(e.reason.contains("tenant"), "{}", e.reason);
        let spec = JobSpec::parse("noop", Value::Null).unwrap();
        let template = JobMessage::schedule_template(&spec, "nightly", Overlap::Allow, Priority::Normal, &acme);
        let fired = JobMessage::parse_received(&template, Some("m-1"), Some(now)).unwrap();
        assert_eq!(fired.tenant, Some(acme));
        // A template from before tenants: its firings are the default tenant's.
        let old_template = template.replace(r#","tenant":"acme""#, "");
        assert!(!old_template.contains("tenant"), "{old_template}");
        let fired = JobMessage::parse_received(&old_template, Some("m-2"), Some(now)).unwrap();
        assert_eq!(fired.tenant_or_of(&fired.submitter().unwrap()).as_str(), crate::tenants::DEFAULT);
    }

    #[test]
    fn the_message_group_is_the_tenant_the_body_names() {
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        let acme = JobMessage {
            tenant: Some(Tenant::parse("acme").unwrap()),
            ..JobMessage::new_api("noop", json!({"tenant": "x"}), now)
        };
        let cases: Vec<(String, Option<&str>)> = vec![
            (acme.to_body(), Some("acme")),
            (JobMessage::new_api("noop", json!({"tenant": "x"}), now).to_body(), None),
            (r#"{"tenant":"a b"}"#.into(), None),
            (r#"{"tenant":7}"#.into(), None),
            ("not json".into(), None),
            ("".into(), None),
            ("[1]".into(), None),
        ];
        for (body, want) in cases {
            assert_eq!(tenant_in(&body).as_ref().map(Tenant::as_str), want, "{body}");
        }
    }

    #[test]
    fn only_a_schedule_names_its_submitter() {
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        assert_eq!(JobMessage::new_api("noop", json!({}), now).submitter(), None);
        let spec = JobSpec::parse("noop", Value::Null).unwrap();
        let fired = JobMessage::parse_received(
            &JobMessage::schedule_template(&spec, "nightly", Overlap::Allow, Priority::Normal, &t()),
            Some("m-1"),
            Some(now),
        )
        .unwrap();
        assert_eq!(fired.submitter().as_deref(), Some("schedule:nightly"));
    }

    #[test]
    fn parse_table() {
        let ok = json!({"v":1,"jobId":"a-1","job":"noop","submittedAt":"2026-01-01T00:00:00Z","source":"api"});
        // (body, Ok?, job id kept in the error, fragment of the reason)
        let cases: Vec<(String, bool, Option<&str>, &str)> = vec![
            (body(ok.clone()), true, None, ""),
            ("not json".into(), false, None, "not JSON"),
            ("".into(), false, None, "not JSON"),
            ("[1,2]".into(), false, None, "no version"),
            (body(json!({"jobId":"a-1"})), false, Some("a-1"), "no version"),
            (body(json!({"v":2,"jobId":"a-1","job":"noop"})), false, Some("a-1"), "unsupported message version 2"),
            (body(json!({"v":"1","jobId":"a-1"})), false, Some("a-1"), "unsupported message version"),
            (body(json!({"v":1,"jobId":"a-1","job":"noop"})), false, Some("a-1"), "missing field"),
            (
                body(json!({"v":1,"jobId":"a b","job":"noop","submittedAt":"2026-01-01T00:00:00Z","source":"api"})),
                false,
                None,
                "invalid jobId",
            ),
            (
                body(json!({"v":1,"jobId":"a-1","job":"noop","submittedAt":"yesterday","source":"api"})),
                false,
                Some("a-1"),
                "malformed",
            ),
            (
                body(json!({"v":1,"jobId":"a-1","job":"noop","submittedAt":"2026-01-01T00:00:00Z","source":"cron"})),
                false,
                Some("a-1"),
                "unknown variant",
            ),
            (
                body(
                    json!({"v":1,"jobId":"a-1","job":"noop","submittedAt":"2026-01-01T00:00:00Z","source":"schedule"}),
                ),
                false,
                Some("a-1"),
                "must name the schedule",
            ),
            (
                body(
                    json!({"v":1,"jobId":"a-1","job":"noop","submittedAt":"2026-01-01T00:00:00Z","source":"api","extra":1}),
                ),
                false,
                Some("a-1"),
                "unknown field",
            ),
        ];
        for (input, ok, id, reason) in cases {
            match JobMessage::parse(&input) {
                Ok(_) => assert!(ok, "{input} should not parse"),
                Err(e) => {
                    assert!(!ok, "{input} should parse: {e}");
                    assert_eq!(e.job_id.as_deref(), id, "{input}");
                    assert!(e.reason.contains(reason), "{input}: {} lacks {reason}", e.reason);
                }
            }
        }
    }

    #[test]
    fn scheduled_job_ids_follow_the_schedule_and_the_scheduled_time() {
        let spec = JobSpec::parse("sleep", json!({"ms": 1})).unwrap();
        let body = JobMessage::schedule_template(&spec, "nightly", Overlap::Allow, Priority::Normal, &t());
        let forbid = JobMessage::schedule_template(&spec, "nightly", Overlap::Forbid, Priority::Normal, &t());
        let at0: DateTime<Utc> = "2026-11-21T07:00:00Z".parse().unwrap();
        let fired = JobMessage::parse_received(&forbid, Some("m-0"), Some(at0)).unwrap();
        assert_eq!(fired.overlap, Overlap::Forbid, "the policy travels with each firing");
        assert!(!body.contains("overlap"), "allow is the default, not written");
        assert!(!body.contains(SCHEDULER_EXECUTION_ID), "the per-invocation id is not used: {body}");
        let at: DateTime<Utc> = "2026-11-21T07:00:05Z".parse().unwrap();
        // As EventBridge delivers it; a Scheduler retry of the same firing is the same job.
        let fired = body.replace(SCHEDULER_SCHEDULED_TIME, "2026-11-21T07:00:00Z");
        for message_id in ["m-1", "m-2"] {
            let msg = JobMessage::parse_received(&fired, Some(message_id), Some(at)).unwrap();
            assert_eq!(msg.job_id, "sched:nightly:2026-11-21T07:00:00Z");
            assert_eq!(msg.submitted_at, "2026-11-21T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
            assert_eq!((msg.source, msg.schedule.as_deref()), (Source::Schedule, Some("nightly")));
            // A copy the worker re-sends keeps its id.
            assert_eq!(JobMessage::parse_received(&msg.to_body(), Some("m-9"), None).unwrap(), msg);
        }
        // A schedule made by an earlier version carried the execution id: ignored the same way.
        let legacy = fired.replacen("{", "{\"jobId\":\"d32c5kddcf5bb8c3\",", 1);
        let msg = JobMessage::parse_received(&legacy, Some("m-3"), Some(at)).unwrap();
        assert_eq!(msg.job_id, "sched:nightly:2026-11-21T07:00:00Z");
        // As an emulator delivers it (placeholders kept): the SQS message id stands in.
        let msg = JobMessage::parse_received(&body, Some("m-1"), Some(at)).unwrap();
        assert_eq!((msg.job_id.as_str(), msg.submitted_at), ("sched:nightly:m-1", at));
        // Without the stand-ins the template is not a job.
        let err = JobMessage::parse(&body).unwrap_err();
        assert!(err.reason.contains("malformed job message"), "{}", err.reason);
        let err = JobMessage::parse_received(&body, None, Some(at)).unwrap_err();
        assert!(err.reason.contains("invalid jobId"), "{}", err.reason);
        // Only scheduled messages get a derived id.
        let api = body.replace("\"schedule\",\"submittedAt", "\"api\",\"submittedAt");
        assert!(JobMessage::parse_received(&api, Some("m-1"), Some(at)).is_err());
    }

    #[test]
    fn sendable_table() {
        let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
        let at_limit = "x".repeat(MAX_MESSAGE_BYTES);
        // (body, expected)
        let cases: Vec<(&str, Result<(), Unsendable>)> = vec![
            ("{}", Ok(())),
            ("tab\tnl\ncr\r", Ok(())),
            ("\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}", Ok(())),
            ("ü€😀", Ok(())),
            (&at_limit, Ok(())),
            (&big, Err(Unsendable::TooLarge { size: MAX_MESSAGE_BYTES + 1 })),
            ("a\u{FFFF}", Err(Unsendable::Character { code: 0xFFFF, at: 1 })),
            ("\u{FFFE}", Err(Unsendable::Character { code: 0xFFFE, at: 0 })),
            ("ab\u{0}", Err(Unsendable::Character { code: 0, at: 2 })),
            ("\u{1F}", Err(Unsendable::Character { code: 0x1F, at: 0 })),
        ];
        for (body, want) in cases {
            assert_eq!(check_sendable(body), want, "{:?}", body.chars().take(8).collect::<String>());
        }
        let err = check_sendable("\u{FFFF}").unwrap_err().to_string();
        assert!(err.contains("U+FFFF") && err.contains("#xE000-#xFFFD"), "{err}");
    }

    #[test]
    fn json_escapes_control_characters_but_not_nonchars() {
        let now = "2026-11-21T10:00:00Z".parse().unwrap();
        // serde_json writes U+0000-U+001F as \u escapes: those payloads travel.
        let ok = JobMessage::new_api("fail", json!({"message": "a\u{0}b\u{1F}"}), now);
        assert!(ok.sendable_body().is_ok());
        // U+FFFF is written as it is, and SQS refuses it.
        let poison = JobMessage::new_api("fail", json!({"message": "\u{FFFF}"}), now);
        assert!(matches!(poison.sendable_body(), Err(Unsendable::Character { code: 0xFFFF, .. })));
    }

    #[test]
    fn job_id_rules() {
        assert!(valid_job_id("0193a0c0-7e1f-7000-8000-000000000000"));
        assert!(valid_job_id("sched:daily.1_2"));
        assert!(!valid_job_id(""));
        assert!(!valid_job_id("<aws.scheduler.execution-id>"));
        assert!(!valid_job_id(&"x".repeat(MAX_JOB_ID_LEN + 1)));
        assert!(valid_job_id(&"x".repeat(MAX_JOB_ID_LEN)));
    }
}
