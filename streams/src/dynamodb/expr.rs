//! DynamoDB's expressions: condition (and key condition and filter) expressions, update
//! expressions and projections — parsed with the request's `ExpressionAttributeNames` and
//! `ExpressionAttributeValues` resolved, then evaluated against an item.
//!
//! Conditions: `=`, `<>`, `<`, `<=`, `>`, `>=`, `BETWEEN … AND …`, `IN (…)`, `AND`, `OR`,
//! `NOT`, parentheses, and the functions `attribute_exists`, `attribute_not_exists`,
//! `attribute_type`, `begins_with`, `contains`, `size`. Updates: `SET` (with `+`, `-`,
//! `if_not_exists`, `list_append`), `REMOVE`, `ADD`, `DELETE`, each clause at most once.
//! Paths are names (or `#placeholders`) with `.member` and `[index]`. Every operand is
//! evaluated against the item as it was before the update, as DynamoDB does.

use super::value::{Item, Number, Value};
use crate::error::StreamError;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::LazyLock;

fn invalid(message: impl Into<String>) -> StreamError {
    StreamError::validation(message)
}

/// DynamoDB's reserved words, which an expression may use as attribute names only through an
/// `ExpressionAttributeNames` placeholder (the list is not case-sensitive).
static RESERVED_WORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("reserved_words.txt")
        .split_ascii_whitespace()
        .collect()
});

fn is_reserved(word: &str) -> bool {
    RESERVED_WORDS.contains(word.to_ascii_uppercase().as_str())
}

/// Names the expression a message is about, as DynamoDB does: `Invalid UpdateExpression: …`.
fn in_field<T>(field: &str, result: Result<T, StreamError>) -> Result<T, StreamError> {
    result.map_err(|mut e| {
        if let Some(rest) = e.message.strip_prefix("Invalid expression: ") {
            e.message = format!("Invalid {field}: {rest}");
        }
        e
    })
}

/// One step of a document path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Name(String),
    Index(usize),
}

/// A document path: `a.b[2].c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<Step>);

impl Path {
    /// The top-level attribute the path starts at.
    pub fn root(&self) -> &str {
        match self.0.first() {
            Some(Step::Name(n)) => n,
            _ => "",
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        for step in &self.0 {
            match step {
                Step::Name(n) if out.is_empty() => out.push_str(n),
                Step::Name(n) => {
                    out.push('.');
                    out.push_str(n);
                }
                Step::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }

    /// The value at the path, if there is one.
    pub fn get<'a>(&self, item: &'a Item) -> Option<&'a Value> {
        let mut steps = self.0.iter();
        let Some(Step::Name(first)) = steps.next() else {
            return None;
        };
        let mut at = item.get(first)?;
        for step in steps {
            at = match (step, at) {
                (Step::Name(n), Value::M(m)) => m.get(n)?,
                (Step::Index(i), Value::L(l)) => l.get(*i)?,
                _ => return None,
            };
        }
        Some(at)
    }
}

/// An operand of a condition or a `SET` action.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Path),
    Value(Value),
    Size(Path),
    IfNotExists(Path, Box<Operand>),
    ListAppend(Box<Operand>, Box<Operand>),
    Plus(Box<Operand>, Box<Operand>),
    Minus(Box<Operand>, Box<Operand>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare(Operand, Comparator, Operand),
    Between(Operand, Operand, Operand),
    In(Operand, Vec<Operand>),
    Exists(Path),
    NotExists(Path),
    Type(Path, Operand),
    BeginsWith(Operand, Operand),
    Contains(Operand, Operand),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
}

/// An update expression's actions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    pub set: Vec<(Path, Operand)>,
    pub remove: Vec<Path>,
    pub add: Vec<(Path, Operand)>,
    pub delete: Vec<(Path, Operand)>,
}

impl Update {
    /// Every path the update writes.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.set
            .iter()
            .map(|(p, _)| p)
            .chain(&self.remove)
            .chain(self.add.iter().map(|(p, _)| p))
            .chain(self.delete.iter().map(|(p, _)| p))
    }
}

/// The placeholders of a request, and which of them its expressions used (DynamoDB refuses
/// a request that defines one no expression uses).
#[derive(Debug, Default)]
pub struct Placeholders {
    pub names: BTreeMap<String, String>,
    pub values: BTreeMap<String, Value>,
    used_names: BTreeSet<String>,
    used_values: BTreeSet<String>,
}

impl Placeholders {
    pub fn new(names: BTreeMap<String, String>, values: BTreeMap<String, Value>) -> Self {
        Self {
            names,
            values,
            ..Default::default()
        }
    }

