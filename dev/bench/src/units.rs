//! DynamoDB capacity of the requests the proxy saw, by the on-demand billing rules: a write
//! costs one write request unit (WRU) per started KB of the larger of the item before and after
//! (twice that in a transaction), plus one WRU per global secondary index write (two when an
//! indexed key changes: the old entry is deleted, the new one put); a read costs one read unit
//! (RRU) per started 4 KB, half for an eventually consistent read; a failed conditional write
//! still costs its WRU. The items are modelled from the requests themselves, so the rules see the
//! attributes each write sets and removes.

use std::collections::HashMap;

use jobs_aws::resources::{
    DUE_AT_ATTRIBUTE, DUE_SHARD_ATTRIBUTE, LIST_INDEXES, LIST_SORT_ATTRIBUTE, TABLE_KEY, TENANCY_ATTRIBUTE,
    TENANCY_ORDER_ATTRIBUTE, TENANCY_PROJECTED,
};
use serde_json::Value;

use crate::proxy::Call;

type Item = HashMap<String, Value>;

/// Capacity units of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub write: f64,
    /// Of `write`: the index writes.
    pub index_write: f64,
    pub read: f64,
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, o: Units) {
        self.write += o.write;
        self.index_write += o.index_write;
        self.read += o.read;
    }
}

