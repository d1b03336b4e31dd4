//! Cancelling a job (`POST /jobs/{id}/cancel`).
//!
//! A job that waits (WAITING, QUEUED, RETRY_WAIT) becomes CANCELLED at once; its message, when it next
//! appears, finds the job finished and is deleted. A RUNNING job is *asked*: the request is a flag
//! on the item, written only while that attempt runs. Its worker sees the flag within a few
//! seconds, signals the job function, and records CANCELLED. Writes that would let the job go on
//! (a retry, a resume after a stop) require the flag to be absent, so a request that lands first
//! always wins; a worker that dies leaves the flag for the next receipt, which cancels.
//! `cancelled + 1` happens in exactly one of these transitions.

use chrono::{DateTime, Utc};

use super::model::{Change, Counters, Expect, JobState, JobStatus, Step, Transition, change, expect_from, expect_held};

/// What a cancel request does to a job in a given state.
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum OnCancel {
    /// Waiting: apply this transition to CANCELLED.
    Cancel(Transition),
    /// Running attempt `attempt`: ask its worker (write the flag, conditional on that attempt).
    Ask { attempt: u32 },
    /// Already asked; its worker has not recorded yet.
    Asked,
    /// Already CANCELLED: the same answer as the first request.
    Cancelled,
    /// Ended otherwise (SUCCEEDED, FAILED, SKIPPED): nothing to cancel.
    Finished(JobStatus),
}

pub fn on_cancel(state: &JobState, now: DateTime<Utc>) -> OnCancel {
    match state.status {
        JobStatus::Cancelled => OnCancel::Cancelled,
        status if status.is_terminal() => OnCancel::Finished(status),
        JobStatus::Waiting | JobStatus::Queued | JobStatus::RetryWait => {
            OnCancel::Cancel(cancel_now(state, expect_from(state), now))
        }
        _ if state.cancel_requested => OnCancel::Asked,
        _ => OnCancel::Ask { attempt: state.attempts },
    }
}

/// The job ends CANCELLED, `cancelled + 1`, if it still is as `expect` says.
pub(crate) fn cancel_now(state: &JobState, expect: Expect, now: DateTime<Utc>) -> Transition {
    let error = format!("cancelled on request ({} when cancelled)", state.status);
    let change = Change { last_error: Some(error), ..change(JobStatus::Cancelled, state.attempts) };
    Transition::new(Step::Cancel, expect, change, now)
        .counting(Counters { cancelled: 1, ..Counters::default() })
        .of_job_as_read(Some(state))
}