    /// Refuses placeholders no expression used, as DynamoDB does.
    pub fn check_all_used(&self) -> Result<(), StreamError> {
        let unused: Vec<&String> = self
            .names
            .keys()
            .filter(|k| !self.used_names.contains(*k))
            .collect();
        if !unused.is_empty() {
            return Err(invalid(format!(
                "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{}}}",
                unused
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let unused: Vec<&String> = self
            .values
            .keys()
            .filter(|k| !self.used_values.contains(*k))
            .collect();
        if !unused.is_empty() {
            return Err(invalid(format!(
                "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{}}}",
                unused
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Name(String),
    Value(String),
    Number(usize),
    Symbol(&'static str),
}

fn tokens(text: &str) -> Result<Vec<Token>, StreamError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let two = text.get(i..i + 2);
        if let Some(sym) = ["<>", "<=", ">="].into_iter().find(|s| two == Some(*s)) {
            out.push(Token::Symbol(sym));
            i += 2;
            continue;
        }
        if let Some(sym) = ["=", "<", ">", "(", ")", "[", "]", ",", ".", "+", "-"]
            .into_iter()
            .find(|s| s.as_bytes()[0] == b)
        {
            out.push(Token::Symbol(sym));
            i += 1;
            continue;
        }
        let start = i;
        if b == b'#' || b == b':' {
            i += 1;
            while i < bytes.len() && word(bytes[i]) {
                i += 1;
            }
            if i == start + 1 {
                return Err(invalid(format!(
                    "Invalid expression: a placeholder needs a name at position {start}"
                )));
            }
            let name = text[start..i].to_owned();
            out.push(if b == b'#' {
                Token::Name(name)
            } else {
                Token::Value(name)
            });
            continue;
        }
        if word(b) {
            while i < bytes.len() && word(bytes[i]) {
                i += 1;
            }
            let w = &text[start..i];
            if w.bytes().all(|c| c.is_ascii_digit()) {
                let n = w
                    .parse()
                    .map_err(|_| invalid(format!("Invalid expression: index {w} is too large")))?;
                out.push(Token::Number(n));
            } else {
                out.push(Token::Word(w.to_owned()));
            }
            continue;
        }
        return Err(invalid(format!(
            "Invalid expression: Syntax error; token: \"{}\", near: \"{}\"",
            text[i..].chars().next().unwrap_or(' '),
            &text[start..text.len().min(start + 10)]
        )));
    }
    Ok(out)
}

/// Deepest nesting a parser follows (a hostile expression cannot exhaust the stack).
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    placeholders: &'a mut Placeholders,
    depth: usize,
    /// The first reserved word used as an attribute name: refused once the whole expression
    /// has parsed, since DynamoDB reports a syntax error before a reserved word.
    reserved: Option<String>,
}

impl<'a> Parser<'a> {
    fn new(text: &str, placeholders: &'a mut Placeholders) -> Result<Self, StreamError> {
        if text.trim().is_empty() {
            return Err(invalid(
                "Invalid expression: The expression can not be empty;",
            ));
        }
        if text.len() > 4096 {
            return Err(invalid(
                "Invalid expression: The expression is longer than 4 KB",
            ));
        }
        Ok(Self {
            tokens: tokens(text)?,
            at: 0,
            placeholders,
            depth: 0,
            reserved: None,
        })
    }

    /// Refuses the expression if it used a reserved word as an attribute name.
    fn check_reserved(&self) -> Result<(), StreamError> {
        match &self.reserved {
            Some(word) => Err(invalid(format!(
                "Invalid expression: Attribute name is a reserved keyword; reserved keyword: {word}"
            ))),
            None => Ok(()),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn is_symbol(&self, symbol: &str) -> bool {
        matches!(self.peek(), Some(Token::Symbol(s)) if *s == symbol)
    }

    fn expect_symbol(&mut self, symbol: &str) -> Result<(), StreamError> {
        if self.is_symbol(symbol) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {symbol}")))
        }
    }

    fn error(&self, what: &str) -> StreamError {
        let near = match self.peek() {
            Some(Token::Word(w) | Token::Name(w) | Token::Value(w)) => w.clone(),
            Some(Token::Number(n)) => n.to_string(),
            Some(Token::Symbol(s)) => (*s).to_owned(),
            None => "<end>".into(),
        };
        invalid(format!(
            "Invalid expression: Syntax error; {what}; near: \"{near}\""
        ))
    }

    fn end(&self) -> Result<(), StreamError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("unexpected token")),
        }
    }

    fn deeper(&mut self) -> Result<(), StreamError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid(
                "Invalid expression: The expression is nested too deeply",
            ));
        }
        Ok(())
    }

    fn name(&mut self, token: Token) -> Result<String, StreamError> {
        match token {
            Token::Word(w) => {
                if self.reserved.is_none() && is_reserved(&w) {
                    self.reserved = Some(w.clone());
                }
                Ok(w)
            }
            Token::Name(n) => {
                let resolved = self.placeholders.names.get(&n).cloned().ok_or_else(|| {
                    invalid(format!(
                        "Invalid expression: An expression attribute name used in the document path is not defined; attribute name: {n}"
                    ))
                })?;
                self.placeholders.used_names.insert(n);
                Ok(resolved)
            }
            _ => Err(self.error("expected an attribute name")),
        }
    }

    fn path(&mut self) -> Result<Path, StreamError> {
        let first = self.next().ok_or_else(|| self.error("expected a path"))?;
        let mut steps = vec![Step::Name(self.name(first)?)];
        loop {
            if self.is_symbol(".") {
                self.at += 1;
                let t = self
                    .next()
                    .ok_or_else(|| self.error("expected a name after ."))?;
                steps.push(Step::Name(self.name(t)?));
            } else if self.is_symbol("[") {
                self.at += 1;
                match self.next() {
                    Some(Token::Number(n)) => steps.push(Step::Index(n)),
                    _ => return Err(self.error("expected a list index")),
                }
                self.expect_symbol("]")?;
            } else {
                return Ok(Path(steps));
            }
        }
    }

    fn value(&mut self, name: String) -> Result<Value, StreamError> {
        let v = self.placeholders.values.get(&name).cloned().ok_or_else(|| {
            invalid(format!(
                "Invalid expression: An expression attribute value used in expression is not defined; attribute value: {name}"
            ))
        })?;
        self.placeholders.used_values.insert(name);
        Ok(v)
    }

    fn function_args(&mut self) -> Result<Vec<Operand>, StreamError> {
        self.expect_symbol("(")?;
        let mut args = vec![self.operand()?];
        while self.is_symbol(",") {
            self.at += 1;
            args.push(self.operand()?);
        }
        self.expect_symbol(")")?;
        Ok(args)
    }

    /// A plain operand: a path, a value, or a function call that yields a value.
    fn operand(&mut self) -> Result<Operand, StreamError> {
        self.deeper()?;
        let operand = match self.peek().cloned() {
            Some(Token::Value(v)) => {
                self.at += 1;
                Operand::Value(self.value(v)?)
            }
            Some(Token::Word(w)) if self.tokens.get(self.at + 1) == Some(&Token::Symbol("(")) => {
                self.at += 1;
                let args = self.function_args()?;
                let lower = w.to_ascii_lowercase();
                match (lower.as_str(), args.as_slice()) {
                    ("size", [Operand::Path(p)]) => Operand::Size(p.clone()),
                    ("if_not_exists", [Operand::Path(p), v]) => {
                        Operand::IfNotExists(p.clone(), Box::new(v.clone()))
                    }
                    ("list_append", [a, b]) => {
                        Operand::ListAppend(Box::new(a.clone()), Box::new(b.clone()))
                    }
                    _ => {
                        return Err(invalid(format!(
                            "Invalid expression: Invalid function name or arguments; function: {w}"
                        )));
                    }
                }
            }
            Some(Token::Word(_) | Token::Name(_)) => Operand::Path(self.path()?),
            _ => return Err(self.error("expected an operand")),
        };
        self.depth -= 1;
        Ok(operand)
    }

    fn condition(&mut self) -> Result<Condition, StreamError> {
        self.deeper()?;
        let mut left = self.and()?;
        while self.is_word("OR") {
            self.at += 1;
            let right = self.and()?;
            left = Condition::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, StreamError> {
        let mut left = self.not()?;
        while self.is_word("AND") {
            self.at += 1;
            let right = self.not()?;
            left = Condition::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, StreamError> {
        if self.is_word("NOT") {
            self.at += 1;
            self.deeper()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Condition::Not(Box::new(inner)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Condition, StreamError> {
        if self.is_symbol("(") {
            self.at += 1;
            let inner = self.condition()?;
            self.expect_symbol(")")?;
            return Ok(inner);
        }
        // The functions that are conditions themselves.
        if let Some(Token::Word(w)) = self.peek().cloned()
            && self.tokens.get(self.at + 1) == Some(&Token::Symbol("("))
        {
            let lower = w.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "attribute_exists"
                    | "attribute_not_exists"
                    | "attribute_type"
                    | "begins_with"
                    | "contains"
            ) {
                self.at += 1;
                let args = self.function_args()?;
                return match (lower.as_str(), args.as_slice()) {
                    ("attribute_exists", [Operand::Path(p)]) => Ok(Condition::Exists(p.clone())),
                    ("attribute_not_exists", [Operand::Path(p)]) => {
                        Ok(Condition::NotExists(p.clone()))
                    }
                    ("attribute_type", [Operand::Path(p), t]) => {
                        Ok(Condition::Type(p.clone(), t.clone()))
                    }
                    ("begins_with", [a, b]) => Ok(Condition::BeginsWith(a.clone(), b.clone())),
                    ("contains", [a, b]) => Ok(Condition::Contains(a.clone(), b.clone())),
                    _ => Err(invalid(format!(
                        "Invalid expression: Incorrect number of operands for operator or function; operator or function: {w}"
                    ))),
                };
            }
        }
        let left = self.operand()?;
        if self.is_word("BETWEEN") {
            self.at += 1;
            let low = self.operand()?;
            if !self.is_word("AND") {
                return Err(self.error("expected AND in BETWEEN"));
            }
            self.at += 1;
            let high = self.operand()?;
            return Ok(Condition::Between(left, low, high));
        }
        if self.is_word("IN") {
            self.at += 1;
            let list = self.function_args()?;
            if list.len() > 100 {
                return Err(invalid("Invalid expression: IN takes at most 100 operands"));
            }
            return Ok(Condition::In(left, list));
        }
        let comparator = match self.next() {
            Some(Token::Symbol("=")) => Comparator::Eq,
            Some(Token::Symbol("<>")) => Comparator::Ne,
            Some(Token::Symbol("<")) => Comparator::Lt,
            Some(Token::Symbol("<=")) => Comparator::Le,
            Some(Token::Symbol(">")) => Comparator::Gt,
            Some(Token::Symbol(">=")) => Comparator::Ge,
            _ => {
                self.at -= 1;
                return Err(self.error("expected a comparison"));
            }
        };
        let right = self.operand()?;
        Ok(Condition::Compare(left, comparator, right))
    }

    /// A `SET` action's value: an operand, or two joined by `+` or `-`.
    fn set_value(&mut self) -> Result<Operand, StreamError> {
        let left = self.operand()?;
        if self.is_symbol("+") || self.is_symbol("-") {
            let plus = self.is_symbol("+");
            self.at += 1;
            let right = self.operand()?;
            return Ok(if plus {
                Operand::Plus(Box::new(left), Box::new(right))
            } else {
                Operand::Minus(Box::new(left), Box::new(right))
            });
        }
        Ok(left)
    }

    fn update(&mut self) -> Result<Update, StreamError> {
        let mut update = Update::default();
        let mut seen = BTreeSet::new();
        while let Some(token) = self.next() {
            let Token::Word(clause) = token else {
                self.at -= 1;
                return Err(self.error("expected SET, REMOVE, ADD or DELETE"));
            };
            let clause = clause.to_ascii_uppercase();
            if !seen.insert(clause.clone()) {
                return Err(invalid(format!(
                    "Invalid UpdateExpression: The \"{clause}\" section can only be used once in an update expression;"
                )));
            }
            loop {
                match clause.as_str() {
                    "SET" => {
                        let path = self.path()?;
                        self.expect_symbol("=")?;
                        update.set.push((path, self.set_value()?));
                    }
                    "REMOVE" => update.remove.push(self.path()?),
                    "ADD" => {
                        let path = self.path()?;
                        update.add.push((path, self.operand()?));
                    }
                    "DELETE" => {
                        let path = self.path()?;
                        update.delete.push((path, self.operand()?));
                    }
                    _ => {
                        self.at -= 1;
                        return Err(self.error("expected SET, REMOVE, ADD or DELETE"));
                    }
                }
                if self.is_symbol(",") {
                    self.at += 1;
                } else {
                    break;
                }
            }
        }
        let mut paths = BTreeSet::new();
        for path in update.paths() {
            let text = path.text();
            if let Some(other) = paths.iter().find(|p: &&String| {
                text == **p
                    || text.starts_with(&format!("{p}."))
                    || p.starts_with(&format!("{text}."))
                    || text.starts_with(&format!("{p}["))
                    || p.starts_with(&format!("{text}["))
            }) {
                return Err(invalid(format!(
                    "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [{other}], path two: [{text}]"
                )));
            }
            paths.insert(text);
        }
        Ok(update)
    }
}

/// Parses a condition: `field` is the request member it came in (`ConditionExpression`,
/// `FilterExpression`, `KeyConditionExpression`), named in its errors.
pub fn parse_condition(
    field: &str,
    text: &str,
    placeholders: &mut Placeholders,
) -> Result<Condition, StreamError> {
    in_field(field, {
        Parser::new(text, placeholders).and_then(|mut parser| {
            let condition = parser.condition()?;
            parser.end()?;
            parser.check_reserved()?;
            Ok(condition)
        })
    })
}

/// Parses an `UpdateExpression`.
pub fn parse_update(text: &str, placeholders: &mut Placeholders) -> Result<Update, StreamError> {
    in_field("UpdateExpression", {
        Parser::new(text, placeholders).and_then(|mut parser| {
            let update = parser.update()?;
            parser.check_reserved()?;
            Ok(update)
        })
    })
}

/// Parses a `ProjectionExpression`: paths separated by commas.
pub fn parse_projection(
    text: &str,
    placeholders: &mut Placeholders,
) -> Result<Vec<Path>, StreamError> {
    in_field("ProjectionExpression", {
        Parser::new(text, placeholders).and_then(|mut parser| {
            let mut paths = vec![parser.path()?];
            while parser.is_symbol(",") {
                parser.at += 1;
                paths.push(parser.path()?);
            }
            parser.end()?;
            parser.check_reserved()?;
            Ok(paths)
        })
    })
}

/// What an operand is worth against `item` (`None`: a path the item does not have).
fn evaluate(operand: &Operand, item: &Item) -> Result<Option<Value>, StreamError> {
    Ok(match operand {
        Operand::Path(p) => p.get(item).cloned(),
        Operand::Value(v) => Some(v.clone()),
        Operand::Size(p) => match p.get(item) {
            None => None,
            Some(v) => {
                let n = match v {
                    Value::S(s) => s.chars().count(),
                    Value::B(b) => b.len(),
                    Value::M(m) => m.len(),
                    Value::L(l) => l.len(),
                    Value::Ss(s) => s.len(),
                    Value::Ns(s) => s.len(),
                    Value::Bs(s) => s.len(),
                    other => {
                        return Err(invalid(format!(
                            "Invalid operand type for operator or function; operator or function: size, operand type: {}",
                            other.type_name()
                        )));
                    }
                };
                Some(Value::N(Number::parse(&n.to_string())?))
            }
        },
        Operand::IfNotExists(p, default) => match p.get(item) {
            Some(v) => Some(v.clone()),
            None => evaluate(default, item)?,
        },
        Operand::ListAppend(a, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            (Some(Value::L(mut a)), Some(Value::L(b))) => {
                a.extend(b);
                Some(Value::L(a))
            }
            _ => {
                return Err(invalid(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: list_append, operand type: not a list",
                ));
            }
        },
        Operand::Plus(a, b) | Operand::Minus(a, b) => {
            let minus = matches!(operand, Operand::Minus(..));
            match (evaluate(a, item)?, evaluate(b, item)?) {
                (Some(Value::N(a)), Some(Value::N(b))) => {
                    Some(Value::N(a.checked_add(if minus {
                        b.negate()
                    } else {
                        b
                    })?))
                }
                (None, _) | (_, None) => {
                    return Err(invalid(
                        "The provided expression refers to an attribute that does not exist in the item",
                    ));
                }
                _ => {
                    return Err(invalid(format!(
                        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: {}, operand type: not a number",
                        if minus { "-" } else { "+" }
                    )));
                }
            }
        }
    })
}

/// Whether `condition` holds for `item` (an absent item is an empty one).
pub fn holds(condition: &Condition, item: &Item) -> Result<bool, StreamError> {
    Ok(match condition {
        Condition::Compare(a, op, b) => {
            let (Some(a), Some(b)) = (evaluate(a, item)?, evaluate(b, item)?) else {
                return Ok(false);
            };
            match op {
                Comparator::Eq => a == b,
                Comparator::Ne => a != b,
                _ => match a.compare(&b) {
                    None => false,
                    Some(order) => match op {
                        Comparator::Lt => order == Ordering::Less,
                        Comparator::Le => order != Ordering::Greater,
                        Comparator::Gt => order == Ordering::Greater,
                        _ => order != Ordering::Less,
                    },
                },
            }
        }
        Condition::Between(x, low, high) => {
            match (
                evaluate(x, item)?,
                evaluate(low, item)?,
                evaluate(high, item)?,
            ) {
                (Some(x), Some(low), Some(high)) => {
                    if low.compare(&high) == Some(Ordering::Greater) {
                        return Err(invalid(
                            "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound",
                        ));
                    }
                    x.compare(&low).is_some_and(|o| o != Ordering::Less)
                        && x.compare(&high).is_some_and(|o| o != Ordering::Greater)
                }
                _ => false,
            }
        }
        Condition::In(x, list) => match evaluate(x, item)? {
            None => false,
            Some(x) => {
                let mut any = false;
                for candidate in list {
                    if evaluate(candidate, item)?.as_ref() == Some(&x) {
                        any = true;
                        break;
                    }
                }
                any
            }
        },
        Condition::Exists(p) => p.get(item).is_some(),
        Condition::NotExists(p) => p.get(item).is_none(),
        Condition::Type(p, t) => match (p.get(item), evaluate(t, item)?) {
            (Some(v), Some(Value::S(t))) => v.type_name() == t,
            (_, Some(Value::S(_))) => false,
            _ => {
                return Err(invalid(
                    "Invalid ConditionExpression: attribute_type takes a type name as a string",
                ));
            }
        },
        Condition::BeginsWith(a, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            (Some(Value::S(a)), Some(Value::S(b))) => a.starts_with(&b),
            (Some(Value::B(a)), Some(Value::B(b))) => a.starts_with(&b),
            _ => false,
        },
        Condition::Contains(a, b) => match (evaluate(a, item)?, evaluate(b, item)?) {
            (Some(Value::S(a)), Some(Value::S(b))) => a.contains(&b),
            (Some(Value::B(a)), Some(Value::B(b))) => {
                b.is_empty() || a.windows(b.len()).any(|w| w == b.as_slice())
            }
            (Some(Value::Ss(set)), Some(Value::S(b))) => set.contains(&b),
            (Some(Value::Ns(set)), Some(Value::N(b))) => set.contains(&b),
            (Some(Value::Bs(set)), Some(Value::B(b))) => set.contains(&b),
            (Some(Value::L(list)), Some(b)) => list.contains(&b),
            _ => false,
        },
        Condition::And(a, b) => holds(a, item)? && holds(b, item)?,
        Condition::Or(a, b) => holds(a, item)? || holds(b, item)?,
        Condition::Not(a) => !holds(a, item)?,
    })
}

fn bad_path(path: &Path) -> StreamError {
    invalid(format!(
        "The document path provided in the update expression is invalid for update: {}",
        path.text()
    ))
}

/// Writes `value` at `path` (the parent must exist; a list index past the end appends).
fn put(item: &mut Item, path: &Path, value: Value) -> Result<(), StreamError> {
    let (last, parents) = path.0.split_last().ok_or_else(|| bad_path(path))?;
    let Some((Step::Name(first), rest)) = parents.split_first() else {
        return match last {
            Step::Name(n) => {
                item.insert(n.clone(), value);
                Ok(())
            }
            Step::Index(_) => Err(bad_path(path)),
        };
    };
    let mut at = item.get_mut(first).ok_or_else(|| bad_path(path))?;
    for step in rest {
        at = match (step, at) {
            (Step::Name(n), Value::M(m)) => m.get_mut(n).ok_or_else(|| bad_path(path))?,
            (Step::Index(i), Value::L(l)) => l.get_mut(*i).ok_or_else(|| bad_path(path))?,
            _ => return Err(bad_path(path)),
        };
    }
    match (last, at) {
        (Step::Name(n), Value::M(m)) => {
            m.insert(n.clone(), value);
        }
        (Step::Index(i), Value::L(l)) => {
            if *i < l.len() {
                l[*i] = value;
            } else {
                l.push(value);
            }
        }
        _ => return Err(bad_path(path)),
    }
    Ok(())
}

/// Removes what `path` names; nothing if it is not there.
fn remove(item: &mut Item, path: &Path) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    if parents.is_empty() {
        if let Step::Name(n) = last {
            item.remove(n);
        }
        return;
    }
    let parent = Path(parents.to_vec());
    let Some(Step::Name(first)) = parent.0.first() else {
        return;
    };
    let Some(mut at) = item.get_mut(first) else {
        return;
    };
    for step in &parent.0[1..] {
        let next = match (step, at) {
            (Step::Name(n), Value::M(m)) => m.get_mut(n),
            (Step::Index(i), Value::L(l)) => l.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else { return };
        at = next;
    }
    match (last, at) {
        (Step::Name(n), Value::M(m)) => {
            m.remove(n);
        }
        (Step::Index(i), Value::L(l)) if *i < l.len() => {
            l.remove(*i);
        }
        _ => {}
    }
}

/// Applies `update` to `item`, every operand evaluated against the item as it was.
pub fn apply(update: &Update, item: &Item) -> Result<Item, StreamError> {
    let before = item;
    let mut after = item.clone();
    for (path, operand) in &update.set {
        let value = evaluate(operand, before)?.ok_or_else(|| {
            invalid(
                "The provided expression refers to an attribute that does not exist in the item",
            )
        })?;
        put(&mut after, path, value)?;
    }
    for (path, operand) in &update.add {
        let value = evaluate(operand, before)?.ok_or_else(|| bad_path(path))?;
        let merged = match (path.get(before), value) {
            (None, v @ (Value::N(_) | Value::Ss(_) | Value::Ns(_) | Value::Bs(_))) => v,
            (Some(Value::N(a)), Value::N(b)) => Value::N(a.checked_add(b)?),
            (Some(Value::Ss(a)), Value::Ss(b)) => Value::Ss(a.union(&b).cloned().collect()),
            (Some(Value::Ns(a)), Value::Ns(b)) => Value::Ns(a.union(&b).cloned().collect()),
            (Some(Value::Bs(a)), Value::Bs(b)) => Value::Bs(a.union(&b).cloned().collect()),
            (_, v) => {
                return Err(invalid(format!(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: {}",
                    v.type_name()
                )));
            }
        };
        put(&mut after, path, merged)?;
    }
    for (path, operand) in &update.delete {
        let value = evaluate(operand, before)?.ok_or_else(|| bad_path(path))?;
        let left = match (path.get(before), value) {
            (None, Value::Ss(_) | Value::Ns(_) | Value::Bs(_)) => continue,
            (Some(Value::Ss(a)), Value::Ss(b)) => Value::Ss(a.difference(&b).cloned().collect()),
            (Some(Value::Ns(a)), Value::Ns(b)) => Value::Ns(a.difference(&b).cloned().collect()),
            (Some(Value::Bs(a)), Value::Bs(b)) => Value::Bs(a.difference(&b).cloned().collect()),
            (_, v) => {
                return Err(invalid(format!(
                    "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: {}",
                    v.type_name()
                )));
            }
        };
        let empty = matches!(&left, Value::Ss(s) if s.is_empty())
            || matches!(&left, Value::Ns(s) if s.is_empty())
            || matches!(&left, Value::Bs(s) if s.is_empty());
        if empty {
            remove(&mut after, path);
        } else {
            put(&mut after, path, left)?;
        }
    }
    // Removals from one list name the list as it was: the highest index goes first.
    let mut removals: Vec<&Path> = update.remove.iter().collect();
    removals.sort_by(|a, b| match (a.0.last(), b.0.last()) {
        (Some(Step::Index(x)), Some(Step::Index(y))) => y.cmp(x),
        _ => Ordering::Equal,
    });
    for path in removals {
        remove(&mut after, path);
    }
    Ok(after)
}

/// The item with only the projected paths (nested paths keep their parents' shape).
pub fn project(item: &Item, paths: &[Path]) -> Item {
    let mut out = Item::new();
    for path in paths {
        let Some(value) = path.get(item) else {
            continue;
        };
        // Rebuild the path's parents as maps / single lists around the value.
        let mut built = value.clone();
        for step in path.0[1..].iter().rev() {
            built = match step {
                Step::Name(n) => Value::M(BTreeMap::from([(n.clone(), built)])),
                Step::Index(_) => Value::L(vec![built]),
            };
        }
        let root = path.root().to_owned();
        match (out.get_mut(&root), built) {
            (Some(Value::M(existing)), Value::M(add)) => existing.extend(add),
            (_, built) => {
                out.insert(root, built);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from_json(v).expect("value")))
            .collect()
    }

    fn item(json: serde_json::Value) -> Item {
        super::super::value::item_from_json(&json).expect("item")
    }

    fn check(text: &str, item_json: serde_json::Value, vals: &[(&str, serde_json::Value)]) -> bool {
        let mut p = Placeholders::new(
            BTreeMap::from([("#s".to_owned(), "status".to_owned())]),
            values(vals),
        );
        let c = parse_condition("ConditionExpression", text, &mut p).expect(text);
        holds(&c, &item(item_json)).expect("evaluates")
    }

    #[test]
    fn conditions_evaluate_as_dynamodb_does() {
        let it = json!({"pk": {"S": "a"}, "n": {"N": "5"}, "status": {"S": "open"},
                        "tags": {"SS": ["x", "y"]}, "m": {"M": {"l": {"L": [{"N": "1"}, {"S": "two"}]}}}});
        assert!(check(
            "n = :five",
            it.clone(),
            &[(":five", json!({"N": "5.0"}))]
        ));
        assert!(check(
            "n BETWEEN :a AND :b",
            it.clone(),
            &[(":a", json!({"N": "1"})), (":b", json!({"N": "9"}))]
        ));
        assert!(check(
            "#s IN (:x, :open)",
            it.clone(),
            &[(":x", json!({"S": "x"})), (":open", json!({"S": "open"}))]
        ));
        assert!(check(
            "attribute_exists(m.l[1]) AND NOT attribute_exists(m.l[2])",
            it.clone(),
            &[]
        ));
        assert!(check(
            "begins_with(#s, :o) OR n > :big",
            it.clone(),
            &[(":o", json!({"S": "op"})), (":big", json!({"N": "100"}))]
        ));
        assert!(check(
            "contains(tags, :x) and size(tags) = :two",
            it.clone(),
            &[(":x", json!({"S": "x"})), (":two", json!({"N": "2"}))]
        ));
        assert!(check(
            "attribute_type(m, :t)",
            it.clone(),
            &[(":t", json!({"S": "M"}))]
        ));
        assert!(
            !check("n < :s", it.clone(), &[(":s", json!({"S": "5"}))]),
            "different types never compare"
        );
        assert!(check("n <> :s", it.clone(), &[(":s", json!({"S": "5"}))]));
        assert!(!check("absent = absent", it.clone(), &[]));
        assert!(check(
            "(n = :five OR n = :six) AND attribute_not_exists(gone)",
            it,
            &[(":five", json!({"N": "5"})), (":six", json!({"N": "6"}))]
        ));
    }

    #[test]
    fn bad_expressions_are_refused_with_validation_errors() {
        let mut p = Placeholders::new(BTreeMap::new(), values(&[(":v", json!({"N": "1"}))]));
        for text in [
            "",
            "n =",
            "n = :missing",
            "#nope = :v",
            "n === :v",
            "(n = :v",
            "SET",
            "n = :v extra",
            "unknown_fn(n)",
            "n BETWEEN :v",
            &"(".repeat(200),
        ] {
            assert!(
                parse_condition("ConditionExpression", text, &mut p).is_err(),
                "{text:?}"
            );
        }
        for text in [
            "SET a = :v SET b = :v",
            "SET a = :v, a = :v",
            "SET a.b = :v REMOVE a",
            "FROB a",
            "SET a",
        ] {
            assert!(parse_update(text, &mut p).is_err(), "{text:?}");
        }
        let mut unused = Placeholders::new(
            BTreeMap::from([("#a".to_owned(), "a".to_owned())]),
            values(&[(":v", json!({"N": "1"})), (":w", json!({"N": "2"}))]),
        );
        parse_condition("ConditionExpression", "#a = :v", &mut unused).expect("parse");
        assert!(unused.check_all_used().is_err(), ":w is never used");
    }

    #[test]
    fn reserved_words_are_attribute_names_only_through_placeholders() {
        let words = include_str!("reserved_words.txt");
        assert_eq!(words.lines().count(), 573, "DynamoDB's list has 573 words");
        let mut p = Placeholders::new(
            BTreeMap::from([("#s".to_owned(), "status".to_owned())]),
            values(&[(":v", json!({"S": "x"}))]),
        );
        let refused = |r: Result<(), StreamError>| r.expect_err("refused").message;
        assert_eq!(
            refused(parse_update("SET Status = :v", &mut p).map(drop)),
            "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: Status"
        );
        assert_eq!(
            refused(parse_condition("FilterExpression", "a.name = :v", &mut p).map(drop)),
            "Invalid FilterExpression: Attribute name is a reserved keyword; reserved keyword: name"
        );
        assert_eq!(
            refused(parse_projection("a, data[0]", &mut p).map(drop)),
            "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: data"
        );
        // A syntax error is reported before a reserved word, as DynamoDB does.
        let syntax = refused(parse_update("SET path = VALUE 1", &mut p).map(drop));
        assert!(
            syntax.starts_with("Invalid UpdateExpression: Syntax error;"),
            "{syntax}"
        );
        // Through a placeholder, and as a function name, the words are fine.
        parse_update("SET #s = :v", &mut p).expect("placeholder");
        parse_condition(
            "ConditionExpression",
            "size(a) > :v AND attribute_exists(b)",
            &mut p,
        )
        .expect("functions");
        parse_condition("ConditionExpression", "statuses = :v", &mut p).expect("not a word");
    }

    #[test]
    fn updates_apply_to_the_item_as_it_was() {
        let mut p = Placeholders::new(
            BTreeMap::new(),
            values(&[
                (":one", json!({"N": "1"})),
                (":zero", json!({"N": "0"})),
                (":more", json!({"L": [{"S": "c"}]})),
                (":tag", json!({"SS": ["new"]})),
                (":old", json!({"SS": ["old"]})),
                (":x", json!({"S": "x"})),
            ]),
        );
        let update = parse_update(
            "SET n = n + :one, c = if_not_exists(c, :zero) + :one, l = list_append(l, :more), m.k = :x \
             ADD tags :tag, tally :one DELETE gone :old REMOVE o[0], dropped",
            &mut p,
        )
        .expect("parse");
        p.check_all_used().expect("all used");
        let before = item(
            json!({"n": {"N": "41"}, "l": {"L": [{"S": "a"}, {"S": "b"}]}, "m": {"M": {}},
                                 "o": {"L": [{"S": "first"}, {"S": "second"}]},
                                 "tags": {"SS": ["t"]}, "gone": {"SS": ["old"]}, "dropped": {"BOOL": true}}),
        );
        let after = apply(&update, &before).expect("apply");
        let j = super::super::value::item_to_json(&after);
        assert_eq!(j["n"], json!({"N": "42"}));
        assert_eq!(j["c"], json!({"N": "1"}));
        assert_eq!(j["l"], json!({"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}]}));
        assert_eq!(j["o"], json!({"L": [{"S": "second"}]}));
        let overlap = parse_update("SET l = list_append(l, :more) REMOVE l[0]", &mut p);
        assert!(overlap.is_err(), "DynamoDB refuses overlapping paths");
        assert_eq!(j["m"], json!({"M": {"k": {"S": "x"}}}));
        assert_eq!(j["tags"], json!({"SS": ["new", "t"]}));
        assert_eq!(j["tally"], json!({"N": "1"}));
        assert!(j.get("gone").is_none(), "an emptied set is removed");
        assert!(j.get("dropped").is_none());
        let bad = parse_update("SET a.b = :x", &mut p).expect("parse");
        assert!(apply(&bad, &before).is_err(), "no parent map a");
        let bad = parse_update("SET n = absent + :one", &mut p).expect("parse");
        assert!(apply(&bad, &before).is_err());
        let bad = parse_update("ADD dropped :one", &mut p).expect("parse");
        assert!(apply(&bad, &before).is_err(), "ADD to a boolean");
    }

    #[test]
    fn projections_keep_the_shape_of_nested_paths() {
        let mut p = Placeholders::default();
        let paths = parse_projection("a, m.x, m.y", &mut p).expect("parse");
        let it = item(
            json!({"a": {"N": "1"}, "b": {"N": "2"}, "m": {"M": {"x": {"N": "3"}, "y": {"N": "4"}, "z": {"N": "5"}}}}),
        );
        let j = super::super::value::item_to_json(&project(&it, &paths));
        assert_eq!(
            j,
            json!({"a": {"N": "1"}, "m": {"M": {"x": {"N": "3"}, "y": {"N": "4"}}}})
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_any_text_never_panics(text in "[ -~]{0,80}") {
            let mut p = Placeholders::new(
                BTreeMap::from([("#a".to_owned(), "a".to_owned())]),
                values(&[(":v", json!({"N": "1"})), (":s", json!({"SS": ["x"]}))]),
            );
            let it = item(json!({"a": {"N": "2"}, "l": {"L": [{"N": "1"}]}}));
            if let Ok(c) = parse_condition("ConditionExpression", &text, &mut p) {
                let _ = holds(&c, &it);
            }
            if let Ok(u) = parse_update(&text, &mut p) {
                let _ = apply(&u, &it);
            }
            let _ = parse_projection(&text, &mut p);
        }
    }
}
