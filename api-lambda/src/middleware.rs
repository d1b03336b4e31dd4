//! What every request passes through before (or instead of) a route: the local server's door
//! (loopback `Host`, same origin), the local bearer token, the body size limit, and the JSON
//! answers for unknown routes and methods.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jobs_runtime::local_door;

use crate::error::ApiError;
use crate::state::{AppState, MAX_REQUEST_BYTES};

/// Local mode: refuses a request with a foreign `Host` (DNS rebinding) or from another origin (a
/// web page's cross-site form or fetch), before anything else, token or not
/// (`jobs_runtime::local_door`). Not installed under Lambda: API Gateway's IAM auth guards it.
pub async fn local_door(State(allowed): State<Arc<[String]>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let door = local_door::Request {
        method: request.method().as_str(),
        host: text("host"),
        origin: text("origin"),
        sec_fetch_site: text("sec-fetch-site"),
    };
    if let Err(refusal) = local_door::check(&door, &allowed) {
        tracing::warn!(%refusal, "request refused at the local door");
        return ApiError::new(StatusCode::FORBIDDEN, refusal.code(), refusal.to_string()).into_response();
    }
    next.run(request).await
}

/// Local mode: every route but `/openapi.json` requires `Authorization: Bearer <token>` with one of
/// the configured tokens; the request then carries whose token it was (`crate::caller`).
pub async fn require_token(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let tokens = &state.0.tokens;
    if tokens.is_empty() {
        return next.run(request).await;
    }
    let presented = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(identity) = presented.and_then(|v| v.strip_prefix("Bearer ")).and_then(|t| tokens.identify(t)) {
        let identity = identity.clone();
        request.extensions_mut().insert(identity);
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "missing or wrong bearer token (Authorization: Bearer …)",
    )
    .into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    response
}

pub fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("request body over {MAX_REQUEST_BYTES} bytes"),
    )
}

/// Refuses a request whose declared `Content-Length` is over the limit before reading its body.
/// Bodies without a length (chunked) are cut off by `DefaultBodyLimit` while being read.
pub async fn reject_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_REQUEST_BYTES as u64) {
        return too_large().into_response();
    }
    next.run(request).await
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see GET /openapi.json")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
}

/// Every 405 names what the route accepts: axum adds `Allow` after the fallback has answered, so
/// the message is written here, outside the router, from that header.
pub async fn explain_method_not_allowed(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let response = next.run(request).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let accepts = allow.as_ref().and_then(|a| a.to_str().ok()).filter(|a| !a.is_empty()).unwrap_or("no method");
    let message = format!("{path} does not accept {method}; it accepts {accepts} (see GET /openapi.json)");
    let mut explained = ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", message).into_response();
    if let Some(allow) = allow {
        explained.headers_mut().insert(header::ALLOW, allow);
    }
    explained
}
