//! The local stack's status line: queue depth and job counters from the API, running and pending
//! Jobs from the controller.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use serde::Deserialize;

/// The fields of `GET /jobs/stats` the line shows.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub succeed_job: u64,
    pub failed_job: u64,
    pub job_retry: u64,
    pub queued: u64,
    pub in_flight: u64,
}

/// The fields of the controller's `GET /state` the line shows.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ControllerState {
    pub running: i64,
    pub pending: i64,
    pub last_error: Option<String>,
    #[serde(default)]
    pub scaled_jobs: Vec<ScaledJobState>,
}

/// One ScaledJob's part of the line.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScaledJobState {
    pub scaled_job: String,
    pub running: i64,
}

/// One line, e.g. `queued 3 │ in flight 2 │ jobs running 2 (1 pending) │ succeeded 10 │ failed 1 │ retries 4`.
pub fn line(stats: Result<&Stats, &str>, controller: Result<&ControllerState, &str>) -> String {
    let mut parts = Vec::new();
    match stats {
        Ok(s) => {
            parts.push(format!("queued {}", s.queued));
            parts.push(format!("in flight {}", s.in_flight));
        }
        Err(e) => parts.push(format!("api: {e}")),
    }
    match controller {
        Ok(c) => {
            let mut text = format!("jobs running {}", c.running);
            if c.pending > 0 {
                text.push_str(&format!(" ({} pending)", c.pending));
            }
            // Which ScaledJobs (pools) they run in, when there are several.
            let busy: Vec<String> = c
                .scaled_jobs
                .iter()
                .filter(|s| s.running > 0)
                .map(|s| format!("{} {}", s.scaled_job, s.running))
                .collect();
            if c.scaled_jobs.len() > 1 && !busy.is_empty() {
                text.push_str(&format!(" [{}]", busy.join(", ")));
            }
            parts.push(text);
        }
        Err(e) => parts.push(format!("controller: {e}")),
    }
    if let Ok(s) = stats {
        parts.push(format!("succeeded {}", s.succeed_job));
        parts.push(format!("failed {}", s.failed_job));
        parts.push(format!("retries {}", s.job_retry));
    }
    if let Ok(ControllerState { last_error: Some(e), .. }) = controller {
        parts.push(format!("queue error: {e}"));
    }
    parts.join(" │ ")
}

async fn fetch<T: for<'de> Deserialize<'de>>(client: &reqwest::Client, url: &str) -> Result<T, String> {
    let response = client.get(url).send().await.map_err(|_| "unreachable".to_owned())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status().as_u16()));
    }
    response.json::<T>().await.map_err(|e| format!("bad answer ({e})"))
}

/// Prints the line every `every`: rewritten in place on a terminal, otherwise when it changes.
/// `once` prints one line and returns.
pub async fn watch(api: &str, controller: &str, token: Option<&str>, every: Duration, once: bool) {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .default_headers(headers)
        .build()
        .expect("HTTP client");
    let stats_url = format!("{}/jobs/stats", api.trim_end_matches('/'));
    let state_url = format!("{}/state", controller.trim_end_matches('/'));
    let tty = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        let (stats, state) =
            tokio::join!(fetch::<Stats>(&client, &stats_url), fetch::<ControllerState>(&client, &state_url));
        let text = line(stats.as_ref().map_err(|e| e.as_str()), state.as_ref().map_err(|e| e.as_str()));
        let mut out = std::io::stdout().lock();
        if once {
            let _ = writeln!(out, "{text}");
            return;
        }
        if tty {
            let _ = write!(out, "\r\x1b[2K{text}");
            let _ = out.flush();
        } else if text != last {
            let _ = writeln!(out, "{text}");
        }
        last = text;
        drop(out);
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_outages() {
        let stats = Stats { succeed_job: 10, failed_job: 1, job_retry: 4, queued: 3, in_flight: 2 };
        let busy = ControllerState { running: 2, pending: 1, last_error: None, scaled_jobs: Vec::new() };
        let idle = ControllerState::default();
        assert_eq!(
            line(Ok(&stats), Ok(&busy)),
            "queued 3 │ in flight 2 │ jobs running 2 (1 pending) │ succeeded 10 │ failed 1 │ retries 4"
        );
        assert_eq!(
            line(Ok(&Stats::default()), Ok(&idle)),
            "queued 0 │ in flight 0 │ jobs running 0 │ succeeded 0 │ failed 0 │ retries 0"
        );
        assert_eq!(line(Err("unreachable"), Ok(&idle)), "api: unreachable │ jobs running 0");
        let broken = ControllerState { last_error: Some("no queue".into()), ..idle };
        assert_eq!(line(Ok(&stats), Err("HTTP 503")).split(" │ ").nth(2), Some("controller: HTTP 503"));
        assert!(line(Ok(&stats), Ok(&broken)).ends_with("queue error: no queue"));
        let sj = |name: &str, running| ScaledJobState { scaled_job: name.into(), running };
        let pools = ControllerState {
            running: 3,
            scaled_jobs: vec![sj("data-processor", 1), sj("data-processor-large", 0), sj("data-processor-long", 2)],
            ..ControllerState::default()
        };
        assert_eq!(
            line(Ok(&stats), Ok(&pools)).split(" │ ").nth(2),
            Some("jobs running 3 [data-processor 1, data-processor-long 2]")
        );
    }
}
