//! What can go wrong, per operation. The front door maps each variant to Lambda's wire error
//! once (`x-amzn-ErrorType`, status, message).

/// A function (or qualifier) that does not exist. The message is Lambda's.
#[derive(Debug, Clone, thiserror::Error)]
#[error("Function not found: {arn}")]
pub struct NotFound {
    pub arn: String,
}

/// Why a deploy or configuration change was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// A request member breaks its constraint (`ValidationException`).
    #[error("{0}")]
    Validation(String),
    /// A parameter is missing or out of range (`InvalidParameterValueException`).
    #[error("{0}")]
    InvalidParameter(String),
    /// The name is taken (`ResourceConflictException`).
    #[error("Function already exist: {0}")]
    AlreadyExists(String),
    /// Another conflict: an alias that exists, a version an alias still points to
    /// (`ResourceConflictException`).
    #[error("{0}")]
    Conflict(String),
    /// A `RevisionId` that is not the current one (`PreconditionFailedException`, 412).
    #[error(
        "The Revision Id provided does not match the latest Revision Id. Call the {0} API to retrieve the latest Revision Id"
    )]
    PreconditionFailed(&'static str),
    /// No provisioned-concurrency config for that qualifier
    /// (`ProvisionedConcurrencyConfigNotFoundException`, 404).
    #[error("{0}")]
    ProvisionedNotFound(String),
    /// A resource other than a function (alias, config) that does not exist
    /// (`ResourceNotFoundException`).
    #[error("{0}")]
    ResourceNotFound(String),
    /// The package is not a readable zip, or breaks a zip limit (`InvalidZipFileException`
    /// or `RequestTooLargeException` for the size limits, as Lambda does).
    #[error("{0}")]
    InvalidZip(String),
    /// The package exceeds Lambda's size limit (`RequestEntityTooLargeException`).
    #[error("{0}")]
    TooLarge(String),
    /// The code is not a valid component for this runtime (`InvalidParameterValueException`).
    #[error("{0}")]
    InvalidCode(String),
    /// The account's code storage quota would be exceeded (`CodeStorageExceededException`).
    #[error("{0}")]
    CodeStorageExceeded(String),
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// Reading or writing state failed (`ServiceException`).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why an invocation could not run. A function error is not an [`InvokeError`]: it is a
/// successful invoke whose response carries `X-Amz-Function-Error`.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// Over a concurrency limit (`TooManyRequestsException`, 429, with `Reason`).
    #[error("Rate Exceeded.")]
    Throttled { reason: ThrottleReason },
    /// The request breaks a rule (`InvalidRequestContentException` / `InvalidParameterValueException`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The payload exceeds the limit for this invocation type (`RequestEntityTooLargeException`).
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The host could not provide a sandbox now: every instance slot is taken
    /// (`TooManyRequestsException`, 429: excess load is a throttle, never a 500).
    #[error("{0}")]
    Capacity(String),
    /// The asynchronous queue is at its bound (`TooManyRequestsException`, 429).
    #[error("{0}")]
    QueueFull(String),
    /// Something failed inside hearth: the queue's disk, an invocation task
    /// (`ServiceException`, 500).
    #[error("{0}")]
    Internal(String),
    /// The server is shutting down (`ServiceException`).
    #[error("the service is shutting down")]
    ShuttingDown,
    /// A SnapStart version whose snapshot is still being taken
    /// (`SnapStartNotReadyException`, 409).
    #[error(
        "Lambda is initializing your function. It will be ready to invoke once your function state becomes ACTIVE."
    )]
    SnapStartNotReady,
    /// A sandbox restored from a snapshot failed its `after_restore` hook or crashed while
    /// restoring (`SnapStartException`, 400).
    #[error(
        "The afterRestore() runtime hook encountered an error. For more information, check the function's log."
    )]
    SnapStartFailed,
    /// A restore did not reach the runtime's first `next` within the 10 s limit
    /// (`SnapStartTimeoutException`, 408).
    #[error("Lambda couldn't restore the snapshot within the timeout limit.")]
    SnapStartTimeout,
    /// A version that cannot run: its snapshot's INIT failed (`ResourceConflictException`,
    /// 409, naming the state and why).
    #[error("{0}")]
    NotActive(String),
}

/// The `Reason` of a `TooManyRequestsException`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The function is at its reserved concurrency (or it is 0).
    ReservedFunctionConcurrentInvocationLimitExceeded,
    /// The unreserved part of the account limit is used up, or the warm pool's memory
    /// budget cannot fit another sandbox.
    ConcurrentInvocationLimitExceeded,
}

impl ThrottleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReservedFunctionConcurrentInvocationLimitExceeded => {
                "ReservedFunctionConcurrentInvocationLimitExceeded"
            }
            Self::ConcurrentInvocationLimitExceeded => "ConcurrentInvocationLimitExceeded",
        }
    }
}
