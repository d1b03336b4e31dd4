//! Chaos, end to end: the real API, workers and reconciler against a real emulator, with random
//! SIGKILLs and SIGTERMs of workers, duplicate deliveries, cancel requests through the API (one job
//! in ten, at a random moment: queued, running or finished), and a backend outage (new workers get
//! a table that does not exist) longer than SQS's redrive. Two tenants have limits (`maxRunning`,
//! one also `maxStartsPerMinute`), changed mid-run; some workers are started to crash right after
//! an outcome or a slot's release, or to lose the answer of a release or an admission. Afterwards
//! every job is checked item by item against the counters, and every tenant's slots against the
//! jobs that hold them. The jobs spread over every pool and both priorities; each worker slot
//! serves one pool (the short pool's pods drain), as its ScaledJob's pods would.
//!
//! `make test` runs ~100 jobs; `make chaos` runs `CHAOS_JOBS` (default 1000). One summary line:
//! jobs, kills, duplicates, outage seconds, lost, double-counted, stuck, seconds to settle.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use jobs_core::JobStatus;
use jobs_sim::rng::Rng;
use serde_json::{Value, json};
use testkit::{Api, Stack};
use tokio::process::Child;

/// Concurrent worker pods (KEDA's maxReplicaCount, scaled down).
const SLOTS: usize = 10;
/// The lane each slot serves: the default pool, with three of the kinds, gets the most; each
/// command kind's lane (its own queues, its command run as the worker's child) one.
const POOL_OF_SLOT: [&str; SLOTS] =
    ["default", "long", "large", "short", "default", "long", "default", "default", "report", "shell"];

#[derive(Default)]
struct Tally {
    sigkill: AtomicU64,
    sigterm: AtomicU64,
    runs: AtomicU64,
    /// Runs started with a fault at an admission step.
    faulted: AtomicU64,
}

