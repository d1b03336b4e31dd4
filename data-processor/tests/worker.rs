//! The worker binary, run as a child process against a real emulator (ministack by default,
//! moto with `EMULATOR=moto`). Each test gets its own emulator and resources.

mod common;

use jobs_aws::Scheduler as _;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use jobs_core::history::RunOutcome;
use jobs_core::{JobMessage, JobStatus};
use serde_json::{Value, json};
use testkit::Stack;

#[tokio::test(flavor = "multi_thread")]
async fn succeeded_job_is_recorded_once_and_its_message_deleted() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "aggregate", json!({"records": 1000, "seed": 7})).await;

    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    let result = rec.result.clone().expect("result summary");
    assert_eq!(result["count"], 1000);
    assert_eq!(result["sha256"].as_str().unwrap().len(), 64);
    assert!(rec.finished_at.is_some() && rec.state.lease.is_none());
    assert_eq!(rec.kind(), Some("aggregate"));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
    assert!(run.log.contains(&msg.job_id), "logs carry the job id");
    assert!(run.log.contains(r#""submitted_by":"local""#), "and who submitted it (from the job item): {}", run.log);

    // An empty queue is a clean exit.
    let empty = run_worker(&stack, &[("WAIT_TIME_SECS", "0")]).await;
    assert_eq!(empty.code, 0);
    assert!(empty.log.contains("queue is empty"));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_job_is_retried_twice_after_backoff_then_failed() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "fail", json!({"message": "disk on fire"})).await;

    let first = run_worker(&stack, &[]).await;
    assert_eq!(first.code, 1, "{}", first.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::RetryWait, 1));
    assert_eq!(rec.last_error.as_deref(), Some("disk on fire"));
    let mut failed_at = rec.updated_at.unwrap();
    assert_eq!((rec.state.retry_at.unwrap() - failed_at).num_seconds(), 2);
    // During the backoff the message is hidden: a worker finds nothing.
    let hidden = run_worker(&stack, &[("WAIT_TIME_SECS", "0")]).await;
    assert_eq!(hidden.code, 0);
    assert!(hidden.log.contains("queue is empty"), "{}", hidden.log);

    for (attempt, backoff_secs, code, status) in [(2, 2, 1, JobStatus::RetryWait), (3, 4, 1, JobStatus::Failed)] {
        let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
        assert_eq!(run.code, code, "{}", run.log);
        let rec = job(&stack, &msg.job_id).await;
        assert_eq!((rec.state.status, rec.state.attempts), (status, attempt));
        let waited = rec.state.started_at.unwrap() - failed_at;
        assert!(
            waited.num_milliseconds() >= backoff_secs * 1000 - 900,
            "attempt {attempt} started {waited} after the failure, backoff is {backoff_secs}s"
        );
        failed_at = rec.updated_at.unwrap();
    }
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 2));
    assert_eq!(queued(&stack).await, (0, 0));
    // The failure is on the job item; the dead-letter queue is only SQS's redrive target.
    assert_eq!(job(&stack, &msg.job_id).await.last_error.as_deref(), Some("disk on fire"));
    assert!(stack.drain_dlq().await.is_empty());
}

