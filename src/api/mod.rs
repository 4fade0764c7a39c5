//! The front door: every request passes [`handle`], which checks in this order and stops at
//! the first refusal, reading the body only once everything that needs no body has passed:
//!
//! 1. [`guard`]: the `Host` and `Origin` (no web page may drive hearth);
//! 2. [`query`]: the query string, parsed once for routing and the signature alike;
//! 3. the signature's headers, when credentials are configured (403 before any body byte);
//! 4. [`body`]: the body, bounded by its route, the server-wide budget and a timeout;
//! 5. the signature over the body; then [`route`] hands the request to its handler module.

pub mod body;
pub mod dynamodb;
pub mod errors;
pub mod eventstream;
pub mod functions;
pub mod guard;
pub mod invoke;
pub mod kinesis;
pub mod mappings;
pub mod query;
pub mod sqs;
pub mod versions;

use bytes::Bytes;
use errors::ApiError;
use hearth_scheduler::Scheduler;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use query::Query;
use std::time::Duration;

/// Request body type of every handler: the body, already read and bounded by [`handle`].
pub type ReqBody = Full<Bytes>;

/// Response body type of every handler: whole, or (`InvokeWithResponseStream`) sent as it is
/// produced.
pub type Body = http_body_util::Either<Full<Bytes>, eventstream::ChannelBody>;

/// What handlers share.
#[derive(Debug)]
pub struct State {
    pub scheduler: Scheduler,
    /// The embedded SQS queues.
    pub queues: hearth_queue::Engine,
    /// Event source mappings and their pollers.
    pub event_sources: hearth_event_sources::EventSources,
    /// The embedded Kinesis streams.
    pub streams: hearth_streams::Streams,
    /// The embedded DynamoDB tables.
    pub tables: hearth_streams::dynamodb::table::Tables,
    /// When set, every request but `/health` and `/metrics` must carry a valid SigV4
    /// signature by one of these keys.
    pub credentials: Option<crate::auth::Credentials>,
    /// Which `Host` and `Origin` values are served.
    pub guard: guard::RequestGuard,
    /// Request-body bytes the whole server may hold at once.
    pub body_budget: body::BodyBudget,
    /// How long a request's body may take to arrive.
    pub body_read_timeout: Duration,
}

impl State {
    /// Handler state with the front door's defaults (any loopback host, a 1 GiB body budget).
    pub fn new(
        scheduler: Scheduler,
        queues: hearth_queue::Engine,
        event_sources: hearth_event_sources::EventSources,
        streams: hearth_streams::Streams,
        tables: hearth_streams::dynamodb::table::Tables,
        credentials: Option<crate::auth::Credentials>,
    ) -> Self {
        Self {
            scheduler,
            queues,
            event_sources,
            streams,
            tables,
            credentials,
            guard: guard::RequestGuard::default(),
            body_budget: body::BodyBudget::new(1 << 30),
            body_read_timeout: Duration::from_secs(120),
        }
    }
}

/// A body from anything byte-like.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Either::Left(Full::new(bytes.into()))
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

/// The body of a request [`handle`] has read, when it is at most `limit` bytes (an
/// operation's own limit, below its route's); a larger one is a 413 with `too_large`'s
/// message.
pub fn read_body(
    req: Request<ReqBody>,
    limit: usize,
    too_large: impl Fn() -> String,
) -> Result<Bytes, ApiError> {
    let bytes = body_bytes(req.into_body());
    if bytes.len() > limit {
        return Err(ApiError::too_large(too_large()));
    }
    Ok(bytes)
}

/// The bytes of a buffered body.
fn body_bytes(body: ReqBody) -> Bytes {
    use hyper::body::Body as _;
    let mut body = body;
    // `Full` yields its one frame at once; polling it needs no waker.
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    }
}

