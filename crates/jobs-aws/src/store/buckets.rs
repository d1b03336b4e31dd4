//! Per-minute throughput buckets (`pk = MIN#<minute>#<shard>`, see `jobs_core::throughput`).
//! A counted outcome adds to its minute's bucket in the same transaction as the job item and the
//! stats shard, on the stats shard's number, so concurrent workers spread over [`SHARDS`] items
//! per minute as they do over the stats shards. Buckets expire through the table's TTL.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use chrono::{DateTime, SecondsFormat, Utc};
use jobs_core::throughput::{self, BucketAdd, Event};

use super::counters::SHARDS;
use super::item::{n, s};
use crate::resources::{TABLE_KEY, TTL_ATTRIBUTE};

/// The key of a minute's shard `shard`: `MIN#2026-12-02T10:03Z#7`.
pub fn key(minute: DateTime<Utc>, shard: u32) -> String {
    format!("MIN#{}#{shard}", minute.format("%Y-%m-%dT%H:%MZ"))
}

/// The attribute counting `event` for kind `kind` (`succeeded:noop`).
fn kind_attribute(event: Event, kind: &str) -> String {
    format!("{}:{kind}", event.as_str())
}

/// The attribute counting `event` for tenant label `tenant` (`succeeded@acme`).
fn tenant_attribute(event: Event, tenant: &str) -> String {
    format!("{}@{tenant}", event.as_str())
}

/// The `ADD` of a bucket add to shard `shard` of its minute; the TTL follows from the minute, so a
/// repeated write (same token, same transition) is the same request.
pub fn update(table: &str, shard: u32, add: &BucketAdd) -> Update {
    let mut adds = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut push = |name: String, count: u64| {
        let i = adds.len();
        adds.push(format!("#a{i} :a{i}"));
        names.insert(format!("#a{i}"), name);
        values.insert(format!(":a{i}"), n(count));
    };
    for (event, count) in &add.events {
        push(event.as_str().to_owned(), *count);
        if let (true, Some(kind)) = (event.per_kind(), add.kind) {
            push(kind_attribute(*event, kind), *count);
        }
        if let (true, Some(tenant)) = (event.per_kind(), &add.tenant) {
            push(tenant_attribute(*event, tenant), *count);
        }
    }
    names.insert("#ttl".to_owned(), TTL_ATTRIBUTE.to_owned());
    values.insert(":ttl".to_owned(), n((add.minute + throughput::KEEP).timestamp()));
    Update::builder()
        .table_name(table)
        .key(TABLE_KEY, s(key(add.minute, shard)))
        .update_expression(format!("ADD {} SET #ttl = :ttl", adds.join(", ")))
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .expect("update is complete")
}

/// One minute's outcome events, summed over its shards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Minute {
    pub start: DateTime<Utc>,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    pub cancelled: u64,
    pub skipped: u64,
    /// Per kind: (succeeded, failed).
    pub kinds: BTreeMap<String, (u64, u64)>,
    /// Per tenant metric label: (succeeded, failed).
    pub tenants: BTreeMap<String, (u64, u64)>,
}

impl Minute {
    fn add(&mut self, name: &str, count: u64) {
        let (event, kind, tenant) = match (name.split_once(':'), name.split_once('@')) {
            (Some((event, kind)), _) => (event, Some(kind), None),
            (None, Some((event, tenant))) => (event, None, Some(tenant)),
            (None, None) => (name, None, None),
        };
        let Some(event) = Event::ALL.into_iter().find(|e| e.as_str() == event) else { return };
        let label = kind.map(|k| (&mut self.kinds, k)).or(tenant.map(|t| (&mut self.tenants, t)));
        match label {
            Some((map, label)) => {
                let slot = map.entry(label.to_owned()).or_default();
                match event {
                    Event::Succeeded => slot.0 += count,
                    Event::Failed => slot.1 += count,
                    _ => {}
                }
            }
            None => match event {
                Event::Succeeded => self.succeeded += count,
                Event::Failed => self.failed += count,
                Event::Retried => self.retried += count,
                Event::Cancelled => self.cancelled += count,
                Event::Skipped => self.skipped += count,
            },
        }
    }
}

/// Every key of these minutes' buckets.
pub fn keys(minutes: &[DateTime<Utc>]) -> Vec<String> {
    minutes.iter().flat_map(|m| (0..SHARDS).map(|i| key(*m, i))).collect()
}

