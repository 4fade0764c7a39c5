//! SQS on hearth's port, in both protocols real clients send.
//!
//! - JSON (`X-Amz-Target: AmazonSQS.<Op>`, `application/x-amz-json-1.0`): every botocore
//!   since 1.34.90. Errors are `{"__type","message"}` with `x-amzn-query-error:
//!   <query code>;Sender`, from which botocore picks the modelled exception.
//! - Query (form-encoded `Action=<Op>`, XML answers): older SDKs, and the AWS CLI v2 that
//!   Debian packages. [`form`] turns its flattened parameters into the JSON protocol's shape,
//!   and [`xml`] the JSON answer into SQS's XML, so each operation is written once, against
//!   the JSON shapes.
//!
//! Queue URLs are `http://HOST/ACCOUNT/NAME` with the `Host` the client used, so they point
//! back at whatever address reached hearth.

mod form;
mod xml;

use super::{Body, ReqBody, full};
use base64::Engine as _;
use hearth_queue::{AttributeValue, Engine, ErrorKind, NewMessage, ReceiveOptions, SqsError};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashSet};

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    Query,
}

/// The SQS protocol of a request, if it is an SQS request at all. Lambda's API never sends
/// a form or an `AmazonSQS.` target, so neither can be mistaken for it.
pub fn protocol_of<B>(req: &Request<B>) -> Option<Protocol> {
    let headers = req.headers();
    if headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("AmazonSQS."))
    {
        return Some(Protocol::Json);
    }
    let form = headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let action_in_query = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("Action=")));
    match *req.method() {
        Method::POST if form || action_in_query => Some(Protocol::Query),
        Method::GET if action_in_query => Some(Protocol::Query),
        _ => None,
    }
}

/// What an operation needs besides its input.
struct Call<'a> {
    engine: &'a Engine,
    protocol: Protocol,
    /// `http://HOST/ACCOUNT/` for queue URLs.
    url_base: String,
    /// `SenderId` of sent messages: the access key that signed the request.
    sender: String,
}

impl Call<'_> {
    fn url(&self, name: &str) -> String {
        format!("{}{name}", self.url_base)
    }

    /// An error's code as this protocol's clients read it in batch results.
    fn code(&self, kind: ErrorKind) -> &'static str {
        match self.protocol {
            Protocol::Json => kind.json_type(),
            Protocol::Query => kind.query_code(),
        }
    }
}

/// Answers one SQS request.
pub async fn handle(
    engine: &Engine,
    req: Request<ReqBody>,
    protocol: Protocol,
    request_id: &str,
) -> Response<Body> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let sender = access_key(&req).unwrap_or_else(|| engine.account().to_owned());
    let call = Call {
        engine,
        protocol,
        url_base: format!("http://{host}/{}/", engine.account()),
        sender,
    };
    let (op, input) = match parse(req, protocol) {
        Ok(parsed) => parsed,
        Err(e) => return error_response(protocol, "Unknown", &e, request_id),
    };
    match dispatch(&call, &op, &input).await {
        Ok(output) => ok_response(protocol, &op, output, request_id),
        Err(e) => error_response(protocol, &op, &e, request_id),
    }
}

/// The access key id in a SigV4 `Authorization` header.
fn access_key<B>(req: &Request<B>) -> Option<String> {
    let auth = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let credential = auth.split("Credential=").nth(1)?;
    let key = credential.split('/').next()?;
    (!key.is_empty()).then(|| key.to_owned())
}

