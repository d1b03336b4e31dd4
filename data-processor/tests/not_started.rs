//! A job no worker ever starts, against a real emulator: its lane's pods cannot start (a command
//! kind's image is missing, its pods cannot be scheduled), so its message sits on the queue. The
//! reconciler watches it (a look every `STALE_AFTER_SECS` here) and ends it FAILED with the reason
//! once every look for the lane's start deadline saw nothing of the lane in flight; a lane whose
//! workers are busy keeps its waiting jobs however long they wait; a worker that claims the job
//! first wins; a crash or a lost answer of the reconciler's write still ends the job once, counted
//! once. (`START_DEADLINE_SECS` shortens the config's deadlines, as `STALE_AFTER_SECS` the due
//! times and the watch's looks.)

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use jobs_core::JobStatus;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};

const SHORT: [(&str, &str); 2] = [("STALE_AFTER_SECS", "1"), ("START_DEADLINE_SECS", "2")];

async fn api(stack: &Stack) -> Api {
    Api::start(stack, Path::new(&testkit::workspace_binary("api-lambda")), &[("STALE_AFTER_SECS", "1")]).await
}

async fn post(api: &Api, body: Value) -> String {
    let (status, out) = api.post("/jobs", body).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    out["jobId"].as_str().unwrap().to_owned()
}

/// One reconcile pass with `extra` settings (besides the short ones); its log.
async fn reconcile(stack: &Stack, extra: &[(&str, &str)]) -> Run {
    let mut cmd = worker(stack, &SHORT);
    cmd.envs(extra.iter().copied()).arg("reconcile");
    finish(cmd.spawn().expect("spawn reconciler")).await
}

