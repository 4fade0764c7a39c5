//! Lambda's wire errors: the one place scheduler errors become HTTP.
//!
//! boto3 and the AWS CLI read the code from `x-amzn-ErrorType` (text before `:`), else from
//! the body's `__type`/`code`; the message from `message` or `Message`; the request id from
//! `x-amzn-RequestId`. Bodies carry `Type` (`User` or `Service`) and `Message` as Lambda's do.

use super::{Body, full};
use hearth_scheduler::error::{DeployError, InvokeError};
use hyper::{Response, StatusCode};
use serde_json::json;

/// An error answer in Lambda's shape.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `TooManyRequestsException`'s `Reason`.
    pub reason: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            reason: None,
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            message,
        )
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLargeException",
            message,
        )
    }

    /// The HTTP response, with `request_id` in `x-amzn-RequestId`.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let kind = if self.status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut body = json!({ "Type": kind, "Message": self.message });
        if let Some(reason) = self.reason {
            body["Reason"] = json!(reason);
        }
        let mut builder = Response::builder()
            .status(self.status)
            .header("x-amzn-ErrorType", self.code)
            .header("x-amzn-RequestId", request_id)
            .header("Content-Type", "application/json");
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            builder = builder.header("Retry-After", "1");
        }
        builder
            .body(full(body.to_string()))
            .unwrap_or_else(|_| Response::new(full("")))
    }
}

impl From<InvokeError> for ApiError {
    fn from(e: InvokeError) -> Self {
        let message = e.to_string();
        match e {
            InvokeError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
            }
            InvokeError::Throttled { reason } => Self {
                reason: Some(reason.as_str()),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    message,
                )
            },
            InvokeError::InvalidRequest(_) => Self::invalid_parameter(message),
            InvokeError::PayloadTooLarge(_) => Self::too_large(message),
            InvokeError::Capacity(_) => Self {
                reason: Some(
                    hearth_scheduler::error::ThrottleReason::ConcurrentInvocationLimitExceeded
                        .as_str(),
                ),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    message,
                )
            },
            InvokeError::QueueFull(_) => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequestsException",
                message,
            ),
            InvokeError::SnapStartNotReady => {
                Self::new(StatusCode::CONFLICT, "SnapStartNotReadyException", message)
            }
            InvokeError::SnapStartFailed => {
                Self::new(StatusCode::BAD_REQUEST, "SnapStartException", message)
            }
            InvokeError::SnapStartTimeout => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "SnapStartTimeoutException",
                message,
            ),
            InvokeError::NotActive(_) => {
                Self::new(StatusCode::CONFLICT, "ResourceConflictException", message)
            }
            InvokeError::Internal(_) | InvokeError::ShuttingDown => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                message,
            ),
        }
    }
}

impl From<DeployError> for ApiError {
    fn from(e: DeployError) -> Self {
        let message = e.to_string();
        match e {
            DeployError::Validation(_) => {
                Self::new(StatusCode::BAD_REQUEST, "ValidationException", message)
            }
            DeployError::InvalidParameter(_)
            | DeployError::InvalidZip(_)
            | DeployError::InvalidCode(_) => Self::invalid_parameter(message),
            DeployError::AlreadyExists(_) | DeployError::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "ResourceConflictException", message)
            }
            DeployError::PreconditionFailed(_) => Self::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailedException",
                message,
            ),
            DeployError::ProvisionedNotFound(_) => Self::new(
                StatusCode::NOT_FOUND,
                "ProvisionedConcurrencyConfigNotFoundException",
                message,
            ),
            DeployError::ResourceNotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
            }
            DeployError::TooLarge(_) => Self::too_large(message),
            DeployError::CodeStorageExceeded(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "CodeStorageExceededException",
                message,
            ),
            DeployError::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
            }
            DeployError::Internal(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                message,
            ),
        }
    }
}

impl From<hearth_scheduler::NotFound> for ApiError {
    fn from(e: hearth_scheduler::NotFound) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            e.to_string(),
        )
    }
}
