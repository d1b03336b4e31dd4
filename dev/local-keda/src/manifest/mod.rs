//! Reads a ScaledJob manifest that is deployed to the cluster (`keda/scaledjob*.yaml`, one per
//! lane: each pool, each command kind), with KEDA's and Kubernetes' defaults for what it leaves out. One source of truth: the local
//! controller scales and runs Jobs from the very same spec.

use std::collections::BTreeMap;
use std::time::Duration;

use jobs_aws::queue::Depth;
use jobs_core::pools::{DEFAULT_POOL, Priority, Queues};
use serde::{Deserialize, Serialize};

use crate::scaling::{ScalingSpec, Strategy};

mod error;
pub mod template;

pub use error::ManifestError;
pub(crate) use error::err;
pub use template::{InitContainer, JobTemplate};
pub(crate) use template::{JobTargetRef, job_template};

/// What the local controller needs from a ScaledJob.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledJob {
    pub name: String,
    pub namespace: String,
    pub polling_interval: Duration,
    pub scaling: ScalingSpec,
    /// `scalingStrategy.pendingPodConditions`: a Job's pod counts as pending until all of these
    /// hold. Locally a pod is scheduled when launched and ready when its process/container runs.
    pub pending_pod_conditions: Vec<String>,
    /// Its `aws-sqs-queue` triggers (one per priority queue of a pool), combined by
    /// [`ScaledJob::calculation`].
    pub triggers: Vec<SqsTrigger>,
    /// `scalingStrategy.multipleScalersCalculation`.
    pub calculation: Calculation,
    pub job: JobTemplate,
    pub successful_jobs_history_limit: usize,
    pub failed_jobs_history_limit: usize,
}

/// How a ScaledJob's triggers combine: KEDA's `multipleScalersCalculation` (max by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Calculation {
    Max,
    Sum,
}

impl ScaledJob {
    /// The ScaledJob's metric: each trigger's, combined (`depths` in trigger order).
    pub fn metric(&self, depths: &[Depth]) -> u64 {
        let each = self.triggers.iter().zip(depths).map(|(t, d)| t.metric(*d));
        match self.calculation {
            Calculation::Sum => each.sum(),
            Calculation::Max => each.max().unwrap_or(0),
        }
    }

    /// Points the ScaledJob at the local stack's queues, named after `local` (the local default
    /// pool's queue) as the product names them: its pool (`POOL` in the Job's env) and each
    /// trigger's priority (which of the Job's `QUEUE_URL` and `HIGH_QUEUE_URL` it measures). The
    /// Job's queue variables follow. A ScaledJob whose Job names no queue is pointed at `local`
    /// itself.
    pub fn localize(&mut self, local: &Queues) -> Result<(), ManifestError> {
        let var = |name: &str| self.job.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let Some(normal) = var("QUEUE_URL") else {
            for t in &mut self.triggers {
                t.queue_url = local.url(DEFAULT_POOL, Priority::Normal);
            }
            return Ok(());
        };
        let (lane, _) = self.job.lane();
        let high = var("HIGH_QUEUE_URL");
        for t in &mut self.triggers {
            let priority = if t.queue_url == normal {
                Priority::Normal
            } else if Some(&t.queue_url) == high.as_ref() {
                Priority::High
            } else {
                return Err(err(format!(
                    "trigger queue {} is neither the Job's QUEUE_URL nor its HIGH_QUEUE_URL",
                    t.queue_url
                )));
            };
            t.queue_url = local.url(&lane, priority);
        }
        self.job.localize(local);
        Ok(())
    }
}

/// An `aws-sqs-queue` trigger.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsTrigger {
    pub queue_url: String,
    pub aws_region: Option<String>,
    pub queue_length: f64,
    pub activation_queue_length: f64,
    pub scale_on_in_flight: bool,
    pub scale_on_delayed: bool,
}

impl SqsTrigger {
    /// The scaler's metric: visible messages, plus in-flight and delayed ones when enabled.
    pub fn metric(&self, depth: Depth) -> u64 {
        depth.visible
            + if self.scale_on_in_flight { depth.in_flight } else { 0 }
            + if self.scale_on_delayed { depth.delayed } else { 0 }
    }
}

