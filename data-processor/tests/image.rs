//! The data-processor container image, run by a real engine (docker or podman) against a real
//! emulator: one job end to end, as a non-root user on a read-only root filesystem.
//!
//! Needs a built image, so it is ignored by a plain `cargo test`; `make test-image` builds the
//! image and runs it with `IMAGE` and `CONTAINER_ENGINE` set.

use std::process::Command;

use jobs_core::JobStatus;
use serde_json::json;
use testkit::Stack;

/// The size budget for the runtime image.
const MAX_IMAGE_BYTES: u64 = 20_000_000;

fn required(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| panic!("{var} must be set (run through `make test-image`)"))
}

fn engine_output(engine: &str, args: &[&str]) -> String {
    let out = Command::new(engine).args(args).output().unwrap_or_else(|e| panic!("run {engine}: {e}"));
    assert!(out.status.success(), "{engine} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs the container image: run by `make test-image`"]
async fn image_runs_one_job_end_to_end_as_non_root_on_a_read_only_root() {
    let engine = required("CONTAINER_ENGINE");
    let image = required("IMAGE");

    let user = engine_output(&engine, &["image", "inspect", "--format", "{{.Config.User}}", &image]);
    let uid = user.split(':').next().unwrap_or_default();
    assert!(!uid.is_empty() && uid != "0" && uid != "root", "image user must be non-root, got {user:?}");
    assert!(uid.parse::<u32>().is_ok(), "image user must be numeric (runAsNonRoot checks it), got {user:?}");
    let size: u64 = engine_output(&engine, &["image", "inspect", "--format", "{{.Size}}", &image]).parse().unwrap();
    eprintln!("image {image}: {size} bytes ({:.1} MB), user {user}", size as f64 / 1e6);
    assert!(size <= MAX_IMAGE_BYTES, "image is {size} bytes, budget {MAX_IMAGE_BYTES}");

    let stack = Stack::start().await;
    let msg = stack.submit("aggregate", json!({ "records": 50000, "seed": 7 })).await;

    // The emulator is reached by a host name, so the static binary's name resolution is exercised.
    let port = stack.emulator.endpoint.rsplit(':').next().unwrap().to_owned();
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--network",
        "host",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--add-host",
        "aws-emulator:127.0.0.1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, v) in stack.worker_env() {
        let v = if k == "AWS_ENDPOINT_URL" { format!("http://aws-emulator:{port}") } else { v };
        args.extend(["--env".into(), format!("{k}={v}")]);
    }
    args.extend(["--env".into(), "WAIT_TIME_SECS=2".into(), "--env".into(), "LOG_FORMAT=text".into(), image.clone()]);
    let out = Command::new(&engine).args(&args).output().expect("run the image");
    eprintln!("--- container log ---\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "the container must exit 0 after running the job");

    let rec = stack.store.get(&msg.job_id).await.expect("read job").expect("job recorded");
    assert_eq!(rec.state.status, JobStatus::Succeeded, "{rec:?}");
    assert_eq!(rec.state.attempts, 1);
    let stats = stack.store.stats().await.expect("stats");
    assert_eq!((stats.submitted, stats.succeeded, stats.failed, stats.retries), (1, 1, 0, 0));
}
