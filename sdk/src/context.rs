//! [`Context`] (per invocation) and [`Config`] (per sandbox).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Per-invocation context, like the Lambda Rust runtime's `Context`.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `Lambda-Runtime-Aws-Request-Id`: the invocation's request id.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`: the deadline as unix milliseconds.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`: the ARN the caller invoked (may carry a
    /// version or alias qualifier).
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`: the X-Ray style trace header.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context`: JSON, when the caller sent one.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`: JSON, when present.
    pub identity: Option<String>,
    /// The function's settings, read once from the environment at start.
    pub env_config: Config,
}

impl Context {
    /// The invocation's deadline as a wall-clock time.
    pub fn deadline(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.deadline_ms)
    }

    /// Time left until the deadline; zero once it has passed.
    pub fn remaining_time(&self) -> Duration {
        self.deadline()
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

/// Function settings read once from the environment at start. Missing or unparsable
/// variables give empty strings / `0`; reading never panics.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MiB.
    pub memory_mb: u32,
    /// `AWS_LAMBDA_FUNCTION_VERSION`, e.g. `$LATEST`.
    pub version: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String,
}

impl Config {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name| lookup(name).unwrap_or_default();
        Self {
            function_name: var("AWS_LAMBDA_FUNCTION_NAME"),
            memory_mb: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                .trim()
                .parse()
                .unwrap_or(0),
            version: var("AWS_LAMBDA_FUNCTION_VERSION"),
            log_group: var("AWS_LAMBDA_LOG_GROUP_NAME"),
            log_stream: var("AWS_LAMBDA_LOG_STREAM_NAME"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_lookup() {
        let c = Config::from_lookup(|name| match name {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("f".into()),
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" => Some("256".into()),
            "AWS_LAMBDA_FUNCTION_VERSION" => Some("$LATEST".into()),
            _ => None,
        });
        assert_eq!(c.function_name, "f");
        assert_eq!(c.memory_mb, 256);
        assert_eq!(c.version, "$LATEST");
        assert_eq!(c.log_group, "");
        assert_eq!(c.log_stream, "");
    }

    #[test]
    fn config_bad_memory_is_zero() {
        let c = Config::from_lookup(|_| Some("lots".into()));
        assert_eq!(c.memory_mb, 0);
        assert_eq!(Config::from_lookup(|_| None).memory_mb, 0);
    }

    #[test]
    fn remaining_time() {
        let past = Context {
            deadline_ms: 1_000,
            ..Context::default()
        };
        assert_eq!(past.remaining_time(), Duration::ZERO);
        assert_eq!(past.deadline(), UNIX_EPOCH + Duration::from_secs(1));

        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let future = Context {
            deadline_ms: now_ms + 60_000,
            ..Context::default()
        };
        let left = future.remaining_time();
        assert!(left > Duration::from_secs(50) && left <= Duration::from_secs(60));
    }
}