/// The minutes, oldest first, from the bucket items read (missing minutes count zero).
pub fn sum<'a>(
    minutes: &[DateTime<Utc>],
    items: impl IntoIterator<Item = &'a HashMap<String, AttributeValue>>,
) -> Vec<Minute> {
    let mut by_key: HashMap<String, Minute> = HashMap::new();
    for item in items {
        let Some(pk) = item.get(TABLE_KEY).and_then(|v| v.as_s().ok()) else { continue };
        // `MIN#<minute>#<shard>` → `MIN#<minute>`.
        let Some((minute, _shard)) = pk.rsplit_once('#') else { continue };
        let slot = by_key.entry(minute.to_owned()).or_default();
        for (name, value) in item {
            if let Some(count) = value.as_n().ok().and_then(|v| v.parse::<u64>().ok()) {
                slot.add(name, count);
            }
        }
    }
    minutes
        .iter()
        .map(|m| {
            let prefix = key(*m, 0);
            let prefix = prefix.rsplit_once('#').map_or(prefix.as_str(), |(p, _)| p);
            Minute { start: *m, ..by_key.remove(prefix).unwrap_or_default() }
        })
        .collect()
}

/// RFC 3339 of a minute, as the API shows it.
pub fn format_minute(minute: DateTime<Utc>) -> String {
    minute.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs_core::state::Counters;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn update_names_values_and_ttl() {
        let m = at("2026-12-02T10:03:00Z");
        let c = Counters { succeeded: 1, ..Counters::default() };
        let acme = jobs_core::Tenant::parse("acme").unwrap();
        let add = throughput::add(&c, at("2026-12-02T10:03:17Z"), Some("noop"), Some(&acme)).unwrap();
        let u = update("t", 7, &add);
        assert_eq!(u.key()[TABLE_KEY], s("MIN#2026-12-02T10:03Z#7"));
        assert_eq!(u.update_expression(), "ADD #a0 :a0, #a1 :a1, #a2 :a2 SET #ttl = :ttl");
        let names = u.expression_attribute_names().unwrap();
        assert_eq!(
            (names["#a0"].as_str(), names["#a1"].as_str(), names["#a2"].as_str(), names["#ttl"].as_str()),
            ("succeeded", "succeeded:noop", "succeeded@acme", "expiresAt")
        );
        let values = u.expression_attribute_values().unwrap();
        assert_eq!(values[":ttl"], n((m + throughput::KEEP).timestamp()));
        assert_eq!(values[":a0"], n(1));
        // A retry counts no kind.
        let add =
            throughput::add(&Counters { retries: 1, ..Counters::default() }, m, Some("noop"), Some(&acme)).unwrap();
        assert_eq!(update("t", 0, &add).update_expression(), "ADD #a0 :a0 SET #ttl = :ttl");
    }

    #[test]
    fn sums_shards_per_minute_and_fills_gaps() {
        let minutes = throughput::last_minutes(at("2026-12-02T10:04:10Z"), 3);
        assert_eq!(keys(&minutes).len(), 3 * SHARDS as usize);
        let item = |pk: &str, pairs: &[(&str, &str)]| -> HashMap<String, AttributeValue> {
            let mut item: HashMap<String, AttributeValue> =
                pairs.iter().map(|(k, v)| (k.to_string(), AttributeValue::N(v.to_string()))).collect();
            item.insert(TABLE_KEY.into(), s(pk));
            item.insert(TTL_ATTRIBUTE.into(), n(1_800_000_000));
            item
        };
        let items = [
            item("MIN#2026-12-02T10:02Z#0", &[("succeeded", "2"), ("succeeded:noop", "2")]),
            item(
                "MIN#2026-12-02T10:02Z#9",
                &[
                    ("succeeded", "1"),
                    ("succeeded:flaky", "1"),
                    ("failed", "1"),
                    ("failed:flaky", "1"),
                    ("succeeded@acme", "1"),
                    ("failed@(other)", "1"),
                ],
            ),
            item("MIN#2026-12-02T10:04Z#3", &[("retried", "4"), ("cancelled", "1"), ("skipped", "2"), ("bogus", "5")]),
        ];
        let got = sum(&minutes, &items);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].start, at("2026-12-02T10:02:00Z"));
        assert_eq!((got[0].succeeded, got[0].failed), (3, 1));
        assert_eq!(got[0].kinds, BTreeMap::from([("noop".to_owned(), (2, 0)), ("flaky".to_owned(), (1, 1))]));
        assert_eq!(got[0].tenants, BTreeMap::from([("acme".to_owned(), (1, 0)), ("(other)".to_owned(), (0, 1))]));
        assert_eq!(got[1], Minute { start: at("2026-12-02T10:03:00Z"), ..Minute::default() });
        assert_eq!((got[2].retried, got[2].cancelled, got[2].skipped, got[2].succeeded), (4, 1, 2, 0));
        assert_eq!(format_minute(got[2].start), "2026-12-02T10:04:00Z");
    }
}
