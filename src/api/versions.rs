//! Versions, aliases and event-invoke config handlers.

use super::errors::ApiError;
use super::functions::json_body;
use super::{Body, ReqBody, State, empty_response, json_response, query_param};
use hearth_scheduler::event_config::EventInvokeConfigRequest;
use hearth_scheduler::provisioned::PutProvisioned;
use hearth_scheduler::versions::{CreateAlias, PublishVersion, UpdateAlias};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;

/// The answer of a List operation: one page of `items` (after the opaque `Marker`, an index
/// here) under `key`, and `NextMarker` when more follow.
fn page<T: serde::Serialize>(
    req: &Request<ReqBody>,
    key: &str,
    items: Vec<T>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let max = super::max_items(req)?;
    let start = match query_param(req, "Marker")? {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| ApiError::invalid_parameter(format!("Invalid Marker: {m}")))?,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let mut body = json!({ key: page });
    if start + page.len() < total {
        body["NextMarker"] = json!((start + page.len()).to_string());
    }
    Ok(json_response(StatusCode::OK, request_id, &body))
}

/// `POST …/functions/{name}/versions`: PublishVersion (201).
pub async fn publish(
    state: &State,
    req: Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: PublishVersion = json_body(req).await?;
    let config = state.scheduler.publish_version(name, request).await?;
    Ok(json_response(StatusCode::CREATED, request_id, &config))
}

/// `GET …/functions/{name}/versions`: ListVersionsByFunction.
pub fn list_versions(
    state: &State,
    req: &Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    page(
        req,
        "Versions",
        state.scheduler.list_versions(name)?,
        request_id,
    )
}

/// `POST …/functions/{name}/aliases`: CreateAlias (201).
pub async fn create_alias(
    state: &State,
    req: Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: CreateAlias = json_body(req).await?;
    let alias = state.scheduler.create_alias(name, request).await?;
    Ok(json_response(StatusCode::CREATED, request_id, &alias))
}

/// `GET …/functions/{name}/aliases[?FunctionVersion=]`: ListAliases.
pub fn list_aliases(
    state: &State,
    req: &Request<ReqBody>,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let version = query_param(req, "FunctionVersion")?;
    let aliases = state.scheduler.list_aliases(name, version.as_deref())?;
    page(req, "Aliases", aliases, request_id)
}

/// `GET …/aliases/{alias}`.
pub fn get_alias(
    state: &State,
    name: &str,
    alias: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let alias = state.scheduler.get_alias(name, alias)?;
    Ok(json_response(StatusCode::OK, request_id, &alias))
}

/// `PUT …/aliases/{alias}`.
pub async fn update_alias(
    state: &State,
    req: Request<ReqBody>,
    name: &str,
    alias: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: UpdateAlias = json_body(req).await?;
    let alias = state.scheduler.update_alias(name, alias, request).await?;
    Ok(json_response(StatusCode::OK, request_id, &alias))
}

/// `DELETE …/aliases/{alias}` (204).
pub async fn delete_alias(
    state: &State,
    name: &str,
    alias: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    state.scheduler.delete_alias(name, alias).await?;
    Ok(empty_response(StatusCode::NO_CONTENT, request_id))
}

/// `/2019-09-25/functions/{name}/event-invoke-config[?Qualifier=]`: PUT replaces, POST
/// updates, GET reads, DELETE removes.
pub async fn event_invoke_config(
    state: &State,
    req: Request<ReqBody>,
    method: Method,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let qualifier = query_param(&req, "Qualifier")?;
    let scheduler = &state.scheduler;
    match method {
        Method::GET => {
            let config = scheduler.get_event_invoke_config(name, qualifier.as_deref())?;
            Ok(json_response(StatusCode::OK, request_id, &config))
        }
        Method::PUT | Method::POST => {
            let merge = method == Method::POST;
            let request: EventInvokeConfigRequest = json_body(req).await?;
            let config = scheduler
                .put_event_invoke_config(name, qualifier.as_deref(), request, merge)
                .await?;
            Ok(json_response(StatusCode::OK, request_id, &config))
        }
        Method::DELETE => {
            scheduler
                .delete_event_invoke_config(name, qualifier.as_deref())
                .await?;
            Ok(empty_response(StatusCode::NO_CONTENT, request_id))
        }
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no operation at {other} event-invoke-config"),
        )),
    }
}

/// `/2019-09-30/functions/{name}/provisioned-concurrency?Qualifier=`: PUT (202, the
/// sandboxes start in the background), GET, DELETE (204).
pub async fn provisioned_concurrency(
    state: &State,
    req: Request<ReqBody>,
    method: Method,
    name: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let qualifier = query_param(&req, "Qualifier")?.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null",
        )
    })?;
    let scheduler = &state.scheduler;
    match method {
        Method::PUT => {
            let request: PutProvisioned = json_body(req).await?;
            let status = scheduler
                .put_provisioned_concurrency(name, &qualifier, request)
                .await?;
            Ok(json_response(StatusCode::ACCEPTED, request_id, &status))
        }
        Method::GET => {
            let status = scheduler.get_provisioned_concurrency(name, &qualifier)?;
            Ok(json_response(StatusCode::OK, request_id, &status))
        }
        Method::DELETE => {
            scheduler
                .delete_provisioned_concurrency(name, &qualifier)
                .await?;
            Ok(empty_response(StatusCode::NO_CONTENT, request_id))
        }
        other => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            format!("no operation at {other} provisioned-concurrency"),
        )),
    }
}
