//! A schedule's overlap policy (Kubernetes CronJob's `concurrencyPolicy`): whether a firing may
//! start while the schedule's previous job has not finished. With `forbid` such a firing is
//! recorded as a SKIPPED job (terminal, `submitted + 1` and `skipped + 1`) and never runs.

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

/// The decision for the first receipt of a firing: `Some` records it SKIPPED instead of running
/// it. `previous` is the schedule's newest other job that was not itself skipped.
pub fn on_firing(overlap: Overlap, previous: Option<(&str, JobStatus)>, now: DateTime<Utc>) -> Option<Transition> {
    let (id, status) = previous?;
    if overlap.is_allow() || status.is_terminal() {
        return None;
    }
    let error = format!("skipped: the schedule's previous job {id} is {status} (overlap: forbid)");
    let change = Change { last_error: Some(error), ..change(JobStatus::Skipped, 0) };
    Some(Transition::new(Step::Skip, Expect::Absent, change, now).counting(Counters {
        submitted: 1,
        skipped: 1,
        ..Counters::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firing_table() {
        use JobStatus::*;
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        // (policy, previous job's status, skipped)
        let cases = [
            (Overlap::Allow, Some(Running), false),
            (Overlap::Forbid, None, false),
            (Overlap::Forbid, Some(Running), true),
            (Overlap::Forbid, Some(Queued), true),
            (Overlap::Forbid, Some(RetryWait), true),
            (Overlap::Forbid, Some(Succeeded), false),
            (Overlap::Forbid, Some(Failed), false),
            (Overlap::Forbid, Some(Cancelled), false),
        ];
        for (policy, previous, skipped) in cases {
            let got = on_firing(policy, previous.map(|s| ("sched:s:1", s)), now);
            assert_eq!(got.is_some(), skipped, "{policy:?} {previous:?}");
            if let Some(tr) = got {
                assert_eq!((tr.change.status, tr.expect), (Skipped, Expect::Absent));
                assert_eq!(tr.counters, Counters { submitted: 1, skipped: 1, ..Counters::default() });
                assert!(tr.change.last_error.unwrap().contains("sched:s:1"));
            }
        }
        assert_eq!(serde_json::to_value(Overlap::Forbid).unwrap(), "forbid");
        assert_eq!(serde_json::from_str::<Overlap>("\"allow\"").unwrap(), Overlap::default());
    }
}
