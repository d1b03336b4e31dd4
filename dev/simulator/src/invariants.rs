//! What must hold once a run has settled (docs/worker.md, *Guarantees*), read from the world
//! without faults:
//!
//! - **G1.** Every job in the table is in a terminal state, and every job the API accepted is in
//!   the table.
//! - **G2.** The counters equal what the items say: submitted = jobs, succeeded, failed,
//!   cancelled and skipped = jobs in that state, retries = the sum of `attempts − 1`.
//! - **G3.** Attempts within the job's policy; a job ends as its kind decides (a good run
//!   `SUCCEEDED`, a failing one `FAILED`), `CANCELLED` only if a cancel was sent. The one
//!   documented exception: a good run stopped or killed more than `MAX_INTERRUPTIONS` times in
//!   each of its attempts ends `FAILED` saying so (`interrupted`/`abandoned N times`).
//! - **Queues.** Nothing is left on any queue: every message was consumed, or drained from its
//!   dead-letter queue.
//! - **One runner at a time.** No write takes a RUNNING job's live lease over: a takeover comes
//!   only once less than a third of the visibility timeout is left (docs/worker.md), give or take
//!   the clocks' skew. Checked on every committed write ([`writes`]).
//! - **One end.** No write changes the status of a job that has ended: its terminal state is
//!   final (checked on every committed write).
//! - **Only ended jobs expire.** The table's TTL deletes no job that has not ended, nor one that
//!   still holds a slot of its tenant (checked on every TTL deletion); an ended job that expired
//!   still counts in G1–G3 as it ended.
//! - **Overlap.** At most one job of a schedule that forbids overlap is open at any time (checked
//!   on every committed write); its other firings end `SKIPPED`. A fired job ends as its kind
//!   decides (`sleep`: `SUCCEEDED`), or `SKIPPED` under `forbid`, with the same exception as G3.
//! - **Idempotency.** A request with an `Idempotency-Key`, tried again after failures, makes at
//!   most one job, and is answered with one of its own tries' jobs (never another caller's).
//! - **Poison.** The API refuses a job whose message SQS would refuse, and writes nothing for it;
//!   a job an earlier API recorded with such a message ends `FAILED` saying it cannot be sent.

use std::collections::{BTreeSet, HashMap};

use jobs_core::JobStatus;

use jobs_aws::JobRecord;
use jobs_aws::store::item::{self, attr};
use jobs_sim::dynamo::{Item, Written};

use crate::api::{Answers, Expect};
use crate::violation::Violation;
use crate::world::{TABLE, World};

/// A takeover is allowed once less than this is left on the lease by the taker's clock: a third
/// of the visibility timeout (60 s) ...
const TAKEOVER_GRACE_MS: i64 = 20_000;
/// ... and clocks differ by up to twice a pod's skew.
const SKEW_MS: i64 = 2 * crate::pods::MAX_SKEW_MS as i64;

/// The most attempts of a fired `sleep` job: the workers' default (`MAX_ATTEMPTS`, 3).
const FIRED_MAX_ATTEMPTS: u32 = 3;

/// A job ends "not started" only while its lane's image is missing: at the latest one look of the
/// reconciler (a pass every 10 s, a job every minute) after it is back, its clock up to 1 s off.
const NOT_STARTED_SLACK: chrono::Duration = chrono::Duration::seconds(75);

/// What the checks saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    pub jobs: usize,
    /// Good runs that ended FAILED the documented way (interrupted too often).
    pub interrupted_out: usize,
    /// Firings of a forbidding schedule that ended SKIPPED (an earlier job was open).
    pub skipped: usize,
    /// Jobs of a lane whose image was missing that ended FAILED, not started within its deadline.
    pub not_started: usize,
}

/// Whether every job in the table is terminal (the run has settled), and nothing is queued.
pub fn settled(world: &World) -> bool {
    let sqs = world.sqs.world();
    let queues_empty = sqs.urls().iter().all(|url| sqs.messages(url).is_empty());
    drop(sqs);
    queues_empty && jobs(world).iter().all(|(_, status)| status.is_terminal())
}

/// Every job item's id and status, read from the world directly.
fn jobs(world: &World) -> Vec<(String, JobStatus)> {
    let items = world.dynamo.world().items(TABLE);
    items
        .iter()
        .filter_map(|item| {
            let id = item.get("jobId")?.as_s().ok()?.clone();
            let status = JobStatus::parse(item.get("status")?.as_s().ok()?)?;
            Some((id, status))
        })
        .collect()
}