// The YAML, as far as it matters here. Unknown fields are ignored: `make test-infra` validates
// the manifest against KEDA's CRD schema.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    polling_interval: Option<u64>,
    min_replica_count: Option<i64>,
    max_replica_count: Option<i64>,
    successful_jobs_history_limit: Option<usize>,
    failed_jobs_history_limit: Option<usize>,
    #[serde(default)]
    scaling_strategy: RawStrategy,
    #[serde(default)]
    triggers: Vec<Trigger>,
    job_target_ref: JobTargetRef,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawStrategy {
    strategy: Option<String>,
    custom_scaling_queue_length_deduction: Option<i64>,
    custom_scaling_running_job_percentage: Option<String>,
    #[serde(default)]
    pending_pod_conditions: Vec<String>,
    multiple_scalers_calculation: Option<String>,
}

#[derive(Deserialize)]
struct Trigger {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

fn number(metadata: &BTreeMap<String, String>, key: &str, default: f64) -> Result<f64, ManifestError> {
    match metadata.get(key) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| err(format!("trigger metadata {key}: {text:?} is not a non-negative number"))),
    }
}

fn boolean(metadata: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool, ManifestError> {
    match metadata.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(err(format!("trigger metadata {key}: {v:?} is not true or false"))),
    }
}

/// Parses one ScaledJob document (a leading comment and `---` are fine).
pub fn parse(yaml: &str) -> Result<ScaledJob, ManifestError> {
    let doc: Doc = serde_norway::from_str(yaml).map_err(|e| err(e.to_string()))?;
    if doc.kind != "ScaledJob" || !doc.api_version.starts_with("keda.sh/") {
        return Err(err(format!("expected a keda.sh ScaledJob, found {} {}", doc.api_version, doc.kind)));
    }
    let spec = doc.spec;

    // KEDA defaults: pollingInterval 30 s, 0..100 Jobs, history 100/100.
    let polling = spec.polling_interval.unwrap_or(30);
    if polling == 0 {
        return Err(err("pollingInterval must be at least 1 second"));
    }
    let min = spec.min_replica_count.unwrap_or(0);
    let max = spec.max_replica_count.unwrap_or(100);
    if min < 0 || max < 0 || min > max {
        return Err(err(format!("minReplicaCount {min} and maxReplicaCount {max} must satisfy 0 <= min <= max")));
    }

    let raw = spec.scaling_strategy;
    let strategy = match raw.strategy.as_deref().unwrap_or("default") {
        "default" => Strategy::Default,
        "accurate" => Strategy::Accurate,
        "eager" => Strategy::Eager,
        "custom" => match (raw.custom_scaling_queue_length_deduction, raw.custom_scaling_running_job_percentage) {
            (Some(deduction), Some(percentage)) => Strategy::Custom {
                queue_length_deduction: deduction,
                running_job_percentage: percentage
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| err(format!("customScalingRunningJobPercentage {percentage:?} is not a number")))?,
            },
            // KEDA uses the default strategy when a custom knob is missing.
            _ => Strategy::Default,
        },
        other => return Err(err(format!("unknown scalingStrategy.strategy {other:?}"))),
    };

    if spec.triggers.is_empty() {
        return Err(err("no triggers"));
    }
    let triggers = spec.triggers.iter().map(sqs_trigger).collect::<Result<Vec<_>, _>>()?;
    // The local controller counts Jobs with one target per Job: the triggers must agree on it.
    if triggers.iter().any(|t| t.queue_length != triggers[0].queue_length) {
        return Err(err("the local controller needs the same queueLength on every trigger"));
    }
    let calculation = match raw.multiple_scalers_calculation.as_deref().unwrap_or("max") {
        "max" => Calculation::Max,
        "sum" => Calculation::Sum,
        other => return Err(err(format!("multipleScalersCalculation {other:?} is not supported locally (max, sum)"))),
    };
    let (queue_length, activation) = (triggers[0].queue_length, triggers[0].activation_queue_length);

    let job = job_template(spec.job_target_ref)?;
    Ok(ScaledJob {
        name: doc.metadata.name,
        namespace: doc.metadata.namespace.unwrap_or_else(|| "default".into()),
        polling_interval: Duration::from_secs(polling),
        scaling: ScalingSpec {
            strategy,
            min_replica_count: min,
            max_replica_count: max,
            target_per_job: queue_length,
            activation,
        },
        pending_pod_conditions: raw.pending_pod_conditions,
        triggers,
        calculation,
        job,
        successful_jobs_history_limit: spec.successful_jobs_history_limit.unwrap_or(100),
        failed_jobs_history_limit: spec.failed_jobs_history_limit.unwrap_or(100),
    })
}

