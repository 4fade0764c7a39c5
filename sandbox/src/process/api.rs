//! The Runtime API over HTTP, for one process sandbox: its own loopback listener, backed by
//! the same [`Conversation`] the wasm host calls use.

use crate::conversation::{Conversation, Delivery};
use bytes::Bytes;
use hearth_runtime_api::limits::{MAX_RESPONSE_BYTES, MAX_STREAMED_RESPONSE_BYTES};
use hearth_runtime_api::{ApiError, ApiErrorKind, FunctionError, Invocation};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The state every connection of one sandbox shares.
pub(crate) struct Api {
    /// A std lock: each call holds it for one state transition, never across `.await`.
    pub(crate) conversation: Mutex<Conversation>,
    /// Where `next` waits for an invocation (one waiter at a time).
    inbox: tokio::sync::Mutex<mpsc::Receiver<Delivery>>,
    /// What `extension/register` answers.
    function: FunctionInfo,
    /// Registered extensions, by identifier.
    extensions: Mutex<Vec<Arc<Extension>>>,
}

/// The function an extension registers with.
#[derive(Debug, Clone)]
pub(crate) struct FunctionInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) handler: String,
}

/// One registered extension.
struct Extension {
    id: String,
    /// `Lambda-Extension-Name`: the executable's file name.
    name: String,
    invoke: bool,
    shutdown: bool,
    /// It has an event (or INIT) it has not yet asked past.
    busy: std::sync::atomic::AtomicBool,
    events_tx: mpsc::UnboundedSender<serde_json::Value>,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<serde_json::Value>>,
}

impl Api {
    pub(crate) fn new(
        conversation: Conversation,
        inbox: mpsc::Receiver<Delivery>,
        function: FunctionInfo,
    ) -> Arc<Self> {
        Arc::new(Self {
            conversation: Mutex::new(conversation),
            inbox: tokio::sync::Mutex::new(inbox),
            function,
            extensions: Mutex::default(),
        })
    }

    fn extensions(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Extension>>> {
        self.extensions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn extension(&self, id: &str) -> Option<Arc<Extension>> {
        self.extensions().iter().find(|e| e.id == id).cloned()
    }

    /// An extension's process ended: whatever it was part of no longer waits for it (one that
    /// never registered was still counted in INIT).
    pub(crate) fn extension_exited(&self, name: &str) {
        let registered = self.extensions().iter().find(|e| e.name == name).cloned();
        let was_working = match registered {
            Some(e) => e.busy.swap(false, std::sync::atomic::Ordering::SeqCst),
            None => true,
        };
        if was_working {
            self.conversation().extension_done();
        }
    }

    /// SHUTDOWN to every extension that asked for it; how many were told.
    pub(crate) fn shutdown_extensions(&self, deadline_ms: u64) -> usize {
        let event = serde_json::json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": "spindown",
            "deadlineMs": deadline_ms,
        });
        self.extensions()
            .iter()
            .filter(|e| e.shutdown)
            .filter(|e| e.events_tx.send(event.clone()).is_ok())
            .count()
    }

