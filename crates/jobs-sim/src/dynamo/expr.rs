//! DynamoDB's expression language, parsed and evaluated as DynamoDB does: condition (and key
//! condition, filter) expressions and update expressions over `#name` and `:value` placeholders.
//! Whatever DynamoDB refuses (a placeholder not given, one given and not used, a path set twice,
//! arithmetic on a missing attribute or a non-number) is refused with its message's gist.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;

use super::value::{self, Number};

/// An item: its attributes by name.
pub type Item = HashMap<String, AttributeValue>;

/// Why an expression cannot be used (DynamoDB's `ValidationException`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExprError(pub String);

/// Whether `word` is one of DynamoDB's reserved words (case does not matter).
pub fn reserved(word: &str) -> bool {
    static WORDS: std::sync::LazyLock<HashSet<&'static str>> = std::sync::LazyLock::new(|| {
        include_str!("reserved.txt").lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect()
    });
    WORDS.contains(word.to_ascii_uppercase().as_str())
}

fn invalid<T>(message: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError(message.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Name(String),
    Value(String),
    Open,
    Close,
    Comma,
    Dot,
    Index(usize),
    Cmp(Cmp),
    Plus,
    Minus,
}

/// A comparator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

fn tokens(text: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && (chars[*i].is_alphanumeric() || chars[*i] == '_') {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' | '.' | '+' | '-' => {
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    ',' => Token::Comma,
                    '.' => Token::Dot,
                    '+' => Token::Plus,
                    _ => Token::Minus,
                });
                i += 1;
            }
            '#' | ':' => {
                i += 1;
                let w = word(&mut i);
                if w.is_empty() {
                    return invalid(format!("Invalid expression: a placeholder without a name near char {i}"));
                }
                out.push(if c == '#' { Token::Name(format!("#{w}")) } else { Token::Value(format!(":{w}")) });
            }
            '[' => {
                let end = chars[i..].iter().position(|&c| c == ']').map(|p| p + i);
                let index = end.and_then(|e| chars[i + 1..e].iter().collect::<String>().parse().ok());
                match (end, index) {
                    (Some(e), Some(n)) => {
                        out.push(Token::Index(n));
                        i = e + 1;
                    }
                    _ => return invalid("Invalid expression: a list index must be a number in []"),
                }
            }
            '=' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (cmp, len) = match (c, next) {
                    ('<', Some('>')) => (Cmp::Ne, 2),
                    ('<', Some('=')) => (Cmp::Le, 2),
                    ('>', Some('=')) => (Cmp::Ge, 2),
                    ('<', _) => (Cmp::Lt, 1),
                    ('>', _) => (Cmp::Gt, 1),
                    _ => (Cmp::Eq, 1),
                };
                out.push(Token::Cmp(cmp));
                i += len;
            }
            c if c.is_alphanumeric() || c == '_' => out.push(Token::Word(word(&mut i))),
            other => return invalid(format!("Invalid expression: unexpected character {other:?}")),
        }
    }
    Ok(out)
}

/// A document path: an attribute, its map members and list elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Name(String),
    Index(usize),
}

pub type Path = Vec<Step>;

/// A value in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(AttributeValue),
    Size(Path),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
    Arith(Box<Operand>, bool, Box<Operand>),
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Compare(Operand, Cmp, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path, bool),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    Type(Path, Operand),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

/// One action of an update expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Set(Path, Operand),
    Remove(Path),
    Add(Path, AttributeValue),
    Delete(Path, AttributeValue),
}

/// The placeholders of a request and which of them its expressions used (DynamoDB refuses a
/// request that gives one it does not use).
pub struct Placeholders<'a> {
    names: &'a HashMap<String, String>,
    values: &'a HashMap<String, AttributeValue>,
    used_names: HashSet<String>,
    used_values: HashSet<String>,
}

impl<'a> Placeholders<'a> {
    pub fn new(names: &'a HashMap<String, String>, values: &'a HashMap<String, AttributeValue>) -> Self {
        Placeholders { names, values, used_names: HashSet::new(), used_values: HashSet::new() }
    }

