//! The control loop, shaped like KEDA's ScaledJob reconciler plus the Kubernetes Job controller:
//!
//! - every `pollingInterval`: read its triggers' queues' depth, count running and pending Jobs, ask
//!   [`crate::scaling::decide`] how many Jobs to create, create them;
//! - continuously (every 250 ms): follow each pod, apply exits, back-offs, deadlines and the history
//!   limits (the pure rules in [`crate::job`]).
//!
//! Its state is published as a [`Snapshot`] for the status line and tests.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jobs_aws::{Depth, JobQueue};
use serde::Serialize;
use tokio::sync::RwLock;

use crate::executor::{Executor, PodRequest, PodStatus, Signal, log_path};
use crate::job::{Action, Job, Limits, Phase, history_to_delete};
use crate::manifest::{JobTemplate, ScaledJob};
use crate::scaling::{self, Decision, Observed, Strategy};

const RECONCILE_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Jobs created (what `jobs launched = messages` compares).
    pub jobs_created: u64,
    pub pods_started: u64,
    pub jobs_succeeded: u64,
    pub jobs_failed: u64,
    /// Polls of the queue that failed.
    pub queue_errors: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    /// What the trigger counts (visible, plus in-flight/delayed when enabled).
    pub metric: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleRecord {
    pub at: DateTime<Utc>,
    pub observed: Observed,
    pub decision: Decision,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    #[serde(flatten)]
    pub job: Job,
    /// The current (or last) pod and its log file.
    pub pod: Option<String>,
    pub log: Option<String>,
}

/// The controller's state, as `GET /state` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub scaled_job: String,
    pub namespace: String,
    pub executor: &'static str,
    /// The image container Jobs run (none for process Jobs).
    pub image: Option<String>,
    /// The queue its Jobs' workers take from last (the pool's normal-priority queue).
    pub queue_url: String,
    /// Every trigger's queue, in trigger order.
    pub queue_urls: Vec<String>,
    pub polling_interval_secs: u64,
    pub strategy: Strategy,
    pub max_replica_count: i64,
    pub successful_jobs_history_limit: usize,
    pub failed_jobs_history_limit: usize,
    pub logs_dir: String,
    pub updated_at: DateTime<Utc>,
    pub queue: Option<QueueView>,
    pub last_decision: Option<ScaleRecord>,
    /// The last failure to read the queue (cleared by the next success).
    pub last_error: Option<String>,
    /// Unfinished Jobs, and those of them whose pod is not running yet.
    pub running: i64,
    pub pending: i64,
    pub totals: Totals,
    /// Current Jobs and the finished ones kept by the history limits, newest first.
    pub jobs: Vec<JobView>,
    pub stopping: bool,
}

pub type SharedSnapshot = Arc<RwLock<Option<Snapshot>>>;

pub struct Controller {
    sj: ScaledJob,
    image: Option<String>,
    env: Vec<(String, String)>,
    executor: Executor,
    /// One per trigger, in trigger order.
    queues: Vec<JobQueue>,
    jobs: Vec<Job>,
    totals: Totals,
    queue_view: Option<QueueView>,
    last_decision: Option<ScaleRecord>,
    last_error: Option<String>,
    stopping: bool,
    shared: SharedSnapshot,
}

/// A Job name like KEDA's: the ScaledJob's name and a random 5-character suffix.
fn job_name(scaled_job: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let bits = uuid::Uuid::new_v4().as_u128();
    let suffix: String =
        (0..5).map(|i| ALPHABET[((bits >> (i * 8)) % ALPHABET.len() as u128) as usize] as char).collect();
    format!("{scaled_job}-{suffix}")
}

impl Controller {
    pub fn new(
        sj: ScaledJob,
        image: Option<String>,
        env: Vec<(String, String)>,
        executor: Executor,
        queues: Vec<JobQueue>,
        shared: SharedSnapshot,
    ) -> Controller {
        Controller {
            sj,
            image,
            env,
            executor,
            queues,
            jobs: Vec::new(),
            totals: Totals::default(),
            queue_view: None,
            last_decision: None,
            last_error: None,
            stopping: false,
            shared,
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            backoff_limit: self.sj.job.backoff_limit,
            active_deadline: self.sj.job.active_deadline,
            grace: self.sj.job.termination_grace_period,
        }
    }

