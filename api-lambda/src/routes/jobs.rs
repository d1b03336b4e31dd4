//! Jobs: submit, list, read, cancel, retry, and the counters.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use jobs_aws::{Cursor, Idempotency, ListFilter};
use jobs_core::pools::Priority;
use jobs_core::{JobMessage, JobStatus, Tenant};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{checked_job_id, job_spec, parse_json, read_body};
use crate::caller::Caller;
use crate::cancel::Cancelled;
use crate::error::{ApiError, ErrorBody};
use crate::state::{AppState, IDEMPOTENCY_TTL};
use crate::submit::{Accepted, Delivery};
use crate::views::{JobAccepted, JobList, JobView, StatsView};

/// `POST /jobs` body. No body at all means the default kind with its default payload. The
/// OpenAPI document declares it per kind (`crate::openapi`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobRequest {
    /// The job kind (default `aggregate`).
    pub job: Option<String>,
    /// The kind's payload; omitted fields take their defaults.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// `high` starts before every `normal` job of its pool still waiting (default `normal`).
    pub priority: Option<Priority>,
    /// Whose job it is (default: the caller's own tenant, see docs/tenants.md).
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Option<Tenant>,
}

/// `POST /jobs/{id}/retry` body (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    /// The new job's priority (default: the old job's).
    pub priority: Option<Priority>,
    /// The new job's tenant (default: the old job's).
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Option<Tenant>,
}

/// What an `Idempotency-Key` guards: the job, with its priority when it is not the default and
/// its tenant when the request names one (so the fingerprints of requests without them are those
/// of earlier releases).
fn fingerprint(kind: &str, payload: &Value, priority: Option<Priority>, tenant: Option<&Tenant>) -> String {
    let priority = priority.filter(|p| *p != Priority::Normal);
    if priority.is_none() && tenant.is_none() {
        return Idempotency::fingerprint(kind, payload);
    }
    let mut guarded = serde_json::json!({ "payload": payload });
    if let Some(p) = priority {
        guarded["priority"] = serde_json::json!(p);
    }
    if let Some(t) = tenant {
        guarded["tenant"] = serde_json::json!(t);
    }
    Idempotency::fingerprint(kind, &guarded)
}

/// The `Idempotency-Key` header, guarding a request identified by `fingerprint`.
fn idempotency(headers: &HeaderMap, fingerprint: String) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key =
        value.to_str().ok().filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
    let Some(key) = key else {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1-255 visible ASCII characters",
        ));
    };
    Ok(Some(Idempotency { key: key.to_owned(), fingerprint, ttl: IDEMPOTENCY_TTL }))
}

fn accepted(state: &AppState, a: Accepted) -> (StatusCode, Json<JobAccepted>) {
    if let Some((tenant, kind)) = &a.new {
        state.0.metrics.accepted(tenant, kind);
    }
    let status = match a.delivery {
        Delivery::Sent | Delivery::Waiting => StatusCode::OK,
        Delivery::Deferred => StatusCode::ACCEPTED,
    };
    (status, Json(JobAccepted { job_id: a.job_id, status: a.status }))
}

/// Enqueue a job.
#[utoipa::path(post, path = "/jobs", tag = "jobs",
    request_body(content = Option<JobRequest>, description = "Optional; no body runs the default kind"),
    params(("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,255}$", description = "The same key within 24 h returns the same job and enqueues nothing")),
    responses(
        (status = 200, description = "Job queued, or WAITING over its tenant's limits (or replayed by its idempotency key)", body = JobAccepted),
        (status = 202, description = "Job recorded; the queue failed just now, so the reconciler sends it (within a minute or two)", body = JobAccepted),
        (status = 400, description = "Bad JSON, unknown kind, invalid payload or idempotency key, or a payload with characters SQS does not carry", body = ErrorBody),
        (status = 409, description = "Idempotency-Key reused for a different request", body = ErrorBody),
        (status = 413, description = "Body or job message too large", body = ErrorBody),
        (status = 503, description = "DynamoDB failed; the job may or may not be recorded: retry with the same Idempotency-Key", body = ErrorBody),
    ))]