/// Each recorded attempt writes one EMF line on stdout: its duration (and, for the first, how long
/// the job was queued); the attempt that ends the job also counts the job and its attempts under
/// its outcome. `METRICS=off` writes none.
#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_attempt_writes_an_emf_line() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "flaky", json!({"failures": 1})).await;
    let emf = |run: &common::Run| -> Vec<Value> {
        run.out.lines().map(|l| serde_json::from_str(l).expect("an EMF line is JSON")).collect()
    };
    let first = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!(first.code, 1, "{}", first.log);
    let lines = emf(&first);
    assert_eq!(lines.len(), 1, "{}", first.out);
    let m = &lines[0];
    assert_eq!(
        (m["jobId"].as_str(), m["Kind"].as_str(), m["attempt"].as_u64()),
        (Some(msg.job_id.as_str()), Some("flaky"), Some(1))
    );
    assert!(m["AttemptDuration"].is_u64() && m["QueuedTime"].is_u64(), "{m}");
    assert!(m.get("Outcome").is_none() && m.get("Jobs").is_none(), "the job goes on: {m}");
    assert_eq!(m["_aws"]["CloudWatchMetrics"][0]["Namespace"], "KedaSqsJobs");

    let second = run_worker(&stack, &[("WAIT_TIME_SECS", "10"), ("METRICS_NAMESPACE", "Test")]).await;
    assert_eq!(second.code, 0, "{}", second.log);
    let lines = emf(&second);
    assert_eq!(lines.len(), 1, "{}", second.out);
    let m = &lines[0];
    assert_eq!(
        (m["Outcome"].as_str(), m["Jobs"].as_u64(), m["AttemptsPerJob"].as_u64()),
        (Some("SUCCEEDED"), Some(1), Some(2))
    );
    assert!(m.get("QueuedTime").is_none(), "only the first attempt's start is queue time: {m}");
    let directives = m["_aws"]["CloudWatchMetrics"].as_array().unwrap();
    assert!(directives.iter().all(|d| d["Namespace"] == "Test"), "{m}");
    assert_eq!(directives[1]["Dimensions"], json!([["Kind", "Outcome"], ["Outcome"], ["Tenant", "Outcome"]]));
    // A tenant the config does not name counts as (other).
    assert_eq!(m["Tenant"], "(other)", "{m}");
    let t = m["_aws"]["Timestamp"].as_i64().unwrap();
    assert!((Utc::now().timestamp_millis() - t).abs() < 60_000, "{t}");

    // A tenant the config names (infra-cdk8s/config.json: acme) has series of its own: its queue
    // time and its outcomes.
    let acme = JobMessage {
        tenant: Some(jobs_core::Tenant::parse("acme").unwrap()),
        ..JobMessage::new_api("noop", Value::Null, Utc::now())
    };
    stack
        .store
        .submit(&acme, jobs_core::submitter::LOCAL, None, &jobs_aws::store::Seat::Free)
        .await
        .unwrap()
        .applied()
        .expect("the write applies");
    stack.queue.send(&acme.to_body()).await.unwrap();
    let named = run_worker(&stack, &[]).await;
    let lines = emf(&named);
    assert_eq!((lines.len(), lines[0]["Tenant"].as_str()), (1, Some("acme")), "{}", named.out);
    let dims: Vec<Value> =
        lines[0]["_aws"]["CloudWatchMetrics"].as_array().unwrap().iter().map(|d| d["Dimensions"].clone()).collect();
    assert!(dims.contains(&json!([["Tenant"]])), "queue time by tenant: {dims:?}");

    submit(&stack, "noop", Value::Null).await;
    let quiet = run_worker(&stack, &[("METRICS", "off")]).await;
    assert_eq!(quiet.code, 0, "{}", quiet.log);
    assert_eq!(quiet.out, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn flaky_job_succeeds_on_its_third_attempt() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "flaky", json!({"failures": 2})).await;
    for expected in [1, 1, 0] {
        let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
        assert_eq!(run.code, expected, "{}", run.log);
    }
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 3));
    assert_eq!(rec.result, Some(json!({"succeededOnAttempt": 3})));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 2));
    assert_eq!(queued(&stack).await, (0, 0));
    assert!(stack.drain_dlq().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_message_delivered_twice_is_counted_once() {
    let stack = Stack::start().await;
    // Sequential: the second copy arrives after the job finished.
    let msg = submit(&stack, "noop", Value::Null).await;
    stack.queue.send(&msg.to_body()).await.unwrap();
    let run = run_worker(&stack, &[("MAX_MESSAGES", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("duplicate delivery of a finished job"), "{}", run.log);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));

    // Concurrent: two workers get copies of one job at the same time; exactly one runs it.
    let msg = submit(&stack, "sleep", json!({"ms": 2500})).await;
    stack.queue.send(&msg.to_body()).await.unwrap();
    let short = [("VISIBILITY_TIMEOUT_SECS", "3")];
    let a = worker(&stack, &short).spawn().unwrap();
    let b = worker(&stack, &short).spawn().unwrap();
    let (a, b) = tokio::join!(finish(a), finish(b));
    assert_eq!((a.code, b.code), (0, 0));
    let ran = [&a, &b].iter().filter(|r| r.log.contains("job SUCCEEDED")).count();
    assert_eq!(ran, 1, "exactly one worker ran the job");
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    // Whatever copy is left is found finished and deleted without counting.
    for _ in 0..3 {
        if queued(&stack).await == (0, 0) {
            break;
        }
        let run = run_worker(&stack, &[("WAIT_TIME_SECS", "5")]).await;
        assert_eq!(run.code, 0, "{}", run.log);
    }
    assert_eq!(queued(&stack).await, (0, 0));
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_releases_the_message_without_consuming_a_retry() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 60_000})).await;

    for round in 0..2 {
        let child = worker(&stack, &[]).spawn().unwrap();
        let rec = wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
        assert_eq!(rec.state.attempts, 1, "round {round}: the interrupted attempt is resumed, not retried");
        let stop = Instant::now();
        signal(&child, libc::SIGTERM);
        let run = finish(child).await;
        assert_eq!(run.code, 143, "{}", run.log);
        // Well inside a 30 s grace period (in practice milliseconds).
        assert!(stop.elapsed() < Duration::from_secs(10), "took {:?}", stop.elapsed());
        let rec = job(&stack, &msg.job_id).await;
        assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Queued, 1));
        assert_eq!(queued(&stack).await, (1, 0), "message visible again at once");
        assert_eq!(stats(&stack).await, counts(1, 0, 0, 0));
    }
}