/// The worker holding attempt `attempt` stopped it on request: CANCELLED, `cancelled + 1`.
pub fn stopped(attempt: u32, owner: &str, now: DateTime<Utc>) -> Transition {
    let change = Change {
        last_error: Some(format!("cancelled on request (RUNNING attempt {attempt} stopped by its worker)")),
        ..change(JobStatus::Cancelled, attempt)
    };
    Transition::new(Step::Cancel, expect_held(attempt, owner), change, now)
        .counting(Counters { cancelled: 1, ..Counters::default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Lease;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn cancel_table() {
        use JobStatus::*;
        let running = |requested| JobState {
            lease: Some(Lease { owner: "w/1".into(), until: t(60) }),
            cancel_requested: requested,
            ..JobState::new(Running, 2)
        };
        let requested_then_stopped = JobState { cancel_requested: true, ..JobState::new(Queued, 2) };
        // (state, want: "cancel" | "ask" | "asked" | "cancelled" | "finished")
        let cases = [
            (JobState::new(Queued, 0), "cancel"),
            (JobState::new(Waiting, 0), "cancel"),
            (JobState::new(RetryWait, 1), "cancel"),
            (requested_then_stopped, "cancel"),
            (running(false), "ask"),
            (running(true), "asked"),
            (JobState::new(Cancelled, 1), "cancelled"),
            (JobState::new(Succeeded, 1), "finished"),
            (JobState::new(Failed, 3), "finished"),
            (JobState::new(Skipped, 0), "finished"),
        ];
        for (state, want) in cases {
            let got = on_cancel(&state, t(0));
            let name = match &got {
                OnCancel::Cancel(tr) => {
                    assert_eq!((tr.change.status, tr.change.attempts), (Cancelled, state.attempts));
                    assert_eq!(tr.counters, Counters { cancelled: 1, ..Counters::default() });
                    assert!(tr.expect.holds(Some(&state)), "conditioned on what was read");
                    assert!(tr.change.lease.is_none() && tr.change.retry_at.is_none());
                    "cancel"
                }
                OnCancel::Ask { attempt } => {
                    assert_eq!(*attempt, 2);
                    "ask"
                }
                OnCancel::Asked => "asked",
                OnCancel::Cancelled => "cancelled",
                OnCancel::Finished(s) => {
                    assert_eq!(*s, state.status);
                    "finished"
                }
            };
            assert_eq!(name, want, "{state:?}");
        }
    }

    #[test]
    fn a_request_that_lands_first_beats_a_retry_or_a_resume() {
        let policy = crate::RetryPolicy::default();
        let held = JobState {
            lease: Some(Lease { owner: "w/1".into(), until: t(60) }),
            ..JobState::new(JobStatus::Running, 1)
        };
        let asked = JobState { cancel_requested: true, ..held.clone() };
        let (retry, _) = crate::state::fail(1, "w/1", "boom", t(1), &policy);
        let (resume, _) = crate::state::interrupt(1, "w/1", 0, t(1), &policy);
        let (last, _) = crate::state::fail(3, "w/1", "boom", t(1), &policy);
        for tr in [&retry, &resume] {
            assert!(tr.expect.holds(Some(&held)) && !tr.expect.holds(Some(&asked)), "{:?}", tr.step);
        }
        // Ending the job (success, last failure, the stop itself) needs no such condition.
        let stop = stopped(1, "w/1", t(1));
        assert!(stop.expect.holds(Some(&asked)) && stop.counters.cancelled == 1);
        assert!(crate::state::succeed(1, "w/1", serde_json::json!({}), t(1)).expect.holds(Some(&asked)));
        assert!(last.expect.holds(Some(&JobState { attempts: 3, ..asked.clone() })));
    }

    #[test]
    fn a_receipt_carries_out_a_request_its_worker_did_not() {
        use crate::state::{OnReceive, Skip, on_receive};
        let policy = crate::RetryPolicy::default();
        let me = Lease { owner: "me/1".into(), until: t(30) };
        let grace = std::time::Duration::from_secs(10);
        let asked =
            |status, lease: Option<Lease>| JobState { lease, cancel_requested: true, ..JobState::new(status, 2) };
        let other = |until| Some(Lease { owner: "w/2".into(), until: t(until) });
        // (state, CANCELLED now with a run entry?, or None: not cancelled by this receipt)
        let cases = [
            (asked(JobStatus::Queued, None), Some(false)),
            (asked(JobStatus::RetryWait, None), Some(false)),
            // Its worker vanished: cancelled, and the vanished run is in the history.
            (asked(JobStatus::Running, other(-5)), Some(true)),
            // Our own claim committed before the request: cancel instead of running.
            (asked(JobStatus::Running, Some(me.clone())), Some(false)),
            // A live worker holds it: it carries the request out itself.
            (asked(JobStatus::Running, other(60)), None),
        ];
        for (state, want) in cases {
            match (on_receive(Some(&state), false, &me, t(0), grace, &policy), want) {
                (OnReceive::End { transition }, Some(with_run)) => {
                    assert_eq!((transition.step, transition.change.status), (Step::Cancel, JobStatus::Cancelled));
                    assert_eq!(transition.counters, Counters { cancelled: 1, ..Counters::default() });
                    assert!(transition.expect.holds(Some(&state)));
                    assert_eq!(transition.change.history.is_some(), with_run, "{state:?}");
                }
                (OnReceive::Skip(Skip::Held(_)), None) => {}
                (got, want) => panic!("{state:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
