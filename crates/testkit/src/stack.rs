//! A [`Stack`]: an endpoint plus the resources one test owns, provisioned like the CDK stack under
//! unique names. On an external endpoint the resources are deleted when the stack is dropped, also
//! when the test panics; a killed test leaves them to `test-resources --delete` (same prefix).

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use std::time::Duration;

use chrono::Utc;
use jobs_aws::provision::{self, Provisioned};
use jobs_aws::{JobQueue, JobStore, PoolQueues};
use jobs_core::JobMessage;
use jobs_core::pools::Priority;

use crate::{Emulator, Kind, SCHEDULER_ROLE_ARN};

/// Names every resource a test creates: `<prefix><8 hex>` (`<name>-dlq` for the DLQ).
pub const RESOURCE_PREFIX_VAR: &str = "TEST_RESOURCE_PREFIX";

/// The prefix of test resource names (`TEST_RESOURCE_PREFIX`, default `jobs-`): letters, digits
/// and `-`, at most 40 characters, so every name fits SQS, DynamoDB and Scheduler limits.
pub fn resource_prefix() -> String {
    let prefix = std::env::var(RESOURCE_PREFIX_VAR).unwrap_or_else(|_| "jobs-".into());
    assert!(
        !prefix.is_empty() && prefix.len() <= 40 && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "{RESOURCE_PREFIX_VAR} must be 1-40 letters, digits or '-', got {prefix:?}"
    );
    prefix
}

/// An emulator with a queue, DLQ and table provisioned like the CDK stack.
pub struct Stack {
    pub emulator: Emulator,
    pub sdk: SdkConfig,
    pub resources: Provisioned,
    /// The default pool's normal queue.
    pub queue: JobQueue,
    /// Every pool's queues.
    pub queues: PoolQueues,
    pub store: JobStore,
    pub sqs: aws_sdk_sqs::Client,
}

/// A message found on a job queue by [`Stack::queued`].
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The queue's lane (a pool, a command kind) and priority.
    pub lane: String,
    pub priority: Priority,
    pub body: serde_json::Value,
    /// Its `MessageGroupId` (the job's tenant).
    pub group: Option<String>,
}

impl Stack {
    /// A stack on the endpoint `EMULATOR` picks, named with [`resource_prefix`].
    pub async fn start() -> Stack {
        Stack::start_on(Emulator::start(), &resource_prefix()).await
    }

    /// A stack on `emulator`, its resources named `<prefix><8 hex>`.
    pub async fn start_on(emulator: Emulator, prefix: &str) -> Stack {
        let sdk = emulator.sdk_config();
        let name = format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let resources = provision::ensure(&sdk, &name, &name, &name)
            .await
            .unwrap_or_else(|e| panic!("provisioning {name} on {} failed: {e}", emulator.endpoint));
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue = JobQueue::new(sqs.clone(), &resources.queue_url, Some(resources.dlq_url.clone()));
        let store = JobStore::new(aws_sdk_dynamodb::Client::new(&sdk), &resources.table);
        let queues = PoolQueues::new(&sqs, &resources.queue_url, jobs_core::pools::pools()).expect("queue names");
        Stack { emulator, sdk, resources, queue, queues, store, sqs }
    }

    /// What the API does: record the job QUEUED (+submitted), then send its message, here to
    /// the default pool's queue whatever the kind (so one default-pool worker runs any Rust
    /// kind in a test); [`Stack::submit_routed`] sends it where the API would.
    pub async fn submit(&self, kind: &str, payload: serde_json::Value) -> JobMessage {
        let msg = JobMessage::new_api(kind, payload, Utc::now());
        // As the local API records a job submitted without a token.
        let recorded = self
            .store
            .submit(&msg, jobs_core::submitter::LOCAL, None, &jobs_aws::store::Seat::Free)
            .await
            .expect("record job");
        assert_eq!(recorded, jobs_aws::Conditional::Applied(jobs_aws::Submitted::Created));
        self.queue.send(&msg.to_body()).await.expect("send job");
        msg
    }

