//! Builds DynamoDB update and condition expressions with every attribute name aliased (several,
//! like `status`, are reserved words).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

#[derive(Default)]
pub struct Expr {
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
    set: Vec<String>,
    remove: Vec<String>,
    cond: Vec<String>,
}

impl Expr {
    pub fn name(&mut self, attr: &str) -> String {
        let alias = format!("#{attr}");
        self.names.insert(alias.clone(), attr.to_owned());
        alias
    }

    pub fn value(&mut self, v: AttributeValue) -> String {
        let alias = format!(":v{}", self.values.len());
        self.values.insert(alias.clone(), v);
        alias
    }

    pub fn set(&mut self, attr: &str, v: AttributeValue) {
        let (name, value) = (self.name(attr), self.value(v));
        self.set.push(format!("{name} = {value}"));
    }

    /// `Some` sets the attribute, `None` removes it.
    pub fn set_or_remove(&mut self, attr: &str, v: Option<AttributeValue>) {
        match v {
            Some(v) => self.set(attr, v),
            None => {
                let name = self.name(attr);
                if !self.remove.contains(&name) {
                    self.remove.push(name);
                }
            }
        }
    }

    /// Appends `v` (a list) to the list attribute `attr`, creating it if missing.
    pub fn append(&mut self, attr: &str, v: AttributeValue) {
        let (name, value, empty) = (self.name(attr), self.value(v), self.value(AttributeValue::L(Vec::new())));
        self.set.push(format!("{name} = list_append(if_not_exists({name}, {empty}), {value})"));
    }

    /// An assignment written out, using `name`/`value` aliases made beforehand.
    pub fn set_raw(&mut self, assignment: String) {
        self.set.push(assignment);
    }

    /// Adds one to the number attribute `attr` (zero when missing).
    pub fn increment(&mut self, attr: &str) {
        let (name, one, zero) =
            (self.name(attr), self.value(AttributeValue::N("1".into())), self.value(AttributeValue::N("0".into())));
        self.set.push(format!("{name} = if_not_exists({name}, {zero}) + {one}"));
    }

    pub fn require(&mut self, attr: &str, op: &str, v: AttributeValue) {
        let (name, value) = (self.name(attr), self.value(v));
        self.cond.push(format!("{name} {op} {value}"));
    }

    /// A condition written out, using `name`/`value` aliases made beforehand.
    pub fn require_raw(&mut self, condition: String) {
        self.cond.push(condition);
    }

    pub fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        if !self.set.is_empty() {
            parts.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            parts.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        parts.join(" ")
    }

    pub fn condition_expression(&self) -> Option<String> {
        (!self.cond.is_empty()).then(|| self.cond.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_every_name_and_value() {
        let mut e = Expr::default();
        e.set("status", AttributeValue::S("RUNNING".into()));
        e.set_or_remove("leaseOwner", None);
        e.set_or_remove("leaseOwner", None);
        e.append("receipts", AttributeValue::L(vec![]));
        e.require("attempts", "=", AttributeValue::N("2".into()));
        assert_eq!(
            e.update_expression(),
            "SET #status = :v0, #receipts = list_append(if_not_exists(#receipts, :v2), :v1) REMOVE #leaseOwner"
        );
        assert_eq!(e.condition_expression().as_deref(), Some("#attempts = :v3"));
        assert_eq!(e.names.len(), 4);
        assert_eq!(Expr::default().condition_expression(), None);
    }
}
