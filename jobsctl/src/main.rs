//! jobsctl: arguments, then [`jobsctl::cli::run`].

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    ExitCode::from(jobsctl::cli::run(jobsctl::cli::Args::parse()).await)
}
