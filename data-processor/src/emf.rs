//! The worker's metrics as CloudWatch Embedded Metric Format lines on stdout: one JSON object per
//! recorded attempt, which CloudWatch Logs turns into metrics when the log shipper marks the log
//! events `json/emf` (the cluster's Fluent Bit does). No metrics API calls, nothing to run beside
//! the worker; locally the lines are just log lines.
//!
//! | metric | unit | dimensions | when |
//! | --- | --- | --- | --- |
//! | `Jobs` | Count | `Kind, Outcome`, `Outcome` and `Tenant, Outcome` | the job ended: `SUCCEEDED`, `FAILED`, `CANCELLED` |
//! | `AttemptsPerJob` | Count | `Kind, Outcome`, `Outcome` and `Tenant, Outcome` | the job ended |
//! | `AttemptDuration` | Milliseconds | `Kind` | every recorded attempt |
//! | `QueuedTime` | Milliseconds | `Kind` and `Tenant` | the first attempt: submitted (or fired) to started |
//! | `ReconcileResent`, `ReconcileRedriven`, `ReconcileFailed`, `ReconcileUnsent`, `ReconcileWaiting`, `ReconcileErrors` | Count | none | a reconcile pass that did something |
//!
//! `Tenant` is the job's tenant if the config names it (`tenants.metrics`), else `(other)`: at
//! most 101 values, so a per-tenant metric has at most 101 series per outcome (docs/tenants.md).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The namespace the worker writes to unless `METRICS_NAMESPACE` says otherwise; the CDK
/// dashboard and alarms read it.
pub const DEFAULT_NAMESPACE: &str = "KedaSqsJobs";

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptMetrics<'a> {
    pub job_id: &'a str,
    pub kind: &'a str,
    /// The job's tenant as a metric label (`jobs_core::tenants::TenantsConfig::metric_label`).
    pub tenant: &'a str,
    pub attempt: u32,
    pub duration_ms: u64,
    /// The job's end, if this attempt ended it: `SUCCEEDED`, `FAILED` or `CANCELLED`.
    pub ended: Option<&'a str>,
    /// Submitted (or fired) to this attempt's start, for the first attempt.
    pub queued_ms: Option<u64>,
    pub at: DateTime<Utc>,
}

/// The EMF document for `m` (one line of JSON).
pub fn line(namespace: &str, m: &AttemptMetrics<'_>) -> String {
    let mut directives = vec![json!({
        "Namespace": namespace,
        "Dimensions": [["Kind"]],
        "Metrics": metric_list(&[("AttemptDuration", "Milliseconds")], m.queued_ms.map(|_| ("QueuedTime", "Milliseconds"))),
    })];
    if m.queued_ms.is_some() {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [["Tenant"]],
            "Metrics": metric_list(&[("QueuedTime", "Milliseconds")], None),
        }));
    }
    let mut doc = json!({
        "Kind": m.kind,
        "Tenant": m.tenant,
        "AttemptDuration": m.duration_ms,
        "jobId": m.job_id,
        "attempt": m.attempt,
    });
    if let Some(q) = m.queued_ms {
        doc["QueuedTime"] = json!(q);
    }
    if let Some(outcome) = m.ended {
        directives.push(json!({
            "Namespace": namespace,
            "Dimensions": [["Kind", "Outcome"], ["Outcome"], ["Tenant", "Outcome"]],
            "Metrics": metric_list(&[("Jobs", "Count"), ("AttemptsPerJob", "Count")], None),
        }));
        doc["Outcome"] = json!(outcome);
        doc["Jobs"] = json!(1);
        doc["AttemptsPerJob"] = json!(m.attempt);
    }
    doc["_aws"] = json!({ "Timestamp": m.at.timestamp_millis(), "CloudWatchMetrics": directives });
    doc.to_string()
}

/// A reconcile pass, as counts (`crate::reconcile::Report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassMetrics {
    pub resent: usize,
    pub redriven: usize,
    pub failed: usize,
    /// Jobs ended FAILED because their lane started no worker within its start deadline.
    pub not_started: usize,
    pub unsent: usize,
    pub waiting: usize,
    pub errors: usize,
    pub at: DateTime<Utc>,
}

