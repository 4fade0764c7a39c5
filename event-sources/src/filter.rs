//! `FilterCriteria`: EventBridge's pattern syntax, as event source mappings use it.
//!
//! A pattern is a JSON object. Each key names a field of the event; its value is either a
//! nested pattern (the field must be an object that matches it) or an array of matchers,
//! any of which may match. Every key must match (AND); the filters of a mapping are ORed.
//! Matchers: a plain value (equal; against an array field, equal to any element), `null`,
//! `""`, `{"prefix"}`, `{"suffix"}`, `{"equals-ignore-case"}`, `{"wildcard"}`,
//! `{"anything-but": value | [values] | {"prefix"}}`, `{"numeric": [op, n, (op, n)]}`,
//! `{"exists": bool}`; and `"$or": [patterns]` at any level.

use serde_json::Value;

/// A pattern that does not parse or uses an unknown operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid filter pattern definition: {0}")]
pub struct BadPattern(pub String);

/// A parsed, checked filter pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern(Value);

impl Pattern {
    /// Parses the `Pattern` string of a filter and checks every operator in it.
    pub fn parse(text: &str) -> Result<Self, BadPattern> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| BadPattern(format!("not JSON ({e})")))?;
        check_object(&value)?;
        Ok(Self(value))
    }

    /// Whether `event` matches.
    pub fn matches(&self, event: &Value) -> bool {
        matches_object(&self.0, Some(event))
    }
}

fn check_object(pattern: &Value) -> Result<(), BadPattern> {
    let Value::Object(map) = pattern else {
        return Err(BadPattern("a pattern must be a JSON object".into()));
    };
    for (key, value) in map {
        if key == "$or" {
            let Value::Array(alternatives) = value else {
                return Err(BadPattern("$or takes an array of patterns".into()));
            };
            if alternatives.len() < 2 {
                return Err(BadPattern("$or needs at least two patterns".into()));
            }
            for alternative in alternatives {
                check_object(alternative)?;
            }
            continue;
        }
        match value {
            Value::Object(_) => check_object(value)?,
            Value::Array(matchers) => {
                for matcher in matchers {
                    check_matcher(key, matcher)?;
                }
            }
            _ => {
                return Err(BadPattern(format!(
                    "the value of {key:?} must be an array of matchers or a nested pattern"
                )));
            }
        }
    }
    Ok(())
}

fn check_matcher(key: &str, matcher: &Value) -> Result<(), BadPattern> {
    let Value::Object(op) = matcher else {
        return match matcher {
            Value::Array(_) => Err(BadPattern(format!("nested arrays under {key:?}"))),
            _ => Ok(()),
        };
    };
    let bad = |why: &str| Err(BadPattern(format!("{why} under {key:?}")));
    if op.len() != 1 {
        return bad("a matcher object takes exactly one operator");
    }
    let (name, arg) = op.iter().next().expect("one entry");
    match (name.as_str(), arg) {
        ("prefix" | "suffix" | "equals-ignore-case" | "wildcard", Value::String(_)) => Ok(()),
        ("exists", Value::Bool(_)) => Ok(()),
        ("anything-but", Value::String(_) | Value::Number(_)) => Ok(()),
        ("anything-but", Value::Array(items))
            if items.iter().all(|v| v.is_string() || v.is_number()) =>
        {
            Ok(())
        }
        ("anything-but", Value::Object(inner))
            if inner.len() == 1
                && matches!(
                    inner.iter().next(),
                    Some((k, Value::String(_))) if k == "prefix" || k == "suffix"
                ) =>
        {
            Ok(())
        }
        ("numeric", Value::Array(items)) => check_numeric(items).or_else(|why| bad(&why)),
        _ => bad(&format!("unknown or malformed operator {name:?}")),
    }
}

fn check_numeric(items: &[Value]) -> Result<(), String> {
    if items.is_empty() || !items.len().is_multiple_of(2) || items.len() > 4 {
        return Err("numeric takes one or two (operator, number) pairs".into());
    }
    for pair in items.chunks(2) {
        match (&pair[0], &pair[1]) {
            (Value::String(op), Value::Number(_))
                if matches!(op.as_str(), "=" | "<" | "<=" | ">" | ">=") => {}
            _ => return Err("numeric pairs are an operator (=, <, <=, >, >=) and a number".into()),
        }
    }
    Ok(())
}

