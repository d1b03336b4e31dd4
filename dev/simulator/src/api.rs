//! The API's calls, as the real handlers make them (`api_lambda::submit::submit`,
//! `api_lambda::cancel::cancel`), each over a fresh process view: a submission of a job of a
//! kind whose end is known in advance, and a cancel of a job submitted earlier. Some payloads
//! are poison (a character SQS refuses): the API must refuse them with nothing written. And an
//! API of an earlier build, from before that check, records one now and then: its message can
//! never be sent, and its job must end FAILED saying so, holding up no other job.

use api_lambda::caller::Caller;
use api_lambda::submit::SubmitError;
use jobs_core::{JobMessage, JobSpec};
use jobs_sim::rng::Rng;
use serde_json::json;

use crate::world::View;

/// How a job must end when nothing cancels it: the kind decides, never the infrastructure (G3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Succeed,
    Fail,
    /// Recorded by the earlier API with a message SQS refuses: FAILED, "cannot be sent".
    Unsendable,
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
    match rng.below(10) {
        0..=3 => ("noop", json!({}), Expect::Succeed),
        4..=5 => ("flaky", json!({ "failures": 1 + rng.below(2) }), Expect::Succeed),
        6 => ("fail", json!({ "message": "the job's own failure" }), Expect::Fail),
        // Up to a minute: across lease renewals (every 20 s) and checkpoints.
        _ => ("sleep", json!({ "ms": 500 + rng.below(60_000) }), Expect::Succeed),
    }
}

/// Submits job `n` as `POST /jobs` does (1 in 20 with a poison payload). A failed call (a 5xx)
/// may or may not have recorded the job: the checks cover every job in the table either way.
pub async fn submit(view: &View, n: u64, rng: &mut Rng, default_max_attempts: u32) -> Submitted {
    let poisoned = rng.below(20) == 0;
    let (kind, payload, expect) = if poisoned { ("fail", poison(), Expect::Fail) } else { draw(rng) };
    let spec = JobSpec::accept(kind, payload).expect("a valid simulated job");
    let policy = jobs_core::RetryPolicy { max_attempts: default_max_attempts, ..jobs_core::RetryPolicy::default() };
    let max_attempts = spec.policy().apply(&policy).max_attempts;
    let msg = JobMessage { job_id: format!("job-{n:04}"), ..JobMessage::for_spec(&spec, view.store.now()) };
    let caller = Caller("sim".to_owned());
    match api_lambda::submit::submit(&view.store, &view.queues, &msg, &caller, None).await {
        Ok(accepted) if poisoned => Submitted::AcceptedUnsendable { job_id: accepted.job_id },
        Ok(accepted) => {
            Submitted::Accepted(Accepted { job_id: accepted.job_id, kind, expect, max_attempts, cancel_sent: false })
        }
        Err(SubmitError::Unsendable(_)) => Submitted::Refused { job_id: msg.job_id },
        Err(_) => Submitted::Failed,
    }
}

/// Records job `n` with a poison payload as an API build from before the door's check did: the
/// record, then a send the queue refuses. `None`: the record failed (a fault).
pub async fn submit_unchecked(view: &View, n: u64) -> Option<Accepted> {
    let spec = JobSpec::accept("fail", poison()).expect("a valid job");
    let msg = JobMessage { job_id: format!("old-{n:04}"), ..JobMessage::for_spec(&spec, view.store.now()) };
    let tenant = msg.tenant_or_of("sim");
    let seat = view.store.seat(&tenant, false).await.ok()?;
    view.store.submit(&msg, "sim", None, &seat).await.ok()?;
    let _refused = view.queues.for_job(&msg.kind, msg.priority).send(&msg.to_body()).await;
    let max_attempts = jobs_core::RetryPolicy::default().max_attempts;
    Some(Accepted { job_id: msg.job_id, kind: "fail", expect: Expect::Unsendable, max_attempts, cancel_sent: false })
}

/// Cancels a job as `POST /jobs/{id}/cancel` does; whether the API accepted the cancel.
pub async fn cancel(view: &View, job_id: &str) -> bool {
    api_lambda::cancel::cancel(&view.store, &view.queues, job_id).await.is_ok()
}
