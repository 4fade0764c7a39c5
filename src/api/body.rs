//! Reading request bodies: bounded per route, by a server-wide budget of buffered bytes, and
//! in time.
//!
//! Every handler works on a buffered body (a signature covers the whole body, and every
//! Lambda operation parses JSON or takes a payload whole), so the front door reads it once,
//! here, after the request's headers have passed every check that needs no body. Three
//! bounds apply while it is read:
//!
//! - **per route** ([`route_limit`]): what the operation can take at most (Invoke 6 MB,
//!   CreateFunction and UpdateFunctionCode a 50 MB zip in base64 JSON, anything else 1 MB);
//!   a larger declared `Content-Length` is a 413 before a byte is read;
//! - **server-wide** ([`BodyBudget`]): the bytes of all bodies being held at once. A body
//!   that does not fit is a 429 (`TooManyRequestsException`, which the AWS SDKs retry),
//!   never an allocation the server cannot afford;
//! - **in time**: the whole body must arrive within the body-read timeout, so a client that
//!   trickles bytes cannot hold a buffer and a connection forever.

use super::errors::ApiError;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{HeaderMap, Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Any operation's body that is not an invocation or a deployment package: configuration,
/// tags, aliases (Lambda's environment is 4 KB; 1 MB leaves room for every field at once).
pub const MAX_SMALL_REQUEST_BYTES: usize = 1024 * 1024;

/// The most a request on `method` `path` may carry.
pub fn route_limit(method: &Method, path: &str) -> usize {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (&Method::POST, ["2015-03-31", "functions", _, "invocations"])
        | (
            &Method::POST,
            [
                "2021-11-15",
                "functions",
                _,
                "response-streaming-invocations",
            ],
        ) => hearth_runtime_api::limits::MAX_SYNC_PAYLOAD_BYTES,
        (&Method::POST, ["2015-03-31", "functions"])
        | (&Method::PUT, ["2015-03-31", "functions", _, "code"]) => {
            super::functions::MAX_CREATE_REQUEST_BYTES
        }
        _ => MAX_SMALL_REQUEST_BYTES,
    }
}

/// The server-wide budget of request-body bytes held in memory at once.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    capacity: usize,
}

/// Bytes of the budget held by one request until it is answered.
#[derive(Debug)]
pub struct BodyReservation {
    _permit: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.min(Semaphore::MAX_PERMITS);
        Self {
            bytes: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Bytes free right now.
    pub fn available(&self) -> usize {
        self.bytes.available_permits()
    }

    /// Reserves `n` more bytes into `held`, or refuses with a 429.
    fn reserve(&self, held: &mut Option<OwnedSemaphorePermit>, n: usize) -> Result<(), ApiError> {
        if n == 0 {
            return Ok(());
        }
        let more = u32::try_from(n)
            .ok()
            .and_then(|n| self.bytes.clone().try_acquire_many_owned(n).ok())
            .ok_or_else(|| {
                let mut e = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequestsException",
                    format!(
                        "The server is holding as many request bodies as it may ({} bytes); retry shortly",
                        self.capacity
                    ),
                );
                e.reason = Some("ServerRequestBodyBudgetExceeded");
                e
            })?;
        match held {
            Some(permit) => permit.merge(more),
            None => *held = Some(more),
        }
        Ok(())
    }
}

/// Bodies over a limit are still read (and discarded) up to this size before the 413 goes
/// out, when the client is known to be entitled to an answer (signed, or no credentials
/// configured): a client still sending when the server answers and closes sees a reset
/// instead of the error. Beyond it, the connection is closed at once.
const DRAIN_LIMIT: u64 = 128 * 1024 * 1024;

/// `Content-Length`, when the client sent a valid one.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The 413 for a request over its route's limit.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::too_large(format!("Request must be smaller than {limit} bytes"))
}

