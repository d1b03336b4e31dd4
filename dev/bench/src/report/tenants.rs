//! Tenants (issue 28's targets): a quiet tenant's jobs behind another's burst, and a limit
//! sampled every second, then raised at run time.

use testkit::Stack;

use super::table::{Report, target};
use crate::{Args, tenants};

/// A quiet tenant's jobs behind another tenant's burst, without limits and with the noisy
/// tenant's `maxRunning` set (issue 28's first target).
pub(super) async fn noisy_neighbour(args: &Args, r: &mut Report) -> Result<(), String> {
    const QUIET: usize = 10;
    const A_LIMIT: u32 = 20;
    let logs = std::env::temp_dir().join(format!("bench-tenants-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    for limit in [None, Some(A_LIMIT)] {
        eprintln!(
            "bench: tenant a (maxRunning {}) submits {} noop jobs, then tenant b {QUIET} (process executor)",
            limit.map_or("none".into(), |l| l.to_string()),
            args.jobs
        );
        let stack = Stack::start().await;
        let n = tenants::run(&stack, args.jobs, QUIET, limit, &logs).await?;
        let limited = limit.map_or(String::new(), |l| format!(", a at maxRunning {l}"));
        r.row(
            format!("noisy neighbour: tenant b's {} jobs behind tenant a's {}{limited}", n.quiet_jobs, n.burst_jobs),
            format!(
                "enqueue → start p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (a's own: p50 {:.0} ms, max {:.0} ms; maxReplicaCount {})",
                n.quiet_start_ms_p50,
                n.quiet_start_ms_p99,
                n.quiet_start_ms_max,
                n.burst_start_ms_p50,
                n.burst_start_ms_max,
                n.max_replica_count
            ),
            target(
                n.quiet_start_ms_max <= (n.polling_interval_secs * 1000) as f64,
                &format!("≤ one polling interval ({} s)", n.polling_interval_secs),
            ),
        );
        let key = if limit.is_some() { "tenantsLimited" } else { "tenants" };
        r.results[key] = serde_json::to_value(&n).unwrap();
    }
    let _ = std::fs::remove_dir_all(&logs);
    Ok(())
}

/// A tenant's limit, sampled every second, then raised at run time (issue 28's second target).
pub(super) async fn limits(r: &mut Report) -> Result<(), String> {
    eprintln!("bench: tenant a's sleep jobs at maxRunning 5, sampled every second, then raised to 20");
    let logs = std::env::temp_dir().join(format!("bench-limits-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let stack = Stack::start().await;
    let l = tenants::limited(&stack, &logs).await?;
    let _ = std::fs::remove_dir_all(&logs);
    r.row(
        format!("tenant at maxRunning {}: its RUNNING jobs, sampled every second", l.max_running),
        format!("at most {} in {} samples ({} jobs of {} s)", l.most_running_seen, l.samples, l.jobs, l.job_secs),
        target(l.most_running_seen <= l.max_running as usize, &format!("never more than {}", l.max_running)),
    );
    r.row(
        format!("the limit raised to {} at run time", l.raised_to),
        match l.reached_ms {
            Some(ms) => format!("{} running after {:.0} ms (maxReplicaCount {})", l.raised_to, ms, l.max_replica_count),
            None => format!("never {} running within 60 s (maxReplicaCount {})", l.raised_to, l.max_replica_count),
        },
        target(
            l.reached_ms.is_some_and(|ms| ms <= (l.polling_interval_secs * 1000) as f64),
            &format!("within one polling interval ({} s)", l.polling_interval_secs),
        ),
    );
    r.results["tenantLimit"] = serde_json::to_value(&l).unwrap();
    Ok(())
}
