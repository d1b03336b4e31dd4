//! Pools and priorities (issue 26's targets): a short job behind a pool full of long ones, the
//! drained pool's throughput, a high job behind a normal backlog.

use testkit::Stack;

use super::table::{Report, target};
use crate::{Args, isolation, pools};

/// A short job's start behind a pool full of long ones (issue 26's first target).
pub(super) async fn isolation(args: &Args, r: &mut Report) -> Result<(), String> {
    const SHORT: usize = 5;
    eprintln!(
        "bench: {SHORT} noop jobs behind {} sleep jobs of {} s (process executor)",
        args.isolation_long, args.isolation_long_secs
    );
    let stack = Stack::start().await;
    let logs = std::env::temp_dir().join(format!("bench-isolation-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let i = isolation::run(&stack, args.isolation_long, args.isolation_long_secs, SHORT, &logs).await?;
    let _ = std::fs::remove_dir_all(&logs);
    let within = i.short_start_ms_max <= (i.polling_interval_secs * 1000) as f64;
    r.row(
        format!("short job behind {} jobs of {} s", i.long_jobs, i.long_secs),
        format!(
            "enqueue → start p50 {:.0} ms, max {:.0} ms ({} short jobs; maxReplicaCount {}, all slots busy)",
            i.short_start_ms_p50, i.short_start_ms_max, i.short_jobs, i.max_replica_count
        ),
        target(within, &format!("≤ one polling interval ({} s)", i.polling_interval_secs)),
    );
    r.results["isolation"] = serde_json::to_value(&i).unwrap();
    Ok(())
}

/// The drained pool's throughput (issue 26's third target).
pub(super) async fn drain(args: &Args, r: &mut Report) -> Result<(), String> {
    eprintln!("bench: {} ping jobs through the drained short pool (process executor)", args.jobs);
    let stack = Stack::start().await;
    let logs = std::env::temp_dir().join(format!("bench-drain-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let d = pools::drain(&stack, args.jobs, &logs).await?;
    let _ = std::fs::remove_dir_all(&logs);
    r.row(
        format!("drain pool, {} ping jobs", d.jobs),
        format!("{:.1} jobs/s ({:.1} s, {} succeeded, each counted once)", d.jobs_per_second, d.seconds, d.succeeded),
        target(d.jobs_per_second >= 50.0 && d.succeeded as usize == d.jobs, "≥ 50 jobs/s"),
    );
    r.row(
        "drain pool: pods started ÷ jobs",
        format!("{:.3} ({} pods, maxReplicaCount {})", d.pods_per_job, d.pods_started, d.max_replica_count),
        target(d.pods_per_job <= 0.1, "≤ 0.1"),
    );
    r.results["drain"] = serde_json::to_value(&d).unwrap();
    Ok(())
}

/// A high job behind a normal backlog of its pool (issue 26's second target).
pub(super) async fn priority(args: &Args, r: &mut Report) -> Result<(), String> {
    eprintln!("bench: a high noop job behind {} normal ones (process executor)", args.jobs);
    let stack = Stack::start().await;
    let logs = std::env::temp_dir().join(format!("bench-priority-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let p = pools::priority(&stack, args.jobs, &logs).await?;
    let _ = std::fs::remove_dir_all(&logs);
    r.row(
        format!("high job behind {} normal ones", p.backlog),
        format!(
            "enqueue → start {:.0} ms; it overtook {} waiting jobs (the backlog's: p50 {:.0} ms, p99 {:.0} ms)",
            p.high_start_ms, p.overtaken, p.backlog_start_ms_p50, p.backlog_start_ms_p99
        ),
        target(
            p.high_start_ms <= (p.polling_interval_secs * 1000) as f64,
            &format!("≤ one polling interval ({} s)", p.polling_interval_secs),
        ),
    );
    r.results["priority"] = serde_json::to_value(&p).unwrap();
    Ok(())
}
