//! Typed events of the event sources, for handlers given to [`crate::run`].
//!
//! Only what functions read: deserializing ignores fields not listed, so events from
//! Lambda itself parse as well.

/// SQS: the event of a queue's event source mapping, and the partial batch response.
pub mod sqs {
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    /// `{"Records": [...]}`.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    pub struct SqsEvent {
        pub records: Vec<SqsMessage>,
    }

    /// One message of a batch.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SqsMessage {
        pub message_id: String,
        pub receipt_handle: String,
        pub body: String,
        #[serde(default)]
        pub attributes: BTreeMap<String, String>,
        #[serde(default)]
        pub message_attributes: BTreeMap<String, MessageAttribute>,
        #[serde(default)]
        pub md5_of_message_attributes: Option<String>,
        pub md5_of_body: String,
        pub event_source: String,
        #[serde(rename = "eventSourceARN")]
        pub event_source_arn: String,
        pub aws_region: String,
    }

    /// A message attribute (`binaryValue` is base64).
    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct MessageAttribute {
        pub data_type: String,
        #[serde(default)]
        pub string_value: Option<String>,
        #[serde(default)]
        pub binary_value: Option<String>,
    }

    /// `ReportBatchItemFailures`' answer: the messages that failed, by id.
    #[derive(Debug, Clone, Default, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SqsBatchResponse {
        pub batch_item_failures: Vec<BatchItemFailure>,
    }

    #[derive(Debug, Clone, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BatchItemFailure {
        pub item_identifier: String,
    }
}

/// Kinesis: the event of a stream's event source mapping, and the partial batch response.
pub mod kinesis {
    use base64::Engine as _;
    use serde::{Deserialize, Serialize};

    /// `{"Records": [...]}`: records of one shard, in order; with a tumbling window, also the
    /// window, the state the window's previous invoke returned, and whether this is its
    /// final invoke.
    #[derive(Debug, Clone, Deserialize)]
    pub struct KinesisEvent {
        #[serde(rename = "Records")]
        pub records: Vec<KinesisEventRecord>,
        #[serde(default)]
        pub window: Option<TimeWindow>,
        #[serde(default)]
        pub state: Option<serde_json::Value>,
        #[serde(default, rename = "shardId")]
        pub shard_id: Option<String>,
        #[serde(default, rename = "isFinalInvokeForWindow")]
        pub is_final_invoke_for_window: bool,
        #[serde(default, rename = "isWindowTerminatedEarly")]
        pub is_window_terminated_early: bool,
    }

    /// A tumbling window's bounds (ISO 8601).
    #[derive(Debug, Clone, Deserialize)]
    pub struct TimeWindow {
        pub start: String,
        pub end: String,
    }

    /// One record with where it came from.
    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct KinesisEventRecord {
        pub kinesis: KinesisRecord,
        #[serde(rename = "eventID")]
        pub event_id: String,
        pub event_name: String,
        pub event_source: String,
        #[serde(rename = "eventSourceARN")]
        pub event_source_arn: String,
        pub aws_region: String,
    }

    /// The record itself (`data` is base64).
    #[derive(Debug, Clone, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct KinesisRecord {
        pub partition_key: String,
        pub sequence_number: String,
        pub data: String,
        /// Seconds since the epoch.
        pub approximate_arrival_timestamp: f64,
    }

    impl KinesisRecord {
        /// The record's data, decoded (empty if it is not valid base64).
        pub fn bytes(&self) -> Vec<u8> {
            base64::engine::general_purpose::STANDARD
                .decode(&self.data)
                .unwrap_or_default()
        }
    }

    /// `ReportBatchItemFailures`' answer: the records that failed, by sequence number.
    #[derive(Debug, Clone, Default, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct KinesisEventResponse {
        pub batch_item_failures: Vec<BatchItemFailure>,
    }

    #[derive(Debug, Clone, Serialize)]
    #[serde(rename_all = "camelCase")]
    pub struct BatchItemFailure {
        pub item_identifier: String,
    }
}
