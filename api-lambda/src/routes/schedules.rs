//! Schedules (EventBridge Scheduler): create, list, read (with the last run), change, delete.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use jobs_aws::{ScheduleInfo, ScheduleRequest};
use jobs_core::message::check_sendable;
use jobs_core::pools::Priority;
use jobs_core::pools::queues::sibling_arn;
use jobs_core::{JobMessage, JobSpec, Overlap, Tenant, schedule};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::{job_spec, parse_json, read_body};
use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::{AppState, Inner, NEXT_FIRE_TIMES};
use crate::views::{ScheduleList, ScheduleState, ScheduleView};

/// `POST /jobs/schedules` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// Unix cron (5 fields), a macro (@hourly, @daily, @weekly, @monthly, @yearly), or a native
    /// EventBridge `cron(…)`, `rate(…)` or `at(…)` expression.
    #[schema(example = "0 7 * * MON", min_length = 1, max_length = 256)]
    pub cron: String,
    /// The job kind (default `aggregate`).
    pub job: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    /// IANA time zone the expression is evaluated in (default UTC).
    #[schema(example = "Europe/Berlin")]
    pub timezone: Option<String>,
    /// Schedule name: 1-64 of A-Z a-z 0-9 - _ . (default: generated).
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub name: Option<String>,
    /// `allow` (default): every firing runs; `forbid`: a firing while the schedule's previous job
    /// has not finished is recorded SKIPPED.
    pub overlap: Option<Overlap>,
    /// The priority of the jobs it fires (default `normal`).
    pub priority: Option<Priority>,
    /// The tenant of the jobs it fires (default: the caller's own tenant, see docs/tenants.md).
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Option<Tenant>,
}

/// `PATCH /jobs/schedules/{name}` body: any of these; the rest stays.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePatch {
    /// `DISABLED` pauses the schedule, `ENABLED` resumes it.
    pub state: Option<ScheduleState>,
    #[schema(min_length = 1, max_length = 256)]
    pub cron: Option<String>,
    pub timezone: Option<String>,
    /// A new payload for the schedule's kind (checked like `POST /jobs`).
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    pub overlap: Option<Overlap>,
    pub priority: Option<Priority>,
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: Option<Tenant>,
}

impl SchedulePatch {
    /// Only `state` (or nothing) is given: a pause or resume, which leaves the definition alone.
    fn changes_only_state(&self) -> bool {
        self.cron.is_none()
            && self.timezone.is_none()
            && self.payload.is_none()
            && self.overlap.is_none()
            && self.priority.is_none()
            && self.tenant.is_none()
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ScheduleName {
    /// The schedule name.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub name: String,
}

fn checked_name(name: &str) -> Result<(), ApiError> {
    if jobs_core::schedule::valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_name", format!("{name:?} is not a schedule name")))
    }
}

/// A checked definition: the expression (with its first fire times), the time zone and the job.
struct Definition {
    expression: String,
    input_expression: String,
    timezone: String,
    spec: JobSpec,
    firings: Firings,
}

/// What every job a schedule fires shares besides its kind and payload.
struct Firings {
    overlap: Overlap,
    priority: Priority,
    tenant: Tenant,
}

impl Definition {
    fn check(cron: &str, timezone: String, spec: JobSpec, firings: Firings) -> Result<Self, ApiError> {
        let expr = schedule::parse(cron)?;
        let tz = schedule::parse_timezone(&timezone)?;
        // Whether it ever fires, from the host's time: a check of the request, not a record.
        expr.next_fire_times(tz, Utc::now(), NEXT_FIRE_TIMES)?;
        Ok(Definition { expression: expr.expression, input_expression: expr.input, timezone, spec, firings })
    }