fn parse(req: Request<ReqBody>, protocol: Protocol) -> Result<(String, Value), SqsError> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let path = req.uri().path().to_owned();
    let url_query = req.uri().query().unwrap_or_default().to_owned();
    let body = super::body_bytes(req.into_body());
    match protocol {
        Protocol::Json => {
            let op = target
                .and_then(|t| t.strip_prefix("AmazonSQS.").map(str::to_owned))
                .unwrap_or_default();
            let input = if body.is_empty() {
                Value::Object(Map::new())
            } else {
                serde_json::from_slice(&body).map_err(|e| {
                    SqsError::new(
                        ErrorKind::MalformedInput,
                        format!("The request body is not valid JSON: {e}"),
                    )
                })?
            };
            if !input.is_object() {
                return Err(SqsError::new(
                    ErrorKind::MalformedInput,
                    "The request body must be a JSON object.",
                ));
            }
            Ok((op, input))
        }
        Protocol::Query => {
            let mut params = form::decode(&url_query)?;
            let text = std::str::from_utf8(&body).map_err(|_| {
                SqsError::new(ErrorKind::MalformedInput, "The request body is not UTF-8.")
            })?;
            params.extend(form::decode(text)?);
            let op = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut input = form::to_json(&params);
            // A request sent to the queue's URL names the queue by its path.
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            if segments.len() == 2 && input.get("QueueUrl").is_none() {
                input["QueueUrl"] = json!(format!("/{}", segments.join("/")));
            }
            Ok((op, input))
        }
    }
}

fn ok_response(protocol: Protocol, op: &str, output: Value, request_id: &str) -> Response<Body> {
    let (content_type, body) = match protocol {
        Protocol::Json => ("application/x-amz-json-1.0", output.to_string()),
        Protocol::Query => ("text/xml", xml::response(op, &output, request_id)),
    };
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", content_type)
        .header("x-amzn-RequestId", request_id)
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn error_response(protocol: Protocol, op: &str, e: &SqsError, request_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(e.kind.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let fault = if e.kind.sender_fault() {
        "Sender"
    } else {
        "Receiver"
    };
    if e.kind == ErrorKind::Internal {
        tracing::error!(operation = op, error = %e.message, "SQS request failed");
    }
    let builder = Response::builder()
        .status(status)
        .header("x-amzn-RequestId", request_id);
    let response = match protocol {
        Protocol::Json => builder
            .header("Content-Type", "application/x-amz-json-1.0")
            .header(
                "x-amzn-query-error",
                format!("{};{fault}", e.kind.query_code()),
            )
            .body(full(
                json!({
                    "__type": format!("com.amazonaws.sqs#{}", e.kind.json_type()),
                    "message": e.message,
                })
                .to_string(),
            )),
        Protocol::Query => builder
            .header("Content-Type", "text/xml")
            .body(full(xml::error(
                fault,
                e.kind.query_code(),
                &e.message,
                request_id,
            ))),
    };
    response.unwrap_or_else(|_| Response::new(full("")))
}

// --- reading the input -------------------------------------------------------------------

fn string<'a>(input: &'a Value, name: &str) -> Result<Option<&'a str>, SqsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SqsError::invalid(format!(
            "Value for parameter {name} must be a string."
        ))),
    }
}

fn required<'a>(input: &'a Value, name: &str) -> Result<&'a str, SqsError> {
    string(input, name)?.ok_or_else(|| SqsError::missing(name))
}

/// An integer parameter: a JSON number, or the query protocol's string.
fn integer(input: &Value, name: &str) -> Result<Option<i64>, SqsError> {
    let bad = |v: &Value| {
        SqsError::invalid(format!(
            "Value {v} for parameter {name} is invalid. Reason: must be an integer."
        ))
    };
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(&input[name])),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(&input[name])),
        Some(other) => Err(bad(other)),
    }
}

/// A non-negative integer parameter that fits `u32`.
fn count(input: &Value, name: &str) -> Result<Option<u32>, SqsError> {
    match integer(input, name)? {
        None => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            SqsError::invalid(format!(
                "Value {n} for parameter {name} is invalid. Reason: must be between 0 and {}.",
                u32::MAX
            ))
        }),
    }
}

fn strings(input: &Value, name: &str) -> Result<Vec<String>, SqsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| SqsError::invalid(format!("{name} must be a list of strings.")))
            })
            .collect(),
        Some(_) => Err(SqsError::invalid(format!(
            "{name} must be a list of strings."
        ))),
    }
}

