//! Pods as containers, through the Docker Engine API (dockerd, or podman's compatible service).
//! Each container gets the manifest's image settings: environment, user, read-only root
//! filesystem, dropped capabilities, no-new-privileges, CPU and memory limits; it shares the
//! host network so it reaches the local emulator on 127.0.0.1. Its output is followed into the
//! pod's log file while it runs; once it ended, the file is rewritten from the engine's whole
//! log, so a cut or lagging follow stream never leaves a finished pod with half a log.
//!
//! A command kind's pod has an init container (the worker copying itself into an emptyDir) and
//! runs the kind's own image: the init container runs to completion first, into a host directory
//! both containers mount (the emptyDir), and the pod's other emptyDirs (`/tmp`) are tmpfs.
//! Images this product builds (in its ECR namespace) map to the local tags `make image` builds
//! ([`local_image`]); others must be present as they are. A command kind's image that is not
//! there (nothing is pulled) makes its pods fail to start, as `ErrImageNeverPull` does in a
//! cluster: they stay pending, tried again after a back-off, until the image appears.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::pod::{PodRequest, PodStatus, Signal, log_path};

mod state;
use state::{Phase, Reads};

/// How long an ended container's whole log may take to be written to its file.
const LOG_DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Labels on every container the controller creates: the ScaledJob's name and the queue it
/// scales on. Containers with both (from a crashed earlier run) are removed at start-up, so
/// controllers for other queues (tests, a second stack) are left alone.
pub const LABEL_SCALEDJOB: &str = "io.keda-sqs-jobs.local/scaledjob";
pub const LABEL_QUEUE: &str = "io.keda-sqs-jobs.local/queue";

/// The engine: bollard for what the controller does, [`Reads`] for what it asks.
#[derive(Clone)]
pub struct Engine {
    docker: Docker,
    reads: Reads,
}

pub struct Containers {
    docker: Docker,
    reads: Reads,
    /// The main container's image (the worker's, or a command kind's).
    image: String,
    /// A command kind's pod: the init container, with its local image.
    init: Option<Box<(crate::manifest::InitContainer, String)>>,
    /// The main image was missing at start-up: each pod start looks for it again (until found).
    image_missing: bool,
    labels: HashMap<String, String>,
    logs: PathBuf,
    /// Each container's phase at the last list: one call per reconcile, not one per container
    /// (see [`Containers::refresh`]).
    states: HashMap<String, Phase>,
    /// Each container's log copier: live while it runs, then the whole log once it ended. A pod
    /// counts as ended once its whole log is in its file (or after [`LOG_DRAIN`]).
    followers: HashMap<String, LogCopy>,
}

/// Connects to `host` (`unix:///path`), or to `DOCKER_HOST`, the docker socket or podman's
/// ([`state::socket`]).
pub async fn connect(host: Option<&str>) -> Result<Engine, String> {
    let socket = state::socket(host)?;
    let docker = Docker::connect_with_host(&format!("unix://{}", socket.display()))
        .map_err(|e| format!("no Docker API endpoint: {e}"))?;
    docker.ping().await.map_err(|e| format!("the Docker API does not answer: {e}"))?;
    Ok(Engine { docker, reads: Reads::new(&socket)? })
}

impl Containers {
    /// Fails unless the images are present locally (nothing is pulled: `make image` builds them).
    /// `worker_image` is the worker's local image; `template` the Job's, whose images map to
    /// local ones ([`local_image`]). `absent_kind_image`: a command kind's own image that is not
    /// present is not an error but a lane whose pods cannot start (as in a cluster).
    pub async fn new(
        engine: Engine,
        worker_image: &str,
        template: &crate::manifest::JobTemplate,
        scaled_job: &str,
        queue_url: &str,
        logs: PathBuf,
        absent_kind_image: bool,
    ) -> Result<Containers, String> {
        let Engine { docker, reads } = engine;
        let (image, init) = match &template.init {
            None => (worker_image.to_owned(), None),
            Some(init) => (
                local_image(&template.image, worker_image),
                Some(Box::new((init.clone(), local_image(&init.image, worker_image)))),
            ),
        };
        let mut image_missing = false;
        for (image, kind_image) in
            [Some((&image, init.is_some())), init.as_ref().map(|i| (&i.1, false))].into_iter().flatten()
        {
            if let Err(e) = docker.inspect_image(image).await {
                let why =
                    format!("image {image} is not available to the container engine ({e}); build it with `make image`");
                if !(kind_image && absent_kind_image) {
                    return Err(why);
                }
                tracing::warn!(scaled_job, reason = %why, "this lane's pods cannot start until the image is there (ErrImageNeverPull)");
                image_missing = true;
            }
        }
        std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let labels = HashMap::from([
            (LABEL_SCALEDJOB.to_owned(), scaled_job.to_owned()),
            (LABEL_QUEUE.to_owned(), queue_url.to_owned()),
        ]);
        Ok(Containers {
            docker,
            reads,
            image,
            init,
            image_missing,
            labels,
            logs,
            states: HashMap::new(),
            followers: HashMap::new(),
        })
    }

