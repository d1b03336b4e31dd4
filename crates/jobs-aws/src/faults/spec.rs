//! The `FAULTS` variable: the plan of the fault decorator ([`super::Faulty`]) in the process-level
//! tests, through which a test makes a chosen request fail, take effect and lose its answer, be
//! sent twice, wait, or kill the process. It is off unless `FAULTS` is set, and release builds
//! ignore it (they log that they do).
//!
//! ```text
//! FAULTS="store.succeed=ambiguous*1;sqs.visibility=unavailable*2;store.start=crash-after"
//!   RULE   := TARGET=ACTION[*COUNT]      COUNT: the first COUNT matching requests only (default: all)
//!   ACTION := conflict | throttled | unavailable | invalid | ambiguous | replayed | delay:MS
//!           | crash | crash-after
//! ```
//!
//! Targets name requests as [`super::Call`] does: `store.get`, `store.<step>` for a transition
//! (`store.start`, `store.succeed`, `store.fail`, `store.interrupt`, `store.reject`,
//! `store.give-up`, `store.submit`, `store.cancel`, `store.skip`, `store.admit`), `store.renew`,
//! `store.hand-over`, `store.mark-sent`, `store.release`, `store.request-cancel`,
//! `store.cancel-check`, `store.batch-get`, `store.tenancy`, `store.set-tenant`, `sqs.receive`,
//! `sqs.send`, `sqs.delete`, `sqs.visibility`, `scheduler.create`, `scheduler.update`,
//! `scheduler.get`, `scheduler.list`, `scheduler.delete`. `ambiguous` lets the request happen, then reports
//! a timeout; `replayed` lets it happen and sends it again, answering with the second answer (what
//! the SDK's own retry after a lost answer does: a conditional write then fails on its own first
//! try; single-item writes only); `crash` aborts the process before the request (no cleanup,
//! like SIGKILL), `crash-after` once the request has taken effect (killed after the claim, after
//! recording the outcome, after giving the slot back…). A request takes the first rule for its
//! target that has uses left.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::plan::{Call, Fault, Plan};
use crate::error::ErrorKind;

#[derive(Debug)]
struct Rule {
    target: String,
    fault: Fault,
    limit: Option<u64>,
    used: AtomicU64,
}

impl Rule {
    /// Takes one use of the rule if it has any left.
    fn take(&self) -> bool {
        match self.limit {
            None => true,
            Some(limit) => self.used.fetch_add(1, Ordering::SeqCst) < limit,
        }
    }
}

/// A parsed `FAULTS` specification: its rules and how often each was used (shared by every port
/// of the process).
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid FAULTS rule {rule:?}: {reason}")]
pub struct FaultSpecError {
    pub rule: String,
    pub reason: &'static str,
}

impl Faults {
    pub fn parse(spec: &str) -> Result<Faults, FaultSpecError> {
        let mut rules = Vec::new();
        for raw in spec.split(';').map(str::trim).filter(|r| !r.is_empty()) {
            let bad = |reason| FaultSpecError { rule: raw.to_owned(), reason };
            let (target, rest) = raw.split_once('=').ok_or_else(|| bad("expected TARGET=ACTION"))?;
            let (action, limit) = match rest.split_once('*') {
                Some((a, n)) => (a, Some(n.parse::<u64>().map_err(|_| bad("COUNT must be a number"))?)),
                None => (rest, None),
            };
            let fault = match action {
                "conflict" => Fault::Fail(ErrorKind::Conflict),
                "throttled" => Fault::Fail(ErrorKind::Throttled),
                "unavailable" => Fault::Fail(ErrorKind::Service),
                "invalid" => Fault::Fail(ErrorKind::Invalid),
                "ambiguous" => Fault::LoseAnswer,
                "replayed" => Fault::Replay,
                "crash" => Fault::Crash,
                "crash-after" => Fault::CrashAfter,
                other => match other.strip_prefix("delay:").map(str::parse::<u64>) {
                    Some(Ok(ms)) => Fault::Delay(Duration::from_millis(ms)),
                    _ => return Err(bad("unknown action")),
                },
            };
            let target = target.trim();
            match target.split_once('.') {
                Some(("store" | "sqs" | "scheduler", op)) if !op.is_empty() => {}
                _ => return Err(bad("the target is store.OPERATION, sqs.OPERATION or scheduler.OPERATION")),
            }
            rules.push(Rule { target: target.to_owned(), fault, limit, used: AtomicU64::new(0) });
        }
        Ok(Faults { rules })
    }

