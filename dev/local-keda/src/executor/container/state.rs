//! What the engine says of the controller's containers: the list by label and one container's
//! state, read as plain strings. Bollard's typed models refuse a state outside Docker's enum,
//! and podman's compatible service (4.3) answers `stopped` for a container whose process has
//! ended while its cleanup has not run yet: one such container failed the whole list, so every
//! pod's status went stale and `make down` left containers behind. Here an unknown state is
//! still a state ([`Phase::of`]), and one odd container never hides the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::super::pod::PodStatus;

/// Where a container is in its life, from the engine's state string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Created (podman: `configured`), not started.
    Created,
    /// Started and not ended (or a state this controller does not know: look again later).
    Running,
    /// Its process ended: `exited`, `dead`, or podman's `stopped` (ended, cleanup pending; the
    /// exit code is already known, and podman's own `ps` shows it as Exited).
    Ended,
}

impl Phase {
    pub fn of(state: &str) -> Phase {
        match state {
            "" | "created" | "configured" => Phase::Created,
            "exited" | "dead" | "stopped" => Phase::Ended,
            // running, paused, restarting, removing, stopping, and whatever comes next.
            _ => Phase::Running,
        }
    }
}

/// One container of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub phase: Phase,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the container engine did not answer: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("the container engine answered {status}: {body}")]
    Status { status: reqwest::StatusCode, body: String },
    #[error("the container engine's answer is not what its API documents: {0}")]
    Body(#[source] serde_json::Error),
}

/// The engine's API on its Unix socket, for reads only (bollard does the writes).
#[derive(Clone)]
pub struct Reads {
    http: reqwest::Client,
}

/// The engine's socket: `host` (`unix:///path`), else `DOCKER_HOST`, else the first socket
/// that exists of Docker's and podman's (rootless, then system). Both clients use this one.
pub fn socket(host: Option<&str>) -> Result<PathBuf, String> {
    let explicit = host.map(str::to_owned).or_else(|| std::env::var("DOCKER_HOST").ok());
    if let Some(host) = explicit {
        return host
            .strip_prefix("unix://")
            .map(PathBuf::from)
            .ok_or_else(|| format!("{host}: only unix:// Docker API endpoints are supported"));
    }
    let runtime = std::env::var("XDG_RUNTIME_DIR").ok().map(|d| Path::new(&d).join("podman/podman.sock"));
    [Some(PathBuf::from("/var/run/docker.sock")), runtime, Some(PathBuf::from("/run/podman/podman.sock"))]
        .into_iter()
        .flatten()
        .find(|p| p.exists())
        .ok_or_else(|| "no Docker API socket (docker's or podman's); set DOCKER_HOST=unix:///path".to_owned())
}

#[derive(Deserialize)]
struct Summary {
    #[serde(rename = "Id", default)]
    id: String,
    #[serde(rename = "Names", default)]
    names: Vec<String>,
    #[serde(rename = "State", default)]
    state: String,
}

#[derive(Deserialize)]
struct Inspect {
    #[serde(rename = "State", default)]
    state: InspectState,
}

#[derive(Deserialize, Default)]
struct InspectState {
    #[serde(rename = "Status", default)]
    status: String,
    #[serde(rename = "ExitCode")]
    exit_code: Option<i64>,
    #[serde(rename = "OOMKilled", default)]
    oom_killed: bool,
}

