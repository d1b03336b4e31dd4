//! A job as a worker runs it: the message it received and the spec parsed from that message once,
//! at the edge, as this build knows the kind ([`Build::job`]). What runs is what the message says:
//! the two cannot drift apart, and nothing after the edge parses the payload again.

use crate::catalog::{Build, JobSpec};
use crate::kinds::SpecError;
use crate::message::JobMessage;

/// A received job this build can run.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    message: JobMessage,
    spec: JobSpec,
}

/// A received job this build cannot run: its message, and why (an unknown kind, a payload its
/// kind refuses).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("job {} cannot run on this build", .message.job_id)]
pub struct Unrunnable {
    pub message: JobMessage,
    #[source]
    pub error: SpecError,
}

impl Job {
    /// What the job is, as it travels on the queue and into its item.
    pub fn message(&self) -> &JobMessage {
        &self.message
    }

    /// Its kind with the typed, validated payload.
    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }
}

impl Build {
    /// The job of a received message, its spec parsed as this build parses ([`Build::parse`]).
    pub fn job(&self, message: JobMessage) -> Result<Job, Box<Unrunnable>> {
        match self.parse(&message.kind, message.payload.clone()) {
            Ok(spec) => Ok(Job { message, spec }),
            Err(error) => Err(Box::new(Unrunnable { message, error })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_is_a_job_only_as_its_build_knows_its_kind() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let sleep = JobMessage::new_api("sleep", json!({"ms": 5}), at);
        let job = Build::current().job(sleep.clone()).expect("a known kind, a valid payload");
        assert_eq!((job.message(), job.spec().kind()), (&sleep, "sleep"));
        assert_eq!(job.spec().payload()["ms"], 5, "the spec is the message's payload, typed");

        let earlier = Build::without(&["sleep"]).job(sleep.clone()).unwrap_err();
        assert_eq!(earlier.message, sleep, "the message comes back whole, to hand back or fail");
        assert!(matches!(earlier.error, SpecError::UnknownKind { .. }), "{}", earlier.error);

        let bad = JobMessage::new_api("sleep", json!({"ms": "soon"}), at);
        let refused = Build::current().job(bad).unwrap_err();
        assert!(matches!(refused.error, SpecError::InvalidPayload { .. }), "{}", refused.error);
    }
}