    /// Runs until `stop` resolves, then terminates every pod (SIGTERM, then SIGKILL after the grace
    /// period) and removes every container.
    pub async fn run(mut self, stop: impl std::future::Future<Output = ()>) {
        self.executor.remove_leftovers().await;
        tracing::info!(
            scaled_job = %self.sj.name,
            executor = self.executor.kind(),
            polling_interval_secs = self.sj.polling_interval.as_secs(),
            strategy = ?self.sj.scaling.strategy,
            max_replica_count = self.sj.scaling.max_replica_count,
            queues = ?self.sj.triggers.iter().map(|t| t.queue_url.as_str()).collect::<Vec<_>>(),
            "controller started"
        );
        let mut poll = tokio::time::interval(self.sj.polling_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reconcile = tokio::time::interval(RECONCILE_EVERY);
        reconcile.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = poll.tick() => {
                    self.reconcile().await;
                    self.scale().await;
                }
                _ = reconcile.tick() => self.reconcile().await,
            }
            self.publish().await;
        }
        self.shutdown().await;
    }

    /// One polling interval: the triggers' queues' depth → KEDA's decision → new Jobs.
    pub async fn scale(&mut self) {
        let mut depths = Vec::with_capacity(self.queues.len());
        for queue in &self.queues {
            match queue.depth().await {
                Ok(depth) => depths.push(depth),
                Err(e) => {
                    // As KEDA does: no scaling this round; the error is shown.
                    tracing::warn!(error = %e, "cannot read the queue's depth");
                    self.last_error = Some(e.to_string());
                    self.totals.queue_errors += 1;
                    return;
                }
            }
        }
        self.last_error = None;
        let sum = |f: fn(&Depth) -> u64| depths.iter().map(f).sum::<u64>();
        let (visible, in_flight, delayed) = (sum(|d| d.visible), sum(|d| d.in_flight), sum(|d| d.delayed));
        let metric = self.sj.metric(&depths);
        self.queue_view = Some(QueueView { visible, in_flight, delayed, metric });
        let running = self.jobs.iter().filter(|j| !j.is_finished()).count() as i64;
        let pending = self.jobs.iter().filter(|j| j.is_pending()).count() as i64;
        let observed = Observed { queue_length: metric, running, pending };
        let decision = scaling::decide(&self.sj.scaling, observed);
        if decision.jobs_to_create > 0 {
            tracing::info!(queue = metric, running, pending, create = decision.jobs_to_create, "scaling");
        }
        self.last_decision = Some(ScaleRecord { at: Utc::now(), observed, decision });
        for _ in 0..decision.jobs_to_create {
            let job = Job::new(job_name(&self.sj.name), Utc::now());
            self.totals.jobs_created += 1;
            self.jobs.push(job);
        }
        // Start the new Jobs' pods now rather than at the next reconcile.
        self.reconcile().await;
    }

    /// Follows pods and applies the Job rules.
    pub async fn reconcile(&mut self) {
        let limits = self.limits();
        if self.jobs.iter().any(|j| !j.is_finished()) {
            self.executor.refresh().await;
        }
        for i in 0..self.jobs.len() {
            if self.jobs[i].is_finished() {
                continue;
            }
            // 1. what the pod is doing; 2. deadlines, back-offs, new pods
            if drive(&mut self.executor, &mut self.jobs[i], &self.sj.job, &self.env, &limits).await {
                self.totals.pods_started += 1;
            }
            // Unfinished when this iteration began: a finish now is counted exactly once.
            if self.jobs[i].is_finished() {
                self.count_finished(i);
            }
        }
        // 3. history limits
        let (succeeded, failed) = (self.sj.successful_jobs_history_limit, self.sj.failed_jobs_history_limit);
        trim_history(&mut self.executor, &mut self.jobs, succeeded, failed).await;
    }

    fn count_finished(&mut self, i: usize) {
        if self.jobs[i].phase == Phase::Succeeded {
            self.totals.jobs_succeeded += 1;
        } else {
            self.totals.jobs_failed += 1;
        }
    }

    async fn shutdown(&mut self) {
        self.stopping = true;
        let now = Utc::now();
        for i in 0..self.jobs.len() {
            if self.jobs[i].is_finished() {
                continue;
            }
            if let Some(action) = self.jobs[i].stop(now) {
                act(&mut self.executor, &mut self.jobs[i], &self.sj.job, &self.env, action).await;
            }
            if self.jobs[i].is_finished() {
                self.count_finished(i);
            }
        }
        // Wait for the pods: SIGKILL follows the grace period (Job::tick), so this ends.
        let limit = tokio::time::Instant::now() + self.sj.job.termination_grace_period + Duration::from_secs(10);
        while self.jobs.iter().any(|j| !j.is_finished()) && tokio::time::Instant::now() < limit {
            tokio::time::sleep(RECONCILE_EVERY).await;
            self.reconcile().await;
            self.publish().await;
        }
        remove_pods(&mut self.executor, &self.jobs).await;
        self.publish().await;
        tracing::info!(
            jobs_created = self.totals.jobs_created,
            succeeded = self.totals.jobs_succeeded,
            failed = self.totals.jobs_failed,
            logs = %self.executor.logs_dir().display(),
            "controller stopped"
        );
    }

    pub fn snapshot(&self) -> Snapshot {
        let jobs = job_views(&self.jobs, self.executor.logs_dir());
        Snapshot {
            scaled_job: self.sj.name.clone(),
            namespace: self.sj.namespace.clone(),
            executor: self.executor.kind(),
            image: self.image.clone(),
            queue_url: self.sj.triggers.last().map(|t| t.queue_url.clone()).unwrap_or_default(),
            queue_urls: self.sj.triggers.iter().map(|t| t.queue_url.clone()).collect(),
            polling_interval_secs: self.sj.polling_interval.as_secs(),
            strategy: self.sj.scaling.strategy,
            max_replica_count: self.sj.scaling.max_replica_count,
            successful_jobs_history_limit: self.sj.successful_jobs_history_limit,
            failed_jobs_history_limit: self.sj.failed_jobs_history_limit,
            logs_dir: self.executor.logs_dir().display().to_string(),
            updated_at: Utc::now(),
            queue: self.queue_view.clone(),
            last_decision: self.last_decision.clone(),
            last_error: self.last_error.clone(),
            running: self.jobs.iter().filter(|j| !j.is_finished()).count() as i64,
            pending: self.jobs.iter().filter(|j| j.is_pending()).count() as i64,
            totals: self.totals,
            jobs,
            stopping: self.stopping,
        }
    }

    async fn publish(&self) {
        *self.shared.write().await = Some(self.snapshot());
    }
}

