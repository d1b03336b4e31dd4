//! Test-only fault injection: the seam through which tests make a chosen AWS call fail, take effect
//! and then report an error (ambiguous), wait, or stop the process at a named point. It is off
//! unless `FAULTS` is set, and release builds ignore it (they log that they do).
//!
//! ```text
//! FAULTS="store.succeed=ambiguous*1;sqs.visibility=unavailable*2;point.after-claim=crash"
//!   RULE   := TARGET=ACTION[*COUNT]      COUNT: the first COUNT matching calls only (default: all)
//!   ACTION := conflict | throttled | unavailable | invalid | ambiguous | replayed | delay:MS | crash
//! ```
//!
//! Targets are the adapters' operations: `store.get`, `store.<step>` for a transition (`store.start`,
//! `store.succeed`, `store.fail`, `store.interrupt`, `store.reject`, `store.give-up`,
//! `store.submit`, `store.cancel`, `store.skip`), `store.renew`, `store.hand-over`, `store.mark-sent`,
//! `store.request-cancel`, `store.cancel-check`, `store.batch-get`, `sqs.receive`, `sqs.send`,
//! `sqs.delete`, `sqs.visibility`; and named points in the flows: `point.after-claim`,
//! `point.after-record`, `point.after-retry-wait`, `point.api-after-record`. `ambiguous` lets the
//! call happen, then reports a timeout; `replayed` lets it happen and sends it again, answering
//! with the second answer (what the SDK's own retry after a lost answer does: a conditional write
//! then fails on its own first try; single-item writes only); `crash` aborts the process (no
//! cleanup, like SIGKILL).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{BackendError, ErrorKind};

/// What a rule does to a matching call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Fail before the call is made, with this kind of error.
    Fail(ErrorKind),
    /// Make the call, then report an ambiguous error (a lost response).
    Ambiguous,
    /// Make the call, then make it again and answer with the second answer.
    Replayed,
    /// Wait before the call.
    Delay(Duration),
    /// Abort the process before the call (or at the point).
    Crash,
}

#[derive(Debug)]
struct Rule {
    target: String,
    action: Action,
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

/// A parsed `FAULTS` specification.
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
            let action = match action {
                "conflict" => Action::Fail(ErrorKind::Conflict),
                "throttled" => Action::Fail(ErrorKind::Throttled),
                "unavailable" => Action::Fail(ErrorKind::Service),
                "invalid" => Action::Fail(ErrorKind::Invalid),
                "ambiguous" => Action::Ambiguous,
                "replayed" => Action::Replayed,
                "crash" => Action::Crash,
                other => match other.strip_prefix("delay:").map(str::parse::<u64>) {
                    Some(Ok(ms)) => Action::Delay(Duration::from_millis(ms)),
                    _ => return Err(bad("unknown action")),
                },
            };
            if target.trim().is_empty() {
                return Err(bad("empty target"));
            }
            rules.push(Rule { target: target.trim().to_owned(), action, limit, used: AtomicU64::new(0) });
        }
        Ok(Faults { rules })
    }

    /// The action to take before a call to `target`, if a rule fires.
    fn before(&self, target: &str) -> Option<Action> {
        self.rules
            .iter()
            .filter(|r| r.target == target && !matches!(r.action, Action::Ambiguous | Action::Replayed))
            .find(|r| r.take())
            .map(|r| r.action)
    }

    /// Whether a call to `target` is to be sent twice.
    fn replayed(&self, target: &str) -> bool {
        self.rules.iter().filter(|r| r.target == target && r.action == Action::Replayed).any(|r| r.take())
    }

    /// Whether the response of a call to `target` is to be lost.
    fn after(&self, target: &str) -> bool {
        self.rules.iter().filter(|r| r.target == target && r.action == Action::Ambiguous).any(|r| r.take())
    }
}

static FAULTS: OnceLock<Faults> = OnceLock::new();

fn active() -> &'static Faults {
    FAULTS.get_or_init(|| {
        let Ok(spec) = std::env::var("FAULTS") else { return Faults::default() };
        if !cfg!(debug_assertions) {
            tracing::warn!("FAULTS is set but ignored: fault injection works in debug builds only");
            return Faults::default();
        }
        let faults = Faults::parse(&spec).unwrap_or_else(|e| panic!("{e}"));
        tracing::warn!(faults = %spec, "fault injection is on");
        faults
    })
}

fn crash(target: &str) -> ! {
    tracing::error!(target, "fault injection: crashing the process");
    std::process::abort()
}

/// Called by an adapter before it makes the call `target`.
pub async fn before(target: &str) -> Result<(), BackendError> {
    match active().before(target) {
        None => Ok(()),
        Some(Action::Delay(d)) => {
            tracing::warn!(target, delay_ms = d.as_millis() as u64, "fault injection: delaying");
            tokio::time::sleep(d).await;
            Ok(())
        }
        Some(Action::Fail(kind)) => {
            tracing::warn!(target, ?kind, "fault injection: failing the call");
            Err(BackendError::of_kind(kind, format!("{target} (injected)"), "injected failure"))
        }
        Some(Action::Crash) => crash(target),
        Some(Action::Ambiguous | Action::Replayed) => Ok(()),
    }
}

/// Called by an adapter after the call `target` succeeded: may turn the answer into an ambiguous
/// error although the call took effect.
pub fn after(target: &str) -> Result<(), BackendError> {
    if active().after(target) {
        tracing::warn!(target, "fault injection: the call took effect, reporting a timeout");
        return Err(BackendError::of_kind(ErrorKind::Ambiguous, format!("{target} (injected)"), "response lost"));
    }
    Ok(())
}

/// Called by an adapter after a single-item write to `target` succeeded: whether to send it once
/// more, as the SDK's retry does after a lost answer (the second answer is the one returned).
pub fn replayed(target: &str) -> bool {
    let yes = active().replayed(target);
    if yes {
        tracing::warn!(target, "fault injection: the call took effect, sending it again as an SDK retry would");
    }
    yes
}

/// A named point in a flow where a test may stop the process.
pub fn point(name: &str) {
    let target = format!("point.{name}");
    if active().before(&target) == Some(Action::Crash) {
        crash(&target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_counts_uses() {
        let f =
            Faults::parse("store.succeed=ambiguous*1; sqs.send=conflict*2;point.after-claim=crash;x=delay:5").unwrap();
        assert!(f.after("store.succeed"));
        assert!(!f.after("store.succeed"), "only the first call");
        assert_eq!(f.before("store.succeed"), None, "ambiguous acts after the call");
        assert_eq!(f.before("sqs.send"), Some(Action::Fail(ErrorKind::Conflict)));
        assert_eq!(f.before("sqs.send"), Some(Action::Fail(ErrorKind::Conflict)));
        assert_eq!(f.before("sqs.send"), None);
        assert_eq!(f.before("point.after-claim"), Some(Action::Crash));
        assert_eq!(f.before("point.after-claim"), Some(Action::Crash), "no count: every call");
        assert_eq!(f.before("x"), Some(Action::Delay(Duration::from_millis(5))));
        assert_eq!(f.before("other"), None);
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_named() {
        for (spec, reason) in [
            ("store.get", "expected TARGET=ACTION"),
            ("store.get=explode", "unknown action"),
            ("store.get=conflict*many", "COUNT must be a number"),
            ("=crash", "empty target"),
            ("x=delay:soon", "unknown action"),
        ] {
            let err = Faults::parse(spec).unwrap_err();
            assert_eq!((err.rule.as_str(), err.reason), (spec, reason));
        }
        assert!(Faults::parse("").unwrap().rules.is_empty());
    }
}
