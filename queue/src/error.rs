//! SQS's errors, by the names its API models give them.

/// Which of SQS's errors. The wire codes of both protocols come from here, so a client's
/// `except sqs.exceptions.QueueDoesNotExist` works whichever protocol it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    QueueDoesNotExist,
    QueueNameExists,
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
    InvalidMessageContents,
    ReceiptHandleIsInvalid,
    MessageNotInflight,
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    OverLimit,
    ResourceNotFound,
    UnsupportedOperation,
    /// An operation SQS does not have.
    InvalidAction,
    /// A body that is not JSON (or a form) at all.
    MalformedInput,
    /// The disk refused a write: the request was not acknowledged.
    Internal,
}

impl ErrorKind {
    /// The JSON protocol's `__type` (after `com.amazonaws.sqs#`), the exception's name.
    pub fn json_type(self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "QueueDoesNotExist",
            Self::QueueNameExists => "QueueNameExists",
            Self::InvalidAttributeName => "InvalidAttributeName",
            Self::InvalidAttributeValue => "InvalidAttributeValue",
            Self::InvalidParameterValue => "InvalidParameterValue",
            Self::MissingParameter => "MissingParameter",
            Self::InvalidMessageContents => "InvalidMessageContents",
            Self::ReceiptHandleIsInvalid => "ReceiptHandleIsInvalid",
            Self::MessageNotInflight => "MessageNotInflight",
            Self::BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            Self::BatchRequestTooLong => "BatchRequestTooLong",
            Self::EmptyBatchRequest => "EmptyBatchRequest",
            Self::InvalidBatchEntryId => "InvalidBatchEntryId",
            Self::TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            Self::PurgeQueueInProgress => "PurgeQueueInProgress",
            Self::QueueDeletedRecently => "QueueDeletedRecently",
            Self::OverLimit => "OverLimit",
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::UnsupportedOperation => "UnsupportedOperation",
            Self::InvalidAction => "InvalidAction",
            Self::MalformedInput => "SerializationException",
            Self::Internal => "InternalError",
        }
    }

    /// The query protocol's `Code` (also sent to JSON clients in `x-amzn-query-error`).
    pub fn query_code(self) -> &'static str {
        match self {
            Self::QueueDoesNotExist => "AWS.SimpleQueueService.NonExistentQueue",
            Self::QueueNameExists => "QueueAlreadyExists",
            Self::MessageNotInflight => "AWS.SimpleQueueService.MessageNotInflight",
            Self::BatchEntryIdsNotDistinct => "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
            Self::BatchRequestTooLong => "AWS.SimpleQueueService.BatchRequestTooLong",
            Self::EmptyBatchRequest => "AWS.SimpleQueueService.EmptyBatchRequest",
            Self::InvalidBatchEntryId => "AWS.SimpleQueueService.InvalidBatchEntryId",
            Self::TooManyEntriesInBatchRequest => {
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
            }
            Self::PurgeQueueInProgress => "AWS.SimpleQueueService.PurgeQueueInProgress",
            Self::QueueDeletedRecently => "AWS.SimpleQueueService.QueueDeletedRecently",
            Self::UnsupportedOperation => "AWS.SimpleQueueService.UnsupportedOperation",
            Self::MalformedInput => "MalformedQueryString",
            other => other.json_type(),
        }
    }

    /// The HTTP status SQS answers with.
    pub fn status(self) -> u16 {
        match self {
            Self::OverLimit | Self::PurgeQueueInProgress => 403,
            Self::ResourceNotFound => 404,
            Self::Internal => 500,
            _ => 400,
        }
    }

    /// Whether the caller is at fault (`Sender`) or hearth (`Receiver`).
    pub fn sender_fault(self) -> bool {
        self != Self::Internal
    }
}

/// An SQS error with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqsError {
    pub kind: ErrorKind,
    pub message: String,
}

impl SqsError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn no_queue() -> Self {
        Self::new(
            ErrorKind::QueueDoesNotExist,
            "The specified queue does not exist.",
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }

    pub fn missing(parameter: &str) -> Self {
        Self::new(
            ErrorKind::MissingParameter,
            format!("The request must contain the parameter {parameter}."),
        )
    }
}

impl From<hearth_journal::JournalError> for SqsError {
    fn from(e: hearth_journal::JournalError) -> Self {
        Self::new(ErrorKind::Internal, e.to_string())
    }
}