fn string_map(input: &Value, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                _ => Err(SqsError::invalid(format!(
                    "Values of {name} must be strings."
                ))),
            })
            .collect(),
        Some(_) => Err(SqsError::invalid(format!(
            "{name} must be a map of strings."
        ))),
    }
}

fn message_attributes(
    input: &Value,
    name: &str,
) -> Result<BTreeMap<String, AttributeValue>, SqsError> {
    let Some(map) = input.get(name).filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let map = map
        .as_object()
        .ok_or_else(|| SqsError::invalid(format!("{name} must be a map.")))?;
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let data_type = string(value, "DataType")?.ok_or_else(|| {
            SqsError::invalid(format!(
                "The message attribute '{key}' must contain a non-empty message attribute type."
            ))
        })?;
        let binary = match string(value, "BinaryValue")? {
            Some(b64) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| {
                        SqsError::invalid(format!(
                            "The message attribute '{key}' has an invalid binary value."
                        ))
                    })?,
            ),
            None => None,
        };
        let lists = ["StringListValues", "BinaryListValues"].iter().any(|l| {
            value
                .get(*l)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        });
        if lists {
            return Err(SqsError::new(
                ErrorKind::UnsupportedOperation,
                format!(
                    "Message attribute list values in '{key}' are not supported (SQS reserves them for future use)."
                ),
            ));
        }
        out.insert(
            key.clone(),
            AttributeValue {
                data_type: data_type.to_owned(),
                string_value: string(value, "StringValue")?.map(str::to_owned),
                binary_value: binary,
            },
        );
    }
    Ok(out)
}

/// The queue a `QueueUrl` names: its last path segment.
fn queue_name(url: &str) -> Result<String, SqsError> {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .ok_or_else(SqsError::no_queue)
}

fn queue_of(input: &Value) -> Result<String, SqsError> {
    queue_name(required(input, "QueueUrl")?)
}

