//! What a stream mapping reads: a Kinesis stream, or a DynamoDB table's stream. Both are
//! seen through the same shard-and-sequence-number view, so one poller serves both; a
//! DynamoDB stream record arrives as a [`Record`] whose data is the event record Lambda
//! sends (already JSON) and whose partition key is the item's key.

use hearth_streams::dynamodb::table::Tables;
use hearth_streams::dynamodb::{self, record_json, stream_sequence, stream_shard_id};
use hearth_streams::kinesis::{Read, Record, ShardMeta, StartAt};
use hearth_streams::{StreamError, Streams};
use std::time::Duration;

/// A stream a mapping reads.
#[derive(Debug, Clone)]
pub enum Source {
    Kinesis {
        streams: Streams,
        name: String,
    },
    Dynamo {
        tables: Tables,
        table: String,
        label: String,
        arn: String,
    },
}

impl Source {
    /// The source an ARN names, if it exists.
    pub fn of(arn: &str, streams: &Streams, tables: &Tables) -> Result<Self, StreamError> {
        if let Some(name) = Streams::arn_stream_name(arn) {
            streams.describe(name)?;
            return Ok(Self::Kinesis {
                streams: streams.clone(),
                name: name.to_owned(),
            });
        }
        if let Some((table, label)) = dynamodb::parse_stream_arn(arn) {
            let known = tables
                .stream_labels(table)?
                .into_iter()
                .any(|(l, _)| l == label);
            if !known {
                return Err(StreamError::new(
                    hearth_streams::ErrorKind::ResourceNotFound,
                    format!("Stream not found: {arn}"),
                ));
            }
            return Ok(Self::Dynamo {
                tables: tables.clone(),
                table: table.to_owned(),
                label: label.to_owned(),
                arn: arn.to_owned(),
            });
        }
        Err(StreamError::invalid(format!("{arn} is not a stream ARN")))
    }

    pub fn is_dynamo(&self) -> bool {
        matches!(self, Self::Dynamo { .. })
    }

    /// Milliseconds since the epoch on the source's clock.
    pub fn now_ms(&self) -> u64 {
        match self {
            Self::Kinesis { streams, .. } => streams.clock().now_ms(),
            Self::Dynamo { tables, .. } => tables.clock().now_ms(),
        }
    }

    fn dynamo_open(tables: &Tables, table: &str, label: &str) -> bool {
        tables.table(table).is_ok_and(|t| {
            let meta = t.meta();
            meta.stream_view_type.is_some() && meta.stream_label.as_deref() == Some(label)
        })
    }

    /// The shards, parents before children.
    pub fn shards(&self) -> Result<Vec<ShardMeta>, StreamError> {
        match self {
            Self::Kinesis { streams, name } => Ok(streams.describe(name)?.shards),
            Self::Dynamo {
                tables,
                table,
                label,
                ..
            } => {
                let end = tables.stream_end(table)?;
                let open = Self::dynamo_open(tables, table, label);
                Ok(vec![ShardMeta {
                    id: stream_shard_id(label),
                    parent: None,
                    adjacent_parent: None,
                    start_hash: 0,
                    end_hash: u128::MAX,
                    starting_seq: 0,
                    ending_seq: (!open).then_some(end),
                    closed_ms: None,
                }])
            }
        }
    }

    /// Where a read from `at` starts.
    pub fn start(&self, shard: &str, at: &StartAt) -> Result<u64, StreamError> {
        match self {
            Self::Kinesis { streams, name } => streams.start(name, shard, at),
            Self::Dynamo { tables, table, .. } => Ok(match at {
                StartAt::Latest => tables.stream_end(table)?,
                StartAt::AtSequence(s) => parse_dynamo_sequence(s)?,
                StartAt::AfterSequence(s) => parse_dynamo_sequence(s)? + 1,
                // Refused at the mapping's creation for DynamoDB.
                StartAt::TrimHorizon | StartAt::AtTimestamp(_) => 0,
            }),
        }
    }

    /// Up to `limit` durable records of `shard` from `from`.
    pub fn read(&self, shard: &str, from: u64, limit: usize) -> Result<Read, StreamError> {
        match self {
            Self::Kinesis { streams, name } => streams.read_shard(name, shard, from, limit),
            Self::Dynamo {
                tables,
                table,
                label,
                arn,
            } => {
                let open = Self::dynamo_open(tables, table, label);
                let read = tables.read_stream(table, label, from, limit)?;
                let region = tables.region();
                let now = tables.clock().now_ms();
                let full = read.records.len() >= limit;
                let millis_behind = if full {
                    read.records
                        .last()
                        .map_or(0, |r| now.saturating_sub(r.created_ms))
                } else {
                    0
                };
                let records: Vec<Record> = read
                    .records
                    .iter()
                    .map(|r| Record {
                        sequence_number: stream_sequence(r.seq),
                        seq: r.seq,
                        arrival_ms: r.created_ms,
                        partition_key: dynamodb::value::item_to_json(&r.keys).to_string().into(),
                        data: serde_json::to_vec(&record_json(region, r, Some(arn)))
                            .unwrap_or_default()
                            .into(),
                    })
                    .collect();
                let finished = !open && records.is_empty();
                Ok(Read {
                    records,
                    next: (!finished).then_some(read.next),
                    millis_behind,
                    children: Vec::new(),
                })
            }
        }
    }

    /// Waits until records may have arrived (or `timeout` passes).
    pub async fn wait(&self, timeout: Duration) {
        match self {
            Self::Kinesis { streams, name } => streams.wait(name, timeout).await,
            Self::Dynamo { .. } => tokio::time::sleep(timeout).await,
        }
    }

    /// Durable records of `shard` at or after `from`.
    pub fn backlog(&self, shard: &str, from: u64) -> Result<usize, StreamError> {
        match self {
            Self::Kinesis { streams, name } => streams.backlog(name, shard, from),
            Self::Dynamo {
                tables,
                table,
                label,
                ..
            } => tables.stream_backlog(table, label, from),
        }
    }
}

fn parse_dynamo_sequence(text: &str) -> Result<u64, StreamError> {
    text.parse()
        .map_err(|_| StreamError::invalid(format!("Invalid SequenceNumber {text}")))
}
