//! `jobsctl tenants …`: list tenants, read one, change its limits, return it to the defaults
//! (`/tenants`, docs/tenants.md).

use clap::Subcommand;
use serde_json::Value;

use crate::answer::{Answer, Failure};
use crate::client::Client;
use crate::render;

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// List the tenants with limits of their own or jobs holding slots: limits and use now.
    List {
        /// Tenants per page (1-50).
        #[arg(long)]
        limit: Option<u32>,
        /// The `next` of the previous page.
        #[arg(long)]
        after: Option<String>,
    },
    /// Show a tenant: its settings, the limits that apply, what it uses now.
    Get { tenant: String },
    /// Change a tenant's limits (only those given; `default` returns one to the default).
    Set {
        tenant: String,
        /// The most of its jobs holding a slot at once (0 pauses it), or `default`.
        #[arg(long)]
        max_running: Option<String>,
        /// The most of its jobs admitted per minute, or `default`.
        #[arg(long)]
        max_starts_per_minute: Option<String>,
        /// Its share when the default maxRunning applies (1-100), or `default`.
        #[arg(long)]
        weight: Option<String>,
    },
    /// Return a tenant to the defaults.
    Reset { tenant: String },
}

/// A limit's argument: a number, or `default` (JSON null).
fn limit_arg(name: &str, value: &str) -> Result<Value, Failure> {
    if value == "default" {
        return Ok(Value::Null);
    }
    value
        .parse::<u64>()
        .map(Value::from)
        .map_err(|_| Failure::Usage(format!("--{name}: a whole number or `default`, got {value:?}")))
}

/// Runs a `tenants` subcommand.
pub(crate) async fn execute(client: &Client, command: &TenantsCommand) -> Result<Answer, Failure> {
    let one = |v: Value| {
        let human = render::tenants_table(std::slice::from_ref(&v));
        Answer::ok(v, human)
    };
    Ok(match command {
        TenantsCommand::List { limit, after } => {
            let page = client.tenants(*limit, after.as_deref()).await?;
            if let Some(next) = page["next"].as_str() {
                eprintln!("more: jobsctl tenants list --after {next}");
            }
            let human = render::tenants_table(page["tenants"].as_array().map_or(&[][..], |t| t.as_slice()));
            Answer::ok(page, human)
        }
        TenantsCommand::Get { tenant } => one(client.tenant(tenant).await?),
        TenantsCommand::Set { tenant, max_running, max_starts_per_minute, weight } => {
            let mut change = serde_json::json!({});
            for (key, arg, value) in [
                ("maxRunning", "max-running", max_running),
                ("maxStartsPerMinute", "max-starts-per-minute", max_starts_per_minute),
                ("weight", "weight", weight),
            ] {
                if let Some(v) = value {
                    change[key] = limit_arg(arg, v)?;
                }
            }
            if change.as_object().is_some_and(|c| c.is_empty()) {
                return Err(Failure::Usage(
                    "tenants set: give --max-running, --max-starts-per-minute or --weight".into(),
                ));
            }
            one(client.put_tenant(tenant, &change).await?)
        }
        TenantsCommand::Reset { tenant } => one(client.reset_tenant(tenant).await?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_args() {
        assert!(matches!(limit_arg("max-running", "5"), Ok(v) if v == 5));
        assert!(matches!(limit_arg("max-running", "default"), Ok(Value::Null)));
        for bad in ["-1", "five", "", "1.5"] {
            assert!(
                matches!(limit_arg("max-running", bad), Err(Failure::Usage(m)) if m.contains("--max-running")),
                "{bad}"
            );
        }
    }
}
