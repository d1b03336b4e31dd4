//! What the fault decorator asks its plan, and what the plan answers: the request, named by what
//! its caller does with it ([`Call`]), and what happens to it ([`Fault`]).

use crate::dynamo::Op;
use crate::error::ErrorKind;

/// The service a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// The job store's table.
    Store,
    Sqs,
    /// EventBridge Scheduler's schedule group.
    Scheduler,
}

/// One request, named by what its caller does with it: `store.succeed`, `sqs.send`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Call {
    pub service: Service,
    pub op: Op,
}

impl std::fmt::Display for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let service = match self.service {
            Service::Store => "store",
            Service::Sqs => "sqs",
            Service::Scheduler => "scheduler",
        };
        write!(f, "{service}.{}", self.op)
    }
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// It reaches the service and its answer comes back.
    None,
    /// It reaches the service after this long (others may get there first), and its answer comes
    /// back.
    Delay(std::time::Duration),
    /// It never reaches the service, which answers with this kind of failure.
    Fail(ErrorKind),
    /// It reaches the service (and commits, if it can), and its answer is lost: a timeout.
    LoseAnswer,
    /// It reaches the service (and commits, if it can), its answer is lost, and the SDK's own
    /// retry sends it again: the caller gets the second answer (a write's own commit can then
    /// read as a failed condition). Single-item writes; any other request goes through as is.
    Replay,
    /// The process dies before the request (SIGKILL: no cleanup). Process-level tests only.
    Crash,
    /// The request reaches the service (and commits, if it can), and the process dies before it
    /// sees the answer. Process-level tests only.
    CrashAfter,
}

/// Decides each request's fate: `(request, sequence number) -> Fault`.
pub type Plan = Box<dyn FnMut(Call, u64) -> Fault + Send>;