    pub(crate) fn conversation(&self) -> std::sync::MutexGuard<'_, Conversation> {
        self.conversation.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Body = Full<Bytes>;

/// Serves the Runtime API on `listener` until the task is aborted. Each connection runs on
/// its own task, with Nagle off so a response is never held back waiting for an ACK.
pub(crate) async fn serve(listener: TcpListener, api: Arc<Api>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let api = api.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(&api, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(api: &Api, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let call = path
        .strip_prefix("/2018-06-01/runtime/")
        .unwrap_or_default();
    let parts: Vec<&str> = call.split('/').collect();
    if path.starts_with("/2020-01-01/extension/") {
        return extension_call(api, req).await;
    }
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(api).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = (*id).to_owned();
            if streams(&req) {
                return respond_streamed(api, &id, req).await;
            }
            match read_body(req).await {
                Ok(body) => {
                    let result = api.conversation().respond(&id, body.to_vec());
                    accepted(result)
                }
                Err(size) => too_large(api, &id, size, MAX_RESPONSE_BYTES),
            }
        }
        (&Method::POST, ["invocation", id, "error"]) => {
            let id = (*id).to_owned();
            let header = error_type_header(&req);
            match read_body(req).await {
                Ok(body) => {
                    let error = function_error(&body, header);
                    let result = api.conversation().fail(&id, error);
                    accepted(result)
                }
                Err(size) => too_large(api, &id, size, MAX_RESPONSE_BYTES),
            }
        }
        (&Method::POST, ["init", "error"]) => {
            let header = error_type_header(&req);
            let body = read_body(req).await.unwrap_or_default();
            let error = function_error(&body, header);
            accepted(api.conversation().init_fail(error))
        }
        _ => not_found(&path),
    }
}

/// `GET …/invocation/next`: ends INIT (or the previous invocation), then waits for work.
async fn next(api: &Api) -> Response<Body> {
    if let Err(e) = api.conversation().request_next() {
        return api_error(&e);
    }
    let delivery = api.inbox.lock().await.recv().await;
    let Some(delivery) = delivery else {
        // The sandbox is shutting down: 500 tells a runtime to exit.
        return json(
            StatusCode::INTERNAL_SERVER_ERROR,
            &error_body(
                "Runtime.ShuttingDown",
                "the execution environment is shutting down",
            ),
        );
    };
    let mut conversation = api.conversation();
    match conversation.deliver(delivery) {
        Ok(invocation) => {
            let event = serde_json::json!({
                "eventType": "INVOKE",
                "deadlineMs": invocation.deadline_ms,
                "requestId": invocation.request_id,
                "invokedFunctionArn": invocation.invoked_function_arn,
                "tracing": {"type": "X-Amzn-Trace-Id", "value": invocation.trace_id},
            });
            let told = api
                .extensions()
                .iter()
                .filter(|e| e.invoke)
                .filter(|e| {
                    e.busy.store(true, std::sync::atomic::Ordering::SeqCst);
                    e.events_tx.send(event.clone()).is_ok()
                })
                .count();
            conversation.extensions_begin(told);
            drop(conversation);
            invocation_response(invocation)
        }
        Err(e) => api_error(&e),
    }
}

/// The Extensions API (`/2020-01-01/extension/…`): register during INIT, then `event/next`
/// for INVOKE and SHUTDOWN events; `init/error` fails the INIT.
async fn extension_call(api: &Api, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let call = path.trim_start_matches("/2020-01-01/extension/");
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let id = header("lambda-extension-identifier").unwrap_or_default();
    match (req.method(), call) {
        (&Method::POST, "register") => {
            let Some(name) = header("lambda-extension-name") else {
                return json(
                    StatusCode::BAD_REQUEST,
                    &error_body("InvalidRequest", "Lambda-Extension-Name is missing"),
                );
            };
            if api.conversation().init_ended {
                return json(
                    StatusCode::FORBIDDEN,
                    &error_body("InvalidStateTransition", "extensions register during INIT"),
                );
            }
            let body = read_body(req).await.unwrap_or_default();
            let events: Vec<String> = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| serde_json::from_value(v["events"].clone()).ok())
                .unwrap_or_default();
            let (events_tx, events_rx) = mpsc::unbounded_channel();
            let extension = Arc::new(Extension {
                id: uuid::Uuid::new_v4().to_string(),
                name: name.clone(),
                invoke: events.iter().any(|e| e == "INVOKE"),
                shutdown: events.iter().any(|e| e == "SHUTDOWN"),
                busy: std::sync::atomic::AtomicBool::new(true),
                events_tx,
                events: tokio::sync::Mutex::new(events_rx),
            });
            let id = extension.id.clone();
            api.extensions().push(extension);
            tracing::debug!(extension = %name, "extension registered");
            let body = serde_json::json!({
                "functionName": api.function.name,
                "functionVersion": api.function.version,
                "handler": api.function.handler,
            });
            let mut response = json(StatusCode::OK, body.to_string().as_bytes());
            if let Ok(v) = http::HeaderValue::from_str(&id) {
                response
                    .headers_mut()
                    .insert("lambda-extension-identifier", v);
            }
            response
        }
        (&Method::GET, "event/next") => {
            let Some(extension) = api.extension(&id) else {
                return json(
                    StatusCode::FORBIDDEN,
                    &error_body(
                        "Extension.UnknownExtensionIdentifier",
                        "unknown Lambda-Extension-Identifier",
                    ),
                );
            };
            if extension
                .busy
                .swap(false, std::sync::atomic::Ordering::SeqCst)
            {
                api.conversation().extension_done();
            }
            let event = extension.events.lock().await.recv().await;
            match event {
                Some(event) => {
                    let mut response = json(StatusCode::OK, event.to_string().as_bytes());
                    if let Ok(v) = http::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
                        response
                            .headers_mut()
                            .insert("lambda-extension-event-identifier", v);
                    }
                    response
                }
                None => json(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &error_body(
                        "Runtime.ShuttingDown",
                        "the execution environment is shutting down",
                    ),
                ),
            }
        }
        (&Method::POST, "init/error") => {
            let error_type = header("lambda-extension-function-error-type")
                .unwrap_or_else(|| "Extension.InitError".into());
            let body = read_body(req).await.unwrap_or_default();
            let mut error = function_error(&body, Some(error_type.clone()));
            error.error_type = error_type;
            api.conversation()
                .report(crate::conversation::GuestEvent::InitError(error));
            json(StatusCode::ACCEPTED, br#"{"status":"OK"}"#)
        }
        (&Method::POST, "exit/error") => json(StatusCode::ACCEPTED, br#"{"status":"OK"}"#),
        _ => not_found(&path),
    }
}

fn invocation_response(invocation: Invocation) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.request_id)
        .header(
            "lambda-runtime-deadline-ms",
            invocation.deadline_ms.to_string(),
        )
        .header(
            "lambda-runtime-invoked-function-arn",
            &invocation.invoked_function_arn,
        )
        .header("lambda-runtime-trace-id", &invocation.trace_id);
    // Header values from callers were checked at the front door; a value that still is not
    // a valid header is left out rather than failing the invocation.
    for (name, value) in [
        ("lambda-runtime-client-context", &invocation.client_context),
        (
            "lambda-runtime-cognito-identity",
            &invocation.cognito_identity,
        ),
    ] {
        if let Some(v) = value
            && let Ok(v) = http::HeaderValue::from_str(v)
        {
            response = response.header(name, v);
        }
    }
    response
        .body(Full::new(Bytes::from(invocation.payload)))
        .unwrap_or_else(|_| Response::new(Full::default()))
}

