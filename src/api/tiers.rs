//! Tier policy, entitlements and tier overrides (DESIGN §5.2).

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{json_body, parse_day, ApiBytes, ApiPath, ApiQuery, Today};
use super::{json_write, parse_known_at, write_meta, AppState};
use crate::domain::incentives::{Entitlement, TierOverride};
use crate::domain::Command;
use crate::input::tiers::{GrantOverrideRequest, PublishPolicyRequest};
use crate::queries;
use crate::queries::policy::{self, OverrideList, PolicyVersions};
use crate::queries::sales::SalesSummary;
use crate::rules::calendar::{month_index, Period, PeriodKind};
use crate::rules::tiers::TierPolicy;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tier-policy", post(publish_policy).get(get_policy))
        .route("/v1/accounts/{id}/entitlements", get(get_entitlements))
        .route("/v1/accounts/{id}/sales-summary", get(sales_summary))
        .route(
            "/v1/accounts/{id}/tier-overrides",
            post(grant_override).get(list_overrides),
        )
        .route(
            "/v1/accounts/{id}/tier-overrides/{override_id}/revoke",
            post(revoke_override),
        )
}

/// Query of `GET /v1/tier-policy`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PolicyQuery {
    /// The date whose policy is `current` (default today, UTC).
    pub on: Option<String>,
    pub known_at: Option<String>,
}

/// Query of entitlement reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EntitlementQuery {
    /// Business date (default today, UTC).
    pub as_of: Option<String>,
    /// RFC 3339 instant: answer as the ledger stood then.
    pub known_at: Option<String>,
}

/// Body of `POST …/tier-overrides/{override_id}/revoke`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeOverrideRequest {
    pub reason: Option<String>,
}

/// Query of `GET /v1/accounts/{id}/sales-summary`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SalesSummaryQuery {
    /// First month, `YYYY-MM` (default: 11 months before `to`).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (default: this month, UTC).
    pub to: Option<String>,
    pub known_at: Option<String>,
}

fn parse_month(name: &str, text: &str) -> Result<i32, ApiError> {
    let period: Period = text.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            format!("{name} \"{text}\" is not a month; expected YYYY-MM"),
        )
    })?;
    if period.kind != PeriodKind::Monthly {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} \"{text}\" is not a month; expected YYYY-MM"),
        ));
    }
    Ok(month_index(period.start))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/sales-summary", tag = "tiers", params(("id" = String, Path), SalesSummaryQuery),
    responses((status = 200, body = SalesSummary), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn sales_summary(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<SalesSummaryQuery>,
) -> ApiResult<Json<SalesSummary>> {
    caller.require(Right::Read)?;
    let to = match query.to.as_deref() {
        Some(t) => parse_month("to", t)?,
        None => month_index(today),
    };
    let from = match query.from.as_deref() {
        Some(f) => parse_month("from", f)?,
        None => to - 11,
    };
    if from > to {
        return Err(ApiError::bad_request("invalid_query", "from is after to"));
    }
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(queries::sales::sales_summary(
        &read, &id, from, to, cutoff,
    )?))
}

#[utoipa::path(post, path = "/v1/tier-policy", tag = "tiers", request_body = PublishPolicyRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = TierPolicy), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn publish_policy(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<TierPolicy>)> {
    let (body, meta): (PublishPolicyRequest, _) = json_write(
        &caller,
        Right::ManagePolicy,
        &headers,
        &method,
        "/v1/tier-policy",
        &raw,
    )?;
    let command = Command::PublishTierPolicy {
        effective_from: body.effective_from,
        window_months: body
            .window_months
            .unwrap_or(crate::domain::incentives::DEFAULT_WINDOW_MONTHS),
        tiers: body.tiers,
        expected_version: body.expected_version,
    };
    let outcome = state.engine.submit(command, meta).await?;
    let cutoff = outcome.last_position.unwrap_or(u64::MAX);
    let policy = policy::published_policy(&state.engine.read(), cutoff)?;
    Ok((StatusCode::CREATED, Json(policy)))
}

#[utoipa::path(get, path = "/v1/tier-policy", tag = "tiers", params(PolicyQuery), responses((status = 200, body = PolicyVersions)), security(("bearer" = [])))]
pub async fn get_policy(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiQuery(query): ApiQuery<PolicyQuery>,
) -> ApiResult<Json<PolicyVersions>> {
    caller.require(Right::Read)?;
    let on = parse_day("on", query.on.as_deref(), today)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(policy::policy_versions(&read, on, cutoff)))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/entitlements", tag = "tiers", params(("id" = String, Path), EntitlementQuery),
    responses((status = 200, body = Entitlement), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_entitlements(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<EntitlementQuery>,
) -> ApiResult<Json<Entitlement>> {
    caller.require(Right::Read)?;
    let as_of = parse_day("as_of", query.as_of.as_deref(), today)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(queries::entitlements::entitlement(
        &read, &id, as_of, cutoff,
    )?))
}

#[utoipa::path(post, path = "/v1/accounts/{id}/tier-overrides", tag = "tiers", params(("id" = String, Path)), request_body = GrantOverrideRequest,
    responses((status = 201, body = TierOverride), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn grant_override(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<TierOverride>)> {
    let (body, meta): (GrantOverrideRequest, _) = json_write(
        &caller,
        Right::ManagePolicy,
        &headers,
        &method,
        &format!("/v1/accounts/{id}/tier-overrides"),
        &raw,
    )?;
    let command = Command::GrantTierOverride {
        account_id: id.clone(),
        tier: body.tier,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
        reason: body.reason,
    };
    let outcome = state.engine.submit(command, meta).await?;
    let cutoff = outcome.last_position.unwrap_or(u64::MAX);
    let granted = policy::granted_override(&state.engine.read(), &id, cutoff)?;
    Ok((StatusCode::CREATED, Json(granted)))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/tier-overrides", tag = "tiers", params(("id" = String, Path), EntitlementQuery),
    responses((status = 200, body = OverrideList), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_overrides(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<EntitlementQuery>,
) -> ApiResult<Json<OverrideList>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(policy::overrides(&read, &id, cutoff)?))
}

#[utoipa::path(post, path = "/v1/accounts/{id}/tier-overrides/{override_id}/revoke", tag = "tiers", params(("id" = String, Path), ("override_id" = String, Path)),
    request_body = RevokeOverrideRequest,
    responses((status = 200, body = TierOverride), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn revoke_override(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((id, override_id)): ApiPath<(String, String)>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<TierOverride>> {
    caller.require(Right::ManagePolicy)?;
    let body: RevokeOverrideRequest = if raw.is_empty() {
        RevokeOverrideRequest::default()
    } else {
        json_body(&headers, &raw)?
    };
    let canonical = serde_json::to_vec(&body).map_err(ApiError::internal)?;
    let meta = write_meta(
        &caller,
        &headers,
        &method,
        &format!("/v1/accounts/{id}/tier-overrides/{override_id}/revoke"),
        &canonical,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::RevokeTierOverride {
                account_id: id.clone(),
                override_id: override_id.clone(),
                reason: body.reason,
            },
            meta,
        )
        .await?;
    let cutoff = outcome.last_position.unwrap_or(u64::MAX);
    let revoked = policy::revoked_override(&state.engine.read(), &id, &override_id, cutoff)?;
    Ok(Json(revoked))
}
