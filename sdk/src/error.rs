//! [`Error`]: what a handler returns when an invocation fails.

use std::fmt;

/// A handler error: the SDK reports it with
/// `fail(request_id, error_type, message, [])`, which the caller sees as Lambda's
/// `{"errorType", "errorMessage"}` body with `X-Amz-Function-Error: Unhandled`.
///
/// Any [`std::error::Error`] converts into it, so `?` works on the usual error types;
/// [`Error::new`] builds one with an explicit error type.
///
/// `Error` deliberately does not implement [`std::error::Error`] itself: that would make
/// the blanket `From<E: std::error::Error>` conversion overlap with `From<Error> for Error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// Reported as `errorType`, e.g. `"ValidationError"`.
    pub error_type: String,
    /// Reported as `errorMessage`.
    pub message: String,
}

impl Error {
    /// An error with the given `errorType` and `errorMessage`.
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

/// `errorType` is the short type name of `E` (e.g. `ParseIntError`), `errorMessage` is
/// `e.to_string()`.
impl<E: std::error::Error> From<E> for Error {
    fn from(e: E) -> Self {
        Self::new(short_type_name(std::any::type_name::<E>()), e.to_string())
    }
}

/// The last path segment of a type name with its generics stripped:
/// `core::num::error::ParseIntError` → `ParseIntError`, `my::Wrapper<a::B>` → `Wrapper`.
pub(crate) fn short_type_name(full: &str) -> &str {
    let without_generics = full.split('<').next().unwrap_or(full);
    let short = without_generics
        .rsplit("::")
        .next()
        .unwrap_or(without_generics);
    if short.is_empty() { full } else { short }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(
            short_type_name("core::num::error::ParseIntError"),
            "ParseIntError"
        );
        assert_eq!(short_type_name("alloc::vec::Vec<u8>"), "Vec");
        assert_eq!(
            short_type_name("my::Wrapper<std::collections::HashMap<String, a::B>>"),
            "Wrapper"
        );
        assert_eq!(short_type_name("Plain"), "Plain");
        assert_eq!(short_type_name("u8"), "u8");
    }

    #[test]
    fn from_std_error() {
        let e: Error = "x".parse::<u32>().unwrap_err().into();
        assert_eq!(e.error_type, "ParseIntError");
        assert_eq!(e.message, "invalid digit found in string");

        let e: Error = serde_json::from_str::<u32>("nope").unwrap_err().into();
        assert_eq!(e.error_type, "Error");
    }

    #[test]
    fn from_generic_error() {
        #[derive(Debug)]
        struct Oops<T>(T);
        impl<T: fmt::Debug> fmt::Display for Oops<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "oops {:?}", self.0)
            }
        }
        impl<T: fmt::Debug> std::error::Error for Oops<T> {}

        let e = Error::from(Oops(vec![1u8]));
        assert_eq!(e.error_type, "Oops");
        assert_eq!(e.message, "oops [1]");
    }

    #[test]
    fn question_mark_converts() {
        fn parse(s: &str) -> Result<u8, Error> {
            Ok(s.parse::<u8>()?)
        }
        assert_eq!(parse("7"), Ok(7));
        assert_eq!(parse("300").unwrap_err().error_type, "ParseIntError");
    }

    #[test]
    fn display() {
        let e = Error::new("ValidationError", "bad input");
        assert_eq!(e.to_string(), "ValidationError: bad input");
    }
}
