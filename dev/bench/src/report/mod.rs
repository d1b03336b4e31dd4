//! Runs every measurement, prints one table and writes the results file (every figure, the
//! targets and whether they were met, the machine and the commit).
//!
//! The sections, by what they measure: [`api`] (the Lambda and the cost), [`worker`] (the job's
//! path), [`pools`], [`tenants`], [`commands`].

mod api;
mod commands;
mod pools;
mod table;
mod tenants;
mod worker;

use serde_json::{Value, json};

use table::{Report, print_table};

use crate::lambda::Runtime;
use crate::{Args, Section, cost, procs};

pub async fn run(args: &Args) -> Result<(), String> {
    let root = procs::workspace_root();
    let prices: cost::Prices = serde_json::from_str(
        &std::fs::read_to_string(root.join("dev/bench/prices.json"))
            .map_err(|e| format!("dev/bench/prices.json: {e}"))?,
    )
    .map_err(|e| format!("dev/bench/prices.json: {e}"))?;
    let mut r = Report { rows: Vec::new(), results: json!({}) };
    // The packaged bootstrap: only the sections that run the Lambda need it.
    let lambda = args.runs(Section::Api) || args.runs(Section::Cost);
    let rust = lambda
        .then(|| procs::bootstrap(&root.join("dist/api-lambda.zip")))
        .transpose()?
        .map(|program| Runtime { name: "rust", program, args: vec![] });

    let mut submit_wall_ms = None;
    if let Some(rust) = rust.as_ref().filter(|_| args.runs(Section::Api)) {
        submit_wall_ms = Some(api::api(args, &root, rust, &mut r).await?);
    }
    if let Some(rust) = rust.as_ref().filter(|_| args.runs(Section::Cost)) {
        api::cost(args, rust, submit_wall_ms, &prices, &mut r).await?;
    }
    if args.runs(Section::Worker) {
        worker::worker(args, &mut r).await?;
    }
    if args.runs(Section::Stats) {
        worker::stats_read(args, &mut r).await;
    }
    if args.runs(Section::Flow) {
        worker::flow(args, &mut r).await?;
    }
    if args.runs(Section::Backlog) {
        worker::backlog(args, &mut r).await?;
    }
    if args.runs(Section::Isolation) {
        pools::isolation(args, &mut r).await?;
    }
    if args.runs(Section::Drain) {
        pools::drain(args, &mut r).await?;
    }
    if args.runs(Section::Priority) {
        pools::priority(args, &mut r).await?;
    }
    if args.runs(Section::Commands) {
        commands::commands_wrapper(args, &mut r).await?;
    }
    if args.runs(Section::Tenants) {
        tenants::noisy_neighbour(args, &mut r).await?;
    }
    if args.runs(Section::Limits) {
        tenants::limits(&mut r).await?;
    }

    let mut results = r.results;
    results["machine"] = machine();
    results["commit"] = json!(git(&["rev-parse", "HEAD"]));
    results["dirty"] = json!(git(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty()));
    results["date"] = json!(chrono::Utc::now().to_rfc3339());
    results["settings"] = json!({"jobs": args.jobs, "runs": args.runs, "invocations": args.invocations, "statsItems": args.stats_items,
            "backlogJobs": args.backlog_jobs, "backlogSlots": args.backlog_slots,
            "isolationLong": args.isolation_long, "isolationLongSecs": args.isolation_long_secs});
    let table: Vec<Value> = r.rows.iter().map(|(f, v, t)| json!({"figure": f, "value": v, "target": t})).collect();
    results["table"] = json!(table);

    print_table(&r.rows);
    let out = if args.out.is_absolute() { args.out.clone() } else { root.join(&args.out) };
    std::fs::write(&out, serde_json::to_string_pretty(&results).unwrap() + "\n")
        .map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!("bench: wrote {}", out.display());
    Ok(())
}
fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).current_dir(procs::workspace_root()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let os = read("/etc/os-release")
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|s| s.trim_matches('"').to_owned());
    let mem_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|s| s.trim_start_matches([' ', '\t', ':']).to_owned());
    let cmd = |c: &str, a: &[&str]| {
        std::process::Command::new(c)
            .args(a)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memoryGiB": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "os": os,
        "kernel": cmd("uname", &["-r"]),
        "rustc": cmd("rustc", &["--version"]),
        "python": cmd(".venv/bin/python", &["--version"]),
    })
}
