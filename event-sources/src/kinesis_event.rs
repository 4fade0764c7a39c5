//! The event Lambda builds from Kinesis records, the view filters see, and the record a
//! batch that failed for good sends to its OnFailure destination.
//!
//! Field for field as AWS sends them: `approximateArrivalTimestamp` is a JSON number of
//! seconds, there is no `encryptionType`, `eventID` is `shardId:sequenceNumber`.

use base64::Engine as _;
use hearth_streams::kinesis::Record;
use serde_json::{Value, json};

/// Where a batch's records come from.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub stream_arn: &'a str,
    pub shard_id: &'a str,
    pub region: &'a str,
    /// The function's execution role (`invokeIdentityArn`).
    pub identity_arn: &'a str,
    /// A DynamoDB table's stream (its failure records carry `DDBStreamBatchInfo`).
    pub dynamo: bool,
}

fn seconds(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

/// The event of a batch: `{"Records": [...]}`, each record as AWS sends it. Written
/// straight into the buffer (no JSON tree per record: a batch of 10,000 is one allocation
/// that grows), with what every record shares escaped once.
pub fn event(records: &[&Record], origin: &Origin<'_>) -> Vec<u8> {
    let quoted = |text: &str| serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into());
    let tail = format!(
        r#","eventSource":"aws:kinesis","eventVersion":"1.0","eventName":"aws:kinesis:record","invokeIdentityArn":{},"awsRegion":{},"eventSourceARN":{}}}"#,
        quoted(origin.identity_arn),
        quoted(origin.region),
        quoted(origin.stream_arn)
    );
    let shard = quoted(origin.shard_id);
    let shard = &shard[1..shard.len() - 1];
    let per_record: usize = records
        .iter()
        .map(|r| r.data.len() * 4 / 3 + r.partition_key.len() + 128)
        .sum();
    let mut out = Vec::with_capacity(16 + per_record + records.len() * (tail.len() + 96));
    out.extend_from_slice(br#"{"Records":["#);
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"#);
        let _ = serde_json::to_writer(&mut out, &*r.partition_key);
        out.extend_from_slice(br#","sequenceNumber":""#);
        out.extend_from_slice(r.sequence_number.as_bytes());
        out.extend_from_slice(br#"","data":""#);
        let start = out.len();
        out.resize(
            start + base64::encoded_len(r.data.len(), true).unwrap_or(0),
            0,
        );
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(&r.data, &mut out[start..])
            .unwrap_or(0);
        out.truncate(start + written);
        out.extend_from_slice(br#"","approximateArrivalTimestamp":"#);
        out.extend_from_slice(
            format!("{}.{:03}", r.arrival_ms / 1000, r.arrival_ms % 1000).as_bytes(),
        );
        out.extend_from_slice(br#"},"eventID":""#);
        out.extend_from_slice(shard.as_bytes());
        out.push(b':');
        out.extend_from_slice(r.sequence_number.as_bytes());
        out.push(b'"');
        out.extend_from_slice(tail.as_bytes());
    }
    out.extend_from_slice(b"]}");
    out
}

/// The event of records whose data already is their event record (DynamoDB streams).
pub fn prebuilt_event(records: &[&Record]) -> Vec<u8> {
    let size: usize = records.iter().map(|r| r.data.len() + 1).sum();
    let mut out = Vec::with_capacity(16 + size);
    out.extend_from_slice(br#"{"Records":["#);
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&r.data);
    }
    out.extend_from_slice(b"]}");
    out
}

/// What a filter pattern matches a Kinesis record against: its metadata, and `data` decoded
/// when it is JSON (a record whose data is not JSON has no `data` for a pattern to match).
pub fn filter_view(rec: &Record) -> Value {
    let mut view = json!({
        "kinesisSchemaVersion": "1.0",
        "partitionKey": &*rec.partition_key,
        "sequenceNumber": rec.sequence_number,
        "approximateArrivalTimestamp": seconds(rec.arrival_ms),
    });
    if let Ok(data) = serde_json::from_slice::<Value>(&rec.data)
        && (data.is_object() || data.is_array())
    {
        view["data"] = data;
    }
    view
}

/// `2019-11-14T00:38:04.835Z`.
pub fn iso_millis(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// `2020-07-30T17:00:00Z` (a tumbling window's bounds).
pub fn iso_seconds(ms: u64) -> String {
    let mut text = iso_millis(ms - ms % 1000);
    text.truncate(text.len() - 5);
    text.push('Z');
    text
}

/// Why a batch was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    RetryAttemptsExhausted,
    RecordAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RetryAttemptsExhausted => "RetryAttemptsExhausted",
            Self::RecordAgeExceeded => "RecordAgeExceeded",
        }
    }
}

/// What the last invoke of a failed batch answered.
#[derive(Debug, Clone, Default)]
pub struct LastResponse {
    pub executed_version: Option<String>,
    pub function_error: Option<String>,
}

/// The OnFailure record of a batch given up: AWS's `KinesisBatchInfo`, without the records.
pub fn failure_record(
    records: &[Record],
    origin: &Origin<'_>,
    function_arn: &str,
    condition: Condition,
    invokes: u32,
    response: &LastResponse,
    now_ms: u64,
) -> Value {
    let dynamo = origin.dynamo;
    let first = records.first();
    let last = records.last();
    // DynamoDB's batch info names its times without milliseconds.
    let at = |ms: u64| {
        if dynamo {
            iso_seconds(ms)
        } else {
            iso_millis(ms)
        }
    };
    let mut out = json!({
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": function_arn,
            "condition": condition.as_str(),
            "approximateInvokeCount": invokes,
        },
        "version": "1.0",
        "timestamp": iso_millis(now_ms),
    });
    out[if dynamo {
        "DDBStreamBatchInfo"
    } else {
        "KinesisBatchInfo"
    }] = json!({
        "shardId": origin.shard_id,
        "startSequenceNumber": first.map(|r| r.sequence_number.clone()),
        "endSequenceNumber": last.map(|r| r.sequence_number.clone()),
        "approximateArrivalOfFirstRecord": first.map(|r| at(r.arrival_ms)),
        "approximateArrivalOfLastRecord": last.map(|r| at(r.arrival_ms)),
        "batchSize": records.len(),
        "streamArn": origin.stream_arn,
    });
    if invokes > 0 {
        let mut context = json!({
            "statusCode": 200,
            "executedVersion": response.executed_version.as_deref().unwrap_or("$LATEST"),
        });
        if let Some(e) = &response.function_error {
            context["functionError"] = json!(e);
        }
        out["responseContext"] = context;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec() -> Record {
        Record {
            sequence_number: hearth_streams::kinesis::sequence_number(7),
            seq: 7,
            arrival_ms: 1_545_084_650_987,
            partition_key: "1".into(),
            data: br#"{"temperature": 30}"#.to_vec().into(),
        }
    }

    const ORIGIN: Origin<'static> = Origin {
        stream_arn: "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        shard_id: "shardId-000000000006",
        region: "us-east-1",
        identity_arn: "arn:aws:iam::123456789012:role/lambda-role",
        dynamo: false,
    };

    #[test]
    fn the_record_has_awss_fields_and_types() {
        let mut odd = rec();
        odd.partition_key = "quote\"and\\slash".into();
        let bytes = event(&[&rec(), &odd], &ORIGIN);
        let event: Value = serde_json::from_slice(&bytes).expect("valid JSON");
        let r = &event["Records"][0];
        assert_eq!(
            event["Records"][1]["kinesis"]["partitionKey"],
            "quote\"and\\slash"
        );
        assert_eq!(r["invokeIdentityArn"], ORIGIN.identity_arn);
        assert_eq!(r["eventSourceARN"], ORIGIN.stream_arn);
        assert_eq!(
            r["kinesis"]["approximateArrivalTimestamp"],
            json!(1545084650.987)
        );
        assert!(r["kinesis"].get("encryptionType").is_none());
        assert_eq!(
            r["eventID"],
            format!("shardId-000000000006:{}", rec().sequence_number)
        );
        assert_eq!(r["kinesis"]["data"], "eyJ0ZW1wZXJhdHVyZSI6IDMwfQ==");
        assert_eq!(r["eventName"], "aws:kinesis:record");
        let view = filter_view(&rec());
        assert_eq!(view["data"]["temperature"], 30);
        let mut plain = rec();
        plain.data = b"not json".to_vec().into();
        assert!(filter_view(&plain).get("data").is_none());
    }

    #[test]
    fn the_failure_record_names_the_batch() {
        let f = failure_record(
            &[rec(), rec()],
            &ORIGIN,
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            Condition::RetryAttemptsExhausted,
            3,
            &LastResponse {
                executed_version: Some("$LATEST".into()),
                function_error: Some("Unhandled".into()),
            },
            1_573_690_429_717,
        );
        assert_eq!(f["timestamp"], "2019-11-14T00:13:49.717Z");
        assert_eq!(f["KinesisBatchInfo"]["batchSize"], 2);
        assert_eq!(
            f["KinesisBatchInfo"]["approximateArrivalOfFirstRecord"],
            "2018-12-17T22:10:50.987Z"
        );
        assert_eq!(f["responseContext"]["functionError"], "Unhandled");
        assert_eq!(f["requestContext"]["approximateInvokeCount"], 3);
    }
}
