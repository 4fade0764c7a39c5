//! `POST /2015-03-31/functions/{name}/invocations`: the Invoke API.

use super::errors::ApiError;
use super::{Body, ReqBody, State, empty_response, eventstream, full, query_param, read_body};
use base64::Engine as _;
use hearth_runtime_api::limits::{
    MAX_ASYNC_PAYLOAD_BYTES, MAX_CLIENT_CONTEXT_BYTES, MAX_SYNC_PAYLOAD_BYTES,
};
use hearth_scheduler::InvokeRequest;
use hyper::{Request, Response, StatusCode};

/// `X-Amz-Invocation-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn header<'a>(req: &'a Request<ReqBody>, name: &str) -> Result<Option<&'a str>, ApiError> {
    req.headers()
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid_parameter(format!("header {name} is not ASCII")))
        })
        .transpose()
}

/// The invocation a request asks for: its headers, `?Qualifier=` and JSON payload checked.
fn read_request(
    req: Request<ReqBody>,
    function: String,
    operation: &str,
) -> Result<(InvocationType, InvokeRequest), ApiError> {
    let (kind, log_tail, client_context) = read_headers(
        header(&req, "x-amz-invocation-type")?,
        header(&req, "x-amz-log-type")?,
        header(&req, "x-amz-client-context")?,
    )?;
    let qualifier = query_param(&req, "Qualifier")?;
    let limit = match kind {
        InvocationType::Event => MAX_ASYNC_PAYLOAD_BYTES,
        _ => MAX_SYNC_PAYLOAD_BYTES,
    };
    let payload = read_body(req, limit, || {
        format!("Request must be smaller than {limit} bytes for the {operation} operation")
    })?;
    if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err() {
        return Err(ApiError::invalid_content(
            "Could not parse request body into json: the payload must be valid JSON",
        ));
    }
    let request = InvokeRequest {
        function,
        qualifier,
        payload: payload.to_vec(),
        client_context,
        log_tail,
        stream: None,
    };
    Ok((kind, request))
}

pub async fn invoke(
    state: &State,
    req: Request<ReqBody>,
    function: String,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let (kind, request) = read_request(req, function, "InvokeFunction")?;
    let scheduler = &state.scheduler;
    match kind {
        InvocationType::DryRun => {
            scheduler.dry_run(&request)?;
            Ok(empty_response(StatusCode::NO_CONTENT, request_id))
        }
        InvocationType::Event => {
            let id = scheduler.invoke_event(request).await?;
            Ok(empty_response(StatusCode::ACCEPTED, &id))
        }
        InvocationType::RequestResponse => {
            let result = scheduler.invoke(request).await?;
            let mut builder = Response::builder()
                .status(StatusCode::OK)
                .header("Content-Type", "application/json")
                .header("x-amzn-RequestId", &result.request_id)
                .header("X-Amz-Executed-Version", &result.executed_version);
            if let Some(kind) = result.function_error {
                builder = builder.header("X-Amz-Function-Error", kind);
            }
            if let Some(tail) = &result.log_result {
                builder = builder.header("X-Amz-Log-Result", tail);
            }
            Ok(builder
                .body(full(result.payload))
                .unwrap_or_else(|_| Response::new(full(""))))
        }
    }
}

/// The Invoke headers from raw bytes (empty: absent), for the fuzz target.
pub fn parse_headers(
    kind: &[u8],
    log: &[u8],
    context: &[u8],
) -> Result<(bool, bool, Option<String>), ApiError> {
    let text = |b: &[u8]| -> Result<Option<String>, ApiError> {
        if b.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(b)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| ApiError::invalid_parameter("header is not ASCII"))
    };
    let (kind, log, context) = (text(kind)?, text(log)?, text(context)?);
    let (kind, tail, context) = read_headers(kind.as_deref(), log.as_deref(), context.as_deref())?;
    Ok((kind == InvocationType::Event, tail, context))
}

/// `X-Amz-Invocation-Type`, `X-Amz-Log-Type` and `X-Amz-Client-Context` as Lambda reads them.
fn read_headers(
    kind: Option<&str>,
    log: Option<&str>,
    context: Option<&str>,
) -> Result<(InvocationType, bool, Option<String>), ApiError> {
    let kind = match kind {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            )));
        }
    };
    let log_tail = match log {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => {
            return Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: Value '{other}' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]"
            )));
        }
    };
    let client_context = context.map(decode_client_context).transpose()?;
    Ok((kind, log_tail, client_context))
}

/// `X-Amz-Client-Context`: base64 of a JSON object, at most 3,583 bytes decoded.
fn decode_client_context(value: &str) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|_| {
            ApiError::invalid_content("Client context must be a valid Base64-encoded JSON object.")
        })?;
    if bytes.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(ApiError::invalid_content(format!(
            "Client context must be no larger than {MAX_CLIENT_CONTEXT_BYTES} bytes once decoded."
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| {
        ApiError::invalid_content("Client context must be a valid Base64-encoded JSON object.")
    })?;
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).map_err(|_| {
        ApiError::invalid_content("Client context must be a valid Base64-encoded JSON object.")
    })?;
    Ok(text)
}

