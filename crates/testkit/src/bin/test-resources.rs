//! `test-resources`: lists (and with `--delete` removes) the queues, tables and schedule groups
//! whose names start with a test run's prefix on the endpoint `AWS_ENDPOINT_URL`. Test stacks
//! delete their own resources when dropped; this catches what a killed test left, and proves that
//! nothing else was left (exit 1 when anything is found and `--delete` was not given).

use std::process::ExitCode;

use clap::Parser;
use jobs_aws::BackendError;
use testkit::sweep;

#[derive(Parser)]
#[command(name = "test-resources")]
struct Args {
    /// The run's resource-name prefix (TEST_RESOURCE_PREFIX of the test run).
    #[arg(long, env = "TEST_RESOURCE_PREFIX")]
    prefix: String,
    /// Delete what is found instead of reporting it as left behind.
    #[arg(long)]
    delete: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|s| !s.is_empty()) else {
        eprintln!("test-resources: set AWS_ENDPOINT_URL (it only works on emulators)");
        return ExitCode::from(2);
    };
    let sdk = testkit::Emulator::sdk_config_for(&endpoint);
    let result = async {
        let found = sweep::find(&sdk, &args.prefix).await?;
        if args.delete {
            sweep::delete(&sdk, &found).await?;
        }
        Ok::<_, BackendError>(found)
    }
    .await;
    match result {
        Ok(found) if found.count() == 0 => {
            println!("test-resources: nothing named {}* on {endpoint}", args.prefix);
            ExitCode::SUCCESS
        }
        Ok(found) => {
            let verb = if args.delete { "deleted" } else { "left behind" };
            println!(
                "test-resources: {verb} on {endpoint}: {} queues, {} tables, {} schedule groups",
                found.queues.len(),
                found.tables.len(),
                found.groups.len()
            );
            for name in found.queues.iter().chain(&found.tables).chain(&found.groups) {
                println!("  {name}");
            }
            if args.delete { ExitCode::SUCCESS } else { ExitCode::FAILURE }
        }
        Err(e) => {
            eprintln!("test-resources: {e}");
            ExitCode::from(3)
        }
    }
}
