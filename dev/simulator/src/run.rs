//! One seed's run: the world, then an active phase (API calls, pods started as messages wait,
//! the reconciler's passes, crashes, stops, lost answers, throttling, an outage in some seeds),
//! then a settling phase without faults until every job has ended and every queue is empty,
//! then the invariants. All on one thread with the clock paused: the seed decides everything.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use data_processor::config::{Command, Config};
use jobs_runtime::Shutdown;
use jobs_sim::rng::Rng;
use tokio::time::Instant;

use crate::api::{self, Answers, Request};
use crate::faults::{Faults, Injected, Rates};
use crate::invariants::{self, Checked, Watch};
use crate::pods::{Missing, PodLog, Pods, Rollout};
use crate::schedules::Made;
use crate::tenants::Limits;
use crate::violation::Violation;
use crate::world::{RETENTION, TABLE, World};

/// The command kind of the run's jobs (a simulated child), and its lane's start deadline.
const SHELL: &str = "shell";
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The shape of a run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Jobs the API is asked for.
    pub jobs: u64,
    /// How long the active phase lasts (simulated).
    pub active: Duration,
    /// The longest the settling phase may take (simulated) before the run counts as stuck.
    pub settle_max: Duration,
    pub rates: Rates,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            jobs: 30,
            active: Duration::from_secs(5 * 60),
            settle_max: Duration::from_secs(6 * 3600),
            rates: Rates { fail_in: 20, lose_in: 30, max_delay_ms: 40 },
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub seed: u64,
    /// Events: API calls, pods started, pods killed or stopped, reconciler passes and kills.
    pub steps: u64,
    pub accepted: usize,
    pub pods: PodLog,
    pub reconciler_passes: u64,
    pub injected: Injected,
    pub outage: bool,
    /// Messages SQS delivered twice.
    pub duplicates: u64,
    /// Leases taken over from a worker that had stopped renewing (all within the rule).
    pub takeovers: u64,
    /// Ended jobs the TTL deleted.
    pub expired: usize,
    /// Poison submissions the API refused.
    pub refused: usize,
    /// Requests with an `Idempotency-Key`.
    pub keyed: usize,
    /// alice's `maxRunning` at the end, and the most of her jobs RUNNING at once.
    pub limit: Option<u64>,
    pub most_running: u64,
    /// Jobs the earlier API recorded with a message SQS refuses.
    pub unsendable: usize,
    /// Schedule firings delivered (duplicates included), and schedules that forbid overlap.
    pub firings: u64,
    pub forbid: usize,
    /// Submissions of `high` priority.
    pub high: u64,
    /// Accepted jobs of the `shell` command kind (simulated children).
    pub commands: usize,
    /// How late a write reached the table's indexes.
    pub index_lag_ms: u64,
    /// The lane whose image was missing for a while.
    pub missing_image: Option<&'static str>,
    /// Simulated time from the world's start to the checks.
    pub simulated: Duration,
    pub checked: Checked,
    /// A digest of the table's items at the end: the same seed, the same digest.
    pub digest: u64,
}

/// Runs seed `seed` on a fresh paused runtime. `Err`: the invariant it broke, and the run so far.
pub fn run(seed: u64, options: &Options) -> Result<Summary, Box<(Violation, Summary)>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a single-threaded runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, simulate(seed, options))
}

