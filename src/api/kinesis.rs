//! Kinesis on hearth's port: `X-Amz-Target: Kinesis_20131202.<Op>`, JSON 1.1 bodies, errors
//! as `{"__type","message"}` (botocore raises the exception of that name). Data is base64 in
//! both directions; timestamps are epoch seconds as numbers.

use super::{Body, ReqBody, full};
use base64::Engine as _;
use hearth_streams::kinesis::{
    self, MAX_PUT_RECORDS, MAX_PUT_RECORDS_BYTES, MAX_RECORD_BYTES, PutEntry, ShardMeta, StartAt,
};
use hearth_streams::{ErrorKind, StreamError, Streams};
use hyper::{Request, Response, StatusCode};
use serde_json::{Map, Value, json};

const TARGET_PREFIX: &str = "Kinesis_20131202.";

/// Whether a request is a Kinesis request.
pub fn is_kinesis<B>(req: &Request<B>) -> bool {
    req.headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(TARGET_PREFIX))
}

/// The most a Kinesis request may carry: `PutRecords`' 5 MiB of data in base64 with its keys
/// and JSON around it.
pub const MAX_REQUEST_BYTES: usize = MAX_PUT_RECORDS_BYTES / 3 * 4 + 2 * 1024 * 1024;

/// Answers one Kinesis request.
pub async fn handle(streams: &Streams, req: Request<ReqBody>, request_id: &str) -> Response<Body> {
    let op = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    let body = super::body_bytes(req.into_body());
    let input = if body.is_empty() {
        Ok(Value::Object(Map::new()))
    } else {
        serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                StreamError::new(
                    ErrorKind::Serialization,
                    "The request body is not a JSON object.",
                )
            })
    };
    let result = match input {
        Ok(input) => dispatch(streams, &op, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(output) => respond(StatusCode::OK, &output, request_id),
        Err(e) => {
            if e.kind == ErrorKind::Internal {
                tracing::error!(operation = op, error = %e.message, "Kinesis request failed");
            }
            let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
            respond(
                status,
                &json!({"__type": e.kind.name(), "message": e.message}),
                request_id,
            )
        }
    }
}

fn respond(status: StatusCode, body: &Value, request_id: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("x-amzn-RequestId", request_id)
        .body(full(body.to_string()))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn missing(field: &str) -> StreamError {
    StreamError::validation(format!(
        "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
        lower_first(field)
    ))
}

fn lower_first(field: &str) -> String {
    let mut chars = field.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_lowercase().chain(chars).collect::<String>()
    })
}

fn string<'a>(input: &'a Value, field: &str) -> Result<Option<&'a str>, StreamError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(StreamError::new(
            ErrorKind::Serialization,
            format!("{field} must be a string."),
        )),
    }
}

fn required<'a>(input: &'a Value, field: &str) -> Result<&'a str, StreamError> {
    string(input, field)?.ok_or_else(|| missing(field))
}

fn integer(input: &Value, field: &str) -> Result<Option<i64>, StreamError> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            StreamError::new(
                ErrorKind::Serialization,
                format!("{field} must be an integer."),
            )
        }),
    }
}

/// The stream a request names, by `StreamName` or `StreamARN`.
fn stream_name(input: &Value) -> Result<String, StreamError> {
    if let Some(name) = string(input, "StreamName")? {
        return Ok(name.to_owned());
    }
    let arn = string(input, "StreamARN")?.ok_or_else(|| {
        StreamError::invalid("Either StreamName or StreamARN should be provided.")
    })?;
    Streams::arn_stream_name(arn)
        .map(str::to_owned)
        .ok_or_else(|| StreamError::invalid(format!("StreamARN {arn} is not a stream ARN.")))
}

fn seconds(ms: u64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn shard_json(shard: &ShardMeta) -> Value {
    let mut out = json!({
        "ShardId": shard.id,
        "HashKeyRange": {
            "StartingHashKey": shard.start_hash.to_string(),
            "EndingHashKey": shard.end_hash.to_string(),
        },
        "SequenceNumberRange": {
            "StartingSequenceNumber": kinesis::sequence_number(shard.starting_seq),
        },
    });
    if let Some(parent) = &shard.parent {
        out["ParentShardId"] = json!(parent);
    }
    if let Some(adjacent) = &shard.adjacent_parent {
        out["AdjacentParentShardId"] = json!(adjacent);
    }
    if let Some(end) = shard.ending_seq {
        out["SequenceNumberRange"]["EndingSequenceNumber"] = json!(kinesis::sequence_number(end));
    }
    out
}

fn mode(on_demand: bool) -> Value {
    json!({ "StreamMode": if on_demand { "ON_DEMAND" } else { "PROVISIONED" } })
}

fn decode_data(input: &Value) -> Result<Vec<u8>, StreamError> {
    let text = string(input, "Data")?.ok_or_else(|| missing("Data"))?;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| StreamError::new(ErrorKind::Serialization, "Data is not valid base64."))
}

