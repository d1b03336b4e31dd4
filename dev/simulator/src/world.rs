//! The simulated AWS account, provisioned as production provisions it (the table from
//! `provision::table_definition`, every lane's queues by `provision::ensure_queues`), and each
//! simulated process's view of it: a store and pool queues over its own faulty ports, with its
//! own clock skew, sharing the world's seeded randomness.

use std::sync::Arc;
use std::time::Duration;

use api_lambda::caller::Tokens;
use api_lambda::metrics::Metrics;
use api_lambda::state::{AppState, Inner};
use jobs_aws::faults::Faulty;
use jobs_aws::resources::TTL_ATTRIBUTE;
use jobs_aws::sqs::Sqs;
use jobs_aws::{JobQueue, JobStore, PoolQueues, Scheduler, provision};
use jobs_core::clock::SharedClock;
use jobs_core::random::SharedRandom;
use jobs_sim::clock::SimClock;
use jobs_sim::dynamo::{Dynamo, TableDef};
use jobs_sim::port::{SimDynamo, SimScheduler, SimSqs};
use jobs_sim::rng::SeededRandom;
use tokio::time::Instant;

use crate::faults::{Faults, OpLog};

pub const TABLE: &str = "jobs";
/// The default pool's normal queue's name: every other queue is named after it.
pub const QUEUE: &str = "jobs";

/// How long an ended job stays in the table (`JOB_RETENTION_DAYS`, here minutes): short, so the
/// TTL deletes jobs while copies of their messages may still come, and would delete an open one.
pub const RETENTION: Duration = Duration::from_secs(120);

/// The world every process of a run shares.
pub struct World {
    pub dynamo: SimDynamo,
    pub sqs: SimSqs,
    /// When the world began (its clock's zero).
    pub since: Instant,
    /// The default pool's normal queue (`QUEUE_URL`), and its ARN (the API's `QUEUE_ARN`).
    pub queue_url: String,
    pub queue_arn: String,
    /// EventBridge Scheduler's schedule group.
    pub scheduler: SimScheduler,
    /// Every write token and shard choice of every process, from the seed.
    random: SharedRandom,
}

/// One process's view of the world.
#[derive(Clone)]
pub struct View {
    pub store: JobStore,
    /// Its SQS port (its queues' requests go through it).
    pub sqs: Arc<dyn Sqs>,
    pub queues: PoolQueues,
    /// Its port to the world's Scheduler (the API's schedule requests go through it).
    pub scheduler: Arc<dyn Scheduler>,
    /// What its requests were, in order (the crash point of a killed process is its last).
    pub ops: OpLog,
}

impl World {
    pub async fn new(seed: u64) -> World {
        let mut dynamo = Dynamo::new();
        let def = TableDef::from_create(&provision::table_definition(TABLE)).expect("the table's definition");
        dynamo.create_table(def);
        dynamo.journal();
        let (dynamo, sqs) = (SimDynamo::new(dynamo), SimSqs::new(jobs_sim::sqs::Sqs::new()));
        let queues = provision::ensure_queues(&sqs, QUEUE).await.expect("the world's queues");
        let queue_arn = JobQueue::over(Arc::new(sqs.clone()), &queues[0], None).arn().await.expect("its ARN");
        World {
            dynamo,
            sqs,
            since: Instant::now(),
            queue_url: queues[0].clone(),
            queue_arn,
            scheduler: SimScheduler::new(jobs_sim::scheduler::Scheduler::new()),
            random: Arc::new(SeededRandom::new(seed ^ 0x5EED)),
        }
    }

    /// A process's view: its requests go through `faults` (recorded in its op log), its clock is
    /// `skew_ms` off the world's.
    pub fn view(&self, faults: &Faults, skew_ms: i64) -> View {
        let ops = OpLog::default();
        let clock: SharedClock = Arc::new(SimClock::new(self.since, skew_ms));
        let dynamo = Arc::new(Faulty::new(self.dynamo.clone(), faults.plan(ops.clone())));
        let sqs: Arc<dyn Sqs> = Arc::new(Faulty::new(self.sqs.clone(), faults.plan(ops.clone())));
        let store =
            JobStore::over(dynamo, TABLE).with_clock(clock).with_random(self.random.clone()).with_retention(RETENTION);
        let queues =
            PoolQueues::over(sqs.clone(), &self.queue_url, jobs_core::pools::pools()).expect("the queues' names");
        let scheduler = Arc::new(Faulty::new(self.scheduler.clone(), faults.plan(ops.clone())));
        View { store, sqs, queues, scheduler, ops }
    }

    /// A digest (FNV-1a) of every item of the table, in key order: two runs of a seed must agree.
    pub fn digest(&self) -> u64 {
        let items = self.dynamo.world().snapshot(TABLE);
        items
            .iter()
            .flat_map(|i| i.bytes())
            .fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
    }

    /// The API's state over process view `view`: its store, queues and Scheduler (the route
    /// handlers are called with it as the router calls them).
    pub fn api(&self, view: &View) -> AppState {
        AppState(Arc::new(Inner {
            store: view.store.clone(),
            queues: view.queues.clone(),
            queue_arn: self.queue_arn.clone(),
            schedules: view.scheduler.clone(),
            tokens: Tokens::new(None, None),
            metrics: Metrics::default(),
            logs_dir: None,
        }))
    }

    /// The table's TTL: deletes the items that expired more than `lag` ago.
    pub fn expire(&self, lag: Duration) {
        let now = jobs_sim::clock::epoch() + self.since.elapsed();
        let before = now.timestamp() - lag.as_secs() as i64;
        self.dynamo.world().expire(TABLE, TTL_ATTRIBUTE, before);
    }

    /// The world as it is, read without faults (for the checks).
    pub fn clean(&self) -> View {
        self.view(&Faults::none(), 0)
    }
}