/// A long job on spot is stopped by its node: once with notice (SIGTERM: the interruption records
/// its newest checkpoint), once without (SIGKILL: the checkpoint its lease renewals wrote is what
/// is left). Each run goes on from the saved progress, so the work is done once, not three times,
/// and no attempt is spent.
#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_job_resumes_from_its_checkpoint_and_does_its_work_once() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 6000})).await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10")];
    let slept =
        |rec: &jobs_aws::JobRecord| rec.state.checkpoint.as_ref().and_then(|c| c["sleptMs"].as_u64()).unwrap_or(0);

    let child = worker(&stack, &fast).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    signal(&child, libc::SIGTERM);
    assert_eq!(finish(child).await.code, 143);
    let first = slept(&job(&stack, &msg.job_id).await);
    assert!(first >= 2000, "the interruption kept the progress: {first} ms");

    let mut child = worker(&stack, &fast).spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rec = wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    assert_eq!(rec.state.attempts, 1, "an interruption spends no attempt");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    child.kill().await.unwrap(); // SIGKILL: nothing recorded at the stop
    let second = slept(&job(&stack, &msg.job_id).await);
    assert!(second >= first + 1000, "the renewals wrote the progress: {first} then {second} ms");

    let run = run_worker(&stack, &fast).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("resuming the attempt from its checkpoint"), "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    let result = rec.result.clone().unwrap();
    assert_eq!(result["sleptMs"], 6000);
    assert_eq!(result["resumedFromMs"].as_u64(), Some(second), "{result}");
    let outcomes: Vec<RunOutcome> = rec.state.history.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [RunOutcome::Interrupted, RunOutcome::Abandoned, RunOutcome::Succeeded]);
    // The last run did only what was left (6000 - second ms), not the whole sleep again.
    let last = rec.state.history.last().unwrap().duration_ms;
    assert!(last < 6000 - second + 1500, "the last run took {last} ms after {second} ms were done");
    assert_eq!(rec.state.checkpoint, None, "an ended job keeps no checkpoint");
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_worker_attempt_is_taken_over_and_resumed() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 3000})).await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10")];

    let mut child = worker(&stack, &fast).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    child.kill().await.unwrap(); // SIGKILL: nothing recorded

    // The next worker takes the abandoned attempt over and resumes it: a killed (or cut-off)
    // worker does not use up an attempt, within MAX_INTERRUPTIONS.
    let run = run_worker(&stack, &fast).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    // The abandoned run keeps its error; the job that succeeded has none.
    assert_eq!(rec.last_error, None);
    let abandoned = &rec.state.history[0];
    assert_eq!((abandoned.outcome, abandoned.attempt), (RunOutcome::Abandoned, 1));
    assert!(abandoned.error.as_deref().unwrap_or_default().contains("lease expired"), "{abandoned:?}");
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_killed_too_often_on_the_last_attempt_ends_failed_once() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 30_000})).await;
    let fast =
        [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10"), ("MAX_ATTEMPTS", "1"), ("MAX_INTERRUPTIONS", "0")];

    let mut child = worker(&stack, &fast).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    child.kill().await.unwrap();

    let run = run_worker(&stack, &fast).await;
    assert_eq!(run.code, 1, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 1));
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0));
    assert_eq!(queued(&stack).await, (0, 0));
    assert!(rec.last_error.unwrap_or_default().contains("abandoned 1 times"));
    assert!(stack.drain_dlq().await.is_empty());
}

