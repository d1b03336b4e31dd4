//! Runs a CronJob of `keda/` (the reconciler) the way the CronJob and Job controllers do: at each
//! due schedule time a Job with one pod (the same executors and Job rules as the ScaledJob's
//! Jobs), `concurrencyPolicy`, history limits, and SIGTERM to its pods when the controller stops.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::controller::{JobView, act, drive, job_views, remove_pods, trim_history};
use crate::cronjob::{Concurrency, CronJob, OnFire, on_fire};
use crate::executor::Executor;
use crate::job::{Job, Limits, Phase};

const TICK: Duration = Duration::from_millis(500);

/// A CronJob's state, as `GET /state` shows it (under `cronJobs`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CronView {
    pub name: String,
    pub schedule: String,
    pub concurrency_policy: Concurrency,
    pub last_schedule_time: Option<DateTime<Utc>>,
    pub active: usize,
    pub jobs_succeeded: u64,
    pub jobs_failed: u64,
    /// Current Jobs and the finished ones the history limits keep, newest first.
    pub jobs: Vec<JobView>,
}

/// The views of every CronJob the controller runs.
pub type SharedCrons = Arc<RwLock<Vec<CronView>>>;

pub struct CronRunner {
    cron: CronJob,
    env: Vec<(String, String)>,
    executor: Executor,
    jobs: Vec<Job>,
    last_check: DateTime<Utc>,
    last_schedule: Option<DateTime<Utc>>,
    succeeded: u64,
    failed: u64,
    shared: SharedCrons,
    slot: usize,
}

impl CronRunner {
    /// `slot`: this CronJob's place in `shared`.
    pub fn new(
        cron: CronJob,
        env: Vec<(String, String)>,
        executor: Executor,
        shared: SharedCrons,
        slot: usize,
    ) -> Self {
        CronRunner {
            cron,
            env,
            executor,
            jobs: Vec::new(),
            last_check: Utc::now(),
            last_schedule: None,
            succeeded: 0,
            failed: 0,
            shared,
            slot,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            backoff_limit: self.cron.job.backoff_limit,
            active_deadline: self.cron.job.active_deadline,
            grace: self.cron.job.termination_grace_period,
        }
    }

    /// Runs until `stop` resolves. `start_now`: run a Job at once, as `kubectl create job
    /// --from=cronjob/<name>` does, instead of waiting for the first scheduled time.
    pub async fn run(mut self, start_now: bool, stop: impl std::future::Future<Output = ()>) {
        self.executor.remove_leftovers().await;
        tracing::info!(cronjob = %self.cron.name, schedule = %self.cron.schedule, "CronJob started");
        if start_now {
            self.start(Utc::now()).await;
        }
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = tick.tick() => self.tick().await,
            }
            self.publish().await;
        }
        self.shutdown().await;
    }

    async fn tick(&mut self) {
        let limits = self.limits();
        if self.jobs.iter().any(|j| !j.is_finished()) {
            self.executor.refresh().await;
        }
        for i in 0..self.jobs.len() {
            if self.jobs[i].is_finished() {
                continue;
            }
            drive(&mut self.executor, &mut self.jobs[i], &self.cron.job, &self.env, &limits).await;
            if self.jobs[i].is_finished() {
                self.count(i);
            }
        }
        let now = Utc::now();
        if let Some(at) = self.cron.due(self.last_check, now) {
            let active = self.jobs.iter().filter(|j| !j.is_finished()).count();
            match on_fire(self.cron.concurrency, active) {
                OnFire::Start => self.start(at).await,
                OnFire::Skip => {
                    tracing::info!(cronjob = %self.cron.name, %at, active, "previous Job still runs (Forbid): skipped")
                }
                OnFire::Replace => {
                    for i in 0..self.jobs.len() {
                        if let Some(action) = self.jobs[i].stop(now) {
                            act(&mut self.executor, &mut self.jobs[i], &self.cron.job, &self.env, action).await;
                        }
                    }
                    self.start(at).await;
                }
            }
        }
        self.last_check = now;
        let (succeeded, failed) = (self.cron.successful_jobs_history_limit, self.cron.failed_jobs_history_limit);
        trim_history(&mut self.executor, &mut self.jobs, succeeded, failed).await;
    }

    async fn start(&mut self, at: DateTime<Utc>) {
        let mut name = self.cron.job_name(at);
        if self.jobs.iter().any(|j| j.name == name) {
            name.push_str("-manual");
        }
        tracing::info!(cronjob = %self.cron.name, job = %name, scheduled = %at, "CronJob Job created");
        self.last_schedule = Some(at);
        self.jobs.push(Job::new(name, Utc::now()));
        // Start its pod now rather than at the next tick.
        let limits = self.limits();
        let last = self.jobs.len() - 1;
        drive(&mut self.executor, &mut self.jobs[last], &self.cron.job, &self.env, &limits).await;
    }

    fn count(&mut self, i: usize) {
        if self.jobs[i].phase == Phase::Succeeded {
            self.succeeded += 1;
        } else {
            self.failed += 1;
        }
    }

    async fn shutdown(&mut self) {
        let now = Utc::now();
        for i in 0..self.jobs.len() {
            if let Some(action) = self.jobs[i].stop(now) {
                act(&mut self.executor, &mut self.jobs[i], &self.cron.job, &self.env, action).await;
            }
        }
        let limit = tokio::time::Instant::now() + self.cron.job.termination_grace_period + Duration::from_secs(10);
        while self.jobs.iter().any(|j| !j.is_finished()) && tokio::time::Instant::now() < limit {
            tokio::time::sleep(TICK).await;
            self.tick().await;
        }
        remove_pods(&mut self.executor, &self.jobs).await;
        self.publish().await;
        tracing::info!(cronjob = %self.cron.name, succeeded = self.succeeded, failed = self.failed, "CronJob stopped");
    }

    fn view(&self) -> CronView {
        let jobs = job_views(&self.jobs, self.executor.logs_dir());
        CronView {
            name: self.cron.name.clone(),
            schedule: self.cron.schedule.clone(),
            concurrency_policy: self.cron.concurrency,
            last_schedule_time: self.last_schedule,
            active: self.jobs.iter().filter(|j| !j.is_finished()).count(),
            jobs_succeeded: self.succeeded,
            jobs_failed: self.failed,
            jobs,
        }
    }

    async fn publish(&self) {
        let view = self.view();
        let mut shared = self.shared.write().await;
        if shared.len() <= self.slot {
            shared.resize(self.slot + 1, view.clone());
        }
        shared[self.slot] = view;
    }
}
