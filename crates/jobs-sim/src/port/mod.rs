//! The in-memory world behind the product's ports, and a fault decorator over any implementation
//! of them: the real `JobStore` and `JobQueue` run unchanged over either. The world's clock is the
//! runtime's (milliseconds since the world was made, on tokio's clock: simulated when paused).

mod dynamo;
mod faulty;
mod scheduler;
mod sqs;

pub use dynamo::SimDynamo;
pub use faulty::{Fault, Faulty, Plan};
pub use scheduler::SimScheduler;
pub use sqs::SimSqs;
