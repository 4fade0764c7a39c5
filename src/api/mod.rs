//! Request routing for Lambda's REST paths, `/metrics` and `/health`.

pub mod errors;
pub mod functions;
pub mod invoke;
pub mod versions;

use bytes::Bytes;
use errors::ApiError;
use hearth_scheduler::Scheduler;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;

/// Request body type of every handler: the connection's stream, or the bytes already read
/// when the request had to be buffered to check its signature.
pub type ReqBody = http_body_util::Either<Incoming, Full<Bytes>>;
use hyper::{Method, Request, Response, StatusCode};

/// Response body type of every handler.
pub type Body = Full<Bytes>;

/// What handlers share.
#[derive(Debug)]
pub struct State {
    pub scheduler: Scheduler,
    /// When set, every request but `/health` and `/metrics` must carry a valid SigV4
    /// signature by one of these keys.
    pub credentials: Option<crate::auth::Credentials>,
}

impl State {
    pub fn new(scheduler: Scheduler, credentials: Option<crate::auth::Credentials>) -> Self {
        Self {
            scheduler,
            credentials,
        }
    }
}

/// The largest body any operation takes (CreateFunction with a 50 MB zip): the bound on
/// buffering a request to check its signature.
const MAX_SIGNED_BODY: usize = functions::MAX_CREATE_REQUEST_BYTES;

/// Checks the request's signature when credentials are configured, buffering its body
/// (the signature covers it).
async fn authenticate(state: &State, req: Request<Incoming>) -> Result<Request<ReqBody>, ApiError> {
    let open = matches!(req.uri().path(), "/health" | "/metrics");
    let Some(credentials) = state.credentials.as_ref().filter(|_| !open) else {
        return Ok(req.map(http_body_util::Either::Left));
    };
    let (parts, body) = req.into_parts();
    let bytes = read_limited(&parts.headers, body, MAX_SIGNED_BODY, || {
        format!("Request must be smaller than {MAX_SIGNED_BODY} bytes")
    })
    .await?;
    crate::auth::verify(
        credentials,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        &parts.headers,
        &bytes,
        std::time::SystemTime::now(),
    )
    .map_err(|e| {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
        ApiError::new(status, e.code(), e.to_string())
    })?;
    Ok(Request::from_parts(
        parts,
        http_body_util::Either::Right(Full::new(bytes)),
    ))
}

/// A body from anything byte-like.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
}

/// A JSON response with a request id.
pub fn json_response(
    status: StatusCode,
    request_id: &str,
    value: &impl serde::Serialize,
) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("x-amzn-RequestId", request_id)
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full("")))
}

/// An empty response with a request id.
pub fn empty_response(status: StatusCode, request_id: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("x-amzn-RequestId", request_id)
        .body(full(""))
        .unwrap_or_else(|_| Response::new(full("")))
}

/// Bodies over a limit are still read (and discarded) up to this size before the 413 goes
/// out: a client that is still sending when the server answers and closes sees a reset
/// instead of the error. Beyond it, the connection is closed at once.
const DRAIN_LIMIT: u64 = 128 * 1024 * 1024;

/// Reads a request body of at most `limit` bytes; a larger one is a 413 with `too_large`'s
/// message, decided from `Content-Length` before buffering anything when the client sends it.
pub async fn read_body<B>(
    req: Request<B>,
    limit: usize,
    too_large: impl Fn() -> String,
) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let (parts, body) = req.into_parts();
    read_limited(&parts.headers, body, limit, too_large).await
}

/// [`read_body`] on a body and the headers it came with.
pub async fn read_limited<B>(
    headers: &hyper::HeaderMap,
    mut body: B,
    limit: usize,
    too_large: impl Fn() -> String,
) -> Result<Bytes, ApiError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        if declared.is_some_and(|n| n <= DRAIN_LIMIT) {
            drain(&mut body).await;
        }
        return Err(ApiError::too_large(too_large()));
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::invalid_content(format!("could not read the request body: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                drain(&mut body).await;
                return Err(ApiError::too_large(too_large()));
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buf))
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

