//! Payload limits of the Runtime API (Lambda quotas, "Function configuration, deployment, and
//! execution" table).

/// Largest response a runtime may post to `/runtime/invocation/{id}/response`: 6 MB plus the
/// 100 bytes of slack Lambda allows (413 `RequestEntityTooLarge` above it).
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// Largest response a runtime may stream (`Lambda-Runtime-Function-Response-Mode: streaming`)
/// to a caller that reads it as a stream: 20 MiB, the custom-runtime documentation's limit.
pub const MAX_STREAMED_RESPONSE_BYTES: usize = 20 * 1024 * 1024;

/// Largest synchronous invocation payload (Invoke API, 413 above it).
pub const MAX_SYNC_PAYLOAD_BYTES: usize = 6_291_456;

/// Largest asynchronous (`Event`) invocation payload: 1 MB since late 2025.
pub const MAX_ASYNC_PAYLOAD_BYTES: usize = 1_048_576;

/// Largest decoded `X-Amz-Client-Context` (the header carries it base64-encoded).
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3_583;

/// The INIT phase ends when the runtime first asks for work; Lambda allows it 10 seconds.
pub const INIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