/// The EMF document for a reconcile pass (one line of JSON): what an alarm on a stuck recovery
/// (errors, unsent jobs) reads.
pub fn pass_line(namespace: &str, p: &PassMetrics) -> String {
    let values = [
        ("ReconcileResent", p.resent),
        ("ReconcileRedriven", p.redriven),
        ("ReconcileFailed", p.failed),
        ("ReconcileNotStarted", p.not_started),
        ("ReconcileUnsent", p.unsent),
        ("ReconcileWaiting", p.waiting),
        ("ReconcileErrors", p.errors),
    ];
    let mut doc = json!({});
    for (name, value) in values {
        doc[name] = json!(value);
    }
    let metrics: Vec<(&str, &str)> = values.iter().map(|(name, _)| (*name, "Count")).collect();
    doc["_aws"] = json!({
        "Timestamp": p.at.timestamp_millis(),
        "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [[]], "Metrics": metric_list(&metrics, None)}],
    });
    doc.to_string()
}

fn metric_list(always: &[(&str, &str)], extra: Option<(&str, &str)>) -> Value {
    Value::Array(always.iter().copied().chain(extra).map(|(name, unit)| json!({"Name": name, "Unit": unit})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_123).unwrap()
    }

    #[test]
    fn an_ending_first_attempt_has_every_metric() {
        let m = AttemptMetrics {
            job_id: "j1",
            kind: "noop",
            tenant: "acme",
            attempt: 1,
            duration_ms: 12,
            ended: Some("SUCCEEDED"),
            queued_ms: Some(5034),
            at: at(),
        };
        let doc: Value = serde_json::from_str(&line("NS", &m)).unwrap();
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_800_000_000_123_i64,
                    "CloudWatchMetrics": [
                        {"Namespace": "NS", "Dimensions": [["Kind"]], "Metrics": [
                            {"Name": "AttemptDuration", "Unit": "Milliseconds"},
                            {"Name": "QueuedTime", "Unit": "Milliseconds"}
                        ]},
                        {"Namespace": "NS", "Dimensions": [["Tenant"]], "Metrics": [
                            {"Name": "QueuedTime", "Unit": "Milliseconds"}
                        ]},
                        {"Namespace": "NS", "Dimensions": [["Kind", "Outcome"], ["Outcome"], ["Tenant", "Outcome"]], "Metrics": [
                            {"Name": "Jobs", "Unit": "Count"},
                            {"Name": "AttemptsPerJob", "Unit": "Count"}
                        ]}
                    ]
                },
                "Kind": "noop", "Tenant": "acme", "Outcome": "SUCCEEDED", "Jobs": 1, "AttemptsPerJob": 1,
                "AttemptDuration": 12, "QueuedTime": 5034, "jobId": "j1", "attempt": 1
            })
        );
    }

    #[test]
    fn a_pass_line_names_every_count() {
        let p = PassMetrics {
            resent: 4,
            redriven: 0,
            failed: 1,
            not_started: 6,
            unsent: 2,
            waiting: 5,
            errors: 3,
            at: at(),
        };
        let doc: Value = serde_json::from_str(&pass_line("NS", &p)).unwrap();
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!((directive["Namespace"].as_str(), &directive["Dimensions"]), (Some("NS"), &json!([[]])));
        let names: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "ReconcileResent",
                "ReconcileRedriven",
                "ReconcileFailed",
                "ReconcileNotStarted",
                "ReconcileUnsent",
                "ReconcileWaiting",
                "ReconcileErrors"
            ]
        );
        let values: Vec<u64> = names.iter().map(|n| doc[*n].as_u64().unwrap()).collect();
        assert_eq!(values, [4, 0, 1, 6, 2, 5, 3]);
    }

    #[test]
    fn a_retried_attempt_has_its_duration_only() {
        let m = AttemptMetrics {
            job_id: "j2",
            kind: "flaky",
            tenant: "(other)",
            attempt: 2,
            duration_ms: 40,
            ended: None,
            queued_ms: None,
            at: at(),
        };
        let doc: Value = serde_json::from_str(&line("NS", &m)).unwrap();
        let directives = doc["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        assert_eq!(directives[0]["Metrics"], json!([{"Name": "AttemptDuration", "Unit": "Milliseconds"}]));
        for absent in ["Outcome", "Jobs", "AttemptsPerJob", "QueuedTime"] {
            assert!(doc.get(absent).is_none(), "{absent} in {doc}");
        }
        // Every metric a directive names has its value at the root, as EMF requires.
        for d in directives {
            for metric in d["Metrics"].as_array().unwrap() {
                assert!(doc[metric["Name"].as_str().unwrap()].is_number());
            }
        }
    }
}
