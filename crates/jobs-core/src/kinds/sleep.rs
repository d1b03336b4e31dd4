use serde::{Deserialize, Serialize};

use super::kind::JobKind;

/// The longest sleep a job may ask for: 12 hours, the long pool's time limit.
pub const MAX_SLEEP_MS: u64 = 43_200_000;

/// Sleeps for `ms` milliseconds, then succeeds. Stands in for slow I/O-bound work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    /// How long to sleep.
    #[cfg_attr(feature = "schema", schema(minimum = 0, maximum = 43_200_000))]
    pub ms: u64,
}

impl JobKind for Sleep {
    const NAME: &'static str = "sleep";
    fn example() -> Self {
        Sleep { ms: 2000 }
    }

    // Jobs of hours, which a spot reclaim should not interrupt.
    const POLICY: crate::policy::KindPolicy =
        crate::policy::KindPolicy { pool: "long", ..crate::policy::KindPolicy::DEFAULT };
    const DESCRIPTION: &'static str = "Sleeps for `ms` milliseconds (at most 43200000, 12 hours; in the long pool), then succeeds; stops early when cancelled; saves its progress every second, so an interrupted run resumes where it was.";

    fn validate(&self) -> Result<(), String> {
        if self.ms > MAX_SLEEP_MS {
            return Err(format!("ms must be at most {MAX_SLEEP_MS}, got {}", self.ms));
        }
        Ok(())
    }

    #[cfg(feature = "run")]
    async fn run(
        &self,
        ctx: &super::context::JobContext,
    ) -> Result<super::context::JobOutput, super::context::JobFailure> {
        use std::time::Duration;

        // tokio's clock: the same in production, and the simulator's when it runs the kind.
        use tokio::time::Instant;
        // Resumed: an earlier run of this attempt already slept this long.
        let resumed = ctx.checkpoint.previous().and_then(|c| c["sleptMs"].as_u64()).unwrap_or(0).min(self.ms);
        let started = Instant::now();
        let slept = |started: Instant| resumed + (started.elapsed().as_millis() as u64).min(self.ms - resumed);
        let work = async {
            while slept(started) < self.ms {
                let left = self.ms - slept(started);
                tokio::time::sleep(Duration::from_millis(left.min(CHECKPOINT_EVERY_MS))).await;
                // Small and bounded: never over the limit.
                let _ = ctx.checkpoint.save(serde_json::json!({ "sleptMs": slept(started) }));
            }
        };
        tokio::select! {
            () = work => Ok(match resumed {
                0 => serde_json::json!({ "sleptMs": self.ms }),
                from => serde_json::json!({ "sleptMs": self.ms, "resumedFromMs": from }),
            }),
            () = ctx.cancel.cancelled() => Err(super::context::JobFailure::retryable(format!(
                "sleep cancelled after {} ms", slept(started)
            ))),
        }
    }
}

/// How often `sleep` saves its progress.
#[cfg(feature = "run")]
const CHECKPOINT_EVERY_MS: u64 = 1000;

#[cfg(all(test, feature = "run"))]
mod tests {
    use super::*;
    use crate::kinds::{Cancellation, Checkpoint, JobContext};

    fn ctx(
        previous: Option<serde_json::Value>,
    ) -> (tokio::sync::watch::Receiver<Option<serde_json::Value>>, JobContext) {
        let (saved, checkpoint) = Checkpoint::new(previous);
        (
            saved,
            JobContext {
                job_id: "j".into(),
                attempt: 1,
                cancel: Cancellation::never(),
                checkpoint,
                clock: crate::clock::system(),
            },
        )
    }

    #[tokio::test]
    async fn a_resumed_sleep_sleeps_only_what_is_left_and_saves_its_progress() {
        // (slept before, result's resumedFromMs, time this run takes in ms)
        for (before, resumed, takes) in [(None, None, 1200), (Some(1000), Some(1000), 200), (Some(9000), Some(1200), 0)]
        {
            let (saved, ctx) = ctx(before.map(|ms: u64| serde_json::json!({ "sleptMs": ms })));
            let t0 = std::time::Instant::now();
            let out = Sleep { ms: 1200 }.run(&ctx).await.unwrap();
            let took = t0.elapsed().as_millis() as u64;
            assert!((takes..takes + 150).contains(&took), "{before:?}: took {took} ms, not about {takes}");
            assert_eq!(out["resumedFromMs"].as_u64(), resumed);
            if takes > 0 {
                assert_eq!(saved.borrow().as_ref().unwrap()["sleptMs"], 1200, "the last save is the whole sleep");
            }
        }
    }

    #[test]
    fn a_checkpoint_over_the_limit_is_refused() {
        let (saved, ctx) = ctx(None);
        let big = serde_json::json!({ "x": "y".repeat(crate::kinds::MAX_CHECKPOINT_BYTES) });
        assert!(ctx.checkpoint.save(big).is_err());
        assert!(saved.borrow().is_none());
        assert!(ctx.checkpoint.save(serde_json::json!({ "sleptMs": 1 })).is_ok());
    }
}
