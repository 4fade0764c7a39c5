//! The SQS event exactly as Lambda builds it (LAMBDA.md §9), and the partial-batch response
//! rules of `ReportBatchItemFailures`.

use base64::Engine as _;
use hearth_queue::Received;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Attribute<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    string_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
    string_list_values: [(); 0],
    binary_list_values: [(); 0],
    data_type: &'a str,
}

/// One record, in the field order Lambda writes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    message_id: &'a str,
    receipt_handle: &'a str,
    body: &'a str,
    attributes: BTreeMap<&'a str, &'a str>,
    message_attributes: BTreeMap<&'a str, Attribute<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5_of_message_attributes: Option<&'a str>,
    md5_of_body: &'a str,
    event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    event_source_arn: &'a str,
    aws_region: &'a str,
}

/// The system attributes Lambda puts in a record.
const RECORD_ATTRIBUTES: &[&str] = &[
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
];

/// One record's JSON.
pub fn record(message: &Received, queue_arn: &str, region: &str) -> Vec<u8> {
    let attributes = message
        .system
        .iter()
        .filter(|(k, _)| RECORD_ATTRIBUTES.contains(k))
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    let message_attributes = message
        .attributes
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                Attribute {
                    string_value: v.string_value.as_deref(),
                    binary_value: v
                        .binary_value
                        .as_ref()
                        .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                    string_list_values: [],
                    binary_list_values: [],
                    data_type: &v.data_type,
                },
            )
        })
        .collect();
    let record = Record {
        message_id: &message.message_id,
        receipt_handle: &message.receipt_handle,
        body: &message.body,
        attributes,
        message_attributes,
        md5_of_message_attributes: message.md5_of_attributes.as_deref(),
        md5_of_body: &message.md5_of_body,
        event_source: "aws:sqs",
        event_source_arn: queue_arn,
        aws_region: region,
    };
    serde_json::to_vec(&record).unwrap_or_default()
}

/// `{"Records":[…]}` from records already encoded.
pub fn event(records: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|r| r.len() + 1).sum::<usize>() + 16);
    out.extend_from_slice(b"{\"Records\":[");
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.extend_from_slice(b"]}");
    out
}

/// What the filter criteria look at: `{"body": …}`, the body parsed when it is JSON.
pub fn filter_view(message: &Received) -> Value {
    let body = serde_json::from_str::<Value>(&message.body)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
        .unwrap_or_else(|| Value::String(message.body.clone()));
    serde_json::json!({ "body": body })
}

/// Which messages of a batch failed, from a `ReportBatchItemFailures` response: `None` when
/// the whole batch counts as failed (invalid JSON; an item without a non-empty string
/// `itemIdentifier`; an id not in the batch), else the failed ids (empty: all succeeded,
/// which is also the answer to an empty or `null` response, or a `null` or empty list).
pub fn failures(response: &[u8], batch: &HashSet<&str>) -> Option<HashSet<String>> {
    if response.iter().all(u8::is_ascii_whitespace) {
        return Some(HashSet::new());
    }
    let value: Value = serde_json::from_slice(response).ok()?;
    let Some(list) = value.get("batchItemFailures") else {
        return Some(HashSet::new());
    };
    let items = match list {
        Value::Null => return Some(HashSet::new()),
        Value::Array(items) => items,
        _ => return None,
    };
    let mut failed = HashSet::new();
    for item in items {
        let id = item
            .get("itemIdentifier")?
            .as_str()
            .filter(|s| !s.is_empty())?;
        if !batch.contains(id) {
            return None;
        }
        failed.insert(id.to_owned());
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_queue::AttributeValue;

    fn message(attributes: bool) -> Received {
        let mut system = BTreeMap::new();
        system.insert("ApproximateReceiveCount", "1".to_owned());
        system.insert("SentTimestamp", "1545082649183".to_owned());
        system.insert("SenderId", "AIDAIENQZJOLO23YVJ4VO".to_owned());
        system.insert(
            "ApproximateFirstReceiveTimestamp",
            "1545082649185".to_owned(),
        );
        system.insert("DeadLetterQueueSourceArn", "x".to_owned());
        let mut attrs = BTreeMap::new();
        if attributes {
            attrs.insert(
                "k".to_owned(),
                AttributeValue {
                    data_type: "String".into(),
                    string_value: Some("v".into()),
                    binary_value: None,
                },
            );
        }
        Received {
            message_id: "059f36b4-87a3-44ab-83d2-661975830a7d".into(),
            receipt_handle: "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a".into(),
            body: "test".into(),
            md5_of_body: "098f6bcd4621d373cade4e832627b4f6".into(),
            md5_of_attributes: attributes.then(|| "abc".to_owned()),
            attributes: attrs,
            system,
        }
    }

    #[test]
    fn records_are_shaped_as_lambda_sends_them() {
        let plain: Value = serde_json::from_slice(&record(
            &message(false),
            "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "us-east-2",
        ))
        .expect("json");
        assert_eq!(
            plain,
            serde_json::json!({
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": "test",
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1545082649183",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1545082649185"
                },
                "messageAttributes": {},
                "md5OfBody": "098f6bcd4621d373cade4e832627b4f6",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
                "awsRegion": "us-east-2"
            })
        );
        let with: Value = serde_json::from_slice(&record(&message(true), "a", "r")).expect("json");
        assert_eq!(
            with["messageAttributes"]["k"],
            serde_json::json!({"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
        );
        assert_eq!(with["md5OfMessageAttributes"], "abc");
        let event: Value =
            serde_json::from_slice(&event(&[b"1".to_vec(), b"2".to_vec()])).expect("json");
        assert_eq!(event, serde_json::json!({"Records": [1, 2]}));
    }

    #[test]
    fn partial_batch_responses_follow_lambdas_rules() {
        let batch: HashSet<&str> = ["a", "b"].into_iter().collect();
        let ok = |s: &str| failures(s.as_bytes(), &batch);
        assert_eq!(ok(""), Some(HashSet::new()));
        assert_eq!(ok("null"), Some(HashSet::new()));
        assert_eq!(ok("{}"), Some(HashSet::new()));
        assert_eq!(ok(r#"{"batchItemFailures":null}"#), Some(HashSet::new()));
        assert_eq!(ok(r#"{"batchItemFailures":[]}"#), Some(HashSet::new()));
        assert_eq!(
            ok(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#),
            Some(["b".to_owned()].into_iter().collect())
        );
        assert_eq!(ok("{not json"), None);
        assert_eq!(ok(r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#), None);
        assert_eq!(
            ok(r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#),
            None
        );
        assert_eq!(
            ok(r#"{"batchItemFailures":[{"itemIdentifer":"a"}]}"#),
            None,
            "misspelt key"
        );
        assert_eq!(
            ok(r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#),
            None
        );
        assert_eq!(ok(r#"{"batchItemFailures":"a"}"#), None);
    }

    #[test]
    fn filters_see_the_body_parsed_when_it_is_json() {
        let mut m = message(false);
        m.body = r#"{"k":1}"#.into();
        assert_eq!(filter_view(&m), serde_json::json!({"body": {"k": 1}}));
        m.body = "42".into();
        assert_eq!(filter_view(&m), serde_json::json!({"body": "42"}));
    }
}
