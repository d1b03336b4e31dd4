//! The reconciler's rules: when a job that has not ended is overdue, and what to do with a message
//! SQS moved to the dead-letter queue. Pure; `data-processor reconcile` carries them out.
//!
//! Every job that has not ended carries a due time in a sparse index: the moment by which it should
//! have made progress. A job still unchanged after its due time has lost its message (it was never
//! sent, or it was dead-lettered, deleted or expired), so the reconciler sends it again: a
//! duplicate is harmless, claims are conditional. Each re-send doubles the wait before the next.
//!
//! Or its message is still on the queue, behind a backlog: the workers are full and it waits its
//! turn. A copy then only adds one more pod start to that backlog. So while the queue has
//! messages waiting, a job whose message was sent is not sent again but looked at later (the same
//! doubling waits), up to [`BACKLOG_LOOKS`] times (about `stale × 15`: a backlog longer than that
//! gets its copies all the same, as a lost message must). A job whose message was never sent is
//! sent at once, backlog or not.
//!
//! | job                       | due                              |
//! | ------------------------- | -------------------------------- |
//! | QUEUED, message not sent  | created + `send_grace`           |
//! | QUEUED, sent or resumed   | then + `stale`                   |
//! | RUNNING                   | lease end + `stale`              |
//! | RETRY_WAIT                | next attempt + `stale`           |
//! | SUCCEEDED, FAILED         | not in the index                 |

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::poison::OnPoison;
use crate::state::{Change, Counters, Expect, JobState, JobStatus, Step, Transition};

/// The reconciler's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long the API may take between recording a job and sending its message.
    pub send_grace: Duration,
    /// How long past its expected progress a job waits before its message is sent again.
    pub stale: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(15 * 60) }
    }
}

/// Times a message may come back from the dead-letter queue before its job is FAILED: a message
/// that SQS dead-letters this often (10 receives each) without its job advancing kills its workers.
pub const MAX_REDRIVES: u32 = 3;

fn after(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// When a job in the state `change` leaves it at `at` is due (`None`: ended, not in the index).
/// `sent`: a QUEUED job's message is known to be on the queue.
pub fn due_at(change: &Change, at: DateTime<Utc>, sent: bool, timing: &Timing) -> Option<DateTime<Utc>> {
    match change.status {
        status if status.is_terminal() => None,
        JobStatus::Queued if change.attempts == 0 && !sent => Some(after(at, timing.send_grace)),
        JobStatus::Queued => Some(after(at, timing.stale)),
        JobStatus::Running => Some(after(change.lease.as_ref().map_or(at, |l| l.until), timing.stale)),
        _ => Some(after(change.retry_at.unwrap_or(at), timing.stale)), // RETRY_WAIT
    }
}

/// Times an overdue job whose message waits behind a backlog is looked at without a copy.
pub const BACKLOG_LOOKS: u32 = 4;

/// What to do with an overdue job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overdue {
    /// Send its message again, visible after `delay`; look again at `next_due`.
    Resend { delay: Duration, next_due: DateTime<Utc> },
    /// Its message is presumably on the queue behind a backlog: send nothing, look again at
    /// `next_due`.
    Wait { next_due: DateTime<Utc> },
    /// It ended, or its due time moved on since the index was read: nothing to do.
    Nothing,
}

/// What the reconciler knows about one overdue job, besides its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looks {
    /// The due time on the item as read now.
    pub due: Option<DateTime<Utc>>,
    /// Its message was put on the queue at some point (false only for a QUEUED job the API
    /// recorded and never sent).
    pub sent: bool,
    /// How often it was sent again, and how often it was found waiting behind a backlog.
    pub resends: u32,
    pub waits: u32,
}