/// A record to put, checked as Kinesis checks it.
fn put_entry(input: &Value) -> Result<PutEntry, StreamError> {
    let data = decode_data(input)?;
    let partition_key = required(input, "PartitionKey")?.to_owned();
    if !(1..=256).contains(&partition_key.chars().count()) {
        return Err(StreamError::validation(
            "1 validation error detected: Value at 'partitionKey' failed to satisfy constraint: Member must have length between 1 and 256",
        ));
    }
    if data.len() + partition_key.len() > MAX_RECORD_BYTES {
        return Err(StreamError::validation(format!(
            "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to {MAX_RECORD_BYTES}"
        )));
    }
    Ok(PutEntry {
        data,
        partition_key,
        explicit_hash_key: string(input, "ExplicitHashKey")?.map(str::to_owned),
    })
}

fn start_at(input: &Value) -> Result<StartAt, StreamError> {
    let kind = required(input, "ShardIteratorType")?;
    let sequence = || {
        string(input, "StartingSequenceNumber")?
            .map(str::to_owned)
            .ok_or_else(|| {
                StreamError::invalid(format!(
                    "StartingSequenceNumber must be provided for ShardIteratorType {kind}."
                ))
            })
    };
    Ok(match kind {
        "TRIM_HORIZON" => StartAt::TrimHorizon,
        "LATEST" => StartAt::Latest,
        "AT_SEQUENCE_NUMBER" => StartAt::AtSequence(sequence()?),
        "AFTER_SEQUENCE_NUMBER" => StartAt::AfterSequence(sequence()?),
        "AT_TIMESTAMP" => {
            let at = input
                .get("Timestamp")
                .and_then(Value::as_f64)
                .filter(|t| *t >= 0.0)
                .ok_or_else(|| {
                    StreamError::invalid(
                        "Timestamp must be provided for ShardIteratorType AT_TIMESTAMP.",
                    )
                })?;
            StartAt::AtTimestamp((at * 1000.0) as u64)
        }
        other => {
            return Err(StreamError::validation(format!(
                "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]"
            )));
        }
    })
}

/// A page of `items` after `start` (exclusive), at most `limit`.
fn page<T: Clone>(
    items: &[T],
    key: impl Fn(&T) -> &str,
    start: Option<&str>,
    limit: usize,
) -> (Vec<T>, bool) {
    let from = start.map_or(0, |s| items.partition_point(|i| key(i) <= s));
    let rest = &items[from..];
    let taken = rest.iter().take(limit).cloned().collect();
    (taken, rest.len() > limit)
}

