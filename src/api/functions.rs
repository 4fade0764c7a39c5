//! Control-plane handlers: CreateFunction, Get/List/Delete, and function concurrency.

use super::errors::ApiError;
use super::{Body, ReqBody, State, empty_response, json_response, query_param, read_body};
use hearth_scheduler::{CreateFunction, UpdateCode, UpdateConfiguration};
use hyper::{Request, Response, StatusCode};
use serde_json::json;

/// The largest CreateFunction request Lambda takes: a 50 MB zip, base64-encoded, in JSON.
pub const MAX_CREATE_REQUEST_BYTES: usize = 69_905_067;

/// Parses a JSON request body; an empty body is `{}` (boto3 sends none for some calls).
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_content(format!("Could not parse request body into json: {e}"))
    })
}

/// Reads a small JSON request body.
pub async fn json_body<T: serde::de::DeserializeOwned>(
    req: Request<ReqBody>,
) -> Result<T, ApiError> {
    let body = read_body(req, 1024 * 1024, || {
        "Request must be smaller than 1048576 bytes".into()
    })?;
    parse_json(&body)
}

/// `POST /2015-03-31/functions`.
pub async fn create(
    state: &State,
    req: Request<ReqBody>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(req, MAX_CREATE_REQUEST_BYTES, || {
        format!(
            "Request must be smaller than {MAX_CREATE_REQUEST_BYTES} bytes for the CreateFunction operation"
        )
    })?;
    let request: CreateFunction = parse_json(&body)?;
    let config = state.scheduler.create_function(request).await?;
    Ok(json_response(StatusCode::CREATED, request_id, &config))
}

/// `GET /2015-03-31/functions/{name}`: GetFunction.
pub fn get(
    state: &State,
    req: &Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let scheduler = &state.scheduler;
    let (name, qualifier) = super::qualified_ref(req, name)?;
    let name = name.as_str();
    let config = scheduler.get_function(name, qualifier.as_deref())?;
    let tags = scheduler.list_tags(&scheduler.function_arn(name))?;
    let mut body = json!({
        "Configuration": config,
        "Code": { "RepositoryType": "S3", "Location": "" },
        "Tags": tags,
    });
    if let Some(n) = scheduler.get_function_concurrency(name)? {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok(json_response(StatusCode::OK, request_id, &body))
}

/// `GET /2015-03-31/functions/{name}/configuration`.
pub fn get_configuration(
    state: &State,
    req: &Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let (name, qualifier) = super::qualified_ref(req, name)?;
    let config = state.scheduler.get_function(&name, qualifier.as_deref())?;
    Ok(json_response(StatusCode::OK, request_id, &config))
}

/// `PUT /2015-03-31/functions/{name}/code`: UpdateFunctionCode.
pub async fn update_code(
    state: &State,
    req: Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(req, MAX_CREATE_REQUEST_BYTES, || {
        format!(
            "Request must be smaller than {MAX_CREATE_REQUEST_BYTES} bytes for the UpdateFunctionCode operation"
        )
    })?;
    let request: UpdateCode = parse_json(&body)?;
    let config = state.scheduler.update_function_code(name, request).await?;
    Ok(json_response(StatusCode::OK, request_id, &config))
}

/// `PUT /2015-03-31/functions/{name}/configuration`: UpdateFunctionConfiguration.
pub async fn update_configuration(
    state: &State,
    req: Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: UpdateConfiguration = json_body(req).await?;
    let config = state
        .scheduler
        .update_function_configuration(name, request)
        .await?;
    Ok(json_response(StatusCode::OK, request_id, &config))
}

/// `GET /2015-03-31/functions?Marker&MaxItems`: pages of at most 50, `NextMarker` to go on.
pub fn list(
    state: &State,
    req: &Request<ReqBody>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let max_items = super::max_items(req)?;
    let all = state.scheduler.list_functions();
    // The marker is the last name of the previous page: stable while functions come and go.
    let start = match query_param(req, "Marker")? {
        None => 0,
        Some(marker) => all.partition_point(|f| f.function_name.as_str() <= marker.as_str()),
    };
    let page: Vec<_> = all.iter().skip(start).take(max_items).collect();
    let mut body = json!({ "Functions": page });
    if start + page.len() < all.len()
        && let Some(last) = page.last()
    {
        body["NextMarker"] = json!(last.function_name);
    }
    Ok(json_response(StatusCode::OK, request_id, &body))
}

/// `DELETE /2015-03-31/functions/{name}[?Qualifier=N]`.
pub async fn delete(
    state: &State,
    req: &Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let (name, qualifier) = super::qualified_ref(req, name)?;
    state
        .scheduler
        .delete_function(&name, qualifier.as_deref())
        .await?;
    Ok(empty_response(StatusCode::NO_CONTENT, request_id))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutConcurrency {
    reserved_concurrent_executions: Option<i64>,
}

/// `PUT /2017-10-31/functions/{name}/concurrency`.
pub async fn put_concurrency(
    state: &State,
    req: Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: PutConcurrency = json_body(req).await?;
    let n = request.reserved_concurrent_executions.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "1 validation error detected: Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let n = u32::try_from(n).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!("1 validation error detected: Value '{n}' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"),
        )
    })?;
    let n = state.scheduler.put_function_concurrency(name, n).await?;
    Ok(json_response(
        StatusCode::OK,
        request_id,
        &json!({ "ReservedConcurrentExecutions": n }),
    ))
}

