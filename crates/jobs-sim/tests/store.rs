//! The real `JobStore` (its condition expressions, transactions, tokens and index queries) over
//! the in-memory DynamoDB, with a seeded plan failing requests and losing answers: a tenant's
//! jobs are submitted as the API seats them, run and ended as a worker records them, their slots
//! given back and the next admitted, and swept as the reconciler does. After every step the
//! tenant's slots equal its jobs that hold one and never exceed its limit; at the end every job
//! has SUCCEEDED, no slot is held and the counters equal the items.

use std::sync::Arc;

use jobs_aws::Conditional;
use jobs_aws::JobStore;
use jobs_aws::dynamo::Dynamo as _;
use jobs_aws::faults::{Fault, Faulty};
use jobs_aws::resources::{TABLE_KEY, TENANCY_ATTRIBUTE};
use jobs_aws::store::{Seat, Submitted, tenants};
use jobs_aws::{ErrorKind, provision};
use jobs_core::state::{self, OnReceive};
use jobs_core::tenants::Settings;
use jobs_core::{JobMessage, JobStatus, Lease, RetryPolicy, Tenant};
use jobs_sim::clock::SimClock;
use jobs_sim::dynamo::{Dynamo, TableDef};
use jobs_sim::port::SimDynamo;
use jobs_sim::rng::{Rng, SeededRandom};

const TABLE: &str = "jobs";
const MAX_RUNNING: u32 = 3;

fn world() -> SimDynamo {
    let mut d = Dynamo::new();
    d.create_table(TableDef::from_create(&provision::table_definition(TABLE)).expect("the table's definition"));
    SimDynamo::new(d)
}

