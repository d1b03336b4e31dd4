//! Command kinds against real processes: the worker binary, started as each kind's ScaledJob
//! starts it (the kind's own queues), runs the shipped example commands
//! (`examples/report/report.py`, `examples/shell/job.sh`, declared in `infra-cdk8s/config.json`)
//! as its children, against a real emulator. Each test checks the job's item, its counters and
//! that no process of the command is left.

mod common;

use std::time::{Duration, Instant};

use common::*;
use jobs_core::JobStatus;
use jobs_core::history::RunOutcome;
use serde_json::json;
use testkit::Stack;

/// The processes (other than zombies) whose environment says they run job `id`.
fn processes_of(id: &str) -> Vec<u32> {
    let needle = format!("JOB_ID={id}\0");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
        let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        if !zombie && env.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

async fn wait_until_gone(id: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while !processes_of(id).is_empty() {
        assert!(Instant::now() < deadline, "the command of job {id} outlived its run: {:?}", processes_of(id));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until_started(id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while processes_of(id).is_empty() {
        assert!(Instant::now() < deadline, "the command of job {id} never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A worker of command kind `kind`'s lane (its own queues, named after the kind), run to its end.
async fn run_worker_in(stack: &Stack, kind: &str, extra: &[(&str, &str)]) -> Run {
    finish(worker_in(stack, kind, extra).spawn().expect("spawn worker")).await
}

/// Runs workers of `kind`'s lane one after another until job `id` ends (each takes one message).
async fn run_until_ended(stack: &Stack, kind: &str, id: &str, extra: &[(&str, &str)]) -> jobs_aws::JobRecord {
    for _ in 0..8 {
        let run = run_worker_in(stack, kind, extra).await;
        let rec = job(stack, id).await;
        if rec.state.status.is_terminal() {
            return rec;
        }
        assert!(run.code != 2 && run.code != 3, "{}", run.log);
    }
    panic!("job {id} did not end: {:?}", job(stack, id).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_command_succeeds_with_its_result_and_its_output_in_the_log() {
    let stack = Stack::start().await;
    let msg = stack
        .submit_routed("report", json!({"campaign": "spring-sale", "channels": ["email", "sms"], "days": 3}))
        .await;
    // The job waits on its kind's own queues (its image's ScaledJob), not on its pool's.
    let pool_worker = run_worker(&stack, &[("WAIT_TIME_SECS", "0")]).await;
    assert!(pool_worker.log.contains("queue is empty"), "{}", pool_worker.log);

    let run = run_worker_in(&stack, "report", &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1), "{rec:?}");
    let result = rec.result.expect("the result file is the job's result");
    assert_eq!(
        (&result["campaign"], &result["days"], &result["currency"]),
        (&json!("spring-sale"), &json!(3), &json!("EUR"))
    );
    let channels: Vec<&String> = result["channels"].as_object().unwrap().keys().collect();
    assert_eq!(channels, ["email", "sms"]);
    assert!(result["sends"].as_u64().unwrap() > 0);
    // Each line of the command's output is in the worker's log, tagged with the job id.
    let line = run.log.lines().find(|l| l.contains("report written")).expect("the command's stdout is logged");
    assert!(line.contains(&format!(r#""job_id":"{}""#, msg.job_id)) && line.contains(r#""stream":"stdout""#), "{line}");
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
    assert!(processes_of(&msg.job_id).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retryable_exit_twice_then_success_is_three_attempts_counted_once() {
    let stack = Stack::start().await;
    let msg = stack.submit_routed("shell", json!({"seconds": 0, "failAttempts": 2})).await;

    let rec = run_until_ended(&stack, &msg.kind, &msg.job_id, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 3), "{rec:?}");
    assert_eq!(rec.result, Some(json!({"seconds": 0, "attempt": 3})));
    let runs: Vec<(u32, RunOutcome)> = rec.state.history.iter().map(|r| (r.attempt, r.outcome)).collect();
    assert_eq!(runs, [(1, RunOutcome::Failed), (2, RunOutcome::Failed), (3, RunOutcome::Succeeded)]);
    let first = rec.state.history[0].error.as_deref().unwrap_or_default();
    assert!(first.starts_with("exit code 75: ") && first.contains("attempt 1 fails on purpose"), "{first}");
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 2));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_exit_code_fails_the_job_at_once() {
    let stack = Stack::start().await;
    let shell = stack
        .submit_routed("shell", json!({"seconds": 0, "exitCode": 64, "message": "the input bucket is gone"}))
        .await;
    let report = stack.submit_routed("report", json!({"campaign": "missing-summer"})).await;

    for kind in ["shell", "report"] {
        let run = run_worker_in(&stack, kind, &[]).await;
        assert_eq!(run.code, 1, "{}", run.log);
    }
    let rec = job(&stack, &shell.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 1));
    assert_eq!(
        rec.last_error.as_deref(),
        Some("exit code 64: the input bucket is gone (permanent failure: not retried)")
    );
    let rec = job(&stack, &report.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 1));
    assert_eq!(
        rec.last_error.as_deref(),
        Some("exit code 3: campaign missing-summer not found (permanent failure: not retried)")
    );
    assert_eq!(stats(&stack).await, counts(2, 0, 2, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_stops_a_running_command_and_one_that_ignores_sigterm_after_the_grace() {
    let stack = Stack::start().await;
    for (ignore_term, at_most) in [(false, Duration::from_secs(8)), (true, Duration::from_secs(12))] {
        let msg = stack.submit_routed("shell", json!({"seconds": 120, "ignoreTerm": ignore_term})).await;
        let child = worker_in(&stack, "shell", &[("CANCEL_GRACE_SECS", "3")]).spawn().unwrap();
        let rec = wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
        wait_until_started(&msg.job_id).await;
        let asked = Instant::now();
        stack
            .store
            .request_cancel(&msg.job_id, rec.state.attempts)
            .await
            .unwrap()
            .applied()
            .expect("the write applies");
        let run = finish(child).await;
        let took = asked.elapsed();
        assert_eq!(run.code, 0, "{}", run.log);
        let rec = job(&stack, &msg.job_id).await;
        assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Cancelled, 1), "{rec:?}");
        assert!(processes_of(&msg.job_id).is_empty(), "the command is gone");
        assert!(took < at_most, "ignoreTerm={ignore_term}: cancelled after {took:?}");
        if ignore_term {
            assert!(run.log.contains("did not stop within the grace; SIGKILL"), "{}", run.log);
            assert!(took >= Duration::from_secs(3), "it had its grace: {took:?}");
        } else {
            assert!(run.log.contains("stopped by SIGTERM"), "the command saw SIGTERM: {}", run.log);
        }
    }
    assert_eq!(stats(&stack).await, jobs_aws::Stats { submitted: 2, cancelled: 2, ..Default::default() });
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_time_limit_stops_the_command_and_fails_the_attempt() {
    let stack = Stack::start().await;
    let msg = stack.submit_routed("shell", json!({"seconds": 120})).await;

    let started = Instant::now();
    let run = run_worker_in(&stack, "shell", &[("ATTEMPT_TIMEOUT_SECS", "2"), ("CANCEL_GRACE_SECS", "2")]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::RetryWait, 1), "{rec:?}");
    assert_eq!(rec.state.history[0].outcome, RunOutcome::TimedOut);
    assert_eq!(rec.last_error.as_deref(), Some("attempt 1 timed out after 2s"));
    assert!(run.log.contains("stopped by SIGTERM"), "the command had its SIGTERM: {}", run.log);
    assert!(processes_of(&msg.job_id).is_empty());
    // A retry counts when it starts.
    assert_eq!(stats(&stack).await, counts(1, 0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_executable_is_a_clear_failure_not_a_stuck_job() {
    let stack = Stack::start().await;
    let msg = stack.submit_routed("report", json!({"campaign": "spring-sale"})).await;

    // An image without python3: nothing on PATH has it.
    let no_python = [("PATH", "/nonexistent"), ("WAIT_TIME_SECS", "10"), ("BACKOFF_BASE_SECS", "1")];
    let rec = run_until_ended(&stack, &msg.kind, &msg.job_id, &no_python).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 3), "{rec:?}");
    let error = rec.last_error.unwrap_or_default();
    assert!(error.contains(r#"cannot start "python3""#) && error.contains("No such file"), "{error}");
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 2));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_result_file_is_not_stored_and_the_run_says_why() {
    let stack = Stack::start().await;
    let msg = stack.submit_routed("shell", json!({"seconds": 0, "resultBytes": 5_000_000})).await;

    let run = run_worker_in(&stack, "shell", &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!(
        (rec.state.status, rec.result.clone()),
        (JobStatus::Succeeded, Some(serde_json::Value::Null)),
        "{rec:?}"
    );
    // {"pad":"…"}: 8 + 5,000,000 + 2 bytes.
    let note = rec.state.history[0].error.as_deref().unwrap_or_default();
    assert_eq!(note, "result file ignored: 5000010 bytes, over the 65536-byte bound");
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
}

/// A worker stopped (SIGTERM, a spot notice) passes the stop to its command, records an
/// interruption (no attempt spent); one killed outright (SIGKILL) takes its command with it,
/// and the next worker takes the attempt over. The job is counted once.
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_or_killed_worker_takes_its_command_along_and_the_job_is_taken_over() {
    let stack = Stack::start().await;
    let msg = stack.submit_routed("shell", json!({"seconds": 3})).await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10"), ("CANCEL_GRACE_SECS", "3")];

    let child = worker_in(&stack, "shell", &fast).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    wait_until_started(&msg.job_id).await;
    signal(&child, libc::SIGTERM);
    let run = finish(child).await;
    assert_eq!(run.code, 143, "{}", run.log);
    assert!(run.log.contains("stopped by SIGTERM"), "{}", run.log);
    assert!(processes_of(&msg.job_id).is_empty());
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Queued, 1));

    let mut child = worker_in(&stack, "shell", &fast).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    wait_until_started(&msg.job_id).await;
    child.kill().await.unwrap(); // SIGKILL: the worker cannot pass anything on
    wait_until_gone(&msg.job_id, Duration::from_secs(3)).await;

    let run = run_worker_in(&stack, "shell", &fast).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1), "{rec:?}");
    let outcomes: Vec<RunOutcome> = rec.state.history.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [RunOutcome::Interrupted, RunOutcome::Abandoned, RunOutcome::Succeeded]);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// A command kind's job whose message never left the API, and one dead-lettered on its pool's
/// DLQ: the reconciler sends each back to the kind's own queue (not its pool's), where the kind's
/// worker runs it; each counted once.
#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_sends_a_command_kinds_copies_to_its_own_lane() {
    let stack = Stack::start().await;
    let lost = jobs_core::JobMessage::new_api("shell", json!({"seconds": 0}), chrono::Utc::now());
    let timing = jobs_core::reconcile::Timing { send_grace: Duration::from_secs(1), ..Default::default() };
    let store = stack.store.clone().with_timing(timing);
    store
        .apply(&lost.job_id, None, None, Some(&lost), &jobs_core::state::submit(chrono::Utc::now()), &store.token())
        .await
        .unwrap()
        .applied()
        .expect("the write applies");
    let dead = stack.submit_routed("shell", json!({"seconds": 0})).await;
    let lane = stack.queues.get("shell", jobs_core::pools::Priority::Normal);
    let received = lane.receive(Duration::ZERO, Duration::from_secs(60)).await.unwrap().expect("the message");
    lane.send_to_dlq(&received.body, "test", Some(&dead.job_id)).await.unwrap();
    lane.delete(&received.receipt_handle).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut cmd = worker(&stack, &[]);
    cmd.arg("reconcile");
    let pass = finish(cmd.spawn().unwrap()).await;
    assert_eq!(pass.code, 0, "{}", pass.log);
    let depth = lane.depth().await.unwrap();
    assert_eq!(depth.visible + depth.delayed, 2, "both copies on the kind's own queue: {depth:?}");
    assert_eq!(queued(&stack).await.0, 2, "and nowhere else");

    let run = finish(worker_in(&stack, "shell", &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).spawn().unwrap()).await;
    assert_eq!(run.code, 0, "{}", run.log);
    for id in [&lost.job_id, &dead.job_id] {
        assert_eq!(job(&stack, id).await.state.status, JobStatus::Succeeded, "{id}");
    }
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0));
}
