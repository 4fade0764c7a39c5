//! A queue's settable attributes: names, ranges and defaults as SQS documents them.

use crate::error::{ErrorKind, SqsError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The redrive policy: where messages go after `max_receive_count` receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

/// A queue's settings. `raw` keeps every attribute as the client set it (SQS echoes them
/// back as strings); the typed fields are what the engine acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "BTreeMap<String, String>", into = "BTreeMap<String, String>")]
pub struct QueueConfig {
    pub raw: BTreeMap<String, String>,
    pub visibility_timeout: u32,
    pub delay_seconds: u32,
    pub retention_seconds: u32,
    pub maximum_message_size: usize,
    pub receive_wait_seconds: u32,
    pub fifo: bool,
    pub content_based_deduplication: bool,
    pub redrive: Option<Redrive>,
}

/// Attributes a client may set, besides the three only `CreateQueue` takes.
const SETTABLE: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

fn number(raw: &BTreeMap<String, String>, name: &str, default: u32) -> u32 {
    raw.get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

impl From<BTreeMap<String, String>> for QueueConfig {
    /// The typed view of attributes already validated by [`QueueConfig::validate`].
    fn from(raw: BTreeMap<String, String>) -> Self {
        let redrive = raw.get("RedrivePolicy").and_then(|p| parse_redrive(p).ok());
        Self {
            visibility_timeout: number(&raw, "VisibilityTimeout", 30),
            delay_seconds: number(&raw, "DelaySeconds", 0),
            retention_seconds: number(&raw, "MessageRetentionPeriod", 345_600),
            maximum_message_size: number(&raw, "MaximumMessageSize", 262_144) as usize,
            receive_wait_seconds: number(&raw, "ReceiveMessageWaitTimeSeconds", 0),
            fifo: raw.get("FifoQueue").is_some_and(|v| v == "true"),
            content_based_deduplication: raw
                .get("ContentBasedDeduplication")
                .is_some_and(|v| v == "true"),
            redrive,
            raw,
        }
    }
}

impl From<QueueConfig> for BTreeMap<String, String> {
    fn from(config: QueueConfig) -> Self {
        config.raw
    }
}

fn bad_value(name: &str) -> SqsError {
    SqsError::new(
        ErrorKind::InvalidAttributeValue,
        format!("Invalid value for the parameter {name}."),
    )
}

fn in_range(name: &str, value: &str, low: u32, high: u32) -> Result<(), SqsError> {
    match value.parse::<u32>() {
        Ok(n) if (low..=high).contains(&n) => Ok(()),
        _ => Err(bad_value(name)),
    }
}

fn boolean(name: &str, value: &str) -> Result<(), SqsError> {
    match value {
        "true" | "false" => Ok(()),
        _ => Err(bad_value(name)),
    }
}

/// The queue name of an SQS ARN (`arn:aws:sqs:REGION:ACCOUNT:NAME`).
pub fn arn_queue_name(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "sqs", _, _, name] if !name.is_empty() => Some(name),
        _ => None,
    }
}

pub(crate) fn parse_redrive(policy: &str) -> Result<Redrive, SqsError> {
    let invalid = |why: &str| {
        SqsError::new(
            ErrorKind::InvalidAttributeValue,
            format!("Value {policy} for parameter RedrivePolicy is invalid. Reason: {why}"),
        )
    };
    let value: serde_json::Value = serde_json::from_str(policy)
        .map_err(|_| invalid("Redrive policy is not a valid JSON map."))?;
    let target = value
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            invalid("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    if arn_queue_name(target).is_none() {
        return Err(invalid("Invalid value for deadLetterTargetArn."));
    }
    let count = match value.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse().ok(),
        None => {
            return Err(invalid(
                "Redrive policy does not contain mandatory attribute: maxReceiveCount.",
            ));
        }
        _ => None,
    };
    match count {
        Some(n @ 1..=1000) => Ok(Redrive {
            dead_letter_target_arn: target.to_owned(),
            max_receive_count: n as u32,
        }),
        _ => Err(invalid(
            "Invalid value for maxReceiveCount: must be an integer from 1 to 1000.",
        )),
    }
}

fn check_redrive_allow(policy: &str) -> Result<(), SqsError> {
    let invalid = || {
        SqsError::new(
            ErrorKind::InvalidAttributeValue,
            format!("Value {policy} for parameter RedriveAllowPolicy is invalid."),
        )
    };
    let value: serde_json::Value = serde_json::from_str(policy).map_err(|_| invalid())?;
    match value.get("redrivePermission").and_then(|v| v.as_str()) {
        Some("allowAll" | "denyAll") => Ok(()),
        Some("byQueue") => match value.get("sourceQueueArns").and_then(|v| v.as_array()) {
            Some(arns) if (1..=10).contains(&arns.len()) => Ok(()),
            _ => Err(invalid()),
        },
        _ => Err(invalid()),
    }
}

