//! The claim a worker makes before it reads the job. Almost every message is the first delivery
//! of a job nobody has started, so the worker writes the start of attempt 1 straight away, under a
//! condition that is exactly that state: one request (a strongly consistent read) less per job,
//! and the attempt starts one round trip sooner. When the condition fails (a duplicate, a resend,
//! a copy after a retry, a cancel request), nothing was written; the worker reads the job and
//! decides with [`on_receive`] as it would have. Each such miss costs one failed conditional write
//! (DynamoDB bills it as one write unit), so the worker only tries where a miss is unlikely.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::overlap::Overlap;
use crate::policy::RetryPolicy;
use crate::state::{Expect, JobState, JobStatus, Lease, OnReceive, Transition, on_receive};

/// What a worker knows of a message before it reads the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// SQS's receive count, this receive included.
    pub receive_count: u32,
    /// How often a worker handed the message back because a backend failed.
    pub deferrals: u32,
    /// How often the reconciler brought it back from the dead-letter queue.
    pub redrives: u32,
    /// The attempts the job had when this copy was sent (0: not a copy after an attempt).
    pub attempts: u32,
    /// A schedule's firing: its job is recorded by its first receipt, not by the API.
    pub firing: bool,
    pub overlap: Overlap,
}

impl Delivery {
    /// The first receive of a message nobody handed back, for a job without attempts. A firing
    /// that forbids overlap first looks at the schedule's previous job, so it is read first.
    fn likely_first(&self) -> bool {
        self.receive_count == 1
            && self.deferrals == 0
            && self.redrives == 0
            && self.attempts == 0
            && !(self.firing && self.overlap == Overlap::Forbid)
    }
}

/// The start to write without reading the job, or `None` when the worker should read first.
///
/// It is [`on_receive`]'s start of attempt 1 for the state the message implies (a QUEUED job
/// without attempts; nothing yet for a firing), with the condition tightened to "and nobody asked
/// to cancel it", the one other thing `on_receive` looks at in that state. So it commits exactly
/// where `on_receive` would make this same write. (A QUEUED job without attempts has never been
/// interrupted either: interruptions count resumed attempts.)
pub fn claim_unread(d: &Delivery, worker: &Lease, now: DateTime<Utc>) -> Option<Transition> {
    if !d.likely_first() {
        return None;
    }
    let implied = (!d.firing).then(|| JobState::new(JobStatus::Queued, 0));
    // Neither state looks at the grace or the policy: both start attempt 1.
    let OnReceive::Start { mut transition, .. } =
        on_receive(implied.as_ref(), d.firing, worker, now, Duration::ZERO, &RetryPolicy::default())
    else {
        unreachable!("a QUEUED job without attempts, or none, starts")
    };
    if let Expect::Present { uncancelled, .. } = &mut transition.expect {
        *uncancelled = true;
    }
    Some(transition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Step;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn first(firing: bool) -> Delivery {
        Delivery { receive_count: 1, deferrals: 0, redrives: 0, attempts: 0, firing, overlap: Overlap::Allow }
    }

    #[test]
    fn only_a_likely_first_delivery_is_claimed_unread() {
        let api = first(false);
        let cases = [
            (api, true),
            (first(true), true),
            (Delivery { receive_count: 2, ..api }, false),
            (Delivery { deferrals: 1, ..api }, false),
            (Delivery { redrives: 1, ..api }, false),
            (Delivery { attempts: 1, ..api }, false), // the copy a failed attempt hands back
            (Delivery { overlap: Overlap::Forbid, ..first(true) }, false),
            (Delivery { overlap: Overlap::Forbid, ..api }, true), // overlap only matters for firings
        ];
        let worker = Lease { owner: "w".into(), until: t(60) };
        for (d, want) in cases {
            assert_eq!(claim_unread(&d, &worker, t(0)).is_some(), want, "{d:?}");
        }
    }

    /// The write commits in a state only if `on_receive` would make the same write there.
    #[test]
    fn the_unread_claim_commits_only_where_on_receive_starts_the_same_way() {
        let worker = Lease { owner: "w".into(), until: t(60) };
        let other = Lease { owner: "x".into(), until: t(30) };
        let with = |f: &dyn Fn(&mut JobState)| {
            let mut s = JobState::new(JobStatus::Queued, 0);
            f(&mut s);
            Some(s)
        };
        let states: Vec<Option<JobState>> = vec![
            None,
            with(&|_| {}),
            with(&|s| s.cancel_requested = true),
            with(&|s| s.attempts = 1), // interrupted, to resume
            with(&|s| {
                s.status = JobStatus::Running;
                s.attempts = 1;
                s.lease = Some(other.clone());
            }),
            with(&|s| {
                s.status = JobStatus::RetryWait;
                s.attempts = 1;
                s.retry_at = Some(t(-5));
            }),
            with(&|s| {
                s.status = JobStatus::Succeeded;
                s.attempts = 1;
            }),
            with(&|s| {
                s.status = JobStatus::Cancelled;
            }),
        ];
        // (firing, the states where the claim commits: indexes into `states`)
        for (firing, commits) in [(false, vec![1]), (true, vec![0])] {
            let tr = claim_unread(&first(firing), &worker, t(0)).expect("a first delivery");
            assert_eq!(tr.step, Step::Start);
            for (i, state) in states.iter().enumerate() {
                let holds = tr.expect.holds(state.as_ref());
                assert_eq!(holds, commits.contains(&i), "firing={firing} state {i}: {state:?}");
                if holds {
                    let OnReceive::Start { attempt, transition } = on_receive(
                        state.as_ref(),
                        firing,
                        &worker,
                        t(0),
                        Duration::from_secs(10),
                        &RetryPolicy::default(),
                    ) else {
                        panic!("on_receive starts state {i}")
                    };
                    assert_eq!(attempt, 1);
                    assert_eq!((&transition.change, &transition.counters), (&tr.change, &tr.counters));
                }
            }
        }
    }
}
