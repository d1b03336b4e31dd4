//! A Job template as Kubernetes runs it (a ScaledJob's `jobTargetRef`, a CronJob's
//! `jobTemplate.spec`): its one container with Kubernetes' defaults, an init container that fills
//! an emptyDir for it (a command kind's worker), its emptyDirs, and the lane its queues belong to.

use std::collections::BTreeMap;
use std::time::Duration;

use jobs_core::pools::{DEFAULT_POOL, Priority, Queues};
use jobs_core::quantity;
use serde::{Deserialize, Serialize};

use super::error::{ManifestError, err};

/// `jobTargetRef`: the Job and its one container.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplate {
    pub container_name: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    /// Literal `value`s, in manifest order.
    pub env: Vec<(String, String)>,
    /// Variables set with `valueFrom` (secrets, field refs): the local controller cannot resolve
    /// them, so each must be given with `--env NAME=VALUE`.
    pub env_from_cluster: Vec<String>,
    pub cpu_limit_millis: Option<u64>,
    pub memory_limit_bytes: Option<u64>,
    pub run_as_user: Option<u32>,
    pub run_as_group: Option<u32>,
    pub read_only_root_filesystem: bool,
    pub allow_privilege_escalation: bool,
    pub drop_capabilities: Vec<String>,
    pub active_deadline: Option<Duration>,
    pub backoff_limit: u32,
    pub termination_grace_period: Duration,
    /// A command kind's pod: the init container that puts the worker beside the command, into
    /// an emptyDir the main container mounts.
    pub init: Option<InitContainer>,
    /// The main container's other emptyDir mounts (a command kind's `/tmp`): their paths.
    pub scratch_mounts: Vec<String>,
}

/// An init container that fills an emptyDir for the main container (the worker copying itself
/// there: `install <path>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitContainer {
    pub image: String,
    pub args: Vec<String>,
    /// Where the shared emptyDir is mounted (the same path in both containers).
    pub shared_path: String,
}

impl JobTemplate {
    /// The Job's lane and pool: a command kind's (`KIND`, in its pool `POOL`), else its pool's
    /// (`POOL`, else the default pool).
    pub fn lane(&self) -> (String, String) {
        let var = |name: &str| self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let pool = var("POOL").unwrap_or_else(|| DEFAULT_POOL.to_owned());
        (var("KIND").unwrap_or_else(|| pool.clone()), pool)
    }

    /// Points the Job's queue variables (`QUEUE_URL`, `HIGH_QUEUE_URL`, `DLQ_URL`) at the local
    /// stack's queues of its lane (and its pool's DLQ), named after `local`.
    pub fn localize(&mut self, local: &Queues) {
        let (lane, pool) = self.lane();
        for (name, value) in &mut self.env {
            match name.as_str() {
                "QUEUE_URL" => *value = local.url(&lane, Priority::Normal),
                "HIGH_QUEUE_URL" => *value = local.url(&lane, Priority::High),
                "DLQ_URL" => *value = local.dlq_url(&pool),
                _ => {}
            }
        }
    }
}

// The YAML, as far as it matters here. Unknown fields are ignored: `make test-infra` validates
// the manifests against the CRDs' schemas.

/// A Job spec: a ScaledJob's `jobTargetRef`, a CronJob's `jobTemplate.spec`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobTargetRef {
    active_deadline_seconds: Option<u64>,
    backoff_limit: Option<u32>,
    template: PodTemplate,
}

