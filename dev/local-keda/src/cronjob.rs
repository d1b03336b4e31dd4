//! A Kubernetes CronJob from `keda/` (the reconciler's), read with Kubernetes' defaults, and the
//! CronJob controller's rules: which scheduled time is due, and what `concurrencyPolicy` says when
//! the previous Job still runs. Pure; [`crate::cron`] runs it.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use crate::manifest::{JobTargetRef, JobTemplate, ManifestError, job_template};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Concurrency {
    Allow,
    Forbid,
    Replace,
}

#[derive(Debug, Clone)]
pub struct CronJob {
    pub name: String,
    pub namespace: String,
    pub schedule: String,
    cron: croner::Cron,
    pub time_zone: Tz,
    pub concurrency: Concurrency,
    pub suspend: bool,
    pub starting_deadline: Option<Duration>,
    pub successful_jobs_history_limit: usize,
    pub failed_jobs_history_limit: usize,
    pub job: JobTemplate,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    schedule: String,
    time_zone: Option<String>,
    concurrency_policy: Option<String>,
    suspend: Option<bool>,
    starting_deadline_seconds: Option<u64>,
    successful_jobs_history_limit: Option<usize>,
    failed_jobs_history_limit: Option<usize>,
    job_template: JobTemplateSpec,
}

#[derive(Deserialize)]
struct JobTemplateSpec {
    spec: JobTargetRef,
}

fn err(message: impl Into<String>) -> ManifestError {
    ManifestError(message.into())
}

/// Parses one CronJob document.
pub fn parse(yaml: &str) -> Result<CronJob, ManifestError> {
    let doc: Doc = serde_norway::from_str(yaml).map_err(|e| err(e.to_string()))?;
    if doc.kind != "CronJob" || doc.api_version != "batch/v1" {
        return Err(err(format!("expected a batch/v1 CronJob, found {} {}", doc.api_version, doc.kind)));
    }
    let spec = doc.spec;
    let cron = croner::Cron::from_str(&spec.schedule).map_err(|e| err(format!("schedule {:?}: {e}", spec.schedule)))?;
    let zone = spec.time_zone.as_deref().unwrap_or("Etc/UTC");
    let time_zone = Tz::from_str(zone).map_err(|_| err(format!("unknown timeZone {zone:?}")))?;
    // Kubernetes' defaults: Allow, history 3 succeeded and 1 failed.
    let concurrency = match spec.concurrency_policy.as_deref().unwrap_or("Allow") {
        "Allow" => Concurrency::Allow,
        "Forbid" => Concurrency::Forbid,
        "Replace" => Concurrency::Replace,
        other => return Err(err(format!("unknown concurrencyPolicy {other:?}"))),
    };
    Ok(CronJob {
        name: doc.metadata.name,
        namespace: doc.metadata.namespace.unwrap_or_else(|| "default".into()),
        schedule: spec.schedule,
        cron,
        time_zone,
        concurrency,
        suspend: spec.suspend.unwrap_or(false),
        starting_deadline: spec.starting_deadline_seconds.map(Duration::from_secs),
        successful_jobs_history_limit: spec.successful_jobs_history_limit.unwrap_or(3),
        failed_jobs_history_limit: spec.failed_jobs_history_limit.unwrap_or(1),
        job: job_template(spec.job_template.spec)?,
    })
}

/// Reads and parses a CronJob manifest file.
pub fn load(path: &std::path::Path) -> Result<CronJob, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
    parse(&text).map_err(|e| err(format!("{}: {}", path.display(), e.0)))
}

/// What a due schedule time leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFire {
    Start,
    /// `Forbid` and a Job still runs: this time is skipped.
    Skip,
    /// `Replace`: stop the running Jobs, then start.
    Replace,
}

impl CronJob {
    /// The first scheduled time after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.time_zone);
        self.cron.find_next_occurrence(&local, false).ok().map(|next| next.with_timezone(&Utc))
    }

    /// The scheduled time to run now: the latest one in `(last, now]` (missed ones are not caught
    /// up, as the controller runs only the most recent), unless it is older than
    /// `startingDeadlineSeconds`, or the CronJob is suspended.
    pub fn due(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.suspend {
            return None;
        }
        let mut latest = None;
        let mut cursor = last;
        while let Some(next) = self.next_after(cursor).filter(|n| *n <= now) {
            latest = Some(next);
            cursor = next;
        }
        let latest = latest?;
        match self.starting_deadline {
            Some(deadline) if now - latest > chrono::Duration::from_std(deadline).unwrap_or_default() => None,
            _ => Some(latest),
        }
    }

    /// The Job name Kubernetes gives the Job of scheduled time `at` (`<name>-<minutes since epoch>`).
    pub fn job_name(&self, at: DateTime<Utc>) -> String {
        format!("{}-{}", self.name, at.timestamp() / 60)
    }
}

