//! Command line: `run` (the controller) and `status` (the status line).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::manifest::JobTemplate;

/// A local stand-in for KEDA's ScaledJob controller: scales every ScaledJob of keda/ (one per
/// pool) on its SQS queues and runs each Job as a container (Docker Engine API) or a process; runs
/// keda/'s CronJobs too.
#[derive(Debug, Parser)]
#[command(name = "local-scaledjob", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller until SIGTERM/SIGINT, then stop every Job it started.
    Run(Run),
    /// Print the status line (queued, in flight, running Jobs, succeeded, failed, retries).
    Status(Status),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExecutorKind {
    /// A container when a Docker API endpoint answers and has the image, else a process.
    Auto,
    Container,
    Process,
}

#[derive(Debug, Args)]
pub struct Run {
    /// A ScaledJob manifest to run (repeatable); without one, every ScaledJob of --dir.
    #[arg(long = "manifest", value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,

    /// The directory deployed to the cluster: without --manifest, every ScaledJob in it runs,
    /// and every CronJob in it too (besides those given with --cronjob).
    #[arg(long, env = "MANIFESTS_DIR", default_value = "keda")]
    pub dir: PathBuf,

    /// The local stack's default pool's queue: the manifests' queues (which name the cloud's) are
    /// replaced by the local queues of the same pool and priority, named after it.
    #[arg(long, env = "QUEUE_URL")]
    pub queue_url: Option<String>,

    /// Set (or add) a variable in every Job's environment: NAME=VALUE, repeatable.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,

    /// How Jobs run.
    #[arg(long, env = "EXECUTOR", value_enum, default_value_t = ExecutorKind::Auto)]
    pub executor: ExecutorKind,

    /// Image for container Jobs (replaces the manifest's registry image).
    #[arg(long, env = "IMAGE", default_value = "localhost/keda-sqs-jobs/data-processor:dev")]
    pub image: String,

    /// Docker API endpoint (unix:///path/to.sock); default DOCKER_HOST, then the docker and podman sockets.
    #[arg(long)]
    pub docker_host: Option<String>,

    /// The worker binary for process Jobs; default: data-processor next to this binary.
    #[arg(long, env = "WORKER_BIN")]
    pub worker_bin: Option<PathBuf>,

    /// Directory for each pod's log file.
    #[arg(long, env = "LOGS_DIR", default_value = ".local/jobs")]
    pub logs_dir: PathBuf,

    /// Days a pod's log file is kept after its last write: as long as the job records that link
    /// it (the worker's JOB_RETENTION_DAYS).
    #[arg(long, env = "JOB_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub logs_retention_days: u64,

    /// Where GET /state (JSON) and GET /healthz are served.
    #[arg(long, env = "STATE_ADDR", default_value = "127.0.0.1:8089")]
    pub state_addr: SocketAddr,

    /// A CronJob manifest of keda/ to run too (repeatable), e.g. keda/cronjob.yaml (the reconciler).
    #[arg(long = "cronjob", value_name = "MANIFEST")]
    pub cronjobs: Vec<PathBuf>,

    /// Start each CronJob's first Job at once, as `kubectl create job --from=cronjob/NAME` does,
    /// instead of waiting for its first scheduled time.
    #[arg(long)]
    pub start_cronjobs: bool,

    /// Override the manifest's pollingInterval (seconds), e.g. for a quicker demo.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub polling_interval: Option<u64>,
}

#[derive(Debug, Args)]
pub struct Status {
    /// The job API's base URL.
    #[arg(long, env = "API_URL", default_value = "http://127.0.0.1:3000")]
    pub api: String,
    /// The controller's base URL.
    #[arg(long, env = "CONTROLLER_URL", default_value = "http://127.0.0.1:8089")]
    pub controller: String,
    /// Bearer token for the API, when it requires one.
    #[arg(long, env = "API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print one line and exit.
    #[arg(long)]
    pub once: bool,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !name.contains(char::is_whitespace) => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// The Jobs' environment: the manifest's variables in order, each replaced by an override of the
/// same name, then the remaining overrides. Variables the manifest takes from the cluster
/// (`valueFrom`) must be overridden.
pub fn job_env(template: &JobTemplate, overrides: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let missing: Vec<&str> = template
        .env_from_cluster
        .iter()
        .filter(|name| !overrides.iter().any(|(k, _)| k == *name))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the manifest takes {} from the cluster (valueFrom); give them with --env NAME=VALUE",
            missing.join(", ")
        ));
    }
    let mut env = template.env.clone();
    for (k, v) in overrides {
        if let Some(slot) = env.iter_mut().find(|(name, _)| name == k) {
            slot.1 = v.clone();
        } else {
            env.push((k.clone(), v.clone()));
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_default_to_every_scaledjob_of_the_directory() {
        let run = Cli::try_parse_from(["local-scaledjob", "run"]).unwrap();
        let Command::Run(run) = run.command else { panic!("run") };
        assert!(run.manifests.is_empty());
        assert_eq!(run.dir, PathBuf::from("keda"));
        let run =
            Cli::try_parse_from(["local-scaledjob", "run", "--manifest", "a.yaml", "--manifest", "b.yaml"]).unwrap();
        let Command::Run(run) = run.command else { panic!("run") };
        assert_eq!(run.manifests, [PathBuf::from("a.yaml"), PathBuf::from("b.yaml")]);
    }

    fn template(env: &[(&str, &str)], from_cluster: &[&str]) -> JobTemplate {
        let sj = crate::manifest::parse(include_str!("../../../keda/scaledjob.yaml")).unwrap();
        JobTemplate {
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            env_from_cluster: from_cluster.iter().map(|s| s.to_string()).collect(),
            ..sj.job
        }
    }
    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn overrides_replace_in_place_and_add_at_the_end() {
        let t = template(&[("AWS_REGION", "eu-west-1"), ("QUEUE_URL", "https://cloud/q"), ("RUST_LOG", "info")], &[]);
        let env = job_env(
            &t,
            &pairs(&[
                ("QUEUE_URL", "http://127.0.0.1:4566/q"),
                ("AWS_ENDPOINT_URL", "http://e"),
                ("QUEUE_URL", "last"),
            ]),
        )
        .unwrap();
        assert_eq!(
            env,
            pairs(&[
                ("AWS_REGION", "eu-west-1"),
                ("QUEUE_URL", "last"),
                ("RUST_LOG", "info"),
                ("AWS_ENDPOINT_URL", "http://e")
            ])
        );
    }

    #[test]
    fn cluster_values_must_be_given() {
        let t = template(&[], &["API_KEY", "DB_PASSWORD"]);
        let e = job_env(&t, &pairs(&[("API_KEY", "x")])).unwrap_err();
        assert!(e.contains("DB_PASSWORD") && !e.contains("API_KEY"), "{e}");
        assert!(job_env(&t, &pairs(&[("API_KEY", "x"), ("DB_PASSWORD", "y")])).is_ok());
    }

    #[test]
    fn env_flag_syntax() {
        assert_eq!(parse_env("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(parse_env("A="), Ok(("A".into(), "".into())));
        assert!(parse_env("=x").is_err() && parse_env("novalue").is_err() && parse_env("A B=1").is_err());
    }
}