/// One `aws-sqs-queue` trigger, with KEDA's defaults.
fn sqs_trigger(trigger: &Trigger) -> Result<SqsTrigger, ManifestError> {
    if trigger.kind != "aws-sqs-queue" {
        return Err(err(format!("the local controller scales on aws-sqs-queue triggers, found {:?}", trigger.kind)));
    }
    let m = &trigger.metadata;
    let queue_url = m
        .get("queueURL")
        .cloned()
        .ok_or_else(|| err("the aws-sqs-queue trigger has no queueURL (queueURLFromEnv is not supported locally)"))?;
    let trigger = SqsTrigger {
        queue_url,
        aws_region: m.get("awsRegion").cloned(),
        // KEDA's aws-sqs-queue defaults: queueLength 5, activation 0, in-flight counted, delayed not.
        queue_length: number(m, "queueLength", 5.0)?,
        activation_queue_length: number(m, "activationQueueLength", 0.0)?,
        scale_on_in_flight: boolean(m, "scaleOnInFlight", true)?,
        scale_on_delayed: boolean(m, "scaleOnDelayed", false)?,
    };
    if trigger.queue_length <= 0.0 {
        return Err(err("trigger metadata queueLength must be greater than 0"));
    }
    Ok(trigger)
}

/// The `kind` of a manifest document (`None`: not a Kubernetes object).
pub fn kind_of(yaml: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Kind {
        kind: String,
    }
    serde_norway::from_str::<Kind>(yaml).ok().map(|k| k.kind)
}

/// The ScaledJob and CronJob manifests of a directory (like `keda/`), each list by file name.
pub fn discover(dir: &std::path::Path) -> Result<(Vec<std::path::PathBuf>, Vec<std::path::PathBuf>), ManifestError> {
    let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot read {}: {e}", dir.display())))?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let (mut scaled, mut cron) = (Vec::new(), Vec::new());
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
        match kind_of(&text).as_deref() {
            Some("ScaledJob") => scaled.push(path),
            Some("CronJob") => cron.push(path),
            _ => {}
        }
    }
    Ok((scaled, cron))
}

