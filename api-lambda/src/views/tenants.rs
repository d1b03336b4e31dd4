//! A tenant as `GET /tenants` and `GET /tenants/{tenant}` show it: its own settings, the limits
//! that apply (over the config's defaults), and what it uses now.

use chrono::{DateTime, Utc};
use jobs_aws::store::{TenancyCounts, TenantItem};
use jobs_core::tenants::{Limits, Settings, limits::minute_of};
use serde::Serialize;
use utoipa::ToSchema;

/// What a tenant's jobs use now (from the `tenancy` index: eventually consistent).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantUsageView {
    /// Slots held (jobs admitted and not ended): never more than `maxRunning` when admitted.
    pub active: u32,
    /// Of the slot holders: RUNNING, QUEUED (admitted, not started), RETRY_WAIT.
    pub running: u64,
    pub queued: u64,
    pub retry_wait: u64,
    /// Jobs WAITING to be admitted.
    pub waiting: u64,
    /// Jobs admitted in the current minute (UTC).
    pub starts_this_minute: u32,
    /// A count stopped at 1,000.
    pub capped: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantView {
    pub tenant: String,
    /// Its own settings (`PUT /tenants/{tenant}`); a field left out follows the default.
    pub settings: Settings,
    /// The limits that apply: its settings over the config's defaults (`null`: no limit).
    pub limits: Limits,
    pub usage: TenantUsageView,
    /// The last change of its settings, and who made it.
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

impl TenantView {
    /// No settings of its own, no slot held, nobody waiting: the defaults apply and nothing is in
    /// use, so there is nothing of its own to show.
    pub fn is_idle_default(&self) -> bool {
        self.settings == Settings::default() && self.usage.active == 0 && self.usage.waiting == 0
    }

    pub fn new(item: &TenantItem, limits: Limits, counts: TenancyCounts, now: DateTime<Utc>) -> Self {
        let starts = if item.usage.minute == minute_of(now) { item.usage.starts } else { 0 };
        TenantView {
            tenant: item.tenant.to_string(),
            settings: item.settings,
            limits,
            usage: TenantUsageView {
                active: item.usage.active,
                running: counts.running,
                queued: counts.queued,
                retry_wait: counts.retry_wait,
                waiting: counts.waiting,
                starts_this_minute: starts,
                capped: counts.capped,
            },
            updated_at: item.updated_at,
            updated_by: item.updated_by.clone(),
        }
    }
}

/// A page of tenants, by name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantList {
    pub tenants: Vec<TenantView>,
    /// Pass as `after` for the next page; `null` on the last.
    pub next: Option<String>,
    /// The limits of a tenant without settings of its own (the config's `tenants.defaults`).
    pub defaults: Limits,
}