pub async fn create_job(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    let body = read_body(body)?;
    // No body, or a JSON null: the default kind.
    let (mut priority, mut tenant) = (None, None);
    let spec = if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        job_spec(None, None)?
    } else {
        let request: JobRequest = parse_json(&body)?;
        let Some(kind) = request.job else {
            return Err(ApiError::bad_request(
                "missing_job",
                format!(
                    "a JSON body names the job kind (\"job\": one of {}); send no body for the default kind",
                    jobs_core::catalog::kind_names()
                ),
            ));
        };
        (priority, tenant) = (request.priority, request.tenant);
        job_spec(Some(kind), request.payload)?
    };
    let idem = idempotency(&headers, fingerprint(spec.kind(), &spec.payload(), priority, tenant.as_ref()))?;
    let msg = JobMessage {
        priority: priority.unwrap_or_default(),
        tenant: Some(tenant.unwrap_or_else(|| Tenant::of_submitter(&caller.0))),
        ..JobMessage::for_spec(&spec, state.0.store.now())
    };
    let app = &state.0;
    Ok(accepted(&state, crate::submit::submit(&app.store, &app.queues, &msg, &caller, idem.as_ref()).await?))
}

/// `GET /jobs` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only jobs in this status.
    #[param(value_type = Option<jobs_core::JobStatus>)]
    pub status: Option<String>,
    /// Only jobs of this kind.
    #[param(pattern = r"^[a-z-]{1,64}$")]
    pub kind: Option<String>,
    /// Only jobs fired by this schedule.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub schedule: Option<String>,
    /// Only jobs triggered by this caller (`submittedBy`, exact: an IAM ARN, `schedule:<name>`,
    /// `local` or `local:<token name>`).
    #[serde(rename = "submittedBy")]
    #[param(rename = "submittedBy", pattern = r"^[!-~]{1,1024}$")]
    pub submitted_by: Option<String>,
    /// Only jobs of this tenant (jobs from before tenants are not listed by it).
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Option<String>,
    /// Jobs per page, 1-100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
    /// `nextCursor` of the previous page (with the same filters).
    #[param(pattern = r"^[A-Za-z0-9_-]{1,4096}$")]
    pub cursor: Option<String>,
}

/// The jobs per page without `limit`.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

fn list_filter(q: &ListQuery) -> Result<(ListFilter, usize, Option<Cursor>), ApiError> {
    let bad = |code, message: String| ApiError::bad_request(code, message);
    let status = match &q.status {
        None => None,
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            let known: Vec<&str> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
            bad("invalid_filter", format!("status {s:?} is not one of {}", known.join(", ")))
        })?),
    };
    if let Some(kind) = &q.kind
        && jobs_core::catalog::kind_info(kind).is_none()
    {
        return Err(bad("invalid_filter", format!("kind {kind:?} is not one of {}", jobs_core::catalog::kind_names())));
    }
    if let Some(schedule) = &q.schedule
        && !jobs_core::schedule::valid_name(schedule)
    {
        return Err(bad("invalid_filter", format!("{schedule:?} is not a schedule name")));
    }
    if let Some(by) = &q.submitted_by
        && !jobs_core::submitter::valid(by)
    {
        return Err(bad(
            "invalid_filter",
            format!("submittedBy must be 1-{} visible ASCII characters", jobs_core::submitter::MAX_LEN),
        ));
    }
    let tenant = match &q.tenant {
        None => None,
        Some(t) => Some(Tenant::parse(t).map_err(|e| bad("invalid_filter", e.to_string()))?),
    };
    let limit = super::page_limit(q.limit.as_deref(), DEFAULT_PAGE, MAX_PAGE)?;
    let filter = ListFilter {
        status,
        kind: q.kind.clone(),
        schedule: q.schedule.clone(),
        submitted_by: q.submitted_by.clone(),
        tenant,
    };
    let cursor = match &q.cursor {
        None => None,
        Some(c) => Some(Cursor::decode(c, &filter).map_err(|e| bad("invalid_cursor", e.to_string()))?),
    };
    Ok((filter, limit, cursor))
}

