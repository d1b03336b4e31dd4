//! Tenant items (`TENANT#<tenant>`): a tenant's own limits (`PUT /tenants/{tenant}`) and what it
//! uses (the slots its jobs hold, its starts this minute, since when jobs wait), and the reads of
//! the `tenancy` index: the tenants, a tenant's waiting jobs in admission order, its slot holders.
//! Admission and freeing slots, which write a job and its tenant together, are in
//! [`super::admission`].

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use jobs_core::tenants::limits::TenantState;
use jobs_core::tenants::{Settings, Usage};
use jobs_core::{JobStatus, Tenant};

use super::expr::Expr;
use super::handle::{JobStore, WriteResult, backend};
use super::item::{n, s, ts};
use crate::dynamo::Item;
use crate::error::BackendError;
use crate::resources::{TABLE_KEY, TENANCY_ATTRIBUTE, TENANCY_INDEX, TENANCY_ORDER_ATTRIBUTE};

/// Attribute names of a tenant item.
pub mod attr {
    pub const NAME: &str = "name";
    pub const MAX_RUNNING: &str = "maxRunning";
    pub const MAX_STARTS_PER_MINUTE: &str = "maxStartsPerMinute";
    pub const WEIGHT: &str = "weight";
    /// Incremented by every change of the settings: an admission that read other settings fails.
    pub const LIMITS_VERSION: &str = "limitsVersion";
    /// Slots held by the tenant's jobs.
    pub const ACTIVE: &str = "active";
    pub const STARTS_MINUTE: &str = "startsMinute";
    pub const STARTS: &str = "starts";
    /// Set when a job of the tenant is recorded WAITING; cleared by an admitter that found none
    /// waiting well after it (the reconciler looks at tenants that have it).
    pub const WAITING_AT: &str = "waitingAt";
    pub const UPDATED_AT: &str = "updatedAt";
    pub const UPDATED_BY: &str = "updatedBy";
}

/// The `tenancy` index's partition of the tenant items.
pub const TENANTS_PARTITION: &str = "TENANTS";

pub fn tenant_key(tenant: &Tenant) -> String {
    format!("TENANT#{tenant}")
}

/// The `tenancy` partition of a tenant's waiting jobs.
pub fn waiting_partition(tenant: &Tenant) -> String {
    format!("WAIT#{tenant}")
}

/// The `tenancy` partition of a tenant's slot holders.
pub fn slots_partition(tenant: &Tenant) -> String {
    format!("SLOT#{tenant}")
}

/// A waiting job's place: high priority first, then the oldest (then the id, to be unique).
pub fn waiting_order(high: bool, submitted_at: DateTime<Utc>, job_id: &str) -> String {
    let at = submitted_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!("{}#{at}#{job_id}", if high { 0 } else { 1 })
}

/// A tenant's item as stored (a tenant without one has the defaults and uses nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantItem {
    pub tenant: Tenant,
    pub settings: Settings,
    pub version: u64,
    pub usage: Usage,
    pub waiting_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

impl TenantItem {
    /// What an admission reads of it.
    pub fn state(&self) -> TenantState {
        TenantState { version: self.version, usage: self.usage }
    }

    /// No settings of its own, no slot held, nobody waiting: the defaults apply and nothing is
    /// in use (a tenant never configured, or returned to the defaults when idle).
    pub fn is_blank(&self) -> bool {
        self.settings == Settings::default() && self.usage.active == 0 && self.waiting_at.is_none()
    }

    pub fn new(tenant: Tenant) -> Self {
        TenantItem {
            tenant,
            settings: Settings::default(),
            version: 0,
            usage: Usage::default(),
            waiting_at: None,
            updated_at: None,
            updated_by: None,
        }
    }

    fn parse(tenant: Tenant, item: &HashMap<String, AttributeValue>) -> Self {
        let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
        let count = |name: &str| number(name).and_then(|v| u32::try_from(v).ok());
        let time = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        TenantItem {
            settings: Settings {
                max_running: count(attr::MAX_RUNNING),
                max_starts_per_minute: count(attr::MAX_STARTS_PER_MINUTE),
                weight: count(attr::WEIGHT),
            },
            version: number(attr::LIMITS_VERSION).unwrap_or(0).max(0) as u64,
            usage: Usage {
                active: count(attr::ACTIVE).unwrap_or(0),
                minute: number(attr::STARTS_MINUTE).unwrap_or(0),
                starts: count(attr::STARTS).unwrap_or(0),
            },
            waiting_at: time(attr::WAITING_AT),
            updated_at: time(attr::UPDATED_AT),
            updated_by: item.get(attr::UPDATED_BY).and_then(|v| v.as_s().ok()).cloned(),
            tenant,
        }
    }
}

