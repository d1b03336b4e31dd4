//! Worker pods as KEDA's ScaledJob starts them: for each lane, one pod per waiting message, up
//! to a cap, each running the real `Worker` for one message and exiting. The run's plan kills
//! some pods at a random moment (a crash: the task is dropped at whatever await it is in, as
//! SIGKILL or a spot reclaim without notice leaves a process) and stops others (SIGTERM: the
//! worker's own stop path). Each pod's clock is off the world's by up to the documented bound.
//! During a rolling deploy some pods are of the earlier build, which does not know a kind.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use data_processor::config::Config;
use data_processor::worker::Worker;
use jobs_core::catalog::Build;
use jobs_core::pools::{Lane, Priority};
use jobs_runtime::Shutdown;
use jobs_sim::rng::Rng;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::child::Shell;
use crate::faults::Faults;
use crate::world::{RETENTION, TABLE, View, World};

/// The most pods of one lane at once.
const MAX_PODS_PER_LANE: usize = 4;
/// Pods' clocks are off the world's by up to this (docs/worker.md: takeovers are correct while
/// clocks differ by less than a third of the visibility timeout).
pub const MAX_SKEW_MS: u64 = 5_000;

/// What happened to the pods of a run.
#[derive(Debug, Default, Clone)]
pub struct PodLog {
    pub started: u64,
    /// Where each killed pod was: its last request and how many it had made.
    pub crashed_at: Vec<String>,
    pub stopped: u64,
    /// Pods of the earlier build, during a rolling deploy.
    pub earlier: u64,
}

/// A rolling deploy: before `start` every pod is of the earlier build; from it, for `over`, pods
/// are replaced by the current build one by one, so a new pod is of the earlier build with a
/// chance that falls from 1 to 0. The earlier build
/// does not know [`NEW_KIND`].
#[derive(Debug, Clone, Copy)]
pub struct Rollout {
    pub start: Instant,
    pub over: Duration,
}

/// The kind the current build added: the earlier build's workers do not know it.
pub const NEW_KIND: &str = "flaky";

/// The pods of every lane, started as messages wait.
pub struct Pods {
    pub log: Rc<RefCell<PodLog>>,
    running: Vec<(&'static str, JoinHandle<()>)>,
    rng: Rng,
    /// Faults on: pods may be killed or stopped.
    pub chaos: bool,
    pub rollout: Option<Rollout>,
    /// A lane whose image is missing from one instant to another: none of its pods start.
    pub missing: Option<Missing>,
}

/// A lane's image missing for a while (a bad tag, a registry outage): KEDA creates its Jobs, and
/// their pods never start.
#[derive(Debug, Clone, Copy)]
pub struct Missing {
    pub lane: &'static str,
    pub from: Instant,
    pub until: Instant,
}

impl Pods {
    pub fn new(seed: u64) -> Pods {
        Pods {
            log: Rc::default(),
            running: Vec::new(),
            rng: Rng::new(seed ^ 0x90D5),
            chaos: true,
            rollout: None,
            missing: None,
        }
    }

    /// Every lane's waiting messages (visible or delayed) against its running pods: starts the
    /// difference, up to the cap. Returns how many started.
    pub async fn scale(&mut self, world: &World, faults: &Faults) -> usize {
        self.running.retain(|(_, h)| !h.is_finished());
        let clean = world.clean();
        let mut started = 0;
        let now = Instant::now();
        let missing = self.missing.filter(|m| (m.from..m.until).contains(&now)).map(|m| m.lane);
        for lane in jobs_core::catalog::lanes().iter().filter(|l| Some(l.name) != missing) {
            let mut waiting = 0;
            for queue in clean.queues.lane(lane.name) {
                waiting += queue.depth().await.map(|d| d.visible).unwrap_or(0);
            }
            let running = self.running.iter().filter(|(l, _)| *l == lane.name).count();
            let room = MAX_PODS_PER_LANE.saturating_sub(running);
            for _ in 0..(waiting as usize).min(room) {
                self.start(world, faults, lane);
                started += 1;
            }
        }
        started
    }

