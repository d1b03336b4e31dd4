//! What DynamoDB does with one attribute value: compare (numbers as numbers, strings and binary by
//! bytes, other types never), add and subtract numbers, measure (`size`), name its type, and order
//! key values as an index sorts them.

use std::cmp::Ordering;

use aws_sdk_dynamodb::types::AttributeValue;

/// A number as DynamoDB holds it, exact for the integers the code writes (counters, epoch
/// seconds and milliseconds); other decimals are compared and added as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    Int(i128),
    Float(f64),
}

impl Number {
    pub(crate) fn parse(text: &str) -> Option<Number> {
        let t = text.trim();
        if let Ok(i) = t.parse::<i128>() {
            return Some(Number::Int(i));
        }
        t.parse::<f64>().ok().filter(|f| f.is_finite()).map(Number::Float)
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }

    pub(crate) fn cmp(self, other: Number) -> Ordering {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a.cmp(&b),
            (a, b) => a.as_f64().total_cmp(&b.as_f64()),
        }
    }

    pub(crate) fn add(self, other: Number, negate: bool) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Number::Int(if negate { a - b } else { a + b }),
            (a, b) => Number::Float(if negate { a.as_f64() - b.as_f64() } else { a.as_f64() + b.as_f64() }),
        }
    }

    pub(crate) fn text(self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) => f.to_string(),
        }
    }
}

/// `a` against `b` for `<`, `<=`, `>`, `>=`, `=`: `None` when DynamoDB does not compare them
/// (different types, or types without an order): the comparison is false.
pub(crate) fn compare(a: &AttributeValue, b: &AttributeValue) -> Option<Ordering> {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => Some(Number::parse(x)?.cmp(Number::parse(y)?)),
        (AttributeValue::S(x), AttributeValue::S(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (AttributeValue::B(x), AttributeValue::B(y)) => Some(x.as_ref().cmp(y.as_ref())),
        _ => None,
    }
}

/// `a = b`: same type and same value (numbers by value, sets in any order, maps and lists deeply).
pub(crate) fn equal(a: &AttributeValue, b: &AttributeValue) -> bool {
    match (a, b) {
        (AttributeValue::N(x), AttributeValue::N(y)) => {
            matches!((Number::parse(x), Number::parse(y)), (Some(x), Some(y)) if x.cmp(y) == Ordering::Equal)
        }
        (AttributeValue::Ns(x), AttributeValue::Ns(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|v| y.iter().any(|w| equal(&AttributeValue::N(v.clone()), &AttributeValue::N(w.clone()))))
        }
        (AttributeValue::Ss(x), AttributeValue::Ss(y)) => x.len() == y.len() && x.iter().all(|v| y.contains(v)),
        (AttributeValue::L(x), AttributeValue::L(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| equal(v, w)),
        (AttributeValue::M(x), AttributeValue::M(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
        }
        _ => a == b,
    }
}

/// DynamoDB's type name (`attribute_type`).
pub(crate) fn type_name(v: &AttributeValue) -> &'static str {
    match v {
        AttributeValue::S(_) => "S",
        AttributeValue::N(_) => "N",
        AttributeValue::B(_) => "B",
        AttributeValue::Bool(_) => "BOOL",
        AttributeValue::Null(_) => "NULL",
        AttributeValue::L(_) => "L",
        AttributeValue::M(_) => "M",
        AttributeValue::Ss(_) => "SS",
        AttributeValue::Ns(_) => "NS",
        AttributeValue::Bs(_) => "BS",
        _ => "?",
    }
}

/// `size(path)`: a string's length in bytes, a binary's, the elements of a set, list or map.
pub(crate) fn size(v: &AttributeValue) -> Option<usize> {
    Some(match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::L(l) => l.len(),
        AttributeValue::M(m) => m.len(),
        AttributeValue::Ss(s) => s.len(),
        AttributeValue::Ns(s) => s.len(),
        AttributeValue::Bs(s) => s.len(),
        _ => return None,
    })
}

/// The bytes an item counts against DynamoDB's 400 KB limit: each attribute's name and value
/// (numbers about one byte per two digits, plus one).
pub(crate) fn item_size<'a>(item: impl IntoIterator<Item = (&'a String, &'a AttributeValue)>) -> usize {
    item.into_iter().map(|(name, v)| name.len() + value_size(v)).sum()
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(s) => s.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(s) => s.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// A key value as an index orders it (numbers by value, strings and binary by bytes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyValue(pub AttributeValue);

impl Eq for KeyValue {}

impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyValue {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0).unwrap_or_else(|| type_name(&self.0).cmp(type_name(&other.0)))
    }
}

/// A key attribute's value is a string, a number or a binary (and a string or binary not empty).
pub(crate) fn valid_key(v: &AttributeValue) -> bool {
    match v {
        AttributeValue::S(s) => !s.is_empty(),
        AttributeValue::N(n) => Number::parse(n).is_some(),
        AttributeValue::B(b) => !b.as_ref().is_empty(),
        _ => false,
    }
}
