//! DynamoDB's attribute values: the wire form (`{"S": "x"}`, `{"N": "1"}`, …), exact numbers
//! (38 significant digits, compared and added as decimals, never as floats), and items.

use crate::error::StreamError;
use base64::Engine as _;
use serde_json::{Map, Value as Json, json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// An item: attribute names to values.
pub type Item = BTreeMap<String, Value>;

/// A number as DynamoDB keeps it: up to 38 significant digits, magnitude 1E-130 to 1E+126.
/// `mantissa × 10^exponent`, normalised (no trailing zeros in the mantissa; zero is 0×10^0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Number {
    mantissa: i128,
    exponent: i32,
}

const MAX_DIGITS: usize = 38;

fn validation(message: impl Into<String>) -> StreamError {
    StreamError::validation(message)
}

impl Number {
    fn normalise(mut mantissa: i128, mut exponent: i32) -> Self {
        if mantissa == 0 {
            return Self {
                mantissa: 0,
                exponent: 0,
            };
        }
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        Self { mantissa, exponent }
    }

    /// Parses DynamoDB's number text (`-12.5`, `1e3`, `.5`).
    pub fn parse(text: &str) -> Result<Self, StreamError> {
        let bad = || {
            validation(format!(
                "The parameter cannot be converted to a numeric value: {text}"
            ))
        };
        let t = text.trim();
        let (negative, t) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (digits_part, exp_part) = match t.find(['e', 'E']) {
            Some(i) => (&t[..i], Some(&t[i + 1..])),
            None => (t, None),
        };
        let (int, frac) = match digits_part.split_once('.') {
            Some((i, f)) => (i, f),
            None => (digits_part, ""),
        };
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let mut exponent: i64 = match exp_part {
            Some(e) => e.parse::<i64>().map_err(|_| bad())?,
            None => 0,
        };
        let all: String = format!("{int}{frac}");
        let trimmed = all.trim_start_matches('0');
        exponent -= frac.len() as i64;
        let significant = trimmed.trim_end_matches('0');
        exponent += (trimmed.len() - significant.len()) as i64;
        if significant.len() > MAX_DIGITS {
            return Err(validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        if significant.is_empty() {
            return Ok(Self::normalise(0, 0));
        }
        let magnitude = exponent + significant.len() as i64;
        if magnitude > 126 {
            return Err(validation(
                "Number overflow. Attempting to store a number with magnitude larger than supported range",
            ));
        }
        if magnitude < -129 {
            return Err(validation(
                "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            ));
        }
        let mantissa: i128 = significant.parse().map_err(|_| bad())?;
        Ok(Self::normalise(
            if negative { -mantissa } else { mantissa },
            exponent as i32,
        ))
    }

    /// `self + other`, exactly, within DynamoDB's 38 digits.
    pub fn checked_add(self, other: Self) -> Result<Self, StreamError> {
        if self.mantissa == 0 {
            return Ok(other);
        }
        if other.mantissa == 0 {
            return Ok(self);
        }
        let low = self.exponent.min(other.exponent);
        let scale = |n: Self| -> Option<i128> {
            let shift = u32::try_from(n.exponent - low).ok()?;
            10i128.checked_pow(shift)?.checked_mul(n.mantissa)
        };
        let sum = scale(self)
            .zip(scale(other))
            .and_then(|(a, b)| a.checked_add(b))
            .ok_or_else(|| {
                validation("Attempting to store more than 38 significant digits in a Number")
            })?;
        let n = Self::normalise(sum, low);
        if n.mantissa.unsigned_abs().to_string().len() > MAX_DIGITS {
            return Err(validation(
                "Attempting to store more than 38 significant digits in a Number",
            ));
        }
        Ok(n)
    }

    pub fn negate(self) -> Self {
        Self {
            mantissa: -self.mantissa,
            exponent: self.exponent,
        }
    }

    /// The number as DynamoDB writes it back (`12.5`, `-3`, `1000`).
    pub fn text(&self) -> String {
        if self.mantissa == 0 {
            return "0".into();
        }
        let digits = self.mantissa.unsigned_abs().to_string();
        let sign = if self.mantissa < 0 { "-" } else { "" };
        if self.exponent >= 0 {
            return format!("{sign}{digits}{}", "0".repeat(self.exponent as usize));
        }
        let point = digits.len() as i64 + i64::from(self.exponent);
        if point > 0 {
            let (a, b) = digits.split_at(point as usize);
            format!("{sign}{a}.{b}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-point) as usize))
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        match self.mantissa.signum().cmp(&other.mantissa.signum()) {
            Ordering::Equal => {}
            unequal => return unequal,
        }
        if self.mantissa == 0 {
            return Ordering::Equal;
        }
        // Same sign: compare magnitudes as decimal strings aligned on the point.
        let magnitude = |n: &Self| {
            let digits = n.mantissa.unsigned_abs().to_string();
            (digits.len() as i64 + i64::from(n.exponent), digits)
        };
        let (ma, da) = magnitude(self);
        let (mb, db) = magnitude(other);
        let by_magnitude = ma.cmp(&mb).then_with(|| {
            let width = da.len().max(db.len());
            format!("{da:0<width$}").cmp(&format!("{db:0<width$}"))
        });
        if self.mantissa < 0 {
            by_magnitude.reverse()
        } else {
            by_magnitude
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    S(String),
    N(Number),
    B(Vec<u8>),
    Bool(bool),
    Null,
    M(BTreeMap<String, Value>),
    L(Vec<Value>),
    Ss(BTreeSet<String>),
    Ns(BTreeSet<Number>),
    Bs(BTreeSet<Vec<u8>>),
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>, StreamError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| validation("Invalid binary value: not base64"))
}

impl Value {
    /// The type's wire name (`S`, `N`, `SS`, …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::S(_) => "S",
            Self::N(_) => "N",
            Self::B(_) => "B",
            Self::Bool(_) => "BOOL",
            Self::Null => "NULL",
            Self::M(_) => "M",
            Self::L(_) => "L",
            Self::Ss(_) => "SS",
            Self::Ns(_) => "NS",
            Self::Bs(_) => "BS",
        }
    }

    /// Parses the wire form.
    pub fn from_json(json: &Json) -> Result<Self, StreamError> {
        let object = json
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| {
                validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
            })?;
        let (kind, v) = object
            .iter()
            .next()
            .ok_or_else(|| validation("empty AttributeValue"))?;
        let text = |v: &Json| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| validation(format!("{kind} must be a string")))
        };
        let list = |v: &Json| {
            v.as_array()
                .cloned()
                .ok_or_else(|| validation(format!("{kind} must be a list")))
        };
        Ok(match kind.as_str() {
            "S" => Self::S(text(v)?),
            "N" => Self::N(Number::parse(&text(v)?)?),
            "B" => Self::B(unb64(&text(v)?)?),
            "BOOL" => Self::Bool(
                v.as_bool()
                    .ok_or_else(|| validation("BOOL must be a boolean"))?,
            ),
            "NULL" => {
                if v.as_bool() != Some(true) {
                    return Err(validation(
                        "One or more parameter values were invalid: Null attribute value types must have the value of true",
                    ));
                }
                Self::Null
            }
            "M" => {
                let map = v.as_object().ok_or_else(|| validation("M must be a map"))?;
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    out.insert(k.clone(), Self::from_json(v)?);
                }
                Self::M(out)
            }
            "L" => Self::L(
                list(v)?
                    .iter()
                    .map(Self::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            "SS" | "NS" | "BS" => {
                let items = list(v)?;
                if items.is_empty() {
                    return Err(validation(
                        "One or more parameter values were invalid: An number set  may not be empty",
                    ));
                }
                let texts: Vec<String> = items.iter().map(text).collect::<Result<_, _>>()?;
                let count = texts.len();
                let value = match kind.as_str() {
                    "SS" => Self::Ss(texts.into_iter().collect()),
                    "NS" => Self::Ns(
                        texts
                            .iter()
                            .map(|t| Number::parse(t))
                            .collect::<Result<_, _>>()?,
                    ),
                    _ => Self::Bs(texts.iter().map(|t| unb64(t)).collect::<Result<_, _>>()?),
                };
                if value.set_len() != Some(count) {
                    return Err(validation(format!(
                        "One or more parameter values were invalid: Input collection {} contains duplicates.",
                        Json::Array(items)
                    )));
                }
                value
            }
            other => {
                return Err(validation(format!(
                    "Supplied AttributeValue has an unknown datatype {other}"
                )));
            }
        })
    }

    fn set_len(&self) -> Option<usize> {
        match self {
            Self::Ss(s) => Some(s.len()),
            Self::Ns(s) => Some(s.len()),
            Self::Bs(s) => Some(s.len()),
            _ => None,
        }
    }

    /// The wire form.
    pub fn to_json(&self) -> Json {
        match self {
            Self::S(s) => json!({"S": s}),
            Self::N(n) => json!({"N": n.text()}),
            Self::B(b) => json!({"B": b64(b)}),
            Self::Bool(b) => json!({"BOOL": b}),
            Self::Null => json!({"NULL": true}),
            Self::M(m) => {
                let map: Map<String, Json> =
                    m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                json!({"M": map})
            }
            Self::L(l) => json!({"L": l.iter().map(Self::to_json).collect::<Vec<_>>()}),
            Self::Ss(s) => json!({"SS": s}),
            Self::Ns(s) => json!({"NS": s.iter().map(Number::text).collect::<Vec<_>>()}),
            Self::Bs(s) => json!({"BS": s.iter().map(|b| b64(b)).collect::<Vec<_>>()}),
        }
    }

    /// DynamoDB's item-size measure of a value (name bytes are counted by the caller).
    pub fn size(&self) -> usize {
        match self {
            Self::S(s) => s.len(),
            Self::N(n) => n.text().len().div_ceil(2) + 1,
            Self::B(b) => b.len(),
            Self::Bool(_) | Self::Null => 1,
            Self::M(m) => 3 + m.iter().map(|(k, v)| k.len() + v.size() + 1).sum::<usize>(),
            Self::L(l) => 3 + l.iter().map(|v| v.size() + 1).sum::<usize>(),
            Self::Ss(s) => s.iter().map(String::len).sum(),
            Self::Ns(s) => s.iter().map(|n| n.text().len().div_ceil(2) + 1).sum(),
            Self::Bs(s) => s.iter().map(Vec::len).sum(),
        }
    }

    /// Order of two values of the same scalar type (`S`, `N`, `B`), as comparisons and
    /// sort keys use it; `None` for anything else.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::S(a), Self::S(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Self::N(a), Self::N(b)) => Some(a.cmp(b)),
            (Self::B(a), Self::B(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// An item from its wire form (`{"name": {"S": …}, …}`).
pub fn item_from_json(json: &Json) -> Result<Item, StreamError> {
    let map = json
        .as_object()
        .ok_or_else(|| validation("An item must be a map of attribute names to values"))?;
    map.iter()
        .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
        .collect()
}

/// An item's wire form.
pub fn item_to_json(item: &Item) -> Json {
    Json::Object(item.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// An item's size as DynamoDB counts it against the 400 KB limit.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + v.size()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(text: &str) -> Number {
        Number::parse(text).expect(text)
    }

    #[test]
    fn numbers_are_exact_decimals() {
        assert_eq!(n("1.50").text(), "1.5");
        assert_eq!(n("-0.001").text(), "-0.001");
        assert_eq!(n("1e3").text(), "1000");
        assert_eq!(n("00012").text(), "12");
        assert_eq!(n("0.0").text(), "0");
        assert_eq!(n("0.1").checked_add(n("0.2")).expect("sum").text(), "0.3");
        assert_eq!(n("10").checked_add(n("-10.5")).expect("sum").text(), "-0.5");
        assert!(n("2") < n("10"));
        assert!(n("-2") > n("-10"));
        assert!(n("0.5") < n("1"));
        assert_eq!(n("1.0").cmp(&n("1")), Ordering::Equal);
        let big = "9".repeat(38);
        assert_eq!(n(&big).text(), big);
        assert!(Number::parse(&"9".repeat(39)).is_err());
        assert_eq!(
            n(&big).checked_add(n("1")).expect("1E38").text(),
            format!("1{}", "0".repeat(38))
        );
        assert!(
            n(&big).checked_add(n("0.1")).is_err(),
            "39 significant digits"
        );
        assert!(Number::parse("1e200").is_err());
        assert!(
            Number::parse("abc").is_err()
                && Number::parse("").is_err()
                && Number::parse("1e").is_err()
        );
    }

    #[test]
    fn values_round_trip_and_bad_ones_are_refused() {
        let wire = json!({"M": {"a": {"L": [{"N": "1"}, {"S": "x"}, {"NULL": true}, {"BOOL": false}]},
                               "b": {"SS": ["y", "x"]}, "c": {"B": "AAE="}, "d": {"NS": ["2", "1.0"]}}});
        let v = Value::from_json(&wire).expect("parse");
        let back = v.to_json();
        assert_eq!(back["M"]["a"], wire["M"]["a"]);
        assert_eq!(back["M"]["b"], json!({"SS": ["x", "y"]}));
        assert_eq!(back["M"]["d"], json!({"NS": ["1", "2"]}));
        assert!(Value::from_json(&json!({"S": "a", "N": "1"})).is_err());
        assert!(Value::from_json(&json!({"SS": []})).is_err());
        assert!(Value::from_json(&json!({"SS": ["a", "a"]})).is_err());
        assert!(Value::from_json(&json!({"NULL": false})).is_err());
        assert!(Value::from_json(&json!({"X": "1"})).is_err());
        assert!(Value::from_json(&json!("plain")).is_err());
    }
}
