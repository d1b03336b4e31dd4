//! The API's calls, as the real handlers make them (`api_lambda::submit::submit`,
//! `api_lambda::cancel::cancel`), each over a fresh process view: a submission of a job of a
//! kind whose end is known in advance, and a cancel of a job submitted earlier.

use api_lambda::caller::Caller;
use jobs_core::{JobMessage, JobSpec};
use jobs_sim::rng::Rng;
use serde_json::json;

use crate::world::View;

/// How a job must end when nothing cancels it: the kind decides, never the infrastructure (G3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Succeed,
    Fail,
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

/// Submits job `n` as `POST /jobs` does. `None`: the call failed (a 5xx; the job may or may not
/// have been recorded: the checks cover every job in the table either way).
pub async fn submit(view: &View, n: u64, rng: &mut Rng, default_max_attempts: u32) -> Option<Accepted> {
    let (kind, payload, expect) = draw(rng);
    let spec = JobSpec::accept(kind, payload).expect("a valid simulated job");
    let policy = jobs_core::RetryPolicy { max_attempts: default_max_attempts, ..jobs_core::RetryPolicy::default() };
    let max_attempts = spec.policy().apply(&policy).max_attempts;
    let msg = JobMessage { job_id: format!("job-{n:04}"), ..JobMessage::for_spec(&spec, view.store.now()) };
    let caller = Caller("sim".to_owned());
    let accepted = api_lambda::submit::submit(&view.store, &view.queues, &msg, &caller, None).await.ok()?;
    Some(Accepted { job_id: accepted.job_id, kind, expect, max_attempts, cancel_sent: false })
}

/// Cancels a job as `POST /jobs/{id}/cancel` does; whether the API accepted the cancel.
pub async fn cancel(view: &View, job_id: &str) -> bool {
    api_lambda::cancel::cancel(&view.store, &view.queues, job_id).await.is_ok()
}
