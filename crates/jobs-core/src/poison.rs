//! The rules for a message this build cannot run (unknown kind or version, invalid payload, a
//! malformed body) that names a job.
//!
//! During a rolling deploy that is the normal state: a newer API (or a schedule it created)
//! submits a kind, a field or a message version the old workers still running do not know; or a
//! kind was removed while jobs of it were queued. So such a message is first deferred (a fresh
//! copy, delayed) for a window long enough for a rollout, counted from when the job began; a
//! worker that knows it runs it meanwhile. Only after the window is the job FAILED with the
//! reason, counted once.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::state::{
    Change, Counters, Expect, JobState, JobStatus, Lease, Step, Transition, change, expect_abandoned, expect_from,
};

/// What to do with a job whose message this build cannot run (unknown kind or version, invalid
/// payload, malformed body: a deploy in progress, or a tightened payload rule).
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum OnPoison {
    /// Record the job FAILED with the reason (counted once), then delete the message.
    Record(Transition),
    /// Another worker runs the job under a live lease: leave the job to it.
    Held(Lease),
    /// The job already ended: delete the message.
    Finished(JobStatus),
    /// No item, and not a firing: the job ended and its item expired. Delete the message.
    Gone,
}

/// The rule for a poison message that names a job. A job that has not ended is FAILED with the
/// reason, whatever it was doing, so deleting the message never strands it; only a job running
/// under another worker's live lease is left to that worker. A firing (`firing`) nobody recorded
/// yet is recorded FAILED; any other job without an item ended long ago.
pub fn reject(current: Option<&JobState>, firing: bool, reason: &str, now: DateTime<Utc>, grace: Duration) -> OnPoison {
    let failed = |attempts| Change { last_error: Some(reason.to_owned()), ..change(JobStatus::Failed, attempts) };
    let counted = |submitted| Counters { submitted, failed: 1, ..Counters::default() };
    let Some(state) = current else {
        if !firing {
            return OnPoison::Gone;
        }
        return OnPoison::Record(Transition::new(Step::Reject, Expect::Absent, failed(0), now).counting(counted(1)));
    };
    // Recorded FAILED if it still is as read (holding its slot as read: `Transition::holds_slot`).
    let fail = |expect| {
        let tr = Transition::new(Step::Reject, expect, failed(state.attempts), now).counting(counted(0));
        OnPoison::Record(tr.of_job_as_read(current))
    };
    match state.status {
        status if status.is_terminal() => OnPoison::Finished(status),
        JobStatus::Queued | JobStatus::RetryWait => fail(expect_from(state)),
        _ => {
            let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::zero());
            if let Some(lease) = state.lease.as_ref().filter(|l| l.until > now + grace) {
                return OnPoison::Held(lease.clone());
            }
            fail(expect_abandoned(state.attempts, now + grace))
        }
    }
}

/// How long a message this build cannot run is deferred, counted from when its job began, before
/// the job is FAILED (`SKEW_WINDOW_SECS`): longer than a rollout of the workers takes.
pub const DEFAULT_SKEW_WINDOW: Duration = Duration::from_secs(60 * 60);
/// The first deferral's delay (an eighth of a shorter window); doubled for each later one, up to
/// SQS's longest delay.
pub const SKEW_RETRY_FIRST: Duration = Duration::from_secs(60);
pub const SKEW_RETRY_MAX: Duration = Duration::from_secs(15 * 60);

/// A message this build cannot run.
#[derive(Debug, Clone, PartialEq)]
pub struct Unrunnable<'a> {
    /// Why (the parse or payload error), for the log and, in the end, the job's `lastError`.
    pub reason: &'a str,
    /// The job is a schedule's firing, whose first receipt records it.
    pub firing: bool,
    /// When the job began: its item's creation, else the message's `submittedAt`.
    pub since: Option<DateTime<Utc>>,
    /// How often this message was handed back already.
    pub deferrals: u32,
}

/// What to do with a message this build cannot run.
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum OnUnrunnable {
    /// Inside the skew window: hand the message back as a fresh copy after `delay`; nothing is
    /// written, nothing counted.
    Defer { delay: Duration },
    /// Decided now ([`reject`]): recorded FAILED, left to a live holder, or dropped.
    Now(OnPoison),
}

