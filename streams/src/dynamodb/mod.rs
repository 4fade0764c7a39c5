//! DynamoDB-like tables: attribute values and items ([`value`]), and the expression
//! language of conditions, updates and projections ([`expr`]), and the table store
//! ([`table`]). The table's stream and the DynamoDB and DynamoDB Streams APIs build on these.

pub mod expr;
pub mod table;
pub mod value;

/// A stream label as DynamoDB writes them: the enabling time, `2026-12-03T14:30:00.123`.
pub fn stream_label(ms: u64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// The one shard of a table stream's label.
pub fn stream_shard_id(label: &str) -> String {
    let digits: String = label.chars().filter(char::is_ascii_digit).collect();
    let hash = label
        .bytes()
        .fold(0u32, |h, b| h.rotate_left(5) ^ u32::from(b));
    format!("shardId-{digits:0>20}-{hash:08x}")
}

/// A table stream's sequence number as DynamoDB Streams writes it (21 digits).
pub fn stream_sequence(seq: u64) -> String {
    format!("{seq:021}")
}

/// A stream record as the Streams API and Lambda's DynamoDB events carry it; with
/// `source_arn` (the stream's ARN) for events, which name their source.
pub fn record_json(
    region: &str,
    r: &table::StreamRecord,
    source_arn: Option<&str>,
) -> serde_json::Value {
    use value::item_to_json;
    let mut dynamodb = serde_json::json!({
        "ApproximateCreationDateTime": r.created_ms / 1000,
        "Keys": item_to_json(&r.keys),
        "SequenceNumber": stream_sequence(r.seq),
        "SizeBytes": r.size,
        "StreamViewType": r.view_type,
    });
    if let Some(new) = &r.new_image {
        dynamodb["NewImage"] = item_to_json(new);
    }
    if let Some(old) = &r.old_image {
        dynamodb["OldImage"] = item_to_json(old);
    }
    let mut out = serde_json::json!({
        "eventID": r.event_id,
        "eventName": r.event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
    });
    if let Some(arn) = source_arn {
        out["eventSourceARN"] = serde_json::json!(arn);
    }
    out
}

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL` → (table, label).
pub fn parse_stream_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:")?.splitn(5, ':').nth(4)?;
    rest.strip_prefix("table/")?.split_once("/stream/")
}
