//! The in-memory world of the deterministic simulator (`docs/testing.md`): AWS's semantics as the
//! code relies on them, strictly, with no network and no clock of its own. It holds
//! DynamoDB ([`dynamo`]), SQS ([`sqs`]) and EventBridge Scheduler ([`scheduler`]), behind the
//! store's, the queues' and the schedules' ports ([`port`]), which the fault decorator
//! (`jobs_aws::faults`) wraps; each semantic has a unit test, and `tests/against_ministack.rs` and
//! `tests/sqs_against_ministack.rs` run the same calls on ministack and here and compare the
//! answers.

pub mod clock;
pub mod dynamo;
pub mod port;
pub mod rng;
pub mod scheduler;
pub mod sqs;
