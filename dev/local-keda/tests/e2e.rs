//! End to end on a real emulator: jobs submitted through the API binary, scaled and run by the
//! `local-scaledjob` controller from the deployed `keda/scaledjob.yaml`, executed by the real
//! worker (as processes here; as containers in `container_e2e`, which `make test-image` runs).

mod common;

use std::time::Duration;

use common::{Controller, expected_outcomes, submit_mix, wait_until_settled, worker_processes};
use serde_json::Value;
use testkit::Stack;

/// 20 mixed jobs: every one terminal with the right status and attempts, the stats exact, and
/// exactly one Job launched per message delivery (accurate strategy, never more Jobs than messages).
#[tokio::test(flavor = "multi_thread")]
async fn twenty_mixed_jobs_with_the_process_executor() {
    let stack = Stack::start().await;
    let api = common::api(&stack).await;
    let logs = tempdir("e2e-process");
    let controller = Controller::start(&stack, &["--executor", "process"], &logs, None).await;

    let submitted = submit_mix(&api, 20).await;
    let (want, attempts) = expected_outcomes(&submitted);
    let state = wait_until_settled(&api, &controller, submitted.len() as u64, Duration::from_secs(180)).await;

    assert_eq!(state["executor"], "process");
    let stats = api.get("/jobs/stats").await.1;
    assert_eq!(
        (&stats["succeedJob"], &stats["failedJob"], &stats["jobRetry"], &stats["submitted"]),
        (&want.succeeded.into(), &want.failed.into(), &want.retries.into(), &20.into()),
        "{stats}"
    );
    assert_eq!((&stats["queued"], &stats["inFlight"]), (&0.into(), &0.into()), "the queue is empty: {stats}");
    for (id, kind, status, n) in &submitted.expect_each() {
        let job = api.get(&format!("/jobs/{id}")).await.1;
        assert_eq!((&job["status"], &job["attempts"]), (&(*status).into(), &(*n).into()), "{kind} {id}: {job}");
        // Every run's log is still there, whether or not the history limits kept its Job.
        for run in job["attemptHistory"].as_array().unwrap() {
            let file = run["logs"].as_str().expect("each run names its log");
            assert!(std::path::Path::new(file).exists(), "{kind} {id}: {file} is gone");
        }
    }

    // One Job per delivery: no Job was launched for a message another Job already had.
    let totals = &state["totals"];
    assert_eq!(totals["jobsCreated"], attempts, "{totals}");
    assert_eq!(totals["podsStarted"], attempts, "backoffLimit 0: one pod per Job");
    assert_eq!(totals["jobsSucceeded"], want.succeeded_attempts, "{totals}");
    assert_eq!(totals["jobsFailed"], attempts - want.succeeded_attempts, "{totals}");
    assert!(stack.drain_dlq().await.is_empty(), "nothing was dead-lettered");

    // The history limits (10 succeeded, 20 failed in each pool's manifest) trim each
    // ScaledJob's Jobs, not their logs: job records link them.
    let scaled_jobs = state["scaledJobs"].as_array().unwrap();
    assert_eq!(scaled_jobs.len(), jobs_core::catalog::lanes().len(), "one ScaledJob per lane (pool, command kind)");
    for sj in scaled_jobs {
        let jobs = sj["jobs"].as_array().unwrap();
        let count = |phase: &str| jobs.iter().filter(|j| j["phase"] == phase).count() as u64;
        let totals = &sj["totals"];
        let (ok, failed) = (totals["jobsSucceeded"].as_u64().unwrap(), totals["jobsFailed"].as_u64().unwrap());
        assert_eq!((count("succeeded"), count("failed")), (ok.min(10), failed.min(20)), "{}", sj["scaledJob"]);
    }
    let jobs = state["jobs"].as_array().unwrap();
    let files = std::fs::read_dir(&logs).unwrap().count() as u64;
    assert_eq!(files, attempts, "one log per Job, kept or trimmed");
    for job in jobs {
        let log = std::fs::read_to_string(job["log"].as_str().unwrap()).unwrap();
        assert!(log.contains("worker done messages=1"), "every Job took exactly one message: {log}");
    }

    // What Prometheus scrapes says the same as /state.
    let (content_type, samples) = controller.metrics().await;
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let sj = r#"{namespace="jobs",scaledjob="data-processor"}"#;
    let value =
        |series: &str| samples.iter().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse::<f64>().ok());
    let totals = &scaled_jobs.iter().find(|s| s["scaledJob"] == "data-processor").unwrap()["totals"];
    for (series, field) in [
        ("local_keda_jobs_created_total", "jobsCreated"),
        ("local_keda_jobs_succeeded_total", "jobsSucceeded"),
        ("local_keda_jobs_failed_total", "jobsFailed"),
    ] {
        assert_eq!(value(&format!("{series}{sj}")), totals[field].as_f64(), "{series}: {samples:?}");
    }
    // The trigger's figures under KEDA's names (their values are those of the last poll).
    let scaler = r#"{namespace="jobs",scaledObject="data-processor",type="scaledjob",scaler="aws-sqs-queue",triggerIndex="0",metric="queueLength"}"#;
    for name in ["keda_scaler_metrics_value", "keda_scaler_active", "keda_scaler_errors_total"] {
        assert!(value(&format!("{name}{scaler}")).is_some(), "{name}: {samples:?}");
    }
    assert_eq!(value(r#"local_keda_jobs{namespace="jobs",scaledjob="data-processor",phase="running"}"#), Some(0.0));

    let exit = controller.stop().await;
    assert_eq!(exit, Some(0), "the controller stops cleanly on SIGTERM");
}

/// activeDeadlineSeconds and backoffLimit from the manifest; SIGTERM to the controller stops its
/// Jobs (their message goes back to the queue) and leaves no process behind.
#[tokio::test(flavor = "multi_thread")]
async fn deadline_backoff_and_shutdown_with_the_process_executor() {
    let stack = Stack::start().await;
    let api = common::api(&stack).await;
    let logs = tempdir("e2e-deadline");
    // The deployed manifest with a 3 s deadline, 1 retry of a failed pod and a 2 s grace period.
    // The long pool's manifest (sleep runs there).
    let manifest = common::manifest_with(
        "scaledjob-long.yaml",
        &[
            ("activeDeadlineSeconds: 43560", "activeDeadlineSeconds: 3"),
            ("backoffLimit: 0", "backoffLimit: 1"),
            ("terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 2"),
        ],
    );
    let controller = Controller::start(&stack, &["--executor", "process"], &logs, Some(&manifest)).await;

    let (status, body) = api.post("/jobs", serde_json::json!({"job": "sleep", "payload": {"ms": 600000}})).await;
    assert!(status.is_success(), "{body}");
    let job_id = body["jobId"].as_str().unwrap().to_owned();

    // The first Job runs past its deadline: SIGTERM, then Failed/DeadlineExceeded (no pod retry).
    let first = common::poll(Duration::from_secs(60), || async {
        let state = controller.state().await;
        let jobs = state["jobs"].as_array().cloned().unwrap_or_default();
        jobs.into_iter().find(|j| j["phase"] == "failed")
    })
    .await;
    assert_eq!(first["reason"], "DeadlineExceeded", "{first}");
    assert_eq!(first["pods"], 1, "a deadline is not retried: {first}");
    let log = std::fs::read_to_string(first["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("exit_code=143"), "the worker was stopped by SIGTERM and said so: {log}");
    // The worker gave the message back without using up an attempt.
    let job = api.get(&format!("/jobs/{job_id}")).await.1;
    assert_ne!(job["status"], "FAILED", "{job}");

    // The message is visible again, so KEDA starts a new Job for it; stop the controller while it runs.
    common::poll(Duration::from_secs(30), || async {
        let state = controller.state().await;
        (state["jobs"].as_array().unwrap().iter().any(|j| j["phase"] == "running")).then_some(())
    })
    .await;
    assert!(!worker_processes(&stack).is_empty(), "a worker process runs");
    let exit = controller.stop().await;
    assert_eq!(exit, Some(0));
    let left: Vec<String> = worker_processes(&stack)
        .iter()
        .map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!("{pid} {cmd:?} {}", status.lines().take(8).collect::<Vec<_>>().join("; "))
        })
        .collect();
    assert!(
        left.is_empty(),
        "no worker process outlives the controller: {left:?}\n{}",
        std::fs::read_to_string(logs.with_extension("controller.log")).unwrap()
    );
    let depth = stack.queues.get("long", jobs_core::pools::Priority::Normal).depth().await.unwrap();
    assert_eq!(depth.visible + depth.in_flight, 1, "the job's message is still on its queue: {depth:?}");
    let job: Value = api.get(&format!("/jobs/{job_id}")).await.1;
    assert_ne!(job["status"], "FAILED", "stopping the stack fails no job: {job}");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The reconciler runs locally from `keda/cronjob.yaml` as the cluster runs it: a CronJob whose
/// Job's pod passes every 10 s. A job recorded but never sent (an API that died in between) is
/// sent by it, and the ScaledJob then runs it.
#[tokio::test(flavor = "multi_thread")]
async fn the_reconciler_cronjob_sends_what_the_api_never_did() {
    let stack = Stack::start().await;
    let api = common::api(&stack).await;
    let logs = tempdir("e2e-cron");
    let cronjob = common::workspace_root().join("keda/cronjob.yaml");
    let cron = cronjob.to_str().unwrap();
    let controller =
        Controller::start(&stack, &["--executor", "process", "--cronjob", cron, "--start-cronjobs"], &logs, None).await;

    // Recorded as the API records a job, with its due time 1 s ahead; never sent.
    let msg = stack.record_unsent("noop", serde_json::json!({}), Duration::from_secs(1)).await;

    let job = common::poll(Duration::from_secs(60), || async {
        let job = api.get(&format!("/jobs/{}", msg.job_id)).await.1;
        (job["status"] == "SUCCEEDED").then_some(job)
    })
    .await;
    assert_eq!(job["attempts"], 1, "{job}");
    let state = controller.state().await;
    let cron = &state["cronJobs"][0];
    assert_eq!(
        (cron["name"].as_str(), cron["concurrencyPolicy"].as_str()),
        (Some("jobs-reconciler"), Some("Forbid")),
        "{state}"
    );
    assert!(cron["jobs"].as_array().is_some_and(|j| !j.is_empty()), "{cron}");
    let log = std::fs::read_to_string(cron["jobs"][0]["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("overdue job's message sent again"), "{log}");
    assert_eq!(state["totals"]["jobsCreated"], 1, "the ScaledJob ran the job once: {}", state["totals"]);

    assert_eq!(controller.stop().await, Some(0), "the CronJob's pod is stopped with the rest");
    assert!(worker_processes(&stack).is_empty(), "no reconciler or worker process outlives the controller");
}
