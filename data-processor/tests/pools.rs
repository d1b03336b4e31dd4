//! Pools and priorities against a real emulator, with the worker binary: a pool's worker takes
//! only its pool's queues, high priority first; a drained pod stops at its bounds and counts every
//! job once even when it is killed in the middle of one; the reconciler sends a job's copies to
//! the job's own queue (its kind's pool, its priority).

mod common;

use std::time::Duration;

use common::*;
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, JobStatus};
use serde_json::{Value, json};
use testkit::Stack;

/// Records a job as the API does and sends its message to its own queue (its kind's pool, its
/// priority).
async fn submit_to_pool(stack: &Stack, kind: &str, payload: Value, priority: Priority) -> JobMessage {
    let msg = JobMessage { priority, ..JobMessage::new_api(kind, payload, chrono::Utc::now()) };
    stack
        .store
        .submit(&msg, jobs_core::submitter::LOCAL, None, &jobs_aws::store::Seat::Free)
        .await
        .expect("record job")
        .applied()
        .expect("the write applies");
    stack.queues.for_job(kind, priority).send(&msg.to_body()).await.expect("send job");
    msg
}

/// The jobs started, in the order they started.
async fn start_order(stack: &Stack, ids: &[&str]) -> Vec<String> {
    let mut started = Vec::new();
    for id in ids {
        if let Some(at) = job(stack, id).await.first_started_at {
            started.push((at, id.to_string()));
        }
    }
    started.sort();
    started.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_high_job_overtakes_a_normal_backlog_of_its_pool() {
    let stack = Stack::start().await;
    let mut normal = Vec::new();
    for _ in 0..4 {
        normal.push(submit_to_pool(&stack, "noop", json!({}), Priority::Normal).await.job_id);
    }
    let high = submit_to_pool(&stack, "noop", json!({}), Priority::High).await;
    assert_eq!(job(&stack, &high.job_id).await.priority(), Priority::High, "the item keeps the priority");

    // One pod, one message: the high job, although four normal ones were queued before it.
    let first = run_worker(&stack, &[]).await;
    assert_eq!(first.code, 0, "{}", first.log);
    assert_eq!(job(&stack, &high.job_id).await.state.status, JobStatus::Succeeded);
    for id in &normal {
        assert_eq!(job(&stack, id).await.state.status, JobStatus::Queued, "normal jobs wait");
    }
    // A second high job sent while the normal backlog drains still goes before what is left.
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let late = submit_to_pool(&stack, "noop", json!({}), Priority::High).await;
    let rest = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "1")]).await;
    assert_eq!(rest.code, 0, "{}", rest.log);
    let mut ids: Vec<&str> = normal.iter().map(String::as_str).collect();
    ids.extend([high.job_id.as_str(), late.job_id.as_str()]);
    let order = start_order(&stack, &ids).await;
    assert_eq!(order.len(), 6, "every job ran: {order:?}");
    assert_eq!(order[0], high.job_id);
    assert_eq!(order[2], late.job_id, "after the one normal job already taken: {order:?}");
    assert_eq!(stats(&stack).await, counts(6, 6, 0, 0));
    assert_eq!(queued(&stack).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pools_worker_takes_only_its_pools_jobs() {
    let stack = Stack::start().await;
    // A full long pool: its sleeps wait on its own queue.
    let mut sleeps = Vec::new();
    for _ in 0..3 {
        sleeps.push(submit_to_pool(&stack, "sleep", json!({"ms": 60_000}), Priority::Normal).await.job_id);
    }
    let short = submit_to_pool(&stack, "noop", json!({}), Priority::Normal).await;
    // The default pool's worker runs the noop at once and never sees a sleep.
    let run = run_worker(&stack, &[("DRAIN", "true"), ("WAIT_TIME_SECS", "1")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(job(&stack, &short.job_id).await.state.status, JobStatus::Succeeded);
    for id in &sleeps {
        assert_eq!(job(&stack, id).await.state.status, JobStatus::Queued);
    }
    assert!(run.log.contains("\"pool\":\"default\""), "the worker says its pool: {}", run.log);
    let long = stack.queues.get("long", Priority::Normal).depth().await.unwrap();
    assert_eq!(long.visible, 3, "the long pool's queue still holds its jobs: {long:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drained_pod_stops_at_its_bounds() {
    let stack = Stack::start().await;
    for _ in 0..3 {
        submit(&stack, "noop", json!({})).await;
    }
    let bounded = run_worker(&stack, &[("DRAIN", "true"), ("DRAIN_MAX_JOBS", "2"), ("WAIT_TIME_SECS", "1")]).await;
    assert_eq!(bounded.code, 0, "{}", bounded.log);
    assert!(bounded.log.contains("\"messages\":2"), "two jobs, then the pod ends: {}", bounded.log);
    assert_eq!(queued(&stack).await, (1, 0), "the third waits for the next pod");
    // The time bound: the job in hand finishes, no further one is taken. Queued: the noop left
    // over, then two sleeps of 1.5 s; after 1 s the pod is in the first sleep.
    for _ in 0..2 {
        submit(&stack, "sleep", json!({"ms": 1500})).await;
    }
    let timed = run_worker(&stack, &[("DRAIN", "true"), ("DRAIN_MAX_SECS", "1"), ("WAIT_TIME_SECS", "1")]).await;
    assert_eq!(timed.code, 0, "{}", timed.log);
    assert!(timed.log.contains("drain time bound reached"), "{}", timed.log);
    assert!(timed.log.contains("\"messages\":2"), "the noop and one sleep: {}", timed.log);
    assert_eq!(queued(&stack).await, (1, 0), "the other sleep waits for the next pod");
    assert_eq!(stats(&stack).await, counts(5, 2 + 2, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drained_pod_killed_in_its_third_job_counts_every_job_once() {
    let stack = Stack::start().await;
    let mut ids = Vec::new();
    for payload in [json!({}), json!({}), json!({"ms": 30_000}), json!({}), json!({})] {
        let kind = if payload.get("ms").is_some() { "sleep" } else { "noop" };
        ids.push(submit(&stack, kind, payload).await.job_id);
    }
    let fast = [("VISIBILITY_TIMEOUT_SECS", "3"), ("WAIT_TIME_SECS", "10"), ("DRAIN", "true")];
    let mut pod = worker(&stack, &fast).spawn().unwrap();
    wait_for_status(&stack, &ids[2], JobStatus::Running).await;
    assert_eq!(job(&stack, &ids[0]).await.state.status, JobStatus::Succeeded);
    pod.kill().await.unwrap(); // SIGKILL in the middle of the third job: nothing recorded for it

    // The next drained pod takes the abandoned attempt over once its lease ran out, and the rest;
    // a 1 s limit ends the long sleep quickly (a failed attempt, its last).
    let limits =
        [fast[0], ("WAIT_TIME_SECS", "10"), ("DRAIN", "true"), ("ATTEMPT_TIMEOUT_SECS", "1"), ("MAX_ATTEMPTS", "1")];
    let next = run_worker(&stack, &limits).await;
    assert_eq!(next.code, 1, "the cut-off sleep failed: {}", next.log);
    let third = job(&stack, &ids[2]).await;
    assert_eq!(
        (third.state.status, third.state.attempts),
        (JobStatus::Failed, 1),
        "taken over, not started anew: {third:?}"
    );
    for id in [&ids[0], &ids[1], &ids[3], &ids[4]] {
        let rec = job(&stack, id).await;
        assert_eq!((rec.state.status, rec.state.attempts), (JobStatus::Succeeded, 1), "{id}");
    }
    assert_eq!(stats(&stack).await, counts(5, 4, 1, 0), "every job counted once");
    assert_eq!(queued(&stack).await, (0, 0));
    let (totals, _) = bucket_totals(&stack).await;
    assert_eq!(totals, (4, 1, 0, 0), "the throughput buckets agree");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_sends_a_jobs_copy_to_its_own_queue() {
    let stack = Stack::start().await;
    // A high job of the long pool recorded as the API records it, whose message never left.
    let msg =
        JobMessage { priority: Priority::High, ..JobMessage::new_api("sleep", json!({"ms": 10}), chrono::Utc::now()) };
    let timing = jobs_core::reconcile::Timing { send_grace: Duration::from_secs(1), ..Default::default() };
    let store = stack.store.clone().with_timing(timing);
    store
        .apply(&msg.job_id, None, None, Some(&msg), &jobs_core::state::submit(chrono::Utc::now()), &store.token())
        .await
        .unwrap()
        .applied()
        .expect("the write applies");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut cmd = worker(&stack, &[]);
    cmd.arg("reconcile");
    let pass = finish(cmd.spawn().unwrap()).await;
    assert_eq!(pass.code, 0, "{}", pass.log);
    let high = stack.queues.get("long", Priority::High).depth().await.unwrap();
    assert_eq!(high.visible + high.delayed, 1, "the copy is on the long pool's high queue: {high:?}");
    assert_eq!(queued(&stack).await.0, 1, "and nowhere else");

    // A dead-lettered message of the long pool comes back to that pool's queue.
    let other = submit_to_pool(&stack, "sleep", json!({"ms": 10}), Priority::Normal).await;
    let long = stack.queues.get("long", Priority::Normal);
    let received = long.receive(Duration::ZERO, Duration::from_secs(60)).await.unwrap().expect("the message");
    long.send_to_dlq(&received.body, "test", Some(&other.job_id)).await.unwrap();
    long.delete(&received.receipt_handle).await.unwrap();
    let mut cmd = worker(&stack, &[]);
    cmd.arg("reconcile");
    let pass = finish(cmd.spawn().unwrap()).await;
    assert_eq!(pass.code, 0, "{}", pass.log);
    assert!(pass.log.contains("dead-lettered message sent back"), "{}", pass.log);
    let back = long.depth().await.unwrap();
    assert_eq!(back.visible + back.delayed, 1, "redriven to its own queue: {back:?}");

    // The long pool's worker runs both; each counted once.
    let run = finish(worker_in(&stack, "long", &[("DRAIN", "true"), ("WAIT_TIME_SECS", "2")]).spawn().unwrap()).await;
    assert_eq!(run.code, 0, "{}", run.log);
    for id in [&msg.job_id, &other.job_id] {
        assert_eq!(job(&stack, id).await.state.status, JobStatus::Succeeded, "{id}");
    }
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0));
}
