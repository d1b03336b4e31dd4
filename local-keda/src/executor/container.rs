//! Pods as containers, through the Docker Engine API (dockerd, or podman's compatible service).
//! Each container gets the manifest's image settings: environment, user, read-only root
//! filesystem, dropped capabilities, no-new-privileges, CPU and memory limits; it shares the
//! host network so it reaches the local emulator on 127.0.0.1. Its output is followed into the
//! pod's log file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, ContainerSummaryStateEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::{PodRequest, PodStatus, Signal, log_path};

/// How long an ended container's log copier may take to write its last lines.
const LOG_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Labels on every container the controller creates: the ScaledJob's name and the queue it
/// scales on. Containers with both (from a crashed earlier run) are removed at start-up, so
/// controllers for other queues (tests, a second stack) are left alone.
pub const LABEL_SCALEDJOB: &str = "io.keda-sqs-jobs.local/scaledjob";
pub const LABEL_QUEUE: &str = "io.keda-sqs-jobs.local/queue";

pub struct Containers {
    docker: Docker,
    image: String,
    labels: HashMap<String, String>,
    logs: PathBuf,
    /// Container states from the last list call (one call per reconcile, not one per container).
    states: HashMap<String, ContainerSummaryStateEnum>,
    /// Each container's log copier, and when its container was first seen ended: a pod counts
    /// as ended once its last lines are in its log file (or after [`LOG_DRAIN`]).
    followers: HashMap<String, (tokio::task::JoinHandle<()>, Option<std::time::Instant>)>,
}

/// Connects to `host` (`unix:///path`), or to `DOCKER_HOST`, the docker socket or podman's.
pub async fn connect(host: Option<&str>) -> Result<Docker, String> {
    let docker = match host {
        Some(h) => Docker::connect_with_host(h),
        None => Docker::connect_with_podman_defaults(),
    }
    .map_err(|e| format!("no Docker API endpoint: {e}"))?;
    docker.ping().await.map_err(|e| format!("the Docker API does not answer: {e}"))?;
    Ok(docker)
}

impl Containers {
    /// Fails unless the image is present locally (nothing is pulled: `make image` builds it).
    pub async fn new(
        docker: Docker,
        image: &str,
        scaled_job: &str,
        queue_url: &str,
        logs: PathBuf,
    ) -> Result<Containers, String> {
        docker.inspect_image(image).await.map_err(|e| {
            format!("image {image} is not available to the container engine ({e}); build it with `make image`")
        })?;
        std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let labels = HashMap::from([
            (LABEL_SCALEDJOB.to_owned(), scaled_job.to_owned()),
            (LABEL_QUEUE.to_owned(), queue_url.to_owned()),
        ]);
        Ok(Containers {
            docker,
            image: image.to_owned(),
            labels,
            logs,
            states: HashMap::new(),
            followers: HashMap::new(),
        })
    }

    pub fn logs_dir(&self) -> &Path {
        &self.logs
    }

