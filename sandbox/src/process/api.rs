//! The Runtime API over HTTP, for one process sandbox: its own loopback listener, backed by
//! the same [`Conversation`] the wasm host calls use.

use crate::conversation::{Conversation, Delivery};
use bytes::Bytes;
use hearth_runtime_api::limits::MAX_RESPONSE_BYTES;
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
}

impl Api {
    pub(crate) fn new(conversation: Conversation, inbox: mpsc::Receiver<Delivery>) -> Arc<Self> {
        Arc::new(Self {
            conversation: Mutex::new(conversation),
            inbox: tokio::sync::Mutex::new(inbox),
        })
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
    let Some(call) = path.strip_prefix("/2018-06-01/runtime/") else {
        return not_found(&path);
    };
    let parts: Vec<&str> = call.split('/').collect();
    match (req.method(), parts.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(api).await,
        (&Method::POST, ["invocation", id, "response"]) => {
            let id = (*id).to_owned();
            match read_body(req).await {
                Ok(body) => {
                    let result = api.conversation().respond(&id, body.to_vec());
                    accepted(result)
                }
                Err(size) => too_large(api, &id, size),
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
                Err(size) => too_large(api, &id, size),
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
    match api.conversation().deliver(delivery) {
        Ok(invocation) => invocation_response(invocation),
        Err(e) => api_error(&e),
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

fn too_large(api: &Api, request_id: &str, size: usize) -> Response<Body> {
    if let Err(e) = api.conversation().too_large(request_id, size) {
        return api_error(&e);
    }
    api_error(&ApiError {
        kind: ApiErrorKind::RequestEntityTooLarge,
        message: format!(
            "Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
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