fn matches_object(pattern: &Value, event: Option<&Value>) -> bool {
    let Value::Object(map) = pattern else {
        return false;
    };
    map.iter().all(|(key, want)| {
        if key == "$or" {
            return want
                .as_array()
                .is_some_and(|alts| alts.iter().any(|alt| matches_object(alt, event)));
        }
        let field = event.and_then(|e| e.as_object()).and_then(|o| o.get(key));
        match want {
            Value::Object(_) => match field {
                Some(value @ Value::Object(_)) => matches_object(want, Some(value)),
                // A nested pattern of only `exists: false` matchers matches an absent field.
                _ => matches_object(want, None),
            },
            Value::Array(matchers) => matchers.iter().any(|m| matches_field(m, field)),
            _ => false,
        }
    })
}

fn matches_field(matcher: &Value, field: Option<&Value>) -> bool {
    if let Value::Object(op) = matcher
        && let Some((name, arg)) = op.iter().next()
        && name == "exists"
    {
        let present = field.is_some();
        return arg.as_bool() == Some(present);
    }
    let Some(field) = field else {
        return false;
    };
    match field {
        Value::Array(items) => items.iter().any(|item| matches_value(matcher, item)),
        value => matches_value(matcher, value),
    }
}

fn matches_value(matcher: &Value, value: &Value) -> bool {
    match matcher {
        Value::Object(op) => {
            let Some((name, arg)) = op.iter().next() else {
                return false;
            };
            match (name.as_str(), value) {
                ("prefix", Value::String(s)) => arg.as_str().is_some_and(|p| s.starts_with(p)),
                ("suffix", Value::String(s)) => arg.as_str().is_some_and(|p| s.ends_with(p)),
                ("equals-ignore-case", Value::String(s)) => arg
                    .as_str()
                    .is_some_and(|p| p.to_lowercase() == s.to_lowercase()),
                ("wildcard", Value::String(s)) => arg.as_str().is_some_and(|p| wildcard(p, s)),
                ("anything-but", _) => anything_but(arg, value),
                ("numeric", Value::Number(n)) => {
                    let (Some(x), Some(items)) = (n.as_f64(), arg.as_array()) else {
                        return false;
                    };
                    items.chunks(2).all(|pair| {
                        let bound = pair.get(1).and_then(Value::as_f64).unwrap_or(f64::NAN);
                        match pair[0].as_str() {
                            Some("=") => x == bound,
                            Some("<") => x < bound,
                            Some("<=") => x <= bound,
                            Some(">") => x > bound,
                            Some(">=") => x >= bound,
                            _ => false,
                        }
                    })
                }
                _ => false,
            }
        }
        Value::Number(a) => value.as_f64().zip(a.as_f64()).is_some_and(|(x, y)| x == y),
        other => other == value,
    }
}

