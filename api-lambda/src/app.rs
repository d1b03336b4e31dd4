//! The one router, served by Lambda (API Gateway HTTP API, payload 2.0) or by a local HTTP server.
//! Handlers do not know which.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use jobs_aws::{Idempotency, JobQueue, JobRecord, JobStore, ScheduleInfo, ScheduleRequest, Schedules};
use jobs_core::kinds::DEFAULT_KIND;
use jobs_core::message::MAX_MESSAGE_BYTES;
use jobs_core::{JobMessage, JobSpec, schedule};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::submit::Delivery;

/// Requests larger than this are refused before they are read (413).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Fire times returned with a schedule.
pub const NEXT_FIRE_TIMES: usize = 5;

pub struct Inner {
    pub store: JobStore,
    pub queue: JobQueue,
    pub schedules: Schedules,
    /// Local mode: the bearer token every route but `/openapi.json` requires.
    pub token: Option<String>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/jobs", post(create_job))
        .route("/jobs/stats", get(stats))
        .route("/jobs/schedule", post(create_schedule))
        .route("/jobs/schedules", get(list_schedules))
        .route("/jobs/schedules/{name}", get(get_schedule).delete(delete_schedule))
        .route("/jobs/{id}", get(get_job))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route("/openapi.json", get(crate::openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(reject_declared_oversize))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(state)
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = &state.0.token else { return next.run(request).await };
    let presented = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if presented.and_then(|v| v.strip_prefix("Bearer ")) == Some(token.as_str()) {
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

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("request body over {MAX_REQUEST_BYTES} bytes"),
    )
}

/// Refuses a request whose declared `Content-Length` is over the limit before reading its body.
/// Bodies without a length (chunked) are cut off by `DefaultBodyLimit` while being read.
async fn reject_declared_oversize(request: Request, next: Next) -> Response {
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_REQUEST_BYTES as u64) {
        return too_large().into_response();
    }
    next.run(request).await
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; see GET /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
}

fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => ApiError::bad_request("invalid_body", e.body_text()),
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request("invalid_json", format!("invalid JSON body: {e}")))
}

/// `POST /jobs` body. No body at all means the default kind with its default payload.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The job kind (default `aggregate`).
    #[schema(example = "sleep")]
    pub job: Option<String>,
    /// The kind's payload; omitted fields take their defaults.
    #[schema(value_type = Object, example = json!({"ms": 500}))]
    pub payload: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobAccepted {
    pub job_id: String,
    /// `QUEUED` for a new job; the job's current status when an idempotency key replays it.
    #[schema(example = "QUEUED")]
    pub status: String,
}

/// Validates a kind + payload pair into a job, applying the default kind.
fn job_spec(kind: Option<String>, payload: Option<Value>) -> Result<JobSpec, ApiError> {
    Ok(JobSpec::parse(kind.as_deref().unwrap_or(DEFAULT_KIND), payload.unwrap_or(Value::Null))?)
}

fn idempotency(headers: &HeaderMap, spec: &JobSpec) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key =
        value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
    let Some(key) = key else {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ));
    };
    Ok(Some(Idempotency {
        key: key.to_owned(),
        fingerprint: Idempotency::fingerprint(spec.kind(), &spec.payload()),
        ttl: IDEMPOTENCY_TTL,
    }))
}

/// Enqueue a job.
#[utoipa::path(post, path = "/jobs", tag = "jobs",
    request_body(content = Option<JobRequest>, description = "Optional; no body runs the default kind"),
    params(("Idempotency-Key" = Option<String>, Header, description = "The same key within 24 h returns the same job and enqueues nothing")),
    responses(
        (status = 200, description = "Job queued (or replayed by its idempotency key)", body = JobAccepted),
        (status = 202, description = "Job recorded; the queue failed just now, so the reconciler sends it (within a minute or two)", body = JobAccepted),
        (status = 400, description = "Bad JSON, unknown kind, invalid payload or idempotency key", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused for a different request", body = ErrorBody),
        (status = 413, description = "Body or job message too large", body = ErrorBody),
        (status = 503, description = "DynamoDB failed; the job may or may not be recorded: retry with the same Idempotency-Key", body = ErrorBody),
    ))]
