//! Tenants' limits end to end against the emulator (`docs/tenants.md`): the API admits or holds
//! each job, workers give slots back and admit the next, the reconciler frees what a killed
//! process left and admits what nobody did. After every step a tenant's slots (`active`) equal its
//! jobs that hold one and never exceed its `maxRunning`; every job ends, counted once.

mod common;

use std::path::Path;

use common::*;
use jobs_aws::store::Stats;
use jobs_core::{JobStatus, Tenant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Api, Stack};

async fn api(stack: &Stack) -> Api {
    Api::start(stack, Path::new(&testkit::workspace_binary("api-lambda")), &[]).await
}

async fn put(api: &Api, tenant: &str, body: Value) -> Value {
    let (status, out) = api.call(Method::PUT, &format!("/tenants/{tenant}"), Some(body.to_string()), &[]).await;
    assert_eq!(status, StatusCode::OK, "{out}");
    out
}

/// Submits `n` jobs of `kind` for `tenant`: (job id, status answered).
async fn submit_n(api: &Api, tenant: &str, body: Value, n: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let mut body = body.clone();
        body["tenant"] = json!(tenant);
        let (status, answer) = api.post("/jobs", body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        out.push((answer["jobId"].as_str().unwrap().to_owned(), answer["status"].as_str().unwrap().to_owned()));
    }
    out
}

/// One reconcile pass.
async fn reconcile(stack: &Stack, extra: &[(&str, &str)]) -> Run {
    let mut cmd = worker(stack, extra);
    cmd.arg("reconcile");
    let run = finish(cmd.spawn().expect("spawn reconciler")).await;
    assert_eq!(run.code, 0, "{}", run.log);
    run
}

/// The tenant's slots as its item counts them, checked against its jobs that hold one; and that
/// none of them exceeds `max`. Returns the slot holders.
async fn slots(stack: &Stack, tenant: &str, ids: &[String], max: u32) -> Vec<String> {
    let item = stack.store.tenant(&Tenant::parse(tenant).unwrap()).await.unwrap();
    let mut holders = Vec::new();
    let mut running = 0;
    for id in ids {
        let r = job(stack, id).await;
        if r.state.slot {
            holders.push(id.clone());
        }
        running += u32::from(r.state.status == JobStatus::Running);
    }
    assert_eq!(
        item.usage.active as usize,
        holders.len(),
        "{tenant}: active counts exactly its slot holders {holders:?}"
    );
    assert!(item.usage.active <= max, "{tenant}: {} slots held, maxRunning {max}", item.usage.active);
    assert!(running <= max, "{tenant}: {running} running, maxRunning {max}");
    holders
}

