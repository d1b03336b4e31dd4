//! Parsing: an expression's text, with the request's placeholders, into the tree of [`super::ast`]
//! (`Cond`, `Action`s); a placeholder missing or left unused, a reserved word used as a name, a
//! path set twice are refused here.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;

use super::ast::{Action, Cmp, Cond, ExprError, Operand, Path, Step, invalid};

/// Whether `word` is one of DynamoDB's reserved words (case does not matter).
pub fn reserved(word: &str) -> bool {
    static WORDS: std::sync::LazyLock<HashSet<&'static str>> = std::sync::LazyLock::new(|| {
        include_str!("../reserved.txt").lines().filter(|l| !l.starts_with('#') && !l.is_empty()).collect()
    });
    WORDS.contains(word.to_ascii_uppercase().as_str())
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
