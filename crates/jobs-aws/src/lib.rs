//! AWS adapters for the job system: small wrappers that carry out the decisions of `jobs-core`.

pub mod admit;
pub mod client;
pub mod dynamo;
pub mod error;
pub mod faults;
pub mod provision;
pub mod queue;
pub mod queues;
pub mod resources;
pub mod scheduler;
pub mod sqs;
pub mod store;

pub use error::{BackendError, ErrorKind};
pub use queue::{CopyMeta, Depth, JobQueue, Received};
pub use queues::PoolQueues;
pub use scheduler::{ScheduleInfo, ScheduleRequest, Scheduler, SchedulerError, Schedules};
pub use store::{
    Conditional, Cursor, CursorError, Idempotency, JobRecord, JobStore, ListFilter, Page, Stats, Submitted, WriteResult,
};
