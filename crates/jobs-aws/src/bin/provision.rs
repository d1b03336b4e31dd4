//! `provision`: creates the job queue + DLQ, the table and the schedule group with the stack's
//! attributes (idempotent), for emulators and LocalStack. Prints the environment to use.

use std::process::ExitCode;

use clap::Parser;

/// Create the queue, dead-letter queue, table and schedule group (existing ones are kept).
#[derive(Parser)]
#[command(name = "provision", version)]
struct Args {
    /// Job queue name (the DLQ is <name>-dlq).
    #[arg(long, env = "QUEUE_NAME", default_value = "keda-sqs-jobs")]
    queue: String,
    /// DynamoDB table name.
    #[arg(long, env = "TABLE_NAME", default_value = "keda-sqs-jobs")]
    table: String,
    /// EventBridge Scheduler group.
    #[arg(long, env = "SCHEDULE_GROUP", default_value = "keda-sqs-jobs")]
    schedule_group: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let result = async {
        let sdk = jobs_aws::client::load(jobs_aws::client::Timeouts::WORKER).await?;
        jobs_aws::provision::ensure(&sdk, &args.queue, &args.table, &args.schedule_group).await
    }
    .await;
    match result {
        Ok(p) => {
            println!("export QUEUE_URL={}", p.queue_url);
            println!("export DLQ_URL={}", p.dlq_url);
            println!("export TABLE_NAME={}", p.table);
            println!("export SCHEDULE_GROUP={}", p.schedule_group);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("provision: {e}");
            ExitCode::from(3)
        }
    }
}