/// Submits one job as the API does: read the tenant, decide its seat, record it (again if the
/// tenant's item changed under it), then admit if it waits. `None`: a request failed (the caller
/// got a 5xx; the job may or may not have been recorded).
async fn submit(store: &JobStore, tenant: &Tenant, id: &str) -> Option<String> {
    let mut msg = JobMessage::new_api("noop", serde_json::Value::Null, store.now());
    msg.job_id = id.to_owned();
    msg.tenant = Some(tenant.clone());
    for tries in 1..=3 {
        let seat = store.seat(tenant, tries == 3).await.ok()?;
        match store.submit(&msg, "sim", None, &seat).await.ok()?.applied()? {
            Submitted::Created => {
                if matches!(seat, Seat::Wait { .. }) {
                    let _ = store.admit_waiting(tenant, 5, store.now()).await;
                }
                return Some(msg.job_id);
            }
            Submitted::TenantChanged => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    unreachable!("the third try waits, which always commits or fails")
}

/// A write as a worker records it: the same token until it has a definite answer; after a lost
/// answer, a failed condition is settled by reading back whose write is there.
async fn record(store: &JobStore, job_id: &str, tenant: &Tenant, tr: &state::Transition) -> Result<bool, ()> {
    let token = store.token();
    let mut maybe = false;
    for _ in 0..4 {
        match store.apply(job_id, Some("noop"), Some(tenant), None, tr, &token).await {
            Ok(Conditional::Applied(_)) => return Ok(true),
            Ok(Conditional::Lost) if maybe => {
                return store.committed(job_id, &token).await.map_err(|_| ());
            }
            Ok(Conditional::Lost) => return Ok(false),
            Err(e) => maybe |= e.may_have_taken_effect(),
        }
    }
    Err(())
}

/// A worker's run of one job: claim, succeed, give the slot back, admit the next. Any failed
/// request stops it where it is (a crash); `false` then.
async fn run(store: &JobStore, job_id: &str, tenant: &Tenant, owner: &str) -> bool {
    let Ok(Some(record_now)) = store.get(job_id).await else { return false };
    let now = store.now();
    let lease = Lease { owner: owner.to_owned(), until: now + chrono::Duration::seconds(60) };
    let policy = RetryPolicy::default();
    let attempt =
        match state::on_receive(Some(&record_now.state), false, &lease, now, std::time::Duration::ZERO, &policy) {
            OnReceive::Start { attempt, mut transition } => {
                transition.change.runner = None;
                if record(store, job_id, tenant, &transition).await != Ok(true) {
                    return false;
                }
                attempt
            }
            OnReceive::Resume { attempt } => attempt,
            _ => return false,
        };
    let done = state::succeed(attempt, owner, serde_json::json!({}), store.now());
    if record(store, job_id, tenant, &done).await != Ok(true) {
        return false;
    }
    if store.release(job_id, tenant).await.is_err() {
        return false;
    }
    store.admit_waiting(tenant, 2, store.now()).await.is_ok()
}

/// What the reconciler does for a tenant: frees the slots of the ended jobs the `tenancy` index
/// lists as holders (the index lags: a job it lists may have given its slot back already), then
/// admits the waiting.
async fn sweep(store: &JobStore, tenant: &Tenant) {
    if let Ok(holders) = store.tenancy(&tenants::slots_partition(tenant), 100).await {
        for entry in holders {
            if entry.status.is_some_and(JobStatus::is_terminal) {
                let _ = store.release(&entry.job_id, tenant).await;
            }
        }
    }
    let _ = store.admit_waiting(tenant, 10, store.now()).await;
}

/// The tenant's slots as its item counts them, against the jobs holding one.
fn check_slots(world: &SimDynamo, seed: u64, step: usize) {
    let items = world.world().items(TABLE);
    let text = |item: &jobs_sim::dynamo::Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let holders = items
        .iter()
        .filter(|i| text(i, TENANCY_ATTRIBUTE).is_some_and(|t| t == tenants::slots_partition(&tenant())))
        .count();
    let active = items
        .iter()
        .find(|i| text(i, TABLE_KEY) == Some(tenants::tenant_key(&tenant())))
        .and_then(|i| i.get(tenants::attr::ACTIVE))
        .and_then(|v| v.as_n().ok())
        .map_or(0, |n| n.parse::<usize>().unwrap());
    assert_eq!(active, holders, "seed {seed} step {step}: the tenant's active count is its slot holders");
    assert!(active <= MAX_RUNNING as usize, "seed {seed} step {step}: {active} slots over maxRunning {MAX_RUNNING}");
}

fn tenant() -> Tenant {
    Tenant::parse("acme").unwrap()
}

/// What a run leaves: the table's items, in key order.
fn snapshot(world: &SimDynamo) -> Vec<String> {
    world.world().snapshot(TABLE)
}

/// One seed's run: the faults injected (failed, lost answers) and what it left.
async fn simulate(seed: u64) -> (u64, u64, Vec<String>) {
    let world = world();
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut faults_rng = Rng::new(seed ^ 0xDEAD_BEEF);
    let faulty = Arc::new(Faulty::new(
        world.clone(),
        Box::new(move |_op, _n| match faults_rng.below(20) {
            0 => Fault::LoseAnswer,
            1 => Fault::Fail(ErrorKind::Throttled),
            2 => Fault::Fail(ErrorKind::Conflict),
            // Requests take 0-40 ms: concurrent actors' reads and writes interleave.
            _ => Fault::Delay(std::time::Duration::from_millis(faults_rng.below(5) * 10)),
        }),
    ));
    // Steps are 100 ms apart, requests take up to 40 ms; a write reaches the indexes 0 to 1.9 s
    // later.
    world.world().set_index_lag(rng.below(20) * 100);
    // Every timestamp comes from the simulated clock: a seed writes the same times on every run.
    let clock: jobs_core::clock::SharedClock = Arc::new(SimClock::new(tokio::time::Instant::now(), 0));
    // And every write token (which picks the counter shards) from the seed.
    let random: jobs_core::random::SharedRandom = Arc::new(SeededRandom::new(seed));
    let store = JobStore::over(faulty.clone(), TABLE).with_clock(clock.clone()).with_random(random.clone());
    let clean = JobStore::over(Arc::new(world.clone()), TABLE).with_clock(clock).with_random(random);
    let tenant = tenant();
    let settings = Settings { max_running: Some(MAX_RUNNING), ..Settings::default() };
    clean.set_tenant(&tenant, &settings, "sim").await.expect("settings");
    let mut ids: Vec<String> = Vec::new();
    for step in 0..60 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // Up to four actors at once: API calls submitting, workers running jobs, a reconciler.
        let mut actors = tokio::task::JoinSet::new();
        for _ in 0..1 + rng.below(4) {
            let (store, tenant) = (store.clone(), tenant.clone());
            match rng.below(10) {
                0..=3 => {
                    let id = format!("job-{step:03}-{}", actors.len());
                    actors.spawn(async move {
                        submit(&store, &tenant, &id).await;
                        Some(id)
                    });
                }
                4..=6 if !ids.is_empty() => {
                    let id = ids[rng.below(ids.len() as u64) as usize].clone();
                    let owner = format!("w{}", rng.below(3));
                    actors.spawn(async move {
                        run(&store, &id, &tenant, &owner).await;
                        None
                    });
                }
                _ => {
                    actors.spawn(async move {
                        sweep(&store, &tenant).await;
                        None
                    });
                }
            }
        }
        while let Some(done) = actors.join_next().await {
            // A submit whose answer failed may still have recorded its job: keep what exists.
            if let Some(id) = done.expect("an actor panicked")
                && clean.get(&id).await.unwrap().is_some()
            {
                ids.push(id);
            }
        }
        check_slots(&world, seed, step);
    }
    // Faults stop; workers and the reconciler finish what is left, 2 s apart (longer than the
    // indexes' lag).
    for _ in 0..ids.len() + 5 {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        for id in &ids {
            if let Ok(Some(r)) = clean.get(id).await
                && !r.state.status.is_terminal()
                && r.state.status != JobStatus::Waiting
            {
                run(&clean, id, &tenant, "closer").await;
            }
        }
        sweep(&clean, &tenant).await;
    }
    check_slots(&world, seed, usize::MAX);
    for id in &ids {
        let r = clean.get(id).await.unwrap().unwrap();
        assert_eq!((r.state.status, r.state.slot), (JobStatus::Succeeded, false), "seed {seed}: {id}");
    }
    let stats = clean.stats().await.unwrap();
    assert_eq!(
        (stats.submitted, stats.succeeded),
        (ids.len() as u64, ids.len() as u64),
        "seed {seed}: counters = items"
    );
    let injected = faulty.injected();
    let (failed, lost) = (injected.failed, injected.lost);
    (failed, lost, snapshot(&world))
}

#[tokio::test(start_paused = true)]
async fn the_real_store_keeps_a_tenants_slots_exact_under_failures_and_lost_answers() {
    let (mut failed, mut lost) = (0, 0);
    let seeds: u64 = std::env::var("SIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    for seed in 1..=seeds {
        let (f, l, _) = simulate(seed).await;
        failed += f;
        lost += l;
    }
    assert!(failed > 100 && lost > 50, "the plan injected faults: {failed} failed, {lost} lost answers");
}

#[tokio::test(start_paused = true)]
async fn a_seed_replays_exactly() {
    let (first, again) = (simulate(7).await, simulate(7).await);
    assert!(first.2.len() > 10, "the run wrote jobs");
    assert_eq!(first, again, "the same seed: the same faults, the same items, times, tokens and shards");
    assert_ne!(first.2, simulate(8).await.2, "another seed: another run");
}

#[tokio::test]
async fn the_port_answers_as_the_world_does() {
    let world = world();
    let out = world
        .get_item(
            "get",
            aws_sdk_dynamodb::operation::get_item::GetItemInput::builder()
                .table_name(TABLE)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("JOB#none".into()))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    assert!(out.item.is_none());
}
