//! Pods as child processes of the worker binary. The environment is exactly the pod's (nothing
//! is inherited from the controller); each child gets its own process group, and SIGTERM if the
//! controller dies, so no process outlives it.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use super::pod::{PodRequest, PodStatus, Signal, log_path};

pub struct Processes {
    worker: PathBuf,
    logs: PathBuf,
    children: HashMap<String, Child>,
}

impl Processes {
    pub fn new(worker: PathBuf, logs: PathBuf) -> Result<Processes, String> {
        if !worker.is_file() {
            return Err(format!(
                "worker binary {} not found (build it: cargo build -p data-processor)",
                worker.display()
            ));
        }
        std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        Ok(Processes { worker, logs, children: HashMap::new() })
    }

    pub fn logs_dir(&self) -> &Path {
        &self.logs
    }

    pub fn start(&mut self, pod: &PodRequest<'_>) -> Result<(), String> {
        let path = log_path(&self.logs, pod.name);
        let log = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.worker);
        // The image's entrypoint is the worker: the template's `command` names a path inside the
        // image, so only its `args` apply here.
        cmd.args(pod.template.args.iter().flatten())
            .env_clear()
            // As the image's own ENV does: a command kind's program is found on PATH.
            .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
            .envs(pod.env.iter().map(|(k, v)| (k, v)))
            // As in a pod: the host name is the pod's name (the worker uses it in its lease owner).
            .env("HOSTNAME", pod.name)
            // Shown with each attempt the pod runs (the job's attempt history).
            .env("LOG_LOCATION", &path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .process_group(0);
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The controller may have died before prctl took effect.
                if libc::getppid() == 1 {
                    return Err(std::io::Error::other("the controller exited"));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", self.worker.display()))?;
        self.children.insert(pod.name.to_owned(), child);
        Ok(())
    }

    pub fn status(&mut self, pod: &str) -> PodStatus {
        let Some(child) = self.children.get_mut(pod) else { return PodStatus::Exited(None) };
        match child.try_wait() {
            Ok(None) => PodStatus::Running,
            Ok(Some(status)) => {
                PodStatus::Exited(status.code().map(i64::from).or(status.signal().map(|s| 128 + i64::from(s))))
            }
            Err(_) => PodStatus::Exited(None),
        }
    }

    pub fn signal(&mut self, pod: &str, signal: Signal) {
        let Some(pid) = self.children.get(pod).and_then(|c| c.id()) else { return };
        let sig = match signal {
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        };
        // SAFETY: kill(2) on our own, not yet reaped child: the pid cannot have been reused.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
    }

    pub fn remove(&mut self, pod: &str) {
        if let Some(mut child) = self.children.remove(pod) {
            // Only exited pods are removed; reap defensively anyway.
            let _ = child.start_kill();
            let _ = child.try_wait();
        }
    }
}