pub async fn check(world: &World, answers: &Answers, watch: &Watch) -> Result<Checked, Violation> {
    let (accepted, refused) = (&answers.accepted, &answers.refused);
    let clean = world.clean();
    let unreadable = |e: jobs_aws::BackendError| Violation::Unreadable(e.to_string());
    // An ended job the TTL deleted counts as it ended (a later copy may not recreate it: then it
    // would be in the table too, and the counters would not match).
    let mut records = watch.expired.clone();
    for (id, _) in jobs(world) {
        if watch.expired.contains_key(&id) {
            return Err(Violation::Recreated(id));
        }
        let record = clean.store.get(&id).await.map_err(unreadable)?.ok_or_else(|| Violation::Lost(id.clone()))?;
        if !record.state.status.is_terminal() {
            let r = &record;
            let detail = format!(
                "attempts {}, interruptions {}, lease {:?}, due {:?}, updated {:?}, sent {:?}, resends {}, error {:?}",
                r.state.attempts,
                r.state.interruptions,
                r.state.lease,
                r.due_at,
                r.updated_at,
                r.sent_at,
                r.resends,
                r.last_error
            );
            return Err(Violation::NotTerminal { job_id: id, status: record.state.status, detail });
        }
        records.insert(id, record);
    }
    if let Some(id) = refused.iter().find(|id| records.contains_key(*id)) {
        return Err(Violation::RefusedButWritten(id.clone()));
    }
    for a in accepted {
        if !records.contains_key(&a.job_id) {
            return Err(Violation::Lost(a.job_id.clone()));
        }
    }
    for k in &answers.keys {
        let made: Vec<&String> = k.tried.iter().filter(|id| records.contains_key(*id)).collect();
        let foreign = k.answered.as_ref().filter(|id| !k.tried.contains(id));
        if made.len() > 1 || foreign.is_some() {
            let (caller, key) = (k.caller.to_owned(), k.key.clone());
            let made = made.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(", ");
            let answered = k.answered.clone().unwrap_or_default();
            return Err(Violation::Idempotency { caller, key, made, answered });
        }
    }
    let stats = clean.store.stats().await.map_err(unreadable)?;
    let count = |s: JobStatus| records.values().filter(|r| r.state.status == s).count() as u64;
    let retries = records.values().map(|r| u64::from(r.state.attempts.saturating_sub(1))).sum();
    for (name, counted, items) in [
        ("submitted", stats.submitted, records.len() as u64),
        ("succeeded", stats.succeeded, count(JobStatus::Succeeded)),
        ("failed", stats.failed, count(JobStatus::Failed)),
        ("cancelled", stats.cancelled, count(JobStatus::Cancelled)),
        ("skipped", stats.skipped, count(JobStatus::Skipped)),
        ("retries", stats.retries, retries),
    ] {
        if counted != items {
            return Err(Violation::Counter { name, counted, items });
        }
    }
    let mut checked = Checked { jobs: records.len(), ..Checked::default() };
    for a in accepted {
        let r = &records[&a.job_id];
        if r.state.attempts > a.max_attempts {
            let (job_id, kind) = (a.job_id.clone(), a.kind.to_owned());
            return Err(Violation::Attempts { job_id, kind, attempts: r.state.attempts, max: a.max_attempts });
        }
        let error = r.last_error.clone().unwrap_or_default();
        let interrupted_out = error.contains("interrupted") || error.contains("abandoned");
        let ok = match (r.state.status, a.expect) {
            (JobStatus::Cancelled, _) => a.cancel_sent,
            // Its lane ran nothing past its start deadline: only while the lane's image was
            // missing (docs/worker.md, start deadlines).
            (JobStatus::Failed, _)
                if watch.missing_image.is_some_and(|(lane, until)| {
                    lane == jobs_core::catalog::lane_of(a.kind)
                        && r.finished_at.is_some_and(|at| at <= until + NOT_STARTED_SLACK)
                }) && error.starts_with("not started within") =>
            {
                checked.not_started += 1;
                true
            }
            (JobStatus::Succeeded, Expect::Succeed) | (JobStatus::Failed, Expect::Fail) => true,
            (JobStatus::Failed, Expect::Unsendable) => error.contains("cannot be sent"),
            (JobStatus::Failed, Expect::TimedOut) => error.contains("timed out") || interrupted_out,
            (JobStatus::Failed, Expect::Succeed) if interrupted_out => {
                checked.interrupted_out += 1;
                true
            }
            _ => false,
        };
        if !ok {
            let expected = match (a.expect, a.cancel_sent) {
                (Expect::Succeed, false) => "SUCCEEDED",
                (Expect::Succeed, true) => "SUCCEEDED or CANCELLED",
                (Expect::Fail, false) => "FAILED",
                (Expect::Fail, true) => "FAILED or CANCELLED",
                (Expect::Unsendable, false) => "FAILED (its message cannot be sent)",
                (Expect::Unsendable, true) => "FAILED (its message cannot be sent) or CANCELLED",
                (Expect::TimedOut, false) => "FAILED (timed out)",
                (Expect::TimedOut, true) => "FAILED (timed out) or CANCELLED",
            };
            let (job_id, kind, status) = (a.job_id.clone(), a.kind.to_owned(), r.state.status);
            return Err(Violation::WrongEnd { job_id, kind, status, expected, error });
        }
    }
    for r in records.values() {
        let Some(schedule) = r.schedule() else { continue };
        let error = r.last_error.clone().unwrap_or_default();
        let ok = match r.state.status {
            JobStatus::Succeeded => true,
            JobStatus::Skipped if watch.forbid.contains(schedule) => {
                checked.skipped += 1;
                true
            }
            JobStatus::Failed if error.contains("interrupted") || error.contains("abandoned") => {
                checked.interrupted_out += 1;
                true
            }
            _ => false,
        };
        if !ok {
            let (job_id, schedule, status) = (r.job_id.clone(), schedule.to_owned(), r.state.status);
            return Err(Violation::WrongFiredEnd { job_id, schedule, status, error });
        }
        if r.state.attempts > FIRED_MAX_ATTEMPTS {
            let (job_id, kind) = (r.job_id.clone(), r.kind().unwrap_or_default().to_owned());
            return Err(Violation::Attempts { job_id, kind, attempts: r.state.attempts, max: FIRED_MAX_ATTEMPTS });
        }
    }
    let sqs = world.sqs.world();
    for url in sqs.urls() {
        let left = sqs.messages(&url).len();
        if left > 0 {
            return Err(Violation::LeftOnQueue { queue: sqs.name(&url).unwrap_or_default().to_owned(), left });
        }
    }
    Ok(checked)
}