/// `concurrencyPolicy` for a due time while `active` Jobs of the CronJob run.
pub fn on_fire(policy: Concurrency, active: usize) -> OnFire {
    match (policy, active) {
        (_, 0) | (Concurrency::Allow, _) => OnFire::Start,
        (Concurrency::Forbid, _) => OnFire::Skip,
        (Concurrency::Replace, _) => OnFire::Replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYED: &str = include_str!("../../../keda/cronjob.yaml");

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn reads_the_deployed_reconciler() {
        let cj = parse(DEPLOYED).expect("keda/cronjob.yaml parses");
        assert_eq!(
            (cj.name.as_str(), cj.namespace.as_str(), cj.schedule.as_str()),
            ("jobs-reconciler", "jobs", "* * * * *")
        );
        assert_eq!(
            (cj.concurrency, cj.suspend, cj.starting_deadline),
            (Concurrency::Forbid, false, Some(Duration::from_secs(30)))
        );
        assert_eq!((cj.successful_jobs_history_limit, cj.failed_jobs_history_limit), (3, 5));
        assert_eq!(cj.job.args.as_deref(), Some(&["reconcile", "--every", "10", "--for", "50"].map(String::from)[..]));
        assert_eq!((cj.job.backoff_limit, cj.job.active_deadline), (0, Some(Duration::from_secs(120))));
        assert!(cj.job.read_only_root_filesystem && cj.job.env.iter().any(|(k, _)| k == "DLQ_URL"));
    }

    #[test]
    fn due_times_follow_the_schedule_and_the_starting_deadline() {
        let cj = parse(DEPLOYED).unwrap();
        // (last check, now, due)
        let cases = [
            ("2026-12-01T10:00:30Z", "2026-12-01T10:00:59Z", None),
            ("2026-12-01T10:00:30Z", "2026-12-01T10:01:05Z", Some("2026-12-01T10:01:00Z")),
            // Several missed: only the latest runs.
            ("2026-12-01T10:00:30Z", "2026-12-01T10:05:10Z", Some("2026-12-01T10:05:00Z")),
            // Later than startingDeadlineSeconds (30 s): skipped.
            ("2026-12-01T10:00:30Z", "2026-12-01T10:01:40Z", None),
        ];
        for (last, now, want) in cases {
            assert_eq!(cj.due(t(last), t(now)), want.map(t), "{last} .. {now}");
        }
        let suspended = CronJob { suspend: true, ..cj.clone() };
        assert_eq!(suspended.due(t("2026-12-01T10:00:30Z"), t("2026-12-01T10:01:05Z")), None);
        assert_eq!(
            cj.job_name(t("2026-12-01T10:01:00Z")),
            format!("jobs-reconciler-{}", t("2026-12-01T10:01:00Z").timestamp() / 60)
        );
    }

    #[test]
    fn concurrency_policies() {
        use Concurrency::*;
        let cases = [
            (Allow, 0, OnFire::Start),
            (Allow, 2, OnFire::Start),
            (Forbid, 0, OnFire::Start),
            (Forbid, 1, OnFire::Skip),
            (Replace, 1, OnFire::Replace),
        ];
        for (policy, active, want) in cases {
            assert_eq!(on_fire(policy, active), want, "{policy:?} with {active} running");
        }
    }

    #[test]
    fn rejects_what_it_cannot_run() {
        let bad = DEPLOYED.replace("concurrencyPolicy: Forbid", "concurrencyPolicy: Sometimes");
        assert!(parse(&bad).unwrap_err().0.contains("concurrencyPolicy"));
        let bad = DEPLOYED.replace("schedule: \"* * * * *\"", "schedule: \"every minute\"");
        assert!(parse(&bad).unwrap_err().0.contains("schedule"));
        let bad = DEPLOYED.replace("kind: CronJob", "kind: Job");
        assert!(parse(&bad).unwrap_err().0.contains("expected a batch/v1 CronJob"));
    }
}
