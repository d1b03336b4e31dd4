//! `jobsctl schedule …`: create, list, read, change, pause, resume and delete cron schedules
//! (`/jobs/schedules`).

use clap::Subcommand;
use serde_json::Value;

use crate::answer::{Answer, Failure, json_arg};
use crate::client::Client;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Create a schedule.
    Create {
        /// A 5-field cron expression (`0 7 * * MON`) or an EventBridge `cron(…)`/`rate(…)`.
        #[arg(long)]
        cron: String,
        /// The job kind (default: the API's default kind).
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        payload: Option<String>,
        /// IANA time zone (default UTC).
        #[arg(long)]
        timezone: Option<String>,
        /// 1-64 of A-Za-z0-9-_. (default: generated).
        #[arg(long)]
        name: Option<String>,
        /// `allow` (default) or `forbid`: a firing while the previous job runs is SKIPPED.
        #[arg(long)]
        overlap: Option<String>,
        /// The priority of the jobs it fires (default normal).
        #[arg(long, value_parser = ["high", "normal"])]
        priority: Option<String>,
        /// The tenant of the jobs it fires (default: your own).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// List the schedules.
    List,
    /// Show a schedule, with its next fire times and last run.
    Get { name: String },
    /// Change a schedule's expression, time zone, payload, overlap policy, priority or tenant.
    Update {
        name: String,
        #[arg(long)]
        cron: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
        #[arg(long)]
        payload: Option<String>,
        #[arg(long)]
        overlap: Option<String>,
        #[arg(long, value_parser = ["high", "normal"])]
        priority: Option<String>,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Stop a schedule firing (state DISABLED).
    Pause { name: String },
    /// Let a paused schedule fire again (state ENABLED).
    Resume { name: String },
    /// Delete a schedule.
    Delete { name: String },
}

/// Runs a `schedule` subcommand.
pub(crate) async fn execute(client: &Client, command: &ScheduleCommand) -> Result<Answer, Failure> {
    let state = |enabled: bool| serde_json::json!({"state": if enabled { "ENABLED" } else { "DISABLED" }});
    let one = |v: Value| {
        let human = render::schedule_table(&v);
        Answer::ok(v, human)
    };
    Ok(match command {
        ScheduleCommand::Create { cron, kind, payload, timezone, name, overlap, priority, tenant } => {
            let mut request = serde_json::json!({ "cron": cron });
            let payload = json_arg("payload", payload.as_deref())?;
            for (key, value) in [
                ("job", kind.clone().map(Value::String)),
                ("payload", payload),
                ("timezone", timezone.clone().map(Value::String)),
                ("name", name.clone().map(Value::String)),
                ("overlap", overlap.clone().map(Value::String)),
                ("priority", priority.clone().map(Value::String)),
                ("tenant", tenant.clone().map(Value::String)),
            ] {
                if let Some(v) = value {
                    request[key] = v;
                }
            }
            one(client.create_schedule(&request).await?)
        }
        ScheduleCommand::List => {
            let list = client.schedules().await?;
            let human = render::schedules_table(&list);
            Answer::ok(list, human)
        }
        ScheduleCommand::Get { name } => one(client.schedule(name).await?),
        ScheduleCommand::Update { name, cron, timezone, payload, overlap, priority, tenant } => {
            let mut change = serde_json::json!({});
            let payload = json_arg("payload", payload.as_deref())?;
            for (key, value) in [
                ("cron", cron.clone().map(Value::String)),
                ("timezone", timezone.clone().map(Value::String)),
                ("payload", payload),
                ("overlap", overlap.clone().map(Value::String)),
                ("priority", priority.clone().map(Value::String)),
                ("tenant", tenant.clone().map(Value::String)),
            ] {
                if let Some(v) = value {
                    change[key] = v;
                }
            }
            if change.as_object().is_some_and(|c| c.is_empty()) {
                return Err(Failure::Usage(
                    "schedule update: give --cron, --timezone, --payload, --overlap, --priority or --tenant".into(),
                ));
            }
            one(client.patch_schedule(name, &change).await?)
        }
        ScheduleCommand::Pause { name } => one(client.patch_schedule(name, &state(false)).await?),
        ScheduleCommand::Resume { name } => one(client.patch_schedule(name, &state(true)).await?),
        ScheduleCommand::Delete { name } => {
            client.delete_schedule(name).await?;
            Answer::ok(serde_json::json!({"deleted": name}), format!("schedule {name} deleted"))
        }
    })
}
