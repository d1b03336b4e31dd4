//! Transactions: all or nothing, one operation per item, cancellation reasons in order (with the
//! item when asked), and a client token remembered for 10 minutes that answers a retried request
//! without writing again.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::transact_write_items::{TransactWriteItemsInput, TransactWriteItemsOutput};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, ReturnValuesOnConditionCheckFailure};

use super::expr::Item;
use super::write::{Op, Prepared, Write};
use super::{Dynamo, DynamoError, MAX_TRANSACT_ITEMS, Remembered, TOKEN_WINDOW_MS, invalid};

impl Dynamo {
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
}

impl Write {
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