/// The limits of the tenants that have any, as set before the run and then mid-run (seconds
/// after the start, tenant, `PUT /tenants/{tenant}` body): raised, lowered, paused, reset.
const LIMITS: [(u64, &str, &str); 6] = [
    (0, "acme", r#"{"maxRunning": 3}"#),
    (0, "globex", r#"{"maxRunning": 2, "maxStartsPerMinute": 40}"#),
    (8, "acme", r#"{"maxRunning": 6}"#),
    (16, "globex", r#"{"maxRunning": 0}"#),
    (22, "acme", r#"{"maxRunning": 2}"#),
    (30, "globex", r#"{"maxRunning": 4, "maxStartsPerMinute": null}"#),
];

/// The most of `tenant`'s jobs that may ever run at once in this run: the highest limit it had
/// (lowering a limit stops nothing that runs).
fn most_running(tenant: &str) -> usize {
    LIMITS
        .iter()
        .filter(|l| l.1 == tenant)
        .filter_map(|l| serde_json::from_str::<Value>(l.2).ok()?["maxRunning"].as_u64())
        .max()
        .unwrap_or(u64::MAX) as usize
}

/// Spread over every lane (noop, flaky, fail: default; sleep: long; aggregate: large; ping:
/// short, drained; the command kinds report, Python, and shell, failing its first attempt), each
/// submitted normal or high, and for one of three tenants or the caller's own, at random.
const MIX: [(&str, &str); 9] = [
    ("noop", "{}"),
    ("ping", "{}"),
    ("sleep", r#"{"ms": 400}"#),
    ("sleep", r#"{"ms": 1500}"#),
    ("flaky", r#"{"failures": 1}"#),
    ("fail", r#"{"message": "chaos"}"#),
    ("aggregate", r#"{"records": 20000}"#),
    ("report", r#"{"campaign": "chaos", "days": 2}"#),
    ("shell", r#"{"seconds": 0, "failAttempts": 1}"#),
];

fn kill(child: &Child, sig: i32) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(pid as i32, sig) };
    }
}

/// One worker slot of lane `pool` (a pool, a command kind): starts a worker (a KEDA Job of that
/// lane's ScaledJob), maybe kills it, and starts the next, until `until`. The short pool's pods
/// drain their queues.
async fn slot(
    stack: Arc<Stack>,
    pool: &'static str,
    seed: u64,
    until: Instant,
    outage: (Instant, Instant),
    tally: Arc<Tally>,
) {
    let mut rng = Rng::new(seed);
    let fast = [
        ("VISIBILITY_TIMEOUT_SECS", "4"),
        ("WAIT_TIME_SECS", "1"),
        ("BACKEND_RETRY_SECS", "1"),
        ("BACKEND_RETRY_MAX_SECS", "2"),
        ("LOG_FORMAT", "text"),
        ("RUST_LOG", "warn"),
    ];
    while Instant::now() < until {
        let now = Instant::now();
        let mut env: Vec<(&str, &str)> = fast.to_vec();
        if now >= outage.0 && now < outage.1 {
            env.push(("TABLE_NAME", "no-such-table"));
        }
        if pool == "short" {
            env.push(("DRAIN", "true"));
        }
        // A worker in eight is started to fail at one of the admission steps: killed after its
        // outcome or after giving its slot back (before admitting the next), or losing the answer of
        // a release or an admission (sent again, same token).
        if rng.below(8) == 0 {
            const STEPS: [&str; 4] = [
                "store.succeed=crash-after",
                "store.release=crash-after",
                "store.release=ambiguous*1",
                "store.admit=ambiguous*1",
            ];
            env.push(("FAULTS", STEPS[rng.below(STEPS.len() as u64) as usize]));
            tally.faulted.fetch_add(1, Ordering::Relaxed);
        }
        let mut cmd = worker_in(&stack, pool, &env);
        cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let Ok(mut child) = cmd.spawn() else { continue };
        tally.runs.fetch_add(1, Ordering::Relaxed);
        match rng.below(10) {
            // One in ten runs is killed (SIGKILL), one in ten stopped (SIGTERM), at a random moment.
            0 | 1 => {
                tokio::time::sleep(Duration::from_millis(100 + rng.below(1500))).await;
                let sig = if rng.below(2) == 0 { libc::SIGKILL } else { libc::SIGTERM };
                kill(&child, sig);
                let counter = if sig == libc::SIGKILL { &tally.sigkill } else { &tally.sigterm };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        let _ = child.wait().await;
    }
}

/// Every job item: (status, attempts, kind, last error, tenant, holds a slot).
async fn items(stack: &Stack) -> HashMap<String, (JobStatus, u32, String, String, String, bool)> {
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let mut out = HashMap::new();
    let mut start = None;
    loop {
        let page = ddb.scan().table_name(&stack.resources.table).set_exclusive_start_key(start).send().await.unwrap();
        for item in page.items() {
            let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let Some(id) = text("pk").strip_prefix("JOB#").map(str::to_owned) else { continue };
            let attempts = item.get("attempts").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
            let status = JobStatus::parse(&text("status")).expect("a known status");
            let slot = text("tenancy").starts_with("SLOT#");
            out.insert(id, (status, attempts, text("kind"), text("lastError"), text("tenant"), slot));
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chaos_every_job_ends_counted_once() {
    let jobs: usize = std::env::var("CHAOS_JOBS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let seed: u64 = std::env::var("CHAOS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let stack = Arc::new(Stack::start().await);
    let api = Api::start(&stack, &testkit::workspace_binary("api-lambda"), &[]).await;
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    // Workload running time grows with the job count; the outage starts early and outlasts the
    // redrive (10 receives) at the workers' 1-2 s deferrals.
    let outage_secs = 25;
    let outage = (started + Duration::from_secs(3), started + Duration::from_secs(3 + outage_secs));
    let run_for = Duration::from_secs(60 + jobs as u64 / 3);
    let tally = Arc::new(Tally::default());
    let slots: Vec<_> = (0..SLOTS)
        .map(|i| {
            tokio::spawn(slot(
                stack.clone(),
                POOL_OF_SLOT[i],
                seed.wrapping_add(i as u64 * 7919),
                started + run_for,
                outage,
                tally.clone(),
            ))
        })
        .collect();
    let mut reconciler = worker(&stack, &[("LOG_FORMAT", "text"), ("SEND_GRACE_SECS", "2")]);
    reconciler
        .args(["reconcile", "--every", "2", "--for", "3600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut reconciler = reconciler.spawn().unwrap();

    for (_, tenant, body) in LIMITS.iter().filter(|l| l.0 == 0) {
        let (status, answer) =
            api.call(reqwest::Method::PUT, &format!("/tenants/{tenant}"), Some(body.to_string()), &[]).await;
        assert!(status.is_success(), "{status} {answer}");
    }
    // Submit: some with an Idempotency-Key (replayed once), some duplicated on the queue.
    let mut submitted = Vec::new();
    let mut tenants = HashMap::new();
    let mut duplicates = 0;
    for i in 0..jobs {
        let (kind, payload) = MIX[rng.below(MIX.len() as u64) as usize];
        let priority = if rng.below(4) == 0 { "high" } else { "normal" };
        let mut body =
            json!({"job": kind, "payload": serde_json::from_str::<Value>(payload).unwrap(), "priority": priority});
        // The API runs without a token here: the caller's own tenant is `local`.
        let tenant = ["local", "acme", "globex", "initech"][rng.below(4) as usize];
        if tenant != "local" {
            body["tenant"] = json!(tenant);
        }
        let body = body.to_string();
        let key = format!("chaos-{seed}-{i}");
        let headers: Vec<(&str, &str)> = if i % 3 == 0 { vec![("Idempotency-Key", key.as_str())] } else { vec![] };
        let (status, answer) = api.call(reqwest::Method::POST, "/jobs", Some(body.clone()), &headers).await;
        assert!(status.is_success(), "{status} {answer}");
        let id = answer["jobId"].as_str().unwrap().to_owned();
        if i % 3 == 0 {
            let (_, replay) = api.call(reqwest::Method::POST, "/jobs", Some(body), &headers).await;
            assert_eq!(replay["jobId"].as_str(), Some(id.as_str()), "a replay is the same job");
        }
        if rng.below(8) == 0 {
            let rec = stack.store.get(&id).await.unwrap().unwrap();
            let msg = rec.message.clone().unwrap();
            stack.queues.for_job(&msg.kind, msg.priority).send(&msg.to_body()).await.unwrap();
            duplicates += 1;
        }
        tenants.insert(id.clone(), tenant);
        submitted.push(id);
    }

    // The limits change mid-run; meanwhile a watcher samples each limited tenant's running jobs.
    let api = Arc::new(api);
    let changes = {
        let api = api.clone();
        tokio::spawn(async move {
            for (at, tenant, body) in LIMITS.iter().filter(|l| l.0 > 0) {
                tokio::time::sleep_until((started + Duration::from_secs(*at)).into()).await;
                let path = format!("/tenants/{tenant}");
                let (status, answer) = api.call(reqwest::Method::PUT, &path, Some(body.to_string()), &[]).await;
                assert!(status.is_success(), "{status} {answer}");
            }
        })
    };
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (stack, watching) = (stack.clone(), watching.clone());
        tokio::spawn(async move {
            // The most of a tenant's jobs seen RUNNING at once.
            let mut peak: HashMap<String, usize> = HashMap::new();
            while watching.load(Ordering::Relaxed) {
                let mut running: HashMap<String, usize> = HashMap::new();
                for (_, j) in items(&stack).await {
                    if j.0 == JobStatus::Running {
                        *running.entry(j.4.clone()).or_default() += 1;
                    }
                }
                for (tenant, n) in running {
                    let p = peak.entry(tenant).or_default();
                    *p = (*p).max(n);
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            peak
        })
    };
    // Cancel one job in ten at a random moment, through the API, while the chaos goes on.
    let mut picked: Vec<(String, u64)> = Vec::new();
    for id in &submitted {
        if rng.below(10) == 0 {
            picked.push((id.clone(), rng.below(4000)));
        }
    }
    let cancels = {
        let api = api.clone();
        tokio::spawn(async move {
            let mut asked = std::collections::HashSet::new();
            let started = Instant::now();
            picked.sort_by_key(|p| p.1);
            for (id, at_ms) in picked {
                tokio::time::sleep_until((started + Duration::from_millis(at_ms)).into()).await;
                let (status, answer) = api.call(reqwest::Method::POST, &format!("/jobs/{id}/cancel"), None, &[]).await;
                match status.as_u16() {
                    200 | 202 => {
                        asked.insert(id);
                    }
                    409 => {} // it had ended
                    other => panic!("cancel {id}: {other} {answer}"),
                }
            }
            asked
        })
    };

    // Settle: every submitted job ended, nothing left on the queue.
    let deadline = started + run_for;
    let settled_at = loop {
        let all = items(&stack).await;
        let open = submitted.iter().filter(|id| all.get(*id).is_none_or(|j| !j.0.is_terminal())).count();
        // An ended job's slot is given back by its worker or the reconciler's next pass.
        let holding = all.values().filter(|j| j.5).count();
        let depth = stack.queue.depth().await.unwrap();
        if open == 0 && holding == 0 && depth.visible + depth.in_flight + depth.delayed == 0 {
            break Some(started.elapsed());
        }
        if Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Stop the pool (SIGTERM to anything still running is part of the chaos) and the reconciler.
    for s in slots {
        s.abort();
    }
    kill(&reconciler, libc::SIGTERM);
    let _ = reconciler.wait().await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let asked = cancels.await.expect("the cancel task");
    changes.await.expect("the limit changes");
    watching.store(false, Ordering::Relaxed);
    let peak = watcher.await.expect("the watcher");
    let all = items(&stack).await;
    let stats = stack.store.stats().await.unwrap();
    let lost = submitted.iter().filter(|id| !all.contains_key(*id)).count();
    let stuck = all.values().filter(|j| !j.0.is_terminal()).count();
    let count = |s: JobStatus| all.values().filter(|j| j.0 == s).count() as u64;
    let retries: u64 = all.values().map(|j| u64::from(j.1.saturating_sub(1))).sum();
    // The run is shorter than the hour the buckets are read over: they hold every outcome event.
    let (events, _) = common::bucket_totals(&stack).await;
    let bucket_miscounts = events.0.abs_diff(count(JobStatus::Succeeded))
        + events.1.abs_diff(count(JobStatus::Failed))
        + events.2.abs_diff(retries)
        + events.3.abs_diff(count(JobStatus::Cancelled));
    let double_counted = bucket_miscounts
        + stats.succeeded.abs_diff(count(JobStatus::Succeeded))
        + stats.failed.abs_diff(count(JobStatus::Failed))
        + stats.submitted.abs_diff(all.len() as u64)
        + stats.retries.abs_diff(retries)
        + stats.cancelled.abs_diff(count(JobStatus::Cancelled));
    // Whatever happened to it, a job stays its tenant's.
    let mistenanted: Vec<_> =
        all.iter().filter(|(id, j)| tenants.get(*id).is_some_and(|t| j.4 != *t)).map(|(id, j)| (id, &j.4)).collect();
    // A tenant's slots, as its item counts them, equal its jobs that hold one (none, once all
    // ended); and no limited tenant ever ran more at once than the highest limit it had.
    let mut slots = Vec::new();
    for tenant in ["acme", "globex", "initech", "local"] {
        let item = stack.store.tenant(&jobs_core::Tenant::parse(tenant).unwrap()).await.unwrap();
        let holders = all.values().filter(|j| j.4 == tenant && j.5).count();
        slots.push((tenant, item.usage.active, holders));
    }
    let leaked: Vec<_> =
        slots.iter().filter(|(_, active, holders)| *active as usize != *holders || *active != 0).collect();
    let over: Vec<_> = ["acme", "globex"]
        .iter()
        .filter_map(|t| peak.get(*t).filter(|p| **p > most_running(t)).map(|p| (t, *p, most_running(t))))
        .collect();
    // Only a cancel request ends a job CANCELLED.
    let cancelled_unasked = all.iter().filter(|(id, j)| j.0 == JobStatus::Cancelled && !asked.contains(*id)).count();
    // G3: a job that does not fail by itself ends FAILED only when its runs kept being killed.
    let wrongly_failed: Vec<_> = all
        .iter()
        .filter(|(_, j)| j.0 == JobStatus::Failed && j.2 != "fail")
        .filter(|(_, j)| !(j.3.contains("abandoned") || j.3.contains("interrupted")))
        .map(|(id, j)| format!("{id}: {} ({})", j.2, j.3))
        .collect();
    println!(
        "chaos: seed {seed}, jobs {jobs}, worker runs {}, kills {} (SIGKILL {}, SIGTERM {}), duplicates {duplicates}, \
         outage {outage_secs} s, cancels {} ({} CANCELLED), admission faults {}, peak running acme {} globex {}, \
         lost {lost}, double-counted {double_counted}, stuck {stuck}, leaked slots {}, settled in {}",
        tally.runs.load(Ordering::Relaxed),
        tally.sigkill.load(Ordering::Relaxed) + tally.sigterm.load(Ordering::Relaxed),
        tally.sigkill.load(Ordering::Relaxed),
        tally.sigterm.load(Ordering::Relaxed),
        asked.len(),
        count(JobStatus::Cancelled),
        tally.faulted.load(Ordering::Relaxed),
        peak.get("acme").copied().unwrap_or(0),
        peak.get("globex").copied().unwrap_or(0),
        leaked.len(),
        settled_at.map_or("never".into(), |d| format!("{:.1} s", d.as_secs_f64())),
    );
    assert_eq!((lost, stuck, double_counted), (0, 0, 0), "stats {stats:?}; bucket events {events:?}; seed {seed}");
    assert!(settled_at.is_some(), "not settled within {run_for:?}; seed {seed}");
    assert!(wrongly_failed.is_empty(), "infrastructure trouble failed good jobs: {wrongly_failed:?}");
    assert_eq!(cancelled_unasked, 0, "jobs CANCELLED without a request");
    assert!(mistenanted.is_empty(), "jobs of another tenant than submitted: {mistenanted:?}");
    assert!(leaked.is_empty(), "slots counted but not held, or held after the end: {slots:?}");
    assert!(over.is_empty(), "tenants ran more jobs at once than their limits: {over:?}");
    assert_eq!(all.len(), jobs, "one item per accepted job (the firing-free mix creates no others)");
}
