//! Discounts (DESIGN §5.3): granted within the tier's ceiling, revoked from a day on; on a
//! date, for a sku or category, the highest applicable percent wins (they do not stack).

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::tiers::parse_day;
use super::{json_write, parse_known_at, AppState};
use crate::domain::incentives::Discount;
use crate::domain::Command;
use crate::input::discounts::GrantDiscountRequest;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/discounts", post(grant_discount))
        .route("/v1/discounts/{id}", get(get_discount))
        .route("/v1/discounts/{id}/revoke", post(revoke_discount))
        .route("/v1/accounts/{id}/discounts", get(account_discounts))
}

/// Body of `POST /v1/discounts/{id}/revoke`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeDiscountRequest {
    /// The first day the discount no longer applies.
    #[schema(value_type = String, format = Date)]
    pub effective_on: NaiveDate,
    pub reason: Option<String>,
}

/// Query of `GET /v1/accounts/{id}/discounts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiscountQuery {
    /// Day (default today, UTC).
    pub on: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub known_at: Option<String>,
}

/// Discounts applicable to an account on a day, and the one that applies.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicableDiscounts {
    pub account_id: String,
    #[schema(value_type = String, format = Date)]
    pub on: NaiveDate,
    pub sku: Option<String>,
    pub category: Option<String>,
    /// Highest percent first.
    pub applicable: Vec<Discount>,
    /// The highest applicable percent (ties: the smaller discount_id); null when none applies.
    pub effective: Option<Discount>,
    /// Every discount of the account, applicable or not.
    pub all: Vec<Discount>,
}

#[utoipa::path(post, path = "/v1/discounts", tag = "discounts", request_body = GrantDiscountRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = Discount), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem),
        (status = 422, body = super::error::Problem, description = "discount_exceeds_entitlement names the tier and ceiling")), security(("bearer" = [])))]
pub async fn grant_discount(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<Discount>)> {
    let (body, meta): (GrantDiscountRequest, _) = json_write(
        &caller,
        Right::ManageDiscounts,
        &headers,
        &method,
        "/v1/discounts",
        &raw,
    )?;
    let id = body.discount_id.clone();
    let command = Command::GrantDiscount(body.into());
    state.engine.submit(command, meta).await?;
    Ok((StatusCode::CREATED, Json(discount_now(&state, &id)?)))
}

fn discount_now(state: &AppState, id: &str) -> Result<Discount, ApiError> {
    let read = state.engine.read();
    let found = read.incentives.discount(id).ok_or_else(|| {
        ApiError::not_found(
            "discount_not_found",
            format!("no discount with id \"{id}\""),
        )
    })?;
    Ok(read
        .incentives
        .discounts(&found.account_id, u64::MAX)
        .into_iter()
        .find(|d| d.discount_id == id)
        .unwrap_or_else(|| found.clone()))
}

#[utoipa::path(get, path = "/v1/discounts/{id}", tag = "discounts", params(("id" = String, Path)),
    responses((status = 200, body = Discount), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_discount(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Discount>> {
    caller.require(Right::Read)?;
    Ok(Json(discount_now(&state, &id)?))
}

#[utoipa::path(post, path = "/v1/discounts/{id}/revoke", tag = "discounts", params(("id" = String, Path)), request_body = RevokeDiscountRequest,
    responses((status = 200, body = Discount), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn revoke_discount(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<Discount>> {
    let (body, meta): (RevokeDiscountRequest, _) = json_write(
        &caller,
        Right::ManageDiscounts,
        &headers,
        &method,
        &format!("/v1/discounts/{id}/revoke"),
        &raw,
    )?;
    state
        .engine
        .submit(
            Command::RevokeDiscount {
                discount_id: id.clone(),
                effective_on: body.effective_on,
                reason: body.reason,
            },
            meta,
        )
        .await?;
    Ok(Json(discount_now(&state, &id)?))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/discounts", tag = "discounts", params(("id" = String, Path), DiscountQuery),
    responses((status = 200, body = ApplicableDiscounts), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn account_discounts(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DiscountQuery>,
) -> ApiResult<Json<ApplicableDiscounts>> {
    caller.require(Right::Read)?;
    let on = parse_day("on", query.on.as_deref())?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at);
    if read.accounts.get(&id, cutoff).is_none() {
        return Err(ApiError::not_found(
            "account_not_found",
            format!("account \"{id}\" does not exist"),
        ));
    }
    let all = read.incentives.discounts(&id, cutoff);
    let mut applicable: Vec<Discount> = all
        .iter()
        .filter(|d| d.applies(on, query.sku.as_deref(), query.category.as_deref(), cutoff))
        .cloned()
        .collect();
    applicable.sort_by(|a, b| {
        b.percent
            .cmp(&a.percent)
            .then_with(|| a.discount_id.cmp(&b.discount_id))
    });
    let effective = applicable.first().cloned();
    Ok(Json(ApplicableDiscounts {
        account_id: id,
        on,
        sku: query.sku,
        category: query.category,
        applicable,
        effective,
        all,
    }))
}