impl QueueConfig {
    /// Checks one attribute a client set. `creating` admits the attributes only
    /// `CreateQueue` takes.
    pub fn validate(name: &str, value: &str, creating: bool, fifo: bool) -> Result<(), SqsError> {
        match name {
            "VisibilityTimeout" => in_range(name, value, 0, 43_200),
            "DelaySeconds" => in_range(name, value, 0, 900),
            "MessageRetentionPeriod" => in_range(name, value, 60, 1_209_600),
            "MaximumMessageSize" => in_range(name, value, 1_024, 262_144),
            "ReceiveMessageWaitTimeSeconds" => in_range(name, value, 0, 20),
            "KmsDataKeyReusePeriodSeconds" => in_range(name, value, 60, 86_400),
            "SqsManagedSseEnabled" => boolean(name, value),
            "RedrivePolicy" if value.is_empty() => Ok(()),
            "RedrivePolicy" => parse_redrive(value).map(drop),
            "RedriveAllowPolicy" if value.is_empty() => Ok(()),
            "RedriveAllowPolicy" => check_redrive_allow(value),
            "Policy" | "KmsMasterKeyId" => Ok(()),
            "FifoQueue" if creating => boolean(name, value),
            "ContentBasedDeduplication" | "DeduplicationScope" | "FifoThroughputLimit" if !fifo => {
                Err(SqsError::new(
                    ErrorKind::InvalidAttributeName,
                    format!("Unknown Attribute {name}."),
                ))
            }
            "ContentBasedDeduplication" => boolean(name, value),
            "DeduplicationScope" => match value {
                "messageGroup" | "queue" => Ok(()),
                _ => Err(bad_value(name)),
            },
            "FifoThroughputLimit" => match value {
                "perQueue" | "perMessageGroupId" => Ok(()),
                _ => Err(bad_value(name)),
            },
            _ if SETTABLE.contains(&name) => Ok(()),
            _ => Err(SqsError::new(
                ErrorKind::InvalidAttributeName,
                format!("Unknown Attribute {name}."),
            )),
        }
    }

    /// The attributes SQS reports for a queue that were never set, with their defaults.
    pub fn reported(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        out.insert(
            "VisibilityTimeout".into(),
            self.visibility_timeout.to_string(),
        );
        out.insert("DelaySeconds".into(), self.delay_seconds.to_string());
        out.insert(
            "MessageRetentionPeriod".into(),
            self.retention_seconds.to_string(),
        );
        out.insert(
            "MaximumMessageSize".into(),
            self.maximum_message_size.to_string(),
        );
        out.insert(
            "ReceiveMessageWaitTimeSeconds".into(),
            self.receive_wait_seconds.to_string(),
        );
        out.insert("SqsManagedSseEnabled".into(), "true".into());
        if self.fifo {
            out.insert("FifoQueue".into(), "true".into());
            out.insert(
                "ContentBasedDeduplication".into(),
                self.content_based_deduplication.to_string(),
            );
            out.insert("DeduplicationScope".into(), "queue".into());
            out.insert("FifoThroughputLimit".into(), "perQueue".into());
        }
        for (k, v) in &self.raw {
            if v.is_empty() && matches!(k.as_str(), "RedrivePolicy" | "RedriveAllowPolicy") {
                out.remove(k);
                continue;
            }
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

/// Checks a queue name: 1–80 of `[A-Za-z0-9_-]`, and `.fifo` at the end exactly when FIFO.
pub fn check_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let stem = if fifo {
        name.strip_suffix(".fifo").ok_or_else(|| {
            SqsError::invalid("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
        })?
    } else {
        name
    };
    let valid_chars = !stem.is_empty()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid_chars || name.len() > 80 {
        return Err(SqsError::invalid(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_defaults_and_names() {
        assert!(QueueConfig::validate("VisibilityTimeout", "43200", true, false).is_ok());
        assert_eq!(
            QueueConfig::validate("VisibilityTimeout", "43201", true, false)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidAttributeValue
        );
        assert_eq!(
            QueueConfig::validate("Bogus", "1", true, false)
                .unwrap_err()
                .kind,
            ErrorKind::InvalidAttributeName
        );
        assert!(QueueConfig::validate("FifoQueue", "true", false, false).is_err());
        let config = QueueConfig::from(BTreeMap::new());
        assert_eq!(
            (config.visibility_timeout, config.retention_seconds),
            (30, 345_600)
        );
        assert!(check_queue_name("a-b_C9", false).is_ok());
        assert!(check_queue_name("x.fifo", true).is_ok());
        assert!(check_queue_name("x.fifo", false).is_err());
        assert!(check_queue_name(&"a".repeat(81), false).is_err());
        assert!(check_queue_name("", false).is_err());
    }

    #[test]
    fn redrive_policies() {
        let ok = parse_redrive(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:1:dlq","maxReceiveCount":"3"}"#,
        )
        .expect("valid");
        assert_eq!(ok.max_receive_count, 3);
        assert!(parse_redrive(r#"{"deadLetterTargetArn":"nope","maxReceiveCount":3}"#).is_err());
        assert!(
            parse_redrive(r#"{"deadLetterTargetArn":"arn:aws:sqs:r:1:d","maxReceiveCount":0}"#)
                .is_err()
        );
        assert!(parse_redrive("{").is_err());
    }
}
