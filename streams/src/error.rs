//! The errors of the stream services, by the names their API models give them. The JSON
//! protocols carry them as `{"__type": NAME, "message": …}` with status 400 (500 for an
//! internal error), and botocore raises the modelled exception of that name.

/// Which error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    ResourceNotFound,
    ResourceInUse,
    InvalidArgument,
    LimitExceeded,
    ExpiredIterator,
    ProvisionedThroughputExceeded,
    /// DynamoDB: a write's `ConditionExpression` did not hold.
    ConditionalCheckFailed,
    /// A field outside its model's constraints (length, pattern, range).
    Validation,
    /// A body that is not JSON at all.
    Serialization,
    /// An operation the service does not have.
    UnknownOperation,
    /// The disk refused a write: nothing was acknowledged.
    Internal,
}

impl ErrorKind {
    /// The `__type` of the JSON protocol: the exception's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ResourceNotFound => "ResourceNotFoundException",
            Self::ResourceInUse => "ResourceInUseException",
            Self::InvalidArgument => "InvalidArgumentException",
            Self::LimitExceeded => "LimitExceededException",
            Self::ExpiredIterator => "ExpiredIteratorException",
            Self::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            Self::ConditionalCheckFailed => "ConditionalCheckFailedException",
            Self::Validation => "ValidationException",
            Self::Serialization => "SerializationException",
            Self::UnknownOperation => "UnknownOperationException",
            Self::Internal => "InternalFailure",
        }
    }

    /// The HTTP status the error goes out with.
    pub fn status(self) -> u16 {
        match self {
            Self::Internal => 500,
            _ => 400,
        }
    }
}

/// An error with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    pub kind: ErrorKind,
    pub message: String,
}

impl StreamError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Validation, message)
    }
}

impl From<hearth_journal::JournalError> for StreamError {
    fn from(e: hearth_journal::JournalError) -> Self {
        Self::new(ErrorKind::Internal, e.to_string())
    }
}
