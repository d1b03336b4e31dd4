//! Evaluation: whether a condition holds for an item, and an item after an update's actions,
//! with DynamoDB's comparisons, sizes, number arithmetic and document paths.

use aws_sdk_dynamodb::types::AttributeValue;

use super::ast::{Action, Cmp, Cond, ExprError, Item, Operand, Path, Step, invalid};
use crate::dynamo::value::{self, Number};

/// The value at `path` in `item`, if there is one.
pub fn get<'i>(item: &'i Item, path: &Path) -> Option<&'i AttributeValue> {
    let Step::Name(first) = &path[0] else { return None };
    let mut v = item.get(first)?;
    for step in &path[1..] {
        v = match (step, v) {
            (Step::Name(n), AttributeValue::M(m)) => m.get(n)?,
            (Step::Index(i), AttributeValue::L(l)) => l.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

fn eval(item: &Item, op: &Operand) -> Result<Option<AttributeValue>, ExprError> {
    Ok(match op {
        Operand::Path(p) => get(item, p).cloned(),
        Operand::Value(v) => Some(v.clone()),
        Operand::Size(p) => match get(item, p) {
            None => None,
            Some(v) => match value::size(v) {
                Some(n) => Some(AttributeValue::N(n.to_string())),
                None => {
                    return invalid(format!(
                        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: {}",
                        value::type_name(v)
                    ));
                }
            },
        },
        Operand::IfNotExists(p, default) => match get(item, p) {
            Some(v) => Some(v.clone()),
            None => eval(item, default)?,
        },
        Operand::ListAppend(a, b) => match (eval(item, a)?, eval(item, b)?) {
            (Some(AttributeValue::L(mut a)), Some(AttributeValue::L(b))) => {
                a.extend(b);
                Some(AttributeValue::L(a))
            }
            (None, _) | (_, None) => {
                return invalid("The provided expression refers to an attribute that does not exist in the item");
            }
            _ => {
                return invalid(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append",
                );
            }
        },
        Operand::Arith(a, minus, b) => match (eval(item, a)?, eval(item, b)?) {
            (Some(AttributeValue::N(a)), Some(AttributeValue::N(b))) => {
                let (Some(a), Some(b)) = (Number::parse(&a), Number::parse(&b)) else {
                    return invalid("A value provided cannot be converted into a number");
                };
                Some(AttributeValue::N(a.add(b, *minus).text()))
            }
            (None, _) | (_, None) => {
                return invalid("The provided expression refers to an attribute that does not exist in the item");
            }
            _ => {
                return invalid(format!(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: {}",
                    if *minus { "-" } else { "+" }
                ));
            }
        },
    })
}

/// Whether `cond` holds for `item` (an absent item: no attributes).
pub fn holds(item: &Item, cond: &Cond) -> Result<bool, ExprError> {
    Ok(match cond {
        Cond::Compare(a, cmp, b) => match (eval(item, a)?, eval(item, b)?) {
            (Some(a), Some(b)) => match cmp {
                Cmp::Eq => value::equal(&a, &b),
                Cmp::Ne => !value::equal(&a, &b),
                _ => value::compare(&a, &b).is_some_and(|o| match cmp {
                    Cmp::Lt => o.is_lt(),
                    Cmp::Le => o.is_le(),
                    Cmp::Gt => o.is_gt(),
                    _ => o.is_ge(),
                }),
            },
            // A missing attribute is not equal to any value, and compares as nothing.
            _ => *cmp == Cmp::Ne,
        },
        Cond::Between(v, low, high) => match (eval(item, v)?, eval(item, low)?, eval(item, high)?) {
            (Some(v), Some(low), Some(high)) => {
                if value::compare(&low, &high).is_some_and(|o| o.is_gt()) {
                    return invalid(
                        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
                    );
                }
                value::compare(&v, &low).is_some_and(|o| o.is_ge())
                    && value::compare(&v, &high).is_some_and(|o| o.is_le())
            }
            _ => false,
        },
        Cond::In(v, list) => match eval(item, v)? {
            Some(v) => {
                let mut any = false;
                for candidate in list {
                    any |= eval(item, candidate)?.is_some_and(|c| value::equal(&v, &c));
                }
                any
            }
            None => false,
        },
        Cond::Exists(p, exists) => get(item, p).is_some() == *exists,
        Cond::BeginsWith(a, b) => match (eval(item, a)?, eval(item, b)?) {
            (Some(AttributeValue::S(a)), Some(AttributeValue::S(b))) => a.starts_with(&b),
            (Some(AttributeValue::B(a)), Some(AttributeValue::B(b))) => a.as_ref().starts_with(b.as_ref()),
            _ => false,
        },
        Cond::Contains(a, b) => match (eval(item, a)?, eval(item, b)?) {
            (Some(AttributeValue::S(a)), Some(AttributeValue::S(b))) => a.contains(&b),
            (Some(AttributeValue::Ss(a)), Some(AttributeValue::S(b))) => a.contains(&b),
            (Some(AttributeValue::L(a)), Some(b)) => a.iter().any(|v| value::equal(v, &b)),
            _ => false,
        },
        Cond::Type(p, t) => match (get(item, p), eval(item, t)?) {
            (Some(v), Some(AttributeValue::S(t))) => value::type_name(v) == t,
            _ => false,
        },
        Cond::And(a, b) => holds(item, a)? && holds(item, b)?,
        Cond::Or(a, b) => holds(item, a)? || holds(item, b)?,
        Cond::Not(a) => !holds(item, a)?,
    })
}

/// `item` after `actions`: every right-hand side is evaluated on the item as it was, then the
/// actions are applied.
pub fn apply(item: &Item, actions: &[Action]) -> Result<Item, ExprError> {
    let mut sets = Vec::new();
    for a in actions {
        if let Action::Set(p, op) = a {
            match eval(item, op)? {
                Some(v) => sets.push((p, v)),
                None => {
                    return invalid("The provided expression refers to an attribute that does not exist in the item");
                }
            }
        }
    }
    let mut out = item.clone();
    for (p, v) in sets {
        put(&mut out, p, v)?;
    }
    for a in actions {
        match a {
            Action::Set(..) => {}
            Action::Remove(p) => remove(&mut out, p),
            Action::Add(p, v) => {
                let new = match (get(&out, p), v) {
                    (None, v @ (AttributeValue::N(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_))) => v.clone(),
                    (Some(AttributeValue::N(a)), AttributeValue::N(b)) => match (Number::parse(a), Number::parse(b)) {
                        (Some(a), Some(b)) => AttributeValue::N(a.add(b, false).text()),
                        _ => return invalid("A value provided cannot be converted into a number"),
                    },
                    (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                        let mut s = a.clone();
                        s.extend(b.iter().filter(|x| !a.contains(x)).cloned());
                        AttributeValue::Ss(s)
                    }
                    _ => {
                        return invalid(
                            "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD",
                        );
                    }
                };
                put(&mut out, p, new)?;
            }
            Action::Delete(p, v) => match (get(&out, p), v) {
                (None, _) => {}
                (Some(AttributeValue::Ss(a)), AttributeValue::Ss(b)) => {
                    let left: Vec<String> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
                    if left.is_empty() { remove(&mut out, p) } else { put(&mut out, p, AttributeValue::Ss(left))? }
                }
                _ => {
                    return invalid(
                        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE",
                    );
                }
            },
        }
    }
    Ok(out)
}

fn put(item: &mut Item, path: &Path, v: AttributeValue) -> Result<(), ExprError> {
    let Step::Name(first) = &path[0] else { return invalid("a path starts with a name") };
    if path.len() == 1 {
        item.insert(first.clone(), v);
        return Ok(());
    }
    let Some(mut at) = item.get_mut(first) else {
        return invalid("The document path provided in the update expression is invalid for update");
    };
    for step in &path[1..path.len() - 1] {
        at = match (step, at) {
            (Step::Name(n), AttributeValue::M(m)) => m.get_mut(n),
            (Step::Index(i), AttributeValue::L(l)) => l.get_mut(*i),
            _ => None,
        }
        .ok_or_else(|| ExprError("The document path provided in the update expression is invalid for update".into()))?;
    }
    match (path.last().expect("a path of two steps or more"), at) {
        (Step::Name(n), AttributeValue::M(m)) => {
            m.insert(n.clone(), v);
        }
        (Step::Index(i), AttributeValue::L(l)) => {
            if *i < l.len() {
                l[*i] = v
            } else {
                l.push(v)
            }
        }
        _ => return invalid("The document path provided in the update expression is invalid for update"),
    }
    Ok(())
}

fn remove(item: &mut Item, path: &Path) {
    let Step::Name(first) = &path[0] else { return };
    if path.len() == 1 {
        item.remove(first);
        return;
    }
    let mut at = item.get_mut(first);
    for step in &path[1..path.len() - 1] {
        at = match (step, at) {
            (Step::Name(n), Some(AttributeValue::M(m))) => m.get_mut(n),
            (Step::Index(i), Some(AttributeValue::L(l))) => l.get_mut(*i),
            _ => None,
        };
    }
    match (path.last(), at) {
        (Some(Step::Name(n)), Some(AttributeValue::M(m))) => {
            m.remove(n);
        }
        (Some(Step::Index(i)), Some(AttributeValue::L(l))) if *i < l.len() => {
            l.remove(*i);
        }
        _ => {}
    }
}

/// The attribute names at the top of the paths an update writes.
pub fn written(actions: &[Action]) -> impl Iterator<Item = &str> {
    actions.iter().filter_map(|a| match a {
        Action::Set(p, _) | Action::Remove(p) | Action::Add(p, _) | Action::Delete(p, _) => match &p[0] {
            Step::Name(n) => Some(n.as_str()),
            Step::Index(_) => None,
        },
    })
}