/// A page of tenants and where the next starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPage {
    pub tenants: Vec<TenantItem>,
    /// The last tenant of the page, when more may follow.
    pub next: Option<Tenant>,
}

/// A job in a `tenancy` partition: its id and, as the index last saw it, its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenancyEntry {
    pub job_id: String,
    pub status: Option<JobStatus>,
}

/// What a tenant's jobs in the `tenancy` index add up to (eventually consistent; each count stops
/// at [`COUNT_CAP`], `capped` then).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenancyCounts {
    pub waiting: u64,
    /// Slot holders by status: queued (sent or about to be), running, between attempts.
    pub queued: u64,
    pub running: u64,
    pub retry_wait: u64,
    /// Ended, their slot not given back yet (the reconciler's next pass does).
    pub ended: u64,
    pub capped: bool,
}

/// The most entries one count reads.
pub const COUNT_CAP: u64 = 1000;

impl JobStore {
    /// The limits that apply to a tenant whose item says `item`.
    pub fn limits_of(&self, item: &TenantItem) -> jobs_core::tenants::Limits {
        item.settings.limits(&self.tenant_defaults)
    }

    /// Counts tenant `tenant`'s waiting jobs and slot holders by status.
    pub async fn tenancy_counts(&self, tenant: &Tenant) -> Result<TenancyCounts, BackendError> {
        let mut c = TenancyCounts::default();
        for partition in [waiting_partition(tenant), slots_partition(tenant)] {
            let mut start: Option<HashMap<String, AttributeValue>> = None;
            let mut seen = 0u64;
            loop {
                let (items, next) = self.query_tenancy(&partition, start.take(), None).await?;
                for item in &items {
                    seen += 1;
                    let status = item.get("status").and_then(|v| v.as_s().ok()).and_then(|v| JobStatus::parse(v));
                    match status {
                        Some(JobStatus::Waiting) => c.waiting += 1,
                        Some(JobStatus::Queued) => c.queued += 1,
                        Some(JobStatus::Running) => c.running += 1,
                        Some(JobStatus::RetryWait) => c.retry_wait += 1,
                        Some(_) => c.ended += 1,
                        None => {}
                    }
                }
                start = next;
                if start.is_none() {
                    break;
                }
                if seen >= COUNT_CAP {
                    c.capped = true;
                    break;
                }
            }
        }
        Ok(c)
    }

    /// Tenant `tenant`'s item, read strongly (a tenant without one: the defaults, nothing used).
    pub async fn tenant(&self, tenant: &Tenant) -> Result<TenantItem, BackendError> {
        let item = self.read_item("get-tenant", tenant_key(tenant)).await?;
        Ok(item.map_or_else(|| TenantItem::new(tenant.clone()), |i| TenantItem::parse(tenant.clone(), &i)))
    }

    /// Tenants with an item (settings of their own, or jobs that took slots), by name, from the
    /// `tenancy` index (eventually consistent), after `after`.
    pub async fn tenants(&self, after: Option<&Tenant>, limit: i32) -> Result<TenantPage, BackendError> {
        let start = after.map(|after| {
            HashMap::from([
                (TENANCY_ATTRIBUTE.to_owned(), s(TENANTS_PARTITION)),
                (TENANCY_ORDER_ATTRIBUTE.to_owned(), s(after.as_str())),
                (TABLE_KEY.to_owned(), s(tenant_key(after))),
            ])
        });
        let (items, next) = self.query_tenancy(TENANTS_PARTITION, start, Some(limit)).await?;
        let tenants: Vec<TenantItem> = items
            .iter()
            .filter_map(|item| {
                let name = item.get(TENANCY_ORDER_ATTRIBUTE)?.as_s().ok()?;
                Some(TenantItem::parse(Tenant::parse(name).ok()?, item))
            })
            .collect();
        let next = next.and(tenants.last()).map(|t| t.tenant.clone());
        Ok(TenantPage { tenants, next })
    }

    /// Sets tenant `tenant`'s settings (`None` fields follow the defaults), recording who did; the
    /// item as written. Admissions that read the old settings fail and read again.
    pub async fn set_tenant(&self, tenant: &Tenant, settings: &Settings, by: &str) -> Result<TenantItem, BackendError> {
        let mut e = tenant_expr(tenant);
        let fields = [
            (attr::MAX_RUNNING, settings.max_running),
            (attr::MAX_STARTS_PER_MINUTE, settings.max_starts_per_minute),
            (attr::WEIGHT, settings.weight),
        ];
        for (name, value) in fields {
            e.set_or_remove(name, value.map(n));
        }
        e.increment(attr::LIMITS_VERSION);
        e.set(attr::UPDATED_AT, ts(self.now()));
        e.set(attr::UPDATED_BY, s(by));
        let out = self
            .db
            .update_item(
                "set-tenant",
                UpdateItemInput::builder()
                    .table_name(&self.table)
                    .key(TABLE_KEY, s(tenant_key(tenant)))
                    .update_expression(e.update_expression())
                    .set_expression_attribute_names(Some(e.names))
                    .set_expression_attribute_values(Some(e.values))
                    .return_values(ReturnValue::AllNew)
                    .build()
                    .expect("a complete request"),
            )
            .await
            .map_err(backend)?;
        let item = out.attributes.unwrap_or_default();
        Ok(TenantItem::parse(tenant.clone(), &item))
    }

