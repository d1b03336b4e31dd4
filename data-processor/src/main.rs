//! data-processor: one KEDA ScaledJob pod = one run of this binary = one message (by default).
//! Wiring only: the flow is in the library, the rules in `jobs-core`.

use std::process::ExitCode;

use clap::Parser;
use data_processor::config::Config;
use jobs_runtime::{Shutdown, exit, telemetry};

fn main() -> ExitCode {
    // `install <path>`: a command kind's init container copies this binary beside the command
    // (it needs none of the worker's settings).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "install") {
        return match args.get(2) {
            Some(dest) if args.len() == 3 => data_processor::install::install(std::path::Path::new(dest)),
            _ => {
                eprintln!("usage: data-processor install <path>");
                ExitCode::from(exit::CONFIG)
            }
        };
    }
    // Before the runtime starts its threads: it sets an environment variable.
    jobs_aws::client::prefer_ca_bundle();
    run(Config::parse())
}

#[tokio::main]
async fn run(config: Config) -> ExitCode {
    telemetry::init();
    let shutdown = match Shutdown::listen() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::from(exit::CONFIG);
        }
    };
    ExitCode::from(data_processor::run(config, shutdown).await)
}
