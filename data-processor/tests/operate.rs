//! Operating jobs through the API with the real worker binary on the emulator: cancel (queued,
//! running, a function that ignores the signal, a request racing a retry), retry of an ended job,
//! per-kind policy (a permanent failure, a kind's own time limit), and a schedule's
//! `overlap: forbid` with a slow scheduled job.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jobs_core::JobStatus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};

async fn api(stack: &Stack) -> Api {
    Api::start(stack, &testkit::workspace_binary("api-lambda"), &[]).await
}

async fn submit_via(api: &Api, body: Value) -> String {
    let (status, out) = api.post("/jobs", body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    out["jobId"].as_str().unwrap().to_owned()
}

async fn cancel(api: &Api, id: &str) -> (StatusCode, Value) {
    api.call(Method::POST, &format!("/jobs/{id}/cancel"), None, &[]).await
}

/// The message a schedule sends at each firing, as EventBridge Scheduler holds it (a test
/// delivers firings by hand with the scheduled time filled in).
async fn schedule_input(stack: &Stack, name: &str) -> String {
    let schedule = aws_sdk_scheduler::Client::new(&stack.sdk)
        .get_schedule()
        .name(name)
        .group_name(&stack.resources.schedule_group)
        .send()
        .await
        .unwrap();
    schedule.target.and_then(|t| t.input).expect("the schedule sends a message")
}

fn outcomes(view: &Value) -> Vec<String> {
    view["attemptHistory"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_job_is_cancelled_within_seconds_counted_once_and_can_be_retried() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    // sleep runs in the long pool.
    let id = submit_via(&api, json!({"job": "sleep", "payload": {"ms": 120_000}})).await;
    let child =
        worker_in(&stack, "long", &[("WORKER_NAME", "pod-a"), ("LOG_LOCATION", "/tmp/pod-a.log")]).spawn().unwrap();
    wait_for_status(&stack, &id, JobStatus::Running).await;

    let asked = Instant::now();
    let (status, view) = cancel(&api, &id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{view}");
    assert_eq!((view["status"].as_str(), view["cancelRequestedAt"].is_string()), (Some("RUNNING"), true));
    // Asking again while the worker stops it: the same answer, nothing written twice.
    let (again, _) = cancel(&api, &id).await;
    assert!(again == StatusCode::ACCEPTED || again == StatusCode::OK, "{again}");

    let run = finish(child).await;
    let took = asked.elapsed();
    assert_eq!(run.code, 0, "{}", run.log);
    // The check runs every 2 s and sleep returns on the signal: well inside 10 s.
    assert!(took < Duration::from_secs(10), "cancel took {took:?}");
    eprintln!("cancel of a running job: CANCELLED and the worker gone {took:?} after the request");
    let (_, view) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(view["status"], "CANCELLED", "{view}");
    assert_eq!(outcomes(&view), ["cancelled"]);
    let run0 = &view["attemptHistory"][0];
    assert_eq!(
        (run0["worker"].as_str(), run0["logs"].as_str(), run0["attempt"].as_u64()),
        (Some("pod-a"), Some("/tmp/pod-a.log"), Some(1))
    );
    assert!(run0["durationMs"].as_u64().unwrap() >= 100);
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!((stats["submitted"].as_u64(), stats["cancelled"].as_u64()), (Some(1), Some(1)), "{stats}");
    assert_eq!((stats["succeedJob"].as_u64(), stats["failedJob"].as_u64()), (Some(0), Some(0)));
    assert_eq!(queued(&stack).await, (0, 0), "the message is gone");
    // Cancelled is final: cancelling again gives the same result.
    let (status, again) = cancel(&api, &id).await;
    assert_eq!((status, again["status"].as_str()), (StatusCode::OK, Some("CANCELLED")));

    // Retry: a new job with the same kind and payload, linked both ways; idempotent by key.
    let key = [("Idempotency-Key", "retry-1")];
    let (status, first) = api.call(Method::POST, &format!("/jobs/{id}/retry"), None, &key).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (_, replay) = api.call(Method::POST, &format!("/jobs/{id}/retry"), Some("null".into()), &key).await;
    assert_eq!(replay["jobId"], first["jobId"], "the same key gives the same new job (a null body is no body)");
    // The same key with another priority is another request.
    let high = json!({"priority": "high"}).to_string();
    let (status, err) = api.call(Method::POST, &format!("/jobs/{id}/retry"), Some(high), &key).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("idempotency_key_reused")),
        "{err}"
    );
    let (status, err) =
        api.call(Method::POST, &format!("/jobs/{id}/retry"), Some(json!({"priority": "soon"}).to_string()), &[]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_field")), "{err}");
    let new_id = first["jobId"].as_str().unwrap();
    let (_, new) = api.get(&format!("/jobs/{new_id}")).await;
    assert_eq!(
        (new["retryOf"].as_str(), new["job"].as_str(), new["payload"].clone()),
        (Some(id.as_str()), Some("sleep"), json!({"ms": 120_000}))
    );
    let (_, old) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(old["retriedBy"].as_str(), Some(new_id));
    // The new job has not ended: no retry of it, and it can be cancelled while queued.
    let (status, err) = api.call(Method::POST, &format!("/jobs/{new_id}/retry"), None, &[]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("not_retryable")));
    let (status, view) = cancel(&api, new_id).await;
    assert_eq!((status, view["status"].as_str()), (StatusCode::OK, Some("CANCELLED")));
    // Its message is deleted when a worker next receives it; nothing runs, nothing is counted twice.
    let run = finish(worker_in(&stack, "long", &[]).spawn().unwrap()).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("duplicate delivery of a finished job"), "{}", run.log);
    assert_eq!(queued(&stack).await, (0, 0));
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!((stats["submitted"].as_u64(), stats["cancelled"].as_u64()), (Some(2), Some(2)), "{stats}");
    let (status, err) = api.call(Method::POST, "/jobs/nope/cancel", None, &[]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_that_ignores_the_signal_is_stopped_after_the_grace_period() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    // hang's own time limit is 3 s: cancel it before then, with a 1 s grace.
    let id = submit_via(&api, json!({"job": "hang"})).await;
    let child = worker(&stack, &[("CANCEL_GRACE_SECS", "1"), ("CANCEL_CHECK_SECS", "1")]).spawn().unwrap();
    wait_for_status(&stack, &id, JobStatus::Running).await;
    let (status, _) = cancel(&api, &id).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = finish(child).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("stopped after the grace period"), "{}", run.log);
    let rec = job(&stack, &id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Cancelled, 1));
    assert_eq!(stats(&stack).await, jobs_aws::Stats { submitted: 1, cancelled: 1, ..Default::default() });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_request_that_lands_before_a_retry_wins() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let id = submit_via(&api, json!({"job": "fail", "payload": {"message": "boom"}})).await;
    // The failed attempt's write waits 4 s: the request lands in between, while the job runs.
    let child = worker(&stack, &[("FAULTS", "store.fail=delay:4000*1")]).spawn().unwrap();
    wait_for_status(&stack, &id, JobStatus::Running).await;
    let (status, _) = cancel(&api, &id).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = finish(child).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Cancelled, 1), "not RETRY_WAIT");
    assert_eq!(rec.state.history.len(), 1);
    assert_eq!(stats(&stack).await, jobs_aws::Stats { submitted: 1, cancelled: 1, ..Default::default() });
    assert_eq!(queued(&stack).await, (0, 0), "no retry was queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_failure_skips_the_retries_and_a_kind_time_limit_fails_its_attempts() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let id = submit_via(&api, json!({"job": "fail", "payload": {"message": "bad input", "permanent": true}})).await;
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    let (_, view) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!((view["status"].as_str(), view["attempts"].as_u64()), (Some("FAILED"), Some(1)), "{view}");
    assert!(view["lastError"].as_str().unwrap().contains("bad input (permanent failure: not retried)"));
    assert_eq!(outcomes(&view), ["failed"]);
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0));
    // An ended job cannot be cancelled; nothing changes.
    let (status, err) = cancel(&api, &id).await;
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::CONFLICT, Some("job_finished")), "{err}");
    assert_eq!(job(&stack, &id).await.state.status, JobStatus::Failed);
    assert_eq!(queued(&stack).await, (0, 0));

    // hang: its kind allows 3 s per attempt and 2 attempts, whatever the worker's defaults.
    let id = submit_via(&api, json!({"job": "hang"})).await;
    let started = Instant::now();
    let first = run_worker(&stack, &[]).await;
    assert_eq!(first.code, 1, "{}", first.log);
    assert!(started.elapsed() < Duration::from_secs(20));
    let rec = job(&stack, &id).await;
    assert_eq!(
        (rec.state.status, rec.last_error.as_deref()),
        (JobStatus::RetryWait, Some("attempt 1 timed out after 3s"))
    );
    let second = run_worker(&stack, &[("WAIT_TIME_SECS", "5")]).await;
    assert_eq!(second.code, 1, "{}", second.log);
    let (_, view) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!((view["status"].as_str(), view["attempts"].as_u64()), (Some("FAILED"), Some(2)), "{view}");
    assert_eq!(outcomes(&view), ["timedOut", "timedOut"]);
    assert_eq!(stats(&stack).await, counts(2, 0, 2, 1));
    let (_, kinds) = api.get("/jobs/kinds").await;
    let hang = kinds["kinds"].as_array().unwrap().iter().find(|k| k["name"] == "hang").unwrap().clone();
    assert_eq!(
        hang["policy"],
        json!({"maxAttempts": 2, "backoffBaseSecs": 1, "backoffMaxSecs": 1, "timeoutSecs": 3, "startDeadlineSecs": null})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_overlap_forbid_a_firing_while_the_previous_job_runs_is_skipped() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    // A schedule far in the future: its firings are delivered by hand, as the Scheduler would.
    let (status, created) = api
        .post(
            "/jobs/schedule",
            json!({"name": "slow", "cron": "0 3 1 1 *", "job": "sleep", "payload": {"ms": 6000}, "overlap": "forbid"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["overlap"], "forbid");
    let input = schedule_input(&stack, "slow").await;
    let fire = |at: &str| input.replace(jobs_core::message::SCHEDULER_SCHEDULED_TIME, at);
    stack.queue.send(&fire("2027-01-01T03:00:00Z")).await.unwrap();
    let slow = worker(&stack, &[]).spawn().unwrap();
    wait_for_status(&stack, "sched:slow:2027-01-01T03:00:00Z", JobStatus::Running).await;
    stack.queue.send(&fire("2027-01-01T03:01:00Z")).await.unwrap();
    let second = run_worker(&stack, &[]).await;
    assert_eq!(second.code, 0, "{}", second.log);
    assert!(second.log.contains("firing SKIPPED"), "{}", second.log);
    let skipped = job(&stack, "sched:slow:2027-01-01T03:01:00Z").await;
    assert_eq!((skipped.state.status, skipped.state.attempts), (JobStatus::Skipped, 0));
    assert!(skipped.last_error.unwrap().contains("sched:slow:2027-01-01T03:00:00Z is RUNNING"));
    let (_, view) = api.get("/jobs/schedules/slow").await;
    assert_eq!(view["lastRun"]["jobId"], "sched:slow:2027-01-01T03:01:00Z", "{view}");
    assert_eq!(view["lastRun"]["status"], "SKIPPED");
    // The list says the same as the schedule's own page.
    let (_, list) = api.get("/jobs/schedules").await;
    let listed = list["schedules"].as_array().unwrap().iter().find(|s| s["name"] == "slow").unwrap().clone();
    assert_eq!(listed["lastRun"], view["lastRun"], "{list}");
    assert!(view["lastRun"]["at"].is_string(), "{view}");
    assert_eq!(finish(slow).await.code, 0);
    // Once the slow job finished, the next firing runs.
    stack.queue.send(&fire("2027-01-01T03:02:00Z")).await.unwrap();
    let third = run_worker(&stack, &[]).await;
    assert!(third.log.contains("job SUCCEEDED"), "{}", third.log);
    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!(
        (stats["submitted"].as_u64(), stats["succeedJob"].as_u64(), stats["skipped"].as_u64()),
        (Some(3), Some(2), Some(1)),
        "{stats}"
    );
    let (_, page) = api.get("/jobs?schedule=slow").await;
    let ids: Vec<&str> = page["jobs"].as_array().unwrap().iter().map(|j| j["jobId"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["sched:slow:2027-01-01T03:02:00Z", "sched:slow:2027-01-01T03:01:00Z", "sched:slow:2027-01-01T03:00:00Z"]
    );
    let (_, page) = api.get("/jobs?schedule=slow&status=SKIPPED").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 1, "{page}");
}

/// Issue 24, item 4: `overlap: forbid` holds by construction. Six firings while the schedule's
/// job runs are all SKIPPED (the rule used to look at the five newest jobs, so the sixth ran), and
/// of two firings handled at the same moment after it ended (both read before either writes:
/// each start is delayed) exactly one runs.
#[tokio::test(flavor = "multi_thread")]
async fn forbid_holds_after_many_skips_and_for_simultaneous_firings() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let body =
        json!({"name": "nightly", "cron": "0 3 1 1 *", "job": "sleep", "payload": {"ms": 8000}, "overlap": "forbid"});
    let (status, created) = api.post("/jobs/schedule", body).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let input = schedule_input(&stack, "nightly").await;
    let fire = |minute: u32| {
        input.replace(jobs_core::message::SCHEDULER_SCHEDULED_TIME, &format!("2027-01-01T03:{minute:02}:00Z"))
    };
    let id = |minute: u32| format!("sched:nightly:2027-01-01T03:{minute:02}:00Z");

    stack.queue.send(&fire(0)).await.unwrap();
    let slow = worker(&stack, &[]).spawn().unwrap();
    wait_for_status(&stack, &id(0), JobStatus::Running).await;
    for minute in 1..=6 {
        stack.queue.send(&fire(minute)).await.unwrap();
    }
    let skips = run_worker(&stack, &[("MAX_MESSAGES", "6"), ("WAIT_TIME_SECS", "2")]).await;
    assert_eq!(skips.code, 0, "{}", skips.log);
    for minute in 1..=6 {
        let rec = job(&stack, &id(minute)).await;
        assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Skipped, 0), "firing {minute}");
        assert!(rec.last_error.unwrap_or_default().contains(&id(0)), "firing {minute}");
    }
    assert_eq!(finish(slow).await.code, 0);
    assert_eq!(job(&stack, &id(0)).await.state.status, JobStatus::Succeeded);

    // Two firings at once: both read the ended holder, then both try to start.
    stack.queue.send(&fire(7)).await.unwrap();
    stack.queue.send(&fire(8)).await.unwrap();
    let slowed = [("FAULTS", "store.start=delay:1500"), ("WAIT_TIME_SECS", "5")];
    let a = worker(&stack, &slowed).spawn().unwrap();
    let b = worker(&stack, &slowed).spawn().unwrap();
    let (a, b) = (finish(a).await, finish(b).await);
    assert_eq!((a.code, b.code), (0, 0), "{}\n{}", a.log, b.log);
    let pair = [job(&stack, &id(7)).await, job(&stack, &id(8)).await];
    let ran: Vec<_> = pair.iter().filter(|r| r.state.status == JobStatus::Succeeded).collect();
    let skipped: Vec<_> = pair.iter().filter(|r| r.state.status == JobStatus::Skipped).collect();
    assert_eq!((ran.len(), skipped.len()), (1, 1), "{pair:?}");
    assert!(skipped[0].last_error.as_deref().unwrap_or_default().contains(&ran[0].job_id), "{pair:?}");

    let (_, stats) = api.get("/jobs/stats").await;
    assert_eq!(
        (stats["submitted"].as_u64(), stats["succeedJob"].as_u64(), stats["skipped"].as_u64()),
        (Some(9), Some(2), Some(7)),
        "{stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_check_that_fails_is_tried_again() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let id = submit_via(&api, json!({"job": "sleep", "payload": {"ms": 60_000}})).await;
    let faults = [("FAULTS", "store.cancel-check=unavailable*3"), ("CANCEL_CHECK_SECS", "1")];
    let child = worker_in(&stack, "long", &faults).spawn().unwrap();
    wait_for_status(&stack, &id, JobStatus::Running).await;
    let (status, _) = cancel(&api, &id).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = finish(child).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("could not check for a cancel request"), "{}", run.log);
    assert_eq!(job(&stack, &id).await.state.status, JobStatus::Cancelled);
    assert_eq!(stats(&stack).await, jobs_aws::Stats { submitted: 1, cancelled: 1, ..Default::default() });
}