/// Chunks of a streamed response held between the function and a slow caller, per
/// invocation: the runtime's upload waits beyond this.
const STREAM_BUFFER_CHUNKS: usize = 16;

/// `POST /2021-11-15/functions/{name}/response-streaming-invocations`:
/// `InvokeWithResponseStream`. The answer is an event stream: each chunk the function
/// streams is a `PayloadChunk` sent as it arrives (a buffered answer is one chunk), and an
/// `InvokeComplete` event ends it, with `ErrorCode` and `ErrorDetails` when the function
/// failed. A refusal before the function runs (unknown function, throttling) is an ordinary
/// error response: the stream's headers go out only once the function has produced
/// something or ended.
pub async fn invoke_with_response_stream(
    state: &State,
    req: Request<ReqBody>,
    function: String,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let (kind, mut request) = read_request(req, function, "InvokeWithResponseStream")?;
    if kind == InvocationType::Event {
        return Err(ApiError::invalid_parameter(
            "1 validation error detected: Value 'Event' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [RequestResponse, DryRun]",
        ));
    }
    // DryRun runs the function here as RequestResponse does: AWS's own streaming endpoint
    // does so (recorded against AWS by the SAM CLI's remote-invoke tests).
    let scheduler = state.scheduler.clone();
    let version = scheduler.executed_version(&request)?;
    let (sink, mut chunks) = tokio::sync::mpsc::channel(STREAM_BUFFER_CHUNKS);
    request.stream = Some(sink);
    let mut result = tokio::spawn(async move { scheduler.invoke(request).await });

    // Wait for the first chunk or the end: the end may still be a refusal. (A closed chunk
    // channel disables its branch; the result is awaited once only.)
    let (body_tx, body_rx) = tokio::sync::mpsc::channel(STREAM_BUFFER_CHUNKS);
    let early_end = tokio::select! {
        biased;
        Some(chunk) = chunks.recv() => {
            let _ = body_tx.try_send(eventstream::payload_chunk(&chunk));
            None
        }
        ended = &mut result => Some(finished(ended)?),
    };
    tokio::spawn(async move {
        let ended = match early_end {
            Some(ended) => Ok(ended),
            None => loop {
                tokio::select! {
                    biased;
                    Some(chunk) = chunks.recv() => {
                        if body_tx.send(eventstream::payload_chunk(&chunk)).await.is_err() {
                            // The caller left: the function runs on, unheard.
                            drop(chunks);
                            let _ = result.await;
                            return;
                        }
                    }
                    ended = &mut result => break finished(ended),
                }
            },
        };
        // Every chunk sent before the end is queued by then: the runtime finishes its
        // upload before its answer counts.
        while let Ok(chunk) = chunks.try_recv() {
            let _ = body_tx.send(eventstream::payload_chunk(&chunk)).await;
        }
        let complete = match ended {
            Ok(response) => {
                if response.function_error.is_none() && !response.payload.is_empty() {
                    let _ = body_tx
                        .send(eventstream::payload_chunk(&response.payload))
                        .await;
                }
                complete_event(&response)
            }
            Err(e) => eventstream::invoke_complete(Some((e.code, &e.message)), None),
        };
        let _ = body_tx.send(complete).await;
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/vnd.amazon.eventstream")
        .header("x-amzn-RequestId", request_id)
        .header("X-Amz-Executed-Version", &version)
        .body(http_body_util::Either::Right(eventstream::ChannelBody(
            body_rx,
        )))
        .unwrap_or_else(|_| Response::new(super::full(""))))
}

/// How the invocation task ended, as the front door answers it.
fn finished(
    joined: Result<
        Result<hearth_scheduler::InvokeResponse, hearth_scheduler::error::InvokeError>,
        tokio::task::JoinError,
    >,
) -> Result<hearth_scheduler::InvokeResponse, ApiError> {
    let ended = joined.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServiceException",
            format!("invocation task failed: {e}"),
        )
    })?;
    Ok(ended?)
}

/// The `InvokeComplete` that ends a finished invocation's stream.
fn complete_event(response: &hearth_scheduler::InvokeResponse) -> bytes::Bytes {
    let log = response.log_result.as_deref();
    if response.function_error.is_none() {
        return eventstream::invoke_complete(None, log);
    }
    #[derive(serde::Deserialize, Default)]
    struct Posted {
        #[serde(rename = "errorType", default)]
        error_type: String,
        #[serde(rename = "errorMessage", default)]
        error_message: String,
    }
    let error: Posted = serde_json::from_slice(&response.payload).unwrap_or_default();
    eventstream::invoke_complete(Some((&error.error_type, &error.error_message)), log)
}