async fn simulate(seed: u64, options: &Options) -> Result<Summary, Box<(Violation, Summary)>> {
    let world = World::new(seed).await;
    let faults = Faults::new(seed, options.rates);
    let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut pods = Pods::new(seed);
    let mut summary = Summary { seed, ..Summary::default() };
    let mut answers = Answers::default();
    // One seed in four has a three-minute outage of both services.
    let active_secs = options.active.as_secs().max(1);
    let outage = (rng.below(4) == 0).then(|| rng.below(active_secs));
    summary.outage = outage.is_some();
    // One seed in two rolls the workers out during its active phase: until it is done, some pods
    // are of the earlier build, which does not know `flaky`.
    if rng.below(2) == 0 {
        let start = Instant::now() + Duration::from_secs(rng.below(active_secs / 2));
        pods.rollout = Some(Rollout { start, over: Duration::from_secs(60 + rng.below(180)) });
    }
    // One seed in two: an API of the earlier build records a job whose message SQS refuses.
    let mut earlier_api = (rng.below(2) == 0).then(|| rng.below(active_secs));
    let mut reconciler = Reconciling::default();
    let mut watch = Watch::default();
    // One seed in two has schedules: one or two firing every minute, each `forbid` or `allow`.
    let mut schedules = Made::default();
    if rng.below(2) == 0 {
        for i in 0..1 + rng.below(2) {
            let forbid = rng.below(3) > 0;
            summary.steps +=
                1 + schedules.create(&world, &faults, &format!("every-minute-{i}"), forbid, &mut rng).await;
        }
        watch.forbid = schedules.forbid.clone();
    }
    // One seed in two limits alice's jobs (1 or 2 at once), and may raise the limit mid-run.
    let mut limits = Limits::default();
    let mut raise_at = None;
    if rng.below(2) == 0 {
        limits.want(1 + rng.below(2));
        raise_at = (rng.below(2) == 0).then(|| rng.below(active_secs));
    }
    // One seed in four: the shell kind's image is missing for 17 to 30 minutes, so none of its
    // pods start. The reconciler looks at a waiting job once it is overdue (STALE_AFTER_SECS,
    // 15 minutes), then every minute: past its lane's start deadline it ends it FAILED, saying so.
    let mut draws = Rng::new(seed ^ 0x1_3A6E);
    if draws.below(4) == 0 {
        let from = Instant::now() + Duration::from_secs(draws.below(active_secs));
        let lane = jobs_core::catalog::lane_of(SHELL);
        let until = from + Duration::from_secs(1_020 + draws.below(781));
        pods.missing = Some(Missing { lane, from, until });
        watch.missing_image = Some((lane, jobs_sim::clock::epoch() + (until - world.since)));
        summary.missing_image = Some(lane);
    }
    // DynamoDB deletes an expired item some time after its TTL: up to 5 minutes here.
    let ttl_lag = Duration::from_secs(rng.below(301));
    // A write reaches the table's indexes (the open jobs', the due resends', a schedule's) up to
    // 3 s late: the reconciler and the API's lists read them eventually consistent.
    summary.index_lag_ms = rng.below(3_001);
    world.dynamo.world().set_index_lag(summary.index_lag_ms);
    let (mut submitted, start) = (0, Instant::now());
    while start.elapsed() < options.active {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let second = start.elapsed().as_secs();
        faults.set_outage(outage.is_some_and(|at| (at..at + 180).contains(&second)));
        if raise_at.is_some_and(|at| second >= at) {
            raise_at = None;
            limits.want(limits.max_running.unwrap_or(0) + 1 + rng.below(2));
        }
        summary.steps += limits.apply(&world, &faults).await;
        // About `jobs` submissions spread over the active phase, 1 time in 4 three at once (so a
        // tenant's limit binds).
        let burst = if rng.below(4) == 0 { 3 } else { 1 };
        let due = rng.below((active_secs / options.jobs.max(1)).max(1)) == 0;
        for _ in 0..if due { burst } else { 0 } {
            if submitted >= options.jobs {
                break;
            }
            submitted += 1;
            summary.steps += 1;
            let request = Request::draw(submitted, &mut rng);
            summary.high += u64::from(request.priority == jobs_core::pools::Priority::High);
            // 1 keyed request in 4 is sent by the other caller too, with the same key.
            let other = (request.key.is_some() && rng.below(4) == 0).then(|| request.from_other_caller());
            for request in std::iter::once(request).chain(other) {
                match answers.send(&world, &faults, &request).await {
                    Ok(failed) => summary.steps += failed,
                    Err(v) => return Err(Box::new((v, summary))),
                }
            }
        }
        // Its client tries again a second later when the call fails.
        if earlier_api.is_some_and(|at| start.elapsed().as_secs() >= at) {
            summary.steps += 1;
            if let Some(a) = api::submit_unchecked(&world.view(&faults, 0), summary.steps).await {
                earlier_api = None;
                answers.accepted.push(a);
                summary.unsendable += 1;
            }
        }
        if !answers.accepted.is_empty() && rng.below(60) == 0 {
            let i = rng.below(answers.accepted.len() as u64) as usize;
            answers.accepted[i].cancel_sent = true;
            summary.steps += 1;
            api::cancel(&world.view(&faults, 0), &answers.accepted[i].job_id).await;
        }
        // SQS delivers at least once: now and then a message is handed out twice.
        if rng.below(20) == 0 && duplicate(&world, &mut rng) {
            summary.duplicates += 1;
            summary.steps += 1;
        }
        summary.steps += schedules.deliver(&world, &mut rng);
        summary.steps += pods.scale(&world, &faults).await as u64;
        summary.steps += reconciler.tick(&world, &faults, &mut rng, true);
        world.expire(ttl_lag);
        if let Err(v) = watch.look(&world).and_then(|()| limits.check(&world, false)) {
            return Err(Box::new((v, summary)));
        }
    }
    // The client deletes its schedules as faults go on (but no outage).
    faults.set_outage(false);
    match schedules.delete_all(&world, &faults).await {
        Ok(failed) => summary.steps += failed,
        Err(v) => return Err(Box::new((v, summary))),
    }
    faults.stop();
    pods.chaos = false;
    let settle_by = Instant::now() + options.settle_max;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        // Copies of firings the Scheduler delivers twice may still come.
        schedules.deliver(&world, &mut rng);
        pods.scale(&world, &faults).await;
        summary.steps += reconciler.tick(&world, &faults, &mut rng, false);
        world.expire(ttl_lag);
        if let Err(v) = watch.look(&world).and_then(|()| limits.check(&world, false)) {
            return Err(Box::new((v, summary)));
        }
        let settled =
            pods.running() == 0 && schedules.pending() == 0 && limits.released(&world) && invariants::settled(&world);
        if settled || Instant::now() >= settle_by {
            break;
        }
    }
    summary.accepted = answers.accepted.len();
    summary.refused = answers.refused.len();
    summary.commands = answers.accepted.iter().filter(|a| a.kind == "shell").count();
    summary.keyed = answers.keys.len();
    summary.firings = schedules.delivered;
    summary.forbid = schedules.forbid.len();
    summary.pods = pods.log.borrow().clone();
    summary.pods.crashed_at.extend(reconciler.kills.borrow().iter().map(|p| format!("reconciler:{p}")));
    summary.reconciler_passes = reconciler.passes;
    summary.injected = faults.injected();
    summary.simulated = world.since.elapsed();
    summary.takeovers = watch.takeovers;
    summary.expired = watch.expired.len();
    summary.digest = world.digest();
    summary.limit = limits.max_running;
    summary.most_running = watch.most_running;
    if let Err(v) = limits.check(&world, true) {
        return Err(Box::new((v, summary)));
    }
    match invariants::check(&world, &answers, &watch).await {
        Ok(checked) => {
            summary.checked = checked;
            Ok(summary)
        }
        Err(v) => Err(Box::new((v, summary))),
    }
}

