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
//!
//! A job can also wait for a worker that never comes: its lane's image is missing, its pods cannot
//! be scheduled. Its message sits on the queue and nothing of its lane is ever in flight. A lane
//! with a start deadline (every command kind's; a pool's if it declares one) ends such a job
//! FAILED once it has been seen so, at looks [`IDLE_LOOK_EVERY`] apart, for the whole deadline
//! ([`on_overdue`]). One look is not enough: a lane of short jobs has nothing in flight for
//! moments between its pods, and after an outage of the table every waiting job is overdue at
//! once while the pods take their first messages. So the idle time counts from the first of an
//! unbroken series of on-time looks that all saw the lane idle (the job's `idleSince`): a busy
//! look, a state change or a late look (the reconciler or the table was out) starts it again.

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
        // A waiting job has no message to lose: the admitter sends one when it takes a slot.
        status if status.is_terminal() || status == JobStatus::Waiting => None,
        JobStatus::Queued if change.attempts == 0 && !sent => Some(after(at, timing.send_grace)),
        JobStatus::Queued => Some(after(at, timing.stale)),
        JobStatus::Running => Some(after(change.lease.as_ref().map_or(at, |l| l.until), timing.stale)),
        _ => Some(after(change.retry_at.unwrap_or(at), timing.stale)), // RETRY_WAIT
    }
}

/// Times an overdue job whose message waits behind a backlog is looked at without a copy.
pub const BACKLOG_LOOKS: u32 = 4;

/// What the reconciler saw of an overdue job's lane (its queues, both priorities).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneLook<'a> {
    pub name: &'a str,
    /// Messages waiting on the job's own queue, visible or delayed.
    pub backlog: u64,
    /// Messages of the lane received and not yet deleted: jobs running, or waiting out a backoff.
    pub in_flight: u64,
    /// How long a job may wait to start while nothing of the lane is in flight (none: forever).
    pub start_deadline: Option<Duration>,
}

/// What to do with an overdue job.
#[derive(Debug, Clone, PartialEq)]
// Decisions are made once per request or message and moved, never stored: size is no concern.
#[allow(clippy::large_enum_variant)]
pub enum Overdue {
    /// Send its message again, visible after `delay`; look again at `next_due`.
    Resend { delay: Duration, next_due: DateTime<Utc> },
    /// Its message is presumably on the queue behind a backlog: send nothing, look again at
    /// `next_due`.
    Wait { next_due: DateTime<Utc> },
    /// Its lane is idle and it waits to start: keep watching, look again at `next_due`, with the
    /// lane idle since `idle_since`.
    Watch { next_due: DateTime<Utc>, idle_since: DateTime<Utc> },
    /// No worker started it within its lane's start deadline, and nothing of the lane runs:
    /// record it FAILED with the reason (the message left on the queue is dropped by whichever
    /// worker receives it, as any message of an ended job).
    NotStarted(Transition),
    /// It ended, or its due time moved on since the index was read: nothing to do.
    Nothing,
}

/// What the reconciler knows about one overdue job, besides its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Looks {
    /// When its state last changed (its item's `updatedAt`): a QUEUED job waits to start since.
    pub changed_at: Option<DateTime<Utc>>,
    /// Since when every look saw its lane idle (nothing in flight, its message waiting).
    pub idle_since: Option<DateTime<Utc>>,
    /// The due time on the item as read now.
    pub due: Option<DateTime<Utc>>,
    /// Its message was put on the queue at some point (false only for a QUEUED job the API
    /// recorded and never sent).
    pub sent: bool,
    /// How often it was sent again, and how often it was found waiting behind a backlog.
    pub resends: u32,
    pub waits: u32,
}

/// How often a job waiting on an idle lane with a start deadline is looked at (at most `stale`).
pub const IDLE_LOOK_EVERY: Duration = Duration::from_secs(60);

