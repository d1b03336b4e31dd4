//! DynamoDB in memory, as strict as the service where the code relies on it: condition and update
//! expressions ([`expr`]), `ReturnValues` and `ReturnValuesOnConditionCheckFailure`, transactions
//! (all or nothing, one operation per item, cancellation reasons in order, a client token
//! remembered for 10 minutes), eventually consistent global secondary indexes with a lag the
//! simulator sets ([`table`]), paged queries, and TTL deletions when the simulator says they
//! happen. Requests and answers are the SDK's own types, so an adapter over the SDK and this world
//! take the same requests.
//!
//! It has no clock: the simulator sets [`Dynamo::set_now`].

pub mod expr;
pub mod table;
mod value;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ReturnValue, ReturnValuesOnConditionCheckFailure, Select,
};

pub use expr::Item;
use expr::{ExprError, Placeholders};
use table::Table;
pub use table::{IndexDef, KeySchema, Projection, TableDef};
use value::KeyValue;

/// The largest item DynamoDB stores (400 KB).
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// Operations in one transaction.
pub const MAX_TRANSACT_ITEMS: usize = 100;
/// How long a transaction's client token is remembered.
pub const TOKEN_WINDOW_MS: u64 = 10 * 60 * 1000;
/// Keys in one `BatchGetItem`.
pub const MAX_BATCH_GET: usize = 100;
/// What one query page reads at most (1 MB).
const MAX_PAGE_BYTES: usize = 1024 * 1024;

/// DynamoDB's refusals, by the exception it names.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DynamoError {
    /// `ConditionalCheckFailedException`, with the item as it was when the write asked for it
    /// (`ReturnValuesOnConditionCheckFailure: ALL_OLD`).
    #[error("ConditionalCheckFailedException: The conditional request failed")]
    ConditionFailed { item: Option<Item> },
    /// `TransactionCanceledException`: one reason per operation, in order (`None` for those that
    /// would have passed).
    #[error("TransactionCanceledException: Transaction cancelled, please refer cancellation reasons for specific reasons [{}]", codes(.reasons))]
    TransactionCanceled { reasons: Vec<CancellationReason> },
    /// `IdempotentParameterMismatchException`: a client token reused for another request.
    #[error("IdempotentParameterMismatchException: the token was used for another request")]
    TokenReused,
    #[error("ResourceNotFoundException: Requested resource not found: {0}")]
    NotFound(String),
    #[error("ValidationException: {0}")]
    Validation(String),
}

fn codes(reasons: &[CancellationReason]) -> String {
    reasons.iter().map(|r| r.code().unwrap_or("None")).collect::<Vec<_>>().join(", ")
}

impl From<ExprError> for DynamoError {
    fn from(e: ExprError) -> Self {
        DynamoError::Validation(e.0)
    }
}

fn invalid<T>(message: impl Into<String>) -> Result<T, DynamoError> {
    Err(DynamoError::Validation(message.into()))
}

/// A transaction remembered by its client token.
struct Remembered {
    fingerprint: String,
    at: u64,
}

/// The DynamoDB of one simulated world.
#[derive(Default)]
pub struct Dynamo {
    tables: HashMap<String, Table>,
    tokens: HashMap<String, Remembered>,
    /// Milliseconds since the epoch, as the simulator says.
    now: u64,
    /// How long a write takes to reach the indexes (ms).
    index_lag: u64,
    /// Every committed write, when the simulator asks for them ([`Dynamo::journal`]).
    journal: Option<Vec<Written>>,
}

/// One committed write of an item: when, and the item before and after (`None`: absent).
#[derive(Debug, Clone)]
pub struct Written {
    pub table: String,
    pub at: u64,
    pub old: Option<Item>,
    pub new: Option<Item>,
    /// A deletion by the table's TTL, not by a request.
    pub ttl: bool,
}

impl Dynamo {
    pub fn new() -> Dynamo {
        Dynamo::default()
    }

    pub fn create_table(&mut self, def: TableDef) {
        self.tables.insert(def.name.clone(), Table::new(def));
    }

    pub fn set_now(&mut self, ms: u64) {
        self.now = ms;
    }

    pub fn now(&self) -> u64 {
        self.now
    }

