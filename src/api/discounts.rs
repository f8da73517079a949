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
use super::error::ApiResult;
use super::extract::{parse_day, ApiBytes, ApiPath, ApiQuery, Today};
use super::{json_write, parse_known_at, AppState};
use crate::domain::incentives::Discount;
use crate::domain::Command;
use crate::input::discounts::GrantDiscountRequest;
use crate::queries;
use crate::queries::discounts::{ApplicableDiscounts, DiscountItem};

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

/// The discount as it stands now.
fn discount_now(state: &AppState, id: &str) -> ApiResult<Discount> {
    Ok(queries::discounts::discount(&state.engine.read(), id)?)
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
    Today(today): Today,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<DiscountQuery>,
) -> ApiResult<Json<ApplicableDiscounts>> {
    caller.require(Right::Read)?;
    let on = parse_day("on", query.on.as_deref(), today)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    let item = DiscountItem {
        sku: query.sku,
        category: query.category,
    };
    Ok(Json(queries::discounts::applicable(
        &read, &id, on, item, cutoff,
    )?))
}