/// Every index of the table: its key attributes and the other attributes it projects (the due
/// index and the list indexes are keys only; the tenancy index projects a few).
fn indexes() -> Vec<(Vec<&'static str>, &'static [&'static str])> {
    let mut out = vec![(vec![DUE_SHARD_ATTRIBUTE, DUE_AT_ATTRIBUTE], &[][..])];
    out.extend(LIST_INDEXES.iter().map(|(_, key)| (vec![*key, LIST_SORT_ATTRIBUTE], &[][..])));
    out.push((vec![TENANCY_ATTRIBUTE, TENANCY_ORDER_ATTRIBUTE], &TENANCY_PROJECTED[..]));
    out
}

/// DynamoDB's item size: attribute names plus values (strings by their UTF-8 length, numbers
/// about one byte per two digits).
pub fn item_size(item: &Item) -> usize {
    fn value(v: &Value) -> usize {
        let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else { return 1 };
        match (kind.as_str(), inner) {
            ("S" | "B", Value::String(s)) => s.len(),
            ("N", Value::String(n)) => n.len().div_ceil(2) + 1,
            ("L", Value::Array(items)) => 3 + items.iter().map(|i| value(i) + 1).sum::<usize>(),
            ("M", Value::Object(map)) => 3 + map.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// Index writes of changing `before` into `after`.
fn index_writes(before: Option<&Item>, after: Option<&Item>) -> f64 {
    let mut writes = 0.0;
    for (keys, projected) in indexes() {
        let entry = |item: Option<&Item>| -> Option<Vec<Value>> {
            let item = item?;
            keys.iter().map(|k| item.get(*k).cloned()).collect::<Option<Vec<_>>>()
        };
        let carried = |item: Option<&Item>| -> Vec<Option<Value>> {
            projected.iter().map(|k| item.and_then(|i| i.get(*k)).cloned()).collect()
        };
        writes += match (entry(before), entry(after)) {
            (None, Some(_)) | (Some(_), None) => 1.0,
            (Some(a), Some(b)) if a != b => 2.0,
            // The same entry with a projected attribute changed: rewritten.
            (Some(_), Some(_)) if carried(before) != carried(after) => 1.0,
            _ => 0.0,
        };
    }
    writes
}

/// The table as the requests left it.
#[derive(Debug, Default)]
pub struct Model {
    items: HashMap<String, Item>,
}

impl Model {
    /// Capacity of `call` (a DynamoDB request), applying its writes to the model when it succeeded.
    pub fn apply(&mut self, call: &Call) -> Units {
        let b = &call.body;
        let ok = call.status < 300;
        match call.operation.as_str() {
            "PutItem" => self.put(b, ok, 1.0),
            "UpdateItem" => self.update(b, ok, 1.0),
            "DeleteItem" => self.delete(b, ok, 1.0),
            "TransactWriteItems" => {
                let mut units = Units::default();
                for entry in b["TransactItems"].as_array().into_iter().flatten() {
                    units += match () {
                        _ if entry.get("Put").is_some() => self.put(&entry["Put"], ok, 2.0),
                        _ if entry.get("Update").is_some() => self.update(&entry["Update"], ok, 2.0),
                        _ if entry.get("Delete").is_some() => self.delete(&entry["Delete"], ok, 2.0),
                        _ => Units { write: 2.0, ..Units::default() }, // ConditionCheck
                    };
                }
                units
            }
            "GetItem" => {
                let size = self.items.get(&pk(&b["Key"])).map_or(0, item_size);
                Units { read: read_units(size, b["ConsistentRead"] == Value::Bool(true)), ..Units::default() }
            }
            "BatchGetItem" => {
                let mut read = 0.0;
                for (_, request) in b["RequestItems"].as_object().into_iter().flatten() {
                    let consistent = request["ConsistentRead"] == Value::Bool(true);
                    for key in request["Keys"].as_array().into_iter().flatten() {
                        read += read_units(self.items.get(&pk(key)).map_or(0, item_size), consistent);
                    }
                }
                Units { read, ..Units::default() }
            }
            // Keys-only index pages: well under 4 KB, eventually consistent.
            "Query" | "Scan" => Units { read: 0.5, ..Units::default() },
            _ => Units::default(),
        }
    }

    fn put(&mut self, b: &Value, ok: bool, factor: f64) -> Units {
        let item: Item = b["Item"].as_object().map(|o| o.clone().into_iter().collect()).unwrap_or_default();
        let key = item.get(TABLE_KEY).and_then(|v| v["S"].as_str()).unwrap_or_default().to_owned();
        let before = self.items.get(&key).cloned();
        self.write(key, before, Some(item), ok, factor)
    }

    fn update(&mut self, b: &Value, ok: bool, factor: f64) -> Units {
        let key = pk(&b["Key"]);
        let before = self.items.get(&key).cloned();
        let mut after = before.clone().unwrap_or_else(|| key_item(&b["Key"]));
        apply_update(&mut after, b);
        self.write(key, before, Some(after), ok, factor)
    }

    fn delete(&mut self, b: &Value, ok: bool, factor: f64) -> Units {
        let key = pk(&b["Key"]);
        let before = self.items.get(&key).cloned();
        self.write(key, before, None, ok, factor)
    }

    fn write(&mut self, key: String, before: Option<Item>, after: Option<Item>, ok: bool, factor: f64) -> Units {
        let size = before.as_ref().map_or(0, item_size).max(after.as_ref().map_or(0, item_size));
        let table = factor * size.max(1).div_ceil(1024) as f64;
        if !ok {
            return Units { write: table, ..Units::default() };
        }
        let index = index_writes(before.as_ref(), after.as_ref());
        match after {
            Some(item) => self.items.insert(key, item),
            None => self.items.remove(&key),
        };
        Units { write: table + index, index_write: index, read: 0.0 }
    }
}

fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.max(1).div_ceil(4096) as f64;
    if consistent { units } else { units / 2.0 }
}

fn pk(key: &Value) -> String {
    key[TABLE_KEY]["S"].as_str().unwrap_or_default().to_owned()
}

fn key_item(key: &Value) -> Item {
    key.as_object().map(|o| o.clone().into_iter().collect()).unwrap_or_default()
}

/// Applies an `UpdateExpression` (SET / REMOVE / ADD clauses) to the modelled item. A value that
/// is not a plain placeholder (`list_append(…)`, `if_not_exists(…)`, `ADD`) becomes a fresh one.
pub fn apply_update(item: &mut Item, b: &Value) {
    let names = &b["ExpressionAttributeNames"];
    let values = &b["ExpressionAttributeValues"];
    let name = |token: &str| names[token.trim()].as_str().map(str::to_owned).unwrap_or_else(|| token.trim().to_owned());
    let expr = b["UpdateExpression"].as_str().unwrap_or_default();
    for (clause, body) in clauses(expr) {
        for part in split_top(body) {
            match clause {
                "SET" => {
                    let Some((lhs, rhs)) = part.split_once('=') else { continue };
                    let rhs = rhs.trim();
                    let value = if rhs.starts_with(':') && !rhs.contains(['+', '-', '(']) {
                        values[rhs].clone()
                    } else {
                        Value::String(format!("computed:{}", uuid::Uuid::new_v4()))
                    };
                    item.insert(name(lhs), value);
                }
                "REMOVE" => {
                    item.remove(&name(part));
                }
                "ADD" => {
                    let attr = part.split_whitespace().next().unwrap_or_default();
                    item.insert(name(attr), Value::String(format!("computed:{}", uuid::Uuid::new_v4())));
                }
                _ => {}
            }
        }
    }
}

/// The clauses of an update expression: (keyword, its text).
fn clauses(expr: &str) -> Vec<(&'static str, &str)> {
    let mut marks: Vec<(usize, &'static str)> = Vec::new();
    for keyword in ["SET", "REMOVE", "ADD", "DELETE"] {
        let mut from = 0;
        while let Some(i) = expr[from..].find(keyword) {
            let at = from + i;
            let before_ok = at == 0 || expr.as_bytes()[at - 1].is_ascii_whitespace();
            let after_ok = expr.as_bytes().get(at + keyword.len()).is_none_or(|c| c.is_ascii_whitespace());
            if before_ok && after_ok {
                marks.push((at, keyword));
            }
            from = at + keyword.len();
        }
    }
    marks.sort();
    marks
        .iter()
        .enumerate()
        .map(|(i, (at, kw))| {
            let end = marks.get(i + 1).map_or(expr.len(), |(next, _)| *next);
            (*kw, &expr[at + kw.len()..end])
        })
        .collect()
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out.into_iter().filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;

    fn call(operation: &str, status: u16, body: Value) -> Call {
        Call { at: Instant::now(), service: "DynamoDB".into(), operation: operation.into(), body, status }
    }

    #[test]
    fn update_expressions_set_remove_and_add() {
        let mut item = Item::new();
        item.insert("gone".into(), json!({"S": "x"}));
        let body = json!({
            "UpdateExpression": "SET #s = :s, history = list_append(history, :h) REMOVE #g, leaseOwner ADD resends :one",
            "ExpressionAttributeNames": {"#s": "status", "#g": "gone"},
            "ExpressionAttributeValues": {":s": {"S": "RUNNING"}, ":h": {"L": []}, ":one": {"N": "1"}},
        });
        apply_update(&mut item, &body);
        assert_eq!(item["status"], json!({"S": "RUNNING"}));
        assert!(item.contains_key("history") && item.contains_key("resends") && !item.contains_key("gone"));
        assert_eq!(clauses("SET a = :SETx REMOVE b").len(), 2, "keywords inside names do not split");
    }

    #[test]
    fn units_table() {
        let job = |status: &str| {
            json!({"pk": {"S": "JOB#1"}, "status": {"S": status}, "createdAt": {"S": "2026-12-02T00:00:00.000Z"},
                   "listAll": {"S": "JOB"}, "kind": {"S": "noop"}, "dueShard": {"S": "3"}, "dueAt": {"N": "1796169600000"}})
        };
        let mut m = Model::default();
        // A new job in a transaction: 2 WRU, and one write to each index it is in (due, by-created,
        // by-status, by-kind: 4), not by-schedule or by-submitter (their keys are absent).
        let put = call("TransactWriteItems", 200, json!({"TransactItems": [{"Put": {"Item": job("QUEUED")}}]}));
        assert_eq!(m.apply(&put), Units { write: 2.0 + 4.0, index_write: 4.0, read: 0.0 });
        // QUEUED -> RUNNING: by-status changes its key (2 writes); the due index keeps its entry.
        let start = json!({"Key": {"pk": {"S": "JOB#1"}}, "UpdateExpression": "SET #s = :s",
                           "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": {":s": {"S": "RUNNING"}}});
        assert_eq!(m.apply(&call("UpdateItem", 200, start.clone())), Units { write: 3.0, index_write: 2.0, read: 0.0 });
        // The same again: no index write. A failed condition: its WRU, no change.
        assert_eq!(m.apply(&call("UpdateItem", 200, start.clone())).index_write, 0.0);
        assert_eq!(m.apply(&call("UpdateItem", 400, start)), Units { write: 1.0, index_write: 0.0, read: 0.0 });
        // Leaving the due index: one delete.
        let end = json!({"Key": {"pk": {"S": "JOB#1"}}, "UpdateExpression": "REMOVE dueAt, dueShard"});
        assert_eq!(m.apply(&call("UpdateItem", 200, end)).index_write, 1.0);
        // Reads: consistent 1 per 4 KB, a missing item the minimum; an index page half a unit.
        let get = json!({"Key": {"pk": {"S": "JOB#1"}}, "ConsistentRead": true});
        assert_eq!(m.apply(&call("GetItem", 200, get)).read, 1.0);
        let batch = json!({"RequestItems": {"t": {"ConsistentRead": true, "Keys": [{"pk": {"S": "JOB#1"}}, {"pk": {"S": "STATS#0"}}]}}});
        assert_eq!(m.apply(&call("BatchGetItem", 200, batch)).read, 2.0);
        assert_eq!(m.apply(&call("Query", 200, json!({}))).read, 0.5);
        // The tenancy index projects a job's status: a slot holder's status change rewrites its
        // entry (1 write), its key removed deletes it (1 write).
        let slot = json!({"Key": {"pk": {"S": "JOB#1"}}, "UpdateExpression": "SET tenancy = :t, tenancyOrder = :o",
                          "ExpressionAttributeValues": {":t": {"S": "SLOT#a"}, ":o": {"S": "x#1"}}});
        assert_eq!(m.apply(&call("UpdateItem", 200, slot)).index_write, 1.0);
        let ended = json!({"Key": {"pk": {"S": "JOB#1"}}, "UpdateExpression": "SET #s = :s",
                           "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": {":s": {"S": "SUCCEEDED"}}});
        assert_eq!(
            m.apply(&call("UpdateItem", 200, ended)).index_write,
            2.0 + 1.0,
            "by-status moved, tenancy rewritten"
        );
        let release = json!({"Key": {"pk": {"S": "JOB#1"}}, "UpdateExpression": "REMOVE tenancy, tenancyOrder"});
        assert_eq!(m.apply(&call("UpdateItem", 200, release)).index_write, 1.0);
        // Size: a 3 KB item costs 3 WRU per write.
        let big = json!({"Item": {"pk": {"S": "JOB#2"}, "history": {"S": "x".repeat(3000)}}});
        assert_eq!(m.apply(&call("PutItem", 200, big)).write, 3.0);
    }
}
