//! Reports: the 20/80 (Pareto) report of net revenue by account, and the liability report.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_day, ApiQuery, Today};
use super::AppState;
use crate::domain::incentives::DEFAULT_WINDOW_MONTHS;
use crate::queries::liability::{liability, liability_csv, LiabilityReport};
use crate::queries::pareto::{pareto_csv, pareto_report, CurrencyPareto};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/reports/pareto", get(get_pareto))
        .route("/v1/reports/liability", get(get_liability))
}

/// Query of `GET /v1/reports/pareto`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ParetoQuery {
    /// Last day of the window (default today, UTC).
    pub as_of: Option<String>,
    /// Months in the window, 1–36 (default 12).
    pub window_months: Option<u32>,
    /// Required when accounts trade in several currencies.
    pub currency: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports/pareto", tag = "reports", params(ParetoQuery),
    responses((status = 200, body = CurrencyPareto, description = "JSON, or text/csv with format=csv"), (status = 400, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn get_pareto(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiQuery(query): ApiQuery<ParetoQuery>,
) -> ApiResult<Response> {
    caller.require(Right::Read)?;
    let as_of = parse_day("as_of", query.as_of.as_deref(), today)?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown format \"{other}\"; expected json or csv"),
            ))
        }
    };
    let report = {
        let read = state.engine.read();
        pareto_report(
            &read,
            as_of,
            query.window_months.unwrap_or(DEFAULT_WINDOW_MONTHS),
            query.currency.as_deref(),
        )
        .map_err(crate::queries::QueryError::from)?
    };
    if csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            pareto_csv(&report),
        )
            .into_response())
    } else {
        Ok(Json(report).into_response())
    }
}

/// Query of `GET /v1/reports/liability`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LiabilityQuery {
    /// Periods starting on or before this day are listed (default today, UTC).
    pub as_of: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    pub known_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/reports/liability", tag = "reports", params(LiabilityQuery),
    responses((status = 200, body = LiabilityReport, description = "JSON, or text/csv with format=csv"), (status = 400, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn get_liability(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiQuery(query): ApiQuery<LiabilityQuery>,
) -> ApiResult<Response> {
    caller.require(Right::Read)?;
    let as_of = parse_day("as_of", query.as_of.as_deref(), today)?;
    let known_at = super::parse_known_at(query.known_at.as_deref())?;
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown format \"{other}\"; expected json or csv"),
            ))
        }
    };
    let report = {
        let read = state.engine.read();
        liability(&read, as_of, read.cutoff(known_at)?, today)?
    };
    if csv {
        Ok((
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            liability_csv(&report),
        )
            .into_response())
    } else {
        Ok(Json(report).into_response())
    }
}