/// List jobs, newest first.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(ListQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 400, description = "Unknown filter value, bad limit or cursor", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_jobs(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<JobList>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let (filter, limit, cursor) = list_filter(&query)?;
    let page = state.0.store.list(&filter, limit, cursor.as_ref()).await?;
    Ok(Json(JobList {
        jobs: page.jobs.into_iter().map(JobView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// Read one job.
#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id", pattern = r"^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, body = JobView),
        (status = 400, description = "Malformed job id", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<JobView>, ApiError> {
    checked_job_id(&id)?;
    match state.0.store.get(&id).await? {
        Some(rec) => Ok(Json(rec.into())),
        None => Err(ApiError::not_found(format!("no job {id:?}"))),
    }
}

/// Cancel a job.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "The job id", pattern = r"^[A-Za-z0-9._:-]{1,128}$")),
    responses(
        (status = 200, description = "The job is CANCELLED (now, or by an earlier request)", body = JobView),
        (status = 202, description = "The job is RUNNING: its worker was asked to stop it and records CANCELLED within seconds", body = JobView),
        (status = 400, description = "Malformed job id", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already ended SUCCEEDED, FAILED or SKIPPED", body = ErrorBody),
        (status = 503, description = "DynamoDB failed; the request may or may not have taken effect: repeat it", body = ErrorBody),
    ))]
pub async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    checked_job_id(&id)?;
    Ok(match crate::cancel::cancel(&state.0.store, &state.0.queues, &id).await? {
        Cancelled::Done(rec) => (StatusCode::OK, Json(rec.into())),
        Cancelled::Requested(rec) => (StatusCode::ACCEPTED, Json(rec.into())),
    })
}

/// Run a FAILED or CANCELLED job again, as a new job.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs",
    request_body(content = Option<RetryRequest>, description = "Optional: the new job's priority and tenant (default: the old job's)"),
    params(
        ("id" = String, Path, description = "The job to retry", pattern = r"^[A-Za-z0-9._:-]{1,128}$"),
        ("Idempotency-Key" = Option<String>, Header, pattern = r"^[!-~]{1,255}$", description = "The same key within 24 h returns the same new job"),
    ),
    responses(
        (status = 200, description = "New job queued (`retryOf` names the old one)", body = JobAccepted),
        (status = 202, description = "New job recorded; the reconciler sends it", body = JobAccepted),
        (status = 400, description = "Malformed job id, idempotency key or body", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job has not ended FAILED or CANCELLED, or the key was used for another request", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn retry_job(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<JobAccepted>), ApiError> {
    checked_job_id(&id)?;
    let body = read_body(body)?;
    // No body, or a JSON null (its schema allows it): the old job's priority.
    let request: RetryRequest = if body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        RetryRequest::default()
    } else {
        parse_json(&body)?
    };
    let idem = idempotency(
        &headers,
        fingerprint("retry", &Value::String(id.clone()), request.priority, request.tenant.as_ref()),
    )?;
    let app = &state.0;
    let overrides = crate::submit::Overrides { priority: request.priority, tenant: request.tenant };
    Ok(accepted(&state, crate::submit::retry(&app.store, &app.queues, &id, &caller, idem.as_ref(), overrides).await?))
}

/// Job counters and queue depth.
#[utoipa::path(get, path = "/jobs/stats", tag = "jobs",
    responses((status = 200, body = StatsView), (status = 503, body = ErrorBody)))]
pub async fn stats(State(state): State<AppState>) -> Result<Json<StatsView>, ApiError> {
    let app = &state.0;
    let (counts, depth) = tokio::try_join!(async { app.store.stats().await.map_err(ApiError::from) }, async {
        app.queues.total_depth().await.map_err(ApiError::from)
    },)?;
    Ok(Json(StatsView::new(counts, depth)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_table() {
        let q = |pairs: &[(&str, &str)]| {
            let mut q = ListQuery::default();
            for (k, v) in pairs {
                let v = Some(v.to_string());
                match *k {
                    "status" => q.status = v,
                    "kind" => q.kind = v,
                    "schedule" => q.schedule = v,
                    "submittedBy" => q.submitted_by = v,
                    "limit" => q.limit = v,
                    _ => q.cursor = v,
                }
            }
            q
        };
        // (query, Ok(limit) or Err(code))
        let cases: Vec<(ListQuery, Result<usize, &str>)> = vec![
            (q(&[]), Ok(20)),
            (q(&[("limit", "1")]), Ok(1)),
            (q(&[("limit", "100"), ("status", "FAILED"), ("kind", "sleep")]), Ok(100)),
            (q(&[("limit", "0")]), Err("invalid_limit")),
            (q(&[("limit", "101")]), Err("invalid_limit")),
            (q(&[("limit", "ten")]), Err("invalid_limit")),
            (q(&[("status", "failed")]), Err("invalid_filter")),
            (q(&[("kind", "teleport")]), Err("invalid_filter")),
            (q(&[("schedule", "a b")]), Err("invalid_filter")),
            (q(&[("submittedBy", "arn:aws:iam::123456789012:user/alice"), ("status", "FAILED")]), Ok(20)),
            (q(&[("submittedBy", "")]), Err("invalid_filter")),
            (q(&[("submittedBy", "a b")]), Err("invalid_filter")),
            (q(&[("cursor", "garbage")]), Err("invalid_cursor")),
        ];
        for (query, want) in cases {
            let got = list_filter(&query).map(|(_, limit, _)| limit).map_err(|e| e.code);
            assert_eq!(got, want, "{query:?}");
        }
    }
}
