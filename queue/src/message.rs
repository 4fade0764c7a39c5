//! Messages as clients send and receive them: attributes, the checksums SQS computes, and
//! the validation of what a sender may put in a message.

use crate::error::{ErrorKind, SqsError};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One message attribute: `DataType` is `String`, `Number` or `Binary`, optionally with a
/// custom suffix (`Number.int`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "base64_bytes"
    )]
    pub binary_value: Option<Vec<u8>>,
}

/// Binary values as base64 strings in the journal's JSON.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_str(&STANDARD.encode(bytes)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        text.map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

impl AttributeValue {
    fn is_binary(&self) -> bool {
        self.data_type == "Binary" || self.data_type.starts_with("Binary.")
    }

    /// Bytes it counts toward the message size: name, type and value.
    fn size(&self, name: &str) -> usize {
        name.len()
            + self.data_type.len()
            + self.string_value.as_ref().map_or(0, String::len)
            + self.binary_value.as_ref().map_or(0, Vec::len)
    }
}

/// A message as a sender hands it in.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    pub body: String,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// `MessageSystemAttributes` (only `AWSTraceHeader` exists).
    pub system_attributes: BTreeMap<String, AttributeValue>,
    pub delay_seconds: Option<u32>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    /// Who sent it (`SenderId`): the access key that signed the request, or the account.
    pub sender_id: String,
}

/// What a send returns per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    pub message_id: String,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
    pub md5_of_system_attributes: Option<String>,
    pub sequence_number: Option<String>,
}

/// A received message, with every attribute; the API picks the ones asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    pub md5_of_attributes: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
    /// `SenderId`, `SentTimestamp`, `ApproximateReceiveCount`, … as SQS names them.
    pub system: BTreeMap<&'static str, String>,
}

/// Hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// The MD5 SQS computes over message attributes: for each attribute in name order, its
/// name, its type and a transport byte (1 string, 2 binary) then its value, every string
/// and value preceded by its length as a 4-byte big-endian integer.
pub fn md5_of_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    fn field(hash: &mut Md5, bytes: &[u8]) {
        hash.update((bytes.len() as u32).to_be_bytes());
        hash.update(bytes);
    }
    let mut hash = Md5::new();
    for (name, value) in attributes {
        field(&mut hash, name.as_bytes());
        field(&mut hash, value.data_type.as_bytes());
        if value.is_binary() {
            hash.update([2u8]);
            field(&mut hash, value.binary_value.as_deref().unwrap_or_default());
        } else {
            hash.update([1u8]);
            field(
                &mut hash,
                value.string_value.as_deref().unwrap_or_default().as_bytes(),
            );
        }
    }
    Some(hex::encode(hash.finalize()))
}

/// Characters SQS accepts in a body or string value (XML's): tab, newline, carriage return,
/// and everything from U+0020 but the surrogates and U+FFFE/U+FFFF.
fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn check_attribute_name(name: &str) -> Result<(), SqsError> {
    let lower = name.to_ascii_lowercase();
    let valid = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if valid {
        Ok(())
    } else {
        Err(SqsError::invalid(format!(
            "Message (user) attribute '{name}' has an invalid name. Names can contain alphanumeric characters, hyphens, underscores and periods, must not start or end with a period, must not contain two consecutive periods, and must not start with AWS. or Amazon."
        )))
    }
}

fn check_attribute(name: &str, value: &AttributeValue) -> Result<(), SqsError> {
    check_attribute_name(name)?;
    let base = value.data_type.split('.').next().unwrap_or_default();
    let invalid = |why: &str| SqsError::invalid(format!("Message (user) attribute '{name}' {why}"));
    if value.data_type.len() > 256 || !matches!(base, "String" | "Number" | "Binary") {
        return Err(invalid(
            "has an invalid data type. The type must be String, Number or Binary, optionally followed by a period and a custom label.",
        ));
    }
    match (base, &value.string_value, &value.binary_value) {
        ("Binary", _, Some(bytes)) if !bytes.is_empty() => Ok(()),
        ("Binary", _, _) => Err(invalid("must contain a non-empty binary value.")),
        (_, Some(s), _) if s.is_empty() => Err(invalid("must contain a non-empty value.")),
        ("Number", Some(s), _) => {
            let digits = s.trim_start_matches(['-', '+']);
            if digits.len() <= 38
                && !digits.is_empty()
                && s.parse::<f64>().is_ok_and(f64::is_finite)
            {
                Ok(())
            } else {
                Err(invalid("has an invalid number value."))
            }
        }
        (_, Some(s), _) if !s.chars().all(allowed) => Err(SqsError::new(
            ErrorKind::InvalidMessageContents,
            format!(
                "Message (user) attribute '{name}' contains characters outside the allowed set."
            ),
        )),
        (_, Some(_), _) => Ok(()),
        _ => Err(invalid("must contain a non-empty value.")),
    }
}