/// Decodes `%XX` escapes in one path segment (boto3 escapes the `:` of ARNs); the same
/// strict decoder as the query's.
pub fn percent_decode(segment: &str) -> Result<String, ApiError> {
    query::decode(segment)
        .map_err(|_| ApiError::invalid_parameter(format!("bad escape in path segment {segment:?}")))
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

/// The request's parsed query ([`handle`] parses it before anything else looks at it).
fn query_of<B>(req: &Request<B>) -> Result<&Query, ApiError> {
    req.extensions()
        .get::<Query>()
        .ok_or_else(|| ApiError::invalid_parameter("the query string was not parsed"))
}

/// The value of query parameter `name`, decoded; refused when it is given more than once.
pub fn query_param<B>(req: &Request<B>, name: &str) -> Result<Option<String>, ApiError> {
    query_of(req)?
        .single(name)
        .map(|v| v.map(str::to_owned))
        .map_err(|e| ApiError::invalid_parameter(e.to_string()))
}

/// Every value of a list-valued query parameter, decoded.
pub fn query_params<B>(req: &Request<B>, name: &str) -> Result<Vec<String>, ApiError> {
    Ok(query_of(req)?.all(name).map(str::to_owned).collect())
}

/// Answers one request (see the module doc for the order of checks).
pub async fn handle(state: &State, req: Request<Incoming>) -> Response<Body> {
    let request_id = hearth_runtime_api::new_request_id();
    match admit(state, req).await {
        Ok((req, _reservation)) => match route(state, req, &request_id).await {
            Ok(response) => response,
            Err(e) => e.into_response(&request_id),
        },
        Err(e) => e.into_response(&request_id),
    }
}

/// Steps 1–5 of [`handle`]: the checked request with its body read, and the budget its body
/// holds until the answer is sent.
async fn admit(
    state: &State,
    req: Request<Incoming>,
) -> Result<(Request<ReqBody>, body::BodyReservation), ApiError> {
    state.guard.check(req.headers())?;
    let query =
        Query::parse(req.uri().query()).map_err(|e| ApiError::invalid_parameter(e.to_string()))?;
    let (mut parts, incoming) = req.into_parts();
    let open = matches!(parts.uri.path(), "/health" | "/metrics");
    let pending = match state.credentials.as_ref().filter(|_| !open) {
        Some(credentials) => Some(
            crate::auth::check_headers(
                credentials,
                &parts.method,
                parts.uri.path(),
                &query,
                &parts.headers,
                std::time::SystemTime::now(),
            )
            .map_err(auth_error)?,
        ),
        None => None,
    };
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let limit = if target.starts_with("Kinesis_") {
        kinesis::MAX_REQUEST_BYTES
    } else if target.starts_with("DynamoDB_") {
        dynamodb::MAX_REQUEST_BYTES
    } else {
        body::route_limit(&parts.method, parts.uri.path())
    };
    let (bytes, reservation) = body::read(
        &parts.headers,
        incoming,
        limit,
        &state.body_budget,
        state.body_read_timeout,
    )
    .await?;
    if let Some(pending) = pending {
        pending.verify_body(&bytes).map_err(auth_error)?;
    }
    parts.extensions.insert(query);
    Ok((Request::from_parts(parts, Full::new(bytes)), reservation))
}

fn auth_error(e: crate::auth::AuthError) -> ApiError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::FORBIDDEN);
    ApiError::new(status, e.code(), e.to_string())
}

async fn route(
    state: &State,
    req: Request<ReqBody>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    if let Some(protocol) = sqs::protocol_of(&req) {
        return Ok(sqs::handle(&state.queues, req, protocol, request_id).await);
    }
    if kinesis::is_kinesis(&req) {
        return Ok(kinesis::handle(&state.streams, req, request_id).await);
    }
    if dynamodb::is_dynamodb(&req) {
        return Ok(dynamodb::handle(&state.tables, req, request_id).await);
    }
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    match (&method, segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(json_response(
            StatusCode::OK,
            request_id,
            &serde_json::json!({
                "status": "ok",
                "isolation": state.scheduler.isolation().layers(),
            }),
        )),
        (&Method::GET, ["metrics"]) => {
            let mut text = state.scheduler.metrics_text();
            text.push_str(&sqs::metrics_text(&state.queues, &state.event_sources));
            text.push_str(&kinesis::metrics_text(&state.streams));
            Ok(Response::builder()
                .header("Content-Type", "text/plain; version=0.0.4")
                .body(full(text))
                .unwrap_or_else(|_| Response::new(full(""))))
        }
        (&Method::GET, ["hearth", "v1", "queues"]) => Ok(json_response(
            StatusCode::OK,
            request_id,
            &state.queues.summaries(),
        )),
        (&Method::GET, ["hearth", "v1", "tables"]) => Ok(json_response(
            StatusCode::OK,
            request_id,
            &dynamodb::summaries(&state.tables),
        )),
        (&Method::GET, ["hearth", "v1", "streams"]) => Ok(json_response(
            StatusCode::OK,
            request_id,
            &kinesis::summaries(&state.streams, &state.event_sources),
        )),
        (&Method::GET, ["hearth", "v1", "mappings"]) => Ok(json_response(
            StatusCode::OK,
            request_id,
            &state.event_sources.status(),
        )),
        (&Method::POST, ["2015-03-31", "functions", name, "invocations"]) => {
            let name = percent_decode(name)?;
            invoke::invoke(state, req, name, request_id).await
        }
        (
            &Method::POST,
            [
                "2021-11-15",
                "functions",
                name,
                "response-streaming-invocations",
            ],
        ) => {
            let name = percent_decode(name)?;
            invoke::invoke_with_response_stream(state, req, name, request_id).await
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
            functions::read_log(state, &req, &function_name(name)?, request_id).await
        }
        (&Method::DELETE, ["hearth", "v1", "functions", name, "sandboxes"]) => {
            functions::evict_idle(state, &function_name(name)?, request_id)
        }
        (&Method::POST, ["2015-03-31", "event-source-mappings"]) => {
            mappings::create(state, req, request_id).await
        }
        (&Method::GET, ["2015-03-31", "event-source-mappings"]) => {
            mappings::list(state, &req, request_id)
        }
        (&Method::GET, ["2015-03-31", "event-source-mappings", uuid]) => {
            mappings::get(state, &percent_decode(uuid)?, request_id)
        }
        (&Method::PUT, ["2015-03-31", "event-source-mappings", uuid]) => {
            let uuid = percent_decode(uuid)?;
            mappings::update(state, req, &uuid, request_id).await
        }
        (&Method::DELETE, ["2015-03-31", "event-source-mappings", uuid]) => {
            mappings::delete(state, &percent_decode(uuid)?, request_id).await
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