fn anything_but(arg: &Value, value: &Value) -> bool {
    match arg {
        Value::Array(items) => !items.iter().any(|item| matches_value(item, value)),
        Value::Object(inner) => match (inner.iter().next(), value) {
            (Some((k, Value::String(p))), Value::String(s)) if k == "prefix" => {
                !s.starts_with(p.as_str())
            }
            (Some((k, Value::String(p))), Value::String(s)) if k == "suffix" => {
                !s.ends_with(p.as_str())
            }
            _ => false,
        },
        scalar => !matches_value(scalar, value),
    }
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `event` passes a mapping's filters (no filters: everything passes).
pub fn passes(filters: &[Pattern], event: &Value) -> bool {
    filters.is_empty() || filters.iter().any(|f| f.matches(event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(pattern: &str, event: Value) -> bool {
        Pattern::parse(pattern).expect("valid").matches(&event)
    }

    #[test]
    fn the_documented_operators() {
        let e =
            json!({"body": {"k": "v", "n": 3, "tags": ["a", "b"], "empty": "", "nothing": null}});
        assert!(m(r#"{"body":{"k":["v"]}}"#, e.clone()));
        assert!(!m(r#"{"body":{"k":["w"]}}"#, e.clone()));
        assert!(
            m(r#"{"body":{"tags":["b"]}}"#, e.clone()),
            "arrays match any element"
        );
        assert!(m(r#"{"body":{"nothing":[null]}}"#, e.clone()));
        assert!(m(r#"{"body":{"empty":[""]}}"#, e.clone()));
        assert!(m(r#"{"body":{"k":[{"prefix":"v"}]}}"#, e.clone()));
        assert!(m(
            r#"{"body":{"k":[{"anything-but":["x","y"]}]}}"#,
            e.clone()
        ));
        assert!(!m(r#"{"body":{"k":[{"anything-but":"v"}]}}"#, e.clone()));
        assert!(m(
            r#"{"body":{"n":[{"numeric":[">",0,"<=",5]}]}}"#,
            e.clone()
        ));
        assert!(!m(r#"{"body":{"n":[{"numeric":[">",3]}]}}"#, e.clone()));
        assert!(
            m(r#"{"body":{"n":[3.0]}}"#, e.clone()),
            "numbers compare as numbers"
        );
        assert!(m(r#"{"body":{"k":[{"exists":true}]}}"#, e.clone()));
        assert!(m(r#"{"body":{"gone":[{"exists":false}]}}"#, e.clone()));
        assert!(!m(r#"{"body":{"gone":["x"]}}"#, e.clone()));
        assert!(m(r#"{"body":{"k":[{"wildcard":"*"}]}}"#, e.clone()));
        assert!(m(
            r#"{"body":{"k":[{"equals-ignore-case":"V"}]}}"#,
            e.clone()
        ));
        assert!(m(r#"{"body":{"$or":[{"k":["x"]},{"n":[3]}]}}"#, e.clone()));
        // AND across fields.
        assert!(!m(r#"{"body":{"k":["v"],"n":[4]}}"#, e.clone()));
        // A plain-string body does not match a pattern on its JSON fields, nor the reverse.
        assert!(!m(r#"{"body":{"k":["v"]}}"#, json!({"body": "k=v"})));
        assert!(m(r#"{"body":["k=v"]}"#, json!({"body": "k=v"})));
        assert!(!m(r#"{"body":["k=v"]}"#, e));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "[]",
            r#"{"a":"x"}"#,
            r#"{"a":[{"nope":1}]}"#,
            r#"{"a":[{"numeric":[">"]}]}"#,
            r#"{"a":[{"numeric":["!",1]}]}"#,
            r#"{"a":[{"prefix":1}]}"#,
            r#"{"$or":[{"a":["x"]}]}"#,
        ] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("a*c", "abbc"));
        assert!(wildcard("a*b*c", "aXbYc"));
        assert!(!wildcard("a*b*c", "aXc"));
        assert!(!wildcard("ab*ba", "aba"));
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-1000i64..1000).prop_map(|n| json!(n)),
            "[a-c]{0,3}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::btree_map("[a-c]{1,2}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// The pattern that asks for exactly an event's own scalar fields.
    fn own_pattern(event: &Value) -> Option<Value> {
        let Value::Object(map) = event else {
            return None;
        };
        let mut out = serde_json::Map::new();
        for (k, v) in map {
            match v {
                Value::Object(_) => {
                    if let Some(p) =
                        own_pattern(v).filter(|p| p.as_object().is_some_and(|o| !o.is_empty()))
                    {
                        out.insert(k.clone(), p);
                    }
                }
                Value::Array(items)
                    if !items.is_empty()
                        && items.iter().all(|i| !i.is_array() && !i.is_object()) =>
                {
                    out.insert(k.clone(), json!([items[0]]));
                }
                Value::Array(_) => {}
                scalar => {
                    out.insert(k.clone(), json!([scalar]));
                }
            }
        }
        Some(Value::Object(out))
    }

    proptest::proptest! {
        /// Any pattern text and any event: parsing refuses or accepts, matching never panics.
        #[test]
        fn never_panics(pattern in json_value(), event in json_value()) {
            if let Ok(p) = Pattern::parse(&pattern.to_string()) {
                let _ = p.matches(&event);
            }
        }

        /// An event always matches the pattern built from its own values, and stops matching
        /// when one of them is asked to be something it is not.
        #[test]
        fn an_event_matches_its_own_values(event in json_value()) {
            if let Some(pattern) = own_pattern(&event)
                && pattern.as_object().is_some_and(|o| !o.is_empty())
            {
                let parsed = Pattern::parse(&pattern.to_string()).expect("own pattern is valid");
                proptest::prop_assert!(parsed.matches(&event), "{pattern} vs {event}");
                let mut changed = pattern.clone();
                if let Some((k, v)) = changed.as_object_mut().and_then(|o| o.iter_mut().next())
                    && v.is_array()
                {
                    *v = json!(["value-no-event-has"]);
                    let k = k.clone();
                    let parsed = Pattern::parse(&changed.to_string()).expect("valid");
                    proptest::prop_assert!(!parsed.matches(&event), "{k}: {changed} vs {event}");
                }
            }
        }
    }
}