/// The rule for a job the index lists as due before `now`, when `backlog` messages wait on the
/// queue (visible or delayed).
pub fn on_overdue(
    state: Option<&JobState>,
    looks: &Looks,
    backlog: u64,
    now: DateTime<Utc>,
    timing: &Timing,
) -> Overdue {
    let (Some(state), Some(due)) = (state, looks.due) else { return Overdue::Nothing };
    if state.status.is_terminal() || due > now {
        return Overdue::Nothing;
    }
    let backoff = timing.stale.saturating_mul(1 << (looks.resends + looks.waits).min(6));
    let next_due = after(now, backoff);
    if looks.sent && backlog > 0 && looks.waits < BACKLOG_LOOKS {
        return Overdue::Wait { next_due };
    }
    let delay = match (state.status, state.retry_at) {
        (JobStatus::RetryWait, Some(at)) if at > now => (at - now).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    Overdue::Resend { delay, next_due }
}

/// Times the queue may refuse an overdue job's message itself (not an outage: the message, say
/// a body with a character SQS does not carry, written by an older API) before the job is FAILED.
pub const MAX_SEND_REFUSALS: u32 = 3;

/// What to do with an overdue job whose message could not be sent again.
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum Unsent {
    /// Look again at `next_due` (the reconciler moves on to the next job now); `refused`: count
    /// one more refusal on the job.
    Later { next_due: DateTime<Utc>, refused: bool },
    /// Refused too often: end the job FAILED with the reason ([`crate::poison::reject`]).
    GiveUp(OnPoison),
}

/// The rule for an overdue job whose message could not be sent. `refused`: the queue refused the
/// message itself (the same body fails every time); otherwise the queue failed (an outage,
/// throttling, no answer), which never ends a job. `refusals`: the job's refusals before this one.
/// Waits double with each refusal, from `send_grace` up to `stale`.
pub fn on_unsent(
    state: &JobState,
    refusals: u32,
    refused: bool,
    error: &str,
    now: DateTime<Utc>,
    grace: Duration,
    timing: &Timing,
) -> Unsent {
    let refusals = refusals + u32::from(refused);
    if refused && refusals >= MAX_SEND_REFUSALS {
        let reason = format!("its message cannot be sent: the queue refused it {refusals} times ({error})");
        return Unsent::GiveUp(crate::poison::reject(Some(state), false, &reason, now, grace));
    }
    let wait = if refused { timing.send_grace.saturating_mul(1 << refusals.min(6)) } else { timing.send_grace };
    Unsent::Later { next_due: after(now, wait.min(timing.stale)), refused }
}

/// What to do with a job message found on the dead-letter queue (SQS moved it there after it was
/// received too often without being settled).
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum DeadLetter {
    /// The job ended: drop the message.
    Drop,
    /// Put the message back on the job queue (a fresh copy, `redrives + 1`), visible after `delay`.
    Resend { delay: Duration },
    /// Dead-lettered too often: record the job FAILED with the reason, then drop the message.
    Fail(Transition),
}

/// The rule for a dead-lettered message of a job in `current` (`None`: no item, e.g. a schedule
/// firing no worker ever recorded), which has come back `redrives` times before. A job without an
/// item that is not a firing (`firing`) ended and expired: its message is dropped.
pub fn on_dead_letter(
    current: Option<&JobState>,
    firing: bool,
    redrives: u32,
    receive_count: u32,
    now: DateTime<Utc>,
) -> DeadLetter {
    if current.is_some_and(|s| s.status.is_terminal()) || (current.is_none() && !firing) {
        return DeadLetter::Drop;
    }
    // A worker runs the job under a live lease: the copy is a duplicate, and should that worker
    // die, the job's due time (lease end + stale) brings its message back. Never FAILED under it.
    if current.is_some_and(|s| s.status == JobStatus::Running && s.lease.as_ref().is_some_and(|l| l.until > now)) {
        return DeadLetter::Drop;
    }
    if redrives < MAX_REDRIVES {
        let delay = match current {
            Some(s) if s.status == JobStatus::RetryWait => {
                s.retry_at.and_then(|at| (at - now).to_std().ok()).unwrap_or_default()
            }
            _ => Duration::ZERO,
        };
        return DeadLetter::Resend { delay };
    }
    let reason = format!(
        "its message was dead-lettered {} times ({receive_count} receives the last time) without the job advancing",
        redrives + 1
    );
    let (expect, attempts, counters) = match current {
        None => (Expect::Absent, 0, Counters { submitted: 1, failed: 1, ..Counters::default() }),
        Some(s) => (crate::state::expect_from(s), s.attempts, Counters { failed: 1, ..Counters::default() }),
    };
    let change = Change { last_error: Some(reason), ..crate::state::change(JobStatus::Failed, attempts) };
    DeadLetter::Fail(Transition { step: Step::GiveUp, expect, change, counters, at: now, lock: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Lease;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    fn state(status: JobStatus, attempts: u32, retry_at: Option<i64>) -> JobState {
        JobState { retry_at: retry_at.map(t), ..JobState::new(status, attempts) }
    }

    use crate::state::change;

    #[test]
    fn due_times_table() {
        let timing = Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(900) };
        let lease = Lease { owner: "w".into(), until: t(60) };
        // (change, sent, due in seconds from t(0))
        let cases = [
            (change(JobStatus::Queued, 0), false, Some(60)),
            (change(JobStatus::Queued, 0), true, Some(900)),
            (change(JobStatus::Queued, 2), false, Some(900)),
            (Change { lease: Some(lease), ..change(JobStatus::Running, 1) }, false, Some(960)),
            (Change { retry_at: Some(t(4)), ..change(JobStatus::RetryWait, 1) }, false, Some(904)),
            (change(JobStatus::Succeeded, 1), false, None),
            (change(JobStatus::Failed, 3), false, None),
        ];
        for (c, sent, want) in cases {
            assert_eq!(due_at(&c, t(0), sent, &timing), want.map(t), "{:?} sent={sent}", c.status);
        }
    }

    #[test]
    fn overdue_jobs_are_resent_with_doubling_waits() {
        let timing = Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(100) };
        let queued = state(JobStatus::Queued, 0, None);
        let looks = |due: i64, resends| Looks { due: Some(t(due)), sent: true, resends, waits: 0 };
        let resend = |next| Overdue::Resend { delay: Duration::ZERO, next_due: t(next) };
        // (state, looks, expected) with an empty queue
        let cases = [
            (Some(&queued), looks(-1, 0), resend(100)),
            (Some(&queued), looks(-1, 2), resend(400)),
            (Some(&queued), looks(-1, 40), resend(6400)),
            // Its due time moved on since the index was read (a worker claimed it).
            (Some(&queued), looks(5, 0), Overdue::Nothing),
            (None, looks(-1, 0), Overdue::Nothing),
        ];
        for (s, l, want) in cases {
            assert_eq!(on_overdue(s, &l, 0, t(0), &timing), want, "{l:?}");
        }
        let done = state(JobStatus::Succeeded, 1, None);
        assert_eq!(on_overdue(Some(&done), &looks(-1, 0), 0, t(0), &timing), Overdue::Nothing);
    }

    #[test]
    fn a_message_behind_a_backlog_is_waited_for_not_copied() {
        let timing = Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(100) };
        let queued = state(JobStatus::Queued, 0, None);
        let retrying = state(JobStatus::RetryWait, 1, Some(-50));
        let looks = |sent, waits| Looks { due: Some(t(-1)), sent, resends: 0, waits };
        // (state, looks, backlog, expected)
        let cases = [
            // Waiting its turn: looked at again after 100, 200, 400, 800 s, then copied anyway.
            (&queued, looks(true, 0), 5000, Overdue::Wait { next_due: t(100) }),
            (&queued, looks(true, 1), 5000, Overdue::Wait { next_due: t(200) }),
            (&queued, looks(true, 3), 1, Overdue::Wait { next_due: t(800) }),
            (&queued, looks(true, BACKLOG_LOOKS), 1, Overdue::Resend { delay: Duration::ZERO, next_due: t(1600) }),
            (&retrying, looks(true, 0), 7, Overdue::Wait { next_due: t(100) }),
            // Never sent: no backlog holds its message.
            (&queued, looks(false, 0), 5000, Overdue::Resend { delay: Duration::ZERO, next_due: t(100) }),
            // Nothing waits on the queue: the message is lost.
            (&queued, looks(true, 0), 0, Overdue::Resend { delay: Duration::ZERO, next_due: t(100) }),
        ];
        for (s, l, backlog, want) in cases {
            assert_eq!(on_overdue(Some(s), &l, backlog, t(0), &timing), want, "{:?} {l:?} {backlog}", s.status);
        }
    }

    #[test]
    fn unsent_jobs_wait_longer_and_end_after_too_many_refusals() {
        let timing = Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(900) };
        let grace = Duration::from_secs(10);
        let queued = state(JobStatus::Queued, 0, None);
        let later = |secs, refused| Unsent::Later { next_due: t(secs), refused };
        // (refusals before, refused now, expected)
        let cases = [
            // The queue failed: never counted, never ends the job, however often.
            (0, false, later(60, false)),
            (2, false, later(60, false)),
            (40, false, later(60, false)),
            // The queue refused this message: 2, 4 minutes, then FAILED.
            (0, true, later(120, true)),
            (1, true, later(240, true)),
        ];
        for (before, refused, want) in cases {
            assert_eq!(on_unsent(&queued, before, refused, "x", t(0), grace, &timing), want, "{before} {refused}");
        }
        let long = Timing { stale: Duration::from_secs(100), ..timing };
        assert_eq!(on_unsent(&queued, 1, true, "x", t(0), grace, &long), later(100, true), "capped at stale");
        for current in [queued.clone(), state(JobStatus::RetryWait, 2, Some(-5))] {
            let Unsent::GiveUp(OnPoison::Record(tr)) =
                on_unsent(&current, MAX_SEND_REFUSALS - 1, true, "InvalidMessageContents: bad", t(0), grace, &timing)
            else {
                panic!("{current:?}: the third refusal ends the job")
            };
            assert_eq!((tr.change.status, tr.change.attempts), (JobStatus::Failed, current.attempts));
            assert_eq!(tr.counters, Counters { failed: 1, ..Counters::default() }, "counted once, not submitted again");
            let reason = tr.change.last_error.unwrap();
            assert!(reason.contains("refused it 3 times") && reason.contains("InvalidMessageContents"), "{reason}");
        }
        let done = state(JobStatus::Succeeded, 1, None);
        assert_eq!(
            on_unsent(&done, 2, true, "x", t(0), grace, &timing),
            Unsent::GiveUp(OnPoison::Finished(JobStatus::Succeeded))
        );
    }

    #[test]
    fn dead_letters_come_back_until_they_have_come_back_too_often() {
        let cases: Vec<(Option<JobState>, u32, &str)> = vec![
            (None, 0, "resend"),
            (Some(state(JobStatus::Queued, 0, None)), 2, "resend"),
            (Some(state(JobStatus::Running, 1, None)), 0, "resend"),
            (Some(state(JobStatus::Succeeded, 1, None)), 0, "drop"),
            (Some(state(JobStatus::Failed, 3, None)), 5, "drop"),
            (None, 3, "fail"),
            (Some(state(JobStatus::RetryWait, 2, Some(-5))), 3, "fail"),
        ];
        for (current, redrives, want) in cases {
            let got = on_dead_letter(current.as_ref(), true, redrives, 10, t(0));
            let kind = match &got {
                DeadLetter::Drop => "drop",
                DeadLetter::Resend { .. } => "resend",
                DeadLetter::Fail(tr) => {
                    assert_eq!(tr.change.status, JobStatus::Failed);
                    assert!(tr.change.last_error.as_ref().unwrap().contains("dead-lettered 4 times"));
                    let submitted = i64::from(current.is_none());
                    assert_eq!(tr.counters, Counters { submitted, failed: 1, ..Counters::default() });
                    "fail"
                }
            };
            assert_eq!(kind, want, "{current:?} after {redrives} redrives");
        }
        let waiting = state(JobStatus::RetryWait, 1, Some(30));
        assert_eq!(
            on_dead_letter(Some(&waiting), false, 0, 10, t(0)),
            DeadLetter::Resend { delay: Duration::from_secs(30) }
        );
        // No item and not a firing: the job ended and expired.
        assert_eq!(on_dead_letter(None, false, 0, 10, t(0)), DeadLetter::Drop);
        // Running under a live lease, however often it came back: left to its worker.
        let live =
            JobState { lease: Some(Lease { owner: "w".into(), until: t(30) }), ..state(JobStatus::Running, 1, None) };
        for redrives in [0, MAX_REDRIVES, 9] {
            assert_eq!(on_dead_letter(Some(&live), false, redrives, 10, t(0)), DeadLetter::Drop, "{redrives}");
        }
        let expired = JobState { lease: Some(Lease { owner: "w".into(), until: t(-1) }), ..live };
        assert!(matches!(on_dead_letter(Some(&expired), false, MAX_REDRIVES, 10, t(0)), DeadLetter::Fail(_)));
    }
}
