//! Small statistics over samples, and `GET /jobs/stats` latency as the table grows.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde::Serialize;
use testkit::Stack;

/// The `p`-th percentile (nearest rank) of `samples`; 0 for none.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * s.len() as f64).ceil().max(1.0) as usize;
    s[rank.min(s.len()) - 1]
}

/// Median, min and max of durations, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub runs: usize,
}

impl Spread {
    pub fn of(samples: &[Duration]) -> Spread {
        let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        Spread {
            median_ms: percentile(&ms, 50.0),
            min_ms: percentile(&ms, 0.0),
            max_ms: percentile(&ms, 100.0),
            runs: ms.len(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsRead {
    pub items: usize,
    pub median_ms: f64,
    pub p99_ms: f64,
}

/// Writes job items until the table holds `total` (BatchWriteItem, 25 at a time, 8 in parallel).
pub async fn seed(stack: &Stack, from: usize, total: usize) {
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let mut batches = tokio::task::JoinSet::new();
    let mut i = from;
    while i < total {
        let end = (i + 25).min(total);
        let requests: Vec<WriteRequest> = (i..end)
            .map(|n| {
                let item = [
                    ("pk", format!("JOB#seed-{n:07}")),
                    ("jobId", format!("seed-{n:07}")),
                    ("status", "SUCCEEDED".to_owned()),
                    ("kind", "noop".to_owned()),
                    ("listAll", "JOB".to_owned()),
                    ("createdAt", "2026-12-01T00:00:00.000Z".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
                .collect();
                WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(item)).build().unwrap()).build()
            })
            .collect();
        let (ddb, table) = (ddb.clone(), stack.resources.table.clone());
        if batches.len() >= 8 {
            batches.join_next().await;
        }
        batches.spawn(async move {
            let mut pending = Some(requests);
            while let Some(requests) = pending.take().filter(|r| !r.is_empty()) {
                let out = ddb.batch_write_item().request_items(&table, requests).send().await.expect("seed the table");
                pending = out.unprocessed_items.and_then(|mut u| u.remove(&table));
            }
        });
        i = end;
    }
    while batches.join_next().await.is_some() {}
}

/// `GET /jobs/stats` latency over `n` sequential requests.
pub async fn stats_latency(base: &str, items: usize, n: usize) -> StatsRead {
    let http = reqwest::Client::new();
    let url = format!("{base}/jobs/stats");
    let _ = http.get(&url).send().await; // connection and first-call warm-up
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = http.get(&url).send().await.expect("GET /jobs/stats");
        assert!(r.status().is_success());
        let _ = r.bytes().await;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    StatsRead { items, median_ms: percentile(&ms, 50.0), p99_ms: percentile(&ms, 99.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles() {
        let s = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!((percentile(&s, 50.0), percentile(&s, 0.0), percentile(&s, 100.0)), (3.0, 1.0, 5.0));
        assert_eq!(percentile(&s, 99.0), 5.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
        let spread = Spread::of(&[Duration::from_millis(10), Duration::from_millis(30), Duration::from_millis(20)]);
        assert_eq!((spread.median_ms, spread.min_ms, spread.max_ms, spread.runs), (20.0, 10.0, 30.0, 3));
    }
}
