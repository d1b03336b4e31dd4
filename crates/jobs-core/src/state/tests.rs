//! Table tests of the transitions.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::policy::{AfterFailure, RetryPolicy};
// The poison rule's table runs over the same states and helpers.
use crate::poison::{OnPoison, reject};

#[test]
fn only_the_first_run_of_attempt_one_is_the_first_start() {
    // (starts a run, attempt, interruptions so far, first start)
    let cases = [(true, 1, 0, true), (true, 1, 1, false), (true, 2, 0, false), (false, 1, 0, false)];
    for (started, attempts, interruptions, want) in cases {
        let c = Change { started, interruptions, ..change(JobStatus::Running, attempts) };
        assert_eq!(c.first_start(), want, "{started} {attempts} {interruptions}");
    }
}

#[test]
fn a_new_attempt_or_the_end_drops_the_checkpoint_a_resumed_run_keeps_it() {
    // (status after, starts a run, interruptions so far, drops it)
    let cases = [
        (JobStatus::Running, true, 0, true),  // a new attempt (first, or after a failure)
        (JobStatus::Running, true, 2, false), // a resumed one
        (JobStatus::Queued, false, 1, false), // interrupted: handed back, to be resumed
        (JobStatus::RetryWait, false, 0, false),
        (JobStatus::Succeeded, false, 0, true),
        (JobStatus::Failed, false, 3, true),
        (JobStatus::Cancelled, false, 0, true),
    ];
    for (status, started, interruptions, want) in cases {
        let c = Change { started, interruptions, ..change(status, 1) };
        assert_eq!(c.drops_checkpoint(), want, "{status:?} {started} {interruptions}");
    }
}
use serde_json::json;

const GRACE: Duration = Duration::from_secs(10);

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

fn me() -> Lease {
    Lease { owner: "me".into(), until: t(30) }
}

fn other(until: i64) -> Option<Lease> {
    Some(Lease { owner: "other".into(), until: t(until) })
}

fn state(status: JobStatus, attempts: u32, lease: Option<Lease>, retry_at: Option<i64>) -> JobState {
    JobState { lease, retry_at: retry_at.map(t), ..JobState::new(status, attempts) }
}

fn counters(submitted: i64, succeeded: i64, failed: i64, retries: i64) -> Counters {
    Counters { submitted, succeeded, failed, retries, ..Counters::default() }
}

/// (what the store holds, what the worker should do) for a receive at t(0).
#[derive(Debug)]
enum Want {
    Start(u32, JobStatus, Counters),
    Resume(u32),
    GiveUp(Counters),
    Skip(Skip),
}

