//! The worker under injected faults (`FAULTS`, see `jobs_aws::faults`) and real ones (a wrong
//! table for longer than SQS's redrive), against a real emulator. Each test names the path of
//! issue 11 it closes; each failed on the code before the fix.

mod common;

use std::time::Duration;

use common::*;
use jobs_core::message::SCHEDULER_SCHEDULED_TIME;
use jobs_core::{JobMessage, JobStatus};
use serde_json::{Value, json};
use testkit::Stack;

/// Path 1: a backend outage longer than the redrive (10 receives). Each failing worker hands the
/// message back as a fresh copy, so its receive count never reaches the redrive; once the table
/// is right the job runs, counted once, and nothing is on the dead-letter queue.
#[tokio::test(flavor = "multi_thread")]
async fn an_outage_longer_than_the_redrive_strands_no_job() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "noop", Value::Null).await;
    let outage = [
        ("TABLE_NAME", "no-such-table"),
        ("WAIT_TIME_SECS", "3"),
        ("BACKEND_RETRY_SECS", "1"),
        ("BACKEND_RETRY_MAX_SECS", "1"),
    ];
    for round in 0..12 {
        let run = run_worker(&stack, &outage).await;
        assert_eq!(run.code, 3, "round {round}: {}", run.log);
        assert!(run.log.contains("message deferred"), "round {round}: {}", run.log);
    }
    assert!(stack.drain_dlq().await.is_empty(), "nothing was redriven");
    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "5")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Path 4: the outcome write meets transaction conflicts (the SDK does not retry them), then
/// commits with its answer lost. The worker retries while it holds the lease and reads back its
/// own write: SUCCEEDED after one attempt, counted once, in the counters and in the minute's
/// throughput bucket (written in the same transaction).
#[tokio::test(flavor = "multi_thread")]
async fn conflicts_and_a_lost_answer_on_the_outcome_write_count_once() {
    let stack = Stack::start().await;
    let ok = submit(&stack, "noop", Value::Null).await;
    let faults = "store.succeed=conflict*2;store.succeed=throttled*1;store.succeed=ambiguous*1";
    let run = run_worker(&stack, &[("FAULTS", faults)]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(run.log.matches("could not record the outcome; retrying").count(), 4, "{}", run.log);
    let rec = job(&stack, &ok.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));

    // The same for a failure that schedules a retry: RETRY_WAIT once, the retry runs once.
    let flaky = submit(&stack, "flaky", json!({"failures": 1})).await;
    let run = run_worker(&stack, &[("FAULTS", "store.fail=ambiguous*1")]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    let rec = job(&stack, &flaky.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::RetryWait, 1), "{}", run.log);
    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(job(&stack, &flaky.job_id).await.state.attempts, 2);
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 1));
    assert_eq!(queued(&stack).await, (0, 0));
    let kinds: std::collections::BTreeMap<String, (u64, u64)> =
        [("flaky".to_owned(), (1, 0)), ("noop".to_owned(), (1, 0))].into();
    assert_eq!(bucket_totals(&stack).await, ((2, 0, 1, 0), kinds), "buckets count each outcome once");
}