    /// [`Stack::submit`], onto the queue the API sends a job of `kind` to: its lane's (its
    /// pool's, or a command kind's own), normal priority.
    pub async fn submit_routed(&self, kind: &str, payload: serde_json::Value) -> JobMessage {
        let msg = JobMessage::new_api(kind, payload, Utc::now());
        let recorded = self
            .store
            .submit(&msg, jobs_core::submitter::LOCAL, None, &jobs_aws::store::Seat::Free)
            .await
            .expect("record job");
        assert_eq!(recorded, jobs_aws::Conditional::Applied(jobs_aws::Submitted::Created));
        self.queues.for_job(kind, Priority::Normal).send(&msg.to_body()).await.expect("send job");
        msg
    }

    /// What an API that died after recording a job leaves: the job QUEUED (+submitted), due
    /// `send_grace` after it was recorded, its message never sent (the reconciler's to send).
    pub async fn record_unsent(&self, kind: &str, payload: serde_json::Value, send_grace: Duration) -> JobMessage {
        let msg = JobMessage::new_api(kind, payload, Utc::now());
        let tr = jobs_core::state::submit(Utc::now());
        let timing = jobs_core::reconcile::Timing { send_grace, ..Default::default() };
        let store = self.store.clone().with_timing(timing);
        let recorded = store.apply(&msg.job_id, None, None, Some(&msg), &tr, &store.token()).await.expect("record job");
        assert!(recorded.is_applied(), "a new job's id is free");
        msg
    }

    /// The environment for a worker of the default pool bound to this stack.
    pub fn worker_env(&self) -> Vec<(&'static str, String)> {
        self.pool_env(jobs_core::pools::DEFAULT_POOL)
    }

    /// The environment for a worker of lane `lane` (a pool, or a command kind), as its
    /// ScaledJob sets it: its queues (high first), its pool's dead-letter queue, its pool's name.
    pub fn pool_env(&self, lane: &str) -> Vec<(&'static str, String)> {
        let pool = jobs_core::catalog::lanes().iter().find(|l| l.name == lane).map_or(lane, |l| l.pool);
        let mut env = self.emulator.env();
        env.push(("QUEUE_URL", self.queues.get(lane, Priority::Normal).url().to_owned()));
        env.push(("HIGH_QUEUE_URL", self.queues.get(lane, Priority::High).url().to_owned()));
        env.push(("DLQ_URL", self.queues.names().dlq_url(pool)));
        env.push(("POOL", pool.to_owned()));
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

    /// The messages on every lane's queues (left there: received with no visibility timeout, up
    /// to 10 a queue), each with the queue it is on and its message group.
    pub async fn queued(&self) -> Vec<Queued> {
        use aws_sdk_sqs::types::MessageSystemAttributeName as Attribute;
        let mut found = Vec::new();
        for (q, queue) in self.queues.iter() {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue.url())
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .message_system_attribute_names(Attribute::MessageGroupId)
                .send()
                .await
                .expect("receive");
            for m in out.messages.unwrap_or_default() {
                found.push(Queued {
                    lane: q.lane.clone(),
                    priority: q.priority,
                    body: serde_json::from_str(m.body().unwrap_or_default()).unwrap_or_default(),
                    group: m.attributes().and_then(|a| a.get(&Attribute::MessageGroupId)).cloned(),
                });
            }
        }
        found
    }

    /// The input (message template) EventBridge Scheduler holds for schedule `name`.
    pub async fn schedule_input(&self, name: &str) -> String {
        let stored = aws_sdk_scheduler::Client::new(&self.sdk)
            .get_schedule()
            .name(name)
            .group_name(&self.resources.schedule_group)
            .send()
            .await
            .expect("get schedule");
        stored.target().and_then(|t| t.input()).unwrap_or_default().to_owned()
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

impl Drop for Stack {
    /// An emulator process takes its resources with it; on an external endpoint they are deleted.
    /// Drop cannot await, and may run inside the test's runtime: the deletion runs on a thread of
    /// its own, joined before the test ends.
    fn drop(&mut self) {
        if self.emulator.kind != Kind::External {
            return;
        }
        // A fresh configuration: pooled connections of the test's runtime (blocked here) would hang.
        let (endpoint, resources) = (self.emulator.endpoint.clone(), self.resources.clone());
        let removed = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(provision::remove(&Emulator::sdk_config_for(&endpoint), &resources))
        })
        .join();
        match removed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("cannot delete the test resources {}: {e}", self.resources.table),
            Err(_) => eprintln!("deleting the test resources {} panicked", self.resources.table),
        }
    }
}
