//! Throughput history: what one counted transition adds to its minute's bucket. A bucket counts
//! outcome *events* (a job that failed, was retried by an operator and then succeeded shows one
//! failure and one success), so only positive deltas go in; the exact totals stay with the
//! counters (`state::Counters`), which also take the retractions.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use crate::catalog::kinds;
use crate::state::Counters;

/// How long a bucket is kept (its TTL): the dashboard shows the last hour.
pub const KEEP: TimeDelta = TimeDelta::hours(3);
/// The most minutes one read asks for.
pub const MAX_MINUTES: u32 = 60;

/// An outcome a bucket counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    Succeeded,
    Failed,
    /// A re-attempt started (attempt 2, 3, …: the `retries` counter).
    Retried,
    Cancelled,
    Skipped,
}

impl Event {
    pub const ALL: [Event; 5] = [Event::Succeeded, Event::Failed, Event::Retried, Event::Cancelled, Event::Skipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::Succeeded => "succeeded",
            Event::Failed => "failed",
            Event::Retried => "retried",
            Event::Cancelled => "cancelled",
            Event::Skipped => "skipped",
        }
    }

    /// Whether the bucket also counts this event per kind (the dashboard's per-kind lines).
    pub fn per_kind(self) -> bool {
        matches!(self, Event::Succeeded | Event::Failed)
    }

    fn delta(self, c: &Counters) -> i64 {
        match self {
            Event::Succeeded => c.succeeded,
            Event::Failed => c.failed,
            Event::Retried => c.retries,
            Event::Cancelled => c.cancelled,
            Event::Skipped => c.skipped,
        }
    }
}

/// What a transition adds to a bucket: the minute it happened in, the events, and the kind they
/// are also counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketAdd {
    pub minute: DateTime<Utc>,
    pub events: Vec<(Event, u64)>,
    /// A registered kind, or [`OTHER_KIND`]: the set of names stays bounded, whatever the
    /// messages say.
    pub kind: Option<&'static str>,
    /// The tenant's metric label (`tenants::TenantsConfig::metric_label`: a named tenant, or
    /// `(other)`), counted like the kind: at most 101 per bucket. `None`: not known.
    pub tenant: Option<String>,
}

/// The per-kind label of a kind that is not registered (or unknown).
pub const OTHER_KIND: &str = "other";

/// The bucket add of a transition at `at` with counters `c`, of a job of kind `kind` and tenant
/// `tenant`; `None` when it counts no outcome event (a submit, a start, a retraction).
pub fn add(c: &Counters, at: DateTime<Utc>, kind: Option<&str>, tenant: Option<&crate::Tenant>) -> Option<BucketAdd> {
    let events: Vec<(Event, u64)> = Event::ALL
        .into_iter()
        .filter_map(|e| u64::try_from(e.delta(c)).ok().filter(|d| *d > 0).map(|d| (e, d)))
        .collect();
    if events.is_empty() {
        return None;
    }
    let per_kind = events.iter().any(|(e, _)| e.per_kind());
    let kind = per_kind.then(|| label(kind));
    let tenant = tenant.filter(|_| per_kind).map(|t| crate::tenants::config().metric_label(t).to_owned());
    Some(BucketAdd { minute: minute_of(at), events, kind, tenant })
}

/// The registered name of `kind`, or [`OTHER_KIND`].
pub fn label(kind: Option<&str>) -> &'static str {
    kind.and_then(|k| kinds().iter().find(|i| i.name == k)).map_or(OTHER_KIND, |i| i.name)
}

/// The start of the minute `at` falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::minutes(1)).expect("a minute divides any instant")
}

