//! The controller's HTTP face: `GET /state` (the [`Snapshot`] as JSON) and `GET /healthz`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;

use crate::controller::SharedSnapshot;

pub fn router(shared: SharedSnapshot) -> Router {
    Router::new().route("/state", get(state)).route("/healthz", get(|| async { "ok" })).with_state(shared)
}

async fn state(State(shared): State<SharedSnapshot>) -> axum::response::Response {
    match shared.read().await.as_ref() {
        Some(snapshot) => Json(snapshot).into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"error": "the controller is starting"})))
            .into_response(),
    }
}