    /// After every expression of the request was parsed: all given placeholders were used.
    pub fn all_used(&self) -> Result<(), ExprError> {
        let mut unused: Vec<&String> = self.names.keys().filter(|k| !self.used_names.contains(*k)).collect();
        unused.sort();
        if !unused.is_empty() {
            return invalid(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {unused:?}"
            ));
        }
        let mut unused: Vec<&String> = self.values.keys().filter(|k| !self.used_values.contains(*k)).collect();
        unused.sort();
        if !unused.is_empty() {
            return invalid(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {unused:?}"
            ));
        }
        Ok(())
    }
}

struct Parser<'p, 'a> {
    tokens: Vec<Token>,
    at: usize,
    ph: &'p mut Placeholders<'a>,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, token: Token) -> Result<(), ExprError> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            other => invalid(format!("Invalid expression: expected {token:?}, found {other:?}")),
        }
    }

    fn value(&mut self, name: &str) -> Result<AttributeValue, ExprError> {
        match self.ph.values.get(name) {
            Some(v) => {
                self.ph.used_values.insert(name.to_owned());
                Ok(v.clone())
            }
            None => invalid(format!(
                "An expression attribute value used in expression is not defined; attribute value: {name}"
            )),
        }
    }

    fn path(&mut self) -> Result<Path, ExprError> {
        let mut path = vec![self.name()?];
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.at += 1;
                    path.push(self.name()?);
                }
                Some(Token::Index(n)) => {
                    let n = *n;
                    self.at += 1;
                    path.push(Step::Index(n));
                }
                _ => return Ok(path),
            }
        }
    }

    fn name(&mut self) -> Result<Step, ExprError> {
        match self.next() {
            Some(Token::Name(alias)) => match self.ph.names.get(&alias) {
                Some(real) => {
                    self.ph.used_names.insert(alias);
                    Ok(Step::Name(real.clone()))
                }
                None => invalid(format!(
                    "An expression attribute name used in the document path is not defined; attribute name: {alias}"
                )),
            },
            Some(Token::Word(w)) if reserved(&w) => {
                invalid(format!("Invalid expression: Attribute name is a reserved keyword; reserved keyword: {w}"))
            }
            Some(Token::Word(w)) => Ok(Step::Name(w)),
            other => invalid(format!("Invalid expression: expected an attribute name, found {other:?}")),
        }
    }

    /// operand := path | :value | function(…), then `+`/`-` operand (update expressions only).
    fn operand(&mut self, arithmetic: bool) -> Result<Operand, ExprError> {
        let first = self.single()?;
        if arithmetic && matches!(self.peek(), Some(Token::Plus | Token::Minus)) {
            let minus = self.next() == Some(Token::Minus);
            let second = self.single()?;
            return Ok(Operand::Arith(Box::new(first), minus, Box::new(second)));
        }
        Ok(first)
    }

    fn single(&mut self) -> Result<Operand, ExprError> {
        match self.peek().cloned() {
            Some(Token::Value(v)) => {
                self.at += 1;
                Ok(Operand::Value(self.value(&v)?))
            }
            Some(Token::Word(w)) if self.tokens.get(self.at + 1) == Some(&Token::Open) => {
                self.at += 2;
                let op = match w.as_str() {
                    "size" => Operand::Size(self.path()?),
                    "if_not_exists" => {
                        let path = self.path()?;
                        self.expect(Token::Comma)?;
                        Operand::IfNotExists(path, Box::new(self.single()?))
                    }
                    "list_append" => {
                        let a = self.single()?;
                        self.expect(Token::Comma)?;
                        Operand::ListAppend(Box::new(a), Box::new(self.single()?))
                    }
                    other => return invalid(format!("Invalid function name; function: {other}")),
                };
                self.expect(Token::Close)?;
                Ok(op)
            }
            _ => Ok(Operand::Path(self.path()?)),
        }
    }

    fn or(&mut self) -> Result<Cond, ExprError> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            self.at += 1;
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, ExprError> {
        let mut left = self.not()?;
        while self.keyword("AND") {
            self.at += 1;
            left = Cond::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, ExprError> {
        if self.keyword("NOT") {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, ExprError> {
        if self.peek() == Some(&Token::Open) {
            self.at += 1;
            let c = self.or()?;
            self.expect(Token::Close)?;
            return Ok(c);
        }
        if let Some(Token::Word(w)) = self.peek().cloned()
            && self.tokens.get(self.at + 1) == Some(&Token::Open)
            && w != "size"
        {
            self.at += 2;
            let c = match w.as_str() {
                "attribute_exists" | "attribute_not_exists" => Cond::Exists(self.path()?, w == "attribute_exists"),
                "begins_with" | "contains" => {
                    let a = self.single()?;
                    self.expect(Token::Comma)?;
                    let b = self.single()?;
                    if w == "contains" { Cond::Contains(a, b) } else { Cond::BeginsWith(a, b) }
                }
                "attribute_type" => {
                    let p = self.path()?;
                    self.expect(Token::Comma)?;
                    Cond::Type(p, self.single()?)
                }
                other => return invalid(format!("Invalid function name; function: {other}")),
            };
            self.expect(Token::Close)?;
            return Ok(c);
        }
        let left = self.single()?;
        if self.keyword("BETWEEN") {
            self.at += 1;
            let low = self.single()?;
            if !self.keyword("AND") {
                return invalid("Invalid expression: BETWEEN needs AND");
            }
            self.at += 1;
            return Ok(Cond::Between(left, low, self.single()?));
        }
        if self.keyword("IN") {
            self.at += 1;
            self.expect(Token::Open)?;
            let mut list = vec![self.single()?];
            while self.peek() == Some(&Token::Comma) {
                self.at += 1;
                list.push(self.single()?);
            }
            self.expect(Token::Close)?;
            return Ok(Cond::In(left, list));
        }
        match self.next() {
            Some(Token::Cmp(cmp)) => Ok(Cond::Compare(left, cmp, self.single()?)),
            other => invalid(format!("Invalid expression: expected a comparator, found {other:?}")),
        }
    }

    fn done(&self) -> Result<(), ExprError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => invalid(format!("Invalid expression: unexpected {t:?}")),
        }
    }
}

/// Parses a condition (also a key condition or a filter).
pub fn condition(text: &str, ph: &mut Placeholders) -> Result<Cond, ExprError> {
    if text.trim().is_empty() {
        return invalid("Invalid expression: The expression can not be empty;");
    }
    let mut p = Parser { tokens: tokens(text)?, at: 0, ph };
    let c = p.or()?;
    p.done()?;
    Ok(c)
}

/// Parses an update expression: `SET`, `REMOVE`, `ADD`, `DELETE` clauses, each at most once,
/// no two actions on overlapping paths.
pub fn update(text: &str, ph: &mut Placeholders) -> Result<Vec<Action>, ExprError> {
    let mut p = Parser { tokens: tokens(text)?, at: 0, ph };
    let mut actions = Vec::new();
    let mut clauses = HashSet::new();
    while let Some(Token::Word(w)) = p.peek().cloned() {
        let clause = w.to_ascii_uppercase();
        if !clauses.insert(clause.clone()) {
            return invalid(format!(
                "Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression;"
            ));
        }
        p.at += 1;
        loop {
            let path = p.path()?;
            actions.push(match clause.as_str() {
                "SET" => {
                    p.expect(Token::Cmp(Cmp::Eq))?;
                    Action::Set(path, p.operand(true)?)
                }
                "REMOVE" => Action::Remove(path),
                "ADD" | "DELETE" => {
                    let Some(Token::Value(v)) = p.next() else {
                        return invalid(format!("Invalid UpdateExpression: {clause} takes a value placeholder"));
                    };
                    let v = p.value(&v)?;
                    if clause == "ADD" { Action::Add(path, v) } else { Action::Delete(path, v) }
                }
                other => return invalid(format!("Invalid UpdateExpression: unknown clause {other}")),
            });
            if p.peek() == Some(&Token::Comma) {
                p.at += 1;
            } else {
                break;
            }
        }
    }
    p.done()?;
    if actions.is_empty() {
        return invalid("Invalid UpdateExpression: The expression can not be empty;");
    }
    let paths: Vec<&Path> = actions
        .iter()
        .map(|a| match a {
            Action::Set(p, _) | Action::Remove(p) | Action::Add(p, _) | Action::Delete(p, _) => p,
        })
        .collect();
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            if a.starts_with(b) || b.starts_with(a) {
                return invalid(
                    "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths",
                );
            }
        }
    }
    Ok(actions)
}

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