async fn dispatch(streams: &Streams, op: &str, input: &Value) -> Result<Value, StreamError> {
    match op {
        "CreateStream" => {
            let name = required(input, "StreamName")?;
            let on_demand = match input
                .get("StreamModeDetails")
                .and_then(|m| m.get("StreamMode"))
                .and_then(Value::as_str)
            {
                None | Some("PROVISIONED") => false,
                Some("ON_DEMAND") => true,
                Some(other) => {
                    return Err(StreamError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]"
                    )));
                }
            };
            let count = integer(input, "ShardCount")?
                .map(|n| {
                    u32::try_from(n)
                        .map_err(|_| StreamError::validation("ShardCount is out of range."))
                })
                .transpose()?;
            streams.create_stream(name, count, on_demand).await?;
            Ok(json!({}))
        }
        "DeleteStream" => {
            streams.delete_stream(&stream_name(input)?).await?;
            Ok(json!({}))
        }
        "DescribeStream" => {
            let view = streams.describe(&stream_name(input)?)?;
            let limit = integer(input, "Limit")?.unwrap_or(100).clamp(1, 10_000) as usize;
            let (shards, more) = page(
                &view.shards,
                |s| s.id.as_str(),
                string(input, "ExclusiveStartShardId")?,
                limit,
            );
            Ok(json!({
                "StreamDescription": {
                    "StreamName": view.name,
                    "StreamARN": view.arn,
                    "StreamStatus": "ACTIVE",
                    "StreamModeDetails": mode(view.on_demand),
                    "Shards": shards.iter().map(shard_json).collect::<Vec<_>>(),
                    "HasMoreShards": more,
                    "RetentionPeriodHours": view.retention_hours,
                    "StreamCreationTimestamp": seconds(view.created_ms),
                    "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                    "EncryptionType": "NONE",
                }
            }))
        }
        "DescribeStreamSummary" => {
            let view = streams.describe(&stream_name(input)?)?;
            Ok(json!({
                "StreamDescriptionSummary": {
                    "StreamName": view.name,
                    "StreamARN": view.arn,
                    "StreamStatus": "ACTIVE",
                    "StreamModeDetails": mode(view.on_demand),
                    "RetentionPeriodHours": view.retention_hours,
                    "StreamCreationTimestamp": seconds(view.created_ms),
                    "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
                    "EncryptionType": "NONE",
                    "OpenShardCount": view.open_shards,
                    "ConsumerCount": 0,
                }
            }))
        }
        "ListStreams" => {
            let names = streams.list();
            let limit = integer(input, "Limit")?.unwrap_or(100).clamp(1, 10_000) as usize;
            let start = match string(input, "NextToken")? {
                Some(token) => Some(token),
                None => string(input, "ExclusiveStartStreamName")?,
            };
            let (names, more) = page(&names, |n| n.as_str(), start, limit);
            let summaries: Vec<Value> = names
                .iter()
                .filter_map(|n| streams.describe(n).ok())
                .map(|v| {
                    json!({
                        "StreamName": v.name,
                        "StreamARN": v.arn,
                        "StreamStatus": "ACTIVE",
                        "StreamModeDetails": mode(v.on_demand),
                        "StreamCreationTimestamp": seconds(v.created_ms),
                    })
                })
                .collect();
            let mut out = json!({
                "StreamNames": names,
                "HasMoreStreams": more,
                "StreamSummaries": summaries,
            });
            if more {
                out["NextToken"] = json!(names.last());
            }
            Ok(out)
        }
        "ListShards" => {
            // A NextToken names the stream and the last shard of the page before.
            let (name, after) = match string(input, "NextToken")? {
                Some(token) => {
                    let text = base64::engine::general_purpose::STANDARD
                        .decode(token)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .ok_or_else(|| StreamError::invalid("Invalid NextToken."))?;
                    let (name, shard) = text
                        .split_once('\n')
                        .ok_or_else(|| StreamError::invalid("Invalid NextToken."))?;
                    (name.to_owned(), Some(shard.to_owned()))
                }
                None => (
                    stream_name(input)?,
                    string(input, "ExclusiveStartShardId")?.map(str::to_owned),
                ),
            };
            let view = streams.describe(&name)?;
            let mut shards = view.shards.clone();
            if let Some(filter) = input.get("ShardFilter").filter(|f| !f.is_null()) {
                match filter.get("Type").and_then(Value::as_str) {
                    Some("AT_LATEST") => shards.retain(ShardMeta::is_open),
                    Some("AT_TRIM_HORIZON" | "FROM_TRIM_HORIZON") => {}
                    Some("AFTER_SHARD_ID") => {
                        let id = string(filter, "ShardId")?.ok_or_else(|| {
                            StreamError::invalid("ShardFilter AFTER_SHARD_ID needs a ShardId.")
                        })?;
                        shards.retain(|s| s.id.as_str() > id);
                    }
                    Some(other) => {
                        return Err(StreamError::invalid(format!(
                            "ShardFilter type {other} is not supported by hearth."
                        )));
                    }
                    None => return Err(StreamError::invalid("ShardFilter needs a Type.")),
                }
            }
            let limit = integer(input, "MaxResults")?
                .unwrap_or(1000)
                .clamp(1, 10_000) as usize;
            let (page_shards, more) = page(&shards, |s| s.id.as_str(), after.as_deref(), limit);
            let mut out =
                json!({ "Shards": page_shards.iter().map(shard_json).collect::<Vec<_>>() });
            if more && let Some(last) = page_shards.last() {
                out["NextToken"] = json!(
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{name}\n{}", last.id))
                );
            }
            Ok(out)
        }
        "PutRecord" => {
            let name = stream_name(input)?;
            let entry = put_entry(input)?;
            let placed = streams
                .put(&name, vec![entry])
                .await?
                .pop()
                .ok_or_else(|| {
                    StreamError::new(ErrorKind::Internal, "the record was not placed")
                })??;
            Ok(json!({
                "ShardId": placed.shard_id,
                "SequenceNumber": placed.sequence_number,
                "EncryptionType": "NONE",
            }))
        }
        "PutRecords" => {
            let name = stream_name(input)?;
            let records = match input.get("Records") {
                Some(Value::Array(records)) => records,
                None | Some(Value::Null) => return Err(missing("Records")),
                Some(_) => {
                    return Err(StreamError::new(
                        ErrorKind::Serialization,
                        "Records must be a list.",
                    ));
                }
            };
            if records.is_empty() || records.len() > MAX_PUT_RECORDS {
                return Err(StreamError::validation(format!(
                    "1 validation error detected: Value '{}' at 'records' failed to satisfy constraint: Member must have length less than or equal to {MAX_PUT_RECORDS} and greater than or equal to 1",
                    records.len()
                )));
            }
            let entries = records
                .iter()
                .map(put_entry)
                .collect::<Result<Vec<_>, _>>()?;
            let total: usize = entries
                .iter()
                .map(|e| e.data.len() + e.partition_key.len())
                .sum();
            if total > MAX_PUT_RECORDS_BYTES {
                return Err(StreamError::invalid(format!(
                    "Records size exceeds {} MB limit",
                    MAX_PUT_RECORDS_BYTES >> 20
                )));
            }
            let results = streams.put(&name, entries).await?;
            let failed = results.iter().filter(|r| r.is_err()).count();
            let records: Vec<Value> = results
                .into_iter()
                .map(|r| match r {
                    Ok(p) => json!({"SequenceNumber": p.sequence_number, "ShardId": p.shard_id}),
                    Err(e) => json!({"ErrorCode": e.kind.name(), "ErrorMessage": e.message}),
                })
                .collect();
            Ok(json!({
                "FailedRecordCount": failed,
                "Records": records,
                "EncryptionType": "NONE",
            }))
        }
        "GetShardIterator" => {
            let name = stream_name(input)?;
            let shard = required(input, "ShardId")?;
            let iterator = streams.shard_iterator(&name, shard, &start_at(input)?)?;
            Ok(json!({ "ShardIterator": iterator }))
        }
        "GetRecords" => {
            let iterator = required(input, "ShardIterator")?;
            let limit = integer(input, "Limit")?.unwrap_or(kinesis::MAX_GET_RECORDS as i64);
            let limit = usize::try_from(limit).unwrap_or(0);
            let got = streams.get_records(iterator, limit)?;
            let records: Vec<Value> = got
                .read
                .records
                .iter()
                .map(|r| {
                    json!({
                        "SequenceNumber": r.sequence_number,
                        "ApproximateArrivalTimestamp": seconds(r.arrival_ms),
                        "Data": base64::engine::general_purpose::STANDARD.encode(&r.data),
                        "PartitionKey": &*r.partition_key,
                    })
                })
                .collect();
            let mut out = json!({
                "Records": records,
                "MillisBehindLatest": got.read.millis_behind,
            });
            if let Some(next) = got.next_iterator {
                out["NextShardIterator"] = json!(next);
            }
            if !got.read.children.is_empty() {
                out["ChildShards"] = got
                    .read
                    .children
                    .iter()
                    .map(|c| {
                        json!({
                            "ShardId": c.shard_id,
                            "ParentShards": c.parents,
                            "HashKeyRange": {
                                "StartingHashKey": c.start_hash.to_string(),
                                "EndingHashKey": c.end_hash.to_string(),
                            },
                        })
                    })
                    .collect();
            }
            Ok(out)
        }
        "IncreaseStreamRetentionPeriod" | "DecreaseStreamRetentionPeriod" => {
            let name = stream_name(input)?;
            let hours = integer(input, "RetentionPeriodHours")?
                .ok_or_else(|| missing("RetentionPeriodHours"))?;
            let hours = u32::try_from(hours).unwrap_or(0);
            streams
                .set_retention(&name, hours, op.starts_with("Increase"))
                .await?;
            Ok(json!({}))
        }
        "AddTagsToStream" => {
            let name = stream_name(input)?;
            let tags = input
                .get("Tags")
                .and_then(Value::as_object)
                .ok_or_else(|| missing("Tags"))?
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect();
            streams.retag(&name, tags, &[]).await?;
            Ok(json!({}))
        }
        "RemoveTagsFromStream" => {
            let name = stream_name(input)?;
            let keys: Vec<String> = input
                .get("TagKeys")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("TagKeys"))?
                .iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect();
            streams.retag(&name, Default::default(), &keys).await?;
            Ok(json!({}))
        }
        "ListTagsForStream" => {
            let tags = streams.tags(&stream_name(input)?)?;
            let start = string(input, "ExclusiveStartTagKey")?;
            let limit = integer(input, "Limit")?.unwrap_or(50).clamp(1, 50) as usize;
            let pairs: Vec<(String, String)> = tags.into_iter().collect();
            let (pairs, more) = page(&pairs, |(k, _)| k.as_str(), start, limit);
            Ok(json!({
                "Tags": pairs.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
                "HasMoreTags": more,
            }))
        }
        "SplitShard" => {
            let name = stream_name(input)?;
            streams
                .split_shard(
                    &name,
                    required(input, "ShardToSplit")?,
                    required(input, "NewStartingHashKey")?,
                )
                .await?;
            Ok(json!({}))
        }
        "MergeShards" => {
            let name = stream_name(input)?;
            streams
                .merge_shards(
                    &name,
                    required(input, "ShardToMerge")?,
                    required(input, "AdjacentShardToMerge")?,
                )
                .await?;
            Ok(json!({}))
        }
        "UpdateShardCount" => {
            let name = stream_name(input)?;
            let target =
                integer(input, "TargetShardCount")?.ok_or_else(|| missing("TargetShardCount"))?;
            let target = u32::try_from(target)
                .ok()
                .filter(|t| (1..=10_000).contains(t))
                .ok_or_else(|| {
                    StreamError::validation(format!(
                        "1 validation error detected: Value '{target}' at 'targetShardCount' failed to satisfy constraint: Member must have value between 1 and 10000"
                    ))
                })?;
            match required(input, "ScalingType")? {
                "UNIFORM_SCALING" => {}
                other => {
                    return Err(StreamError::validation(format!(
                        "1 validation error detected: Value '{other}' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]"
                    )));
                }
            }
            let current = streams.update_shard_count(&name, target).await?;
            Ok(json!({
                "StreamName": name,
                "StreamARN": streams.arn(&name),
                "CurrentShardCount": current,
                "TargetShardCount": target,
            }))
        }
        "" => Err(StreamError::new(
            ErrorKind::UnknownOperation,
            "The request names no operation.",
        )),
        other => Err(StreamError::new(
            ErrorKind::UnknownOperation,
            format!("hearth's Kinesis does not have the operation {other}."),
        )),
    }
}

