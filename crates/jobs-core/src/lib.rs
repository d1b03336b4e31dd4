//! The job model and the pure rules of the system, shared by `api-lambda` and `data-processor`.
//! No AWS and no I/O here: the adapters in `jobs-aws` carry these decisions out.

pub mod catalog;
pub mod clock;
pub mod command;
pub mod history;
pub mod job;
pub mod json;
pub mod kinds;
pub mod message;
pub mod overlap;
pub mod poison;
pub mod policy;
pub mod pools;
pub mod quantity;
pub mod random;
pub mod reconcile;
pub mod schedule;
pub mod state;
pub mod submitter;
pub mod tenants;
pub mod throughput;
pub mod unread;

pub use catalog::{JobSpec, kinds};
pub use job::Job;
pub use kinds::SpecError;
pub use message::{JobMessage, MessageError, Source};
pub use overlap::Overlap;
pub use policy::{AfterFailure, PolicyError, RetryPolicy};
pub use state::{JobState, JobStatus, Lease, cancel};
pub use tenants::Tenant;
