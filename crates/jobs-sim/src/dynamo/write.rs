//! Single writes (put, update, delete) and the steps a transaction shares with them: a request
//! checked in itself ([`Dynamo::prepare`]), then against the item as it is
//! ([`Dynamo::evaluate`]), then committed (journal, indexes with their lag).

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::{DeleteItemInput, DeleteItemOutput};
use aws_sdk_dynamodb::operation::put_item::{PutItemInput, PutItemOutput};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::expr::{self, Item, Placeholders};
use super::value::{self, KeyValue};
use super::{Dynamo, DynamoError, MAX_ITEM_BYTES, Written, invalid};

impl Dynamo {
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
    pub(super) fn prepare(&mut self, write: &Write) -> Result<Prepared, DynamoError> {
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
    pub(super) fn evaluate(&mut self, write: &Write, prepared: Prepared) -> Result<Planned, DynamoError> {
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

    pub(super) fn commit(&mut self, planned: Planned) {
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
}

/// A write of any kind, as a transaction or a single request gives it.
pub(super) struct Write {
    pub(super) table: Option<String>,
    pub(super) key: Option<Item>,
    pub(super) op: Op,
    pub(super) condition: Option<String>,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

pub(super) enum Op {
    Put(Item),
    Update(String),
    Delete,
    Check,
}

impl Write {
    pub(super) fn put(
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
}

/// A write whose request is valid: its key and parsed expressions.
pub(super) struct Prepared {
    pub(super) key: Vec<KeyValue>,
    condition: Option<expr::Cond>,
    actions: Option<Vec<expr::Action>>,
}

/// A write checked against the table: what it would do.
pub(super) struct Planned {
    table: String,
    key: Vec<KeyValue>,
    pub(super) old: Option<Item>,
    new: Option<Item>,
    pub(super) passed: bool,
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
