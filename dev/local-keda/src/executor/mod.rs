//! Where a Job's pod runs: a fresh container of the project's image through the Docker Engine
//! API (dockerd or `podman system service`), or a child process of the `data-processor` binary
//! for machines without a container engine. Each pod's output goes to `<logs>/<pod>.log`.

pub mod container;
mod pod;
pub mod process;

use std::path::Path;

pub use pod::{PodRequest, PodStatus, Signal, log_path};

pub enum Executor {
    Process(process::Processes),
    Container(Box<container::Containers>),
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