/// `Lambda-Runtime-Function-Response-Mode: streaming`.
fn streams(req: &Request<Incoming>) -> bool {
    req.headers()
        .get("lambda-runtime-function-response-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("streaming"))
}

/// A streamed response: each chunk goes on to the caller as it arrives when the caller reads
/// a stream (at most [`MAX_STREAMED_RESPONSE_BYTES`]), or is buffered like any response when
/// the caller waits for the whole answer. An error the runtime reports in the trailers
/// (`Lambda-Runtime-Function-Error-Type`, `-Error-Body` in base64) ends the invocation with
/// that error, after whatever was already streamed.
async fn respond_streamed(api: &Api, id: &str, req: Request<Incoming>) -> Response<Body> {
    let sink = match api.conversation().begin_stream(id) {
        Ok(sink) => sink,
        Err(e) => return api_error(&e),
    };
    let limit = match sink {
        Some(_) => MAX_STREAMED_RESPONSE_BYTES,
        None => MAX_RESPONSE_BYTES,
    };
    // Buffered only for a caller that waits for the whole answer; a caller that left
    // mid-stream gets nothing more.
    let buffering = sink.is_none();
    let mut sink = sink;
    let mut kept = Vec::new();
    let mut size = 0usize;
    let mut trailers = None;
    let mut finished = false;
    let mut body = req.into_body();
    loop {
        let Some(frame) = body.frame().await else {
            finished = true;
            break;
        };
        let Ok(frame) = frame else {
            break;
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                trailers = frame.into_trailers().ok();
                continue;
            }
        };
        size += data.len();
        if size > limit {
            if size > MAX_DISCARDED_BYTES.max(2 * limit) {
                break;
            }
            continue;
        }
        if let Some(tx) = &sink {
            if tx.send(data).await.is_err() {
                // The caller went away: the function still runs to its end, as on Lambda,
                // and what it streams from here on is dropped.
                sink = None;
            }
        } else if buffering {
            kept.extend_from_slice(&data);
        }
    }
    drop(sink);
    if size > limit {
        return too_large(api, id, size, limit);
    }
    let trailer = |name: &str| {
        trailers
            .as_ref()
            .and_then(|t: &http::HeaderMap| t.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let error = match trailer("lambda-runtime-function-error-type") {
        Some(error_type) => {
            use base64::Engine as _;
            let body = trailer("lambda-runtime-function-error-body")
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .unwrap_or_default();
            Some(function_error(&body, Some(error_type)))
        }
        None if !finished => Some(FunctionError::new(
            "Runtime.TruncatedResponse",
            "the runtime's streamed response ended before its last chunk",
        )),
        None => None,
    };
    let result = match error {
        Some(error) => api.conversation().fail(id, error),
        None => api.conversation().respond_within(id, kept, size, limit),
    };
    accepted(result)
}

/// Bytes of an oversize body read and discarded before the 413 is sent, so that a runtime
/// still writing its body reads the answer instead of a reset connection; past this the
/// connection is simply closed.
const MAX_DISCARDED_BYTES: usize = 4 * MAX_RESPONSE_BYTES;

/// The body, or its size (as far as it was read) once it passed the response limit.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, usize> {
    let mut body = req.into_body();
    let mut kept = Vec::new();
    let mut size = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        size += data.len();
        if size <= MAX_RESPONSE_BYTES {
            kept.extend_from_slice(&data);
        } else if size > MAX_DISCARDED_BYTES {
            break;
        }
    }
    if size > MAX_RESPONSE_BYTES {
        Err(size)
    } else {
        Ok(Bytes::from(kept))
    }
}