/// A job as an API records it (QUEUED, `submitted + 1`) and the body it sends: here a newer API
/// whose messages this build cannot run.
async fn record_newer(stack: &Stack, id: &str, body: Value) -> String {
    let msg = JobMessage::new_api("noop", json!({}), Utc::now());
    let msg = JobMessage { job_id: id.to_owned(), kind: body["job"].as_str().unwrap_or("noop").to_owned(), ..msg };
    let tr = jobs_core::state::submit(Utc::now());
    stack
        .store
        .apply(id, None, None, Some(&msg), &tr, &stack.store.token())
        .await
        .unwrap()
        .applied()
        .expect("the write applies");
    body.to_string()
}

/// Issue 24, item 2: a rolling deploy. Messages this build cannot run (an unknown kind, a payload
/// it refuses, a newer message version) are handed back, not failed, while the skew window
/// lasts: nothing written, nothing counted. A deferred job whose kind a worker knows again (the
/// next build's, simulated by the copy reaching it under a kind this build runs) runs and is
/// counted once. After the window the others end FAILED, naming the kind or version, each counted
/// once. A message that names no job goes to the dead-letter queue; one whose job's item is gone
/// (it ended and expired) is dropped, never recreating the job.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_defers_what_this_build_cannot_run_then_fails_it_after_the_window() {
    let stack = Stack::start().await;
    let now = Utc::now().to_rfc3339();
    let envelope = |id: &str, kind: &str, payload: Value| json!({"v":1,"jobId":id,"job":kind,"payload":payload,"submittedAt":now,"source":"api"});
    let unknown = record_newer(&stack, "p-unknown", envelope("p-unknown", "teleport", json!({}))).await;
    let invalid = record_newer(&stack, "p-invalid", envelope("p-invalid", "sleep", json!({"ms": -1}))).await;
    let future =
        record_newer(&stack, "p-future", json!({"v":9,"jobId":"p-future","job":"noop","submittedAt":now})).await;
    let expired = envelope("p-expired", "teleport", json!({})).to_string();
    for body in ["not json at all", &unknown, &invalid, &future, &expired] {
        stack.queue.send(body).await.unwrap();
    }
    let window = [("SKEW_WINDOW_SECS", "8"), ("MAX_MESSAGES", "5")];

    let run = run_worker(&stack, &window).await;
    assert_eq!(run.code, 1, "only the message that names no job was rejected: {}", run.log);
    assert_eq!(run.log.matches("handing it back").count(), 3, "{}", run.log);
    for id in ["p-unknown", "p-invalid", "p-future"] {
        let rec = job(&stack, id).await;
        assert_eq!((rec.state.status, rec.state.attempts, rec.last_error), (JobStatus::Queued, 0, None), "{id}");
    }
    assert_eq!(stats(&stack).await, counts(3, 0, 0, 0), "nothing counted, and the expired job not recreated");
    assert!(stack.store.get("p-expired").await.unwrap().is_none());
    assert_eq!(queued(&stack).await, (3, 0), "three copies handed back");
    let kept = stack.drain_dlq().await;
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].0 == "not json at all" && kept[0].1.contains("not JSON"), "{kept:?}");

    // The rollout goes on: the copy of p-unknown reaches a worker that knows its kind.
    let deadline = Instant::now() + Duration::from_secs(20);
    let copy = loop {
        assert!(Instant::now() < deadline, "the handed-back copy never came back");
        match stack.queue.receive(Duration::from_secs(1), Duration::from_secs(30)).await.unwrap() {
            Some(m) if m.body.contains("p-unknown") => break m,
            Some(m) => stack.queue.set_visibility(&m.receipt_handle, Duration::ZERO).await.unwrap(),
            None => {}
        }
    };
    assert_eq!(copy.deferrals, 1, "a fresh copy, counted as handed back");
    let known = copy.body.replace("\"teleport\"", "\"noop\"");
    let meta = jobs_aws::CopyMeta { deferrals: copy.deferrals, ..Default::default() };
    stack.queue.send_copy(&known, Duration::ZERO, meta).await.unwrap();
    stack.queue.delete(&copy.receipt_handle).await.unwrap();
    let run = run_worker(&stack, &[("SKEW_WINDOW_SECS", "8"), ("DRAIN", "true"), ("WAIT_TIME_SECS", "1")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(job(&stack, "p-unknown").await.state.status, JobStatus::Succeeded);

    // The window passes: what no worker could run ends FAILED, saying why, each counted once.
    let mut ended = 0;
    let deadline = Instant::now() + Duration::from_secs(40);
    while ended < 2 {
        assert!(Instant::now() < deadline, "the window passed but the jobs did not end");
        run_worker(&stack, &[("SKEW_WINDOW_SECS", "8"), ("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).await;
        ended = 0;
        for (id, says) in
            [("p-invalid", "invalid payload for job kind \"sleep\""), ("p-future", "unsupported message version 9")]
        {
            let rec = job(&stack, id).await;
            if rec.state.status == JobStatus::Failed {
                let reason = rec.last_error.unwrap_or_default();
                assert!(reason.contains(says) && reason.contains("skew window"), "{id}: {reason}");
                assert_eq!(rec.state.attempts, 0, "{id} never ran");
                ended += 1;
            }
        }
    }
    assert_eq!(stats(&stack).await, counts(3, 1, 2, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_table_fails_clearly_and_keeps_the_message() {
    let stack = Stack::start().await;
    submit(&stack, "noop", Value::Null).await;
    let run = run_worker(&stack, &[("TABLE_NAME", "no-such-table")]).await;
    assert_eq!(run.code, 3, "{}", run.log);
    assert!(run.log.contains("DynamoDB table \\\"no-such-table\\\" does not exist"), "{}", run.log);
    let (visible, in_flight) = queued(&stack).await;
    assert_eq!(visible + in_flight, 1, "the message is still on the queue");
    assert!(stack.drain_dlq().await.is_empty());

    // Once the table is right, the same message is processed normally.
    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_queue_and_bad_settings_fail_clearly() {
    let stack = Stack::start().await;
    let missing = format!("{}/000000000000/no-such-queue", stack.emulator.endpoint);
    let run = run_worker(&stack, &[("QUEUE_URL", &missing)]).await;
    assert_eq!(run.code, 3, "{}", run.log);
    assert!(run.log.contains("does not exist"), "{}", run.log);

    let run = run_worker(&stack, &[("MAX_ATTEMPTS", "0")]).await;
    assert_eq!(run.code, 2);
    assert!(run.log.contains("--max-attempts"), "{}", run.log);

    let mut cmd = worker(&stack, &[]);
    cmd.env_remove("QUEUE_URL");
    let run = finish(cmd.spawn().unwrap()).await;
    assert_eq!(run.code, 2);
    assert!(run.log.contains("--queue-url"), "{}", run.log);

    let mut cmd = worker(&stack, &[]);
    cmd.env_remove("AWS_REGION");
    let run = finish(cmd.spawn().unwrap()).await;
    assert_eq!(run.code, 2);
    assert!(run.log.contains("AWS_REGION"), "{}", run.log);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fired_schedule_becomes_one_counted_job() {
    let stack = Stack::start().await;
    // moto and LocalStack do not fire schedules.
    if stack.emulator.lacks(testkit::Feature::ScheduleFiring) {
        return;
    }
    let schedules = jobs_aws::Schedules::new(
        aws_sdk_scheduler::Client::new(&stack.sdk),
        &stack.resources.schedule_group,
        testkit::SCHEDULER_ROLE_ARN,
    );
    let at = (Utc::now() + chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%S");
    schedules
        .create(&jobs_aws::ScheduleRequest {
            name: "once".into(),
            expression: format!("at({at})"),
            timezone: "UTC".into(),
            input: JobMessage::schedule_template(
                &jobs_core::JobSpec::parse("noop", json!({})).unwrap(),
                "once",
                jobs_core::Overlap::Allow,
                jobs_core::pools::Priority::Normal,
                &jobs_core::Tenant::parse("acme").unwrap(),
            ),
            description: "test".into(),
            enabled: true,
            target_arn: stack.queue.arn().await.unwrap(),
        })
        .await
        .unwrap();
    // The emulator's scheduler ticks every 10 s.
    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "20")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("job SUCCEEDED"), "{}", run.log);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0), "created on first receipt, counted once");
    let id = run.log.split("\"job_id\":\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_owned();
    assert!(id.starts_with("sched:once:"), "{id}: the schedule's name and (in the emulator) the message id");
    let rec = job(&stack, &id).await;
    assert_eq!(
        (rec.message.as_ref().map(|m| m.source.as_str()), rec.schedule(), rec.state.status),
        (Some("schedule"), Some("once"), JobStatus::Succeeded)
    );
    assert_eq!(rec.submitted_by.as_deref(), Some("schedule:once"), "a firing is triggered by its schedule");
    assert_eq!(rec.tenant.as_str(), "acme", "a firing's job is its schedule's tenant's");
    assert!(run.log.contains(r#""submitted_by":"schedule:once""#), "the worker's logs say who: {}", run.log);
}

/// Issue 24, item 3: an open job never expires (its TTL is set when it ends; one an older version
/// wrote at creation goes with the job's next change), and a late copy of the message of a job
/// whose item expired after it ended is dropped, never creating the job again.
#[tokio::test(flavor = "multi_thread")]
async fn open_jobs_never_expire_and_an_expired_jobs_late_copy_is_dropped() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "fail", json!({"message": "boom"})).await;
    assert_eq!(expires_at(&stack, &msg.job_id).await, None, "QUEUED: no TTL");
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(job(&stack, &msg.job_id).await.state.status, JobStatus::RetryWait);
    assert_eq!(expires_at(&stack, &msg.job_id).await, None, "RETRY_WAIT: no TTL");

    // As an older version wrote it: a TTL from the job's creation (a day away here, so the
    // emulator's sweep leaves it be). The next change takes it away.
    let later = (Utc::now() + chrono::Duration::days(1)).timestamp();
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .update_item()
        .table_name(&stack.resources.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{}", msg.job_id)))
        .update_expression("SET expiresAt = :t")
        .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::N(later.to_string()))
        .send()
        .await
        .unwrap();
    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(job(&stack, &msg.job_id).await.state.attempts, 2);
    assert_eq!(expires_at(&stack, &msg.job_id).await, None, "the old TTL went with the change");

    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    let ended = job(&stack, &msg.job_id).await;
    assert_eq!(ended.state.status, JobStatus::Failed);
    let ttl = expires_at(&stack, &msg.job_id).await.expect("an ended job expires");
    let retention = ttl - ended.finished_at.unwrap().timestamp();
    assert_eq!(retention, 30 * 86_400, "the retention runs from its end");
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 2));

    // The TTL deletes the item; a late copy of its message comes (a redrive, a duplicate).
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .delete_item()
        .table_name(&stack.resources.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("JOB#{}", msg.job_id)))
        .send()
        .await
        .unwrap();
    stack.queue.send(&msg.to_body()).await.unwrap();
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("item is gone"), "{}", run.log);
    assert!(stack.store.get(&msg.job_id).await.unwrap().is_none(), "not created again");
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 2), "nor counted again");
    assert_eq!(queued(&stack).await, (0, 0));

    // A schedule's firing is created by its first receipt, so a late copy of one whose job ended
    // and expired would run and count again; one older than the retention is dropped (found by
    // the simulator, seed 169).
    let spec = jobs_core::JobSpec::parse("noop", json!({})).unwrap();
    let tenant = jobs_core::Tenant::parse("acme").unwrap();
    let template = JobMessage::schedule_template(&spec, "nightly", Default::default(), Default::default(), &tenant);
    let fired = (Utc::now() - chrono::Duration::days(31)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    stack.queue.send(&template.replace(jobs_core::message::SCHEDULER_SCHEDULED_TIME, &fired)).await.unwrap();
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("older than the job retention"), "{}", run.log);
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 2), "not created");
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Issue 24, item 10: the SDK retries a single-item write whose answer was lost, and the retry's
/// condition fails on the write's own first try (here the release of a stopped attempt). The
/// worker sees its own token on the item (`ReturnValuesOnConditionCheckFailure`) and carries on as
/// committed: the message is handed back at once, instead of the worker taking itself for a
/// worker that lost the job and leaving the message hidden until its visibility timeout.
#[tokio::test(flavor = "multi_thread")]
async fn a_write_the_sdk_retried_after_it_committed_counts_as_committed() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 60_000})).await;
    let child = worker(&stack, &[("FAULTS", "store.interrupt=replayed*1")]).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    signal(&child, libc::SIGTERM);
    let run = finish(child).await;
    assert_eq!(run.code, 143, "{}", run.log);
    assert!(run.log.contains("a retried write found itself committed"), "{}", run.log);
    assert!(!run.log.contains("took the job over"), "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Queued, 1));
    assert_eq!(queued(&stack).await, (1, 0), "handed back at once");
}
