//! The reconciler (`data-processor reconcile`) against a real emulator: jobs whose message never
//! reached the queue, or left it, still end SUCCEEDED or FAILED, counted once (issue 11, paths 1,
//! 2 and 9).

mod common;

use std::path::Path;
use std::time::Duration;

use aws_sdk_sqs::types::MessageAttributeValue;
use common::*;
use jobs_core::message::SCHEDULER_SCHEDULED_TIME;
use jobs_core::{JobMessage, JobStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};

/// A job recorded as the API records it, whose message never reached the job queue.
async fn record(stack: &Stack, kind: &str) -> JobMessage {
    record_with(stack, kind, json!({}), Duration::from_secs(60)).await
}

/// The same, due `send_grace` after it was recorded.
async fn record_with(stack: &Stack, kind: &str, payload: Value, send_grace: Duration) -> JobMessage {
    stack.record_unsent(kind, payload, send_grace).await
}

/// One reconcile pass; its log. It must have handled everything.
async fn reconcile(stack: &Stack, extra: &[(&str, &str)]) -> Run {
    let run = reconcile_any(stack, extra).await;
    assert_eq!(run.code, 0, "{}", run.log);
    run
}

/// One reconcile pass, whatever its exit code.
async fn reconcile_any(stack: &Stack, extra: &[(&str, &str)]) -> Run {
    let mut cmd = worker(stack, extra);
    cmd.arg("reconcile");
    finish(cmd.spawn().expect("spawn reconciler")).await
}

async fn api(stack: &Stack, extra: &[(&str, &str)]) -> Api {
    Api::start(stack, Path::new(&testkit::workspace_binary("api-lambda")), extra).await
}

/// Puts a message on the dead-letter queue as SQS's redrive leaves it (with the attributes the
/// system's own copies carry).
async fn dead_letter(stack: &Stack, body: &str, redrives: u32) {
    let mut req = stack.sqs.send_message().queue_url(&stack.resources.dlq_url).message_body(body);
    if redrives > 0 {
        let value = MessageAttributeValue::builder().data_type("Number").string_value(redrives.to_string()).build();
        req = req.message_attributes("redrives", value.unwrap());
    }
    req.send().await.unwrap();
}

/// Path 2: the API process dies between recording a job and sending it. The job is due in the
/// reconciler's index; a pass sends it, and a worker runs it once.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_recorded_but_never_sent_runs_once() {
    let stack = Stack::start().await;
    let crashing = api(&stack, &[("FAULTS", "store.submit=crash-after"), ("SEND_GRACE_SECS", "1")]).await;
    let answer = crashing.http.post(format!("{}/jobs", crashing.base)).body(r#"{"job":"noop"}"#).send().await;
    assert!(answer.is_err(), "the API died before answering: {answer:?}");
    assert_eq!(queued(&stack).await, (0, 0), "nothing was sent");
    assert_eq!(stats(&stack).await.submitted, 1, "but the job was recorded");

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pass = reconcile(&stack, &[]).await;
    assert!(pass.log.contains("overdue job's message sent again"), "{}", pass.log);
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    // Sent once and done: later passes find nothing.
    let pass = reconcile(&stack, &[]).await;
    assert!(!pass.log.contains("sent again"), "{}", pass.log);
}

/// Path 9: a send that fails, and one that succeeds but reports failure. Neither is taken back:
/// the job is accepted (202: the reconciler delivers it), a retry with the same Idempotency-Key
/// returns the same job (and sends it if it never was), and exactly one job runs.
#[tokio::test(flavor = "multi_thread")]
async fn failed_and_ambiguous_sends_are_accepted_once() {
    let stack = Stack::start().await;
    let flaky = api(&stack, &[("FAULTS", "sqs.send=unavailable*1;sqs.send=ambiguous*1")]).await;
    let post = |key: &'static str| {
        let flaky = &flaky;
        async move { flaky.call(Method::POST, "/jobs", Some(r#"{"job":"noop"}"#.into()), &[("Idempotency-Key", key)]).await }
    };
    // The send fails: recorded, 202; the replay sends it.
    let (status, first) = post("k-fail").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let id = first["jobId"].as_str().unwrap().to_owned();
    let (status, job) = flaky.get(&format!("/jobs/{id}")).await;
    assert_eq!((status, job["status"].as_str()), (StatusCode::OK, Some("QUEUED")), "never a job that 404s: {job}");
    // The send succeeds but reports a timeout: 202, and nothing is taken back.
    let (status, second) = post("k-lost").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{second}");
    assert_eq!(queued(&stack).await, (1, 0), "the second job's message is on the queue");

    for (key, answer) in [("k-fail", &first), ("k-lost", &second)] {
        let (status, replay) = post(key).await;
        assert_eq!((status, &replay["jobId"]), (StatusCode::OK, &answer["jobId"]), "{replay}");
    }
    let run = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0), "two keys, two jobs, each run once");
    assert_eq!(queued(&stack).await, (0, 0));
}