    /// The fault for request `call`: the first rule for it with uses left, if any.
    pub fn fault(&self, call: Call) -> Fault {
        let target = call.to_string();
        let fault = self.rules.iter().filter(|r| r.target == target).find(|r| r.take()).map(|r| r.fault);
        match fault {
            None => Fault::None,
            Some(fault) => {
                let what = match fault {
                    Fault::None => "none",
                    Fault::Delay(_) => "delaying",
                    Fault::Fail(_) => "failing the request",
                    Fault::LoseAnswer => "the request takes effect, its answer is lost",
                    Fault::Replay => "the request takes effect and is sent again, as an SDK retry would",
                    Fault::Crash | Fault::CrashAfter => "the process dies",
                };
                tracing::warn!(%call, ?fault, "fault injection: {what}");
                fault
            }
        }
    }
}

static FAULTS: OnceLock<Option<Faults>> = OnceLock::new();

/// The plan of the process's `FAULTS`, if it has one (debug builds). A rule that does not parse
/// stops the process: a test that meant to inject a fault must not run without it.
pub fn from_env() -> Option<Plan> {
    let faults = FAULTS.get_or_init(|| {
        let spec = std::env::var("FAULTS").ok()?;
        if !cfg!(debug_assertions) {
            tracing::warn!("FAULTS is set but ignored: fault injection works in debug builds only");
            return None;
        }
        let faults = Faults::parse(&spec).unwrap_or_else(|e| panic!("{e}"));
        tracing::warn!(faults = %spec, "fault injection is on");
        Some(faults)
    });
    let faults = faults.as_ref()?;
    Some(Box::new(move |call, _| faults.fault(call)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::plan::Service;

    fn store(op: &'static str) -> Call {
        Call { service: Service::Store, op }
    }

    fn sqs(op: &'static str) -> Call {
        Call { service: Service::Sqs, op }
    }

    #[test]
    fn a_request_takes_the_first_rule_for_it_with_uses_left() {
        let f = Faults::parse(
            "store.succeed=ambiguous*1; sqs.send=conflict*2;sqs.send=ambiguous*1;store.start=crash-after;store.get=delay:5",
        )
        .unwrap();
        assert_eq!(f.fault(store("succeed")), Fault::LoseAnswer);
        assert_eq!(f.fault(store("succeed")), Fault::None, "only the first request");
        assert_eq!(f.fault(sqs("send")), Fault::Fail(ErrorKind::Conflict));
        assert_eq!(f.fault(sqs("send")), Fault::Fail(ErrorKind::Conflict));
        assert_eq!(f.fault(sqs("send")), Fault::LoseAnswer, "then the next rule");
        assert_eq!(f.fault(sqs("send")), Fault::None);
        assert_eq!(f.fault(store("start")), Fault::CrashAfter);
        assert_eq!(f.fault(store("start")), Fault::CrashAfter, "no count: every request");
        assert_eq!(f.fault(store("get")), Fault::Delay(Duration::from_millis(5)));
        assert_eq!(f.fault(sqs("get")), Fault::None, "another service");
        assert_eq!(f.fault(store("renew")), Fault::None);
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for (spec, reason) in [
            ("store.get", "expected TARGET=ACTION"),
            ("store.get=explode", "unknown action"),
            ("store.get=conflict*many", "COUNT must be a number"),
            ("=crash", "the target is store.OPERATION, sqs.OPERATION or scheduler.OPERATION"),
            ("point.after-claim=crash", "the target is store.OPERATION, sqs.OPERATION or scheduler.OPERATION"),
            ("store.=crash", "the target is store.OPERATION, sqs.OPERATION or scheduler.OPERATION"),
            ("store.get=delay:soon", "unknown action"),
        ] {
            let err = Faults::parse(spec).unwrap_err();
            assert_eq!((err.rule.as_str(), err.reason), (spec, reason));
        }
        assert!(Faults::parse("").unwrap().rules.is_empty());
    }
}