    /// A page of the jobs in `partition` of the `tenancy` index (a tenant's waiting jobs, first to
    /// admit first; or its slot holders), eventually consistent.
    pub async fn tenancy(&self, partition: &str, limit: i32) -> Result<Vec<TenancyEntry>, BackendError> {
        let (items, _) = self.query_tenancy(partition, None, Some(limit)).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                let job_id = item.get(TABLE_KEY)?.as_s().ok()?.strip_prefix("JOB#")?.to_owned();
                let status = item.get("status").and_then(|v| v.as_s().ok()).and_then(|v| JobStatus::parse(v));
                Some(TenancyEntry { job_id, status })
            })
            .collect())
    }

    /// One page of `partition` of the `tenancy` index (eventually consistent) from `start`: its
    /// items (keys and the projected attributes) and where the next page starts.
    async fn query_tenancy(
        &self,
        partition: &str,
        start: Option<Item>,
        limit: Option<i32>,
    ) -> Result<(Vec<Item>, Option<Item>), BackendError> {
        let out = self
            .db
            .query(
                "tenancy",
                QueryInput::builder()
                    .table_name(&self.table)
                    .index_name(TENANCY_INDEX)
                    .key_condition_expression("#p = :p")
                    .expression_attribute_names("#p", TENANCY_ATTRIBUTE)
                    .expression_attribute_values(":p", s(partition))
                    .set_exclusive_start_key(start)
                    .set_limit(limit)
                    .build()
                    .expect("a complete request"),
            )
            .await
            .map_err(backend)?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Clears tenant `tenant`'s waiting mark if it is still `seen` (no job was recorded WAITING
    /// since): an admitter found nobody waiting. Lost: it changed; look again.
    pub async fn clear_waiting(&self, tenant: &Tenant, seen: DateTime<Utc>) -> WriteResult {
        let mut e = Expr::default();
        e.set_or_remove(attr::WAITING_AT, None);
        e.require(attr::WAITING_AT, "=", ts(seen));
        self.update_key("clear-waiting", tenant_key(tenant), e).await
    }
}

/// The part of every write of a tenant item that keeps it in the `tenancy` index's list of tenants.
pub(super) fn tenant_expr(tenant: &Tenant) -> Expr {
    let mut e = Expr::default();
    e.set(attr::NAME, s(tenant.as_str()));
    e.set(TENANCY_ATTRIBUTE, s(TENANTS_PARTITION));
    e.set(TENANCY_ORDER_ATTRIBUTE, s(tenant.as_str()));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_order_puts_high_priority_then_the_oldest_first() {
        let t = |secs: i64| DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        let mut orders = [
            waiting_order(false, t(1), "c"),
            waiting_order(true, t(5), "b"),
            waiting_order(false, t(0), "d"),
            waiting_order(true, t(2), "a"),
        ];
        orders.sort();
        let ids: Vec<&str> = orders.iter().map(|o| o.rsplit('#').next().unwrap()).collect();
        assert_eq!(ids, ["a", "b", "d", "c"]);
    }

    #[test]
    fn parses_an_item_and_a_missing_one() {
        let acme = Tenant::parse("acme").unwrap();
        let item = HashMap::from([
            (attr::MAX_RUNNING.to_owned(), n(5)),
            (attr::WEIGHT.to_owned(), n(2)),
            (attr::LIMITS_VERSION.to_owned(), n(3)),
            (attr::ACTIVE.to_owned(), n(4)),
            (attr::STARTS_MINUTE.to_owned(), n(29_000_000)),
            (attr::STARTS.to_owned(), n(7)),
        ]);
        let t = TenantItem::parse(acme.clone(), &item);
        assert_eq!(t.settings, Settings { max_running: Some(5), max_starts_per_minute: None, weight: Some(2) });
        assert_eq!((t.version, t.usage), (3, Usage { active: 4, minute: 29_000_000, starts: 7 }));
        assert_eq!(TenantItem::parse(acme.clone(), &HashMap::new()), TenantItem::new(acme));
    }
}