/// `GET /2019-09-30/functions/{name}/concurrency`.
pub fn get_concurrency(
    state: &State,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = match state.scheduler.get_function_concurrency(name)? {
        Some(n) => json!({ "ReservedConcurrentExecutions": n }),
        None => json!({}),
    };
    Ok(json_response(StatusCode::OK, request_id, &body))
}

/// `DELETE /2017-10-31/functions/{name}/concurrency`.
pub async fn delete_concurrency(
    state: &State,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    state.scheduler.delete_function_concurrency(name).await?;
    Ok(empty_response(StatusCode::NO_CONTENT, request_id))
}

/// `GET /2016-08-19/account-settings`.
pub fn account_settings(state: &State, request_id: &str) -> Result<Response<Body>, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        request_id,
        &state.scheduler.account_settings(),
    ))
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagRequest {
    #[serde(default)]
    tags: std::collections::BTreeMap<String, String>,
}

/// `GET /2017-03-31/tags/{arn}`: ListTags.
pub fn list_tags(state: &State, arn: &str, request_id: &str) -> Result<Response<Body>, ApiError> {
    let tags = state.scheduler.list_tags(arn)?;
    Ok(json_response(
        StatusCode::OK,
        request_id,
        &json!({ "Tags": tags }),
    ))
}

/// `POST /2017-03-31/tags/{arn}`: TagResource.
pub async fn tag(
    state: &State,
    req: Request<ReqBody>,
    arn: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: TagRequest = json_body(req).await?;
    state.scheduler.tag_resource(arn, request.tags).await?;
    Ok(empty_response(StatusCode::NO_CONTENT, request_id))
}

/// `DELETE /2017-03-31/tags/{arn}?tagKeys=a&tagKeys=b`: UntagResource.
pub async fn untag(
    state: &State,
    req: &Request<ReqBody>,
    arn: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let keys = super::query_params(req, "tagKeys")?;
    state.scheduler.untag_resource(arn, &keys).await?;
    Ok(empty_response(StatusCode::NO_CONTENT, request_id))
}

/// `DELETE /hearth/v1/functions/{name}/sandboxes`: hearth's own endpoint behind `hearth
/// bench`'s cold samples. Drops the function's idle sandboxes, so its next invoke starts a
/// new environment; answers `{"Evicted": n}`.
pub fn evict_idle(state: &State, name: &str, request_id: &str) -> Result<Response<Body>, ApiError> {
    hearth_scheduler::function::validate_name(name)?;
    let evicted = state.scheduler.evict_idle(name)?;
    Ok(super::json_response(
        StatusCode::OK,
        request_id,
        &serde_json::json!({ "Evicted": evicted }),
    ))
}

/// `GET /hearth/v1/logs/{name}?offset=N`: hearth's own endpoint behind `hearth logs`
/// (Lambda sends logs to CloudWatch Logs, a separate service). Answers up to 1 MB from the
/// offset and the next offset in `X-Hearth-Log-Offset`.
pub async fn read_log(
    state: &State,
    req: &Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    hearth_scheduler::function::validate_name(name)?;
    let offset = query_param(req, "offset")?
        .map(|o| o.parse::<u64>())
        .transpose()
        .map_err(|_| ApiError::invalid_parameter("offset must be a byte offset"))?
        .unwrap_or(0);
    let scheduler = &state.scheduler;
    let logs = scheduler.logs().clone();
    let function = name.to_owned();
    // Flushing and reading wait on the disk: not on an async worker.
    let read = tokio::task::spawn_blocking(move || logs.read(&function, offset, 1024 * 1024))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", e))?;
    let (bytes, next) = match read {
        Some(found) => found,
        None => {
            scheduler.get_function(name, None)?;
            (Vec::new(), 0)
        }
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("x-amzn-RequestId", request_id)
        .header("X-Hearth-Log-Offset", next.to_string())
        .body(super::full(bytes))
        .unwrap_or_else(|_| Response::new(super::full(""))))
}