/// The record's answer is lost (the transaction committed, the API answered 503): the client's
/// retry with its Idempotency-Key returns that job, which keeps the submitter the record wrote;
/// it runs and is counted once. Another caller's same key is another key (issue 24: it used to
/// replay the first caller's job): that caller gets a job of its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_record_answer_keeps_the_first_submitter() {
    let stack = Stack::start().await;
    let flaky = api(&stack, &[("FAULTS", "store.submit=ambiguous*1"), ("API_TOKENS", "alice=tok-a,bob=tok-b")]).await;
    let post = |token: &'static str| {
        let flaky = &flaky;
        async move {
            let auth = format!("Bearer {token}");
            let headers = [("Idempotency-Key", "order-42"), ("Authorization", auth.as_str())];
            flaky.call(Method::POST, "/jobs", Some(r#"{"job":"noop"}"#.into()), &headers).await
        }
    };
    let (status, lost) = post("tok-a").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "the answer was lost: {lost}");
    let (status, replay) = post("tok-a").await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    let id = replay["jobId"].as_str().unwrap().to_owned();
    let (status, theirs) = post("tok-b").await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    let other = theirs["jobId"].as_str().unwrap().to_owned();
    assert_ne!(other, id, "a key is its caller's: bob's order-42 is not alice's");
    let (_, again) = post("tok-b").await;
    assert_eq!(again["jobId"].as_str(), Some(other.as_str()), "and replays bob's own job");
    assert_eq!(job(&stack, &id).await.submitted_by.as_deref(), Some("local:alice"));
    assert_eq!(job(&stack, &other).await.submitted_by.as_deref(), Some("local:bob"));

    let run = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0), "two jobs, each run and counted once");
    assert!(run.log.contains(r#""submitted_by":"local:alice""#), "{}", run.log);
    let auth = [("Authorization", "Bearer tok-b")];
    for who in ["alice", "bob"] {
        let (_, page) = flaky.call(Method::GET, &format!("/jobs?submittedBy=local:{who}"), None, &auth).await;
        assert_eq!(page["jobs"].as_array().map(Vec::len), Some(1), "{page}");
    }
}

/// Path 1 (the redrive): messages SQS moved to the dead-letter queue come back to the job queue
/// while their job has not ended (a schedule firing no worker recorded included), are dropped
/// when it has, end the job FAILED with the reason once they came back too often, and stay there
/// for a person when they name no job.
#[tokio::test(flavor = "multi_thread")]
async fn dead_lettered_messages_come_back_or_end_their_job() {
    let stack = Stack::start().await;
    let queued_job = record(&stack, "noop").await;
    let hopeless = record(&stack, "noop").await;
    let done = submit(&stack, "noop", Value::Null).await;
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let fired = JobMessage::schedule_template(
        &jobs_core::JobSpec::parse("noop", json!({})).unwrap(),
        "nightly",
        jobs_core::Overlap::Allow,
        jobs_core::pools::Priority::Normal,
        &jobs_core::Tenant::default(),
    )
    .replace(SCHEDULER_SCHEDULED_TIME, "2026-11-21T07:00:00Z");
    dead_letter(&stack, &queued_job.to_body(), 0).await;
    dead_letter(&stack, &hopeless.to_body(), 3).await;
    dead_letter(&stack, &done.to_body(), 0).await;
    dead_letter(&stack, &fired, 0).await;
    dead_letter(&stack, "not a job", 0).await;

    let pass = reconcile(&stack, &[]).await;
    assert!(pass.log.contains("redriven: 2"), "{}", pass.log);
    assert!(pass.log.contains("dropped: 1") && pass.log.contains("failed: 1"), "{}", pass.log);
    assert!(pass.log.contains("unresolvable: 1"), "{}", pass.log);
    let rec = job(&stack, &hopeless.job_id).await;
    assert_eq!(rec.state.status, JobStatus::Failed);
    assert!(rec.last_error.unwrap().contains("dead-lettered 4 times"));

    let run = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(job(&stack, &queued_job.job_id).await.state.status, JobStatus::Succeeded);
    assert_eq!(job(&stack, "sched:nightly:2026-11-21T07:00:00Z").await.state.status, JobStatus::Succeeded);
    // Four jobs: three recorded by the "API", one created by the firing; each counted once.
    assert_eq!(stats(&stack).await, counts(4, 3, 1, 0));
    assert_eq!(queued(&stack).await, (0, 0));
    let pass = reconcile(&stack, &[]).await;
    assert!(!pass.log.contains("redriven"), "the unresolvable message stays hidden for a person: {}", pass.log);
}

/// The safety net: a job that runs on no worker and whose message is gone (its worker was killed
/// and the message deleted) is due after its lease plus STALE_AFTER_SECS; the reconciler sends it
/// again and a worker takes the abandoned attempt over (and resumes it).
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_message_of_a_dead_worker_is_sent_again() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 30_000})).await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("STALE_AFTER_SECS", "1")];
    let mut child = worker(&stack, &fast).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    child.kill().await.unwrap();
    stack.sqs.purge_queue().queue_url(&stack.resources.queue_url).send().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;

    let pass = reconcile(&stack, &[]).await;
    assert!(pass.log.contains("overdue job's message sent again"), "{}", pass.log);
    let quick = job(&stack, &msg.job_id).await;
    assert_eq!((quick.state.status, quick.resends), (JobStatus::Running, 1));
    // The copy goes to the job's own queue, its kind's pool's (sleep: long). The takeover resumes
    // attempt 1; a 1 s limit ends it quickly (as a failed attempt, its last).
    let limits = [fast[0], fast[1], ("ATTEMPT_TIMEOUT_SECS", "1"), ("MAX_ATTEMPTS", "1")];
    let run = finish(worker_in(&stack, "long", &limits).spawn().unwrap()).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert!(run.log.contains("attempt started"), "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 1), "resumed, not given up: {rec:?}");
    assert!(rec.last_error.unwrap().contains("timed out"));
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0));
}