/// Follows one Job's pod and applies the Job rules to it (the ScaledJob's Jobs and the CronJobs'
/// alike). Returns whether a pod was started.
pub(crate) async fn drive(
    executor: &mut Executor,
    job: &mut Job,
    template: &JobTemplate,
    env: &[(String, String)],
    limits: &Limits,
) -> bool {
    if let Some(pod) = job.pod_name().filter(|_| job.pod_live) {
        match executor.status(&pod).await {
            PodStatus::Starting => {}
            PodStatus::Running => job.pod_running(),
            PodStatus::Exited(code) => {
                job.pod_exited(code, Utc::now(), limits);
                if code == Some(0) {
                    tracing::info!(job = %job.name, %pod, "pod succeeded");
                } else {
                    tracing::info!(job = %job.name, %pod, exit_code = ?code, phase = ?job.phase, "pod failed");
                }
                // The container stays until its Job is deleted by the history limit, like a pod.
            }
        }
    }
    match job.tick(Utc::now(), limits) {
        Some(action) => act(executor, job, template, env, action).await,
        None => false,
    }
}

/// Carries out a Job rule's action. Returns whether a pod was started.
pub(crate) async fn act(
    executor: &mut Executor,
    job: &mut Job,
    template: &JobTemplate,
    env: &[(String, String)],
    action: Action,
) -> bool {
    match action {
        Action::StartPod => {
            let pod = job.next_pod_name();
            let request = PodRequest { name: &pod, template, env };
            match executor.start(&request).await {
                Ok(()) => {
                    job.pod_started();
                    tracing::info!(job = %job.name, %pod, "pod started");
                    true
                }
                Err(e) => {
                    // As a kubelet does: the pod stays Pending and is tried again after a back-off.
                    tracing::error!(job = %job.name, %pod, error = %e, "pod cannot start; will retry");
                    job.pod_start_failed(e, Utc::now());
                    false
                }
            }
        }
        Action::Terminate | Action::Kill => {
            let signal = if action == Action::Kill { Signal::Kill } else { Signal::Term };
            if let Some(pod) = job.pod_name() {
                tracing::info!(job = %job.name, %pod, ?signal, phase = ?job.phase, "stopping pod");
                executor.signal(&pod, signal).await;
            }
            false
        }
    }
}

/// The Jobs with their current pod and log file, newest first (for `GET /state`).
pub(crate) fn job_views(jobs: &[Job], logs_dir: &std::path::Path) -> Vec<JobView> {
    let mut views: Vec<JobView> = jobs
        .iter()
        .map(|j| {
            let pod = j.pod_name();
            let log = pod.as_ref().map(|p| log_path(logs_dir, p).display().to_string());
            JobView { job: j.clone(), pod, log }
        })
        .collect();
    views.sort_by_key(|v| std::cmp::Reverse(v.job.created_at));
    views
}

/// Deletes the finished Jobs beyond the history limits, with their pods. Their log files stay:
/// job records link them (`crate::logs` deletes them after the job retention).
pub(crate) async fn trim_history(executor: &mut Executor, jobs: &mut Vec<Job>, succeeded: usize, failed: usize) {
    for name in history_to_delete(jobs, succeeded, failed) {
        if let Some(pos) = jobs.iter().position(|j| j.name == name) {
            let job = jobs.remove(pos);
            for n in 1..=job.pods {
                let pod = format!("{}-{n}", job.name);
                executor.remove(&pod).await;
            }
            tracing::debug!(job = %job.name, "deleted by the history limit");
        }
    }
}

/// Removes every pod of `jobs` and whatever an earlier run left (on shutdown).
pub(crate) async fn remove_pods(executor: &mut Executor, jobs: &[Job]) {
    for job in jobs {
        for n in 1..=job.pods {
            executor.remove(&format!("{}-{n}", job.name)).await;
        }
    }
    executor.remove_leftovers().await;
}
