//! Every error is JSON `{"error": {"code": "...", "message": "..."}}` with the right status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jobs_aws::{BackendError, SchedulerError};
use jobs_core::SpecError;
use jobs_core::message::Unsendable;
use jobs_core::schedule::ScheduleError;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_payload`.
    #[schema(example = "invalid_payload")]
    pub code: String,
    /// What is wrong, for people.
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unavailable(err: &BackendError) -> Self {
        tracing::error!(error = %err, "backend failure");
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable", format!("a backend service failed: {err}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message } };
        (self.status, Json(body)).into_response()
    }
}

impl From<SpecError> for ApiError {
    fn from(e: SpecError) -> Self {
        let code = match e {
            SpecError::UnknownKind { .. } => "unknown_kind",
            SpecError::InvalidPayload { .. } => "invalid_payload",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<Unsendable> for ApiError {
    fn from(e: Unsendable) -> Self {
        match e {
            Unsendable::TooLarge { .. } => Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", e.to_string()),
            Unsendable::Character { .. } => Self::bad_request("unsendable_payload", e.to_string()),
        }
    }
}

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        let code = match e {
            ScheduleError::TimeZone(_) => "invalid_timezone",
            ScheduleError::Invalid { .. } | ScheduleError::NeverFires(_) => "invalid_schedule",
        };
        Self::bad_request(code, e.to_string())
    }
}

impl From<crate::submit::SubmitError> for ApiError {
    fn from(e: crate::submit::SubmitError) -> Self {
        use crate::submit::SubmitError;
        match e {
            SubmitError::Unsendable(u) => u.into(),
            SubmitError::KeyReused => Self::new(StatusCode::CONFLICT, "idempotency_key_reused", e.to_string()),
            SubmitError::Raced => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            SubmitError::NotFound(_) => Self::not_found(e.to_string()),
            SubmitError::NotRetryable(_) => Self::new(StatusCode::CONFLICT, "not_retryable", e.to_string()),
            SubmitError::Backend(b) => Self::unavailable(&b),
        }
    }
}

impl From<crate::cancel::CancelError> for ApiError {
    fn from(e: crate::cancel::CancelError) -> Self {
        use crate::cancel::CancelError;
        match e {
            CancelError::NotFound(_) => Self::not_found(e.to_string()),
            CancelError::Finished { .. } => Self::new(StatusCode::CONFLICT, "job_finished", e.to_string()),
            CancelError::Raced => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            CancelError::Backend(b) => Self::unavailable(&b),
        }
    }
}

impl From<SchedulerError> for ApiError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::Conflict(_) => Self::new(StatusCode::CONFLICT, "schedule_exists", e.to_string()),
            SchedulerError::NotFound(_) => Self::not_found(e.to_string()),
            SchedulerError::Invalid(_) => Self::bad_request("invalid_schedule", e.to_string()),
            SchedulerError::Backend(b) => Self::unavailable(&b),
        }
    }
}

impl From<BackendError> for ApiError {
    fn from(e: BackendError) -> Self {
        Self::unavailable(&e)
    }
}