/// The rule for a job the index lists as due before `now`, given what its lane's queues hold.
///
/// A job waiting to start (QUEUED since it last changed; RETRY_WAIT since its next attempt was
/// due), whose message is there (sent, a backlog) while nothing of its lane is in flight, is
/// watched: looked at every [`IDLE_LOOK_EVERY`]. Once every look since `idle_since` saw that, for
/// the lane's start deadline, it ends FAILED. Otherwise it is waited for or sent again as above.
pub fn on_overdue(
    state: Option<&JobState>,
    looks: &Looks,
    lane: &LaneLook,
    now: DateTime<Utc>,
    timing: &Timing,
) -> Overdue {
    let (Some(state), Some(due)) = (state, looks.due) else { return Overdue::Nothing };
    if state.status.is_terminal() || due > now {
        return Overdue::Nothing;
    }
    let waiting_since = match state.status {
        JobStatus::Queued => looks.changed_at,
        JobStatus::RetryWait => state.retry_at.filter(|at| *at <= now),
        _ => None,
    };
    let idle = looks.sent && lane.backlog > 0 && lane.in_flight == 0;
    if let (Some(deadline), Some(since), true) = (lane.start_deadline, waiting_since, idle) {
        let every = IDLE_LOOK_EVERY.min(timing.stale);
        // The same series: it began after the job started waiting, and this look is on time.
        let idle_since = match looks.idle_since {
            Some(at) if at >= since && now - due <= chrono::Duration::from_std(every).unwrap_or_default() => at,
            _ => now,
        };
        if now - idle_since >= chrono::Duration::from_std(deadline).unwrap_or(chrono::Duration::MAX) {
            let reason = format!(
                "not started within {}: its lane `{}` ran nothing while {} message(s) waited \
                 (is the lane's image present, and can its pool start pods?)",
                human(deadline),
                lane.name,
                lane.backlog
            );
            if let OnPoison::Record(transition) =
                crate::poison::reject(Some(state), false, &reason, now, Duration::ZERO)
            {
                return Overdue::NotStarted(transition);
            }
        }
        return Overdue::Watch { next_due: after(now, every), idle_since };
    }
    let backoff = timing.stale.saturating_mul(1 << (looks.resends + looks.waits).min(6));
    let next_due = after(now, backoff);
    if looks.sent && lane.backlog > 0 && looks.waits < BACKLOG_LOOKS {
        return Overdue::Wait { next_due };
    }
    let delay = match (state.status, state.retry_at) {
        (JobStatus::RetryWait, Some(at)) if at > now => (at - now).to_std().unwrap_or_default(),
        _ => Duration::ZERO,
    };
    Overdue::Resend { delay, next_due }
}