/// Issue 24, item 1: a job an older API recorded with a body SQS refuses (U+FFFF) is never sent.
/// Recovery goes on around it: every other unsent job behind it is sent in the same pass; the
/// refused one waits longer each time and, after three refusals, ends FAILED with the reason,
/// counted once. An outage of the queue (injected) is not a refusal and ends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_message_the_queue_refuses_never_stalls_recovery() {
    let stack = Stack::start().await;
    if stack.emulator.lacks(testkit::Feature::SqsCharset) {
        return;
    }
    let second = Duration::from_secs(1);
    let poison = record_with(&stack, "fail", json!({"message": "\u{FFFF}"}), second).await;
    // Good jobs until one is after the poison in the index (the same shard, due later, or a later
    // shard), so a pass that stopped at the poison would never reach it.
    let shard = |id: &str| jobs_aws::store::item::due_shard(id).parse::<u32>().unwrap();
    let mut good = Vec::new();
    while good.len() < 4 || !good.iter().any(|m: &JobMessage| shard(&m.job_id) >= shard(&poison.job_id)) {
        good.push(record_with(&stack, "noop", json!({}), second).await);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let fast = [("SEND_GRACE_SECS", "1")];

    // The queue is down: nothing is sent, nothing is counted against any job, the pass fails.
    let down = reconcile_any(&stack, &[("SEND_GRACE_SECS", "1"), ("FAULTS", "sqs.send=unavailable")]).await;
    assert_ne!(down.code, 0, "{}", down.log);
    assert_eq!(queued(&stack).await, (0, 0));
    for msg in good.iter().chain([&poison]) {
        let rec = job(&stack, &msg.job_id).await;
        assert_eq!((rec.state.status, rec.send_refusals), (JobStatus::Queued, 0), "{}", msg.job_id);
    }

    // Healed: the good jobs are all sent in one pass; the poison is refused once.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pass = reconcile(&stack, &fast).await;
    assert_eq!(pass.log.matches("overdue job's message sent again").count(), good.len(), "{}", pass.log);
    assert_eq!(queued(&stack).await, (good.len() as u64, 0));
    let rec = job(&stack, &poison.job_id).await;
    assert_eq!((rec.state.status, rec.send_refusals), (JobStatus::Queued, 1));
    // The pass's metric line counts both.
    let line: Value = serde_json::from_str(pass.out.lines().last().expect("a metric line")).unwrap();
    assert_eq!(
        (line["ReconcileResent"].as_u64(), line["ReconcileUnsent"].as_u64()),
        (Some(good.len() as u64), Some(1))
    );

    // Refused twice more, with a longer wait each time, then FAILED once.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let failed = loop {
        let rec = job(&stack, &poison.job_id).await;
        if rec.state.status == JobStatus::Failed {
            break rec;
        }
        assert!(std::time::Instant::now() < deadline, "the poison job never ended: {rec:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
        reconcile(&stack, &fast).await;
    };
    let reason = failed.last_error.unwrap_or_default();
    assert!(reason.contains("refused it 3 times") && reason.contains("InvalidMessageContents"), "{reason}");
    let pass = reconcile(&stack, &fast).await;
    assert!(!pass.log.contains("refused"), "an ended job is out of the index: {}", pass.log);

    let run = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let n = good.len() as u64;
    assert_eq!(stats(&stack).await, counts(n + 1, n, 1, 0), "every job counted once");
}

