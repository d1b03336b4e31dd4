//! The worker's path: its footprint, `GET /jobs/stats` over many items, throughput and latency
//! through the local stack, and the reconciler's copies while a backlog drains.

use serde_json::json;
use testkit::Stack;

use super::table::{Report, target};
use crate::stats;
use crate::{Args, backlog, e2e, footprint, procs, proxy::Proxy};

/// The worker's footprint (7), its receives seen by a counting proxy.
pub(super) async fn worker(args: &Args, r: &mut Report) -> Result<(), String> {
    eprintln!("bench: worker footprint");
    let stack = Stack::start().await;
    let proxy = Proxy::start(&stack.emulator.endpoint).await;
    let fp = footprint::measure(&stack, &proxy, args.runs, &args.image).await?;
    r.row(
        "worker peak RSS",
        format!("{:.1} MiB (max {:.1})", fp.peak_rss_mib_median, fp.peak_rss_mib_max),
        target(fp.peak_rss_mib_max <= 20.0, "≤ 20 MB"),
    );
    r.row(
        "worker start → first receive",
        format!("{:.1} ms (max {:.1})", fp.start_to_first_receive_ms_median, fp.start_to_first_receive_ms_max),
        target(fp.start_to_first_receive_ms_median <= 50.0, "≤ 50 ms"),
    );
    r.row("worker image", fp.image_mib.map_or("not built (make image)".into(), |m| format!("{m:.1} MiB")), "");
    r.results["worker"] = serde_json::to_value(&fp).unwrap();
    Ok(())
}

/// GET /jobs/stats (6) with 100 and with many job items.
pub(super) async fn stats_read(args: &Args, r: &mut Report) {
    eprintln!("bench: stats read with 100 and {} job items", args.stats_items);
    let stack = Stack::start().await;
    let local = procs::serve_api(&procs::api_env(&stack, &stack.emulator.endpoint).await).await;
    stats::seed(&stack, 0, 100).await;
    let small = stats::stats_latency(&local.base, 100, 500).await;
    stats::seed(&stack, 100, args.stats_items).await;
    let large = stats::stats_latency(&local.base, args.stats_items, 500).await;
    let ratio = large.median_ms / small.median_ms;
    r.row("GET /jobs/stats, 100 jobs", format!("{:.2} ms (p99 {:.2})", small.median_ms, small.p99_ms), "");
    r.row(
        format!("GET /jobs/stats, {} jobs", args.stats_items),
        format!("{:.2} ms (p99 {:.2})", large.median_ms, large.p99_ms),
        "",
    );
    r.row("stats read ratio", format!("{ratio:.2}"), target(ratio <= 1.2, "≤ 1.2"));
    r.results["statsRead"] = json!({"small": small, "large": large, "ratio": ratio});
}

/// Throughput and latency (3-4) through the local stack.
pub(super) async fn flow(args: &Args, r: &mut Report) -> Result<(), String> {
    eprintln!("bench: {} jobs through the local stack (process executor)", args.jobs);
    let stack = Stack::start().await;
    let logs = std::env::temp_dir().join(format!("bench-jobs-{}", std::process::id()));
    std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
    let flow = e2e::run(&stack, args.jobs, &logs).await?;
    let _ = std::fs::remove_dir_all(&logs);
    r.row(
        format!("throughput, {} noop jobs", flow.jobs),
        format!("{:.1} jobs/s ({:.1} s, {} succeeded)", flow.jobs_per_second, flow.seconds, flow.succeeded),
        "",
    );
    r.row(
        "Jobs created ÷ messages",
        format!(
            "{:.2} ({} Jobs, accurate strategy, maxReplicaCount {})",
            flow.jobs_created_per_message, flow.jobs_created, flow.max_replica_count
        ),
        target((flow.jobs_created_per_message - 1.0).abs() < 0.005, "1.00"),
    );
    r.row(
        format!("enqueue → attempt start, {} at once", flow.jobs),
        format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (the backlog drains at maxReplicaCount per polling interval)",
            flow.start_latency_ms_p50, flow.start_latency_ms_p99, flow.start_latency_ms_max
        ),
        "",
    );
    r.row(
        format!("enqueue → attempt start, {} one by one", flow.trickle_jobs),
        format!(
            "p50 {:.0} ms, p99 {:.0} ms (polling interval {} s)",
            flow.idle_start_latency_ms_p50, flow.idle_start_latency_ms_p99, flow.polling_interval_secs
        ),
        "",
    );
    r.results["flow"] = serde_json::to_value(&flow).unwrap();
    Ok(())
}

/// The reconciler's copies while a backlog drains (issue 24, item 8).
pub(super) async fn backlog(args: &Args, r: &mut Report) -> Result<(), String> {
    eprintln!(
        "bench: a {}-job backlog drained by {} worker slots, the reconciler passing",
        args.backlog_jobs, args.backlog_slots
    );
    let stack = Stack::start().await;
    let b = backlog::run(&stack, args.backlog_jobs, args.backlog_slots).await?;
    r.row(
        format!("reconciler copies, {}-job backlog", b.jobs),
        format!(
            "{} copies ÷ {} jobs = {:.2} % ({} jobs waited past the {} s threshold; {} looks without a copy; drained in {:.0} s by {} slots)",
            b.copies,
            b.jobs,
            b.copies_per_job * 100.0,
            b.jobs_waited_past_stale,
            b.stale_secs,
            b.waits,
            b.seconds,
            b.slots
        ),
        target(b.copies_per_job <= 0.01, "≤ 1 %"),
    );
    r.results["backlog"] = serde_json::to_value(&b).unwrap();
    Ok(())
}
