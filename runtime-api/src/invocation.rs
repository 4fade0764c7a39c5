//! One invocation, as `GET /2018-06-01/runtime/invocation/next` delivers it.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// An invocation on its way to a runtime. Every field maps to one `/next` header, except the
/// payload, which is the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `Lambda-Runtime-Aws-Request-Id`: a UUID, also the `RequestId` of the log lines.
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`: wall-clock deadline as unix milliseconds.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`: the ARN the caller used, qualifier included.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context`: decoded JSON from `X-Amz-Client-Context`.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`: JSON, when present.
    pub cognito_identity: Option<String>,
    /// The event bytes.
    pub payload: Vec<u8>,
}

/// Turns a monotonic deadline into the unix-millisecond form `/next` sends.
pub fn deadline_unix_ms(deadline: Instant) -> u64 {
    deadline_unix_ms_at(deadline, Instant::now(), SystemTime::now())
}

/// [`deadline_unix_ms`] with both clocks given: the wall-clock time `deadline` falls on when
/// the monotonic clock reads `now` and the wall clock `wall_now`.
pub fn deadline_unix_ms_at(deadline: Instant, now: Instant, wall_now: SystemTime) -> u64 {
    let remaining = deadline.saturating_duration_since(now);
    let wall = wall_now.duration_since(UNIX_EPOCH).unwrap_or_default();
    (wall + remaining).as_millis() as u64
}

/// A fresh request id: a random (v4) UUID, as Lambda uses.
pub fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A fresh X-Ray style trace header: `Root=1-{epoch secs hex}-{96 random bits hex};Parent=…;Sampled=0`.
pub fn new_trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let root = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &root[..24],
        &parent[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_has_the_xray_shape() {
        let t = new_trace_id();
        let root = t.strip_prefix("Root=1-").expect("prefix");
        let (root, rest) = root.split_once(';').expect("parent");
        let (epoch, random) = root.split_once('-').expect("two parts");
        assert_eq!(epoch.len(), 8);
        assert_eq!(random.len(), 24);
        assert!(rest.starts_with("Parent=") && rest.ends_with(";Sampled=0"));
    }

    #[test]
    fn deadline_is_in_the_future_by_the_remaining_time() {
        let now = Instant::now();
        let wall = UNIX_EPOCH + std::time::Duration::from_millis(1_795_501_115_250);
        let in_3s = now + std::time::Duration::from_secs(3);
        assert_eq!(deadline_unix_ms_at(in_3s, now, wall), 1_795_501_118_250);
        assert_eq!(
            deadline_unix_ms_at(now, in_3s, wall),
            1_795_501_115_250,
            "a deadline already past is now"
        );
    }
}
