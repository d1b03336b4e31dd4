//! The API's calls, as the real handlers make them (`api_lambda::submit::submit`,
//! `api_lambda::cancel::cancel`), each over a fresh process view: a submission of a job of a
//! kind whose end is known in advance, and a cancel of a job submitted earlier. Some payloads
//! are poison (a character SQS refuses): the API must refuse them with nothing written. And an
//! API of an earlier build, from before that check, records one now and then: its message can
//! never be sent, and its job must end FAILED saying so, holding up no other job. Some requests
//! carry an `Idempotency-Key`, tried again after a failure: one job per caller and key.

use api_lambda::caller::Caller;
use api_lambda::state::IDEMPOTENCY_TTL;
use api_lambda::submit::SubmitError;
use jobs_aws::Idempotency;
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, JobSpec};
use jobs_sim::rng::Rng;
use serde_json::json;

use crate::faults::Faults;
use crate::violation::Violation;
use crate::world::{View, World};

/// How a job must end when nothing cancels it: the kind decides, never the infrastructure (G3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Succeed,
    Fail,
    /// Recorded by the earlier API with a message SQS refuses: FAILED, "cannot be sent".
    Unsendable,
    /// Runs past its time limit in every attempt: FAILED, "timed out".
    TimedOut,
}

/// A payload SQS will not carry (U+FFFF is outside its character set).
fn poison() -> serde_json::Value {
    json!({ "message": "\u{ffff} is not a character SQS carries" })
}

/// What the API answered to a submission.
#[derive(Debug, Clone)]
pub enum Submitted {
    Accepted(Accepted),
    /// Refused (4xx) as SQS would refuse its message: nothing may be written for it.
    Refused {
        job_id: String,
    },
    /// Accepted although SQS will refuse its message (a broken door).
    AcceptedUnsendable {
        job_id: String,
    },
    /// A 5xx or a refusal of another kind.
    Failed,
}

/// A job the API accepted (answered 2xx).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub job_id: String,
    pub kind: &'static str,
    pub expect: Expect,
    /// The most attempts its policy allows.
    pub max_attempts: u32,
    /// A cancel of it was sent (answered or not: a lost answer may have taken effect).
    pub cancel_sent: bool,
}

/// A job to submit: its kind, payload and expected end, drawn from `rng`.
fn draw(rng: &mut Rng) -> (&'static str, serde_json::Value, Expect) {
    match rng.below(20) {
        0..=5 => ("noop", json!({}), Expect::Succeed),
        // A job of milliseconds in the drained `short` pool: its pods take message after message.
        6 => ("ping", json!({}), Expect::Succeed),
        7..=9 => ("flaky", json!({ "failures": 1 + rng.below(2) }), Expect::Succeed),
        10..=11 => ("fail", json!({ "message": "the job's own failure" }), Expect::Fail),
        // Its time limit (3 s, two attempts) ends it.
        12 => ("hang", json!({}), Expect::TimedOut),
        // The `shell` command kind (a simulated child, `child.rs`), in its own lane.
        13..=14 => shell(rng),
        // Up to a minute: across lease renewals (every 20 s) and checkpoints.
        _ => ("sleep", json!({ "ms": 500 + rng.below(60_000) }), Expect::Succeed),
    }
}

/// A job of the `shell` command kind (3 attempts, a 300 s time limit, exit 64 permanent): it
/// works, or fails its first attempts on purpose (retried), exits 64 (FAILED at once) or 1 (FAILED
/// after its attempts), or works past its time limit; some ignore SIGTERM (SIGKILL after the
/// grace stops them).
fn shell(rng: &mut Rng) -> (&'static str, serde_json::Value, Expect) {
    let ignore_term = rng.below(3) == 0;
    match rng.below(6) {
        0..=1 => ("shell", json!({ "seconds": rng.below(40), "ignoreTerm": ignore_term }), Expect::Succeed),
        2 => ("shell", json!({ "seconds": 1, "failAttempts": 1 + rng.below(2) }), Expect::Succeed),
        3 => ("shell", json!({ "seconds": 1, "exitCode": 64, "message": "no such report" }), Expect::Fail),
        4 => ("shell", json!({ "seconds": 1, "exitCode": 1 }), Expect::Fail),
        _ => ("shell", json!({ "seconds": 400, "ignoreTerm": ignore_term }), Expect::TimedOut),
    }
}

/// One `POST /jobs` request as a client makes it: a job drawn from the run's generator (1 in 20
/// with a poison payload), a caller, a priority (1 in 5 `high`: its pool's other queue), and
/// (1 in 3) an `Idempotency-Key`, with which the client tries again after a failed call (a 5xx,
/// or no answer) up to [`KEYED_TRIES`] times.
#[derive(Debug, Clone)]
pub struct Request {
    pub n: u64,
    pub caller: &'static str,
    pub key: Option<String>,
    pub priority: Priority,
    kind: &'static str,
    payload: serde_json::Value,
    expect: Expect,
    poisoned: bool,
}

/// Tries of a request with an `Idempotency-Key`.
pub const KEYED_TRIES: u32 = 3;
/// The two callers (their jobs and keys are their own).
pub const CALLERS: [&str; 2] = ["alice", "bob"];