/// Decodes `%XX` escapes in one path segment (boto3 escapes the `:` of ARNs).
pub fn percent_decode(segment: &str) -> Result<String, ApiError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!("bad escape in path segment {segment:?}"))
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::invalid_parameter("path segment is not UTF-8"))
}

/// The function a path segment names: a name, a partial ARN or a full ARN (any qualifier in
/// it is dropped; operations that take one read it with [`function_ref`]).
pub fn function_name(segment: &str) -> Result<String, ApiError> {
    Ok(function_ref(segment)?.0)
}

/// The function and qualifier a path segment names (`NAME`, `NAME:Q`, partial or full ARN).
pub fn function_ref(segment: &str) -> Result<(String, Option<String>), ApiError> {
    let decoded = percent_decode(segment)?;
    let (name, qualifier) = hearth_scheduler::invoke::parse_function_ref(&decoded);
    Ok((name.to_owned(), qualifier.map(str::to_owned)))
}

/// The function and qualifier an operation names: the path segment's, or `?Qualifier=`.
pub fn qualified_ref<B>(
    req: &Request<B>,
    segment: &str,
) -> Result<(String, Option<String>), ApiError> {
    let (name, in_ref) = function_ref(segment)?;
    Ok((name, query_param(req, "Qualifier")?.or(in_ref)))
}

/// Lambda returns at most 50 items per page of a List operation.
const MAX_PAGE_ITEMS: usize = 50;

/// `?MaxItems=` of a List operation (1–10,000 accepted, at most 50 returned).
pub fn max_items<B>(req: &Request<B>) -> Result<usize, ApiError> {
    match query_param(req, "MaxItems")? {
        None => Ok(MAX_PAGE_ITEMS),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => Ok(n.min(MAX_PAGE_ITEMS)),
            _ => Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"
            ))),
        },
    }
}

/// The value of query parameter `name`, decoded.
pub fn query_param<B>(req: &Request<B>, name: &str) -> Result<Option<String>, ApiError> {
    Ok(query_params(req, name)?.into_iter().next())
}

/// Every value of a repeated query parameter, decoded.
pub fn query_params<B>(req: &Request<B>, name: &str) -> Result<Vec<String>, ApiError> {
    let Some(query) = req.uri().query() else {
        return Ok(Vec::new());
    };
    query
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(&v.replace('+', " ")))
        })
        .collect()
}

/// Routes one request.
pub async fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let request_id = hearth_runtime_api::new_request_id();
    let req = match authenticate(state, req).await {
        Ok(req) => req,
        Err(e) => return e.into_response(&request_id),
    };
    match route(state, req, &request_id).await {
        Ok(response) => response,
        Err(e) => e.into_response(&request_id),
    }
}