    /// The main container's local image.
    pub fn image(&self) -> &str {
        &self.image
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
                binds: self
                    .init
                    .as_ref()
                    .map(|init| vec![format!("{}:{}:ro", self.shared_dir(pod.name).display(), init.0.shared_path)]),
                tmpfs: (!t.scratch_mounts.is_empty())
                    .then(|| t.scratch_mounts.iter().map(|m| (m.clone(), "rw,mode=1777".to_owned())).collect()),
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

    /// The host directory standing in for a pod's shared emptyDir.
    fn shared_dir(&self, pod: &str) -> PathBuf {
        self.logs.join(format!("{pod}.shared"))
    }

    /// Runs the pod's init container to completion (the worker copying itself into the shared
    /// directory), as the kubelet does before the containers start.
    async fn run_init(&self, pod: &PodRequest<'_>) -> Result<(), String> {
        let Some(init) = &self.init else { return Ok(()) };
        let (init, image) = (&init.0, &init.1);
        let dir = self.shared_dir(pod.name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // An emptyDir is writable by the pod's user, whoever that is.
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .map_err(|e| format!("cannot open {} to the pod: {e}", dir.display()))?;
        let name = format!("{}-init", pod.name);
        let main = self.body(pod);
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            entrypoint: None,
            cmd: Some(init.args.clone()),
            env: None,
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:{}", dir.display(), init.shared_path)]),
                tmpfs: None,
                ..main.host_config.unwrap_or_default()
            }),
            ..main
        };
        let options = CreateContainerOptionsBuilder::new().name(&name).build();
        self.docker.create_container(Some(options), body).await.map_err(|e| format!("cannot create {name}: {e}"))?;
        let ran = async {
            self.docker.start_container(&name, None).await.map_err(|e| format!("cannot start {name}: {e}"))?;
            let mut wait = self.docker.wait_container(&name, None);
            match wait.next().await {
                Some(Ok(r)) if r.status_code == 0 => Ok(()),
                Some(Ok(r)) => Err(format!("init container {name} exited with {}", r.status_code)),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                    Err(format!("init container {name} exited with {code}"))
                }
                Some(Err(e)) => Err(format!("init container {name}: {e}")),
                None => Err(format!("init container {name}: no exit status")),
            }
        }
        .await;
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = self.docker.remove_container(&name, Some(options)).await;
        ran
    }

    pub async fn start(&mut self, pod: &PodRequest<'_>) -> Result<(), String> {
        // A missing image may have been built since (the fix rolling out).
        if self.image_missing && self.docker.inspect_image(&self.image).await.is_ok() {
            self.image_missing = false;
        }
        if self.image_missing {
            return Err(format!(
                "ErrImageNeverPull: image {} is not present (the local engine never pulls)",
                self.image
            ));
        }
        if let Err(e) = self.run_init(pod).await {
            let _ = std::fs::remove_dir_all(self.shared_dir(pod.name));
            return Err(e);
        }
        let options = CreateContainerOptionsBuilder::new().name(pod.name).build();
        if let Err(e) = self.docker.create_container(Some(options), self.body(pod)).await {
            let _ = std::fs::remove_dir_all(self.shared_dir(pod.name));
            return Err(format!("cannot create container {}: {e}", pod.name));
        }
        if let Err(e) = self.docker.start_container(pod.name, None).await {
            self.remove(pod.name).await;
            return Err(format!("cannot start container {}: {e}", pod.name));
        }
        self.follow_logs(pod.name)?;
        Ok(())
    }

    /// Copies the container's output into its log file while it runs (what `make up` shows live).
    fn follow_logs(&mut self, name: &str) -> Result<(), String> {
        let path = log_path(&self.logs, name);
        let file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let copier = tokio::spawn(copy_logs(self.docker.clone(), name.to_owned(), true, file));
        self.followers.insert(name.to_owned(), LogCopy::Live(copier));
        Ok(())
    }

    /// An ended container's status once its whole log is in its file: the follow stream may lag
    /// or break (podman's does under load), so the file is written anew from the engine's
    /// complete log; until then (at most [`LOG_DRAIN`]) the pod still runs, so whoever reads its
    /// log after it ended reads it whole.
    fn ended(&mut self, name: &str, status: PodStatus) -> PodStatus {
        let Some(copy) = self.followers.get_mut(name) else { return status };
        if let LogCopy::Live(follower) = copy {
            follower.abort();
            let path = log_path(&self.logs, name);
            let whole = tokio::spawn(rewrite_log(self.docker.clone(), name.to_owned(), path));
            *copy = LogCopy::Whole(whole, std::time::Instant::now());
        }
        let LogCopy::Whole(whole, since) = copy else { unreachable!("replaced above") };
        if !whole.is_finished() && since.elapsed() < LOG_DRAIN {
            return PodStatus::Running;
        }
        self.followers.remove(name);
        status
    }

    /// Lists this controller's containers once; `status` answers from that list. An engine that
    /// does not answer leaves the last list in place (looked at again at the next reconcile).
    pub async fn refresh(&mut self) {
        match self.reads.list(&self.labels).await {
            Ok(list) => self.states = list.into_iter().map(|c| (c.name, c.phase)).collect(),
            Err(e) => tracing::warn!(error = %e, "cannot list containers"),
        }
    }

    pub async fn status(&mut self, name: &str) -> PodStatus {
        match self.states.get(name) {
            Some(Phase::Created) => PodStatus::Starting,
            Some(Phase::Running) => PodStatus::Running,
            // Ended (for its exit code), or created after the last list, or gone: ask the engine.
            Some(Phase::Ended) | None => self.inspect(name).await,
        }
    }

    async fn inspect(&mut self, name: &str) -> PodStatus {
        match self.reads.status(name).await {
            Ok(status @ PodStatus::Exited(_)) => self.ended(name, status),
            Ok(other) => other,
            // A hiccup of the engine: look again at the next reconcile.
            Err(e) => {
                tracing::warn!(container = name, error = %e, "cannot inspect container");
                PodStatus::Running
            }
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
        if self.init.is_some() {
            let _ = std::fs::remove_dir_all(self.shared_dir(name));
        }
    }

    pub async fn remove_leftovers(&mut self) {
        match self.reads.list(&self.labels).await {
            Ok(list) => {
                for c in list {
                    tracing::info!(container = %c.id, name = %c.name, "removing a container left by an earlier run");
                    self.remove(&c.id).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list containers"),
        }
    }
}

/// The local image for an image of a manifest: one this product builds (in an ECR registry,
/// `<account>.dkr.ecr.<region>.amazonaws.com/<app>/<name>:<tag>`) is the local build of the same
/// name, tagged like `worker_image` (`localhost/keda-sqs-jobs/data-processor:dev` makes
/// `…/examples:<tag>` `localhost/keda-sqs-jobs/examples:dev`); any other is used as it is.
pub fn local_image(image: &str, worker_image: &str) -> String {
    let ecr = image
        .split('/')
        .next()
        .is_some_and(|registry| registry.contains(".dkr.ecr.") && registry.ends_with(".amazonaws.com"));
    let (Some((dir, _)), Some((_, tag))) = (worker_image.rsplit_once('/'), worker_image.rsplit_once(':')) else {
        return image.to_owned();
    };
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split_once(['@', ':']).map_or(name, |(n, _)| n);
    if ecr { format!("{dir}/{name}:{tag}") } else { image.to_owned() }
}

/// A container's log copy: following its output while it runs, then writing its whole log.
enum LogCopy {
    Live(tokio::task::JoinHandle<bool>),
    /// Started when the container was first seen ended.
    Whole(tokio::task::JoinHandle<()>, std::time::Instant),
}

/// Copies the container's log (`follow`: as it comes, until it ends) into `file`; true if the
/// stream ended cleanly.
async fn copy_logs(docker: Docker, name: String, follow: bool, mut file: std::fs::File) -> bool {
    let options = LogsOptionsBuilder::new().follow(follow).stdout(true).stderr(true).build();
    let mut stream = docker.logs(&name, Some(options));
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                if file.write_all(&chunk.into_bytes()).is_err() {
                    return false;
                }
            }
            Err(e) => {
                tracing::debug!(container = %name, follow, error = %e, "log stream ended early");
                return false;
            }
        }
    }
    true
}