impl NewMessage {
    /// Bytes it counts toward SQS's size limits: the body and every attribute's name, type
    /// and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(n, v)| v.size(n))
                .sum::<usize>()
    }

    /// Checks the message against SQS's rules and a queue's `MaximumMessageSize`; returns
    /// its size (body plus attributes).
    pub fn validate(&self, maximum_size: usize, fifo: bool) -> Result<usize, SqsError> {
        if self.body.is_empty() {
            return Err(SqsError::invalid(
                "The request must contain the parameter MessageBody.",
            ));
        }
        if !self.body.chars().all(allowed) {
            return Err(SqsError::new(
                ErrorKind::InvalidMessageContents,
                "Invalid binary character in message body: the body may only contain #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            ));
        }
        if self.attributes.len() > 10 {
            return Err(SqsError::invalid(format!(
                "Number of message attributes [{}] exceeds the allowed maximum [10].",
                self.attributes.len()
            )));
        }
        for (name, value) in &self.attributes {
            check_attribute(name, value)?;
        }
        for name in self.system_attributes.keys() {
            if name != "AWSTraceHeader" {
                return Err(SqsError::invalid(format!(
                    "Message system attribute name '{name}' is invalid."
                )));
            }
        }
        let size = self.size();
        if size > maximum_size {
            return Err(SqsError::invalid(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {maximum_size} bytes."
            )));
        }
        if let Some(delay) = self.delay_seconds {
            if fifo {
                return Err(SqsError::invalid(format!(
                    "Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
                )));
            }
            if delay > 900 {
                return Err(SqsError::invalid(format!(
                    "Value {delay} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900."
                )));
            }
        }
        let token = |what: &str, value: &str| {
            let ok =
                (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
            if ok {
                Ok(())
            } else {
                Err(SqsError::invalid(format!(
                    "Value {value} for parameter {what} is invalid. Reason: {what} can only include alphanumeric and punctuation characters. 1 to 128 in length."
                )))
            }
        };
        match (&self.group_id, fifo) {
            (Some(group), true) => token("MessageGroupId", group)?,
            (None, true) => {
                return Err(SqsError::missing("MessageGroupId"));
            }
            (Some(_), false) => {
                return Err(SqsError::invalid(
                    "Value for parameter MessageGroupId is invalid. Reason: The request include parameter that is not valid for this queue type.",
                ));
            }
            (None, false) => {}
        }
        match (&self.deduplication_id, fifo) {
            (Some(id), true) => token("MessageDeduplicationId", id)?,
            (Some(_), false) => {
                return Err(SqsError::invalid(
                    "Value for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type.",
                ));
            }
            _ => {}
        }
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(v: &str) -> AttributeValue {
        AttributeValue {
            data_type: "String".into(),
            string_value: Some(v.into()),
            binary_value: None,
        }
    }

    #[test]
    fn checksums_match_an_independent_implementation() {
        // Digests computed by moto's SQS (`Message.attribute_md5`) for the same attributes.
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
        let mut attributes = BTreeMap::new();
        attributes.insert("attr1".to_owned(), string("value1"));
        assert_eq!(
            md5_of_attributes(&attributes).as_deref(),
            Some("3bc3f392bdd1097ba0b434f65d468d2e")
        );
        attributes.insert(
            "n".to_owned(),
            AttributeValue {
                data_type: "Number".into(),
                string_value: Some("12.5".into()),
                binary_value: None,
            },
        );
        attributes.insert(
            "b".to_owned(),
            AttributeValue {
                data_type: "Binary".into(),
                string_value: None,
                binary_value: Some(vec![0, 1, 2]),
            },
        );
        assert_eq!(
            md5_of_attributes(&attributes).as_deref(),
            Some("4e3e534e9d173d034dae2b363e009ee5")
        );
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn validation() {
        let mut m = NewMessage {
            body: "x".into(),
            ..Default::default()
        };
        assert_eq!(m.validate(1024, false), Ok(1));
        m.body = "\u{1}".into();
        assert_eq!(
            m.validate(1024, false).unwrap_err().kind,
            ErrorKind::InvalidMessageContents
        );
        m.body = "x".repeat(1025);
        assert!(m.validate(1024, false).is_err());
        m.body = "x".into();
        assert_eq!(
            m.validate(1024, true).unwrap_err().kind,
            ErrorKind::MissingParameter
        );
        m.group_id = Some("g".into());
        assert!(m.validate(1024, true).is_ok());
        assert!(m.validate(1024, false).is_err());
        m.group_id = None;
        m.attributes.insert("AWS.x".into(), string("v"));
        assert!(m.validate(1024, false).is_err());
        m.attributes.clear();
        m.attributes.insert(
            "n".into(),
            AttributeValue {
                data_type: "Number".into(),
                string_value: Some("abc".into()),
                binary_value: None,
            },
        );
        assert!(m.validate(1024, false).is_err());
    }
}
