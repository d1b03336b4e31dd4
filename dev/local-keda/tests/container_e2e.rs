//! End to end with the container executor: each Job is a fresh container of the project's image,
//! created through the Docker Engine API (dockerd, or `podman system service` started here).
//!
//! Needs a container engine and the image: `make test-image` builds it and runs this with
//! CONTAINER_ENGINE (docker|podman) and IMAGE set.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Controller, expected_outcomes, submit_mix, wait_until_settled};
use testkit::Stack;

/// `podman system service` on a private socket, stopped on drop; nothing for docker.
struct DockerApi {
    child: Option<std::process::Child>,
    host: Option<String>,
}

impl DockerApi {
    fn start(engine: &str) -> DockerApi {
        if engine != "podman" {
            return DockerApi { child: None, host: None };
        }
        let sock = std::env::temp_dir().join(format!("podman-{}.sock", uuid::Uuid::new_v4().simple()));
        let host = format!("unix://{}", sock.display());
        // The project's runc and ulimit settings, as `make` exports them.
        let conf = std::env::var_os("CONTAINERS_CONF")
            .unwrap_or_else(|| common::workspace_root().join("tools/container/containers.conf").into());
        let child = Command::new("podman")
            .args(["system", "service", "--time=0", &host])
            .env("CONTAINERS_CONF", conf)
            .stdin(Stdio::null())
            .spawn()
            .expect("podman system service");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "podman's API socket did not appear");
            std::thread::sleep(Duration::from_millis(100));
        }
        DockerApi { child: Some(child), host: Some(host) }
    }
}