impl Request {
    pub fn draw(n: u64, rng: &mut Rng) -> Request {
        let poisoned = rng.below(20) == 0;
        let (kind, payload, expect) = if poisoned { ("fail", poison(), Expect::Fail) } else { draw(rng) };
        let caller = CALLERS[rng.below(2) as usize];
        let key = (rng.below(3) == 0).then(|| format!("key-{n}"));
        let priority = if rng.below(5) == 0 { Priority::High } else { Priority::Normal };
        Request { n, caller, key, priority, kind, payload, expect, poisoned }
    }

    /// The same request (job and key) from the other caller: a job of its own.
    pub fn from_other_caller(&self) -> Request {
        let caller = if self.caller == CALLERS[0] { CALLERS[1] } else { CALLERS[0] };
        Request { caller, ..self.clone() }
    }

    /// The job id the API gives try `t` of this request (the API names each request's job anew;
    /// a replayed key answers the first one's).
    pub fn job_id(&self, t: u32) -> String {
        format!("job-{:04}-{}-{t}", self.n, &self.caller[..1])
    }

    /// Sends try `t` as `POST /jobs` does.
    pub async fn submit(&self, view: &View, t: u32, default_max_attempts: u32) -> Submitted {
        let spec = JobSpec::accept(self.kind, self.payload.clone()).expect("a valid simulated job");
        let policy = jobs_core::RetryPolicy { max_attempts: default_max_attempts, ..jobs_core::RetryPolicy::default() };
        let max_attempts = spec.policy().apply(&policy).max_attempts;
        let msg = JobMessage {
            job_id: self.job_id(t),
            priority: self.priority,
            ..JobMessage::for_spec(&spec, view.store.now())
        };
        let idempotency = self.key.as_ref().map(|key| Idempotency {
            key: key.clone(),
            fingerprint: Idempotency::fingerprint(self.kind, &spec.payload()),
            ttl: IDEMPOTENCY_TTL,
        });
        let caller = Caller(self.caller.to_owned());
        match api_lambda::submit::submit(&view.store, &view.queues, &msg, &caller, idempotency.as_ref()).await {
            Ok(accepted) if self.poisoned => Submitted::AcceptedUnsendable { job_id: accepted.job_id },
            Ok(accepted) => Submitted::Accepted(Accepted {
                job_id: accepted.job_id,
                kind: self.kind,
                expect: self.expect,
                max_attempts,
                cancel_sent: false,
            }),
            Err(SubmitError::Unsendable(_)) => Submitted::Refused { job_id: msg.job_id },
            Err(_) => Submitted::Failed,
        }
    }
}

/// A request with an `Idempotency-Key`: the job ids of its tries, and the one the API answered.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub caller: &'static str,
    pub key: String,
    pub tried: Vec<String>,
    pub answered: Option<String>,
}

/// The API's answers to a run's requests.
#[derive(Debug, Default)]
pub struct Answers {
    pub accepted: Vec<Accepted>,
    /// Jobs refused as unsendable (nothing may be written for them).
    pub refused: Vec<String>,
    pub keys: Vec<Keyed>,
}

impl Answers {
    /// Sends `request`, each try over a fresh process view; returns how many tries failed.
    pub async fn send(&mut self, world: &World, faults: &Faults, request: &Request) -> Result<u64, Violation> {
        let tries = if request.key.is_some() { KEYED_TRIES } else { 1 };
        let mut keyed =
            request.key.clone().map(|key| Keyed { caller: request.caller, key, tried: Vec::new(), answered: None });
        let mut failed = 0;
        for t in 0..tries {
            let answer = request.submit(&world.view(faults, 0), t, 3).await;
            if let Some(k) = &mut keyed {
                k.tried.push(request.job_id(t));
            }
            match answer {
                Submitted::Accepted(a) => {
                    if let Some(k) = &mut keyed {
                        k.answered = Some(a.job_id.clone());
                    }
                    self.accepted.push(a);
                    break;
                }
                Submitted::Refused { job_id } => {
                    self.refused.push(job_id);
                    break;
                }
                Submitted::AcceptedUnsendable { job_id } => return Err(Violation::AcceptedUnsendable(job_id)),
                Submitted::Failed => failed += 1,
            }
        }
        self.keys.extend(keyed);
        Ok(failed)
    }
}

/// Records job `n` with a poison payload as an API build from before the door's check did: the
/// record, then a send the queue refuses. `None`: the record failed (a fault).
pub async fn submit_unchecked(view: &View, n: u64) -> Option<Accepted> {
    let spec = JobSpec::accept("fail", poison()).expect("a valid job");
    let msg = JobMessage { job_id: format!("old-{n:04}"), ..JobMessage::for_spec(&spec, view.store.now()) };
    let tenant = msg.tenant_or_of("sim");
    let seat = view.store.seat(&tenant, false).await.ok()?;
    view.store.submit(&msg, "sim", None, &seat).await.ok()?.applied()?;
    let _refused = view.queues.for_job(&msg.kind, msg.priority).send(&msg.to_body()).await;
    let max_attempts = jobs_core::RetryPolicy::default().max_attempts;
    Some(Accepted { job_id: msg.job_id, kind: "fail", expect: Expect::Unsendable, max_attempts, cancel_sent: false })
}

/// Cancels a job as `POST /jobs/{id}/cancel` does; whether the API accepted the cancel.
pub async fn cancel(view: &View, job_id: &str) -> bool {
    api_lambda::cancel::cancel(&view.store, &view.queues, job_id).await.is_ok()
}