/// Makes SQS deliver a message of a job queue twice (a second copy, as at-least-once delivery
/// may), most often one a worker holds (its job running); whether there was one to duplicate.
fn duplicate(world: &World, rng: &mut Rng) -> bool {
    let mut sqs = world.sqs.world();
    let urls: Vec<String> = sqs.urls().into_iter().filter(|u| !u.ends_with("-dlq")).collect();
    let held: Vec<(String, String)> =
        urls.iter().flat_map(|u| sqs.in_flight(u).into_iter().map(move |id| (u.clone(), id))).collect();
    let any: Vec<(String, String)> =
        urls.iter().flat_map(|u| sqs.messages(u).into_iter().map(move |(id, _, _)| (u.clone(), id))).collect();
    let pool = if !held.is_empty() && rng.below(3) > 0 { held } else { any };
    if pool.is_empty() {
        return false;
    }
    let (url, id) = &pool[rng.below(pool.len() as u64) as usize];
    sqs.duplicate(url, id)
}

/// The reconciler's CronJob (keda/cronjob.yaml: a pod a minute passing every 10 s): a pass every
/// 10 s, each of which the run may kill.
#[derive(Default)]
struct Reconciling {
    next: Option<Instant>,
    passes: u64,
    /// Where each killed pass was.
    kills: Rc<RefCell<Vec<String>>>,
}

impl Reconciling {
    /// Starts a pass when one is due; returns the events it caused.
    fn tick(&mut self, world: &World, faults: &Faults, rng: &mut Rng, chaos: bool) -> u64 {
        let now = Instant::now();
        if self.next.is_some_and(|next| now < next) {
            return 0;
        }
        self.next = Some(now + Duration::from_secs(10));
        self.passes += 1;
        let view = world.view(faults, rng.below(2_001) as i64 - 1_000);
        let args = [
            "data-processor".to_owned(),
            format!("--queue-url={}", world.queue_url),
            format!("--dlq-url={}", view.queues.names().dlq_url(jobs_core::pools::DEFAULT_POOL)),
            format!("--table-name={TABLE}"),
            "--metrics=off".to_owned(),
            "reconcile".to_owned(),
        ];
        let config = Config::try_parse_from(args).expect("the simulated reconciler's configuration");
        let Some(Command::Reconcile(reconcile)) = &config.command else { unreachable!("parsed as reconcile") };
        let (_trigger, shutdown) = Shutdown::manual();
        let mut reconciler =
            data_processor::reconciler(&config, reconcile, view.sqs.clone(), view.store.clone(), shutdown)
                .expect("the simulated reconciler");
        reconciler.store = reconciler.store.with_retention(RETENTION);
        // The shell kind's lane has a start deadline (a command kind's `startDeadlineMinutes`).
        reconciler.start_deadlines.insert(jobs_core::catalog::lane_of(SHELL), Some(START_DEADLINE));
        let pass = tokio::task::spawn_local(async move {
            let _ = reconciler.pass().await;
        });
        if !(chaos && rng.below(20) == 0) {
            return 1;
        }
        let (abort, after, kills) = (pass.abort_handle(), Duration::from_millis(rng.below(5_000)), self.kills.clone());
        tokio::task::spawn_local(async move {
            tokio::time::sleep(after).await;
            if !abort.is_finished() {
                abort.abort();
                kills.borrow_mut().push(view.ops.point());
            }
        });
        2
    }
}
