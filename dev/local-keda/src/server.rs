//! The controller's HTTP face: `GET /state` (every ScaledJob's [`Snapshot`] under `scaledJobs`,
//! their Jobs, running counts and totals added up, and the CronJobs under `cronJobs`),
//! `GET /state/{scaledJob}` (one ScaledJob's), `GET /metrics` (Prometheus, every ScaledJob's
//! series, see [`crate::metrics`]) and `GET /healthz`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::controller::{SharedSnapshot, Snapshot, Totals};
use crate::cron::SharedCrons;

#[derive(Clone)]
struct Shared {
    snapshots: Vec<SharedSnapshot>,
    crons: SharedCrons,
}

pub fn router(snapshots: Vec<SharedSnapshot>, crons: SharedCrons) -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/state/{scaled_job}", get(one))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Shared { snapshots, crons })
}

/// Every ScaledJob's snapshot, once each has published its first (`None` while starting).
async fn published(shared: &Shared) -> Option<Vec<Snapshot>> {
    let mut all = Vec::with_capacity(shared.snapshots.len());
    for s in &shared.snapshots {
        all.push(s.read().await.clone()?);
    }
    Some(all)
}

fn starting() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "the controller is starting"}))).into_response()
}

async fn metrics(State(shared): State<Shared>) -> Response {
    let Some(all) = published(&shared).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the controller is starting\n").into_response();
    };
    ([(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], crate::metrics::render(&all)).into_response()
}

async fn state(State(shared): State<Shared>) -> Response {
    let Some(all) = published(&shared).await else { return starting() };
    let crons = shared.crons.read().await.clone();
    Json(overview(&all, serde_json::to_value(crons).unwrap_or_default())).into_response()
}

async fn one(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    let Some(all) = published(&shared).await else { return starting() };
    match all.into_iter().find(|s| s.scaled_job == name) {
        Some(s) => Json(s).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": format!("no ScaledJob {name:?}")}))).into_response(),
    }
}

/// The whole controller: what the ScaledJobs add up to, then each of them.
pub fn overview(all: &[Snapshot], cron_jobs: Value) -> Value {
    let mut totals = Totals::default();
    for s in all {
        totals.jobs_created += s.totals.jobs_created;
        totals.pods_started += s.totals.pods_started;
        totals.jobs_succeeded += s.totals.jobs_succeeded;
        totals.jobs_failed += s.totals.jobs_failed;
        totals.queue_errors += s.totals.queue_errors;
    }
    let mut jobs: Vec<Value> =
        all.iter().flat_map(|s| s.jobs.iter()).filter_map(|j| serde_json::to_value(j).ok()).collect();
    // Newest first, as each ScaledJob lists its own.
    jobs.sort_by(|a, b| b["createdAt"].as_str().cmp(&a["createdAt"].as_str()));
    json!({
        "executor": all.first().map(|s| s.executor),
        "running": all.iter().map(|s| s.running).sum::<i64>(),
        "pending": all.iter().map(|s| s.pending).sum::<i64>(),
        "lastError": all.iter().find_map(|s| s.last_error.clone()),
        "totals": totals,
        "jobs": jobs,
        "scaledJobs": all,
        "cronJobs": cron_jobs,
    })
}