/// The streams' Prometheus metrics: records held per shard.
pub fn metrics_text(streams: &Streams) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP hearth_stream_records Records a Kinesis stream's shard holds (within retention)."
    );
    let _ = writeln!(out, "# TYPE hearth_stream_records gauge");
    for stream in streams.summaries() {
        for shard in &stream.shards {
            let _ = writeln!(
                out,
                "hearth_stream_records{{stream=\"{}\",shard=\"{}\"}} {}",
                stream.name, shard.id, shard.records
            );
        }
    }
    out
}

/// What `hearth streams` shows: every stream's shards, and the mappings that read it with
/// their lag.
pub fn summaries(streams: &Streams, sources: &hearth_event_sources::EventSources) -> Value {
    let status = sources.status();
    let list: Vec<Value> = streams
        .summaries()
        .into_iter()
        .map(|s| {
            let arn = streams.arn(&s.name);
            let mappings: Vec<Value> = status
                .iter()
                .filter(|m| m.source == arn)
                .map(|m| {
                    json!({
                        "uuid": m.uuid,
                        "function": m.function,
                        "lag": m.lag,
                        "iterator_age_ms": m.iterator_age_ms,
                    })
                })
                .collect();
            json!({
                "name": s.name,
                "retention_hours": s.retention_hours,
                "on_demand": s.on_demand,
                "shards": s.shards,
                "mappings": mappings,
            })
        })
        .collect();
    json!(list)
}
