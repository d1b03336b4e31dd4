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
mod read;
pub mod table;
mod transact;
mod value;
mod write;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason};

use expr::ExprError;
pub use expr::Item;
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
}
