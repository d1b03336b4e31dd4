//! One table: its items by key, and its global secondary indexes as DynamoDB serves them:
//! sparse (an item without the index's keys is not in it), projected (keys, `INCLUDE` attributes
//! or all), and eventually consistent: a write reaches an index `lag` milliseconds later, in the
//! order the writes were made.

use std::collections::{BTreeMap, VecDeque};

use aws_sdk_dynamodb::operation::create_table::CreateTableInput;
use aws_sdk_dynamodb::types::{KeyType, ProjectionType};

use super::expr::Item;
use super::value::{KeyValue, valid_key};

/// What an index carries besides the keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    KeysOnly,
    Include(Vec<String>),
    All,
}

/// A key schema: the partition key's attribute and the sort key's, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySchema {
    pub partition: String,
    pub sort: Option<String>,
}

impl KeySchema {
    /// The key of `item` under this schema (`None`: the item lacks it, or a key is not a
    /// non-empty string, a number or a binary).
    pub(crate) fn key_of(&self, item: &Item) -> Option<Vec<KeyValue>> {
        let mut key = Vec::with_capacity(2);
        for name in std::iter::once(&self.partition).chain(self.sort.as_ref()) {
            let v = item.get(name).filter(|v| valid_key(v))?;
            key.push(KeyValue(v.clone()));
        }
        Some(key)
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    pub name: String,
    pub key: KeySchema,
    pub projection: Projection,
}

/// A table's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDef {
    pub name: String,
    pub key: KeySchema,
    pub indexes: Vec<IndexDef>,
}

impl TableDef {
    /// The definition a `CreateTable` request gives.
    pub fn from_create(input: &CreateTableInput) -> Option<TableDef> {
        let schema = |elements: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
            let of = |t: KeyType| elements.iter().find(|e| e.key_type == t).map(|e| e.attribute_name.clone());
            Some(KeySchema { partition: of(KeyType::Hash)?, sort: of(KeyType::Range) })
        };
        let indexes = input
            .global_secondary_indexes()
            .iter()
            .map(|gsi| {
                let p = gsi.projection();
                let projection = match p.and_then(|p| p.projection_type()) {
                    Some(ProjectionType::All) => Projection::All,
                    Some(ProjectionType::Include) => {
                        Projection::Include(p.map(|p| p.non_key_attributes().to_vec()).unwrap_or_default())
                    }
                    _ => Projection::KeysOnly,
                };
                Some(IndexDef { name: gsi.index_name.clone(), key: schema(&gsi.key_schema)?, projection })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(TableDef { name: input.table_name()?.to_owned(), key: schema(input.key_schema())?, indexes })
    }
}

/// An index's entries: by index key, then the table key (an index key need not be unique).
type Entries = BTreeMap<(Vec<KeyValue>, Vec<KeyValue>), Item>;

pub(crate) struct Table {
    pub def: TableDef,
    pub items: BTreeMap<Vec<KeyValue>, Item>,
    /// Per index (in `def.indexes` order): what a query sees now.
    indexes: Vec<Entries>,
    /// Writes not yet in the indexes: when they arrive (ms), the table key, the item after.
    pending: VecDeque<(u64, Vec<KeyValue>, Option<Item>)>,
}

impl Table {
    pub fn new(def: TableDef) -> Table {
        let indexes = vec![Entries::new(); def.indexes.len()];
        Table { def, items: BTreeMap::new(), indexes, pending: VecDeque::new() }
    }

    /// Writes `item` (or deletes the key), reaching the indexes at `visible_at`.
    pub fn write(&mut self, key: Vec<KeyValue>, item: Option<Item>, visible_at: u64) {
        match &item {
            Some(i) => self.items.insert(key.clone(), i.clone()),
            None => self.items.remove(&key),
        };
        self.pending.push_back((visible_at, key, item));
    }

    /// The index `name` as it is at `now`: every write due by then applied, in order.
    pub fn index(&mut self, name: &str, now: u64) -> Option<(&IndexDef, &Entries)> {
        let at = self.def.indexes.iter().position(|i| i.name == name)?;
        while self.pending.front().is_some_and(|(due, _, _)| *due <= now) {
            let (_, key, item) = self.pending.pop_front().expect("a front entry");
            for (def, entries) in self.def.indexes.iter().zip(self.indexes.iter_mut()) {
                entries.retain(|(_, table_key), _| *table_key != key);
                if let Some(item) = &item
                    && let Some(index_key) = def.key.key_of(item)
                {
                    entries.insert((index_key, key.clone()), project(item, &self.def.key, def));
                }
            }
        }
        Some((&self.def.indexes[at], &self.indexes[at]))
    }
}

fn project(item: &Item, table: &KeySchema, index: &IndexDef) -> Item {
    let keep = |name: &String| {
        table.names().any(|k| k == name)
            || index.key.names().any(|k| k == name)
            || match &index.projection {
                Projection::All => true,
                Projection::KeysOnly => false,
                Projection::Include(names) => names.contains(name),
            }
    };
    item.iter().filter(|(k, _)| keep(k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}