    /// From now on, every committed write is kept, for [`Dynamo::take_journal`]: invariants over
    /// each change (a live lease is never taken over) are checked from it.
    pub fn journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// The writes kept since the last call.
    pub fn take_journal(&mut self) -> Vec<Written> {
        self.journal.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// How long later a write is seen by index queries (0: at once).
    pub fn set_index_lag(&mut self, ms: u64) {
        self.index_lag = ms;
    }

    /// TTL: deletes the items of `table` whose `attribute` (epoch seconds) is before `before_secs`
    /// (DynamoDB does so some time after they expire; the simulator chooses when), each kept in
    /// the journal as a TTL deletion. Returns how many it deleted.
    pub fn expire(&mut self, table: &str, attribute: &str, before_secs: i64) -> usize {
        let visible_at = self.now + self.index_lag;
        let Some(t) = self.tables.get_mut(table) else { return 0 };
        let expired: Vec<Vec<KeyValue>> = t
            .items
            .iter()
            .filter(|(_, item)| match item.get(attribute) {
                Some(AttributeValue::N(n)) => n.parse::<i64>().is_ok_and(|at| at < before_secs),
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            if let Some(journal) = &mut self.journal {
                let old = t.items.get(key).cloned();
                journal.push(Written { table: table.to_owned(), at: self.now, old, new: None, ttl: true });
            }
            t.write(key.clone(), None, visible_at);
        }
        expired.len()
    }

    /// Every item of `table` as text (attributes sorted by name), sorted: two worlds hold the same
    /// items exactly when their snapshots are equal (a replayed seed must agree).
    pub fn snapshot(&self, table: &str) -> Vec<String> {
        let mut items: Vec<String> = self
            .items(table)
            .into_iter()
            .map(|item| {
                let mut attrs: Vec<String> = item.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                attrs.sort();
                attrs.join(" ")
            })
            .collect();
        items.sort();
        items
    }

    /// Every item of `table`, in key order (what a strongly consistent scan reads).
    pub fn items(&self, table: &str) -> Vec<Item> {
        self.tables.get(table).map(|t| t.items.values().cloned().collect()).unwrap_or_default()
    }

    fn table(&mut self, name: Option<&str>) -> Result<&mut Table, DynamoError> {
        let name = name.unwrap_or_default();
        self.tables.get_mut(name).ok_or_else(|| DynamoError::NotFound(name.to_owned()))
    }

    /// The key of a request: exactly the table's key attributes, valid.
    fn key(table: &Table, key: Option<&Item>) -> Result<Vec<KeyValue>, DynamoError> {
        let key = key.cloned().unwrap_or_default();
        match table.def.key.key_of(&key) {
            Some(k) if key.len() == k.len() => Ok(k),
            _ => invalid("The provided key element does not match the schema"),
        }
    }

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

    pub fn put_item(&mut self, input: PutItemInput) -> Result<PutItemOutput, DynamoError> {
        let write = Write::put(
            input.table_name.clone(),
            input.item.clone(),
            input.condition_expression.clone(),
            input.expression_attribute_names.clone(),
            input.expression_attribute_values.clone(),
        );
        let (old, _) = self.single(write, input.return_values_on_condition_check_failure.as_ref())?;
        let returned = match input.return_values {
            None | Some(ReturnValue::None) => None,
            Some(ReturnValue::AllOld) => old,
            Some(other) => return invalid(format!("Return values set to invalid value: {other}")),
        };
        Ok(PutItemOutput::builder().set_attributes(returned).build())
    }

    pub fn update_item(&mut self, input: UpdateItemInput) -> Result<UpdateItemOutput, DynamoError> {
        let write = Write {
            table: input.table_name.clone(),
            key: input.key.clone(),
            op: Op::Update(input.update_expression.clone().unwrap_or_default()),
            condition: input.condition_expression.clone(),
            names: input.expression_attribute_names.clone().unwrap_or_default(),
            values: input.expression_attribute_values.clone().unwrap_or_default(),
        };
        let (old, new) = self.single(write, input.return_values_on_condition_check_failure.as_ref())?;
        let changed = |item: &Option<Item>, other: &Option<Item>| {
            item.as_ref().map(|i| {
                i.iter()
                    .filter(|(k, v)| other.as_ref().and_then(|o| o.get(*k)) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Item>()
            })
        };
        let returned = match input.return_values {
            None | Some(ReturnValue::None) => None,
            Some(ReturnValue::AllOld) => old,
            Some(ReturnValue::AllNew) => new,
            Some(ReturnValue::UpdatedOld) => changed(&old, &new).filter(|i| !i.is_empty()),
            Some(ReturnValue::UpdatedNew) => changed(&new, &old).filter(|i| !i.is_empty()),
            Some(other) => return invalid(format!("Return values set to invalid value: {other}")),
        };
        Ok(UpdateItemOutput::builder().set_attributes(returned).build())
    }

    pub fn delete_item(&mut self, input: DeleteItemInput) -> Result<DeleteItemOutput, DynamoError> {
        let write = Write {
            table: input.table_name.clone(),
            key: input.key.clone(),
            op: Op::Delete,
            condition: input.condition_expression.clone(),
            names: input.expression_attribute_names.clone().unwrap_or_default(),
            values: input.expression_attribute_values.clone().unwrap_or_default(),
        };
        let (old, _) = self.single(write, input.return_values_on_condition_check_failure.as_ref())?;
        let returned = match input.return_values {
            None | Some(ReturnValue::None) => None,
            Some(ReturnValue::AllOld) => old,
            Some(other) => return invalid(format!("Return values set to invalid value: {other}")),
        };
        Ok(DeleteItemOutput::builder().set_attributes(returned).build())
    }

    /// One write outside a transaction: (the item before, the item after).
    fn single(
        &mut self,
        write: Write,
        on_fail: Option<&ReturnValuesOnConditionCheckFailure>,
    ) -> Result<(Option<Item>, Option<Item>), DynamoError> {
        let planned = self.plan(&write)?;
        if !planned.passed {
            let item =
                matches!(on_fail, Some(ReturnValuesOnConditionCheckFailure::AllOld)).then_some(planned.old).flatten();
            return Err(DynamoError::ConditionFailed { item });
        }
        let old = planned.old.clone();
        let new = planned.new.clone();
        self.commit(planned);
        Ok((old, new))
    }

    /// Checks a write against the table as it is: its condition, its result's validity.
    fn plan(&mut self, write: &Write) -> Result<Planned, DynamoError> {
        let prepared = self.prepare(write)?;
        self.evaluate(write, prepared)
    }

    /// What is wrong with the request itself (a refusal of the whole request, in a transaction
    /// too): its expressions, placeholders, table and key.
    fn prepare(&mut self, write: &Write) -> Result<Prepared, DynamoError> {
        let mut ph = Placeholders::new(&write.names, &write.values);
        let condition = write.condition.as_deref().map(|c| expr::condition(c, &mut ph)).transpose()?;
        let actions = match &write.op {
            Op::Update(text) => Some(expr::update(text, &mut ph)?),
            _ => None,
        };
        ph.all_used()?;
        let t = self.table(write.table.as_deref())?;
        let key = match &write.op {
            Op::Put(item) => {
                let k = t.def.key.key_of(item).ok_or_else(|| {
                    DynamoError::Validation(
                        "One or more parameter values were invalid: Missing the key in the item".into(),
                    )
                })?;
                check_attributes(item)?;
                k
            }
            _ => Self::key(t, write.key.as_ref())?,
        };
        if let Some(k) = actions.iter().flat_map(|a| expr::written(a)).find(|n| t.def.key.names().any(|k| k == n)) {
            return invalid(format!(
                "One or more parameter values were invalid: Cannot update attribute {k}. This attribute is part of the key"
            ));
        }
        Ok(Prepared { key, condition, actions })
    }

    /// The write on the item as it is: whether its condition holds, the item after it. An error
    /// here (arithmetic on a missing attribute, an item grown too large) cancels a transaction.
    fn evaluate(&mut self, write: &Write, prepared: Prepared) -> Result<Planned, DynamoError> {
        let t = self.table(write.table.as_deref())?;
        let old = t.items.get(&prepared.key).cloned();
        let current = old.clone().unwrap_or_default();
        let passed = match &prepared.condition {
            Some(c) => expr::holds(&current, c)?,
            None => true,
        };
        let new = match (&write.op, prepared.actions) {
            (Op::Put(item), _) => Some(item.clone()),
            (Op::Check, _) => old.clone(),
            (Op::Delete, _) => None,
            (Op::Update(_), actions) => {
                let mut base = current.clone();
                base.extend(write.key.clone().unwrap_or_default());
                let new = expr::apply(&base, &actions.unwrap_or_default())?;
                check_attributes(&new)?;
                Some(new)
            }
        };
        if let Some(n) = &new
            && value::item_size(n) > MAX_ITEM_BYTES
        {
            return invalid("Item size has exceeded the maximum allowed size");
        }
        let table = write.table.clone().unwrap_or_default();
        Ok(Planned { table, key: prepared.key, old, new, passed, writes: !matches!(write.op, Op::Check) })
    }

    fn commit(&mut self, planned: Planned) {
        if !planned.writes {
            return;
        }
        let visible_at = self.now + self.index_lag;
        if let Some(journal) = &mut self.journal {
            let (table, at, old, new) = (planned.table.clone(), self.now, planned.old.clone(), planned.new.clone());
            journal.push(Written { table, at, old, new, ttl: false });
        }
        let t = self.tables.get_mut(&planned.table).expect("a planned write's table exists");
        t.write(planned.key, planned.new, visible_at);
    }

    /// All or nothing: every condition is checked on the items as they are, then every write is
    /// made. A token seen in the last 10 minutes with the same request answers success again
    /// without writing; with another request, [`DynamoError::TokenReused`].
    pub fn transact_write_items(
        &mut self,
        input: TransactWriteItemsInput,
    ) -> Result<TransactWriteItemsOutput, DynamoError> {
        let items = input.transact_items.clone().unwrap_or_default();
        if items.is_empty() || items.len() > MAX_TRANSACT_ITEMS {
            return invalid(format!("Member must have length between 1 and {MAX_TRANSACT_ITEMS}"));
        }
        let fingerprint = items.iter().map(canon_transact).collect::<Vec<_>>().join("|");
        let now = self.now;
        self.tokens.retain(|_, r| now.saturating_sub(r.at) < TOKEN_WINDOW_MS);
        if let Some(token) = &input.client_request_token
            && let Some(seen) = self.tokens.get(token)
        {
            return if seen.fingerprint == fingerprint {
                Ok(TransactWriteItemsOutput::builder().build())
            } else {
                Err(DynamoError::TokenReused)
            };
        }
        // The request itself first: any operation wrong in itself refuses it whole.
        let mut prepared = Vec::new();
        for item in &items {
            let (write, on_fail) = Write::from_transact(item)?;
            let p = self.prepare(&write)?;
            let table = write.table.clone().unwrap_or_default();
            if prepared
                .iter()
                .any(|(w, q, _): &(Write, Prepared, _)| w.table.as_deref() == Some(table.as_str()) && q.key == p.key)
            {
                return invalid("Transaction request cannot include multiple operations on one item");
            }
            prepared.push((write, p, on_fail));
        }
        let mut planned = Vec::new();
        let mut reasons = Vec::new();
        let mut failed = false;
        for (write, p, on_fail) in prepared {
            match self.evaluate(&write, p) {
                Ok(p) => {
                    let mut reason = CancellationReason::builder().code("None");
                    if !p.passed {
                        failed = true;
                        reason = CancellationReason::builder()
                            .code("ConditionalCheckFailed")
                            .message("The conditional request failed");
                        if matches!(on_fail, Some(ReturnValuesOnConditionCheckFailure::AllOld)) {
                            reason = reason.set_item(p.old.clone());
                        }
                    }
                    reasons.push(reason.build());
                    planned.push(p);
                }
                Err(DynamoError::Validation(message)) => {
                    failed = true;
                    reasons.push(CancellationReason::builder().code("ValidationError").message(message).build());
                }
                Err(e) => return Err(e),
            }
        }
        if failed {
            return Err(DynamoError::TransactionCanceled { reasons });
        }
        for p in planned {
            self.commit(p);
        }
        if let Some(token) = input.client_request_token {
            self.tokens.insert(token, Remembered { fingerprint, at: now });
        }
        Ok(TransactWriteItemsOutput::builder().build())
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

/// A write of any kind, as a transaction or a single request gives it.
struct Write {
    table: Option<String>,
    key: Option<Item>,
    op: Op,
    condition: Option<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

enum Op {
    Put(Item),
    Update(String),
    Delete,
    Check,
}

impl Write {
    fn put(
        table: Option<String>,
        item: Option<Item>,
        condition: Option<String>,
        names: Option<HashMap<String, String>>,
        values: Option<HashMap<String, AttributeValue>>,
    ) -> Write {
        Write {
            table,
            key: None,
            op: Op::Put(item.unwrap_or_default()),
            condition,
            names: names.unwrap_or_default(),
            values: values.unwrap_or_default(),
        }
    }

    fn from_transact(
        item: &aws_sdk_dynamodb::types::TransactWriteItem,
    ) -> Result<(Write, Option<ReturnValuesOnConditionCheckFailure>), DynamoError> {
        let or_empty_n = |m: &Option<HashMap<String, String>>| m.clone().unwrap_or_default();
        let or_empty_v = |m: &Option<HashMap<String, AttributeValue>>| m.clone().unwrap_or_default();
        let set = [item.put.is_some(), item.update.is_some(), item.delete.is_some(), item.condition_check.is_some()];
        if set.iter().filter(|s| **s).count() != 1 {
            return invalid("TransactItems can only contain one of Check, Put, Update or Delete");
        }
        Ok(if let Some(p) = &item.put {
            let w = Write::put(
                Some(p.table_name.clone()),
                Some(p.item.clone()),
                p.condition_expression.clone(),
                p.expression_attribute_names.clone(),
                p.expression_attribute_values.clone(),
            );
            (w, p.return_values_on_condition_check_failure.clone())
        } else if let Some(u) = &item.update {
            let w = Write {
                table: Some(u.table_name.clone()),
                key: Some(u.key.clone()),
                op: Op::Update(u.update_expression.clone()),
                condition: u.condition_expression.clone(),
                names: or_empty_n(&u.expression_attribute_names),
                values: or_empty_v(&u.expression_attribute_values),
            };
            (w, u.return_values_on_condition_check_failure.clone())
        } else if let Some(d) = &item.delete {
            let w = Write {
                table: Some(d.table_name.clone()),
                key: Some(d.key.clone()),
                op: Op::Delete,
                condition: d.condition_expression.clone(),
                names: or_empty_n(&d.expression_attribute_names),
                values: or_empty_v(&d.expression_attribute_values),
            };
            (w, d.return_values_on_condition_check_failure.clone())
        } else {
            let c = item.condition_check.as_ref().expect("one operation is set (checked)");
            let w = Write {
                table: Some(c.table_name.clone()),
                key: Some(c.key.clone()),
                op: Op::Check,
                condition: Some(c.condition_expression.clone()),
                names: or_empty_n(&c.expression_attribute_names),
                values: or_empty_v(&c.expression_attribute_values),
            };
            (w, c.return_values_on_condition_check_failure.clone())
        })
    }
}

/// A write whose request is valid: its key and parsed expressions.
struct Prepared {
    key: Vec<KeyValue>,
    condition: Option<expr::Cond>,
    actions: Option<Vec<expr::Action>>,
}

/// A write checked against the table: what it would do.
struct Planned {
    table: String,
    key: Vec<KeyValue>,
    old: Option<Item>,
    new: Option<Item>,
    passed: bool,
    writes: bool,
}

/// DynamoDB refuses empty sets and, in a key, empty strings; elsewhere an empty string is fine.
fn check_attributes(item: &Item) -> Result<(), DynamoError> {
    for (name, v) in item {
        let empty_set = match v {
            AttributeValue::Ss(s) => s.is_empty(),
            AttributeValue::Ns(s) => s.is_empty(),
            AttributeValue::Bs(s) => s.is_empty(),
            _ => false,
        };
        if empty_set {
            return invalid(format!(
                "One or more parameter values were invalid: An number set  may not be empty (attribute {name})"
            ));
        }
    }
    Ok(())
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

/// A canonical text of a transaction's operation (maps sorted), to recognize a retried request.
fn canon_transact(item: &aws_sdk_dynamodb::types::TransactWriteItem) -> String {
    let map = |m: Option<&Item>| {
        let sorted: BTreeMap<&String, String> = m.into_iter().flatten().map(|(k, v)| (k, canon(v))).collect();
        format!("{sorted:?}")
    };
    let names = |m: Option<&HashMap<String, String>>| format!("{:?}", m.map(|m| m.iter().collect::<BTreeMap<_, _>>()));
    if let Some(p) = &item.put {
        format!(
            "P{}{}{:?}{}{}",
            p.table_name,
            map(Some(&p.item)),
            p.condition_expression,
            names(p.expression_attribute_names.as_ref()),
            map(p.expression_attribute_values.as_ref())
        )
    } else if let Some(u) = &item.update {
        format!(
            "U{}{}{}{:?}{}{}",
            u.table_name,
            map(Some(&u.key)),
            u.update_expression,
            u.condition_expression,
            names(u.expression_attribute_names.as_ref()),
            map(u.expression_attribute_values.as_ref())
        )
    } else if let Some(d) = &item.delete {
        format!(
            "D{}{}{:?}{}{}",
            d.table_name,
            map(Some(&d.key)),
            d.condition_expression,
            names(d.expression_attribute_names.as_ref()),
            map(d.expression_attribute_values.as_ref())
        )
    } else if let Some(c) = &item.condition_check {
        format!(
            "C{}{}{}{}{}",
            c.table_name,
            map(Some(&c.key)),
            c.condition_expression,
            names(c.expression_attribute_names.as_ref()),
            map(c.expression_attribute_values.as_ref())
        )
    } else {
        String::new()
    }
}

fn canon(v: &AttributeValue) -> String {
    match v {
        AttributeValue::M(m) => {
            let sorted: BTreeMap<&String, String> = m.iter().map(|(k, v)| (k, canon(v))).collect();
            format!("M{sorted:?}")
        }
        AttributeValue::L(l) => format!("L[{}]", l.iter().map(canon).collect::<Vec<_>>().join(",")),
        other => format!("{other:?}"),
    }
}
