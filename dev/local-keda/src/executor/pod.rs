//! What an executor is asked and answers: a pod to start, its status, a signal to send, and
//! where its output goes.

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

/// Where a pod's output goes.
pub fn log_path(dir: &Path, pod: &str) -> PathBuf {
    dir.join(format!("{pod}.log"))
}