impl Reads {
    pub fn new(socket: &Path) -> Result<Reads, String> {
        let http = reqwest::Client::builder()
            .unix_socket(socket)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot make a client for {}: {e}", socket.display()))?;
        Ok(Reads { http })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Option<Vec<u8>>, ReadError> {
        let response =
            self.http.get(format!("http://engine{path}")).query(query).send().await.map_err(ReadError::Transport)?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = response.bytes().await.map_err(ReadError::Transport)?;
        if !status.is_success() {
            return Err(ReadError::Status { status, body: String::from_utf8_lossy(&body).into_owned() });
        }
        Ok(Some(body.to_vec()))
    }

    /// Every container (running or not) carrying all of `labels`.
    pub async fn list(&self, labels: &HashMap<String, String>) -> Result<Vec<Listed>, ReadError> {
        let filters = serde_json::json!({
            "label": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()
        });
        let query = [("all", "true".to_owned()), ("filters", filters.to_string())];
        let body = self.get("/containers/json", &query).await?.unwrap_or_default();
        let list: Vec<Summary> = serde_json::from_slice(&body).map_err(ReadError::Body)?;
        Ok(list.into_iter().map(listed).collect())
    }

    /// One container's status: gone (removed behind the controller's back) is a pod that failed
    /// without an exit code, as a deleted pod is in a cluster.
    pub async fn status(&self, name: &str) -> Result<PodStatus, ReadError> {
        let Some(body) = self.get(&format!("/containers/{name}/json"), &[]).await? else {
            return Ok(PodStatus::Exited(None));
        };
        let info: Inspect = serde_json::from_slice(&body).map_err(ReadError::Body)?;
        Ok(status(&info.state))
    }
}

fn listed(c: Summary) -> Listed {
    let name = c.names.first().map(|n| n.trim_start_matches('/').to_owned()).unwrap_or_else(|| c.id.clone());
    Listed { id: c.id, name, phase: Phase::of(&c.state) }
}

fn status(state: &InspectState) -> PodStatus {
    match Phase::of(&state.status) {
        Phase::Created => PodStatus::Starting,
        Phase::Running => PodStatus::Running,
        // The kernel's OOM kill is a SIGKILL: 137, whatever the engine recorded.
        Phase::Ended if state.oom_killed => PodStatus::Exited(Some(137)),
        Phase::Ended => PodStatus::Exited(state.exit_code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_an_engine_reports_has_a_phase() {
        for (state, phase) in [
            ("", Phase::Created),
            ("created", Phase::Created),
            ("configured", Phase::Created),
            ("running", Phase::Running),
            ("paused", Phase::Running),
            ("restarting", Phase::Running),
            ("removing", Phase::Running),
            ("stopping", Phase::Running),
            ("something-new", Phase::Running),
            ("exited", Phase::Ended),
            ("dead", Phase::Ended),
            ("stopped", Phase::Ended),
        ] {
            assert_eq!(Phase::of(state), phase, "{state:?}");
        }
    }

    #[test]
    fn a_list_with_a_podman_only_state_reads_whole() {
        // What podman 4.3 answered while one container's cleanup was pending.
        let body = r#"[
            {"Id":"a1","Names":["/pod-a"],"State":"running","Labels":{}},
            {"Id":"b2","Names":["/pod-b"],"State":"stopped"},
            {"Id":"c3","Names":[],"State":"created"}
        ]"#;
        let list: Vec<Listed> = serde_json::from_str::<Vec<Summary>>(body).unwrap().into_iter().map(listed).collect();
        assert_eq!(
            list,
            [
                Listed { id: "a1".into(), name: "pod-a".into(), phase: Phase::Running },
                Listed { id: "b2".into(), name: "pod-b".into(), phase: Phase::Ended },
                Listed { id: "c3".into(), name: "c3".into(), phase: Phase::Created },
            ]
        );
    }

    #[test]
    fn an_inspected_state_is_a_pod_status() {
        let of = |json: &str| status(&serde_json::from_str::<Inspect>(json).unwrap().state);
        assert_eq!(of(r#"{"State":{"Status":"stopped","ExitCode":3,"OOMKilled":false}}"#), PodStatus::Exited(Some(3)));
        assert_eq!(of(r#"{"State":{"Status":"exited","ExitCode":0,"OOMKilled":true}}"#), PodStatus::Exited(Some(137)));
        assert_eq!(of(r#"{"State":{"Status":"running","ExitCode":0}}"#), PodStatus::Running);
        assert_eq!(of(r#"{"State":{"Status":"configured"}}"#), PodStatus::Starting);
        assert_eq!(of(r#"{}"#), PodStatus::Starting);
    }
}
