//! EventBridge Scheduler in memory: one schedule group, with the answers the API relies on (a name
//! taken or missing, a definition refused), and its firings. At each fire time of an `ENABLED`
//! schedule it sends the target's input with the scheduled time and an execution id filled in;
//! a paused schedule does not fire, and does not catch up on the times it missed when resumed; a
//! one-time `at()` schedule fires once and deletes itself (`ActionAfterCompletion: DELETE`). The
//! simulator delivers the firings (late, or twice, as at-least-once delivery may).

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use jobs_aws::{ScheduleInfo, ScheduleRequest, SchedulerError};
use jobs_core::message::{SCHEDULER_EXECUTION_ID, SCHEDULER_SCHEDULED_TIME};
use jobs_core::schedule;

/// The most fire times one schedule yields per look (a look comes every simulated second or so).
const MAX_FIRINGS_PER_LOOK: usize = 100;

/// One firing: what the Scheduler sends to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub schedule: String,
    /// The scheduled time.
    pub at: DateTime<Utc>,
    pub target_arn: String,
    /// The target's input, its placeholders filled in.
    pub input: String,
}

#[derive(Debug, Clone)]
struct Stored {
    req: ScheduleRequest,
    created_at: DateTime<Utc>,
    /// Fire times up to this one have been looked at.
    looked: DateTime<Utc>,
}

/// The schedule group.
#[derive(Debug, Default)]
pub struct Scheduler {
    schedules: BTreeMap<String, Stored>,
    now: DateTime<Utc>,
    executions: u64,
}

/// `ValidationException`, as the adapter classifies it.
fn invalid(reason: impl std::fmt::Display) -> SchedulerError {
    SchedulerError::Invalid(reason.to_string())
}

/// What EventBridge checks of a definition: the name, the expression and the time zone.
fn check(req: &ScheduleRequest) -> Result<(), SchedulerError> {
    if !schedule::valid_name(&req.name) {
        return Err(invalid(format!("invalid schedule name {:?}", req.name)));
    }
    schedule::parse(&req.expression).map_err(invalid)?;
    schedule::parse_timezone(&req.timezone).map_err(invalid)?;
    if req.input.is_empty() || !req.target_arn.starts_with("arn:") {
        return Err(invalid("the target needs an ARN and an input"));
    }
    Ok(())
}

impl Scheduler {
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    pub fn set_now(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    pub fn create(&mut self, req: &ScheduleRequest) -> Result<(), SchedulerError> {
        check(req)?;
        if self.schedules.contains_key(&req.name) {
            return Err(SchedulerError::Conflict(req.name.clone()));
        }
        let stored = Stored { req: req.clone(), created_at: self.now, looked: self.now };
        self.schedules.insert(req.name.clone(), stored);
        Ok(())
    }

    /// Replaces the definition whole; fire times from now on follow the new one.
    pub fn update(&mut self, req: &ScheduleRequest) -> Result<(), SchedulerError> {
        check(req)?;
        let now = self.now;
        let stored = self.schedules.get_mut(&req.name).ok_or_else(|| SchedulerError::NotFound(req.name.clone()))?;
        stored.req = req.clone();
        stored.looked = now;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<ScheduleInfo, SchedulerError> {
        let stored = self.schedules.get(name).ok_or_else(|| SchedulerError::NotFound(name.to_owned()))?;
        let req = &stored.req;
        Ok(ScheduleInfo {
            name: req.name.clone(),
            expression: req.expression.clone(),
            timezone: req.timezone.clone(),
            state: if req.enabled { "ENABLED" } else { "DISABLED" }.to_owned(),
            input: Some(req.input.clone()),
            target_arn: req.target_arn.clone(),
            description: Some(req.description.clone()),
            created_at: Some(stored.created_at),
            start_date: None,
        })
    }

    /// Oldest first, as the adapter lists them.
    pub fn list(&self) -> Vec<ScheduleInfo> {
        let mut all: Vec<ScheduleInfo> = self.schedules.keys().filter_map(|n| self.get(n).ok()).collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.name.cmp(&b.name)));
        all
    }

    pub fn delete(&mut self, name: &str) -> Result<(), SchedulerError> {
        self.schedules.remove(name).map(|_| ()).ok_or_else(|| SchedulerError::NotFound(name.to_owned()))
    }