    /// The schedule's definition; each firing goes to the queue of its kind's pool and its
    /// priority, named after the default queue's ARN.
    fn request(&self, app: &Inner, name: &str, enabled: bool) -> Result<ScheduleRequest, ApiError> {
        let Firings { overlap, priority, tenant } = &self.firings;
        let input = JobMessage::schedule_template(&self.spec, name, *overlap, *priority, tenant);
        // Each firing sends this body to SQS: refuse now what SQS would refuse at every firing.
        check_sendable(&input)?;
        Ok(ScheduleRequest {
            name: name.to_owned(),
            expression: self.expression.clone(),
            timezone: self.timezone.clone(),
            input,
            description: format!("{} job, from {:?}", self.spec.kind(), self.input_expression),
            enabled,
            target_arn: sibling_arn(&app.queue_arn, jobs_core::catalog::lane_of(self.spec.kind()), *priority),
        })
    }
}

/// Create a schedule that enqueues a job at each firing.
#[utoipa::path(post, path = "/jobs/schedules", tag = "schedules",
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "Schedule created", body = ScheduleView),
        (status = 400, description = "Bad JSON or field, invalid cron or time zone, unknown kind, invalid payload or name", body = ErrorBody),
        (status = 409, description = "A schedule with that name exists", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn create_schedule(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ScheduleView>, ApiError> {
    let request: ScheduleBody = parse_json(&read_body(body)?)?;
    let spec = job_spec(request.job, request.payload)?;
    let timezone = request.timezone.unwrap_or_else(|| "UTC".to_owned());
    let firings = Firings {
        overlap: request.overlap.unwrap_or_default(),
        priority: request.priority.unwrap_or_default(),
        tenant: request.tenant.unwrap_or_else(|| Tenant::of_submitter(&caller.0)),
    };
    let def = Definition::check(&request.cron, timezone, spec, firings)?;
    let name = match request.name {
        Some(name) if jobs_core::schedule::valid_name(&name) => name,
        Some(name) => {
            return Err(ApiError::bad_request(
                "invalid_name",
                format!("schedule name {name:?} must be 1-64 characters of A-Z a-z 0-9 - _ ."),
            ));
        }
        None => format!("{}-{}", def.spec.kind(), &uuid::Uuid::new_v4().simple().to_string()[..12]),
    };
    let req = def.request(&state.0, &name, true)?;
    state.0.schedules.create(&req).await?;
    tracing::info!(schedule = %name, expression = %def.expression, timezone = %def.timezone, "schedule created");
    Ok(Json(as_written(&state.0, req).await))
}

/// `POST /jobs/schedule`: the first design's route, kept for its clients (`POST /jobs/schedules`
/// is the same).
#[utoipa::path(post, path = "/jobs/schedule", tag = "schedules",
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "Schedule created (an alias of POST /jobs/schedules)", body = ScheduleView),
        (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn create_schedule_alias(
    state: State<AppState>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ScheduleView>, ApiError> {
    create_schedule(state, caller, body).await
}

/// A schedule as stored, with its newest job: the one view `GET`, the list, create and change
/// all answer with.
async fn stored(app: &Inner, info: ScheduleInfo) -> Result<ScheduleView, ApiError> {
    let last = app.store.latest_of_schedule(&info.name, 1).await?.into_iter().next();
    Ok(ScheduleView::new(info, last, app.store.now()))
}

/// The schedule just written, read back (its creation time as stored). If the read fails, the
/// write still happened: the answer is built from the request instead of being an error.
async fn as_written(app: &Inner, req: ScheduleRequest) -> ScheduleView {
    let read = match app.schedules.get(&req.name).await {
        Ok(info) => stored(app, info).await,
        Err(e) => Err(e.into()),
    };
    read.unwrap_or_else(|e| {
        tracing::warn!(schedule = %req.name, error = %e.message, "the schedule was written; reading it back failed");
        let info = ScheduleInfo {
            state: if req.enabled { "ENABLED" } else { "DISABLED" }.to_owned(),
            name: req.name,
            expression: req.expression,
            timezone: req.timezone,
            input: Some(req.input),
            target_arn: req.target_arn,
            description: Some(req.description),
            created_at: None,
            start_date: None,
        };
        ScheduleView::new(info, None, app.store.now())
    })
}

/// List the schedules, each with its newest job.
#[utoipa::path(get, path = "/jobs/schedules", tag = "schedules",
    responses((status = 200, body = ScheduleList), (status = 500, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn list_schedules(State(state): State<AppState>) -> Result<Json<ScheduleList>, ApiError> {
    let schedules = state.0.schedules.list().await?;
    // One index query per schedule for its newest job, a few at a time.
    let mut tasks = tokio::task::JoinSet::new();
    let mut views = Vec::with_capacity(schedules.len());
    for (i, info) in schedules.into_iter().enumerate() {
        if tasks.len() >= LAST_RUN_READS
            && let Some(done) = tasks.join_next().await
        {
            views.push(joined(done)?);
        }
        let app = state.0.clone();
        tasks.spawn(async move { Ok::<_, ApiError>((i, stored(&app, info).await?)) });
    }
    while let Some(done) = tasks.join_next().await {
        views.push(joined(done)?);
    }
    views.sort_by_key(|(i, _)| *i);
    Ok(Json(ScheduleList { schedules: views.into_iter().map(|(_, v)| v).collect() }))
}

/// Newest-job reads in flight at once while listing schedules.
const LAST_RUN_READS: usize = 8;

/// A read task's answer; a task that did not finish (it panicked) is the server's fault, a 500.
fn joined<T>(done: Result<Result<T, ApiError>, tokio::task::JoinError>) -> Result<T, ApiError> {
    done.map_err(|e| {
        tracing::error!(error = %e, "a schedule read task failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "reading a schedule's last run failed")
    })?
}

/// Read one schedule, with its newest job.
#[utoipa::path(get, path = "/jobs/schedules/{name}", tag = "schedules", params(ScheduleName),
    responses((status = 200, body = ScheduleView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn get_schedule(
    State(state): State<AppState>,
    Path(ScheduleName { name }): Path<ScheduleName>,
) -> Result<Json<ScheduleView>, ApiError> {
    checked_name(&name)?;
    let app = &state.0;
    Ok(Json(stored(app, app.schedules.get(&name).await?).await?))
}

/// Pause, resume or change a schedule (EventBridge `UpdateSchedule`).
#[utoipa::path(patch, path = "/jobs/schedules/{name}", tag = "schedules", params(ScheduleName),
    request_body = SchedulePatch,
    responses(
        (status = 200, description = "The schedule as changed", body = ScheduleView),
        (status = 400, description = "Bad JSON, invalid cron, time zone, payload or name", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn patch_schedule(
    State(state): State<AppState>,
    Path(ScheduleName { name }): Path<ScheduleName>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ScheduleView>, ApiError> {
    checked_name(&name)?;
    let patch: SchedulePatch = parse_json(&read_body(body)?)?;
    let app = &state.0;
    let current = app.schedules.get(&name).await?;
    if patch.changes_only_state() {
        return pause_or_resume(app, current, patch.state).await;
    }
    let was = ScheduleView::new(current.clone(), None, app.store.now());
    let kind = was.job.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "not_a_job_schedule",
            format!("schedule {name:?} sends no job this API knows"),
        )
    })?;
    let payload = patch.payload.or(was.payload.clone());
    let spec = job_spec(Some(kind), payload)?;
    let cron = patch.cron.unwrap_or(current.expression);
    let timezone = patch.timezone.unwrap_or(current.timezone);
    let firings = Firings {
        overlap: patch.overlap.unwrap_or(was.overlap),
        priority: patch.priority.unwrap_or(was.priority),
        tenant: patch.tenant.unwrap_or(was.tenant),
    };
    let def = Definition::check(&cron, timezone, spec, firings)?;
    let enabled = patch.state.unwrap_or(was.state) == ScheduleState::Enabled;
    let req = def.request(app, &name, enabled)?;
    app.schedules.update(&req).await?;
    tracing::info!(schedule = %name, expression = %req.expression, enabled, "schedule changed");
    Ok(Json(as_written(app, req).await))
}

/// Pauses or resumes `current` as it stands: its expression, time zone and message are sent back
/// unchanged and not checked again, so a schedule whose job kind this build no longer knows (or
/// whose payload a newer rule refuses) can still be paused, resumed and deleted.
async fn pause_or_resume(
    app: &Inner,
    current: ScheduleInfo,
    state: Option<ScheduleState>,
) -> Result<Json<ScheduleView>, ApiError> {
    let Some(state) = state else {
        return Err(ApiError::bad_request(
            "nothing_to_change",
            "the body changes nothing: give state, cron, timezone, payload, overlap, priority or tenant",
        ));
    };
    let enabled = state == ScheduleState::Enabled;
    let req = ScheduleRequest {
        name: current.name.clone(),
        expression: current.expression.clone(),
        timezone: current.timezone.clone(),
        input: current.input.clone().unwrap_or_default(),
        description: current.description.clone().unwrap_or_default(),
        enabled,
        target_arn: current.target_arn.clone(),
    };
    app.schedules.update(&req).await?;
    tracing::info!(schedule = %req.name, enabled, "schedule paused or resumed");
    Ok(Json(as_written(app, req).await))
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