/// Path 6: the claim commits but its answer is lost. The worker reads back its own lease and runs
/// the attempt instead of walking away from it (which later counted it abandoned).
#[tokio::test(flavor = "multi_thread")]
async fn a_claim_whose_answer_was_lost_is_run_by_its_worker() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "noop", Value::Null).await;
    let run = run_worker(&stack, &[("FAULTS", "store.start=ambiguous*1")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("job SUCCEEDED"), "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
}

/// Issue 24, item 7: the claim commits and every try's answer is lost, and the read that would
/// tell whose write is there fails too (twice). The worker tries the read again within its lease
/// and runs the job, instead of deferring and leaving its own claim to be found abandoned.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_claim_answer_with_a_failed_read_back_still_runs_once() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "noop", Value::Null).await;
    let run = run_worker(&stack, &[("FAULTS", "store.start=ambiguous*3;store.get=unavailable*2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("could not read back whether the claim committed"), "{}", run.log);
    assert!(!run.log.contains("message deferred"), "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts, rec.state.interruptions), (JobStatus::Succeeded, 1, 0));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Issue 24, item 6: the outcome write keeps being refused (not a transient failure: here a
/// validation error, as an item too large or a permission taken away would be). The worker stops
/// after a few tries instead of holding its pod until the Job's deadline, exits with the backend
/// code and leaves the message; once its lease runs out the next worker resumes the attempt (an
/// interruption, not an attempt) and records it, counted once.
#[tokio::test(flavor = "multi_thread")]
async fn an_outcome_write_refused_for_good_is_given_up_and_resumed() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "noop", Value::Null).await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10")];
    let started = std::time::Instant::now();
    let run = run_worker(&stack, &[fast[0], fast[1], ("FAULTS", "store.succeed=invalid")]).await;
    assert_eq!(run.code, 3, "{}", run.log);
    assert!(started.elapsed() < Duration::from_secs(30), "bounded: {:?}", started.elapsed());
    assert!(run.log.contains("keeps refusing the outcome"), "{}", run.log);
    assert_eq!(job(&stack, &msg.job_id).await.state.status, JobStatus::Running);
    assert_eq!(stats(&stack).await, counts(1, 0, 0, 0));

    let run = run_worker(&stack, &fast).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    let runs: Vec<_> = rec.state.history.iter().map(|r| (r.attempt, r.outcome)).collect();
    use jobs_core::history::RunOutcome;
    assert_eq!(runs, [(1, RunOutcome::Abandoned), (1, RunOutcome::Succeeded)], "one attempt, run twice");
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// The first delivery of a job is claimed before the job is read (`jobs_core::unread`): with
/// every read failing, a fresh job still runs, once. A retry's copy carries the attempts so far
/// and is read first (claiming it unread could only miss), so under the same read outage it is
/// deferred, not run; once reads work, the retry runs and everything is counted once.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_delivery_is_claimed_without_a_read_and_a_retry_copy_is_read_first() {
    let stack = Stack::start().await;
    let reads_fail = ("FAULTS", "store.get=unavailable");
    let fresh = submit(&stack, "noop", Value::Null).await;
    let run = run_worker(&stack, &[reads_fail]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(!run.log.contains("reading the job"), "{}", run.log);
    assert_eq!(job(&stack, &fresh.job_id).await.state.status, JobStatus::Succeeded);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));

    let flaky = submit(&stack, "flaky", json!({"failures": 1})).await;
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(job(&stack, &flaky.job_id).await.state.status, JobStatus::RetryWait);
    let backend = [reads_fail, ("WAIT_TIME_SECS", "10"), ("BACKEND_RETRY_SECS", "1"), ("BACKEND_RETRY_MAX_SECS", "1")];
    let run = run_worker(&stack, &backend).await;
    assert_eq!(run.code, 3, "{}", run.log);
    assert!(run.log.contains("message deferred"), "{}", run.log);
    assert!(!run.log.contains("not the job's first delivery"), "the copy was claimed unread: {}", run.log);
    let rec = job(&stack, &flaky.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::RetryWait, 1));

    let run = run_worker(&stack, &[("WAIT_TIME_SECS", "10")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &flaky.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 1));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Path 3: an attempt that hangs is failed by the worker's own limit (below the Job's deadline)
/// as an ordinary failed attempt, and a run that keeps being stopped ends FAILED too.
#[tokio::test(flavor = "multi_thread")]
async fn hung_and_repeatedly_stopped_attempts_end_failed() {
    let stack = Stack::start().await;
    let hung = submit(&stack, "sleep", json!({"ms": 60_000})).await;
    let limits = [("ATTEMPT_TIMEOUT_SECS", "1"), ("MAX_ATTEMPTS", "2"), ("WAIT_TIME_SECS", "10")];
    for (code, status) in [(1, JobStatus::RetryWait), (1, JobStatus::Failed)] {
        let run = run_worker(&stack, &limits).await;
        assert_eq!(run.code, code, "{}", run.log);
        assert_eq!(job(&stack, &hung.job_id).await.state.status, status);
    }
    let rec = job(&stack, &hung.job_id).await;
    assert_eq!(rec.last_error.as_deref(), Some("attempt 2 timed out after 1s"));
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 1));

    // SIGTERM (a deadline, a reclaimed node) twice with MAX_INTERRUPTIONS=1: resumed once, then
    // the attempt fails, and with no attempts left the job is FAILED, saying why.
    let stopped = submit(&stack, "sleep", json!({"ms": 60_000})).await;
    let once = [("MAX_INTERRUPTIONS", "1"), ("MAX_ATTEMPTS", "1")];
    for round in 0..2 {
        let child = worker(&stack, &once).spawn().unwrap();
        wait_for_status(&stack, &stopped.job_id, JobStatus::Running).await;
        signal(&child, libc::SIGTERM);
        let run = finish(child).await;
        assert_eq!(run.code, [143, 1][round], "{}", run.log);
    }
    let rec = job(&stack, &stopped.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 1));
    assert!(rec.last_error.unwrap().contains("interrupted 2 times"));
    assert_eq!(stats(&stack).await, counts(2, 0, 2, 1));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Path 5: a message this build rejects (a kind it does not know: a deploy in progress) for a job