/// The last `n` minutes up to and including the one `now` falls in, oldest first.
pub fn last_minutes(now: DateTime<Utc>, n: u32) -> Vec<DateTime<Utc>> {
    let current = minute_of(now);
    (0..i64::from(n)).rev().map(|back| current - TimeDelta::minutes(back)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn what_a_transition_adds() {
        let c = |f: fn(&mut Counters)| {
            let mut c = Counters::default();
            f(&mut c);
            c
        };
        let t = at("2026-12-02T10:03:59.999Z");
        let m = at("2026-12-02T10:03:00Z");
        // (counters, kind, expected)
        let cases: Vec<(Counters, Option<&str>, Option<BucketAdd>)> = vec![
            (c(|c| c.submitted = 1), Some("noop"), None),
            (Counters::default(), Some("noop"), None),
            (
                c(|c| c.succeeded = 1),
                Some("noop"),
                Some(BucketAdd { minute: m, events: vec![(Event::Succeeded, 1)], kind: Some("noop"), tenant: None }),
            ),
            (
                c(|c| c.failed = 1),
                Some("no-such-kind"),
                Some(BucketAdd { minute: m, events: vec![(Event::Failed, 1)], kind: Some(OTHER_KIND), tenant: None }),
            ),
            (
                c(|c| c.failed = 1),
                None,
                Some(BucketAdd { minute: m, events: vec![(Event::Failed, 1)], kind: Some(OTHER_KIND), tenant: None }),
            ),
            // A retry counts no kind; a retraction (operator retry of a FAILED job) adds nothing.
            (
                c(|c| c.retries = 1),
                Some("noop"),
                Some(BucketAdd { minute: m, events: vec![(Event::Retried, 1)], kind: None, tenant: None }),
            ),
            (c(|c| c.failed = -1), Some("noop"), None),
            (
                c(|c| {
                    c.failed = -1;
                    c.retries = 1
                }),
                Some("noop"),
                Some(BucketAdd { minute: m, events: vec![(Event::Retried, 1)], kind: None, tenant: None }),
            ),
            (
                c(|c| {
                    c.submitted = 1;
                    c.skipped = 1
                }),
                Some("noop"),
                Some(BucketAdd { minute: m, events: vec![(Event::Skipped, 1)], kind: None, tenant: None }),
            ),
            (
                c(|c| {
                    c.submitted = 1;
                    c.cancelled = 1
                }),
                Some("noop"),
                Some(BucketAdd { minute: m, events: vec![(Event::Cancelled, 1)], kind: None, tenant: None }),
            ),
        ];
        for (i, (counters, kind, want)) in cases.into_iter().enumerate() {
            assert_eq!(add(&counters, t, kind, None), want, "case {i}");
        }
        // A tenant counts under its metric label, for the per-kind events only.
        let (acme, nobody) = (crate::Tenant::parse("acme").unwrap(), crate::Tenant::parse("nobody").unwrap());
        let ok = c(|c| c.succeeded = 1);
        assert_eq!(add(&ok, t, Some("noop"), Some(&acme)).unwrap().tenant.as_deref(), Some("acme"));
        assert_eq!(add(&ok, t, Some("noop"), Some(&nobody)).unwrap().tenant.as_deref(), Some(crate::tenants::OTHER));
        assert_eq!(add(&c(|c| c.retries = 1), t, Some("noop"), Some(&acme)).unwrap().tenant, None);
    }

    #[test]
    fn minutes() {
        assert_eq!(minute_of(at("2026-12-02T10:03:00Z")), at("2026-12-02T10:03:00Z"));
        assert_eq!(minute_of(at("2026-12-02T10:03:00.001Z")), at("2026-12-02T10:03:00Z"));
        let last = last_minutes(at("2026-12-02T00:01:30Z"), 3);
        assert_eq!(last, vec![at("2026-12-01T23:59:00Z"), at("2026-12-02T00:00:00Z"), at("2026-12-02T00:01:00Z")]);
        assert_eq!(last_minutes(at("2026-12-02T00:01:30Z"), MAX_MINUTES).len(), 60);
        assert!(last_minutes(at("2026-12-02T00:01:30Z"), 0).is_empty());
    }
}
