//! Command kinds (issue 27's figures): the wrapper beside a Rust kind doing the same (nothing).

use testkit::Stack;

use super::table::{Report, target};
use crate::{Args, commands};

/// The command-kind wrapper beside a Rust kind doing the same (nothing): issue 27's figures.
pub(super) async fn commands_wrapper(args: &Args, r: &mut Report) -> Result<(), String> {
    eprintln!("bench: the command wrapper, {} noop and {} `sh job.sh` jobs", args.runs, args.runs);
    let stack = Stack::start().await;
    let w = commands::measure(&stack, args.runs).await?;
    r.row(
        "command kind: attempt (claim → record)",
        format!(
            "{:.0} ms (noop, a Rust kind: {:.0} ms; the wrapper adds {:.0} ms; max {:.0})",
            w.command_attempt_ms, w.rust_attempt_ms, w.overhead_ms, w.command_attempt_ms_max
        ),
        "",
    );
    r.row(
        "command kind: worker run, one job",
        format!("{:.0} ms (noop: {:.0} ms)", w.command_worker_wall_ms, w.rust_worker_wall_ms),
        "",
    );
    r.row(
        "command kind: the worker's RSS while its command runs",
        format!("{:.1} MiB", w.wrapper_rss_mib_while_child_runs),
        target(w.wrapper_rss_mib_while_child_runs <= 20.0, "≤ 20 MB (the worker's own budget)"),
    );
    r.results["commandWrapper"] = serde_json::to_value(&w).unwrap();
    Ok(())
}