    /// The firings due since the last look, in time order (by schedule name at the same time).
    pub fn due(&mut self) -> Vec<Firing> {
        let now = self.now;
        let mut firings = Vec::new();
        let mut done = Vec::new();
        for (name, stored) in &mut self.schedules {
            let after = std::mem::replace(&mut stored.looked, now);
            if !stored.req.enabled {
                continue;
            }
            let req = &stored.req;
            let (Ok(expr), Ok(tz)) = (schedule::parse(&req.expression), schedule::parse_timezone(&req.timezone)) else {
                continue;
            };
            let times = expr.fire_times_since(stored.created_at, tz, after, MAX_FIRINGS_PER_LOOK).unwrap_or_default();
            for at in times.into_iter().map(|t| t.with_timezone(&Utc)).take_while(|t| *t <= now) {
                self.executions += 1;
                let input = req
                    .input
                    .replace(SCHEDULER_SCHEDULED_TIME, &at.to_rfc3339_opts(SecondsFormat::Secs, true))
                    .replace(SCHEDULER_EXECUTION_ID, &format!("{:032x}", self.executions));
                firings.push(Firing { schedule: name.clone(), at, target_arn: req.target_arn.clone(), input });
                if req.expression.starts_with("at(") {
                    done.push(name.clone());
                }
            }
        }
        for name in done {
            self.schedules.remove(&name);
        }
        firings.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.schedule.cmp(&b.schedule)));
        firings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn req(name: &str, expression: &str) -> ScheduleRequest {
        ScheduleRequest {
            name: name.into(),
            expression: expression.into(),
            timezone: "UTC".into(),
            input: format!(r#"{{"at":"{SCHEDULER_SCHEDULED_TIME}","id":"{SCHEDULER_EXECUTION_ID}"}}"#),
            description: "d".into(),
            enabled: true,
            target_arn: "arn:aws:sqs:us-east-1:000000000000:jobs".into(),
        }
    }

    fn world() -> Scheduler {
        let mut s = Scheduler::new();
        s.set_now(t(0));
        s
    }

    #[test]
    fn names_are_taken_and_missing_and_definitions_refused_as_eventbridge_answers() {
        let mut s = world();
        s.create(&req("a", "rate(1 minute)")).unwrap();
        assert!(matches!(s.create(&req("a", "rate(1 minute)")), Err(SchedulerError::Conflict(n)) if n == "a"));
        assert!(matches!(s.update(&req("b", "rate(1 minute)")), Err(SchedulerError::NotFound(n)) if n == "b"));
        assert!(matches!(s.get("b"), Err(SchedulerError::NotFound(_))));
        assert!(matches!(s.delete("b"), Err(SchedulerError::NotFound(_))));
        for bad in [
            req("c", "rate(0 minutes)"),
            req("c d", "rate(1 minute)"),
            ScheduleRequest { timezone: "Mars/Base".into(), ..req("c", "rate(1 minute)") },
        ] {
            assert!(matches!(s.create(&bad), Err(SchedulerError::Invalid(_))), "{bad:?}");
        }
        assert_eq!(s.list().iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["a"]);
        s.delete("a").unwrap();
        assert!(s.list().is_empty());
    }

    #[test]
    fn a_rate_fires_at_each_period_from_creation_with_the_placeholders_filled_in() {
        let mut s = world();
        s.create(&req("a", "rate(1 minute)")).unwrap();
        s.set_now(t(59));
        assert!(s.due().is_empty());
        s.set_now(t(150));
        let fired = s.due();
        assert_eq!(fired.iter().map(|f| f.at).collect::<Vec<_>>(), [t(60), t(120)]);
        assert_eq!(fired[0].input, format!(r#"{{"at":"{}","id":"{:032x}"}}"#, "2027-01-15T08:01:00Z", 1));
        assert_ne!(fired[0].input, fired[1].input, "each execution has its own id");
        s.set_now(t(150));
        assert!(s.due().is_empty(), "a fire time is sent once");
    }

    #[test]
    fn a_paused_schedule_does_not_fire_nor_catch_up_and_a_one_time_schedule_deletes_itself() {
        let mut s = world();
        s.create(&req("a", "rate(1 minute)")).unwrap();
        s.update(&ScheduleRequest { enabled: false, ..req("a", "rate(1 minute)") }).unwrap();
        s.set_now(t(300));
        assert!(s.due().is_empty());
        s.update(&req("a", "rate(1 minute)")).unwrap();
        s.set_now(t(330));
        assert_eq!(s.due().iter().map(|f| f.at).collect::<Vec<_>>(), Vec::<DateTime<Utc>>::new());
        s.set_now(t(360));
        assert_eq!(s.due().iter().map(|f| f.at).collect::<Vec<_>>(), [t(360)], "periods count from creation");

        let at = t(400).format("at(%Y-%m-%dT%H:%M:%S)").to_string();
        s.create(&req("once", &at)).unwrap();
        s.set_now(t(420));
        let fired = s.due();
        assert_eq!(
            fired.iter().map(|f| (f.schedule.as_str(), f.at)).collect::<Vec<_>>(),
            [("once", t(400)), ("a", t(420))]
        );
        assert!(matches!(s.get("once"), Err(SchedulerError::NotFound(_))), "deleted after it fired");
    }
}
