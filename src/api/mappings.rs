//! Event source mappings: `/2015-03-31/event-source-mappings/`.

use super::errors::ApiError;
use super::functions::json_body;
use super::{Body, ReqBody, State, json_response, max_items, query_param};
use hearth_event_sources::mapping::MappingRequest;
use hyper::{Request, Response, StatusCode};

/// `POST …/event-source-mappings/`: 202 with the mapping `Creating`.
pub async fn create(
    state: &State,
    req: Request<ReqBody>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: MappingRequest = json_body(req).await?;
    let view = state.event_sources.create(request).await?;
    Ok(json_response(StatusCode::ACCEPTED, request_id, &view))
}

/// `GET …/event-source-mappings/?FunctionName=&EventSourceArn=&Marker=&MaxItems=`.
pub fn list(
    state: &State,
    req: &Request<ReqBody>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let function = query_param(req, "FunctionName")?;
    let source = query_param(req, "EventSourceArn")?;
    let marker = query_param(req, "Marker")?;
    let max = max_items(req)?.min(100);
    let view = state.event_sources.list(
        function.as_deref(),
        source.as_deref(),
        marker.as_deref(),
        max,
    )?;
    Ok(json_response(StatusCode::OK, request_id, &view))
}

/// `GET …/event-source-mappings/{UUID}`.
pub fn get(state: &State, uuid: &str, request_id: &str) -> Result<Response<Body>, ApiError> {
    let view = state.event_sources.get(uuid)?;
    Ok(json_response(StatusCode::OK, request_id, &view))
}

/// `PUT …/event-source-mappings/{UUID}`: 202 with the mapping `Updating`.
pub async fn update(
    state: &State,
    req: Request<ReqBody>,
    uuid: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let request: MappingRequest = json_body(req).await?;
    let view = state.event_sources.update(uuid, request).await?;
    Ok(json_response(StatusCode::ACCEPTED, request_id, &view))
}

/// `DELETE …/event-source-mappings/{UUID}`: 202 with the mapping `Deleting`.
pub async fn delete(
    state: &State,
    uuid: &str,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let view = state.event_sources.delete(uuid).await?;
    Ok(json_response(StatusCode::ACCEPTED, request_id, &view))
}
