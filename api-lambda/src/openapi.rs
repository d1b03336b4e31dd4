//! The OpenAPI 3 document, generated from the handlers and types.

use axum::Json;
use utoipa::OpenApi;

use crate::app;
use crate::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "keda-sqs-jobs API", description = "Enqueue jobs, schedule them with cron, read their status and the counters. In AWS every route but /openapi.json uses IAM authorization (SigV4); locally an optional bearer token (API_TOKEN)."),
    paths(app::create_job, app::get_job, app::stats, app::create_schedule, app::list_schedules, app::get_schedule, app::delete_schedule),
    components(schemas(app::JobRequest, app::JobAccepted, app::JobView, app::StatsView, app::ScheduleBody, app::ScheduleView, app::ScheduleList, ErrorBody, ErrorDetail)),
    tags((name = "jobs", description = "Jobs and counters"), (name = "schedules", description = "Cron schedules (EventBridge Scheduler)")),
)]
pub struct ApiDoc;

/// `GET /openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
