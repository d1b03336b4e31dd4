//! A tenant's limits, set and raised at run time through the real route handler
//! (`PUT /tenants/{tenant}`), and what must hold of them (docs/tenants.md, *Guarantees*), checked
//! at every step of the run on the table as it is:
//!
//! - **Never over the limit** is checked on every write (`invariants::Watch`).
//! - **Never leaks.** The tenant item's `active` equals its jobs that hold a slot; once the run
//!   has settled, none does.

use api_lambda::caller::Caller;
use api_lambda::routes::tenants::{TenantName, put_tenant};
use axum::body::Bytes;
use axum::extract::{Path, State};
use jobs_aws::store::item::{self, attr};
use jobs_aws::store::tenants::{attr as tenant_attr, tenant_key};
use jobs_core::Tenant;
use jobs_sim::dynamo::Item;
use serde_json::json;

use crate::faults::Faults;
use crate::violation::Violation;
use crate::world::{TABLE, World};

/// The tenant whose limits a run sets: the caller `alice`'s own.
pub const LIMITED: &str = "alice";

/// The limit a run wants in force, and whether the API has set it yet.
#[derive(Debug, Default)]
pub struct Limits {
    /// The `maxRunning` asked for last (`None`: the tenant is not limited in this run).
    pub max_running: Option<u64>,
    set: bool,
}

impl Limits {
    /// Asks for `max_running` from now on (the first call, or a raise).
    pub fn want(&mut self, max_running: u64) {
        self.max_running = Some(max_running);
        self.set = false;
    }

    /// Sends the wanted limit through `PUT /tenants/alice` until the API has answered 200.
    pub async fn apply(&mut self, world: &World, faults: &Faults) -> u64 {
        let Some(max) = self.max_running.filter(|_| !self.set) else { return 0 };
        let path = Path(TenantName { tenant: LIMITED.to_owned() });
        let body = Bytes::from(json!({ "maxRunning": max }).to_string());
        let state = State(world.api(&world.view(faults, 0)));
        self.set = put_tenant(state, Caller("operator".to_owned()), path, Ok(body)).await.is_ok();
        1
    }

    /// Whether no job of the tenant holds a slot (an ended job's slot is given back by its worker,
    /// or by the reconciler's next pass).
    pub fn released(&self, world: &World) -> bool {
        self.max_running.is_none() || look(world).slots == 0
    }

    /// The tenant as the table has it, against the guarantees (`settled`: no slot may be held).
    pub fn check(&mut self, world: &World, settled: bool) -> Result<(), Violation> {
        if self.max_running.is_none() {
            return Ok(());
        }
        let Look { active, slots } = look(world);
        if active != slots || (settled && slots > 0) {
            return Err(Violation::SlotsLeak { tenant: LIMITED.to_owned(), active, slots });
        }
        Ok(())
    }
}

/// The tenant's `active` as its item has it, and its jobs holding a slot.
struct Look {
    active: u64,
    slots: u64,
}

fn look(world: &World) -> Look {
    let items = world.dynamo.world().items(TABLE);
    let tenant = Tenant::parse(LIMITED).expect("a tenant name");
    let key = tenant_key(&tenant);
    let number = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
    let text = |item: &Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let own = items.iter().find(|i| text(i, jobs_aws::resources::TABLE_KEY).as_deref() == Some(key.as_str()));
    let active = own.and_then(|i| number(i, tenant_attr::ACTIVE)).unwrap_or(0);
    let mut slots = 0;
    let jobs =
        items.iter().filter(|i| i.contains_key(attr::JOB_ID) && text(i, attr::TENANT).as_deref() == Some(LIMITED));
    for job in jobs {
        slots += u64::from(item::holds_slot(job));
    }
    Look { active, slots }
}