async fn status(stack: &Stack, id: &str) -> JobStatus {
    job(stack, id).await.state.status
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_over_its_limit_waits_and_its_jobs_are_admitted_first_come_high_first() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    let view = put(&api, "a", json!({"maxRunning": 2})).await;
    assert_eq!(view["limits"]["maxRunning"], 2, "{view}");
    assert_eq!(view["settings"], json!({"maxRunning": 2}), "{view}");
    assert_eq!(view["updatedBy"], "local", "{view}");

    let mut jobs = submit_n(&api, "a", json!({"job": "noop"}), 4).await;
    jobs.extend(submit_n(&api, "a", json!({"job": "noop", "priority": "high"}), 1).await);
    let answered: Vec<&str> = jobs.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(answered, ["QUEUED", "QUEUED", "WAITING", "WAITING", "WAITING"]);
    let ids: Vec<String> = jobs.iter().map(|(id, _)| id.clone()).collect();
    // Another tenant, without limits, is not held by a's.
    let b = submit_n(&api, "b", json!({"job": "noop"}), 1).await;
    assert_eq!(b[0].1, "QUEUED");

    // A waiting job says why, and has no message: only a's two admitted jobs and b's are queued.
    let (_, waiting) = api.get(&format!("/jobs/{}", ids[2])).await;
    assert_eq!(waiting["status"], "WAITING", "{waiting}");
    assert!(waiting["waitingFor"].as_str().unwrap().contains("maxRunning"), "{waiting}");
    assert_eq!(waiting["holdsSlot"], false);
    let sent: Vec<String> = stack.queued().await.iter().map(|q| q.body["jobId"].as_str().unwrap().to_owned()).collect();
    let mut want = vec![ids[0].clone(), ids[1].clone(), b[0].0.clone()];
    want.sort();
    let mut got = sent.clone();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(slots(&stack, "a", &ids, 2).await, ids[..2]);
    let (_, tenant) = api.get("/tenants/a").await;
    assert_eq!(
        (tenant["usage"]["active"].as_u64(), tenant["usage"]["waiting"].as_u64()),
        (Some(2), Some(3)),
        "{tenant}"
    );
    let (_, overview) = api.get("/jobs/overview").await;
    assert_eq!(overview["open"]["waiting"]["count"], 3, "{overview}");

    // Each job that ends gives its slot to the next: the high one first, then the oldest.
    let mut order: Vec<String> = ids[..2].to_vec();
    for _ in 0..6 {
        let run = run_worker(&stack, &[]).await;
        assert_eq!(run.code, 0, "{}", run.log);
        let holders = slots(&stack, "a", &ids, 2).await;
        for h in holders {
            if !order.contains(&h) {
                order.push(h);
            }
        }
    }
    assert_eq!(order, [ids[0].clone(), ids[1].clone(), ids[4].clone(), ids[2].clone(), ids[3].clone()]);
    for id in ids.iter().chain([&b[0].0]) {
        assert_eq!(status(&stack, id).await, JobStatus::Succeeded, "{id}");
    }
    assert!(slots(&stack, "a", &ids, 2).await.is_empty());
    assert_eq!(stats(&stack).await, counts(6, 6, 0, 0));
    // Outcomes per minute by tenant: a and b are not named in tenants.metrics, so (other).
    let (_, throughput) = api.get("/jobs/throughput?minutes=5").await;
    let other: u64 = throughput["minutes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["tenants"]["(other)"]["succeeded"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(other, 6, "{throughput}");
    let (_, list) = api.get("/tenants").await;
    let names: Vec<&str> = list["tenants"].as_array().unwrap().iter().map(|t| t["tenant"].as_str().unwrap()).collect();
    assert_eq!(names, ["a"], "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_changed_at_run_time_pauses_and_then_admits_at_once() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    put(&api, "a", json!({"maxRunning": 0})).await;
    let ids: Vec<String> = submit_n(&api, "a", json!({"job": "noop"}), 4)
        .await
        .into_iter()
        .map(|(id, s)| {
            assert_eq!(s, "WAITING");
            id
        })
        .collect();
    let (_, paused) = api.get(&format!("/jobs/{}", ids[0])).await;
    assert!(paused["waitingFor"].as_str().unwrap().contains("paused"), "{paused}");
    // Raised: the change itself admits what now fits, in order.
    let view = put(&api, "a", json!({"maxRunning": 3})).await;
    assert_eq!(view["usage"]["active"], 3, "{view}");
    assert_eq!(slots(&stack, "a", &ids, 3).await, ids[..3]);
    assert_eq!(stack.queued().await.len(), 3);
    // A rate: this minute's starts are counted with the slots (unless the minute just turned).
    let minute = || chrono::Utc::now().timestamp() / 60;
    let before = minute();
    let view = put(&api, "a", json!({"maxRunning": null, "maxStartsPerMinute": 3})).await;
    assert_eq!(view["limits"], json!({"maxRunning": null, "maxStartsPerMinute": 3, "weight": 1}), "{view}");
    if minute() == before {
        assert_eq!(status(&stack, &ids[3]).await, JobStatus::Waiting, "3 starts this minute already");
        assert_eq!(view["usage"]["startsThisMinute"], 3, "{view}");
    }
    // Back to the defaults (no limit here): the last one goes, taking no slot.
    let (code, view) = api.call(Method::DELETE, "/tenants/a", None, &[]).await;
    assert_eq!(code, StatusCode::OK, "{view}");
    assert_eq!(view["settings"], json!({}), "{view}");
    let last = job(&stack, &ids[3]).await;
    assert_eq!((last.state.status, last.state.slot), (JobStatus::Queued, false));
    for _ in 0..4 {
        assert_eq!(run_worker(&stack, &[]).await.code, 0);
    }
    for id in &ids {
        assert_eq!(status(&stack, id).await, JobStatus::Succeeded);
    }
    assert!(slots(&stack, "a", &ids, 3).await.is_empty());
    assert_eq!(stats(&stack).await, counts(4, 4, 0, 0));
    // Back to the defaults and idle: nothing of its own to show.
    let (code, out) = api.get("/tenants/a").await;
    assert_eq!((code, out["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{out}");
    let (_, list) = api.get("/tenants").await;
    assert_eq!(list["tenants"], json!([]), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_slot_leaks_and_no_job_is_stranded_whatever_process_dies_or_answer_is_lost() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    put(&api, "a", json!({"maxRunning": 1})).await;
    let ids: Vec<String> = submit_n(&api, "a", json!({"job": "noop"}), 4).await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[..1]);

    // Killed after recording the outcome, before giving the slot back: the job ended holding it.
    let run = run_worker(&stack, &[("FAULTS", "store.succeed=crash-after")]).await;
    assert_ne!(run.code, 0);
    assert_eq!(status(&stack, &ids[0]).await, JobStatus::Succeeded);
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[..1], "the ended job still holds its slot");
    // It does not expire while it holds it: deleted by the TTL, it would keep the slot counted
    // for good (found by the simulator, seed 43).
    assert_eq!(expires_at(&stack, &ids[0]).await, None);
    // The reconciler frees it and admits the next (and sends it); the ended job's retention
    // starts there.
    let pass = reconcile(&stack, &[]).await;
    assert!(pass.log.contains("freed the slot of an ended job"), "{}", pass.log);
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[1..2]);
    let expires = expires_at(&stack, &ids[0]).await.expect("a TTL once the slot is given back");
    let retention = 30 * 24 * 3600;
    assert!((expires - chrono::Utc::now().timestamp() - retention).abs() < 120, "{expires}");

    // The release's answer lost (the same transaction sent again) and the admission's too: the
    // slot is given back once and taken once.
    let run = run_worker(&stack, &[("FAULTS", "store.release=ambiguous*1;store.admit=ambiguous*1")]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert_eq!(status(&stack, &ids[1]).await, JobStatus::Succeeded);
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[2..3]);

    // Killed after giving the slot back, before admitting the next: the reconciler admits it.
    let run = run_worker(&stack, &[("FAULTS", "store.release=crash-after")]).await;
    assert_ne!(run.code, 0);
    assert_eq!(status(&stack, &ids[2]).await, JobStatus::Succeeded);
    assert!(slots(&stack, "a", &ids, 1).await.is_empty());
    assert_eq!(status(&stack, &ids[3]).await, JobStatus::Waiting);
    reconcile(&stack, &[]).await;
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[3..4]);
    assert_eq!(run_worker(&stack, &[]).await.code, 0);

    for id in &ids {
        assert_eq!(status(&stack, id).await, JobStatus::Succeeded);
    }
    assert!(slots(&stack, "a", &ids, 1).await.is_empty());
    assert_eq!(stats(&stack).await, counts(4, 4, 0, 0));
    // Nothing waits on the queues: every admitted job was sent and ran once. (The crashed
    // worker's message is in flight until its visibility runs out; its next receipt finds the job
    // finished.)
    assert_eq!(queued(&stack).await.0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_frees_a_slot_or_a_place_in_line_and_bad_input_changes_nothing() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    put(&api, "a", json!({"maxRunning": 1})).await;
    let ids: Vec<String> = submit_n(&api, "a", json!({"job": "noop"}), 3).await.into_iter().map(|(id, _)| id).collect();
    // A waiting job cancelled leaves the line; the holder cancelled gives its slot to the next.
    let (code, out) = api.post(&format!("/jobs/{}/cancel", ids[1]), json!({})).await;
    assert_eq!(code, StatusCode::OK, "{out}");
    assert_eq!(status(&stack, &ids[1]).await, JobStatus::Cancelled);
    let (code, out) = api.post(&format!("/jobs/{}/cancel", ids[0]), json!({})).await;
    assert_eq!(code, StatusCode::OK, "{out}");
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[2..3]);
    assert_eq!(stack.store.tenancy_counts(&Tenant::parse("a").unwrap()).await.unwrap().waiting, 0);
    for _ in 0..2 {
        assert_eq!(run_worker(&stack, &[]).await.code, 0);
    }
    assert_eq!(status(&stack, &ids[2]).await, JobStatus::Succeeded);
    assert!(slots(&stack, "a", &ids, 1).await.is_empty());
    assert_eq!(stats(&stack).await, Stats { cancelled: 2, ..counts(3, 1, 0, 0) });

    // Refused, each with a 400 naming the problem; the tenant unchanged.
    let cases: [(&str, &str, &str); 7] = [
        ("/tenants/a", "{", "invalid_json"),
        ("/tenants/a", r#"{"maxRuning": 1}"#, "invalid_field"),
        ("/tenants/a", r#"{"maxRunning": -1}"#, "invalid_field"),
        ("/tenants/a", r#"{"maxRunning": 100001}"#, "invalid_field"),
        ("/tenants/a", r#"{"weight": 0}"#, "invalid_field"),
        ("/tenants/a", r#"[]"#, "invalid_field"),
        ("/tenants/a%20b", r#"{"maxRunning": 1}"#, "invalid_tenant"),
    ];
    for (path, body, code) in cases {
        let (status, out) = api.call(Method::PUT, path, Some(body.to_owned()), &[]).await;
        assert_eq!(
            (status, out["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{path} {body}: {out}"
        );
    }
    let (_, view) = api.get("/tenants/a").await;
    assert_eq!(view["settings"], json!({"maxRunning": 1}), "{view}");
    // A whole number written with a fraction is that number.
    assert_eq!(put(&api, "a", json!({"maxRunning": 2.0})).await["settings"], json!({"maxRunning": 2}));
    // A tenant never configured has nothing of its own to show.
    let (code, _) = api.get("/tenants/never-seen").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    for bad in ["/tenants?limit=0", "/tenants?limit=51", "/tenants?after=a%20b", "/tenants/a%3Ab"] {
        let (status, out) = api.get(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {out}");
    }
}

/// A firing of schedule `name` as EventBridge Scheduler delivers it (its template, for tenant `a`,
/// with the scheduled time filled in); its job id.
async fn fire(stack: &Stack, name: &str, overlap: jobs_core::Overlap, at: &str) -> String {
    let spec = jobs_core::JobSpec::parse("noop", Value::Null).unwrap();
    let template = jobs_core::JobMessage::schedule_template(
        &spec,
        name,
        overlap,
        jobs_core::pools::Priority::Normal,
        &Tenant::parse("a").unwrap(),
    );
    let body = template.replace(jobs_core::message::SCHEDULER_SCHEDULED_TIME, at);
    stack.queue.send(&body).await.unwrap();
    format!("{}{name}:{at}", jobs_core::message::SCHEDULED_JOB_PREFIX)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limited_tenants_firings_wait_skip_or_take_a_slot_as_they_start() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    put(&api, "a", json!({"maxRunning": 0})).await;
    // Paused: a firing waits (its message deleted); a forbid schedule's firing is skipped, saying why.
    let waits = fire(&stack, "nightly", jobs_core::Overlap::Allow, "2026-12-06T01:00:00Z").await;
    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    let w = job(&stack, &waits).await;
    assert_eq!((w.state.status, w.state.slot, w.tenant.as_str()), (JobStatus::Waiting, false, "a"));
    assert_eq!(queued(&stack).await, (0, 0), "no message for a waiting job");
    let skipped = fire(&stack, "hourly", jobs_core::Overlap::Forbid, "2026-12-06T01:00:00Z").await;
    assert_eq!(run_worker(&stack, &[]).await.code, 0);
    let s = job(&stack, &skipped).await;
    assert_eq!(s.state.status, JobStatus::Skipped);
    assert!(s.last_error.as_deref().unwrap().contains("paused"), "{:?}", s.last_error);
    // Raised: the waiting firing is admitted and runs, giving its slot back.
    put(&api, "a", json!({"maxRunning": 1})).await;
    assert_eq!(slots(&stack, "a", std::slice::from_ref(&waits), 1).await, std::slice::from_ref(&waits));
    assert_eq!(run_worker(&stack, &[]).await.code, 0);
    assert_eq!(status(&stack, &waits).await, JobStatus::Succeeded);
    // Under its limit, a firing takes a slot as it starts: killed after its outcome, it still holds
    // it, until the reconciler frees it.
    let starts = fire(&stack, "nightly", jobs_core::Overlap::Allow, "2026-12-06T02:00:00Z").await;
    assert_ne!(run_worker(&stack, &[("FAULTS", "store.succeed=crash-after")]).await.code, 0);
    let ids = [waits.clone(), starts.clone()];
    let r = job(&stack, &starts).await;
    assert_eq!((r.state.status, r.state.slot), (JobStatus::Succeeded, true), "it ran holding a slot");
    assert_eq!(slots(&stack, "a", &ids, 1).await, std::slice::from_ref(&starts));
    let pass = reconcile(&stack, &[]).await;
    assert!(pass.log.contains("freed the slot of an ended job"), "{}", pass.log);
    assert!(slots(&stack, "a", &ids, 1).await.is_empty());
    assert_eq!(stats(&stack).await, Stats { skipped: 1, ..counts(3, 2, 0, 0) });
}

/// A waiting job has no message; a stray copy (a redrive or an operator's resend of an older
/// body) must not run it past its tenant's limit: the worker drops the copy, the job keeps its
/// place in line, and once admitted it runs exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_stray_copy_of_a_waiting_jobs_message_is_dropped_and_the_job_runs_once_when_admitted() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    put(&api, "a", json!({"maxRunning": 0})).await;
    let ids: Vec<String> = submit_n(&api, "a", json!({"job": "noop"}), 2).await.into_iter().map(|(id, _)| id).collect();
    let stray = job(&stack, &ids[0]).await.message.expect("a waiting job records its message");
    stack.queue.send(&stray.to_body()).await.unwrap();
    assert_eq!(queued(&stack).await, (1, 0));

    let run = run_worker(&stack, &[]).await;
    assert_eq!(run.code, 0, "{}", run.log);
    assert!(run.log.contains("dropping this copy"), "{}", run.log);
    assert_eq!(queued(&stack).await, (0, 0), "the copy is deleted, not retried");
    let r = job(&stack, &ids[0]).await;
    assert_eq!((r.state.status, r.state.slot, r.state.attempts), (JobStatus::Waiting, false, 0), "it did not run");
    assert_eq!(stats(&stack).await, counts(2, 0, 0, 0));

    // Admitted in order as the limit is raised; each runs once and gives its slot back.
    put(&api, "a", json!({"maxRunning": 1})).await;
    assert_eq!(slots(&stack, "a", &ids, 1).await, ids[..1]);
    for _ in 0..2 {
        assert_eq!(run_worker(&stack, &[]).await.code, 0);
    }
    for id in &ids {
        let r = job(&stack, id).await;
        assert_eq!((r.state.status, r.state.attempts), (JobStatus::Succeeded, 1), "{id}");
    }
    assert!(slots(&stack, "a", &ids, 1).await.is_empty());
    assert_eq!(stats(&stack).await, counts(2, 2, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_are_listed_by_name_page_after_page() {
    let stack = Stack::start().await;
    let api = api(&stack).await;
    for (tenant, max) in [("c", 3), ("a", 1), ("b", 2), ("d", 4), ("e", 5)] {
        put(&api, tenant, json!({"maxRunning": max})).await;
    }
    let mut seen = Vec::new();
    let mut path = "/tenants?limit=2".to_owned();
    for _ in 0..5 {
        let (code, page) = api.get(&path).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        assert!(page["tenants"].as_array().unwrap().len() <= 2, "{page}");
        for t in page["tenants"].as_array().unwrap() {
            seen.push((t["tenant"].as_str().unwrap().to_owned(), t["limits"]["maxRunning"].as_u64().unwrap()));
        }
        assert_eq!(page["defaults"]["maxRunning"], Value::Null, "the shipped config sets no default");
        match page["next"].as_str() {
            Some(next) => path = format!("/tenants?limit=2&after={next}"),
            None => break,
        }
    }
    let want: Vec<(String, u64)> =
        [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)].map(|(t, m)| (t.to_owned(), m)).to_vec();
    assert_eq!(seen, want);
    let (code, _) = api.get("/tenants?limit=2&bogus=1").await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "an unknown parameter is refused");
}