/// The rule for a message this build cannot run (see the module's text). A job that ended, has no
/// item (and is not a firing) or runs under another worker's live lease is dealt with as
/// [`reject`] does, whatever the window; a job without a known start is failed at once.
pub fn on_unrunnable(
    current: Option<&JobState>,
    m: &Unrunnable<'_>,
    now: DateTime<Utc>,
    grace: Duration,
    window: Duration,
) -> OnUnrunnable {
    let decided = reject(current, m.firing, m.reason, now, grace);
    let OnPoison::Record(_) = decided else { return OnUnrunnable::Now(decided) };
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    let left = m.since.and_then(|since| since.checked_add_signed(window)).map(|end| end - now);
    match left.and_then(|left| left.to_std().ok()).filter(|left| !left.is_zero()) {
        Some(left) => {
            // Several looks within any window: a short one (a test's) starts shorter.
            let first = SKEW_RETRY_FIRST.min(window.to_std().unwrap_or_default() / 8).max(Duration::from_secs(1));
            let backoff = first.saturating_mul(1 << m.deferrals.min(10)).min(SKEW_RETRY_MAX);
            // Just past the window's end at the latest, so the last try fails it on time.
            let delay = backoff.min(left + Duration::from_secs(1));
            OnUnrunnable::Defer { delay }
        }
        None => {
            let reason = format!("{} (this build cannot run it; deferred for the skew window, then failed)", m.reason);
            OnUnrunnable::Now(reject(current, m.firing, &reason, now, grace))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    const HOUR: Duration = Duration::from_secs(3600);
    const GRACE: Duration = Duration::from_secs(20);

    #[test]
    fn unrunnable_messages_wait_out_the_window_then_fail() {
        let queued = JobState::new(JobStatus::Queued, 0);
        let m = |since: Option<i64>, deferrals| Unrunnable {
            reason: "unknown job kind \"teleport\"",
            firing: false,
            since: since.map(t),
            deferrals,
        };
        let defer = |secs| OnUnrunnable::Defer { delay: Duration::from_secs(secs) };
        // (message, now, expected: Some(delay) deferred, None failed)
        let cases = [
            (m(Some(0), 0), 10, Some(defer(60))),
            (m(Some(0), 1), 100, Some(defer(120))),
            (m(Some(0), 4), 1000, Some(defer(900))),
            (m(Some(0), 40), 2000, Some(defer(900))),
            // Near the end: just past it, so the next receipt fails it on time.
            (m(Some(0), 5), 3500, Some(defer(101))),
            (m(Some(0), 5), 3600, None),
            (m(Some(-7200), 0), 0, None),
            // No known start: failed at once.
            (m(None, 0), 0, None),
        ];
        for (msg, now, want) in cases {
            let got = on_unrunnable(Some(&queued), &msg, t(now), GRACE, HOUR);
            match (want, &got) {
                (Some(w), g) => assert_eq!(g, &w, "{msg:?} at {now}"),
                (None, OnUnrunnable::Now(OnPoison::Record(tr))) => {
                    assert_eq!(tr.change.status, JobStatus::Failed);
                    assert_eq!(tr.counters, Counters { failed: 1, ..Counters::default() });
                    let reason = tr.change.last_error.as_deref().unwrap_or_default();
                    assert!(reason.contains("teleport") && reason.contains("skew window"), "{reason}");
                }
                (None, other) => panic!("{msg:?} at {now}: {other:?}"),
            }
        }
    }

    #[test]
    fn what_reject_settles_is_settled_whatever_the_window() {
        let m = Unrunnable { reason: "x", firing: false, since: Some(t(0)), deferrals: 0 };
        let done = JobState::new(JobStatus::Succeeded, 1);
        assert_eq!(
            on_unrunnable(Some(&done), &m, t(1), GRACE, HOUR),
            OnUnrunnable::Now(OnPoison::Finished(JobStatus::Succeeded))
        );
        assert_eq!(on_unrunnable(None, &m, t(1), GRACE, HOUR), OnUnrunnable::Now(OnPoison::Gone));
        // A short window starts with shorter looks.
        let short = Unrunnable { since: Some(t(0)), ..m.clone() };
        assert_eq!(
            on_unrunnable(Some(&JobState::new(JobStatus::Queued, 0)), &short, t(0), GRACE, Duration::from_secs(16)),
            OnUnrunnable::Defer { delay: Duration::from_secs(2) }
        );
        let holder = Lease { owner: "other".into(), until: t(60) };
        let running = JobState { lease: Some(holder.clone()), ..JobState::new(JobStatus::Running, 1) };
        assert_eq!(on_unrunnable(Some(&running), &m, t(1), GRACE, HOUR), OnUnrunnable::Now(OnPoison::Held(holder)));
        // A firing nobody recorded yet is deferred too, from its scheduled time.
        let firing = Unrunnable { firing: true, ..m };
        assert!(matches!(on_unrunnable(None, &firing, t(1), GRACE, HOUR), OnUnrunnable::Defer { .. }));
    }
}
