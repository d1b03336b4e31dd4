//! `GET /jobs/kinds`: the registered job kinds, their payload schemas and policies.

use axum::Json;
use jobs_core::kinds;

use crate::views::{KindList, KindView};

/// List the job kinds.
#[utoipa::path(get, path = "/jobs/kinds", tag = "jobs",
    responses((status = 200, description = "Every kind this build runs", body = KindList)))]
pub async fn list_kinds() -> Json<KindList> {
    Json(KindList { kinds: kinds().iter().map(KindView::from).collect() })
}