/// Writes an ended container's whole log to `path` (through a temporary file and a rename, so a
/// reader sees the live copy or the whole one, never half of either). If the engine cannot give
/// it, the live copy stays.
async fn rewrite_log(docker: Docker, name: String, path: PathBuf) {
    let tmp = path.with_extension("log.whole");
    let Ok(file) = std::fs::File::create(&tmp) else { return };
    if !copy_logs(docker, name.clone(), false, file).await {
        tracing::warn!(container = %name, "the engine's whole log broke off; the file keeps what was followed live");
        let _ = std::fs::remove_file(&tmp);
    } else if let Err(e) = std::fs::rename(&tmp, &path) {
        tracing::warn!(container = %name, error = %e, "cannot write the whole log");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn images_this_product_builds_map_to_their_local_builds() {
        let worker = "localhost/keda-sqs-jobs/data-processor:dev";
        // (image in the manifest, local image)
        let cases = [
            (
                "111122223333.dkr.ecr.eu-west-1.amazonaws.com/keda-sqs-jobs/examples:0.1.0",
                "localhost/keda-sqs-jobs/examples:dev",
            ),
            ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/keda-sqs-jobs/data-processor:abc123", worker),
            (
                "111122223333.dkr.ecr.eu-west-1.amazonaws.com/keda-sqs-jobs/etl@sha256:00",
                "localhost/keda-sqs-jobs/etl:dev",
            ),
            ("registry.example.com/team/etl:1.4", "registry.example.com/team/etl:1.4"),
            ("python:3.11-slim", "python:3.11-slim"),
        ];
        for (image, want) in cases {
            assert_eq!(super::local_image(image, worker), want, "{image}");
        }
    }
}