/// that already started, once the skew window has passed. The job is recorded FAILED with the
/// reason before the message goes; it used to be deleted and leave the job RETRY_WAIT for good.
#[tokio::test(flavor = "multi_thread")]
async fn a_poison_verdict_on_a_started_job_fails_it_once() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "fail", json!({"message": "first"})).await;
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    assert_eq!(job(&stack, &msg.job_id).await.state.status, JobStatus::RetryWait);
    // Take the retry's copy away, and deliver the job as a newer producer would.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let taken = stack.sqs.receive_message().queue_url(&stack.resources.queue_url).wait_time_seconds(5).send().await;
    let handle = taken.unwrap().messages.unwrap()[0].receipt_handle.clone().unwrap();
    stack.sqs.delete_message().queue_url(&stack.resources.queue_url).receipt_handle(handle).send().await.unwrap();
    let newer = JobMessage { kind: "teleport".into(), ..msg.clone() };
    stack.queue.send(&newer.to_body()).await.unwrap();

    let run = run_worker(&stack, &[("SKEW_WINDOW_SECS", "1")]).await;
    assert_eq!(run.code, 1, "{}", run.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Failed, 1));
    assert!(rec.last_error.unwrap().contains("unknown job kind \"teleport\""));
    assert_eq!(stats(&stack).await, counts(1, 0, 1, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Path 7: the running worker's visibility extensions fail, so SQS delivers the message again to
/// another worker. That worker hands its receipt to the holder, which keeps the message hidden and
/// deletes it at the end; before, the copy was left, received again and again, and (with a stale
/// handle) never deleted.
#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_received_while_the_job_runs_is_handed_to_its_holder() {
    let stack = Stack::start().await;
    let msg = submit(&stack, "sleep", json!({"ms": 7000})).await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10")];
    let holder = worker(&stack, &[fast[0], fast[1], ("FAULTS", "sqs.visibility=unavailable*3")]).spawn().unwrap();
    wait_for_status(&stack, &msg.job_id, JobStatus::Running).await;
    let second = run_worker(&stack, &fast).await;
    assert_eq!(second.code, 0, "{}", second.log);
    assert!(second.log.contains("handed it this delivery"), "{}", second.log);
    let holder = finish(holder).await;
    assert_eq!(holder.code, 0, "{}", holder.log);
    assert!(holder.log.contains("took over a receipt"), "{}", holder.log);
    let rec = job(&stack, &msg.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1));
    assert_eq!(queued(&stack).await, (0, 0), "the holder deleted the message with the handed-over receipt");
    let empty = run_worker(&stack, &[("WAIT_TIME_SECS", "4")]).await;
    assert!(empty.log.contains("queue is empty"), "{}", empty.log);
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert!(stack.drain_dlq().await.is_empty());
}

/// Path 8: EventBridge Scheduler retries a firing with a new execution id; the job id follows
/// from the schedule and the scheduled time, so both deliveries are one job, counted once.
#[tokio::test(flavor = "multi_thread")]
async fn a_firing_delivered_twice_is_one_job() {
    let stack = Stack::start().await;
    let template = JobMessage::schedule_template(
        &jobs_core::JobSpec::parse("noop", json!({})).unwrap(),
        "nightly",
        jobs_core::Overlap::Allow,
        jobs_core::pools::Priority::Normal,
        &jobs_core::Tenant::default(),
    );
    let fired = template.replace(SCHEDULER_SCHEDULED_TIME, "2026-11-21T07:00:00Z");
    for _ in 0..2 {
        stack.queue.send(&fired).await.unwrap();
    }
    let run = run_worker(&stack, &[("MAX_MESSAGES", "2")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, "sched:nightly:2026-11-21T07:00:00Z").await;
    assert_eq!((rec.state.status, rec.schedule()), (JobStatus::Succeeded, Some("nightly")));
    assert_eq!(stats(&stack).await, counts(1, 1, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

/// Crashes at the named points between a write and the message's settling: after the outcome is
/// recorded (before the delete) and after RETRY_WAIT (before the message is handed back). The
/// message comes back after its visibility timeout and the job is counted once.
#[tokio::test(flavor = "multi_thread")]
async fn crashes_between_record_and_settle_count_once() {
    let stack = Stack::start().await;
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10")];
    let ok = submit(&stack, "noop", Value::Null).await;
    let crashed = run_worker(&stack, &[fast[0], fast[1], ("FAULTS", "store.succeed=crash-after")]).await;
    assert_ne!(crashed.code, 0, "{}", crashed.log);
    assert_eq!(job(&stack, &ok.job_id).await.state.status, JobStatus::Succeeded);
    let run = run_worker(&stack, &fast).await;
    assert!(run.log.contains("duplicate delivery of a finished job"), "{}", run.log);

    let flaky = submit(&stack, "flaky", json!({"failures": 1})).await;
    let crashed = run_worker(&stack, &[fast[0], fast[1], ("FAULTS", "store.fail=crash-after")]).await;
    assert_ne!(crashed.code, 0, "{}", crashed.log);
    assert_eq!(job(&stack, &flaky.job_id).await.state.status, JobStatus::RetryWait);
    let run = run_worker(&stack, &fast).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let rec = job(&stack, &flaky.job_id).await;
    assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 1));
    assert_eq!(queued(&stack).await, (0, 0));
}
