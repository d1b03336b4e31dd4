//! data-processor: one KEDA ScaledJob pod = one run of this binary = one message (by default).
//! Wiring only: the flow is in the library, the rules in `jobs-core`.

use std::process::ExitCode;

use clap::Parser;
use data_processor::config::Config;
use jobs_runtime::{Shutdown, exit, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
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
