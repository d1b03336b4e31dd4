//! The in-memory world behind the product's ports: the real `JobStore` and `JobQueue` run
//! unchanged over it, as over the SDK, and the fault decorator (`jobs_aws::faults::Faulty`) wraps
//! either. The world's clock is the runtime's (milliseconds since the world was made, on tokio's
//! clock: simulated when paused).

mod dynamo;
mod scheduler;
mod sqs;

pub use dynamo::SimDynamo;
pub use scheduler::SimScheduler;
pub use sqs::SimSqs;
