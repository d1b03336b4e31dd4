//! `GET /jobs/pools`: each pool's shape, limits and kinds, with its queues' depth now (its
//! command kinds' lanes included).

use axum::Json;
use axum::extract::State;
use jobs_core::pools::pools;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::views::{PoolList, PoolView};

/// List the pools.
#[utoipa::path(get, path = "/jobs/pools", tag = "jobs",
    responses(
        (status = 200, description = "Every pool, the default first; a queue whose depth could not be read is `null`", body = PoolList),
        (status = 503, description = "No queue's depth could be read", body = ErrorBody),
    ))]
pub async fn list_pools(State(state): State<AppState>) -> Result<Json<PoolList>, ApiError> {
    let mut depths = state.0.queues.depths().await;
    // Every read failed: the queues are down, not one of them.
    if depths.iter().all(|(_, d)| d.is_err())
        && let Some((_, Err(e))) = depths.pop()
    {
        return Err(ApiError::from(e));
    }
    // A pool's queues of one priority: its own lane's and its command kinds' lanes', added up
    // (any one unread: unknown).
    let depth = |pool: &str, priority| {
        depths
            .iter()
            .filter(|(q, _)| q.pool == pool && q.priority == priority)
            .try_fold(jobs_aws::Depth::default(), |total, (_, d)| Some(total + *d.as_ref().ok()?))
    };
    Ok(Json(PoolList {
        pools: pools().iter().map(|p| PoolView::new(p, |priority| depth(&p.name, priority))).collect(),
    }))
}
