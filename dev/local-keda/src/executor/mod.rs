//! Where a Job's pod runs: a fresh container of the project's image through the Docker Engine
//! API (dockerd or `podman system service`), or a child process of the `data-processor` binary
//! for machines without a container engine. Each pod's output goes to `<logs>/<pod>.log`.

pub mod container;
pub mod process;

use std::path::{Path, PathBuf};

use crate::manifest::JobTemplate;

/// One pod to start.
pub struct PodRequest<'a> {
    pub name: &'a str,
    pub template: &'a JobTemplate,
    /// The container's environment: the manifest's, with the local overrides applied.
    pub env: &'a [(String, String)],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodStatus {
    /// Created, not running yet.
    Starting,
    Running,
    /// Ended; the exit code, or 128 + signal when killed.
    Exited(Option<i64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
}

pub enum Executor {
    Process(process::Processes),
    Container(container::Containers),
}

impl Executor {
    pub fn kind(&self) -> &'static str {
        match self {
            Executor::Process(_) => "process",
            Executor::Container(_) => "container",
        }
    }

    pub async fn start(&mut self, pod: &PodRequest<'_>) -> Result<(), String> {
        match self {
            Executor::Process(p) => p.start(pod),
            Executor::Container(c) => c.start(pod).await,
        }
    }

    /// Called once per reconcile, before `status`.
    pub async fn refresh(&mut self) {
        if let Executor::Container(c) = self {
            c.refresh().await
        }
    }

    pub async fn status(&mut self, pod: &str) -> PodStatus {
        match self {
            Executor::Process(p) => p.status(pod),
            Executor::Container(c) => c.status(pod).await,
        }
    }

    pub async fn signal(&mut self, pod: &str, signal: Signal) {
        match self {
            Executor::Process(p) => p.signal(pod, signal),
            Executor::Container(c) => c.signal(pod, signal).await,
        }
    }

    /// Deletes the pod (the container; a process is only forgotten). Its log file stays.
    pub async fn remove(&mut self, pod: &str) {
        match self {
            Executor::Process(p) => p.remove(pod),
            Executor::Container(c) => c.remove(pod).await,
        }
    }

    /// Removes every pod this controller's ScaledJob left behind (a crashed earlier run).
    pub async fn remove_leftovers(&mut self) {
        if let Executor::Container(c) = self {
            c.remove_leftovers().await
        }
    }

    pub fn logs_dir(&self) -> &Path {
        match self {
            Executor::Process(p) => p.logs_dir(),
            Executor::Container(c) => c.logs_dir(),
        }
    }
}

pub fn log_path(dir: &Path, pod: &str) -> PathBuf {
    dir.join(format!("{pod}.log"))
}