/// What the per-write checks saw over a run.
#[derive(Debug, Default)]
pub struct Watch {
    /// Leases taken over from a worker that had stopped renewing (all within the rule).
    pub takeovers: u64,
    /// Ended jobs the TTL deleted, as they were.
    pub expired: HashMap<String, JobRecord>,
    /// The schedules that forbid overlap ...
    pub forbid: BTreeSet<String>,
    /// ... and their open jobs, by schedule.
    open: HashMap<String, BTreeSet<String>>,
    /// The limited tenant's `maxRunning` as its item says, and its RUNNING jobs in its slots.
    limit: Option<u64>,
    running: BTreeSet<String>,
    /// The most of them RUNNING at once.
    pub most_running: u64,
    /// The lane whose image was missing for a while in this run (its pods could not start), and
    /// when it was back.
    pub missing_image: Option<(&'static str, chrono::DateTime<chrono::Utc>)>,
}

impl Watch {
    /// Checks the writes committed since the last call (the world's journal).
    pub fn look(&mut self, world: &World) -> Result<(), Violation> {
        let written = world.dynamo.world().take_journal();
        self.writes(&written)
    }

    /// Every committed write against the per-write invariants: no RUNNING job's lease taken over
    /// while it had more left than a takeover allows (the world's true time `epoch + at`), no
    /// ended job's status changed, no job deleted by the TTL before it ended.
    pub fn writes(&mut self, writes: &[Written]) -> Result<(), Violation> {
        for w in writes.iter().filter(|w| w.table == TABLE) {
            // A job item made again after the TTL deleted it: the job would run and count twice.
            if let (None, Some(new)) = (&w.old, &w.new)
                && let Some(job_id) = text(new, attr::JOB_ID).filter(|id| self.expired.contains_key(id))
                && new.contains_key(attr::STATUS)
            {
                return Err(Violation::Recreated(job_id));
            }
            if w.ttl {
                self.expired(w)?;
            } else {
                self.takeovers += changed(w)?;
            }
            self.overlap(w)?;
            self.limited(w)?;
        }
        Ok(())
    }