/// Reads and parses a manifest file.
pub fn load(path: &std::path::Path) -> Result<ScaledJob, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    parse(&text).map_err(|e| err(format!("{}: {}", path.display(), e.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYED: &str = include_str!("../../../../keda/scaledjob.yaml");

    /// The committed manifest, read the way the controller reads it.
    #[test]
    fn reads_the_deployed_scaledjob() {
        let sj = parse(DEPLOYED).expect("keda/scaledjob.yaml parses");
        assert_eq!((sj.name.as_str(), sj.namespace.as_str()), ("data-processor", "jobs"));
        assert_eq!(sj.polling_interval, Duration::from_secs(10));
        assert_eq!(
            sj.scaling,
            ScalingSpec {
                strategy: Strategy::Accurate,
                min_replica_count: 0,
                max_replica_count: 50,
                target_per_job: 1.0,
                activation: 0.0
            }
        );
        assert_eq!(sj.pending_pod_conditions, ["PodScheduled", "Ready"]);
        // One trigger per priority queue, high first, summed.
        let urls: Vec<&str> = sj.triggers.iter().map(|t| t.queue_url.as_str()).collect();
        assert!(urls[0].ends_with("/keda-sqs-jobs-high") && urls[1].ends_with("/keda-sqs-jobs"), "{urls:?}");
        assert_eq!(sj.calculation, Calculation::Sum);
        assert!(sj.triggers.iter().all(|t| !t.scale_on_in_flight && !t.scale_on_delayed));
        let job = &sj.job;
        assert!(job.image.ends_with("/keda-sqs-jobs/data-processor:0.1.0"));
        assert_eq!(job.backoff_limit, 0);
        assert_eq!(job.active_deadline, Some(Duration::from_secs(300 + 3600 + 60)));
        assert_eq!(job.termination_grace_period, Duration::from_secs(30));
        assert_eq!((job.cpu_limit_millis, job.memory_limit_bytes), (Some(1000), Some(512 << 20)));
        assert_eq!((job.run_as_user, job.run_as_group), (Some(65532), Some(65532)));
        assert!(job.read_only_root_filesystem && !job.allow_privilege_escalation);
        assert_eq!(job.drop_capabilities, ["ALL"]);
        let env: BTreeMap<_, _> = job.env.iter().cloned().collect();
        for key in ["AWS_REGION", "POOL", "QUEUE_URL", "HIGH_QUEUE_URL", "DLQ_URL", "TABLE_NAME", "MAX_ATTEMPTS"] {
            assert!(env.contains_key(key), "{key} missing from the Job's env");
        }
        assert_eq!(env["MAX_ATTEMPTS"], "3");
        assert!(job.env_from_cluster.is_empty());
        assert_eq!((sj.successful_jobs_history_limit, sj.failed_jobs_history_limit), (10, 20));
    }

    const MINIMAL: &str = r#"
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: w}
spec:
  jobTargetRef:
    template:
      spec:
        containers:
          - name: w
            image: w:1
            env:
              - {name: A, value: "1"}
              - name: SECRET
                valueFrom: {secretKeyRef: {name: s, key: k}}
  triggers:
    - type: aws-sqs-queue
      metadata: {queueURL: "https://sqs/q"}
"#;

    #[test]
    fn keda_and_kubernetes_defaults() {
        let sj = parse(MINIMAL).unwrap();
        assert_eq!(sj.namespace, "default");
        assert_eq!(sj.polling_interval, Duration::from_secs(30));
        assert_eq!(sj.scaling, ScalingSpec { activation: 0.0, ..ScalingSpec::default() });
        assert_eq!(sj.triggers[0].queue_length, 5.0);
        assert!(sj.triggers[0].scale_on_in_flight && !sj.triggers[0].scale_on_delayed);
        assert_eq!(sj.calculation, Calculation::Max);
        assert_eq!(sj.job.backoff_limit, 6);
        assert_eq!(sj.job.active_deadline, None);
        assert_eq!(sj.job.termination_grace_period, Duration::from_secs(30));
        assert_eq!((sj.successful_jobs_history_limit, sj.failed_jobs_history_limit), (100, 100));
        assert_eq!(sj.job.env, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(sj.job.env_from_cluster, ["SECRET"]);
        assert!(sj.job.allow_privilege_escalation && !sj.job.read_only_root_filesystem);
    }

    #[test]
    fn strategies() {
        let with = |strategy: &str| {
            MINIMAL.replace("spec:\n  jobTargetRef", &format!("spec:\n  scalingStrategy: {strategy}\n  jobTargetRef"))
        };
        let table = [
            ("{strategy: eager}", Strategy::Eager),
            ("{strategy: accurate}", Strategy::Accurate),
            ("{strategy: default}", Strategy::Default),
            (
                "{strategy: custom, customScalingQueueLengthDeduction: 1, customScalingRunningJobPercentage: \"0.5\"}",
                Strategy::Custom { queue_length_deduction: 1, running_job_percentage: 0.5 },
            ),
            // KEDA falls back to the default strategy when a custom knob is missing.
            ("{strategy: custom, customScalingQueueLengthDeduction: 1}", Strategy::Default),
        ];
        for (yaml, expected) in table {
            assert_eq!(parse(&with(yaml)).unwrap().scaling.strategy, expected, "{yaml}");
        }
        assert!(parse(&with("{strategy: greedy}")).unwrap_err().0.contains("greedy"));
    }

    #[test]
    fn rejects_what_it_cannot_run() {
        let cases = [
            (MINIMAL.replace("aws-sqs-queue", "kafka"), "aws-sqs-queue triggers"),
            (
                MINIMAL.replace("spec:\n  jobTargetRef", "spec:\n  scalingStrategy: {multipleScalersCalculation: avg}\n  jobTargetRef"),
                "avg",
            ),
            (
                MINIMAL.replace(
                    "      metadata: {queueURL: \"https://sqs/q\"}",
                    "      metadata: {queueURL: \"https://sqs/q\"}\n    - type: aws-sqs-queue\n      metadata: {queueURL: q2, queueLength: \"2\"}",
                ),
                "same queueLength",
            ),
            (MINIMAL.replace("kind: ScaledJob", "kind: ScaledObject"), "ScaledJob"),
            (MINIMAL.replace("queueURL", "queueURLFromEnv"), "queueURL"),
            (MINIMAL.replace("{queueURL: \"https://sqs/q\"}", "{queueURL: q, queueLength: \"0\"}"), "greater than 0"),
            (
                MINIMAL.replace("{queueURL: \"https://sqs/q\"}", "{queueURL: q, scaleOnInFlight: \"yes\"}"),
                "true or false",
            ),
            (
                MINIMAL.replace(
                    "spec:\n  jobTargetRef",
                    "spec:\n  minReplicaCount: 5\n  maxReplicaCount: 2\n  jobTargetRef",
                ),
                "min <= max",
            ),
            (
                MINIMAL.replace("spec:\n  jobTargetRef", "spec:\n  pollingInterval: 0\n  jobTargetRef"),
                "pollingInterval",
            ),
            (
                MINIMAL.replace("image: w:1", "image: w:1\n            resources: {limits: {memory: lots}}"),
                "limits.memory",
            ),
        ];
        for (yaml, needle) in cases {
            let e = parse(&yaml).expect_err(needle);
            assert!(e.0.contains(needle), "{} should mention {needle:?}", e.0);
        }
    }

    #[test]
    fn metric_follows_the_trigger_flags() {
        let depth = Depth { visible: 3, in_flight: 5, delayed: 7 };
        let t = |in_flight, delayed| SqsTrigger {
            queue_url: "q".into(),
            aws_region: None,
            queue_length: 1.0,
            activation_queue_length: 0.0,
            scale_on_in_flight: in_flight,
            scale_on_delayed: delayed,
        };
        assert_eq!(t(false, false).metric(depth), 3);
        assert_eq!(t(true, false).metric(depth), 8);
        assert_eq!(t(false, true).metric(depth), 10);
        assert_eq!(t(true, true).metric(depth), 15);
    }

    #[test]
    fn triggers_combine_by_the_calculation_and_queues_are_rebased() {
        let mut sj = parse(DEPLOYED).unwrap();
        let (high, normal) = (Depth { visible: 2, in_flight: 9, delayed: 1 }, Depth { visible: 5, ..Depth::default() });
        assert_eq!(sj.metric(&[high, normal]), 7, "summed; in flight and delayed not counted");
        sj.calculation = Calculation::Max;
        assert_eq!(sj.metric(&[high, normal]), 5);
        let local = Queues::from_default_url("http://127.0.0.1:4566/000000000000/t1").unwrap();
        let long = load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../keda/scaledjob-long.yaml")));
        let mut long = long.unwrap();
        long.localize(&local).unwrap();
        let urls: Vec<&str> = long.triggers.iter().map(|t| t.queue_url.as_str()).collect();
        assert_eq!(
            urls,
            ["http://127.0.0.1:4566/000000000000/t1-long-high", "http://127.0.0.1:4566/000000000000/t1-long"]
        );
        let env: BTreeMap<_, _> = long.job.env.iter().cloned().collect();
        assert_eq!(env["QUEUE_URL"], "http://127.0.0.1:4566/000000000000/t1-long");
        assert_eq!(env["HIGH_QUEUE_URL"], "http://127.0.0.1:4566/000000000000/t1-long-high");
        assert_eq!(env["DLQ_URL"], "http://127.0.0.1:4566/000000000000/t1-long-dlq");
        assert_eq!(env["TABLE_NAME"], "keda-sqs-jobs", "only the queues move");
        // A trigger that measures a queue the Job does not take from is refused.
        sj.triggers[0].queue_url = "https://sqs.eu-west-1.amazonaws.com/1/other".into();
        assert!(sj.localize(&local).unwrap_err().0.contains("neither"));
        // A ScaledJob whose Job names no queue measures the local default queue.
        let mut minimal = parse(MINIMAL).unwrap();
        minimal.localize(&local).unwrap();
        assert_eq!(minimal.triggers[0].queue_url, "http://127.0.0.1:4566/000000000000/t1");
    }

    /// Every pool's committed ScaledJob carries the deadlines jobs-core derives from the config.
    #[test]
    fn each_pools_manifest_follows_the_config() {
        for pool in jobs_core::pools::pools().iter() {
            let file = if pool.name == jobs_core::pools::DEFAULT_POOL {
                "scaledjob".into()
            } else {
                format!("scaledjob-{}", pool.name)
            };
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../keda/").to_owned() + &file + ".yaml";
            let sj = load(std::path::Path::new(&path)).unwrap();
            let timing = pool.timing();
            assert_eq!(sj.job.active_deadline, Some(timing.active_deadline), "{}", pool.name);
            let env: BTreeMap<_, _> = sj.job.env.iter().cloned().collect();
            assert_eq!(env["ATTEMPT_TIMEOUT_SECS"], timing.attempt_timeout.as_secs().to_string(), "{}", pool.name);
            assert_eq!(env["POOL"], pool.name);
            assert_eq!(sj.scaling.max_replica_count, i64::from(pool.config.max_replicas));
            assert_eq!(sj.polling_interval.as_secs(), u64::from(pool.config.polling_interval_secs));
            assert_eq!(
                env.get("DRAIN").map(String::as_str),
                matches!(pool.config.execution, jobs_core::pools::Execution::Drain { .. }).then_some("true")
            );
        }
    }

    /// Each command kind's committed ScaledJob: its pool's deadlines and shape, the init
    /// container that copies the worker beside the command, `/tmp` on an emptyDir, and queues
    /// that localize to the kind's own lane (dead letters to its pool's).
    #[test]
    fn each_command_kinds_manifest_runs_its_image_with_the_worker_beside_it() {
        let local = Queues::from_default_url("http://127.0.0.1:4566/000000000000/t1").unwrap();
        for lane in jobs_core::catalog::lanes().iter().filter(|l| l.command) {
            let path = format!("{}/../../keda/scaledjob-{}.yaml", env!("CARGO_MANIFEST_DIR"), lane.name);
            let mut sj = load(std::path::Path::new(&path)).unwrap();
            let pool = jobs_core::pools::pools().get(lane.pool).unwrap();
            assert_eq!(sj.job.active_deadline, Some(pool.timing().active_deadline), "{}", lane.name);
            let init = sj.job.init.clone().expect("an init container");
            assert_eq!(
                (init.args.as_slice(), init.shared_path.as_str()),
                (["install", "/jobs/bin/data-processor"].map(String::from).as_slice(), "/jobs/bin")
            );
            assert_eq!(sj.job.command, Some(vec!["/jobs/bin/data-processor".to_owned()]));
            assert_eq!(sj.job.scratch_mounts, ["/tmp"]);
            assert!(sj.job.read_only_root_filesystem && sj.job.run_as_user == Some(65532));
            assert_ne!(sj.job.image, init.image, "the kind's own image, the worker's in the init container");
            assert_eq!(sj.job.lane(), (lane.name.to_owned(), lane.pool.to_owned()));
            sj.localize(&local).unwrap();
            let env: BTreeMap<_, _> = sj.job.env.iter().cloned().collect();
            let at = |name: &str| format!("http://127.0.0.1:4566/000000000000/{name}");
            assert_eq!(env["QUEUE_URL"], at(&format!("t1-{}", lane.name)));
            assert_eq!(env["HIGH_QUEUE_URL"], at(&format!("t1-{}-high", lane.name)));
            assert_eq!(env["DLQ_URL"], local.dlq_url(lane.pool));
            let urls: Vec<&str> = sj.triggers.iter().map(|t| t.queue_url.as_str()).collect();
            assert_eq!(urls, [env["HIGH_QUEUE_URL"].as_str(), env["QUEUE_URL"].as_str()]);
        }
    }
}