/// The 413 for an answer of `size` bytes over `limit`; the invocation ends with
/// `Function.ResponseSizeTooLarge`.
fn too_large(api: &Api, request_id: &str, size: usize, limit: usize) -> Response<Body> {
    if let Err(e) = api.conversation().too_large(request_id, size, limit) {
        return api_error(&e);
    }
    api_error(&ApiError {
        kind: ApiErrorKind::RequestEntityTooLarge,
        message: format!(
            "Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes)."
        ),
    })
}

fn error_type_header(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The error a runtime posted: Lambda's JSON body, or (a runtime may post anything) the raw
/// text with the type from the header.
fn function_error(body: &[u8], header: Option<String>) -> FunctionError {
    #[derive(serde::Deserialize)]
    struct Posted {
        #[serde(rename = "errorType", default)]
        error_type: Option<String>,
        #[serde(rename = "errorMessage", default)]
        error_message: Option<String>,
        #[serde(rename = "stackTrace", default)]
        stack_trace: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Posted>(body) {
        Ok(p) => FunctionError {
            error_type: p
                .error_type
                .or(header)
                .unwrap_or_else(|| "Unhandled".into()),
            error_message: p.error_message.unwrap_or_default(),
            stack_trace: match p.stack_trace {
                Some(serde_json::Value::Array(lines)) => lines
                    .into_iter()
                    .map(|l| match l {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
                _ => Vec::new(),
            },
        },
        Err(_) => FunctionError::new(
            header.unwrap_or_else(|| "Unhandled".into()),
            String::from_utf8_lossy(body).into_owned(),
        ),
    }
}

fn accepted(result: Result<(), ApiError>) -> Response<Body> {
    match result {
        Ok(()) => json(StatusCode::ACCEPTED, br#"{"status":"OK"}"#),
        Err(e) => api_error(&e),
    }
}

fn api_error(e: &ApiError) -> Response<Body> {
    json(
        StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST),
        &error_body(e.kind.as_str(), &e.message),
    )
}

fn not_found(path: &str) -> Response<Body> {
    json(
        StatusCode::NOT_FOUND,
        &error_body(
            "UnknownEndpoint",
            &format!("no Runtime API endpoint {path}"),
        ),
    )
}

fn error_body(error_type: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "errorMessage": message,
        "errorType": error_type,
    }))
    .unwrap_or_default()
}

fn json(status: StatusCode, body: &[u8]) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap_or_else(|_| Response::new(Full::default()))
}
