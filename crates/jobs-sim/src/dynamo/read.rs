//! Reads: an item, a batch of them, and queries of a table (consistent) or of an index (as it is
//! at the simulated time, lag and all), paged and projected as DynamoDB does.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::types::Select;

use super::expr::{self, Item, Placeholders};
use super::table::KeySchema;
use super::value::{self, KeyValue};
use super::{Dynamo, DynamoError, MAX_BATCH_GET, MAX_PAGE_BYTES, invalid};

impl Dynamo {
    pub fn get_item(&mut self, input: GetItemInput) -> Result<GetItemOutput, DynamoError> {
        let names = input.expression_attribute_names.clone().unwrap_or_default();
        let projection = projection(input.projection_expression.as_deref(), &names)?;
        let t = self.table(input.table_name.as_deref())?;
        let key = Self::key(t, input.key.as_ref())?;
        let item = t.items.get(&key).map(|i| project(i, projection.as_deref()));
        Ok(GetItemOutput::builder().set_item(item).build())
    }

    pub fn batch_get_item(&mut self, input: BatchGetItemInput) -> Result<BatchGetItemOutput, DynamoError> {
        let requests = input.request_items.unwrap_or_default();
        if requests.values().map(|r| r.keys.len()).sum::<usize>() > MAX_BATCH_GET {
            return invalid("Too many items requested for the BatchGetItem call");
        }
        let mut responses = HashMap::new();
        for (table, request) in requests {
            let names = request.expression_attribute_names.clone().unwrap_or_default();
            let projection = projection(request.projection_expression.as_deref(), &names)?;
            let t = self.table(Some(&table))?;
            let mut found = Vec::new();
            for key in &request.keys {
                let key = Self::key(t, Some(key))?;
                if let Some(i) = t.items.get(&key) {
                    found.push(project(i, projection.as_deref()));
                }
            }
            responses.insert(table, found);
        }
        Ok(BatchGetItemOutput::builder().set_responses(Some(responses)).build())
    }

    /// A query of the table (consistent) or of an index (as it is at `now`, lag and all): the
    /// partition's items in key order, from `ExclusiveStartKey`, `Limit` items read before the
    /// filter, at most 1 MB a page.
    pub fn query(&mut self, input: QueryInput) -> Result<QueryOutput, DynamoError> {
        let names = input.expression_attribute_names.clone().unwrap_or_default();
        let values = input.expression_attribute_values.clone().unwrap_or_default();
        let mut ph = Placeholders::new(&names, &values);
        let key_text = input.key_condition_expression.as_deref().unwrap_or_default();
        let key_cond = expr::condition(key_text, &mut ph)?;
        let filter = input.filter_expression.as_deref().map(|f| expr::condition(f, &mut ph)).transpose()?;
        let projection = match input.projection_expression.as_deref() {
            Some(p) => Some(projection_of(p, &mut ph)?),
            None => None,
        };
        ph.all_used()?;
        if input.limit.is_some_and(|l| l < 1) {
            return invalid(
                "1 validation error detected: Value at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
            );
        }
        let now = self.now;
        let t = self.table(input.table_name.as_deref())?;
        let table_key = t.def.key.clone();
        let (schema, rows): (KeySchema, Vec<(Vec<KeyValue>, Item)>) = match input.index_name.as_deref() {
            None => (table_key.clone(), t.items.iter().map(|(k, i)| (k.clone(), i.clone())).collect()),
            Some(index) => {
                if input.consistent_read == Some(true) {
                    return invalid("Consistent reads are not supported on global secondary indexes");
                }
                let (def, entries) = t.index(index, now).ok_or_else(|| {
                    DynamoError::Validation(format!("The table does not have the specified index: {index}"))
                })?;
                (
                    def.key.clone(),
                    entries.iter().map(|((k, tk), i)| ([k.clone(), tk.clone()].concat(), i.clone())).collect(),
                )
            }
        };
        check_key_condition(&key_cond, &schema)?;
        let start = input.exclusive_start_key.as_ref().map(|k| {
            let index_part = schema.key_of(k).unwrap_or_default();
            let table_part =
                if input.index_name.is_some() { table_key.key_of(k).unwrap_or_default() } else { Vec::new() };
            [index_part, table_part].concat()
        });
        let mut matching: Vec<(Vec<KeyValue>, Item)> = Vec::new();
        for (k, item) in rows {
            if expr::holds(&item, &key_cond)? {
                matching.push((k, item));
            }
        }
        if input.scan_index_forward == Some(false) {
            matching.reverse();
        }
        if let Some(start) = &start {
            let forward = input.scan_index_forward != Some(false);
            matching.retain(|(k, _)| if forward { k > start } else { k < start });
        }
        let limit = input.limit.map(|l| l as usize).unwrap_or(usize::MAX);
        let mut read = Vec::new();
        let mut bytes = 0;
        for (k, item) in matching.iter().take(limit) {
            bytes += value::item_size(item);
            read.push((k.clone(), item.clone()));
            if bytes >= MAX_PAGE_BYTES {
                break;
            }
        }
        let more = read.len() < matching.len();
        let last = more.then(|| {
            let (_, item) = read.last().expect("a page that stops early read something");
            let mut key = Item::new();
            for name in table_key.names().chain(schema.names()) {
                if let Some(v) = item.get(name) {
                    key.insert(name.clone(), v.clone());
                }
            }
            key
        });
        let scanned = read.len() as i32;
        let mut found = Vec::new();
        for (_, item) in read {
            if filter.as_ref().map(|f| expr::holds(&item, f)).transpose()?.unwrap_or(true) {
                found.push(project(&item, projection.as_deref()));
            }
        }
        let count = found.len() as i32;
        let items = (input.select != Some(Select::Count)).then_some(found);
        Ok(QueryOutput::builder()
            .set_items(items)
            .count(count)
            .scanned_count(scanned)
            .set_last_evaluated_key(last)
            .build())
    }
}

