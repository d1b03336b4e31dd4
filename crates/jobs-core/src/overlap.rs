//! A schedule's overlap policy (Kubernetes CronJob's `concurrencyPolicy`): whether a firing may
//! start while the schedule's previous job has not finished. With `forbid` such a firing is
//! recorded as a SKIPPED job (terminal, `submitted + 1` and `skipped + 1`) and never runs.
//!
//! `forbid` holds by construction: a schedule has a lock (one item naming its holder, the job that
//! last started from it), and a firing starts only by taking the lock in the same transaction
//! that creates it RUNNING, conditional on the holder it read. A holder that ended (or whose item
//! expired) gives the lock up to the next firing; one that has not makes the firing SKIPPED. So
//! however many firings were skipped before, and however many arrive at once, at most one of the
//! schedule's jobs is open at a time: two firings that read the same holder race on the
//! condition, and the loser reads again and finds the winner open.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::state::{Change, Counters, Expect, JobStatus, Step, Transition, change};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Overlap {
    /// Every firing runs (the default).
    #[default]
    Allow,
    /// A firing whose previous job has not finished is SKIPPED.
    Forbid,
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Allow => "allow",
            Overlap::Forbid => "forbid",
        }
    }

    pub fn is_allow(&self) -> bool {
        *self == Overlap::Allow
    }
}

/// Taking a schedule's lock travels with the transition that starts the firing.
pub use crate::state::ScheduleLock;

/// What the first receipt of a `forbid` firing does.
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum Firing {
    /// Start it, taking the lock in the same transaction.
    Take(ScheduleLock),
    /// Record it SKIPPED: the holder has not finished.
    Skip(Transition),
}

/// The rule for the first receipt of firing `job_id` of a `forbid` schedule whose lock names
/// `holder`, found in `holder_status` (`None`: no item: it expired, or the lock is the firing's
/// own from a claim whose answer was lost).
pub fn on_forbid_firing(
    schedule: &str,
    job_id: &str,
    holder: Option<&str>,
    holder_status: Option<JobStatus>,
    now: DateTime<Utc>,
) -> Firing {
    let take = |expect: Option<&str>| {
        Firing::Take(ScheduleLock {
            schedule: schedule.to_owned(),
            expect: expect.map(str::to_owned),
            holder: job_id.to_owned(),
        })
    };
    match (holder, holder_status) {
        (None, _) => take(None),
        (Some(h), Some(status)) if h != job_id && !status.is_terminal() => Firing::Skip(skipped(h, status, now)),
        (Some(h), _) => take(Some(h)),
    }
}

/// A firing of a `forbid` schedule whose tenant is over its limits (`crate::tenants`): SKIPPED
/// rather than WAITING, since a firing admitted later could run beside the schedule's next one.
pub fn skipped_over_limits(
    tenant: &crate::Tenant,
    reason: &crate::tenants::WaitReason,
    now: DateTime<Utc>,
) -> Transition {
    let error = format!("skipped: {reason} (tenant {tenant}; overlap: forbid, so the firing does not wait)");
    let change = Change { last_error: Some(error), ..change(JobStatus::Skipped, 0) };
    Transition::new(Step::Skip, Expect::Absent, change, now).counting(Counters {
        submitted: 1,
        skipped: 1,
        ..Counters::default()
    })
}

fn skipped(id: &str, status: JobStatus, now: DateTime<Utc>) -> Transition {
    let error = format!("skipped: the schedule's previous job {id} is {status} (overlap: forbid)");
    let change = Change { last_error: Some(error), ..change(JobStatus::Skipped, 0) };
    Transition::new(Step::Skip, Expect::Absent, change, now).counting(Counters {
        submitted: 1,
        skipped: 1,
        ..Counters::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbid_firing_table() {
        use JobStatus::*;
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let me = "sched:s:2";
        let take = |expect: Option<&str>| {
            Firing::Take(ScheduleLock { schedule: "s".into(), expect: expect.map(str::to_owned), holder: me.into() })
        };
        // (holder, its status, expected: None skipped)
        let cases = [
            (None, None, Some(take(None))),
            (Some("sched:s:1"), Some(Running), None),
            (Some("sched:s:1"), Some(Queued), None),
            (Some("sched:s:1"), Some(RetryWait), None),
            (Some("sched:s:1"), Some(Succeeded), Some(take(Some("sched:s:1")))),
            (Some("sched:s:1"), Some(Failed), Some(take(Some("sched:s:1")))),
            (Some("sched:s:1"), Some(Cancelled), Some(take(Some("sched:s:1")))),
            // Its item expired: it ended long ago.
            (Some("sched:s:1"), None, Some(take(Some("sched:s:1")))),
            // The firing's own lock, from a claim whose answer was lost.
            (Some(me), Some(Running), Some(take(Some(me)))),
        ];
        for (holder, status, want) in cases {
            let got = on_forbid_firing("s", me, holder, status, now);
            match (want, got) {
                (Some(want), got) => assert_eq!(got, want, "{holder:?} {status:?}"),
                (None, Firing::Skip(tr)) => {
                    assert_eq!((tr.change.status, tr.expect, tr.lock), (Skipped, Expect::Absent, None));
                    assert_eq!(tr.counters, Counters { submitted: 1, skipped: 1, ..Counters::default() });
                    assert!(tr.change.last_error.unwrap().contains("sched:s:1"));
                }
                (None, got) => panic!("{holder:?} {status:?}: {got:?}"),
            }
        }
        assert_eq!(serde_json::to_value(Overlap::Forbid).unwrap(), "forbid");
        assert_eq!(serde_json::from_str::<Overlap>("\"allow\"").unwrap(), Overlap::default());
    }
}