impl Drop for DockerApi {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn engine_lines(engine: &str, args: &[&str]) -> Vec<String> {
    let out = Command::new(engine).args(args).output().expect("container engine CLI");
    assert!(out.status.success(), "{engine} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()
}

/// What each test here runs on: the engine (`make test-image` names it and the image), its API,
/// a stack, and a directory for the pods' logs.
struct Setup {
    engine: String,
    image: String,
    docker_api: DockerApi,
    stack: Stack,
    logs: std::path::PathBuf,
}

impl Setup {
    async fn new() -> Setup {
        let engine = std::env::var("CONTAINER_ENGINE").expect("CONTAINER_ENGINE=docker|podman");
        let image = std::env::var("IMAGE").expect("IMAGE");
        let docker_api = DockerApi::start(&engine);
        let stack = Stack::start().await;
        let logs = std::env::temp_dir().join(format!("e2e-container-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&logs).unwrap();
        Setup { engine, image, docker_api, stack, logs }
    }

    /// The controller with the container executor, for every ScaledJob of `keda/` or `manifest`.
    async fn controller(&self, manifest: Option<&std::path::Path>) -> Controller {
        let mut args = vec!["--executor", "container", "--image", &self.image];
        if let Some(host) = &self.docker_api.host {
            args.extend(["--docker-host", host]);
        }
        Controller::start(&self.stack, &args, &self.logs, manifest).await
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a container engine and the image: make test-image"]
async fn mixed_jobs_with_the_container_executor() {
    let setup = Setup::new().await;
    let (engine, image, stack) = (&setup.engine, &setup.image, &setup.stack);
    let api = common::api(stack).await;
    let controller = setup.controller(None).await;
    let label = format!("label=io.keda-sqs-jobs.local/queue={}", stack.resources.queue_url);

    let submitted = submit_mix(&api, 7).await;
    let (want, attempts) = expected_outcomes(&submitted);
    let state = wait_until_settled(&api, &controller, submitted.len() as u64, Duration::from_secs(180)).await;

    assert_eq!(state["executor"], "container");
    let stats = api.get("/jobs/stats").await.1;
    assert_eq!(
        (&stats["succeedJob"], &stats["failedJob"], &stats["jobRetry"]),
        (&want.succeeded.into(), &want.failed.into(), &want.retries.into()),
        "{stats}"
    );
    for (id, kind, status, n) in &submitted.expect_each() {
        let job = api.get(&format!("/jobs/{id}")).await.1;
        assert_eq!((&job["status"], &job["attempts"]), (&(*status).into(), &(*n).into()), "{kind} {id}: {job}");
    }
    assert_eq!(state["totals"]["jobsCreated"], attempts, "one Job per delivery: {}", state["totals"]);

    // One container per Job, kept like a finished pod, run the way its pool's manifest says.
    let containers = engine_lines(engine, &["ps", "-a", "-q", "--filter", &label]);
    assert_eq!(containers.len() as u64, attempts, "{containers:?}");
    let mut format = String::from("{{index .Config.Labels \"");
    format.push_str(local_keda::executor::container::LABEL_SCALEDJOB);
    format.push_str("\"}} {{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.NetworkMode}}");
    let mut args = vec!["inspect", "--format", format.as_str()];
    args.extend(containers.iter().map(String::as_str));
    let mut pools_seen = std::collections::BTreeSet::new();
    for line in engine_lines(engine, &args) {
        let (scaled_job, run_as) = line.split_once(' ').unwrap();
        let lane = match scaled_job.strip_prefix("data-processor") {
            Some("") => jobs_core::pools::DEFAULT_POOL,
            Some(suffix) => suffix.trim_start_matches('-'),
            None => panic!("a container of an unknown ScaledJob: {line}"),
        };
        let lane = jobs_core::catalog::lanes().iter().find(|l| l.name == lane).expect("a lane");
        let pool = jobs_core::pools::pools().get(lane.pool).expect("a declared pool");
        let memory = jobs_core::quantity::bytes(&pool.config.memory.limit).unwrap();
        let nano_cpus = jobs_core::quantity::cpu_millis(&pool.config.cpu.limit).unwrap() * 1_000_000;
        assert_eq!(run_as, format!("65532:65532 true {memory} {nano_cpus} host"), "{scaled_job}");
        pools_seen.insert(pool.name.clone());
    }
    assert!(pools_seen.len() >= 3, "the mix ran in several pools, each with its own shape: {pools_seen:?}");
    // A command kind's pod ran its own image, with the worker its init container put beside it.
    let mut images = vec!["inspect", "--format", "{{.Config.Image}}"];
    images.extend(containers.iter().map(String::as_str));
    let images = engine_lines(engine, &images);
    let examples = format!("{}/examples:{}", image.rsplit_once('/').unwrap().0, image.rsplit_once(':').unwrap().1);
    assert!(images.iter().any(|i| i.contains(&examples)), "{examples} in {images:?}");
    for job in state["jobs"].as_array().unwrap() {
        let log = std::fs::read_to_string(job["log"].as_str().unwrap()).unwrap();
        assert!(log.contains("worker done"), "the container's output is in its log file: {log}");
    }

    assert_eq!(controller.stop().await, Some(0));
    assert!(
        engine_lines(engine, &["ps", "-a", "-q", "--filter", &label]).is_empty(),
        "the controller removes its containers when it stops"
    );
}

/// A command kind whose image the engine does not have (a tag never pushed): its pods cannot
/// start, as `ErrImageNeverPull` in a cluster, and stay pending with the reason; the reconciler
/// ends the job FAILED after the lane's start deadline instead of leaving it QUEUED forever.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a container engine and the image: make test-image"]
async fn a_command_kind_whose_image_is_missing_fails_its_job_after_the_deadline() {
    let setup = Setup::new().await;
    let (engine, stack) = (&setup.engine, &setup.stack);
    let api = testkit::Api::start(stack, &testkit::workspace_binary("api-lambda"), &[("STALE_AFTER_SECS", "1")]).await;
    let manifest =
        common::manifest_with("scaledjob-shell.yaml", &[("keda-sqs-jobs/examples:", "keda-sqs-jobs/never-pushed:")]);
    let controller = setup.controller(Some(&manifest)).await;

    let (status, out) = api.post("/jobs", serde_json::json!({"job": "shell", "payload": {"seconds": 0}})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{out}");
    let id = out["jobId"].as_str().unwrap().to_owned();
    // The controller starts a Job for the message; its pod cannot start, and says why.
    let deadline = Instant::now() + Duration::from_secs(30);
    let waiting = loop {
        let state = controller.state().await;
        let why = state["jobs"].as_array().into_iter().flatten().find_map(|j| j["waiting"].as_str().map(str::to_owned));
        if let Some(why) = why {
            break why;
        }
        assert!(Instant::now() < deadline, "no pod waiting for its image: {state}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(waiting.contains("ErrImageNeverPull") && waiting.contains("never-pushed"), "{waiting}");

    // Past the (shortened) deadline, with nothing of the lane in flight: FAILED, with the reason.
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let out = Command::new(testkit::workspace_binary("data-processor"))
            .arg("reconcile")
            .env_clear()
            .envs(stack.worker_env())
            .envs([("STALE_AFTER_SECS", "1"), ("START_DEADLINE_SECS", "2"), ("METRICS", "off")])
            .output()
            .expect("reconcile");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let job = api.get(&format!("/jobs/{id}")).await.1;
        if job["status"] == "FAILED" {
            break job;
        }
        assert!(Instant::now() < deadline, "the job was never ended: {job}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let reason = job["lastError"].as_str().unwrap();
    assert!(reason.starts_with("not started within 2 s") && reason.contains("lane `shell`"), "{reason}");
    assert_eq!(job["attempts"], 0, "{job}");
    let stats = api.get("/jobs/stats").await.1;
    assert_eq!((&stats["submitted"], &stats["failedJob"]), (&1.into(), &1.into()), "{stats}");
    let label = format!("label=io.keda-sqs-jobs.local/queue={}", stack.resources.queue_url);
    assert!(engine_lines(engine, &["ps", "-a", "-q", "--filter", &label]).is_empty(), "no container was created");
    assert_eq!(controller.stop().await, Some(0));
}