    /// The limited tenant's RUNNING jobs that hold a slot after write `w`: never more than its
    /// limit (only raised in a run: a lowered one stops nothing that runs; and a job admitted
    /// before the limit was set, which took no slot, does not count: docs/tenants.md).
    fn limited(&mut self, w: &Written) -> Result<(), Violation> {
        let Some(item) = w.new.as_ref().or(w.old.as_ref()) else { return Ok(()) };
        let key = text(item, jobs_aws::resources::TABLE_KEY).unwrap_or_default();
        if key == format!("TENANT#{}", crate::tenants::LIMITED) {
            let number = item.get(jobs_aws::store::tenants::attr::MAX_RUNNING).and_then(|v| v.as_n().ok());
            self.limit = number.and_then(|n| n.parse().ok());
            return Ok(());
        }
        let Some(job_id) = text(item, attr::JOB_ID) else { return Ok(()) };
        if text(item, attr::TENANT).as_deref() != Some(crate::tenants::LIMITED) || !key.starts_with("JOB#") {
            return Ok(());
        }
        let running = |item: &Item| {
            text(item, attr::STATUS).as_deref() == Some(JobStatus::Running.as_str()) && item::holds_slot(item)
        };
        if w.new.as_ref().is_some_and(running) {
            self.running.insert(job_id);
        } else {
            self.running.remove(&job_id);
        }
        let running = self.running.len() as u64;
        self.most_running = self.most_running.max(running);
        match self.limit {
            Some(limit) if running > limit => {
                Err(Violation::OverLimit { tenant: crate::tenants::LIMITED.to_owned(), running, limit })
            }
            _ => Ok(()),
        }
    }

    /// A forbidding schedule's open jobs after write `w`: at most one.
    fn overlap(&mut self, w: &Written) -> Result<(), Violation> {
        let Some(item) = w.new.as_ref().or(w.old.as_ref()) else { return Ok(()) };
        let (Some(schedule), Some(job_id)) = (text(item, attr::SCHEDULE), text(item, attr::JOB_ID)) else {
            return Ok(());
        };
        if !self.forbid.contains(&schedule) {
            return Ok(());
        }
        let open =
            |item: &Item| text(item, attr::STATUS).and_then(|s| JobStatus::parse(&s)).is_some_and(|s| !s.is_terminal());
        let jobs = self.open.entry(schedule.clone()).or_default();
        if w.new.as_ref().is_some_and(open) {
            jobs.insert(job_id);
        } else {
            jobs.remove(&job_id);
        }
        if jobs.len() > 1 {
            return Err(Violation::Overlap { schedule, jobs: jobs.iter().cloned().collect::<Vec<_>>().join(", ") });
        }
        Ok(())
    }

    fn expired(&mut self, w: &Written) -> Result<(), Violation> {
        let Some(old) = &w.old else { return Ok(()) };
        let Some(job_id) = text(old, attr::JOB_ID) else { return Ok(()) };
        // Only job items: a schedule's lock and the idempotency items have their own rules.
        let Ok(record) = item::parse_record(&job_id, old) else { return Ok(()) };
        if item::holds_slot(old) {
            return Err(Violation::ExpiredHoldingSlot(job_id));
        }
        if !record.state.status.is_terminal() {
            return Err(Violation::OpenJobExpired { job_id, status: record.state.status.as_str().to_owned() });
        }
        self.expired.insert(job_id, record);
        Ok(())
    }
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// One committed change against "one runner at a time" and "one end"; 1 if it took a lease over.
fn changed(w: &Written) -> Result<u64, Violation> {
    let number =
        |item: &Item, name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok());
    let (Some(old), Some(new)) = (&w.old, &w.new) else { return Ok(0) };
    let status = |item: &Item| text(item, attr::STATUS).and_then(|s| JobStatus::parse(&s));
    if let (Some(from), Some(to)) = (status(old), status(new))
        && from.is_terminal()
        && from != to
    {
        let job_id = text(new, attr::JOB_ID).unwrap_or_default();
        return Err(Violation::EndChanged { job_id, from: from.as_str().into(), to: to.as_str().into() });
    }
    let running = |item: &Item| text(item, attr::STATUS).as_deref() == Some(JobStatus::Running.as_str());
    let (Some(from), Some(to)) = (text(old, attr::LEASE_OWNER), text(new, attr::LEASE_OWNER)) else { return Ok(0) };
    if !(running(old) && running(new)) || from == to {
        return Ok(0);
    }
    let now = (jobs_sim::clock::epoch() + std::time::Duration::from_millis(w.at)).timestamp_millis();
    let left_ms = number(old, attr::LEASE_UNTIL).unwrap_or(i64::MIN) - now;
    if left_ms > TAKEOVER_GRACE_MS + SKEW_MS {
        let job_id = text(new, attr::JOB_ID).unwrap_or_default();
        return Err(Violation::LiveLeaseTaken { job_id, from, to, left_ms });
    }
    Ok(1)
}
