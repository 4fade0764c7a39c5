//! Error bodies: what a runtime posts to `/error`, and what hearth reports when the sandbox
//! itself fails.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The body of `POST /runtime/invocation/{id}/error` and `/runtime/init/error`, and the body the
/// caller of a failed invocation receives (with `X-Amz-Function-Error: Unhandled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionError {
    #[serde(rename = "errorType")]
    pub error_type: String,
    #[serde(rename = "errorMessage")]
    pub error_message: String,
    #[serde(rename = "stackTrace", default, skip_serializing_if = "Vec::is_empty")]
    pub stack_trace: Vec<String>,
}

impl FunctionError {
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error_message.into(),
            stack_trace: Vec::new(),
        }
    }

    /// The JSON body the caller sees.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing a struct of strings cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Ways a sandbox fails on its own (not through the function's `/error`). Each discards the
/// sandbox: the next invocation is a cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxFailure {
    /// The invocation ran past the function's timeout.
    Timeout { timeout: Duration },
    /// INIT did not reach the first `next` within the init limit.
    InitTimeout { limit: Duration },
    /// The runtime exited or trapped; `detail` is "exit status 1", "wasm trap: …", …
    Exited { detail: String },
    /// The function's memory limit was hit.
    OutOfMemory { detail: String },
    /// `/tmp` grew past the function's `EphemeralStorage.Size`.
    TmpExceeded { limit_mb: u64 },
    /// The response exceeded the Runtime API's response limit.
    ResponseTooLarge { size: usize, limit: usize },
}

impl SandboxFailure {
    /// Lambda's error type and message for this failure, as the caller sees them.
    pub fn to_function_error(&self, request_id: &str) -> FunctionError {
        match self {
            Self::Timeout { timeout } => FunctionError::new(
                "Sandbox.Timedout",
                format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    timeout.as_secs_f64()
                ),
            ),
            Self::InitTimeout { limit } => FunctionError::new(
                "Sandbox.Timedout",
                format!(
                    "RequestId: {request_id} Error: INIT phase timed out after {:.2} seconds",
                    limit.as_secs_f64()
                ),
            ),
            Self::Exited { detail } => FunctionError::new(
                "Runtime.ExitError",
                format!("RequestId: {request_id} Error: Runtime exited with error: {detail}"),
            ),
            Self::OutOfMemory { detail } => FunctionError::new(
                "Runtime.OutOfMemory",
                format!("RequestId: {request_id} Error: Runtime exited with error: {detail}"),
            ),
            Self::TmpExceeded { limit_mb } => FunctionError::new(
                "Runtime.ExitError",
                format!(
                    "RequestId: {request_id} Error: Runtime exited with error: /tmp exceeded its EphemeralStorage size of {limit_mb} MB"
                ),
            ),
            Self::ResponseTooLarge { size, limit } => FunctionError::new(
                "Function.ResponseSizeTooLarge",
                format!(
                    "Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes)."
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_message_matches_lambda() {
        let e = SandboxFailure::Timeout {
            timeout: Duration::from_secs(1),
        }
        .to_function_error("abc");
        assert_eq!(e.error_type, "Sandbox.Timedout");
        assert_eq!(
            e.error_message,
            "RequestId: abc Error: Task timed out after 1.00 seconds"
        );
    }

    #[test]
    fn error_body_uses_lambda_field_names() {
        let body = FunctionError::new("Boom", "bad").to_json();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["errorType"], "Boom");
        assert_eq!(v["errorMessage"], "bad");
        assert!(v.get("stackTrace").is_none());
    }
}