    fn start(&mut self, world: &World, faults: &Faults, lane: &'static Lane) {
        let n = {
            let mut log = self.log.borrow_mut();
            log.started += 1;
            log.started
        };
        let skew = self.rng.below(2 * MAX_SKEW_MS + 1) as i64 - MAX_SKEW_MS as i64;
        let view = world.view(faults, skew);
        let (trigger, shutdown) = Shutdown::manual();
        let mut worker = worker(&view, lane, format!("pod-{n}"), shutdown);
        if self.earlier_build() {
            worker.build = Build::without(&[NEW_KIND]);
            self.log.borrow_mut().earlier += 1;
        }
        let task = tokio::task::spawn_local(async move {
            let mut worker = worker;
            let _ = worker.run(worker.config.limit(), None).await;
        });
        // Its fate: most pods live; some are killed, some are stopped, at a random moment.
        let fate = if self.chaos { self.rng.below(10) } else { 9 };
        // Half the kills and stops land in the pod's first half second (its claim and first
        // writes), half anywhere in its first 30 s (the run, the record, the hand-back).
        let within = if self.rng.below(2) == 0 { 500 } else { 30_000 };
        let after = Duration::from_millis(self.rng.below(within));
        let log = self.log.clone();
        let abort = task.abort_handle();
        if fate < 2 {
            tokio::task::spawn_local(async move {
                tokio::time::sleep(after).await;
                if !abort.is_finished() {
                    abort.abort();
                    log.borrow_mut().crashed_at.push(view.ops.point());
                }
            });
        } else if fate == 2 {
            tokio::task::spawn_local(async move {
                tokio::time::sleep(after).await;
                if !abort.is_finished() {
                    trigger.stop();
                    log.borrow_mut().stopped += 1;
                }
                // Keep the trigger: dropping it would read as "no stop can come any more".
                std::future::pending::<()>().await;
            });
        } else {
            tokio::task::spawn_local(async move {
                let _keep = trigger;
                std::future::pending::<()>().await;
            });
        }
        self.running.push((lane.name, task));
    }

    /// Whether the next pod is of the earlier build (a rolling deploy is under way).
    fn earlier_build(&mut self) -> bool {
        let Some(rollout) = self.rollout else { return false };
        let done = Instant::now().saturating_duration_since(rollout.start).as_millis();
        let over = rollout.over.as_millis().max(1);
        done < over && u128::from(self.rng.below(1_000)) >= done * 1_000 / over
    }

    /// Pods still running.
    pub fn running(&mut self) -> usize {
        self.running.retain(|(_, h)| !h.is_finished());
        self.running.len()
    }
}

/// A worker of `lane` as its ScaledJob configures it (one message per pod), over a process's
/// view of the world, built by the binary's own wiring.
fn worker(view: &View, lane: &Lane, name: String, shutdown: Shutdown) -> Worker {
    let names = view.queues.names();
    let (normal, high) = (view.queues.get(lane.name, Priority::Normal), view.queues.get(lane.name, Priority::High));
    let args = [
        "data-processor".to_owned(),
        format!("--queue-url={}", normal.url()),
        format!("--high-queue-url={}", high.url()),
        format!("--dlq-url={}", names.dlq_url(lane.pool)),
        format!("--pool={}", lane.pool),
        format!("--table-name={TABLE}"),
        "--metrics=off".to_owned(),
        format!("--worker-name={name}"),
    ];
    // A command kind's ScaledJob names its kind.
    let args = args.into_iter().chain(lane.command.then(|| format!("--kind={}", lane.name)));
    let config = Config::try_parse_from(args).expect("the simulated worker's configuration");
    let mut worker = data_processor::worker(config, view.sqs.clone(), view.store.clone(), name, shutdown)
        .expect("the default retry policy");
    worker.store = worker.store.with_retention(RETENTION);
    worker.children = Arc::new(Shell);
    worker
}