#[test]
fn on_receive_table() {
    use JobStatus::*;
    let policy = RetryPolicy::default();
    let none = Counters::default();
    let cases: Vec<(Option<JobState>, Want)> = vec![
        (None, Want::Start(1, Running, counters(1, 0, 0, 0))),
        (Some(state(Queued, 0, None, None)), Want::Start(1, Running, none)),
        // Interrupted during attempt 2: resumed as attempt 2, not a new re-attempt.
        (Some(state(Queued, 2, None, None)), Want::Start(2, Running, none)),
        (Some(state(RetryWait, 1, None, Some(0))), Want::Start(2, Running, counters(0, 0, 0, 1))),
        (Some(state(RetryWait, 2, None, Some(-5))), Want::Start(3, Running, counters(0, 0, 0, 1))),
        // Due within the one-second tolerance.
        (Some(state(RetryWait, 1, None, Some(1))), Want::Start(2, Running, counters(0, 0, 0, 1))),
        (Some(state(RetryWait, 1, None, Some(5))), Want::Skip(Skip::NotDue(t(5)))),
        // Policy lowered since: no attempts left.
        (Some(state(RetryWait, 3, None, Some(0))), Want::GiveUp(counters(0, 0, 1, 0))),
        (Some(state(Running, 1, other(25), None)), Want::Skip(Skip::Held(other(25).unwrap()))),
        // Our own claim committed but its answer was lost: run it, write nothing.
        (Some(state(Running, 2, Some(me()), None)), Want::Resume(2)),
        // Our own lease ran out: another worker may be taking over; treat it as abandoned.
        (
            Some(state(Running, 2, Some(Lease { until: t(-1), ..me() }), None)),
            Want::Start(2, Running, counters(0, 0, 0, 0)),
        ),
        // Lease about to run out (inside the grace): its worker missed two renewals. The
        // abandoned attempt is resumed (counted among its interruptions), not retried.
        (Some(state(Running, 1, other(9), None)), Want::Start(1, Running, counters(0, 0, 0, 0))),
        (Some(state(Running, 3, other(-60), None)), Want::Start(3, Running, counters(0, 0, 0, 0))),
        (Some(state(Running, 1, None, None)), Want::Start(1, Running, counters(0, 0, 0, 0))),
        // Abandoned more often than max_interruptions: the attempt failed.
        (
            Some(JobState { interruptions: 3, ..state(Running, 2, other(-60), None) }),
            Want::Start(3, Running, counters(0, 0, 0, 1)),
        ),
        (
            Some(JobState { interruptions: 3, ..state(Running, 3, other(-60), None) }),
            Want::GiveUp(counters(0, 0, 1, 0)),
        ),
        (Some(state(Succeeded, 1, None, None)), Want::Skip(Skip::Finished(Succeeded))),
        (Some(state(Failed, 3, None, None)), Want::Skip(Skip::Finished(Failed))),
    ];
    for (current, want) in cases {
        let got = on_receive(current.as_ref(), true, &me(), t(0), GRACE, &policy);
        match (&got, &want) {
            (OnReceive::Start { attempt, transition }, Want::Start(a, status, c)) => {
                assert_eq!((attempt, &transition.change.status, &transition.counters), (a, status, c), "{current:?}");
                assert_eq!(transition.change.attempts, *a);
                assert_eq!(transition.change.lease.as_ref(), Some(&me()));
                assert!(transition.change.started);
                match (&current, &transition.expect) {
                    (None, Expect::Absent) => {}
                    (Some(s), Expect::Present { status, attempts, owner: None, .. }) => {
                        assert_eq!((status, attempts), (&s.status, &s.attempts))
                    }
                    other => panic!("wrong expectation {other:?}"),
                }
            }
            (OnReceive::End { transition }, Want::GiveUp(c)) => {
                assert_eq!(transition.change.status, Failed);
                assert_eq!(&transition.counters, c);
                assert!(transition.change.last_error.is_some());
                assert_eq!(transition.change.lease, None);
            }
            (OnReceive::Skip(s), Want::Skip(w)) => assert_eq!(s, w),
            (OnReceive::Resume { attempt }, Want::Resume(a)) => assert_eq!(attempt, a),
            _ => panic!("{current:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn abandoned_lease_is_rechecked_by_the_store() {
    let current = state(JobStatus::Running, 1, other(-1), None);
    let OnReceive::Start { transition, .. } =
        on_receive(Some(&current), false, &me(), t(0), GRACE, &RetryPolicy::default())
    else {
        panic!("should take over")
    };
    assert_eq!(
        transition.expect,
        Expect::Present {
            status: JobStatus::Running,
            attempts: 1,
            owner: None,
            lease_expired_before: Some(t(10)),
            uncancelled: false
        }
    );
    assert!(transition.change.last_error.unwrap().contains("attempt 1 abandoned"));
}

#[test]
fn outcome_transitions_are_keyed_on_attempt_and_owner() {
    let policy = RetryPolicy::default();
    let held = |attempt| expect_held(attempt, "me");
    let ok = succeed(2, "me", json!({"x": 1}), t(0));
    assert_eq!(
        (ok.expect.clone(), ok.change.status, ok.counters),
        (held(2), JobStatus::Succeeded, counters(0, 1, 0, 0))
    );
    assert_eq!(ok.change.result, Some(json!({"x": 1})));

    // (failed attempt, status after, retry due, counters, needs no cancel request)
    let cases = [
        (1, JobStatus::RetryWait, Some(t(2)), counters(0, 0, 0, 0), true),
        (2, JobStatus::RetryWait, Some(t(4)), counters(0, 0, 0, 0), true),
        (3, JobStatus::Failed, None, counters(0, 0, 1, 0), false),
    ];
    let uncancelled = |attempt| expect_held_uncancelled(attempt, "me");
    for (attempt, status, due, c, unc) in cases {
        let (tr, _) = fail(attempt, "me", "boom", t(0), &policy);
        assert_eq!(tr.expect, if unc { uncancelled(attempt) } else { held(attempt) });
        assert_eq!((tr.change.status, tr.change.retry_at, tr.counters), (status, due, c), "attempt {attempt}");
        assert_eq!(tr.change.attempts, attempt);
        assert_eq!(tr.change.last_error.as_deref(), Some("boom"));
        assert_eq!(tr.change.lease, None);
    }

    let (stop, after) = interrupt(2, "me", 0, t(0), &policy);
    assert_eq!((stop.expect, stop.change.status, stop.change.attempts), (uncancelled(2), JobStatus::Queued, 2));

    let permanent = fail_permanently(1, "me", "bad input", t(0));
    assert_eq!((permanent.expect, permanent.change.status), (held(1), JobStatus::Failed));
    assert_eq!(permanent.counters, counters(0, 0, 1, 0));
    assert!(permanent.change.last_error.unwrap().contains("permanent failure: not retried"));
    assert_eq!((stop.change.interruptions, after), (1, AfterInterrupt::Resume));
    assert!(stop.counters.is_zero());
}

#[test]
fn a_full_life_counts_each_job_once() {
    // Walk fail → retry → retry → FAILED through the pure rules and sum the counters.
    let policy = RetryPolicy::default();
    let mut current: Option<JobState> = None;
    let mut total = Counters::default();
    let mut add = |c: Counters| {
        total.submitted += c.submitted;
        total.succeeded += c.succeeded;
        total.failed += c.failed;
        total.retries += c.retries;
    };
    let apply = |tr: &Transition| JobState {
        status: tr.change.status,
        attempts: tr.change.attempts,
        lease: tr.change.lease.clone(),
        retry_at: tr.change.retry_at,
        interruptions: tr.change.interruptions,
        ..JobState::new(tr.change.status, tr.change.attempts)
    };
    let mut now = t(0);
    loop {
        let lease = Lease { owner: "me".into(), until: now + chrono::Duration::seconds(30) };
        // From its firing's first receipt (no item yet) to FAILED.
        match on_receive(current.as_ref(), true, &lease, now, GRACE, &policy) {
            OnReceive::Start { attempt, transition } => {
                add(transition.counters);
                let (tr, _) = fail(attempt, "me", "boom", now, &policy);
                add(tr.counters);
                current = Some(apply(&tr));
                now = tr.change.retry_at.unwrap_or(now);
            }
            OnReceive::Skip(Skip::Finished(JobStatus::Failed)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(total, counters(1, 0, 1, 2));
    assert_eq!(current.unwrap().attempts, 3);
}

#[test]
fn interruptions_are_bounded() {
    // (interruptions before, status after, counters, outcome) with 3 attempts, 3 interruptions each.
    let policy = RetryPolicy::default();
    let cases = [
        (0, 1, JobStatus::Queued, counters(0, 0, 0, 0), AfterInterrupt::Resume),
        (2, 1, JobStatus::Queued, counters(0, 0, 0, 0), AfterInterrupt::Resume),
        (
            3,
            1,
            JobStatus::RetryWait,
            counters(0, 0, 0, 0),
            AfterInterrupt::Failed(AfterFailure::Retry { next: 2, delay: Duration::from_secs(2) }),
        ),
        (3, 3, JobStatus::Failed, counters(0, 0, 1, 0), AfterInterrupt::Failed(AfterFailure::GiveUp)),
    ];
    for (before, attempt, status, c, want) in cases {
        let (tr, after) = interrupt(attempt, "me", before, t(0), &policy);
        assert_eq!((tr.change.status, tr.counters, after), (status, c, want), "{before} interruptions");
        assert_eq!(tr.step, Step::Interrupt);
        if status != JobStatus::Queued {
            assert!(tr.change.last_error.unwrap().contains("interrupted 4 times"));
        }
    }
    // The count survives the resume and is reset by the next attempt.
    let resumed = state(JobStatus::Queued, 1, None, None);
    let queued = JobState { interruptions: 2, ..resumed };
    let OnReceive::Start { transition, .. } = on_receive(Some(&queued), false, &me(), t(0), GRACE, &policy) else {
        panic!()
    };
    assert_eq!(transition.change.interruptions, 2);
    let waiting = JobState { interruptions: 2, ..state(JobStatus::RetryWait, 1, None, Some(0)) };
    let OnReceive::Start { transition, .. } = on_receive(Some(&waiting), false, &me(), t(0), GRACE, &policy) else {
        panic!()
    };
    assert_eq!(transition.change.interruptions, 0);
}

#[test]
fn reject_table() {
    use JobStatus::*;
    #[derive(Debug, PartialEq)]
    enum Want {
        Record(Counters),
        Held,
        Finished,
    }
    let cases: Vec<(Option<JobState>, Want)> = vec![
        (None, Want::Record(counters(1, 0, 1, 0))),
        (Some(state(Queued, 0, None, None)), Want::Record(counters(0, 0, 1, 0))),
        // Started jobs are failed too: deleting their only message must not strand them.
        (Some(state(Queued, 1, None, None)), Want::Record(counters(0, 0, 1, 0))),
        (Some(state(RetryWait, 1, None, Some(5))), Want::Record(counters(0, 0, 1, 0))),
        (Some(state(Running, 1, other(-5), None)), Want::Record(counters(0, 0, 1, 0))),
        (Some(state(Running, 1, other(30), None)), Want::Held),
        (Some(state(Succeeded, 1, None, None)), Want::Finished),
        (Some(state(Failed, 0, None, None)), Want::Finished),
    ];
    for (current, want) in cases {
        let got = reject(current.as_ref(), true, "unknown job kind", t(0), GRACE);
        let summary = match &got {
            OnPoison::Record(tr) => {
                assert_eq!(tr.change.status, Failed);
                assert_eq!(tr.change.last_error.as_deref(), Some("unknown job kind"));
                assert_eq!(tr.change.attempts, current.as_ref().map_or(0, |s| s.attempts));
                Want::Record(tr.counters)
            }
            OnPoison::Held(_) => Want::Held,
            OnPoison::Finished(_) | OnPoison::Gone => Want::Finished,
        };
        assert_eq!(summary, want, "{current:?}");
    }
    // A job that is not a firing and has no item ended and expired: nothing is recorded.
    assert_eq!(reject(None, false, "unknown job kind", t(0), GRACE), OnPoison::Gone);
}

#[test]
fn only_a_firing_creates_its_item() {
    let policy = RetryPolicy::default();
    // A firing's first receipt records it; any other message without an item is dropped.
    let OnReceive::Start { transition, .. } = on_receive(None, true, &me(), t(0), GRACE, &policy) else {
        panic!("a firing starts")
    };
    assert_eq!((transition.expect, transition.counters.submitted), (Expect::Absent, 1));
    assert_eq!(on_receive(None, false, &me(), t(0), GRACE, &policy), OnReceive::Skip(Skip::Gone));
}

#[test]
fn expectations_are_the_store_conditions() {
    let running = |owner: &str, until| JobState {
        lease: Some(Lease { owner: owner.into(), until: t(until) }),
        ..state(JobStatus::Running, 2, None, None)
    };
    let held = expect_held(2, "me");
    let expired = Expect::Present {
        status: JobStatus::Running,
        attempts: 2,
        owner: None,
        lease_expired_before: Some(t(10)),
        uncancelled: false,
    };
    // (expectation, item, holds)
    let cases = [
        (Expect::Absent, None, true),
        (Expect::Absent, Some(state(JobStatus::Queued, 0, None, None)), false),
        (held.clone(), Some(running("me", 30)), true),
        (held.clone(), Some(running("other", 30)), false),
        (held.clone(), Some(state(JobStatus::Running, 2, None, None)), false),
        (held, Some(running("me", 30)).map(|s| JobState { attempts: 3, ..s }), false),
        (expired.clone(), Some(running("other", 9)), true),
        (expired.clone(), Some(running("other", 10)), false),
        (expired.clone(), Some(state(JobStatus::Running, 2, None, None)), true),
        (expired, None, false),
    ];
    for (expect, current, want) in cases {
        assert_eq!(expect.holds(current.as_ref()), want, "{expect:?} on {current:?}");
    }
}

/// Clock skew between workers (issue 11, path 10): a live worker renews every third of its
/// lease, so a lease it holds always has at least two thirds left; another worker takes over
/// only when less than a third (the grace) is left by its own clock. So takeovers stay correct
/// while clocks differ by less than a third of the visibility timeout (20 s by default); a
/// larger skew can cause an early takeover, which the owner-conditioned writes fence (the old
/// holder's result is dropped, nothing is counted twice).
#[test]
fn lease_takeover_tolerates_skew_below_the_grace() {
    let policy = RetryPolicy::default();
    // The holder renewed at its t(0) for 30 s; it renews again at t(10).
    let live = JobState {
        lease: Some(Lease { owner: "holder".into(), until: t(30) }),
        ..state(JobStatus::Running, 1, None, None)
    };
    // The latest moment (holder's clock) before its next renewal, seen by a worker whose clock
    // runs `skew` seconds ahead, with a 10 s grace.
    for (skew, takes_over) in [(0, false), (5, false), (9, false), (11, true)] {
        let now = t(10 + skew);
        let got = on_receive(Some(&live), false, &me(), now, GRACE, &policy);
        assert_eq!(matches!(got, OnReceive::Start { .. }), takes_over, "skew {skew} s: {got:?}");
    }
}

#[test]
fn status_names_round_trip_and_serialize_as_named() {
    for st in JobStatus::ALL {
        assert_eq!(serde_json::to_value(st).unwrap(), st.as_str());
    }
    for s in JobStatus::ALL {
        assert_eq!(JobStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(JobStatus::parse("running"), None);
    assert!(JobStatus::Failed.is_terminal() && !JobStatus::RetryWait.is_terminal());
    assert_eq!(submit(t(0)).counters, counters(1, 0, 0, 0));
}

#[test]
fn an_abandoned_run_ends_when_its_lease_ran_out() {
    let mut state = JobState::new(JobStatus::Running, 2);
    state.started_at = Some(t(0));
    state.lease = Some(Lease { owner: "w/1".into(), until: t(60) });
    state.runner = Some(Runner { worker: "w".into(), logs: None });
    let e = state.abandoned_run(t(100));
    assert_eq!((e.attempt, e.finished_at, e.duration_ms, e.outcome), (2, t(60), 60_000, RunOutcome::Abandoned));
    assert_eq!(e.worker.as_deref(), Some("w"));
    // Found inside the grace (lease not yet over): it ends now.
    assert_eq!(state.abandoned_run(t(50)).finished_at, t(50));
    // Nothing recorded about the run: a zero-length entry, still there.
    let bare = JobState::new(JobStatus::Running, 1).abandoned_run(t(9));
    assert_eq!((bare.started_at, bare.finished_at), (t(9), t(9)));
}

/// Every rule that decides a change from a job as read carries whether it holds a slot of its
/// tenant into the change: an end written without it would let the TTL delete a slot holder
/// (the leak seed 43 of the simulator found), and no writer has to remember it.
#[test]
fn every_rule_deciding_from_a_read_job_carries_its_slot() {
    use crate::poison::{OnUnrunnable, Unrunnable, on_unrunnable};
    use crate::reconcile::{
        DeadLetter, LaneLook, Looks, Overdue, Timing, Unsent, on_dead_letter, on_overdue, on_unsent,
    };
    use crate::state::cancel::{OnCancel, on_cancel};
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    for slot in [false, true] {
        let held = |s: JobState| JobState { slot, ..s };
        let exhausted = held(state(JobStatus::RetryWait, 2, None, Some(-5)));
        let queued = held(state(JobStatus::Queued, 0, None, None));
        let cancel_asked = held(JobState { cancel_requested: true, ..state(JobStatus::Queued, 1, None, None) });
        // (rule, the change it decided)
        let mut decided: Vec<(&str, Option<Transition>)> = Vec::new();
        let end = |r| match r {
            OnReceive::End { transition } | OnReceive::Start { transition, .. } => Some(transition),
            _ => None,
        };
        decided
            .push(("receive, no attempts left", end(on_receive(Some(&exhausted), false, &me(), t(0), GRACE, &policy))));
        decided
            .push(("receive, cancel asked", end(on_receive(Some(&cancel_asked), false, &me(), t(0), GRACE, &policy))));
        decided.push(("receive, start", end(on_receive(Some(&queued), false, &me(), t(0), GRACE, &policy))));
        let cancelled = match on_cancel(&queued, t(0)) {
            OnCancel::Cancel(tr) => Some(tr),
            _ => None,
        };
        decided.push(("cancel", cancelled));
        let poison = |p| match p {
            OnPoison::Record(tr) => Some(tr),
            _ => None,
        };
        decided.push(("reject", poison(reject(Some(&queued), false, "bad", t(0), GRACE))));
        let past = Unrunnable { reason: "unknown kind", firing: false, since: Some(t(-7200)), deferrals: 9 };
        let unrunnable = match on_unrunnable(Some(&queued), &past, t(0), GRACE, Duration::from_secs(3600)) {
            OnUnrunnable::Now(p) => poison(p),
            OnUnrunnable::Defer { .. } => None,
        };
        decided.push(("unrunnable past the skew window", unrunnable));
        let timing = Timing::default();
        let unsent = match on_unsent(&queued, 9, true, "refused", t(0), GRACE, &timing) {
            Unsent::GiveUp(p) => poison(p),
            Unsent::Later { .. } => None,
        };
        decided.push(("unsent, refused too often", unsent));
        let dead = match on_dead_letter(Some(&queued), false, 99, 5, t(0)) {
            DeadLetter::Fail(tr) => Some(tr),
            _ => None,
        };
        decided.push(("dead-lettered too often", dead));
        let looks = Looks {
            changed_at: Some(t(-7200)),
            idle_since: Some(t(-7200)),
            due: Some(t(-60)),
            sent: true,
            resends: 0,
            waits: 3,
        };
        let lane = LaneLook { name: "shell", backlog: 1, in_flight: 0, start_deadline: Some(Duration::from_secs(120)) };
        let not_started = match on_overdue(Some(&queued), &looks, &lane, t(0), &timing) {
            Overdue::NotStarted(tr) => Some(tr),
            _ => None,
        };
        decided.push(("not started", not_started));
        for (rule, tr) in decided {
            let tr = tr.unwrap_or_else(|| panic!("{rule}: the case decides a change"));
            assert_eq!(tr.holds_slot, slot, "{rule}: the change carries the slot as read");
        }
    }
}
