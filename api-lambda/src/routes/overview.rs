//! What an operator sees at a glance (the dashboard's header and chart): `GET /jobs/overview`
//! (counters, open jobs by status, the oldest job waiting, both queues) and
//! `GET /jobs/throughput` (outcome events per minute).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use jobs_core::JobStatus;
use jobs_core::throughput::MAX_MINUTES;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::views::{OverviewView, ThroughputView};

/// Counters, open jobs, the oldest waiting job and the queues, read in parallel.
#[utoipa::path(get, path = "/jobs/overview", tag = "jobs",
    responses((status = 200, body = OverviewView), (status = 503, body = ErrorBody)))]
pub async fn overview(State(state): State<AppState>) -> Result<Json<OverviewView>, ApiError> {
    let app = &state.0;
    let store = |e| ApiError::from(e);
    let (counts, depth, dead, waiting, queued, running, retry_wait, oldest) = tokio::try_join!(
        async { app.store.stats().await.map_err(store) },
        async { app.queues.total_depth().await.map_err(ApiError::from) },
        async { app.queues.total_dead_depth().await.map(Some).map_err(ApiError::from) },
        async { app.store.count_status(JobStatus::Waiting).await.map_err(store) },
        async { app.store.count_status(JobStatus::Queued).await.map_err(store) },
        async { app.store.count_status(JobStatus::Running).await.map_err(store) },
        async { app.store.count_status(JobStatus::RetryWait).await.map_err(store) },
        async { app.store.oldest(JobStatus::Queued).await.map_err(store) },
    )?;
    Ok(Json(OverviewView::new(app.store.now(), counts, depth, dead, [waiting, queued, running, retry_wait], oldest)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ThroughputQuery {
    /// Minutes up to now, the current one included (1–60, default 60). A refreshing client asks
    /// for the last 2 and keeps the rest.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 60)]
    pub minutes: Option<String>,
}

fn minutes(q: &ThroughputQuery) -> Result<u32, ApiError> {
    match &q.minutes {
        None => Ok(MAX_MINUTES),
        Some(text) => text.parse::<u32>().ok().filter(|m| (1..=MAX_MINUTES).contains(m)).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("minutes {text:?} is not a whole number from 1 to {MAX_MINUTES}"),
            )
        }),
    }
}

/// Outcome events per minute, oldest first (each minute's start, UTC).
#[utoipa::path(get, path = "/jobs/throughput", tag = "jobs", params(ThroughputQuery),
    responses(
        (status = 200, body = ThroughputView),
        (status = 400, description = "minutes out of range", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn throughput(
    State(state): State<AppState>,
    query: Result<Query<ThroughputQuery>, QueryRejection>,
) -> Result<Json<ThroughputView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let n = minutes(&query)?;
    let buckets = state.0.store.throughput(state.0.store.now(), n).await?;
    Ok(Json(ThroughputView::new(buckets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_table() {
        let q = |m: Option<&str>| ThroughputQuery { minutes: m.map(str::to_owned) };
        let cases = [
            (None, Ok(60)),
            (Some("1"), Ok(1)),
            (Some("60"), Ok(60)),
            (Some("0"), Err(())),
            (Some("61"), Err(())),
            (Some("-1"), Err(())),
            (Some("2.5"), Err(())),
            (Some(""), Err(())),
        ];
        for (m, want) in cases {
            assert_eq!(minutes(&q(m)).map_err(|_| ()), want, "{m:?}");
        }
    }
}
