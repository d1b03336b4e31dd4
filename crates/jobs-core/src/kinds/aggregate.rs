use serde::{Deserialize, Serialize};

use super::kind::JobKind;

/// The most records one aggregate job may generate.
pub const MAX_RECORDS: u64 = 10_000_000;

/// Generates `records` pseudo-random sensor readings from `seed` and aggregates them: count, sum,
/// min, max, mean and a SHA-256 over the records. The same payload always gives the same summary,
/// so results can be checked; the work grows linearly with `records` (CPU-bound).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Aggregate {
    /// Readings to generate.
    #[serde(default = "default_records")]
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 10_000_000, default = 100_000))]
    pub records: u64,
    /// Seed of the generator.
    #[serde(default = "default_seed")]
    #[cfg_attr(feature = "schema", schema(minimum = 0, maximum = 9_223_372_036_854_775_807_i64, default = 42))]
    pub seed: u64,
}

fn default_records() -> u64 {
    100_000
}

fn default_seed() -> u64 {
    42
}

impl JobKind for Aggregate {
    const NAME: &'static str = "aggregate";
    const DESCRIPTION: &'static str = "Generates `records` (default 100000, at most 10000000) seeded readings and stores count, sum, min, max, mean and a SHA-256.";
    fn example() -> Self {
        Aggregate { records: 100_000, seed: 42 }
    }

    // CPU- and memory-bound: the pool of several CPUs and GiB.
    const POLICY: crate::policy::KindPolicy = crate::policy::KindPolicy {
        pool: "large",
        timeout: Some(std::time::Duration::from_secs(600)),
        ..crate::policy::KindPolicy::DEFAULT
    };

    fn validate(&self) -> Result<(), String> {
        if !(1..=MAX_RECORDS).contains(&self.records) {
            return Err(format!("records must be between 1 and {MAX_RECORDS}, got {}", self.records));
        }
        // JSON tools read integers as signed 64-bit: keep seeds inside that.
        if self.seed > i64::MAX as u64 {
            return Err(format!("seed must be at most {}, got {}", i64::MAX, self.seed));
        }
        Ok(())
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        let (records, seed) = (self.records, self.seed);
        let cancel = ctx.cancel.clone();
        // CPU-bound: keep it off the async threads so heartbeats and signals stay responsive.
        // The loop looks at the cancel signal as it goes, so a cancel stops it within
        // milliseconds instead of the worker's grace period.
        let summary = tokio::task::spawn_blocking(move || summarize_until(records, seed, || cancel.is_cancelled()))
            .await
            .map_err(|e| super::context::JobFailure::retryable(format!("aggregate task failed: {e}")))?;
        let Some(summary) = summary else {
            return Err(super::context::JobFailure::retryable("aggregate cancelled before it finished".to_owned()));
        };
        Ok(serde_json::to_value(summary).expect("summary serializes"))
    }
}

/// The stored result of an aggregate job.
#[cfg(feature = "run")]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub count: u64,
    pub sum: u64,
    pub min: u32,
    pub max: u32,
    pub mean: f64,
    pub sha256: String,
}

/// SplitMix64: a tiny, well-known generator; enough for reproducible synthetic data.
#[cfg(feature = "run")]
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Records looked at between two checks of the stop signal (a few milliseconds of work).
#[cfg(feature = "run")]
const CHECK_EVERY: u64 = 1 << 16;

/// Generates and aggregates the records (pure), looking at `stop` every [`CHECK_EVERY`]
/// records; `None` once it said stop.
#[cfg(feature = "run")]
fn summarize_until(records: u64, seed: u64, stop: impl Fn() -> bool) -> Option<Summary> {
    use sha2::{Digest, Sha256};
    let mut state = seed;
    let mut hasher = Sha256::new();
    let (mut sum, mut min, mut max) = (0u64, u32::MAX, 0u32);
    for index in 0..records {
        if index % CHECK_EVERY == 0 && stop() {
            return None;
        }
        // A reading: sensor id and a value in 0..1_000_000.
        let raw = splitmix64(&mut state);
        let value = (raw % 1_000_000) as u32;
        let sensor = (raw >> 40) as u16;
        hasher.update(index.to_le_bytes());
        hasher.update(sensor.to_le_bytes());
        hasher.update(value.to_le_bytes());
        sum += u64::from(value);
        min = min.min(value);
        max = max.max(value);
    }
    let digest = hasher.finalize();
    Some(Summary {
        count: records,
        sum,
        min,
        max,
        mean: sum as f64 / records as f64,
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

#[cfg(all(test, feature = "run"))]
mod tests {
    use super::*;

    fn summarize(records: u64, seed: u64) -> Summary {
        summarize_until(records, seed, || false).expect("never stopped")
    }

    #[test]
    fn splitmix_matches_the_reference_sequence() {
        // Reference values of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        let mut s = 0;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn a_stop_ends_the_loop_at_its_next_check() {
        let looked = std::cell::Cell::new(0);
        let stop_at_third = || {
            looked.set(looked.get() + 1);
            looked.get() >= 3
        };
        assert_eq!(summarize_until(10 * CHECK_EVERY, 1, stop_at_third), None);
        assert_eq!(looked.get(), 3, "checked every CHECK_EVERY records, stopped at once");
        assert_eq!(summarize_until(1000, 7, || false), Some(summarize(1000, 7)));
    }

    #[tokio::test]
    async fn a_cancelled_aggregate_returns_promptly() {
        use super::super::{Cancellation, JobContext, JobKind};
        let (tx, cancel) = Cancellation::new();
        let ctx = JobContext {
            job_id: "j".into(),
            attempt: 1,
            cancel,
            checkpoint: crate::kinds::Checkpoint::none(),
            clock: crate::clock::system(),
        };
        let job = Aggregate { records: MAX_RECORDS, seed: 1 };
        let started = std::time::Instant::now();
        tx.send(true).unwrap();
        let err = job.run(&ctx).await.expect_err("cancelled");
        assert!(err.message.contains("cancelled"), "{err:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn summary_is_reproducible_and_consistent() {
        let a = summarize(1000, 7);
        assert_eq!(a, summarize(1000, 7));
        assert_ne!(a.sha256, summarize(1000, 8).sha256);
        assert_eq!(a.count, 1000);
        assert!(a.min <= a.max && a.max < 1_000_000);
        assert!((a.mean - a.sum as f64 / 1000.0).abs() < 1e-9);
        let one = summarize(1, 0);
        let value = (0xE220_A839_7B1D_CDAFu64 % 1_000_000) as u32;
        assert_eq!((one.sum, one.min, one.max), (u64::from(value), value, value));
    }
}
