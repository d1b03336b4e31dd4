//! `jobsctl watch`: follows jobs until every one has ended, with a progress line. [`Tally`] is
//! the rule (pure, tested); [`watch`] polls the jobs not ended yet every [`POLL`] and rides out
//! transient API errors until the deadline.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::Client;
use crate::wait::{POLL, Verdict, WaitError, verdict};

/// Where a set of followed jobs stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub total: usize,
    pub ended: usize,
    /// Every job ended, and SUCCEEDED.
    pub all_succeeded: bool,
    /// Jobs by status (jobs not read yet are `UNKNOWN`).
    pub by_status: BTreeMap<String, usize>,
}

impl Tally {
    /// The tally of the jobs as last read (`None`: not read yet).
    pub fn of(jobs: &[Option<Value>]) -> Tally {
        let mut t = Tally { total: jobs.len(), all_succeeded: true, ..Tally::default() };
        for job in jobs {
            let v = job.as_ref().and_then(verdict);
            let status = job.as_ref().and_then(|j| j["status"].as_str()).unwrap_or("UNKNOWN");
            *t.by_status.entry(status.to_owned()).or_default() += 1;
            match v {
                Some(Verdict::Succeeded) => t.ended += 1,
                Some(Verdict::Ended { .. }) => {
                    t.ended += 1;
                    t.all_succeeded = false;
                }
                _ => t.all_succeeded = false,
            }
        }
        t
    }

    pub fn done(&self) -> bool {
        self.ended == self.total
    }

    /// The progress line: `2/5 ended · 1 SUCCEEDED · 1 FAILED · 3 RUNNING · 12 s`.
    pub fn line(&self, elapsed: Duration) -> String {
        let mut parts = vec![format!("{}/{} ended", self.ended, self.total)];
        parts.extend(self.by_status.iter().map(|(s, n)| format!("{n} {s}")));
        parts.push(format!("{} s", elapsed.as_secs()));
        parts.join(" · ")
    }
}

/// Follows `ids` until all have ended or `timeout` passes; returns the jobs as last read.
/// `progress` gets the line whenever it changes.
pub async fn watch(
    client: &Client,
    ids: &[String],
    timeout: Duration,
    mut progress: impl FnMut(&str),
) -> Result<Vec<Value>, WaitError> {
    let started = Instant::now();
    let mut jobs: Vec<Option<Value>> = vec![None; ids.len()];
    let mut last_line = String::new();
    loop {
        for (i, id) in ids.iter().enumerate() {
            if ended(&jobs[i]) {
                continue; // read once it has ended
            }
            match client.job(id).await {
                Ok(job) => jobs[i] = Some(job),
                Err(e) if e.is_transient() => progress(&format!("job {id}: {e}; asking again")),
                Err(e) => return Err(e.into()),
            }
        }
        let tally = Tally::of(&jobs);
        // The line without the clock, to print only changes.
        let line = tally.line(Duration::ZERO);
        if line != last_line {
            progress(&tally.line(started.elapsed()));
            last_line = line;
        }
        if tally.done() {
            return Ok(jobs.into_iter().flatten().collect());
        }
        if started.elapsed() >= timeout {
            let (id, job) = ids.iter().zip(&jobs).find(|(_, j)| !ended(j)).expect("not done: one is pending");
            let last = job.as_ref().and_then(|j| j["status"].as_str()).unwrap_or("UNKNOWN").to_owned();
            return Err(WaitError::Timeout { id: id.clone(), waited: started.elapsed(), last });
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(100))).await;
    }
}

/// The job as last read has ended.
fn ended(job: &Option<Value>) -> bool {
    job.as_ref().and_then(verdict).is_some_and(|v| !matches!(v, Verdict::Pending(_)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tally_table() {
        let job = |s: &str| Some(json!({"status": s}));
        // (jobs, ended, all succeeded, line)
        let cases = [
            (vec![job("SUCCEEDED"), job("SUCCEEDED")], 2, true, "2/2 ended · 2 SUCCEEDED · 3 s"),
            (
                vec![job("SUCCEEDED"), job("RUNNING"), None],
                1,
                false,
                "1/3 ended · 1 RUNNING · 1 SUCCEEDED · 1 UNKNOWN · 3 s",
            ),
            (vec![job("FAILED"), job("CANCELLED")], 2, false, "2/2 ended · 1 CANCELLED · 1 FAILED · 3 s"),
            (vec![job("RETRY_WAIT")], 0, false, "0/1 ended · 1 RETRY_WAIT · 3 s"),
            (vec![job("SKIPPED")], 1, false, "1/1 ended · 1 SKIPPED · 3 s"),
        ];
        for (jobs, ended, all, line) in cases {
            let t = Tally::of(&jobs);
            assert_eq!((t.ended, t.all_succeeded, t.done()), (ended, all, ended == jobs.len()), "{jobs:?}");
            assert_eq!(t.line(Duration::from_secs(3)), line);
        }
    }
}