async fn route(
    state: &State,
    req: Request<ReqBody>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(Response::new(full("ok\n"))),
        (&Method::GET, ["metrics"]) => Ok(Response::builder()
            .header("Content-Type", "text/plain; version=0.0.4")
            .body(full(state.scheduler.metrics_text()))
            .unwrap_or_else(|_| Response::new(full("")))),
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => {
            let name = percent_decode(name)?;
            invoke::invoke(state, req, name, request_id).await
        }
        (&Method::POST, ["2015-03-31", "functions"]) => {
            functions::create(state, req, request_id).await
        }
        (&Method::GET, ["2015-03-31", "functions"]) => functions::list(state, &req, request_id),
        (&Method::GET, ["2015-03-31", "functions", name]) => {
            functions::get(state, &req, name, request_id)
        }
        (&Method::DELETE, ["2015-03-31", "functions", name]) => {
            functions::delete(state, &req, name, request_id).await
        }
        (&Method::GET, ["2015-03-31", "functions", name, "configuration"]) => {
            functions::get_configuration(state, &req, name, request_id)
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "configuration"]) => {
            let name = function_name(name)?;
            functions::update_configuration(state, req, &name, request_id).await
        }
        (&Method::PUT, ["2015-03-31", "functions", name, "code"]) => {
            let name = function_name(name)?;
            functions::update_code(state, req, &name, request_id).await
        }
        (&Method::POST, ["2015-03-31", "functions", name, "versions"]) => {
            let name = function_name(name)?;
            versions::publish(state, req, &name, request_id).await
        }
        (&Method::GET, ["2015-03-31", "functions", name, "versions"]) => {
            versions::list_versions(state, &req, &function_name(name)?, request_id)
        }
        (&Method::POST, ["2015-03-31", "functions", name, "aliases"]) => {
            let name = function_name(name)?;
            versions::create_alias(state, req, &name, request_id).await
        }
        (&Method::GET, ["2015-03-31", "functions", name, "aliases"]) => {
            versions::list_aliases(state, &req, &function_name(name)?, request_id)
        }
        (&Method::GET, ["2015-03-31", "functions", name, "aliases", alias]) => versions::get_alias(
            state,
            &function_name(name)?,
            &percent_decode(alias)?,
            request_id,
        ),
        (&Method::PUT, ["2015-03-31", "functions", name, "aliases", alias]) => {
            let (name, alias) = (function_name(name)?, percent_decode(alias)?);
            versions::update_alias(state, req, &name, &alias, request_id).await
        }
        (&Method::DELETE, ["2015-03-31", "functions", name, "aliases", alias]) => {
            let (name, alias) = (function_name(name)?, percent_decode(alias)?);
            versions::delete_alias(state, &name, &alias, request_id).await
        }
        (method, ["2019-09-25", "functions", name, "event-invoke-config"]) => {
            let (method, name) = (method.clone(), function_name(name)?);
            versions::event_invoke_config(state, req, method, &name, request_id).await
        }
        (&Method::PUT, ["2017-10-31", "functions", name, "concurrency"]) => {
            let name = function_name(name)?;
            functions::put_concurrency(state, req, &name, request_id).await
        }
        (&Method::DELETE, ["2017-10-31", "functions", name, "concurrency"]) => {
            functions::delete_concurrency(state, &function_name(name)?, request_id).await
        }
        (&Method::GET, ["2019-09-30", "functions", name, "concurrency"]) => {
            functions::get_concurrency(state, &function_name(name)?, request_id)
        }
        (method, ["2019-09-30", "functions", name, "provisioned-concurrency"]) => {
            let (method, name) = (method.clone(), function_name(name)?);
            versions::provisioned_concurrency(state, req, method, &name, request_id).await
        }
        (&Method::GET, ["hearth", "v1", "logs", name]) => {
            functions::read_log(state, &req, &function_name(name)?, request_id)
        }
        (&Method::GET, ["2016-08-19", "account-settings"]) => {
            functions::account_settings(state, request_id)
        }
        (&Method::GET, ["2017-03-31", "tags", arn]) => {
            functions::list_tags(state, &percent_decode(arn)?, request_id)
        }
        (&Method::POST, ["2017-03-31", "tags", arn]) => {
            let arn = percent_decode(arn)?;
            functions::tag(state, req, &arn, request_id).await
        }
        (&Method::DELETE, ["2017-03-31", "tags", arn]) => {
            functions::untag(state, &req, &percent_decode(arn)?, request_id).await
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no operation at {method} {path}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_arn_escapes() {
        assert_eq!(
            percent_decode("arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aecho").expect("ok"),
            "arn:aws:lambda:us-east-1:1:function:echo"
        );
        assert!(percent_decode("bad%zz").is_err());
        assert!(percent_decode("trunc%4").is_err());
    }

    proptest::proptest! {
        /// Any path segment decodes or is refused; nothing panics, and what a client
        /// percent-encodes comes back unchanged.
        #[test]
        fn percent_decoding(raw in "\\PC{0,40}", text in "[a-zA-Z0-9:$_-]{0,40}") {
            let _ = percent_decode(&raw);
            let encoded: String = text.bytes().map(|b| format!("%{b:02X}")).collect();
            proptest::prop_assert_eq!(percent_decode(&encoded).expect("valid escapes"), text.clone());
            let _ = super::function_ref(&raw);
        }
    }
}
