//! The HTTP handlers, one module per resource. They only translate: parse and check the request,
//! call one adapter or application function, shape the answer (`crate::views`).

pub mod jobs;
pub mod kinds;
pub mod logs;
pub mod overview;
pub mod pools;
pub mod schedules;
pub mod tenants;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use jobs_core::json::JsonError;

use crate::error::ApiError;

/// The pattern of a job id (as in `jobs_core::message::valid_job_id`).
pub const JOB_ID_PATTERN: &str = r"^[A-Za-z0-9._:-]{1,128}$";
/// The pattern of a schedule name (as in `jobs_core::schedule::valid_name`).
pub const SCHEDULE_NAME_PATTERN: &str = r"^[A-Za-z0-9._-]{1,64}$";

pub(crate) fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => crate::middleware::too_large(),
        _ => ApiError::bad_request("invalid_body", e.body_text()),
    })
}

/// The body as `T`: `invalid_json` when it is not JSON, `invalid_field` (naming the field) when it
/// is JSON of another shape.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    jobs_core::json::from_slice(body).map_err(|e| match e {
        JsonError::Syntax(_) => ApiError::bad_request("invalid_json", format!("the body is {e}")),
        JsonError::Shape { .. } => ApiError::bad_request("invalid_field", format!("the body's {e}")),
    })
}

/// A page size from a `limit` query parameter: `default` without one, else 1 to `max`
/// (`invalid_limit` otherwise).
pub(crate) fn page_limit(limit: Option<&str>, default: usize, max: usize) -> Result<usize, ApiError> {
    let Some(l) = limit else { return Ok(default) };
    l.parse::<usize>().ok().filter(|l| (1..=max).contains(l)).ok_or_else(|| {
        ApiError::bad_request("invalid_limit", format!("limit must be an integer from 1 to {max}, got {l:?}"))
    })
}

/// Validates a kind + payload pair into a job, applying the default kind.
pub(crate) fn job_spec(
    kind: Option<String>,
    payload: Option<serde_json::Value>,
) -> Result<jobs_core::JobSpec, ApiError> {
    Ok(jobs_core::JobSpec::accept(
        kind.as_deref().unwrap_or(jobs_core::catalog::DEFAULT_KIND),
        payload.unwrap_or(serde_json::Value::Null),
    )?)
}

pub(crate) fn checked_job_id(id: &str) -> Result<(), ApiError> {
    if jobs_core::message::valid_job_id(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_job_id", format!("{id:?} is not a job id")))
    }
}