/// A key condition names the partition key with `=` and, at most, the sort key once.
fn check_key_condition(cond: &expr::Cond, schema: &KeySchema) -> Result<(), DynamoError> {
    use expr::{Cmp, Cond, Operand, Step};
    let name_of = |o: &Operand| match o {
        Operand::Path(p) if p.len() == 1 => match &p[0] {
            Step::Name(n) => Some(n.clone()),
            Step::Index(_) => None,
        },
        _ => None,
    };
    let mut parts = Vec::new();
    fn flatten<'c>(c: &'c Cond, out: &mut Vec<&'c Cond>) {
        match c {
            Cond::And(a, b) => {
                flatten(a, out);
                flatten(b, out);
            }
            other => out.push(other),
        }
    }
    flatten(cond, &mut parts);
    let mut partition = false;
    let mut sort = false;
    for part in parts {
        let (name, equality) = match part {
            Cond::Compare(a, cmp, _) => (name_of(a), *cmp == Cmp::Eq),
            Cond::Between(a, _, _) | Cond::BeginsWith(a, _) => (name_of(a), false),
            _ => (None, false),
        };
        match name {
            Some(n) if n == schema.partition && equality && !partition => partition = true,
            Some(n) if Some(&n) == schema.sort.as_ref() && !sort => sort = true,
            _ => return invalid("Query key condition not supported"),
        }
    }
    if !partition {
        return invalid("Query condition missed key schema element");
    }
    Ok(())
}

/// A `ProjectionExpression`'s top-level attribute names.
fn projection(text: Option<&str>, names: &HashMap<String, String>) -> Result<Option<Vec<String>>, DynamoError> {
    let Some(text) = text else { return Ok(None) };
    let values = HashMap::new();
    let mut ph = Placeholders::new(names, &values);
    let out = projection_of(text, &mut ph)?;
    ph.all_used()?;
    Ok(Some(out))
}

fn projection_of(text: &str, ph: &mut Placeholders) -> Result<Vec<String>, DynamoError> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let cond = expr::condition(&format!("attribute_exists({})", part.trim()), ph)?;
        match cond {
            expr::Cond::Exists(path, _) => match &path[0] {
                expr::Step::Name(n) => out.push(n.clone()),
                expr::Step::Index(_) => return invalid("Invalid ProjectionExpression"),
            },
            _ => return invalid("Invalid ProjectionExpression"),
        }
    }
    Ok(out)
}

fn project(item: &Item, names: Option<&[String]>) -> Item {
    match names {
        None => item.clone(),
        Some(names) => item.iter().filter(|(k, _)| names.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect(),
    }
}