pub async fn create_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let body = read_body(body)?;
    let request: JobRequest =
        if body.iter().all(u8::is_ascii_whitespace) { JobRequest::default() } else { parse_json(&body)? };
    let spec = job_spec(request.job, request.payload)?;
    let idem = idempotency(&headers, &spec)?;
    let msg = JobMessage::new_api(spec.kind(), spec.payload(), Utc::now());
    let message = msg.to_body();
    if message.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the job message is {} bytes; SQS takes at most {MAX_MESSAGE_BYTES}", message.len()),
        ));
    }
    let app = &state.0;
    let accepted = crate::submit::submit(&app.store, &app.queue, &msg, idem.as_ref()).await?;
    let status = match accepted.delivery {
        Delivery::Sent => StatusCode::OK,
        Delivery::Deferred => StatusCode::ACCEPTED,
    };
    Ok((status, Json(JobAccepted { job_id: accepted.job_id, status: accepted.status.as_str().to_owned() })))
}

/// A job as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub job_id: String,
    /// The job kind.
    pub job: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
    /// QUEUED, RUNNING, RETRY_WAIT, SUCCEEDED or FAILED.
    pub status: String,
    /// Attempts started.
    pub attempts: u32,
    /// `api` or `schedule`.
    pub source: Option<String>,
    pub schedule: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Start of the latest attempt.
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the next attempt is due (RETRY_WAIT).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// The job's result summary (SUCCEEDED).
    #[schema(value_type = Object)]
    pub result: Option<Value>,
}

impl From<JobRecord> for JobView {
    fn from(r: JobRecord) -> Self {
        JobView {
            job_id: r.job_id,
            job: r.kind,
            payload: r.payload,
            status: r.status.as_str().to_owned(),
            attempts: r.attempts,
            source: r.source,
            schedule: r.schedule,
            submitted_at: r.submitted_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            next_attempt_at: r.next_attempt_at,
            last_error: r.last_error,
            result: r.result,
        }
    }
}

/// Read one job.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, body = JobView),
        (status = 400, description = "Malformed job id", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<JobView>, ApiError> {
    if !jobs_core::message::valid_job_id(&id) {
        return Err(ApiError::bad_request("invalid_job_id", format!("{id:?} is not a job id")));
    }
    match state.0.store.get(&id).await? {
        Some(rec) => Ok(Json(rec.into())),
        None => Err(ApiError::not_found(format!("no job {id:?}"))),
    }
}

/// Aggregate counters. Field names follow the original design so its clients keep working.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    /// Jobs that ended SUCCEEDED.
    pub succeed_job: u64,
    /// Jobs that ended FAILED (all attempts failed, or rejected as poison).
    pub failed_job: u64,
    /// Re-attempts started (attempt 2, 3, …).
    pub job_retry: u64,
    /// Jobs accepted.
    pub submitted: u64,
    /// Messages waiting on the queue now (approximate, from SQS).
    pub queued: u64,
    /// Messages received and not deleted: running, or waiting out a retry backoff.
    pub in_flight: u64,
}

/// Job counters and queue depth.
#[utoipa::path(get, path = "/jobs/stats", tag = "jobs",
    responses((status = 200, body = StatsView), (status = 503, body = ErrorBody)))]
pub async fn stats(State(state): State<AppState>) -> Result<Json<StatsView>, ApiError> {
    let app = &state.0;
    let (counts, depth) = tokio::try_join!(async { app.store.stats().await.map_err(ApiError::from) }, async {
        app.queue.depth().await.map_err(ApiError::from)
    },)?;
    Ok(Json(StatsView {
        succeed_job: counts.succeeded,
        failed_job: counts.failed,
        job_retry: counts.retries,
        submitted: counts.submitted,
        queued: depth.visible + depth.delayed,
        in_flight: depth.in_flight,
    }))
}

/// `POST /jobs/schedule` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// Unix cron (5 fields), a macro (@hourly, @daily, @weekly, @monthly, @yearly), or a native
    /// EventBridge `cron(…)`, `rate(…)` or `at(…)` expression.
    #[schema(example = "0 7 * * MON")]
    pub cron: String,
    /// The job kind (default `aggregate`).
    pub job: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
    /// IANA time zone the expression is evaluated in (default UTC).
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    /// Schedule name: 1-64 of A-Z a-z 0-9 - _ . (default: generated).
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub name: String,
    /// The EventBridge Scheduler expression.
    #[schema(example = "cron(0 7 ? * MON *)")]
    pub expression: String,
    pub timezone: String,
    /// ENABLED or DISABLED.
    pub state: String,
    pub job: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Option<Value>,
    /// The next fire times in the schedule's time zone (RFC 3339).
    pub next_fire_times: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleView>,
}

fn valid_schedule_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn fire_times(expression: &str, timezone: &str) -> Vec<String> {
    let parsed = schedule::parse(expression).and_then(|s| {
        let tz: Tz = schedule::parse_timezone(timezone)?;
        s.next_fire_times(tz, Utc::now(), NEXT_FIRE_TIMES)
    });
    parsed.map(|times| times.iter().map(|t| t.to_rfc3339()).collect()).unwrap_or_default()
}

