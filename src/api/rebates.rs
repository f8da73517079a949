//! Rebate accruals (DESIGN §5.4): per program, account and period, the basis, tier, rate,
//! entitlement, eligibility and what is still outstanding (computed by `queries::accruals`).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Caller, Right};
use super::error::ApiResult;
use super::extract::{parse_period, ApiPath, ApiQuery, Today};
use super::{parse_known_at, AppState};
use crate::queries::accruals::{self, AccountRebates, ProgramAccruals};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/rebate-programs/{id}/accruals", get(program_accruals))
        .route("/v1/accounts/{id}/rebates", get(account_rebates))
}

/// Query of accrual reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccrualQuery {
    /// `2026`, `2026-Q2` or `2026-05` (default: the program period holding today).
    pub period: Option<String>,
    pub known_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/rebate-programs/{id}/accruals", tag = "rebates", params(("id" = String, Path), AccrualQuery),
    responses((status = 200, body = ProgramAccruals), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn program_accruals(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AccrualQuery>,
) -> ApiResult<Json<ProgramAccruals>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let period = query.period.as_deref().map(parse_period).transpose()?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(accruals::program_accruals(
        &read, &id, period, cutoff, today,
    )?))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/rebates", tag = "rebates", params(("id" = String, Path), AccrualQuery),
    responses((status = 200, body = AccountRebates), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn account_rebates(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AccrualQuery>,
) -> ApiResult<Json<AccountRebates>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let asked = query.period.as_deref().map(parse_period).transpose()?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(accruals::account_rebates(
        &read, &id, asked, cutoff, today,
    )?))
}