/// The `Entries` of a batch request, checked as SQS checks them.
fn entries<'a>(input: &'a Value, entry_name: &str) -> Result<Vec<(&'a str, &'a Value)>, SqsError> {
    let items = match input.get("Entries") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(SqsError::invalid("Entries must be a list.")),
    };
    if items.is_empty() {
        return Err(SqsError::new(
            ErrorKind::EmptyBatchRequest,
            format!("There should be at least one {entry_name} in the request."),
        ));
    }
    if items.len() > 10 {
        return Err(SqsError::new(
            ErrorKind::TooManyEntriesInBatchRequest,
            format!(
                "Maximum number of entries per request are 10. You have sent {}.",
                items.len()
            ),
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let id = required(item, "Id")?;
        let valid = (1..=80).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(SqsError::new(
                ErrorKind::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(
                ErrorKind::BatchEntryIdsNotDistinct,
                format!("Id {id} repeated."),
            ));
        }
        out.push((id, item));
    }
    Ok(out)
}

fn failed(call: &Call<'_>, id: &str, e: &SqsError) -> Value {
    json!({
        "Id": id,
        "SenderFault": e.kind.sender_fault(),
        "Code": call.code(e.kind),
        "Message": e.message,
    })
}

/// A page of names: `MaxResults` (1–1,000) and the `NextToken` of the previous page.
fn page(names: Vec<String>, input: &Value) -> Result<(Vec<String>, Option<String>), SqsError> {
    let max = match integer(input, "MaxResults")? {
        None => None,
        Some(n @ 1..=1000) => Some(n as usize),
        Some(n) => {
            return Err(SqsError::invalid(format!(
                "Value {n} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
    };
    let after = match string(input, "NextToken")? {
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SqsError::invalid("Invalid NextToken value."))?,
        ),
        None => None,
    };
    let rest: Vec<String> = names
        .into_iter()
        .filter(|n| after.as_ref().is_none_or(|a| n > a))
        .collect();
    match max {
        Some(max) if rest.len() > max => {
            let page: Vec<String> = rest.into_iter().take(max).collect();
            let token = page
                .last()
                .map(|l| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(l));
            Ok((page, token))
        }
        // Without MaxResults SQS returns at most 1,000 queues and no token.
        None => Ok((rest.into_iter().take(1000).collect(), None)),
        Some(_) => Ok((rest, None)),
    }
}

/// Whether an attribute `name` is selected by the names a receive asked for (`All`, an
/// exact name, or a `prefix.*`).
fn selected(name: &str, asked: &[String]) -> bool {
    asked.iter().any(|a| {
        a == "All"
            || a == ".*"
            || a == name
            || a.strip_suffix(".*")
                .is_some_and(|p| name.starts_with(p) && name[p.len()..].starts_with('.'))
    })
}

// --- the operations ----------------------------------------------------------------------

async fn dispatch(call: &Call<'_>, op: &str, input: &Value) -> Result<Value, SqsError> {
    let engine = call.engine;
    match op {
        "CreateQueue" => {
            let name = required(input, "QueueName")?;
            let attributes = string_map(input, "Attributes")?;
            let tags = string_map(input, "tags")?;
            let queue = engine.create_queue(name, attributes, tags).await?;
            Ok(json!({ "QueueUrl": call.url(&queue.name) }))
        }
        "GetQueueUrl" => {
            let name = required(input, "QueueName")?;
            let queue = engine.queue(name)?;
            Ok(json!({ "QueueUrl": call.url(&queue.name) }))
        }
        "ListQueues" => {
            let prefix = string(input, "QueueNamePrefix")?.unwrap_or_default();
            let (names, token) = page(engine.list(prefix), input)?;
            let mut out = json!({});
            if !names.is_empty() {
                out["QueueUrls"] = names.iter().map(|n| call.url(n)).collect();
            }
            if let Some(token) = token {
                out["NextToken"] = json!(token);
            }
            Ok(out)
        }
        "DeleteQueue" => {
            engine.delete_queue(&queue_of(input)?).await?;
            Ok(json!({}))
        }
        "GetQueueAttributes" => {
            let names = strings(input, "AttributeNames")?;
            let attributes = engine.attributes(&queue_of(input)?, &names)?;
            let mut out = json!({});
            if !attributes.is_empty() {
                out["Attributes"] = json!(attributes);
            }
            Ok(out)
        }
        "SetQueueAttributes" => {
            let attributes = string_map(input, "Attributes")?;
            engine.set_attributes(&queue_of(input)?, attributes).await?;
            Ok(json!({}))
        }
        "TagQueue" => {
            let tags = string_map(input, "Tags")?;
            engine.retag(&queue_of(input)?, tags, &[]).await?;
            Ok(json!({}))
        }
        "UntagQueue" => {
            let keys = strings(input, "TagKeys")?;
            engine
                .retag(&queue_of(input)?, BTreeMap::new(), &keys)
                .await?;
            Ok(json!({}))
        }
        "ListQueueTags" => {
            let tags = engine.tags(&queue_of(input)?)?;
            let mut out = json!({});
            if !tags.is_empty() {
                out["Tags"] = json!(tags);
            }
            Ok(out)
        }
        "SendMessage" => {
            let message = new_message(call, input)?;
            let mut sent = engine.send(&queue_of(input)?, vec![message]).await?;
            let sent = sent
                .pop()
                .unwrap_or_else(|| Err(SqsError::invalid("nothing sent")))?;
            let mut out = json!({
                "MessageId": sent.message_id,
                "MD5OfMessageBody": sent.md5_of_body,
            });
            sent_fields(&mut out, &sent);
            Ok(out)
        }
        "SendMessageBatch" => {
            let queue = queue_of(input)?;
            let entries = entries(input, "SendMessageBatchRequestEntry")?;
            let mut messages = Vec::new();
            let mut ids = Vec::new();
            let mut failures = Vec::new();
            let mut total = 0usize;
            for (id, entry) in &entries {
                match new_message(call, entry) {
                    Ok(m) => {
                        total += m.size();
                        messages.push(m);
                        ids.push(*id);
                    }
                    Err(e) => failures.push(failed(call, id, &e)),
                }
            }
            let limit = engine.queue(&queue)?.config().maximum_message_size;
            if total > limit {
                return Err(SqsError::new(
                    ErrorKind::BatchRequestTooLong,
                    format!(
                        "Batch requests cannot be longer than {limit} bytes. You have sent {total} bytes."
                    ),
                ));
            }
            let results = engine.send(&queue, messages).await?;
            let mut successes = Vec::new();
            for (id, result) in ids.into_iter().zip(results) {
                match result {
                    Ok(sent) => {
                        let mut out = json!({
                            "Id": id,
                            "MessageId": sent.message_id,
                            "MD5OfMessageBody": sent.md5_of_body,
                        });
                        sent_fields(&mut out, &sent);
                        successes.push(out);
                    }
                    Err(e) => failures.push(failed(call, id, &e)),
                }
            }
            Ok(batch_result(successes, failures))
        }
        "ReceiveMessage" => receive(call, input).await,
        "DeleteMessage" => {
            let handle = required(input, "ReceiptHandle")?.to_owned();
            let mut results = engine.delete(&queue_of(input)?, &[handle]).await?;
            results.pop().unwrap_or(Ok(()))?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" => {
            let queue = queue_of(input)?;
            let entries = entries(input, "DeleteMessageBatchRequestEntry")?;
            let mut handles = Vec::new();
            for (_, entry) in &entries {
                handles.push(required(entry, "ReceiptHandle")?.to_owned());
            }
            let results = engine.delete(&queue, &handles).await?;
            Ok(entry_results(call, &entries, results))
        }
        "ChangeMessageVisibility" => {
            let handle = required(input, "ReceiptHandle")?.to_owned();
            let timeout = count(input, "VisibilityTimeout")?
                .ok_or_else(|| SqsError::missing("VisibilityTimeout"))?;
            let mut results = engine.change_visibility(&queue_of(input)?, &[(handle, timeout)])?;
            results.pop().unwrap_or(Ok(()))?;
            Ok(json!({}))
        }
        "ChangeMessageVisibilityBatch" => {
            let queue = queue_of(input)?;
            let entries = entries(input, "ChangeMessageVisibilityBatchRequestEntry")?;
            let mut changes = Vec::new();
            for (_, entry) in &entries {
                let handle = required(entry, "ReceiptHandle")?.to_owned();
                let timeout = count(entry, "VisibilityTimeout")?.unwrap_or(0);
                changes.push((handle, timeout));
            }
            let results = engine.change_visibility(&queue, &changes)?;
            Ok(entry_results(call, &entries, results))
        }
        "PurgeQueue" => {
            engine.purge(&queue_of(input)?).await?;
            Ok(json!({}))
        }
        "ListDeadLetterSourceQueues" => {
            let sources = engine.dead_letter_sources(&queue_of(input)?)?;
            let (names, token) = page(sources, input)?;
            let mut out =
                json!({ "queueUrls": names.iter().map(|n| call.url(n)).collect::<Vec<_>>() });
            if let Some(token) = token {
                out["NextToken"] = json!(token);
            }
            Ok(out)
        }
        "StartMessageMoveTask" => {
            let source = required(input, "SourceArn")?;
            let destination = string(input, "DestinationArn")?.map(str::to_owned);
            let rate = count(input, "MaxNumberOfMessagesPerSecond")?;
            let handle = engine.start_move(source, destination, rate).await?;
            Ok(json!({ "TaskHandle": handle }))
        }
        "ListMessageMoveTasks" => {
            let source = required(input, "SourceArn")?;
            engine.queue_by_arn(source).map_err(|_| {
                SqsError::new(
                    ErrorKind::ResourceNotFound,
                    "The resource that you specified for the SourceArn parameter doesn't exist.",
                )
            })?;
            let max = match integer(input, "MaxResults")? {
                None => 1,
                Some(n @ 1..=10) => n as usize,
                Some(n) => {
                    return Err(SqsError::invalid(format!(
                        "Value {n} for parameter MaxResults is invalid. Reason: must be between 1 and 10."
                    )));
                }
            };
            let results: Vec<Value> = engine
                .move_tasks(source, max)
                .into_iter()
                .map(|t| {
                    let mut task = json!({
                        "Status": t.status,
                        "SourceArn": t.source_arn,
                        "ApproximateNumberOfMessagesMoved": t.moved,
                        "ApproximateNumberOfMessagesToMove": t.to_move,
                        "StartedTimestamp": t.started_ms,
                    });
                    if t.status == "RUNNING" {
                        task["TaskHandle"] = json!(t.handle);
                    }
                    if let Some(d) = t.destination_arn {
                        task["DestinationArn"] = json!(d);
                    }
                    if let Some(r) = t.max_per_second {
                        task["MaxNumberOfMessagesPerSecond"] = json!(r);
                    }
                    if let Some(f) = t.failure {
                        task["FailureReason"] = json!(f);
                    }
                    task
                })
                .collect();
            Ok(json!({ "Results": results }))
        }
        "CancelMessageMoveTask" => {
            let moved = engine.cancel_move(required(input, "TaskHandle")?)?;
            Ok(json!({ "ApproximateNumberOfMessagesMoved": moved }))
        }
        "AddPermission" | "RemovePermission" => Err(SqsError::new(
            ErrorKind::UnsupportedOperation,
            format!(
                "{op} is not supported: hearth does not evaluate SQS access policies (every signed request may use every queue)."
            ),
        )),
        "" => Err(SqsError::new(
            ErrorKind::MissingParameter,
            "The request must contain the parameter Action.",
        )),
        other => Err(SqsError::new(
            ErrorKind::InvalidAction,
            format!("The action {other} is not valid for this endpoint."),
        )),
    }
}

fn new_message(call: &Call<'_>, input: &Value) -> Result<NewMessage, SqsError> {
    Ok(NewMessage {
        body: required(input, "MessageBody")?.to_owned(),
        attributes: message_attributes(input, "MessageAttributes")?,
        system_attributes: message_attributes(input, "MessageSystemAttributes")?,
        delay_seconds: count(input, "DelaySeconds")?,
        group_id: string(input, "MessageGroupId")?.map(str::to_owned),
        deduplication_id: string(input, "MessageDeduplicationId")?.map(str::to_owned),
        sender_id: call.sender.clone(),
    })
}

fn sent_fields(out: &mut Value, sent: &hearth_queue::Sent) {
    if let Some(md5) = &sent.md5_of_attributes {
        out["MD5OfMessageAttributes"] = json!(md5);
    }
    if let Some(md5) = &sent.md5_of_system_attributes {
        out["MD5OfMessageSystemAttributes"] = json!(md5);
    }
    if let Some(seq) = &sent.sequence_number {
        out["SequenceNumber"] = json!(seq);
    }
}

/// A batch's `Successful` (`{"Id"}`) and `Failed` entries, for operations that return
/// nothing else per entry.
fn entry_results(
    call: &Call<'_>,
    entries: &[(&str, &Value)],
    results: Vec<Result<(), SqsError>>,
) -> Value {
    let (mut successes, mut failures) = (Vec::new(), Vec::new());
    for ((id, _), result) in entries.iter().zip(results) {
        match result {
            Ok(()) => successes.push(json!({ "Id": id })),
            Err(e) => failures.push(failed(call, id, &e)),
        }
    }
    batch_result(successes, failures)
}

fn batch_result(successes: Vec<Value>, failures: Vec<Value>) -> Value {
    json!({ "Successful": successes, "Failed": failures })
}

async fn receive(call: &Call<'_>, input: &Value) -> Result<Value, SqsError> {
    let queue = queue_of(input)?;
    let max = match integer(input, "MaxNumberOfMessages")? {
        None => 1,
        Some(n) if (1..=10).contains(&n) => n as usize,
        Some(n) => {
            return Err(SqsError::invalid(format!(
                "Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
            )));
        }
    };
    let options = ReceiveOptions {
        max,
        wait_seconds: count(input, "WaitTimeSeconds")?,
        visibility_timeout: count(input, "VisibilityTimeout")?,
    };
    let mut system_names = strings(input, "AttributeNames")?;
    system_names.extend(strings(input, "MessageSystemAttributeNames")?);
    let attribute_names = strings(input, "MessageAttributeNames")?;
    let received = call.engine.receive(&queue, options).await?;
    let messages: Vec<Value> = received
        .into_iter()
        .map(|m| {
            let mut out = json!({
                "MessageId": m.message_id,
                "ReceiptHandle": m.receipt_handle,
                "MD5OfBody": m.md5_of_body,
                "Body": m.body,
            });
            let system: BTreeMap<&str, &String> = m
                .system
                .iter()
                .filter(|(k, _)| selected(k, &system_names))
                .map(|(k, v)| (*k, v))
                .collect();
            if !system.is_empty() {
                out["Attributes"] = json!(system);
            }
            let attributes: BTreeMap<String, AttributeValue> = m
                .attributes
                .into_iter()
                .filter(|(k, _)| selected(k, &attribute_names))
                .collect();
            if let Some(md5) = hearth_queue::message::md5_of_attributes(&attributes) {
                out["MD5OfMessageAttributes"] = json!(md5);
                let rendered: Map<String, Value> = attributes
                    .iter()
                    .map(|(k, v)| {
                        let mut value = json!({ "DataType": v.data_type });
                        if let Some(s) = &v.string_value {
                            value["StringValue"] = json!(s);
                        }
                        if let Some(b) = &v.binary_value {
                            value["BinaryValue"] =
                                json!(base64::engine::general_purpose::STANDARD.encode(b));
                        }
                        (k.clone(), value)
                    })
                    .collect();
                out["MessageAttributes"] = Value::Object(rendered);
            }
            out
        })
        .collect();
    if messages.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Messages": messages }))
}

/// Prometheus text for the queues and the mappings' pollers.
pub fn metrics_text(engine: &Engine, sources: &hearth_event_sources::EventSources) -> String {
    use std::fmt::Write as _;
    fn label(value: &str) -> String {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    }
    let mut out = String::new();
    let queues = engine.summaries();
    let _ = writeln!(
        out,
        "# HELP hearth_queue_messages Messages in an SQS queue, by state."
    );
    let _ = writeln!(out, "# TYPE hearth_queue_messages gauge");
    for q in &queues {
        let name = label(&q.name);
        for (state, n) in [
            ("visible", q.visible),
            ("in_flight", q.in_flight),
            ("delayed", q.delayed),
        ] {
            let _ = writeln!(
                out,
                "hearth_queue_messages{{queue=\"{name}\",state=\"{state}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP hearth_queue_oldest_message_age_seconds Age of the oldest message in an SQS queue."
    );
    let _ = writeln!(out, "# TYPE hearth_queue_oldest_message_age_seconds gauge");
    for q in &queues {
        let _ = writeln!(
            out,
            "hearth_queue_oldest_message_age_seconds{{queue=\"{}\"}} {}",
            label(&q.name),
            q.oldest_age_seconds
        );
    }
    let mappings = sources.status();
    type Count = fn(&hearth_event_sources::MappingStatus) -> u64;
    let counters: [(&str, &str, Count); 9] = [
        (
            "hearth_mapping_messages_received_total",
            "Messages a mapping's poller received.",
            |m| m.received,
        ),
        (
            "hearth_mapping_messages_deleted_total",
            "Messages a mapping deleted after delivery or filtering.",
            |m| m.deleted,
        ),
        (
            "hearth_mapping_messages_filtered_total",
            "Messages no filter of a mapping matched.",
            |m| m.filtered,
        ),
        (
            "hearth_mapping_batches_total",
            "Batches a mapping invoked its function with.",
            |m| m.batches,
        ),
        (
            "hearth_mapping_function_errors_total",
            "Batches that failed in the function.",
            |m| m.function_errors,
        ),
        (
            "hearth_mapping_throttled_total",
            "Invokes of a batch that were throttled (and retried).",
            |m| m.throttled,
        ),
        (
            "hearth_mapping_retries_total",
            "Stream batches retried after a function error.",
            |m| m.retries,
        ),
        (
            "hearth_mapping_bisections_total",
            "Failed stream batches split in two (BisectBatchOnFunctionError).",
            |m| m.bisections,
        ),
        (
            "hearth_mapping_on_failure_total",
            "Stream batches given up and sent to the OnFailure destination.",
            |m| m.on_failure,
        ),
    ];
    for (metric, help, value) in counters {
        let _ = writeln!(out, "# HELP {metric} {help}");
        let _ = writeln!(out, "# TYPE {metric} counter");
        for m in &mappings {
            let _ = writeln!(
                out,
                "{metric}{{uuid=\"{}\",function=\"{}\"}} {}",
                m.uuid,
                label(&m.function),
                value(m)
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP hearth_mapping_workers Pollers a mapping runs now."
    );
    let _ = writeln!(out, "# TYPE hearth_mapping_workers gauge");
    for m in &mappings {
        let _ = writeln!(
            out,
            "hearth_mapping_workers{{uuid=\"{}\",function=\"{}\"}} {}",
            m.uuid,
            label(&m.function),
            m.workers
        );
    }
    let _ = writeln!(
        out,
        "# HELP hearth_mapping_iterator_age_milliseconds Age of the record a stream mapping is at, per shard (0: caught up)."
    );
    let _ = writeln!(out, "# TYPE hearth_mapping_iterator_age_milliseconds gauge");
    for m in &mappings {
        for (shard, age) in &m.iterator_age_ms {
            let _ = writeln!(
                out,
                "hearth_mapping_iterator_age_milliseconds{{uuid=\"{}\",shard=\"{}\"}} {age}",
                m.uuid,
                label(shard)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_urls_name_their_queue() {
        assert_eq!(
            queue_name("http://127.0.0.1:9/000000000000/q").expect("q"),
            "q"
        );
        assert_eq!(queue_name("/000000000000/q.fifo").expect("q"), "q.fifo");
        assert_eq!(
            queue_name("https://sqs.us-east-1.amazonaws.com/1/x/").expect("x"),
            "x"
        );
        assert!(queue_name("http://host").is_err());
    }

    #[test]
    fn attribute_selection() {
        let asked = vec![
            "Sent*".to_owned(),
            "ApproximateReceiveCount".to_owned(),
            "app.*".to_owned(),
        ];
        assert!(selected("ApproximateReceiveCount", &asked));
        assert!(
            !selected("SentTimestamp", &asked),
            "only `prefix.*` is a pattern"
        );
        assert!(selected("app.x", &asked));
        assert!(!selected("apple", &asked));
        assert!(selected("anything", &["All".to_owned()]));
    }

    #[test]
    fn paging_queue_names() {
        let names: Vec<String> = (0..5).map(|i| format!("q{i}")).collect();
        let input = json!({"MaxResults": 2});
        let (first, token) = page(names.clone(), &input).expect("page");
        assert_eq!(first, ["q0", "q1"]);
        let input = json!({"MaxResults": "2", "NextToken": token.expect("more")});
        let (second, _) = page(names.clone(), &input).expect("page");
        assert_eq!(second, ["q2", "q3"]);
        assert!(page(names, &json!({"MaxResults": 0})).is_err());
    }
}
