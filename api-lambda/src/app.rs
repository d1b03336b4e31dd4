//! The one router, served by Lambda (API Gateway HTTP API, payload 2.0) or by a local HTTP server.
//! Handlers do not know which.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::metrics;
use crate::middleware;
use crate::routes::{jobs, kinds, logs, overview, pools, schedules, tenants};
use crate::state::{AppState, MAX_REQUEST_BYTES};

pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        .route("/jobs", post(jobs::create_job).get(jobs::list_jobs))
        .route("/jobs/stats", get(jobs::stats))
        .route("/jobs/overview", get(overview::overview))
        .route("/jobs/throughput", get(overview::throughput))
        .route("/jobs/kinds", get(kinds::list_kinds))
        .route("/jobs/pools", get(pools::list_pools))
        .route("/jobs/{id}", get(jobs::get_job))
        .route("/jobs/{id}/cancel", post(jobs::cancel_job))
        .route("/jobs/{id}/retry", post(jobs::retry_job))
        .route("/jobs/{id}/runs/{run}/log", get(logs::run_log))
        .route("/jobs/schedules", get(schedules::list_schedules).post(schedules::create_schedule))
        .route("/jobs/schedule", post(schedules::create_schedule_alias))
        .route(
            "/jobs/schedules/{name}",
            get(schedules::get_schedule).patch(schedules::patch_schedule).delete(schedules::delete_schedule),
        )
        .route("/tenants", get(tenants::list_tenants))
        .route("/tenants/{tenant}", get(tenants::get_tenant).put(tenants::put_tenant).delete(tenants::delete_tenant))
        .route("/metrics", get(metrics::scrape))
        .route_layer(from_fn_with_state(state.clone(), middleware::require_token))
        .route("/openapi.json", get(crate::openapi::document))
        // The dashboard's files (no data in them; their calls carry the token).
        .merge(dashboard::routes())
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(axum::middleware::from_fn(middleware::reject_declared_oversize))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .layer(from_fn_with_state(state.0.metrics.clone(), metrics::track))
        .with_state(state);
    // A layer on a router wraps each route, inside the step that adds `Allow` to a 405: this one
    // wraps the whole router, so it sees the header.
    Router::new().fallback_service(routes).layer(axum::middleware::from_fn(middleware::explain_method_not_allowed))
}
