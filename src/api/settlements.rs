//! Rebate settlements (DESIGN §5.4): propose (the server computes the amount and stores the
//! computation), approve or reject by another actor, read, and explain down to the lines.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery, Today};
use super::{json_write, parse_known_at, AppState, KnownAtQuery};
use crate::domain::settlements::Settlement;
use crate::domain::Command;
use crate::input::settlements::ProposeRequest;
use crate::queries::settlements::{self, Explanation, Proposal};
use crate::rules::calendar::Period;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/settlements", post(propose))
        .route("/v1/settlements/{id}", get(get_settlement))
        .route("/v1/settlements/{id}/approve", post(approve))
        .route("/v1/settlements/{id}/reject", post(reject))
        .route("/v1/settlements/{id}/explain", get(explain))
}

/// Body of `POST /v1/settlements/{id}/approve`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub note: Option<String>,
}

/// Body of `POST /v1/settlements/{id}/reject`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    pub reason: String,
}

fn settlement_at(state: &AppState, id: &str, cutoff: u64) -> Result<Settlement, ApiError> {
    Ok(settlements::settlement_at(
        &state.engine.read(),
        id,
        cutoff,
    )?)
}

#[utoipa::path(post, path = "/v1/settlements", tag = "rebates", request_body = ProposeRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = Settlement), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem),
        (status = 422, body = super::error::Problem, description = "nothing_to_settle, period_not_ended, already_final, no_final_yet, period_mismatch")),
    security(("bearer" = [])))]
pub async fn propose(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<Settlement>)> {
    let (body, meta): (ProposeRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        "/v1/settlements",
        &raw,
    )?;
    let period: Period = body
        .period
        .parse()
        .map_err(|e: String| ApiError::unprocessable("invalid_period", e))?;
    let asked = Proposal {
        program_id: body.program_id,
        account_id: body.account_id,
        period,
        kind: body.kind,
        reference: body.reference,
    };
    let proposal = settlements::proposal(&state.engine.read(), asked, &caller.name, today)?;
    let outcome = state
        .engine
        .submit(Command::ProposeSettlement(proposal.clone()), meta)
        .await?;
    let position = outcome.last_position.unwrap_or(u64::MAX);
    let settlement = settlements::proposed(&state.engine.read(), &proposal, position)?;
    Ok((StatusCode::CREATED, Json(settlement)))
}

#[utoipa::path(get, path = "/v1/settlements/{id}", tag = "rebates", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = Settlement), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_settlement(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<Settlement>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let cutoff = state.engine.read().cutoff(known_at)?;
    Ok(Json(settlement_at(&state, &id, cutoff)?))
}

#[utoipa::path(post, path = "/v1/settlements/{id}/approve", tag = "rebates", params(("id" = String, Path)), request_body = ApproveRequest,
    responses((status = 200, body = Settlement), (status = 403, body = super::error::Problem, description = "same_actor_approval"), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<Settlement>> {
    let raw = if raw.is_empty() {
        bytes::Bytes::from_static(b"{}")
    } else {
        raw
    };
    let (body, meta): (ApproveRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        &format!("/v1/settlements/{id}/approve"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::ApproveSettlement {
                settlement_id: id.clone(),
                actor: caller.name.clone(),
                note: body.note,
            },
            meta,
        )
        .await?;
    Ok(Json(settlement_at(
        &state,
        &id,
        outcome.last_position.unwrap_or(u64::MAX),
    )?))
}

#[utoipa::path(post, path = "/v1/settlements/{id}/reject", tag = "rebates", params(("id" = String, Path)), request_body = RejectRequest,
    responses((status = 200, body = Settlement), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<Settlement>> {
    let (body, meta): (RejectRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        &format!("/v1/settlements/{id}/reject"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::RejectSettlement {
                settlement_id: id.clone(),
                actor: caller.name.clone(),
                reason: body.reason,
            },
            meta,
        )
        .await?;
    Ok(Json(settlement_at(
        &state,
        &id,
        outcome.last_position.unwrap_or(u64::MAX),
    )?))
}

#[utoipa::path(get, path = "/v1/settlements/{id}/explain", tag = "rebates", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = Explanation), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<Explanation>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    Ok(Json(settlements::explain(
        &read,
        &id,
        read.cutoff(known_at)?,
    )?))
}
