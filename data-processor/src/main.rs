//! data-processor: one KEDA ScaledJob pod = one run of this binary = one message (by default).
//! Wiring only: the flow is in the library, the rules in `jobs-core`.

use std::process::ExitCode;

use clap::Parser;
use data_processor::config::Config;
use jobs_runtime::{Shutdown, exit, telemetry};

fn main() -> ExitCode {
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