/// Issue 24, item 8: with a backlog, jobs wait on the queue longer than the stale threshold. Their
/// messages are there, waiting their turn: the reconciler sends no copies (each would be one more
/// pod start) but looks again later, with doubling waits; only a backlog that outlasts
/// `BACKLOG_LOOKS` looks gets copies, as a lost message must. Drained, every job ran once.
#[tokio::test(flavor = "multi_thread")]
async fn a_backlog_is_waited_for_not_multiplied() {
    let stack = Stack::start().await;
    let api = api(&stack, &[("STALE_AFTER_SECS", "1")]).await;
    let jobs = 5;
    for _ in 0..jobs {
        let (status, out) = api.post("/jobs", json!({"job": "noop"})).await;
        assert_eq!(status, StatusCode::OK, "{out}");
    }
    assert_eq!(queued(&stack).await, (jobs, 0), "the backlog: nobody takes the messages");
    let stale = [("STALE_AFTER_SECS", "1")];
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let pass = reconcile(&stack, &stale).await;
    assert_eq!(pass.log.matches("waits behind the queue's backlog").count(), jobs as usize, "{}", pass.log);
    assert!(!pass.log.contains("sent again"), "{}", pass.log);
    assert_eq!(queued(&stack).await, (jobs, 0), "no copies");

    // A backlog that lasts: looked at after 1, 2, 4 and 8 s, then copied after all.
    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let mut copied = 0;
    while copied < jobs as usize {
        assert!(std::time::Instant::now() < deadline, "the backlog's jobs were never sent again");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        copied += reconcile(&stack, &stale).await.log.matches("sent again").count();
    }
    assert_eq!(queued(&stack).await, (2 * jobs, 0));
    let rec = stack.store.get(&first_job(&stack).await).await.unwrap().unwrap();
    assert_eq!((rec.backlog_waits, rec.resends), (jobs_core::reconcile::BACKLOG_LOOKS, 1), "{rec:?}");

    let run = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(stats(&stack).await, counts(jobs, jobs, 0, 0), "each job ran once");
    assert_eq!(queued(&stack).await, (0, 0));
}

/// The id of some job of the stack (from the list index).
async fn first_job(stack: &Stack) -> String {
    let page = stack.store.list(&jobs_aws::ListFilter::default(), 1, None).await.unwrap();
    page.jobs[0].job_id.clone()
}