/// Reconcile passes one after another (`extra` settings on each) until `done` holds for the job's
/// item; the passes' logs and metric lines.
async fn passes_until(
    stack: &Stack,
    id: &str,
    extra: &[(&str, &str)],
    done: impl Fn(&jobs_aws::JobRecord) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut logs = String::new();
    loop {
        let pass = reconcile(stack, extra).await;
        logs.push_str(&pass.log);
        logs.push_str(&pass.out);
        if done(&job(stack, id).await) {
            return logs;
        }
        assert_eq!(pass.code, 0, "{}", pass.log);
        assert!(std::time::Instant::now() < deadline, "never reached: {logs}");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// The fixed image rolls out: a worker of `lane` takes what its queues hold, then exits.
async fn drain(stack: &Stack, lane: &str) -> Run {
    let run = finish(worker_in(stack, lane, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).spawn().unwrap()).await;
    assert_eq!(run.code, 0, "{}", run.log);
    run
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_kind_whose_pods_never_start_ends_failed_not_stuck() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let id = post(&api, json!({"job": "shell", "payload": {"seconds": 0}})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // Overdue, its lane idle: watched, not ended at the first look however long it waited.
    let pass = reconcile(&stack, &[]).await;
    assert_eq!(pass.code, 0, "{}", pass.log);
    assert!(pass.log.contains("watched until its start deadline"), "{}", pass.log);
    let rec = job(&stack, &id).await;
    assert_eq!(rec.state.status, JobStatus::Queued, "{}", pass.log);
    let watched_from = rec.idle_since.expect("the watch is recorded");

    let logs = passes_until(&stack, &id, &[], |r| r.state.status.is_terminal()).await;
    assert!(logs.contains("job FAILED: not started"), "{logs}");
    assert!(logs.contains(r#""ReconcileNotStarted":1"#), "its metric: {logs}");
    let rec = job(&stack, &id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 0), "{rec:?}");
    assert!(
        rec.finished_at.unwrap() - watched_from >= chrono::Duration::seconds(2),
        "watched for the deadline: {rec:?}"
    );
    let reason = rec.last_error.clone().unwrap();
    assert!(reason.starts_with("not started within 2 s") && reason.contains("lane `shell`"), "{reason}");
    assert!(rec.state.history.is_empty(), "no run: {rec:?}");
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0));
    let (_, shown) = api.get(&format!("/jobs/{id}")).await;
    assert_eq!((shown["status"].as_str(), shown["lastError"].as_str()), (Some("FAILED"), Some(reason.as_str())));

    // The message was left on the queue: the worker of the fixed image drops it, runs nothing.
    assert_eq!(queued(&stack).await, (1, 0));
    drain(&stack, "shell").await;
    assert_eq!(job(&stack, &id).await.state.status, JobStatus::Failed);
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0), "counted once");
    assert_eq!(queued(&stack).await, (0, 0));
    // A later pass has nothing to do with it (it left the due index).
    let pass = reconcile(&stack, &[]).await;
    assert!(!pass.log.contains(&id), "{}", pass.log);

    // The operator's next step: a retry, which the lane now runs.
    let (status, retry) = api.call(Method::POST, &format!("/jobs/{id}/retry"), None, &[]).await;
    assert_eq!(status, StatusCode::OK, "{retry}");
    drain(&stack, "shell").await;
    assert_eq!(job(&stack, retry["jobId"].as_str().unwrap()).await.state.status, JobStatus::Succeeded);
    assert_eq!(stats(&stack).await, counts(2, 1, 1, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_lane_keeps_its_waiting_jobs_however_long_they_wait() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    // Two jobs of the long pool's lane, one worker: one runs for 6 s, the other waits its turn.
    let ids = [
        post(&api, json!({"job": "sleep", "payload": {"ms": 6000}})).await,
        post(&api, json!({"job": "sleep", "payload": {"ms": 6000}})).await,
    ];
    let first = worker_in(&stack, "long", &[]).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while queued(&stack).await.1 == 0 {
        assert!(std::time::Instant::now() < deadline, "the worker never took a message");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Past its deadline, but its lane has a message in flight: a backlog, not a broken lane.
    let pass = reconcile(&stack, &[]).await;
    assert_eq!(pass.code, 0, "{}", pass.log);
    assert!(!pass.log.contains("not started") && !pass.log.contains("watched until"), "{}", pass.log);
    assert!(pass.log.contains("waits behind the queue's backlog"), "{}", pass.log);
    let run = finish(first).await;
    assert_eq!(run.code, 0, "{}", run.log);
    drain(&stack, "long").await;
    for id in &ids {
        assert_eq!(job(&stack, id).await.state.status, JobStatus::Succeeded, "{id}");
    }
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_claims_the_job_first_wins_over_the_deadline() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let id = post(&api, json!({"job": "shell", "payload": {"seconds": 0}})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The reconciler watches the job, decides "not started", then is slow to write it; meanwhile
    // the lane's pods start at last and one claims and runs the job. The reconciler's write is
    // conditional on the job being as it read it: it changes nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let slow = loop {
        let log = std::env::temp_dir().join(format!("reconcile-{}.log", uuid::Uuid::new_v4().simple()));
        let mut cmd = worker(&stack, &SHORT);
        cmd.env("FAULTS", "store.reject=delay:4000").arg("reconcile").stderr(std::fs::File::create(&log).unwrap());
        let mut pass = cmd.spawn().unwrap();
        // A watching pass ends at once; the deciding one waits before its write.
        let decided = loop {
            if std::fs::read_to_string(&log).unwrap_or_default().contains("fault injection: delaying") {
                break true;
            }
            if pass.try_wait().unwrap().is_some() {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        if decided {
            break (pass, log);
        }
        assert!(std::time::Instant::now() < deadline, "the reconciler never decided");
        tokio::time::sleep(Duration::from_millis(400)).await;
    };
    drain(&stack, "shell").await;
    let (mut pass, log) = slow;
    assert_eq!(pass.wait().await.unwrap().code(), Some(0));
    let log = std::fs::read_to_string(log).unwrap();
    assert!(!log.contains("job FAILED"), "{log}");
    let rec = job(&stack, &id).await;
    assert_eq!(
        (rec.state.status, rec.state.attempts, rec.last_error.as_deref()),
        (JobStatus::Succeeded, 1, None),
        "{rec:?}"
    );
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_pass_or_a_lost_answer_still_ends_the_job_once() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let id = post(&api, json!({"job": "report", "payload": {"campaign": "spring-sale"}})).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // The reconciler dies just before its write (watching passes never reach it): nothing changed.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let pass = reconcile(&stack, &[("FAULTS", "store.reject=crash")]).await;
        if pass.code != 0 {
            assert!(pass.log.contains("crashing the process"), "{}", pass.log);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the reconciler never decided");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert_eq!(job(&stack, &id).await.state.status, JobStatus::Queued);
    // Later passes write it, the SDK's retry after a lost answer meeting its own write.
    passes_until(&stack, &id, &[("FAULTS", "store.reject=replayed*1")], |r| r.state.status.is_terminal()).await;
    let again = reconcile(&stack, &[]).await;
    assert_eq!(again.code, 0, "{}", again.log);
    let rec = job(&stack, &id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 0), "{rec:?}");
    assert!(rec.last_error.unwrap().contains("lane `report`"));
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0), "counted once");
    drain(&stack, "report").await;
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}