/// Reads a whole body of at most `limit` bytes within `timeout`, holding its bytes in
/// `budget` until the returned reservation is dropped.
pub async fn read<B>(
    headers: &HeaderMap,
    mut body: B,
    limit: usize,
    budget: &BodyBudget,
    timeout: Duration,
) -> Result<(Bytes, BodyReservation), ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let declared = declared_length(headers);
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT) {
            let _ = tokio::time::timeout(timeout, drain(&mut body)).await;
        }
        return Err(too_large(limit));
    }
    let mut held = None;
    // A declared length is reserved up front, so a body that cannot fit is refused before
    // it is read; a chunked one reserves as its frames arrive.
    let declared = declared.map_or(0, |n| n as usize);
    budget.reserve(&mut held, declared)?;
    let read = async {
        let mut buf = Vec::with_capacity(declared);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                ApiError::invalid_content(format!("could not read the request body: {e}"))
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(too_large(limit));
                }
                let beyond = (buf.len() + data.len()).saturating_sub(declared.max(buf.len()));
                budget.reserve(&mut held, beyond)?;
                buf.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(buf))
    };
    let bytes = tokio::time::timeout(timeout, read).await.map_err(|_| {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "RequestTimeoutException",
            format!(
                "The request body did not arrive within {} seconds",
                timeout.as_secs_f64()
            ),
        )
    })??;
    Ok((bytes, BodyReservation { _permit: held }))
}

/// Reads and discards the rest of a body, up to [`DRAIN_LIMIT`].
async fn drain<B>(body: &mut B)
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
{
    let mut seen: u64 = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn headers(len: Option<usize>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(len) = len {
            h.insert(hyper::header::CONTENT_LENGTH, len.into());
        }
        h
    }

    #[tokio::test]
    async fn the_budget_is_held_until_the_reservation_is_dropped() {
        let budget = BodyBudget::new(10);
        let t = Duration::from_secs(5);
        let body = Full::new(Bytes::from_static(b"12345678"));
        let (bytes, held) = read(&headers(Some(8)), body, 100, &budget, t)
            .await
            .expect("fits");
        assert_eq!(&bytes[..], b"12345678");
        assert_eq!(budget.available(), 2);
        let second = Full::new(Bytes::from_static(b"1234"));
        let refused = read(&headers(Some(4)), second.clone(), 100, &budget, t).await;
        assert_eq!(refused.expect_err("over budget").status, 429);
        let chunked = read(&headers(None), second.clone(), 100, &budget, t).await;
        assert_eq!(chunked.expect_err("over budget").status, 429);
        drop(held);
        assert_eq!(budget.available(), 10);
        assert!(read(&headers(None), second, 100, &budget, t).await.is_ok());
        assert_eq!(budget.available(), 10, "released with the reservation");
    }

    #[tokio::test]
    async fn over_the_route_limit_is_413() {
        let budget = BodyBudget::new(1000);
        let t = Duration::from_secs(5);
        let body = Full::new(Bytes::from_static(b"12345"));
        let e = read(&headers(Some(5)), body.clone(), 4, &budget, t).await;
        assert_eq!(e.expect_err("declared too large").status, 413);
        let e = read(&headers(None), body, 4, &budget, t).await;
        assert_eq!(e.expect_err("sent too large").status, 413);
        assert_eq!(budget.available(), 1000);
    }

    #[test]
    fn routes_have_their_limits() {
        let invoke = "/2015-03-31/functions/f/invocations";
        assert_eq!(route_limit(&Method::POST, invoke), 6_291_456);
        assert_eq!(
            route_limit(&Method::POST, "/2015-03-31/functions"),
            super::super::functions::MAX_CREATE_REQUEST_BYTES
        );
        assert_eq!(
            route_limit(&Method::PUT, "/2015-03-31/functions/f/code"),
            super::super::functions::MAX_CREATE_REQUEST_BYTES
        );
        assert_eq!(
            route_limit(&Method::PUT, "/2015-03-31/functions/f/configuration"),
            MAX_SMALL_REQUEST_BYTES
        );
    }
}