impl From<ScheduleInfo> for ScheduleView {
    fn from(info: ScheduleInfo) -> Self {
        let input: Option<Value> = info.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
        ScheduleView {
            next_fire_times: fire_times(&info.expression, &info.timezone),
            job: input.as_ref().and_then(|i| i.get("job")).and_then(Value::as_str).map(str::to_owned),
            payload: input.as_ref().and_then(|i| i.get("payload")).cloned(),
            name: info.name,
            expression: info.expression,
            timezone: info.timezone,
            state: info.state,
            created_at: info.created_at,
        }
    }
}

/// Create a schedule that enqueues a job at each firing.
#[utoipa::path(post, path = "/jobs/schedule", tag = "schedules",
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "Schedule created", body = ScheduleView),
        (status = 400, description = "Bad JSON, invalid cron or time zone, unknown kind, invalid payload or name", body = ErrorBody),
        (status = 409, description = "A schedule with that name exists", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn create_schedule(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ScheduleView>, ApiError> {
    let request: ScheduleBody = parse_json(&read_body(body)?)?;
    let expr = schedule::parse(&request.cron)?;
    let timezone = request.timezone.unwrap_or_else(|| "UTC".to_owned());
    let tz = schedule::parse_timezone(&timezone)?;
    let next = expr.next_fire_times(tz, Utc::now(), NEXT_FIRE_TIMES)?;
    let spec = job_spec(request.job, request.payload)?;
    let name = match request.name {
        Some(name) if valid_schedule_name(&name) => name,
        Some(name) => {
            return Err(ApiError::bad_request(
                "invalid_name",
                format!("schedule name {name:?} must be 1-64 characters of A-Z a-z 0-9 - _ ."),
            ));
        }
        None => format!("{}-{}", spec.kind(), &uuid::Uuid::new_v4().simple().to_string()[..12]),
    };
    let input = JobMessage::schedule_template(spec.kind(), &spec.payload(), &name);
    if input.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the job message is too large"));
    }
    let app = &state.0;
    app.schedules
        .create(&ScheduleRequest {
            name: name.clone(),
            expression: expr.expression.clone(),
            timezone: timezone.clone(),
            input,
            description: format!("{} job, from {:?}", spec.kind(), expr.input),
        })
        .await?;
    tracing::info!(schedule = %name, expression = %expr.expression, %timezone, "schedule created");
    Ok(Json(ScheduleView {
        name,
        expression: expr.expression,
        timezone,
        state: "ENABLED".into(),
        job: Some(spec.kind().to_owned()),
        payload: Some(spec.payload()),
        next_fire_times: next.iter().map(|t| t.to_rfc3339()).collect(),
        created_at: Some(Utc::now()),
    }))
}

/// List the schedules.
#[utoipa::path(get, path = "/jobs/schedules", tag = "schedules",
    responses((status = 200, body = ScheduleList), (status = 503, body = ErrorBody)))]
pub async fn list_schedules(State(state): State<AppState>) -> Result<Json<ScheduleList>, ApiError> {
    let schedules = state.0.schedules.list().await?;
    Ok(Json(ScheduleList { schedules: schedules.into_iter().map(ScheduleView::from).collect() }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScheduleName {
    /// The schedule name.
    pub name: String,
}

fn checked_name(name: &str) -> Result<(), ApiError> {
    if valid_schedule_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_name", format!("{name:?} is not a schedule name")))
    }
}

/// Read one schedule.
#[utoipa::path(get, path = "/jobs/schedules/{name}", tag = "schedules", params(ScheduleName),
    responses((status = 200, body = ScheduleView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    Path(ScheduleName { name }): Path<ScheduleName>,
) -> Result<Json<ScheduleView>, ApiError> {
    checked_name(&name)?;
    Ok(Json(state.0.schedules.get(&name).await?.into()))
}

/// Delete a schedule. Jobs it already enqueued are not affected.
#[utoipa::path(delete, path = "/jobs/schedules/{name}", tag = "schedules", params(ScheduleName),
    responses((status = 204, description = "Deleted"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    Path(ScheduleName { name }): Path<ScheduleName>,
) -> Result<StatusCode, ApiError> {
    checked_name(&name)?;
    state.0.schedules.delete(&name).await?;
    tracing::info!(schedule = %name, "schedule deleted");
    Ok(StatusCode::NO_CONTENT)
}
