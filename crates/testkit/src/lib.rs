//! Test harness: a real AWS-API endpoint (an emulator process on a free port, or an external one
//! such as LocalStack) and a freshly provisioned, uniquely named queue + DLQ + table + schedule
//! group per test.
//!
//! `EMULATOR=ministack` (default), `moto` or `external` (with `AWS_ENDPOINT_URL`) picks the
//! endpoint. Emulator executables come from the project's virtualenv (`.venv/bin`, made by
//! `make venv`) unless `MINISTACK_BIN` / `MOTO_BIN` name them. docs/testing.md has the details.

pub mod api;
mod emulator;
mod stack;
pub mod sweep;

use std::path::PathBuf;

pub use api::Api;
pub use emulator::{Emulator, Feature, Kind, REGION, free_port, parse_features};
pub use stack::{Queued, RESOURCE_PREFIX_VAR, Stack, resource_prefix};

/// The role schedules use in tests (emulators do not check it).
pub const SCHEDULER_ROLE_ARN: &str = "arn:aws:iam::000000000000:role/keda-sqs-jobs-scheduler";

/// A binary of another workspace package, built next to the running test binary
/// (`cargo nextest run --workspace` and `cargo test --workspace` build them all).
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile dir");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built; run the tests with --workspace", path.display());
    path
}
