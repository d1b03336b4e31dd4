//! `/tenants`: each tenant's limits, changed at run time, and what it uses (`docs/tenants.md`).
//! A change takes effect at the next admission: jobs already admitted run on; a raised limit
//! admits waiting jobs at once (and at the reconciler's next pass, within one polling interval).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use jobs_aws::JobStore;
use jobs_core::Tenant;
use jobs_core::tenants::Settings;
use jobs_core::tenants::limits::Patch;
use serde::Deserialize;
use utoipa::IntoParams;

use super::{parse_json, read_body};
use crate::caller::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::views::{TenantList, TenantView};

#[derive(Debug, Deserialize, IntoParams)]
pub struct TenantName {
    /// The tenant (1-64 of A-Z a-z 0-9 . _ -).
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub tenant: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantQuery {
    /// Tenants per page, 1-50 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 50)]
    pub limit: Option<String>,
    /// `next` of the previous page: the tenants after this one.
    #[param(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub after: Option<String>,
}

pub const DEFAULT_TENANT_PAGE: usize = 20;
pub const MAX_TENANT_PAGE: usize = 50;

fn tenant_of(name: &str) -> Result<Tenant, ApiError> {
    Tenant::parse(name).map_err(|e| ApiError::bad_request("invalid_tenant", e.to_string()))
}

async fn view(store: &JobStore, item: &jobs_aws::store::TenantItem) -> Result<TenantView, ApiError> {
    let counts = store.tenancy_counts(&item.tenant).await?;
    Ok(TenantView::new(item, store.limits_of(item), counts, store.now()))
}

/// List the tenants that have settings of their own or something in use, by name.
#[utoipa::path(get, path = "/tenants", tag = "tenants", params(TenantQuery),
    responses(
        (status = 200, description = "A page of tenants", body = TenantList),
        (status = 400, description = "Bad limit or `after`", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn list_tenants(
    State(state): State<AppState>,
    query: Result<Query<TenantQuery>, QueryRejection>,
) -> Result<Json<TenantList>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = super::page_limit(q.limit.as_deref(), DEFAULT_TENANT_PAGE, MAX_TENANT_PAGE)?;
    let after = q.after.as_deref().map(tenant_of).transpose()?;
    let store = &state.0.store;
    let page = store.tenants(after.as_ref(), limit as i32).await?;
    let shown = page.tenants.iter().filter(|item| !item.is_blank());
    let views = futures_util::future::join_all(shown.map(|item| view(store, item))).await;
    let views: Vec<TenantView> = views.into_iter().collect::<Result<_, _>>()?;
    Ok(Json(TenantList {
        tenants: views.into_iter().filter(|v| !v.is_idle_default()).collect(),
        next: page.next.map(|t| t.to_string()),
        defaults: Settings::default().limits(&store.tenant_defaults()),
    }))
}

/// Read one tenant: its settings, the limits that apply, what it uses now.
#[utoipa::path(get, path = "/tenants/{tenant}", tag = "tenants", params(TenantName),
    responses(
        (status = 200, body = TenantView),
        (status = 400, body = ErrorBody),
        (status = 404, description = "The tenant has no settings of its own and nothing in use: the defaults apply (`GET /tenants` says them)", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn get_tenant(
    State(state): State<AppState>,
    Path(TenantName { tenant }): Path<TenantName>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = tenant_of(&tenant)?;
    let store = &state.0.store;
    let item = store.tenant(&tenant).await?;
    let view = if item.is_blank() { None } else { Some(view(store, &item).await?) };
    match view.filter(|v| !v.is_idle_default()) {
        Some(view) => Ok(Json(view)),
        None => Err(ApiError::not_found(format!(
            "tenant {tenant:?} has no settings of its own and nothing in use: the defaults apply (GET /tenants)"
        ))),
    }
}

/// Change a tenant's limits: the fields named change (`null`: back to the default), the others stay.
#[utoipa::path(put, path = "/tenants/{tenant}", tag = "tenants", params(TenantName),
    request_body = Patch,
    responses(
        (status = 200, description = "The tenant as changed", body = TenantView),
        (status = 400, description = "Bad JSON, an unknown field, a value out of range, or a bad tenant name", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, description = "DynamoDB failed; the change may or may not be made: repeat it", body = ErrorBody),
    ))]
pub async fn put_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(TenantName { tenant }): Path<TenantName>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = tenant_of(&tenant)?;
    let body = parse_json::<serde_json::Value>(&read_body(body)?)?;
    // An object only (serde would read a list as the fields in order); `5.0` is the number 5.
    if !body.is_object() {
        return Err(ApiError::bad_request("invalid_field", "the body must be a JSON object of limits"));
    }
    let patch: Patch = jobs_core::json::from_value(jobs_core::json::integral(body))
        .map_err(|e| ApiError::bad_request("invalid_field", format!("the body's {e}")))?;
    let store = &state.0.store;
    let current = store.tenant(&tenant).await?;
    let settings = current.settings.merged(patch);
    settings.check().map_err(|e| ApiError::bad_request("invalid_field", e.to_string()))?;
    changed(&state, &tenant, &settings, &caller).await
}

/// Return a tenant to the defaults (its own settings removed; what it uses stays counted).
#[utoipa::path(delete, path = "/tenants/{tenant}", tag = "tenants", params(TenantName),
    responses((status = 200, description = "The tenant with the defaults", body = TenantView), (status = 400, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn delete_tenant(
    State(state): State<AppState>,
    caller: Caller,
    Path(TenantName { tenant }): Path<TenantName>,
) -> Result<Json<TenantView>, ApiError> {
    let tenant = tenant_of(&tenant)?;
    changed(&state, &tenant, &Settings::default(), &caller).await
}

/// Writes the settings, admits what a raised limit lets in, answers the tenant as it is then.
async fn changed(
    state: &AppState,
    tenant: &Tenant,
    settings: &Settings,
    caller: &Caller,
) -> Result<Json<TenantView>, ApiError> {
    let store = &state.0.store;
    let item = store.set_tenant(tenant, settings, &caller.0).await?;
    tracing::info!(%tenant, ?settings, by = %caller.0, "tenant limits changed");
    crate::submit::admit(store, &state.0.queues, tenant, crate::submit::ADMIT_AFTER_CHANGE).await;
    let item = store.tenant(tenant).await.unwrap_or(item);
    Ok(Json(view(store, &item).await?))
}
