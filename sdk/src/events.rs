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
