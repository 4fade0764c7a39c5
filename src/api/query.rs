//! The one reader of a request's query string, shared by routing and by SigV4 verification.
//!
//! A signature covers the query as the server *decodes* it. If the verifier and the router
//! decoded differently (one unescaping names, the other comparing them raw; one reading `+`
//! as a space, the other not), a captured `DELETE …?Qualifier=3` replayed as
//! `?Qual%69fier=3` would still verify while the router saw no qualifier and deleted the
//! whole function. So the query is parsed once, here, before anything looks at it; the
//! verifier signs over [`Query::canonical`] and handlers read [`Query::single`] /
//! [`Query::all`] from the same pairs.
//!
//! Rules: pairs split on `&`, name and value on the first `=` (a name without `=` has an
//! empty value); `%XX` escapes decoded with `percent-encoding`, and a `%` not followed by two
//! hex digits, or bytes that are not UTF-8 once decoded, refuse the whole query. `+` is a
//! literal plus (SigV4 clients encode spaces as `%20`). A parameter read with
//! [`Query::single`] may appear once; only list-valued parameters (`tagKeys`) repeat.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Why a query string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// A `%` escape that is not two hex digits, or a name or value that is not UTF-8.
    #[error("malformed query string: {0}")]
    Malformed(String),
    /// A single-valued parameter given more than once.
    #[error("query parameter {0} appears more than once")]
    Duplicate(String),
}

/// A parsed query string: its decoded pairs, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// SigV4's unreserved set is `A-Z a-z 0-9 - _ . ~`; everything else is escaped.
const SIGV4: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A percent-encoding of `s` with SigV4's unreserved set (uppercase hex).
pub fn sigv4_encode(s: &str) -> String {
    utf8_percent_encode(s, SIGV4).to_string()
}

impl Query {
    /// Parses a raw query string (without `?`); `None` is the empty query.
    pub fn parse(raw: Option<&str>) -> Result<Self, QueryError> {
        let mut pairs = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Self { pairs })
    }

    /// The value of `name`; refused when it appears more than once.
    pub fn single<'q>(&'q self, name: &'q str) -> Result<Option<&'q str>, QueryError> {
        let mut values = self.all(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(QueryError::Duplicate(name.to_owned()));
        }
        Ok(first)
    }

    /// Every value of a list-valued parameter, in order.
    pub fn all<'q>(&'q self, name: &'q str) -> impl Iterator<Item = &'q str> + 'q {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether any parameter is named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// SigV4's canonical query string: each name and value encoded with the unreserved set,
    /// sorted by name then value, joined with `&`.
    pub fn canonical(&self) -> String {
        let mut encoded: Vec<(String, String)> = self
            .pairs
            .iter()
            .map(|(n, v)| (sigv4_encode(n), sigv4_encode(v)))
            .collect();
        encoded.sort_unstable();
        let mut out = String::new();
        for (i, (name, value)) in encoded.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(name);
            out.push('=');
            out.push_str(value);
        }
        out
    }
}

/// Strict percent-decoding: every `%` starts a two-hex-digit escape.
pub(crate) fn decode(part: &str) -> Result<String, QueryError> {
    let bytes = part.as_bytes();
    for (i, _) in part.match_indices('%') {
        let escape = bytes.get(i + 1..i + 3);
        if !escape.is_some_and(|e| e.iter().all(u8::is_ascii_hexdigit)) {
            return Err(QueryError::Malformed(format!("bad escape in {part:?}")));
        }
    }
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| QueryError::Malformed(format!("{part:?} is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_decoded_so_an_escaped_name_is_the_same_parameter() {
        let q = Query::parse(Some("Qual%69fier=3")).expect("parse");
        assert_eq!(q.single("Qualifier"), Ok(Some("3")));
        assert_eq!(
            q.canonical(),
            Query::parse(Some("Qualifier=3"))
                .expect("parse")
                .canonical()
        );
    }

    #[test]
    fn duplicates_of_a_single_parameter_are_refused_lists_are_kept() {
        let q = Query::parse(Some("Qualifier=1&Qual%69fier=2&tagKeys=a&tagKeys=b")).expect("p");
        assert_eq!(
            q.single("Qualifier"),
            Err(QueryError::Duplicate("Qualifier".into()))
        );
        assert_eq!(q.all("tagKeys").collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn plus_is_literal_and_bad_escapes_are_refused() {
        let q = Query::parse(Some("Marker=a+b%20c")).expect("parse");
        assert_eq!(q.single("Marker"), Ok(Some("a+b c")));
        assert_eq!(q.canonical(), "Marker=a%2Bb%20c");
        assert!(Query::parse(Some("k=%zz")).is_err());
        assert!(Query::parse(Some("k=%4")).is_err());
        assert!(Query::parse(Some("k=%ff")).is_err(), "not UTF-8");
    }

    #[test]
    fn canonical_sorts_by_name_then_value() {
        let q = Query::parse(Some("b=2&a=2&a=1&flag&e=")).expect("parse");
        assert_eq!(q.canonical(), "a=1&a=2&b=2&e=&flag=");
        assert_eq!(Query::parse(Some("&&")).expect("p").canonical(), "");
        assert_eq!(Query::parse(None).expect("p"), Query::default());
    }

    proptest::proptest! {
        /// Whatever a client percent-encodes comes back as it was, under any name spelling.
        #[test]
        fn round_trips(name in "[A-Za-z]{1,12}", value in "\\PC{0,40}") {
            let raw = format!("{}={}", sigv4_encode(&name), sigv4_encode(&value));
            let q = Query::parse(Some(&raw)).expect("parse");
            proptest::prop_assert_eq!(q.single(&name), Ok(Some(value.as_str())));
        }

        /// Any input parses or is refused; nothing panics.
        #[test]
        fn never_panics(raw in "\\PC{0,60}") {
            if let Ok(q) = Query::parse(Some(&raw)) {
                let _ = q.canonical();
            }
        }
    }
}
