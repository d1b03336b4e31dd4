//! `simulator`: runs seeds of the deterministic simulation and checks each (`make simulate`).
//! `--seed N` replays one seed exactly; `--seeds N` runs seeds 1 to N (from `--from`). A failing
//! seed prints the invariant it broke and the one-line command that replays it; the exit code is
//! then 1.

use std::collections::BTreeSet;
use std::time::Instant;

use clap::Parser;
use simulator::{Options, replay, run};

#[derive(Debug, Parser)]
#[command(name = "simulator", about = "The real worker, reconciler and API under a seeded, simulated world")]
struct Args {
    /// Run this seed only (a replay).
    #[arg(long)]
    seed: Option<u64>,
    /// How many seeds to run, from `--from`.
    #[arg(long, default_value_t = 100)]
    seeds: u64,
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// Jobs the API is asked for in each seed.
    #[arg(long, default_value_t = Options::default().jobs)]
    jobs: u64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let options = Options { jobs: args.jobs, ..Options::default() };
    let seeds: Vec<u64> = match args.seed {
        Some(seed) => vec![seed],
        None => (args.from..args.from + args.seeds).collect(),
    };
    let started = Instant::now();
    let (mut steps, mut points, mut crashes, mut jobs) = (0, BTreeSet::new(), 0, 0);
    let (mut commands, mut not_started) = (0, 0);
    for (i, &seed) in seeds.iter().enumerate() {
        match run(seed, &options) {
            Ok(s) => {
                steps += s.steps;
                jobs += s.checked.jobs;
                commands += s.commands;
                not_started += s.checked.not_started;
                crashes += s.pods.crashed_at.len();
                points.extend(s.pods.crashed_at.iter().cloned());
                if args.seed.is_some() || (i + 1) % 10 == 0 {
                    eprintln!(
                        "seed {seed}: ok ({} steps, {} jobs ({} of a command kind), {} pods ({} of the earlier build), {} killed, {} stopped, {} duplicates, {} takeovers, {} expired, {} keyed requests, {} of high priority, alice's limit {} (at most {} running), {} poison refused, {} unsendable, {} firings ({} skipped) of {} forbidding overlap, {} reconciler passes, {} failed and {} lost answers{}{}, index lag {} ms, {:.0} min simulated, digest {:016x})",
                        s.steps,
                        s.checked.jobs,
                        s.commands,
                        s.pods.started,
                        s.pods.earlier,
                        s.pods.crashed_at.len(),
                        s.pods.stopped,
                        s.duplicates,
                        s.takeovers,
                        s.expired,
                        s.keyed,
                        s.high,
                        s.limit.map_or("none".to_owned(), |l| l.to_string()),
                        s.most_running,
                        s.refused,
                        s.unsendable,
                        s.firings,
                        s.checked.skipped,
                        s.forbid,
                        s.reconciler_passes,
                        s.injected.failed,
                        s.injected.lost,
                        if s.outage { ", an outage" } else { "" },
                        s.missing_image.map_or(String::new(), |lane| format!(
                            ", the {lane} image missing ({} not started)",
                            s.checked.not_started
                        )),
                        s.index_lag_ms,
                        s.simulated.as_secs_f64() / 60.0,
                        s.digest
                    );
                }
            }
            Err(failure) => {
                let (violation, s) = *failure;
                eprintln!("seed {seed}: FAILED after {} steps: {violation}", s.steps);
                eprintln!("replay: {}", replay(seed));
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let n = seeds.len() as f64;
    println!(
        "{} seeds in {secs:.1} s ({:.2} seeds/s): {:.0} steps and {:.0} jobs per seed ({commands} of a command kind, {not_started} not started while its image was missing), {crashes} kills at {} distinct points; every invariant held",
        seeds.len(),
        n / secs,
        steps as f64 / n,
        jobs as f64 / n,
        points.len()
    );
    std::process::ExitCode::SUCCESS
}
