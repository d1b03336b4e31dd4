//! The controller's HTTP face: `GET /state` (the [`Snapshot`] as JSON, with the CronJobs under
//! `cronJobs`), `GET /metrics` (Prometheus, see [`crate::metrics`]) and `GET /healthz`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;

use crate::controller::SharedSnapshot;
use crate::cron::SharedCrons;

#[derive(Clone)]
struct Shared {
    snapshot: SharedSnapshot,
    crons: SharedCrons,
}

pub fn router(snapshot: SharedSnapshot, crons: SharedCrons) -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(Shared { snapshot, crons })
}

async fn metrics(State(shared): State<Shared>) -> axum::response::Response {
    let Some(text) = shared.snapshot.read().await.as_ref().map(crate::metrics::render) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "the controller is starting\n").into_response();
    };
    ([(axum::http::header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

async fn state(State(shared): State<Shared>) -> axum::response::Response {
    let Some(snapshot) = shared.snapshot.read().await.as_ref().map(serde_json::to_value) else {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": "the controller is starting"})))
            .into_response();
    };
    let mut value = snapshot.unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        let crons = shared.crons.read().await.clone();
        map.insert("cronJobs".into(), serde_json::to_value(crons).unwrap_or_default());
    }
    Json(value).into_response()
}
