//! Test harness: a real AWS-API emulator process on a free port, stopped when dropped, and a
//! freshly provisioned queue + DLQ + table per test.
//!
//! `EMULATOR=ministack` (default) or `EMULATOR=moto` picks the emulator. Executables come from the
//! project's virtualenv (`.venv/bin`, made by `make venv`) unless `MINISTACK_BIN` / `MOTO_BIN`
//! name them.

pub mod api;

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::Utc;
use jobs_aws::provision::{self, Provisioned};
use jobs_aws::{JobQueue, JobStore};
use jobs_core::{JobMessage, state};

pub use api::Api;

pub const REGION: &str = "us-east-1";
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ministack,
    Moto,
}

/// A running emulator. Killed (and reaped) on drop.
pub struct Emulator {
    child: Child,
    pub kind: Kind,
    pub endpoint: String,
    pub log: PathBuf,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

fn bin(var: &str, name: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => workspace_root().join(".venv/bin").join(name),
    }
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Emulator {
    /// Starts the emulator chosen by `EMULATOR` on a free port and waits until it answers.
    pub fn start() -> Emulator {
        let kind = match std::env::var("EMULATOR").as_deref() {
            Ok("moto") => Kind::Moto,
            Ok("ministack") | Err(_) => Kind::Ministack,
            Ok(other) => panic!("EMULATOR must be ministack or moto, got {other:?}"),
        };
        let port = free_port();
        let log = std::env::temp_dir().join(format!("emulator-{port}.log"));
        let out = std::fs::File::create(&log).expect("emulator log file");
        let mut cmd = match kind {
            Kind::Ministack => {
                let mut c = Command::new(bin("MINISTACK_BIN", "ministack"));
                c.env("GATEWAY_PORT", port.to_string())
                    .env("BIND_HOST", "127.0.0.1")
                    .env("SERVICES", "sqs,dynamodb,scheduler")
                    .env("LOG_LEVEL", "WARNING");
                c
            }
            Kind::Moto => {
                let mut c = Command::new(bin("MOTO_BIN", "moto_server"));
                c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                c
            }
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {kind:?} ({e}); run `make venv` first"));
        let mut emulator = Emulator { child, kind, endpoint: format!("http://127.0.0.1:{port}"), log };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = emulator.child.try_wait() {
                panic!("{kind:?} exited with {status}: {}", std::fs::read_to_string(&emulator.log).unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "{kind:?} did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        emulator
    }

    /// Environment that points the AWS SDK (and so the worker binary) at this emulator.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    pub fn sdk_config(&self) -> SdkConfig {
        let creds = aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "testkit");
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(creds))
            .build()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An emulator with a queue, DLQ and table provisioned like the CDK stack.
pub struct Stack {
    pub emulator: Emulator,
    pub sdk: SdkConfig,
    pub resources: Provisioned,
    pub queue: JobQueue,
    pub store: JobStore,
    pub sqs: aws_sdk_sqs::Client,
}

impl Stack {
    pub async fn start() -> Stack {
        let emulator = Emulator::start();
        let sdk = emulator.sdk_config();
        let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let resources =
            provision::ensure(&sdk, &format!("jobs-{suffix}"), &format!("jobs-{suffix}"), &format!("jobs-{suffix}"))
                .await
                .unwrap_or_else(|e| panic!("provisioning failed: {e}"));
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue = JobQueue::new(sqs.clone(), &resources.queue_url, Some(resources.dlq_url.clone()));
        let store = JobStore::new(aws_sdk_dynamodb::Client::new(&sdk), &resources.table);
        Stack { emulator, sdk, resources, queue, store, sqs }
    }

    /// What the API does: record the job QUEUED (+submitted), then send its message.
    pub async fn submit(&self, kind: &str, payload: serde_json::Value) -> JobMessage {
        let msg = JobMessage::new_api(kind, payload, Utc::now());
        self.store
            .apply(&msg.job_id, Some(&msg), &state::submit(Utc::now()), &jobs_aws::store::token())
            .await
            .expect("record job");
        self.queue.send(&msg.to_body()).await.expect("send job");
        msg
    }

    /// The environment for a worker bound to this stack.
    pub fn worker_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.emulator.env();
        env.push(("QUEUE_URL", self.resources.queue_url.clone()));
        env.push(("DLQ_URL", self.resources.dlq_url.clone()));
        env.push(("TABLE_NAME", self.resources.table.clone()));
        env
    }

    /// The environment for the API bound to this stack.
    pub fn api_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.emulator.env();
        env.push(("QUEUE_URL", self.resources.queue_url.clone()));
        env.push(("TABLE_NAME", self.resources.table.clone()));
        env.push(("SCHEDULE_GROUP", self.resources.schedule_group.clone()));
        env.push(("SCHEDULER_ROLE_ARN", SCHEDULER_ROLE_ARN.into()));
        env
    }

    /// Receives (and deletes) every message on the dead-letter queue: (body, failureReason).
    pub async fn drain_dlq(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.resources.dlq_url)
                .max_number_of_messages(10)
                .message_attribute_names("All")
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive from DLQ");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return found;
            }
            for m in messages {
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get("failureReason"))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned();
                found.push((m.body().unwrap_or_default().to_owned(), reason));
                self.sqs
                    .delete_message()
                    .queue_url(&self.resources.dlq_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete from DLQ");
            }
        }
    }

    /// A queue attribute as a number.
    pub async fn queue_attribute(&self, name: QueueAttributeName) -> u64 {
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.resources.queue_url)
            .attribute_names(name.clone())
            .send()
            .await
            .expect("queue attributes");
        out.attributes.and_then(|a| a.get(&name).and_then(|v| v.parse().ok())).unwrap_or(0)
    }
}