    fn body(&self, pod: &PodRequest<'_>) -> ContainerCreateBody {
        let t = pod.template;
        let user = match (t.run_as_user, t.run_as_group) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            _ => None,
        };
        let mut security_opt = Vec::new();
        if !t.allow_privilege_escalation {
            security_opt.push("no-new-privileges".to_owned());
        }
        ContainerCreateBody {
            image: Some(self.image.clone()),
            hostname: Some(pod.name.to_owned()),
            entrypoint: t.command.clone(),
            cmd: t.args.clone(),
            // The pod's log file on this machine is shown with each attempt it runs.
            env: Some(
                pod.env
                    .iter()
                    .filter(|(k, _)| k.as_str() != "LOG_LOCATION")
                    .map(|(k, v)| format!("{k}={v}"))
                    .chain([format!("LOG_LOCATION={}", log_path(&self.logs, pod.name).display())])
                    .collect(),
            ),
            user,
            labels: Some(self.labels.clone()),
            host_config: Some(HostConfig {
                network_mode: Some("host".into()),
                readonly_rootfs: Some(t.read_only_root_filesystem),
                cap_drop: (!t.drop_capabilities.is_empty()).then(|| t.drop_capabilities.clone()),
                security_opt: Some(security_opt),
                memory: t.memory_limit_bytes.map(|b| b as i64),
                nano_cpus: t.cpu_limit_millis.map(|m| m as i64 * 1_000_000),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub async fn start(&mut self, pod: &PodRequest<'_>) -> Result<(), String> {
        let options = CreateContainerOptionsBuilder::new().name(pod.name).build();
        self.docker
            .create_container(Some(options), self.body(pod))
            .await
            .map_err(|e| format!("cannot create container {}: {e}", pod.name))?;
        if let Err(e) = self.docker.start_container(pod.name, None).await {
            self.remove(pod.name).await;
            return Err(format!("cannot start container {}: {e}", pod.name));
        }
        self.follow_logs(pod.name)?;
        Ok(())
    }

    /// Copies the container's output into its log file until the container ends.
    fn follow_logs(&mut self, name: &str) -> Result<(), String> {
        let path = log_path(&self.logs, name);
        let mut file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let options = LogsOptionsBuilder::new().follow(true).stdout(true).stderr(true).build();
        let mut stream = self.docker.logs(name, Some(options));
        let copier = tokio::spawn(async move {
            while let Some(Ok(chunk)) = stream.next().await {
                if file.write_all(&chunk.into_bytes()).is_err() {
                    break;
                }
            }
        });
        self.followers.insert(name.to_owned(), (copier, None));
        Ok(())
    }

    /// An ended container's status once its log is complete: until its copier is done (at most
    /// [`LOG_DRAIN`]), it still runs, so whoever reads its log after it ended reads it whole.
    fn ended(&mut self, name: &str, status: PodStatus) -> PodStatus {
        let Some((copier, seen)) = self.followers.get_mut(name) else { return status };
        let since = *seen.get_or_insert_with(std::time::Instant::now);
        if !copier.is_finished() && since.elapsed() < LOG_DRAIN {
            return PodStatus::Running;
        }
        self.followers.remove(name);
        status
    }

    /// Lists this controller's containers once; `status` answers from that list.
    pub async fn refresh(&mut self) {
        let options = ListContainersOptionsBuilder::new().all(true).filters(&self.label_filter()).build();
        match self.docker.list_containers(Some(options)).await {
            Ok(list) => {
                self.states = list
                    .into_iter()
                    .filter_map(|c| {
                        let name = c.names?.first()?.trim_start_matches('/').to_owned();
                        Some((name, c.state?))
                    })
                    .collect();
            }
            Err(e) => tracing::warn!(error = %e, "cannot list containers"),
        }
    }

    fn label_filter(&self) -> HashMap<&'static str, Vec<String>> {
        HashMap::from([("label", self.labels.iter().map(|(k, v)| format!("{k}={v}")).collect())])
    }

    pub async fn status(&mut self, name: &str) -> PodStatus {
        match self.states.get(name) {
            Some(ContainerSummaryStateEnum::CREATED) => PodStatus::Starting,
            Some(ContainerSummaryStateEnum::EXITED | ContainerSummaryStateEnum::DEAD) => self.inspect(name).await,
            Some(_) => PodStatus::Running,
            // Created after the last list, or gone: ask the engine.
            None => self.inspect(name).await,
        }
    }

    async fn inspect(&mut self, name: &str) -> PodStatus {
        let status = self.inspect_container(name).await;
        match status {
            PodStatus::Exited(_) => self.ended(name, status),
            other => other,
        }
    }

    async fn inspect_container(&mut self, name: &str) -> PodStatus {
        let info = match self.docker.inspect_container(name, None).await {
            Ok(info) => info,
            // Gone (removed behind our back): the pod failed without an exit code.
            Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => {
                return PodStatus::Exited(None);
            }
            // A hiccup of the engine: look again at the next reconcile.
            Err(e) => {
                tracing::warn!(container = name, error = %e, "cannot inspect container");
                return PodStatus::Running;
            }
        };
        let state = info.state.unwrap_or_default();
        match state.status {
            Some(ContainerStateStatusEnum::CREATED) | None => PodStatus::Starting,
            Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) => {
                let oom = state.oom_killed.unwrap_or(false);
                PodStatus::Exited(if oom { Some(137) } else { state.exit_code })
            }
            Some(_) => PodStatus::Running,
        }
    }

    pub async fn signal(&mut self, name: &str, signal: Signal) {
        let sig = match signal {
            Signal::Term => "SIGTERM",
            Signal::Kill => "SIGKILL",
        };
        let options = KillContainerOptionsBuilder::new().signal(sig).build();
        if let Err(e) = self.docker.kill_container(name, Some(options)).await {
            tracing::debug!(container = name, error = %e, "kill (it may have exited already)");
        }
    }

    pub async fn remove(&mut self, name: &str) {
        self.followers.remove(name);
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        if let Err(e) = self.docker.remove_container(name, Some(options)).await {
            tracing::debug!(container = name, error = %e, "remove");
        }
    }

    pub async fn remove_leftovers(&mut self) {
        let options = ListContainersOptionsBuilder::new().all(true).filters(&self.label_filter()).build();
        match self.docker.list_containers(Some(options)).await {
            Ok(list) => {
                for c in list {
                    if let Some(id) = c.id {
                        tracing::info!(container = %id, "removing a container left by an earlier run");
                        self.remove(&id).await;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list containers"),
        }
    }
}
