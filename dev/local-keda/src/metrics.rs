//! `GET /metrics`: the controller's state in the Prometheus text format, what KEDA users scrape.
//! The trigger's figures carry KEDA's own names and labels (`keda_scaler_metrics_value`,
//! `keda_scaler_active`, `keda_scaler_errors_total`), so a dashboard or alert built on KEDA's
//! metrics reads the local stack too. The queue's parts, the Jobs and the last scaling decision
//! are the controller's own (`local_keda_…`): in a cluster they come from the SQS metrics,
//! kube-state-metrics and KEDA's logs.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::controller::Snapshot;

type Labels = Vec<(&'static str, String)>;
/// A counter family of every ScaledJob's total: name, help, the family, how to read the total.
type Total = (&'static str, &'static str, Family<Labels, Counter>, fn(&Snapshot) -> u64);

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every ScaledJob's snapshot as one Prometheus text exposition (version 0.0.4 / OpenMetrics
/// text): each series labelled with its ScaledJob, as KEDA labels them.
pub fn render(snapshots: &[Snapshot]) -> String {
    let mut registry = Registry::default();
    let metric_value = Family::<Labels, Gauge>::default();
    let active = Family::<Labels, Gauge>::default();
    let errors = Family::<Labels, Counter>::default();
    let messages = Family::<Labels, Gauge>::default();
    let jobs = Family::<Labels, Gauge>::default();
    let totals: [Total; 3] = [
        ("local_keda_jobs_created", "Jobs created", Family::default(), |s| s.totals.jobs_created),
        ("local_keda_jobs_succeeded", "Jobs that ended Complete", Family::default(), |s| s.totals.jobs_succeeded),
        ("local_keda_jobs_failed", "Jobs that ended Failed", Family::default(), |s| s.totals.jobs_failed),
    ];
    let decision = Family::<Labels, Gauge>::default();
    let decided_at = Family::<Labels, Gauge>::default();
    let max = Family::<Labels, Gauge>::default();
    for s in snapshots {
        // The ScaledJob's metric (its triggers combined), as trigger 0's.
        let scaler: Labels = vec![
            ("namespace", s.namespace.clone()),
            ("scaledObject", s.scaled_job.clone()),
            ("type", "scaledjob".into()),
            ("scaler", "aws-sqs-queue".into()),
            ("triggerIndex", "0".into()),
            ("metric", "queueLength".into()),
        ];
        let scaled_job: Labels = vec![("namespace", s.namespace.clone()), ("scaledjob", s.scaled_job.clone())];
        if let Some(q) = &s.queue {
            metric_value.get_or_create(&scaler).set(q.metric as i64);
            for (state, n) in [("visible", q.visible), ("in_flight", q.in_flight), ("delayed", q.delayed)] {
                let mut labels = scaled_job.clone();
                labels.push(("state", state.into()));
                messages.get_or_create(&labels).set(n as i64);
            }
        }
        let is_active = s.last_decision.as_ref().is_some_and(|d| d.decision.active);
        active.get_or_create(&scaler).set(i64::from(is_active));
        errors.get_or_create(&scaler).inc_by(s.totals.queue_errors);
        for (phase, n) in [("running", s.running - s.pending), ("pending", s.pending)] {
            let mut labels = scaled_job.clone();
            labels.push(("phase", phase.into()));
            jobs.get_or_create(&labels).set(n);
        }
        for (_, _, family, value) in &totals {
            family.get_or_create(&scaled_job).inc_by(value(s));
        }
        if let Some(last) = &s.last_decision {
            let d = &last.decision;
            for (field, n) in [
                ("jobs_to_create", d.jobs_to_create),
                ("scale_to", d.scale_to),
                ("max_scale", d.max_scale),
                ("effective_max_scale", d.effective_max_scale),
            ] {
                let mut labels = scaled_job.clone();
                labels.push(("field", field.into()));
                decision.get_or_create(&labels).set(n);
            }
            decided_at.get_or_create(&scaled_job).set(last.at.timestamp());
        }
        max.get_or_create(&scaled_job).set(s.max_replica_count);
    }
    registry.register("keda_scaler_metrics_value", "The trigger's metric: messages the scaler counts", metric_value);
    registry.register("keda_scaler_active", "1 when the trigger is active (the queue has work)", active);
    registry.register("keda_scaler_errors", "Failed reads of the queue", errors);
    registry.register("local_keda_queue_messages", "Messages on the queues by state, at the last poll", messages);
    registry.register("local_keda_jobs", "Unfinished Jobs: their pod running, or not yet", jobs);
    for (name, help, family, _) in totals {
        registry.register(name, help, family);
    }
    registry.register("local_keda_scale_decision", "The last scaling decision's figures", decision);
    registry.register(
        "local_keda_scale_decision_timestamp_seconds",
        "When the last scaling decision was made (Unix time)",
        decided_at,
    );
    registry.register("local_keda_max_replica_count", "The ScaledJob's maxReplicaCount", max);

    let mut out = String::new();
    encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use super::*;
    use crate::controller::{QueueView, ScaleRecord, Totals};
    use crate::scaling::{Decision, Observed, Strategy};

    fn snapshot() -> Snapshot {
        Snapshot {
            scaled_job: "data-processor".into(),
            namespace: "jobs".into(),
            executor: "process",
            image: None,
            queue_url: "http://q".into(),
            queue_urls: vec!["http://q-high".into(), "http://q".into()],
            polling_interval_secs: 10,
            strategy: Strategy::Accurate,
            max_replica_count: 50,
            successful_jobs_history_limit: 5,
            failed_jobs_history_limit: 5,
            logs_dir: "/tmp".into(),
            updated_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            queue: None,
            last_decision: None,
            last_error: None,
            running: 0,
            pending: 0,
            totals: Totals::default(),
            jobs: Vec::new(),
            stopping: false,
        }
    }

    /// The value of the sample `name{labels}` (labels as rendered, in order).
    fn sample(text: &str, series: &str) -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn renders_the_trigger_the_jobs_and_the_decision() {
        let s = Snapshot {
            queue: Some(QueueView { visible: 7, in_flight: 3, delayed: 1, metric: 10 }),
            last_decision: Some(ScaleRecord {
                at: DateTime::from_timestamp(1_800_000_100, 0).unwrap(),
                observed: Observed { queue_length: 10, running: 4, pending: 1 },
                decision: Decision {
                    active: true,
                    max_scale: 10,
                    scale_to: 10,
                    effective_max_scale: 6,
                    jobs_to_create: 6,
                },
            }),
            running: 4,
            pending: 1,
            totals: Totals { jobs_created: 12, pods_started: 11, jobs_succeeded: 6, jobs_failed: 2, queue_errors: 3 },
            ..snapshot()
        };
        let other = Snapshot { scaled_job: "data-processor-long".into(), max_replica_count: 20, ..snapshot() };
        let text = render(&[s, other]);
        let scaler = r#"namespace="jobs",scaledObject="data-processor",type="scaledjob",scaler="aws-sqs-queue",triggerIndex="0",metric="queueLength""#;
        let sj = r#"namespace="jobs",scaledjob="data-processor""#;
        let cases = [
            (format!("keda_scaler_metrics_value{{{scaler}}}"), 10.0),
            (format!("keda_scaler_active{{{scaler}}}"), 1.0),
            (format!("keda_scaler_errors_total{{{scaler}}}"), 3.0),
            (format!(r#"local_keda_queue_messages{{{sj},state="visible"}}"#), 7.0),
            (format!(r#"local_keda_queue_messages{{{sj},state="in_flight"}}"#), 3.0),
            (format!(r#"local_keda_queue_messages{{{sj},state="delayed"}}"#), 1.0),
            (format!(r#"local_keda_jobs{{{sj},phase="running"}}"#), 3.0),
            (format!(r#"local_keda_jobs{{{sj},phase="pending"}}"#), 1.0),
            (format!("local_keda_jobs_created_total{{{sj}}}"), 12.0),
            (format!("local_keda_jobs_succeeded_total{{{sj}}}"), 6.0),
            (format!("local_keda_jobs_failed_total{{{sj}}}"), 2.0),
            (format!(r#"local_keda_scale_decision{{{sj},field="jobs_to_create"}}"#), 6.0),
            (format!(r#"local_keda_scale_decision{{{sj},field="effective_max_scale"}}"#), 6.0),
            (format!("local_keda_scale_decision_timestamp_seconds{{{sj}}}"), 1_800_000_100.0),
            (format!("local_keda_max_replica_count{{{sj}}}"), 50.0),
            // Each ScaledJob its own series.
            (r#"local_keda_max_replica_count{namespace="jobs",scaledjob="data-processor-long"}"#.to_owned(), 20.0),
            (r#"local_keda_jobs_created_total{namespace="jobs",scaledjob="data-processor-long"}"#.to_owned(), 0.0),
        ];
        for (series, want) in cases {
            assert_eq!(sample(&text, &series), Some(want), "{series} in\n{text}");
        }
        assert!(text.contains("# TYPE local_keda_jobs_created counter"), "{text}");
        assert_eq!(text.matches("# TYPE local_keda_jobs_created counter").count(), 1, "one family, two series");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn before_the_first_poll_there_is_no_queue_figure_and_the_trigger_is_idle() {
        let text = render(&[snapshot()]);
        assert!(!text.lines().any(|l| l.starts_with("keda_scaler_metrics_value{")), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("local_keda_scale_decision{")), "{text}");
        assert_eq!(
            sample(
                &text,
                r#"keda_scaler_active{namespace="jobs",scaledObject="data-processor",type="scaledjob",scaler="aws-sqs-queue",triggerIndex="0",metric="queueLength"}"#
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(&text, r#"local_keda_jobs{namespace="jobs",scaledjob="data-processor",phase="pending"}"#),
            Some(0.0)
        );
    }
}
