//! Runs every measurement, prints one table and writes the results file (every figure, the
//! targets and whether they were met, the machine and the commit).

use serde_json::{Value, json};
use testkit::Stack;

use crate::lambda::{self, Runtime};
use crate::runtime_api::http_event;
use crate::stats::{self, Spread};
use crate::{Args, Section, backlog, commands, cost, e2e, footprint, isolation, pools, procs, proxy::Proxy, tenants};

/// The table's rows (figure, value, target) and the results file being built.
struct Report {
    rows: Vec<(String, String, String)>,
    results: Value,
}

impl Report {
    fn row(&mut self, figure: impl Into<String>, value: impl Into<String>, target: impl Into<String>) {
        self.rows.push((figure.into(), value.into(), target.into()));
    }
}

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
        submit_wall_ms = Some(api(args, &root, rust, &mut r).await?);
    }
    if let Some(rust) = rust.as_ref().filter(|_| args.runs(Section::Cost)) {
        cost(args, rust, submit_wall_ms, &prices, &mut r).await?;
    }
    if args.runs(Section::Worker) {
        worker(args, &mut r).await?;
    }
    if args.runs(Section::Stats) {
        stats_read(args, &mut r).await;
    }
    if args.runs(Section::Flow) {
        flow(args, &mut r).await?;
    }
    if args.runs(Section::Backlog) {
        backlog(args, &mut r).await?;
    }
    if args.runs(Section::Isolation) {
        isolation(args, &mut r).await?;
    }
    if args.runs(Section::Drain) {
        drain(args, &mut r).await?;
    }
    if args.runs(Section::Priority) {
        priority(args, &mut r).await?;
    }
    if args.runs(Section::Commands) {
        commands_wrapper(args, &mut r).await?;
    }
    if args.runs(Section::Tenants) {
        noisy_neighbour(args, &mut r).await?;
    }
    if args.runs(Section::Limits) {
        limits(&mut r).await?;
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

fn post_job_event() -> String {
    http_event("POST", "/jobs", Some(r#"{"job":"noop"}"#))
}

/// The API (1-2) under the Runtime API: cold starts and warm CPU, Rust and the Python reference.
/// Returns the warm wall time of `POST /jobs` (the Lambda duration the cost section prices).
async fn api(args: &Args, root: &std::path::Path, rust: &Runtime, r: &mut Report) -> Result<f64, String> {
    eprintln!("bench: API cold starts and warm requests (Rust bootstrap, Python + boto3 reference)");
    let stack = Stack::start().await;
    let env = procs::api_env(&stack, &stack.emulator.endpoint).await;
    let python = Runtime {
        name: "python",
        program: root.join(&args.python),
        args: vec![root.join("dev/bench/python/bootstrap.py").display().to_string()],
    };
    type Event = fn() -> String;
    let routes: [(&str, Event); 2] =
        [("GET /jobs/stats", || http_event("GET", "/jobs/stats", None)), ("POST /jobs", post_job_event)];
    let mut api = json!({});
    let mut submit_wall_ms = 0.0;
    for (route, event) in routes {
        let mut per_route = json!({});
        let mut medians = Vec::new();
        for rt in [rust, &python] {
            let starts = lambda::cold_starts(rt, &env, event, args.runs).await?;
            let cold = Spread::of(&starts.iter().map(|s| s.total).collect::<Vec<_>>());
            let init = Spread::of(&starts.iter().map(|s| s.init).collect::<Vec<_>>());
            let (cpu, wall) = lambda::warm(rt, &env, event, args.invocations).await?;
            if rt.name == "rust" && route == "POST /jobs" {
                submit_wall_ms = wall;
            }
            medians.push(cold.median_ms);
            r.row(
                format!("{route} cold start, {}", rt.name),
                format!(
                    "{:.1} ms (min {:.1}, max {:.1}, {} runs; init {:.1})",
                    cold.median_ms, cold.min_ms, cold.max_ms, cold.runs, init.median_ms
                ),
                "",
            );
            r.row(
                format!("{route} warm, {}", rt.name),
                format!("{cpu:.2} CPU-ms, {wall:.2} ms per request ({} requests)", args.invocations),
                "",
            );
            per_route[rt.name] =
                json!({"coldStart": cold, "init": init, "warmCpuMsPerRequest": cpu, "warmWallMsPerRequest": wall});
        }
        let ratio = medians[1] / medians[0];
        r.row(format!("{route} cold start, python ÷ rust"), format!("{ratio:.1}×"), target(ratio >= 20.0, "≥ 20×"));
        per_route["coldStartRatio"] = json!(ratio);
        api[route] = per_route;
    }
    r.results["api"] = api;
    Ok(submit_wall_ms)
}

/// AWS requests and cost per job (5). The Lambda's duration is the warm `POST /jobs` (measured
/// here when the API section did not run).
async fn cost(
    args: &Args,
    rust: &Runtime,
    submit_wall_ms: Option<f64>,
    prices: &cost::Prices,
    r: &mut Report,
) -> Result<(), String> {
    eprintln!("bench: AWS requests per job");
    let stack = Stack::start().await;
    let submit_wall_ms = match submit_wall_ms {
        Some(ms) => ms,
        None => {
            // On a stack of its own: the jobs it submits must not queue ahead of the journeys'.
            let warm = Stack::start().await;
            let env = procs::api_env(&warm, &warm.emulator.endpoint).await;
            lambda::warm(rust, &env, post_job_event, args.invocations).await?.1
        }
    };
    let proxy = Proxy::start(&stack.emulator.endpoint).await;
    let local = procs::serve_api(&procs::api_env(&stack, &proxy.endpoint).await).await;
    let ctx = cost::Ctx {
        stack: &stack,
        proxy: &proxy,
        api: &local,
        worker_env: procs::env_via(stack.worker_env(), &proxy.endpoint),
        http: reqwest::Client::new(),
    };
    let (journeys, idle) = cost::journeys(&ctx, submit_wall_ms, prices).await;
    for j in &journeys {
        let requests: u64 = j.requests.values().sum();
        r.row(
            format!("cost: {}", j.name),
            format!(
                "{requests} requests (SQS {}, DynamoDB {:.0} WRU of which {:.0} index, {:.1} RRU, Scheduler {}, API {}): ${:.2} per million jobs",
                j.sqs_requests, j.dynamodb_write_units, j.dynamodb_index_write_units, j.dynamodb_read_units, j.scheduler_invocations, j.api_requests, j.usd_per_million_total
            ),
            "",
        );
    }
    r.row(
        "cost: idle deployment",
        format!("${:.2} per month ({:.0} reconciler passes + KEDA polls)", idle.usd_per_month, idle.passes_per_month),
        "",
    );
    r.results["cost"] =
        json!({"prices": {"date": prices.date, "region": prices.region}, "journeys": journeys, "idle": idle});
    Ok(())
}

/// The worker's footprint (7), its receives seen by a counting proxy.
async fn worker(args: &Args, r: &mut Report) -> Result<(), String> {
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
async fn stats_read(args: &Args, r: &mut Report) {
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
async fn flow(args: &Args, r: &mut Report) -> Result<(), String> {
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
async fn backlog(args: &Args, r: &mut Report) -> Result<(), String> {
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

/// A short job's start behind a pool full of long ones (issue 26's first target).
async fn isolation(args: &Args, r: &mut Report) -> Result<(), String> {
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

/// A quiet tenant's jobs behind another tenant's burst, without limits and with the noisy
/// tenant's `maxRunning` set (issue 28's first target).
async fn noisy_neighbour(args: &Args, r: &mut Report) -> Result<(), String> {
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
async fn limits(r: &mut Report) -> Result<(), String> {
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

/// The drained pool's throughput (issue 26's third target).
async fn drain(args: &Args, r: &mut Report) -> Result<(), String> {
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
async fn priority(args: &Args, r: &mut Report) -> Result<(), String> {
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

/// The command-kind wrapper beside a Rust kind doing the same (nothing): issue 27's figures.
async fn commands_wrapper(args: &Args, r: &mut Report) -> Result<(), String> {
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

fn target(met: bool, what: &str) -> String {
    format!("{what} {}", if met { "✓" } else { "✗" })
}

fn print_table(rows: &[(String, String, String)]) {
    let w0 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    for (f, v, t) in rows {
        println!("{f:<w0$}  {v:<w1$}  {t}");
    }
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