/// What the API says about a job agrees with its runs (issue 25): the run in progress is listed
/// as running, a job that succeeded after a failure carries no error (its failed run keeps it),
/// the first and the last start are both there, and each run's log link answers: its lines, or
/// that the file was rotated.
#[tokio::test(flavor = "multi_thread")]
async fn a_jobs_view_agrees_with_its_runs_and_its_log_links_answer() {
    let stack = Stack::start().await;
    let logs = std::env::temp_dir().join(format!("operate-logs-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let logs_dir = logs.display().to_string();
    let api =
        Api::start(&stack, &testkit::workspace_binary("api-lambda"), &[("LOCAL_LOGS_DIR", logs_dir.as_str())]).await;
    let log_of = |pod: &str| logs.join(format!("{pod}.log")).display().to_string();

    // The run in progress is the last entry of the history, running.
    let id = submit_via(&api, json!({"job": "sleep", "payload": {"ms": 4000}})).await;
    let (pod_a, log_a) = ("pod-a", log_of("pod-a"));
    std::fs::write(&log_a, "a line from pod-a\n").unwrap();
    let child = worker_in(&stack, "long", &[("WORKER_NAME", pod_a), ("LOG_LOCATION", log_a.as_str())]).spawn().unwrap();
    wait_for_status(&stack, &id, JobStatus::Running).await;
    let (_, view) = api.get(&format!("/jobs/{id}")).await;
    let running = &view["attemptHistory"];
    assert_eq!(running.as_array().unwrap().len(), 1, "{view}");
    assert_eq!(
        (running[0]["outcome"].as_str(), running[0]["finishedAt"].clone(), running[0]["durationMs"].clone()),
        (Some("running"), Value::Null, Value::Null),
        "{view}"
    );
    assert_eq!((running[0]["attempt"].as_u64(), running[0]["worker"].as_str()), (Some(1), Some(pod_a)));
    assert_eq!(running[0]["startedAt"], view["startedAt"]);
    assert_eq!(view["firstStartedAt"], view["startedAt"], "the first run is the latest");
    // Its log link answers while it runs.
    let (status, text) = log(&api, &id, 1).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "a line from pod-a\n"));
    assert_eq!(finish(child).await.code, 0);

    // Fails once, then succeeds: no error on the job; the failed run keeps it.
    let id = submit_via(&api, json!({"job": "flaky", "payload": {"failures": 1}})).await;
    let first = run_worker(&stack, &[("WORKER_NAME", "pod-b"), ("LOG_LOCATION", log_of("pod-b").as_str())]).await;
    assert_eq!(first.code, 1, "a retry scheduled: {}", first.log);
    let (_, waiting) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!(waiting["status"], "RETRY_WAIT", "{waiting}");
    assert!(waiting["lastError"].as_str().unwrap().contains("planned failure"), "{waiting}");
    assert!(waiting["nextAttemptAt"].is_string(), "{waiting}");
    let second = run_worker(
        &stack,
        &[("WORKER_NAME", "pod-c"), ("LOG_LOCATION", log_of("pod-c").as_str()), ("WAIT_TIME_SECS", "10")],
    )
    .await;
    assert_eq!(second.code, 0, "{}", second.log);
    let (_, done) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!((done["status"].as_str(), done["lastError"].clone()), (Some("SUCCEEDED"), Value::Null), "{done}");
    assert_eq!(outcomes(&done), ["failed", "succeeded"]);
    let runs = &done["attemptHistory"];
    assert!(runs[0]["error"].as_str().unwrap().contains("planned failure"), "{done}");
    assert_eq!(runs[1]["error"], Value::Null);
    assert_eq!(done["firstStartedAt"], runs[0]["startedAt"], "{done}");
    assert_eq!(done["startedAt"], runs[1]["startedAt"], "{done}");
    assert_ne!(done["firstStartedAt"], done["startedAt"]);
    // The item itself no longer carries an error.
    assert_eq!(job(&stack, &id).await.last_error, None);
    // The list says the same as the job.
    let (_, page) = api.get("/jobs?status=SUCCEEDED&kind=flaky").await;
    assert_eq!(page["jobs"][0]["lastError"], Value::Null, "{page}");

    // Every log link answers: pod-b's file was never written (rotated), a run that does not
    // exist is a 404, and a file outside the logs directory is never read.
    let (status, text) = log(&api, &id, 1).await;
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::GONE, Some("log_rotated")), "{text}");
    std::fs::write(log_of("pod-c"), "pod-c's lines\n").unwrap();
    assert_eq!(log(&api, &id, 2).await, (StatusCode::OK, "pod-c's lines\n".to_owned()));
    let (status, text) = log(&api, &id, 3).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let outside = submit_via(&api, json!({"job": "noop"})).await;
    assert_eq!(run_worker(&stack, &[("LOG_LOCATION", "/etc/hostname")]).await.code, 0);
    let (status, text) = log(&api, &outside, 1).await;
    let err: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((status, err["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("log_not_local")), "{text}");
    std::fs::remove_dir_all(&logs).unwrap();
}

/// `GET /jobs/{id}/runs/{n}/log`: (status, body text).
async fn log(api: &Api, id: &str, run: u32) -> (StatusCode, String) {
    let response = reqwest::get(format!("{}/jobs/{id}/runs/{run}/log", api.base)).await.unwrap();
    (response.status(), response.text().await.unwrap())
}
