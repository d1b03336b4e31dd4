//! The counters, sharded: every counted transition adds its deltas to one of [`SHARDS`] stats
//! items chosen at random, so concurrent workers rarely touch the same item (a single hot item
//! makes DynamoDB cancel concurrent transactions with `TransactionConflict`, and caps throughput
//! at one partition's). Reading the stats is one `BatchGetItem` of the shards, whatever the
//! number of jobs. The single `STATS` item of earlier versions is read and added in.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Update};
use jobs_core::state::Counters;

use super::item::n;
use crate::resources::{STATS_KEY, TABLE_KEY};

/// Stats items the counters are spread over.
pub const SHARDS: u32 = 16;

/// The key of shard `i` (`STATS#0` …).
pub fn shard_key(i: u32) -> String {
    format!("{STATS_KEY}#{i}")
}

/// Every key the stats read: the shards and the legacy single item.
pub fn all_keys() -> Vec<String> {
    (0..SHARDS).map(shard_key).chain([STATS_KEY.to_owned()]).collect()
}

/// The shard a write adds to, from its (random) token. A function of the token, so a write
/// repeated with the same token is the same request (DynamoDB refuses a reused
/// `ClientRequestToken` with other parameters: `IdempotentParameterMismatchException`).
pub fn pick_shard(token: &str) -> u32 {
    // FNV-1a: stable across builds and platforms.
    let hash = token.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % u64::from(SHARDS)) as u32
}

/// The counters of the stats items. See `jobs_core::state` for their exact meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub submitted: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retries: u64,
    pub cancelled: u64,
    pub skipped: u64,
}

const NAMES: [&str; 6] = ["submitted", "succeeded", "failed", "retries", "cancelled", "skipped"];

fn deltas(c: &Counters) -> [i64; 6] {
    [c.submitted, c.succeeded, c.failed, c.retries, c.cancelled, c.skipped]
}

/// The `ADD` of `c` to shard `shard` (only the non-zero deltas).
pub fn update(table: &str, shard: u32, c: &Counters) -> Update {
    let mut adds = Vec::new();
    let mut values = HashMap::new();
    for (name, delta) in NAMES.into_iter().zip(deltas(c)) {
        if delta != 0 {
            adds.push(format!("{name} :{name}"));
            values.insert(format!(":{name}"), n(delta));
        }
    }
    Update::builder()
        .table_name(table)
        .key(TABLE_KEY, AttributeValue::S(shard_key(shard)))
        .update_expression(format!("ADD {}", adds.join(", ")))
        .set_expression_attribute_values(Some(values))
        .build()
        .expect("update is complete")
}

/// Sums the stats items read.
pub fn sum<'a>(items: impl IntoIterator<Item = &'a HashMap<String, AttributeValue>>) -> Stats {
    // Shards may hold negative values (a retracted submit lands on another shard): sum signed.
    let mut total = [0i64; 6];
    for item in items {
        for (slot, name) in total.iter_mut().zip(NAMES) {
            let value = item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
            *slot = slot.saturating_add(value);
        }
    }
    let [submitted, succeeded, failed, retries, cancelled, skipped] = total.map(|v| v.max(0) as u64);
    Stats { submitted, succeeded, failed, retries, cancelled, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_shards() {
        let keys = all_keys();
        assert_eq!(keys.len(), SHARDS as usize + 1);
        assert_eq!((keys[0].as_str(), keys[15].as_str(), keys[16].as_str()), ("STATS#0", "STATS#15", "STATS"));
        let mut seen = [false; SHARDS as usize];
        for _ in 0..1000 {
            seen[pick_shard(&uuid::Uuid::new_v4().simple().to_string()) as usize] = true;
        }
        assert!(seen.iter().all(|s| *s), "every shard is used");
        assert_eq!(pick_shard("tok-1"), pick_shard("tok-1"), "a repeated write adds to the same shard");
    }

    #[test]
    fn updates_add_only_non_zero_deltas_and_sums_add_up() {
        let u = update("t", 3, &Counters { succeeded: 1, retries: -1, ..Counters::default() });
        assert_eq!(u.update_expression(), "ADD succeeded :succeeded, retries :retries");
        assert_eq!(u.key()[TABLE_KEY], AttributeValue::S("STATS#3".into()));
        let u = update("t", 0, &Counters { submitted: 1, skipped: 1, ..Counters::default() });
        assert_eq!(u.update_expression(), "ADD submitted :submitted, skipped :skipped");
        let item = |pairs: &[(&str, &str)]| -> HashMap<String, AttributeValue> {
            pairs.iter().map(|(k, v)| (k.to_string(), AttributeValue::N(v.to_string()))).collect()
        };
        let items = [
            item(&[("submitted", "-1")]),
            item(&[("submitted", "3"), ("succeeded", "1")]),
            item(&[("submitted", "2"), ("failed", "x"), ("cancelled", "1")]),
        ];
        let want = Stats { submitted: 4, succeeded: 1, cancelled: 1, ..Stats::default() };
        assert_eq!(sum(&items), want, "order does not matter");
        assert_eq!(sum(&[]), Stats::default());
    }
}