/// "90 min", "2 h", "45 s" for a reason a person reads.
fn human(d: Duration) -> String {
    match d.as_secs() {
        s if s >= 7200 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
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
    DeadLetter::Fail(
        Transition { step: Step::GiveUp, expect, change, counters, at: now, lock: None, slot: None, holds_slot: false }
            .of_job_as_read(current),
    )
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

    fn lane(backlog: u64, in_flight: u64, start_deadline: Option<Duration>) -> LaneLook<'static> {
        LaneLook { name: "x", backlog, in_flight, start_deadline }
    }

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
        let looks = |due: i64, resends| Looks {
            changed_at: Some(t(-100)),
            idle_since: None,
            due: Some(t(due)),
            sent: true,
            resends,
            waits: 0,
        };
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
            assert_eq!(on_overdue(s, &l, &lane(0, 0, None), t(0), &timing), want, "{l:?}");
        }
        let done = state(JobStatus::Succeeded, 1, None);
        assert_eq!(on_overdue(Some(&done), &looks(-1, 0), &lane(0, 0, None), t(0), &timing), Overdue::Nothing);
    }

    #[test]
    fn a_message_behind_a_backlog_is_waited_for_not_copied() {
        let timing = Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(100) };
        let queued = state(JobStatus::Queued, 0, None);
        let retrying = state(JobStatus::RetryWait, 1, Some(-50));
        let looks = |sent, waits| Looks {
            changed_at: Some(t(-100)),
            idle_since: None,
            due: Some(t(-1)),
            sent,
            resends: 0,
            waits,
        };
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
            let lane = lane(backlog, 0, None);
            assert_eq!(on_overdue(Some(s), &l, &lane, t(0), &timing), want, "{:?} {l:?} {backlog}", s.status);
        }
    }

    #[test]
    fn a_job_its_idle_lane_never_starts_is_watched_then_ends_failed() {
        let timing = Timing { send_grace: Duration::from_secs(60), stale: Duration::from_secs(100) };
        let hour = Some(Duration::from_secs(3600));
        let queued = state(JobStatus::Queued, 0, None);
        let resumed = state(JobStatus::Queued, 2, None);
        let retrying = state(JobStatus::RetryWait, 1, Some(-9000));
        let retry_later = state(JobStatus::RetryWait, 1, Some(50));
        // Changed at -9000; due at `due`; watched since `idle`.
        let looks = |due: i64, idle: Option<i64>, sent| Looks {
            changed_at: Some(t(-9000)),
            idle_since: idle.map(t),
            due: Some(t(due)),
            sent,
            resends: 0,
            waits: 0,
        };
        let watch = |since| Some(Overdue::Watch { next_due: t(60), idle_since: t(since) });
        let wait = |next| Some(Overdue::Wait { next_due: t(next) });
        let resend = |next| Some(Overdue::Resend { delay: Duration::ZERO, next_due: t(next) });
        // (state, looks, lane: backlog, in flight, deadline; None: FAILED, else the decision)
        let cases: Vec<(&JobState, Looks, LaneLook, Option<Overdue>)> = vec![
            // Idle at every look for the hour: FAILED.
            (&queued, looks(-10, Some(-3600), true), lane(3, 0, hour), None),
            (&resumed, looks(-60, Some(-3700), true), lane(1, 0, hour), None),
            (&retrying, looks(-1, Some(-3600), true), lane(1, 0, hour), None),
            // Idle, but not yet for the hour: watched, a minute at a time.
            (&queued, looks(-10, Some(-3500), true), lane(3, 0, hour), watch(-3500)),
            // The first idle look (however long it waited before): the watch begins now.
            (&queued, looks(-1, None, true), lane(3, 0, hour), watch(0)),
            // A late look (the reconciler or the table was out): the series begins again.
            (&queued, looks(-61, Some(-9000), true), lane(3, 0, hour), watch(0)),
            // A series from before the job's last change (another wait) does not count.
            (&queued, looks(-10, Some(-9500), true), lane(3, 0, hour), watch(0)),
            // The lane works (a backlog): it waits its turn, however long, and the watch ends.
            (&queued, looks(-1, Some(-9000), true), lane(3, 1, hour), wait(100)),
            // Its next attempt is not due yet: not waiting to start.
            (&retry_later, looks(-1, None, true), lane(1, 0, hour), wait(100)),
            // Its message is not on the queue (never sent, or lost): sent first, never failed.
            (&queued, looks(-1, Some(-9000), false), lane(3, 0, hour), resend(100)),
            (&queued, looks(-1, Some(-9000), true), lane(0, 0, hour), resend(100)),
            // A lane without a deadline waits as long as it takes.
            (&queued, looks(-1, Some(-90000), true), lane(3, 0, None), wait(100)),
        ];
        for (s, l, lane, want) in cases {
            let got = on_overdue(Some(s), &l, &lane, t(0), &timing);
            match want {
                Some(want) => assert_eq!(got, want, "{:?} {l:?} {lane:?}", s.status),
                None => {
                    let Overdue::NotStarted(tr) = got else { panic!("{:?} {l:?} {lane:?}: {got:?}", s.status) };
                    assert_eq!((tr.change.status, tr.change.attempts), (JobStatus::Failed, s.attempts));
                    assert_eq!(tr.counters, Counters { failed: 1, ..Counters::default() }, "counted once");
                    assert_eq!(tr.expect, crate::state::expect_from(s), "only if the job is still as read");
                    let reason = tr.change.last_error.unwrap();
                    assert!(reason.starts_with("not started within 60 min") && reason.contains("lane `x`"), "{reason}");
                }
            }
        }
        // With short timings, looks come every `stale`.
        let short = Timing { send_grace: Duration::from_secs(1), stale: Duration::from_secs(5) };
        assert_eq!(
            on_overdue(Some(&queued), &looks(-1, None, true), &lane(1, 0, hour), t(0), &short),
            Overdue::Watch { next_due: t(5), idle_since: t(0) }
        );
        // A running job is never "not started", nor is one that ended.
        let running =
            JobState { lease: Some(Lease { owner: "w".into(), until: t(-200) }), ..state(JobStatus::Running, 1, None) };
        let idle = looks(-1, Some(-9000), true);
        assert!(matches!(on_overdue(Some(&running), &idle, &lane(3, 0, hour), t(0), &timing), Overdue::Wait { .. }));
        let done = state(JobStatus::Failed, 1, None);
        assert_eq!(on_overdue(Some(&done), &idle, &lane(3, 0, hour), t(0), &timing), Overdue::Nothing);
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
