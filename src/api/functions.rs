//! Control-plane handlers: CreateFunction, Get/List/Delete, and function concurrency.

use super::errors::ApiError;
use super::{Body, State, empty_response, json_response, query_param, read_body};
use hearth_scheduler::CreateFunction;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::json;

/// The largest CreateFunction request Lambda takes: a 50 MB zip, base64-encoded, in JSON.
pub const MAX_CREATE_REQUEST_BYTES: usize = 69_905_067;

/// Most functions ListFunctions returns per page.
const MAX_LIST_ITEMS: usize = 50;

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid_content(format!("Could not parse request body into json: {e}"))
    })
}

/// `POST /2015-03-31/functions`.
pub async fn create(
    state: &State,
    req: Request<Incoming>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(req, MAX_CREATE_REQUEST_BYTES, || {
        format!("Request must be smaller than {MAX_CREATE_REQUEST_BYTES} bytes for the CreateFunction operation")
    })
    .await?;
    let request: CreateFunction = parse_json(&body)?;
    let config = state.scheduler.create_function(request).await?;
    Ok(json_response(StatusCode::CREATED, request_id, &config))
}

/// `GET /2015-03-31/functions/{name}`: GetFunction.
pub fn get(state: &State, name: &str, request_id: &str) -> Result<Response<Body>, ApiError> {
    let scheduler = &state.scheduler;
    let config = scheduler.get_function(name)?;
    let mut body = json!({
        "Configuration": config,
        "Code": { "RepositoryType": "S3", "Location": "" },
        "Tags": {},
    });
    if let Some(n) = scheduler.get_function_concurrency(name)? {
        body["Concurrency"] = json!({ "ReservedConcurrentExecutions": n });
    }
    Ok(json_response(StatusCode::OK, request_id, &body))
}

/// `GET /2015-03-31/functions/{name}/configuration`.
pub fn get_configuration(
    state: &State,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let config = state.scheduler.get_function(name)?;
    Ok(json_response(StatusCode::OK, request_id, &config))
}

/// `GET /2015-03-31/functions?Marker&MaxItems`: pages of at most 50, `NextMarker` to go on.
pub fn list(
    state: &State,
    req: &Request<Incoming>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let max_items = match query_param(req, "MaxItems")? {
        None => MAX_LIST_ITEMS,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n.min(MAX_LIST_ITEMS),
            _ => {
                return Err(ApiError::invalid_parameter(format!(
                    "1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000"
                )));
            }
        },
    };
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

/// `DELETE /2015-03-31/functions/{name}`.
pub fn delete(state: &State, name: &str, request_id: &str) -> Result<Response<Body>, ApiError> {
    state.scheduler.delete_function(name)?;
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
    req: Request<Incoming>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = read_body(req, 64 * 1024, || "Request too large".into()).await?;
    let request: PutConcurrency = parse_json(&body)?;
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
    let n = state.scheduler.put_function_concurrency(name, n)?;
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
pub fn delete_concurrency(
    state: &State,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    state.scheduler.delete_function_concurrency(name)?;
    Ok(empty_response(StatusCode::NO_CONTENT, request_id))
}