#[derive(Deserialize)]
struct PodTemplate {
    spec: PodSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    containers: Vec<Container>,
    #[serde(default)]
    init_containers: Vec<Container>,
    #[serde(default)]
    volumes: Vec<Volume>,
    termination_grace_period_seconds: Option<u64>,
    #[serde(default)]
    security_context: SecurityContext,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    name: String,
    empty_dir: Option<serde_norway::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    name: String,
    mount_path: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    image: String,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    #[serde(default)]
    env: Vec<EnvVar>,
    #[serde(default)]
    resources: Resources,
    #[serde(default)]
    security_context: SecurityContext,
    #[serde(default)]
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvVar {
    name: String,
    value: Option<String>,
    value_from: Option<serde_norway::Value>,
}

#[derive(Deserialize, Default)]
struct Resources {
    #[serde(default)]
    limits: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SecurityContext {
    run_as_user: Option<u32>,
    run_as_group: Option<u32>,
    read_only_root_filesystem: Option<bool>,
    allow_privilege_escalation: Option<bool>,
    #[serde(default)]
    capabilities: Capabilities,
}

#[derive(Deserialize, Default)]
struct Capabilities {
    #[serde(default)]
    drop: Vec<String>,
}

/// The Job template of a Job spec: its one container, with Kubernetes' defaults.
pub(crate) fn job_template(target: JobTargetRef) -> Result<JobTemplate, ManifestError> {
    let pod = target.template.spec;
    let container = match pod.containers.as_slice() {
        [c] => c,
        _ => return Err(err("the Job template must have exactly one container")),
    };
    let mut env = Vec::new();
    let mut env_from_cluster = Vec::new();
    for var in &container.env {
        match (&var.value, &var.value_from) {
            (_, Some(_)) => env_from_cluster.push(var.name.clone()),
            (value, None) => env.push((var.name.clone(), value.clone().unwrap_or_default())),
        }
    }
    let limit = |key: &str| container.resources.limits.get(key);
    let cpu_limit_millis =
        limit("cpu").map(|q| quantity::cpu_millis(q)).transpose().map_err(|e| err(format!("limits.cpu: {e}")))?;
    let memory_limit_bytes =
        limit("memory").map(|q| quantity::bytes(q)).transpose().map_err(|e| err(format!("limits.memory: {e}")))?;
    let (pod_sc, c_sc) = (&pod.security_context, &container.security_context);
    let empty_dir = |name: &str| pod.volumes.iter().any(|v| v.name == name && v.empty_dir.is_some());
    if let Some(m) = container.volume_mounts.iter().find(|m| !empty_dir(&m.name)) {
        return Err(err(format!("volume {:?}: only emptyDir volumes run locally", m.name)));
    }
    let init = match pod.init_containers.as_slice() {
        [] => None,
        [i] => {
            let shared = i
                .volume_mounts
                .iter()
                .find(|m| container.volume_mounts.iter().any(|c| c.name == m.name && c.mount_path == m.mount_path))
                .ok_or_else(|| err("the init container must share an emptyDir with the container, at the same path"))?;
            Some(InitContainer {
                image: i.image.clone(),
                args: i.command.iter().flatten().chain(i.args.iter().flatten()).cloned().collect(),
                shared_path: shared.mount_path.clone(),
            })
        }
        _ => return Err(err("at most one init container runs locally")),
    };
    let scratch_mounts = container
        .volume_mounts
        .iter()
        .filter(|m| init.as_ref().is_none_or(|i| i.shared_path != m.mount_path))
        .map(|m| m.mount_path.clone())
        .collect();

    Ok(JobTemplate {
        container_name: container.name.clone(),
        image: container.image.clone(),
        command: container.command.clone(),
        args: container.args.clone(),
        env,
        env_from_cluster,
        cpu_limit_millis,
        memory_limit_bytes,
        // The container's securityContext wins over the pod's, as in Kubernetes.
        run_as_user: c_sc.run_as_user.or(pod_sc.run_as_user),
        run_as_group: c_sc.run_as_group.or(pod_sc.run_as_group),
        read_only_root_filesystem: c_sc.read_only_root_filesystem.unwrap_or(false),
        allow_privilege_escalation: c_sc.allow_privilege_escalation.unwrap_or(true),
        drop_capabilities: c_sc.capabilities.drop.clone(),
        active_deadline: target.active_deadline_seconds.map(Duration::from_secs),
        // Kubernetes' defaults: backoffLimit 6, terminationGracePeriodSeconds 30.
        backoff_limit: target.backoff_limit.unwrap_or(6),
        termination_grace_period: Duration::from_secs(pod.termination_grace_period_seconds.unwrap_or(30)),
        init,
        scratch_mounts,
    })
}
