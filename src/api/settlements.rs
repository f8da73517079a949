//! Rebate settlements (DESIGN §5.4): propose (the server computes the amount and stores the
//! computation), approve or reject by another actor, read, and explain down to the lines.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::rebates::accrue;
use super::{json_write, parse_known_at, AppState, KnownAtQuery};
use crate::domain::commands::ProposeSettlement;
use crate::domain::events::SettlementComputation;
use crate::domain::money::round_to_minor_unit;
use crate::domain::settlements::Settlement;
use crate::domain::Command;
use crate::input::settlements::ProposeRequest;
use crate::rules::calendar::{month_index, Period};
use crate::rules::rebates::{RebateTier, SettlementKind};

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

/// One line behind a settlement's basis.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributingLine {
    /// Log position of the SaleRecorded or SaleReturned event.
    pub position: u64,
    /// `sale` or `return`.
    pub kind: String,
    /// The sale's date (a return counts against its sale's period).
    #[schema(value_type = String, format = Date)]
    pub sale_date: NaiveDate,
    pub sku: String,
    pub category: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub net_amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub cost_amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
}

/// Why a settlement is what it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    pub settlement: Settlement,
    pub program_basis: String,
    pub method: String,
    pub tiers: Vec<RebateTier>,
    /// The sum in words, then the netting.
    pub arithmetic: Vec<String>,
    /// Every sale and return line counted in the basis, with its log position (read with
    /// `GET /v1/audit/events`).
    pub lines: Vec<ContributingLine>,
}

fn settlement_at(state: &AppState, id: &str, cutoff: u64) -> Result<Settlement, ApiError> {
    state
        .engine
        .read()
        .settlements
        .get(id)
        .and_then(|s| s.at(cutoff))
        .ok_or_else(|| {
            ApiError::not_found(
                "settlement_not_found",
                format!("no settlement with id \"{id}\""),
            )
        })
}

/// The command for a proposal: the server computes the entitlement from the accruals as of
/// the last durable group (recorded as `through_position`); the decider nets it.
pub fn proposal(state: &AppState, body: ProposeRequest, actor: &str) -> Result<Command, ApiError> {
    let period: Period = body
        .period
        .parse()
        .map_err(|e: String| ApiError::unprocessable("invalid_period", e))?;
    let (program, head) = {
        let read = state.engine.read();
        let program = read
            .programs
            .get(&body.program_id)
            .cloned()
            .ok_or_else(|| {
                ApiError::not_found(
                    "program_not_found",
                    format!("no rebate program with id \"{}\"", body.program_id),
                )
            })?;
        (program, read.head_position())
    };
    if period.kind != program.period {
        return Err(ApiError::unprocessable(
            "period_mismatch",
            format!(
                "program {} settles {} periods; \"{}\" is not one",
                program.program_id,
                program.period.as_str(),
                period.label
            ),
        ));
    }
    let accrued = accrue(state, &program, &body.account_id, &period, head, head)?;
    let computation = SettlementComputation {
        rebate: accrued.computation,
        eligible: accrued.eligible,
        reason: accrued.reason,
        entitlement: accrued.entitlement,
        previously_approved: Decimal::ZERO,
        pending: Decimal::ZERO,
        through_position: head,
    };
    Ok(Command::ProposeSettlement(ProposeSettlement {
        program_id: body.program_id,
        account_id: body.account_id,
        period,
        kind: body.kind,
        reference: body.reference,
        computation,
        today: chrono::Utc::now().date_naive(),
        actor: actor.to_string(),
    }))
}

/// The id of the settlement proposed by the event at `position`.
pub fn proposed_id(state: &AppState, position: u64) -> Result<String, ApiError> {
    let bytes = state
        .engine
        .store()
        .get(position)?
        .ok_or_else(|| ApiError::internal("the proposal event is missing"))?;
    let envelope = crate::ledger::Envelope::open(&bytes).map_err(ApiError::internal)?;
    match crate::domain::Event::decode(
        &envelope.event_type,
        envelope.schema_version,
        &envelope.payload,
    )
    .map_err(ApiError::internal)?
    {
        crate::domain::Event::SettlementProposed(e) => Ok(e.settlement_id),
        _ => Err(ApiError::internal("the proposal event is missing")),
    }
}

#[utoipa::path(post, path = "/v1/settlements", tag = "rebates", request_body = ProposeRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = Settlement), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem),
        (status = 422, body = super::error::Problem, description = "nothing_to_settle, period_not_ended, already_final, no_final_yet, period_mismatch")),
    security(("bearer" = [])))]
pub async fn propose(
    State(state): State<AppState>,
    caller: Caller,
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
    let command = proposal(&state, body, &caller.name)?;
    let outcome = state.engine.submit(command, meta).await?;
    let cutoff = outcome.last_position.unwrap_or(u64::MAX);
    let id = proposed_id(&state, cutoff)?;
    Ok((
        StatusCode::CREATED,
        Json(settlement_at(&state, &id, cutoff)?),
    ))
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
    let cutoff = state.engine.read().cutoff(known_at);
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
    let cutoff = read.cutoff(known_at);
    let settlement = read
        .settlements
        .get(&id)
        .and_then(|s| s.at(cutoff))
        .ok_or_else(|| {
            ApiError::not_found(
                "settlement_not_found",
                format!("no settlement with id \"{id}\""),
            )
        })?;
    let through = settlement.computation.through_position;
    let program = read
        .programs
        .get(&settlement.program_id)
        .and_then(|p| p.at(through))
        .ok_or_else(|| ApiError::internal("the settlement's program is missing"))?;
    let period: Period = settlement.period.parse().map_err(ApiError::internal)?;
    let start = month_index(program.period_of(period.start.max(program.starts_on)).start);
    let lines = read
        .accruals
        .contributing(&program, &settlement.account_id, start, through)
        .into_iter()
        .map(|l| ContributingLine {
            position: l.position,
            kind: if l.quantity < Decimal::ZERO || l.net < Decimal::ZERO {
                "return"
            } else {
                "sale"
            }
            .to_string(),
            sale_date: l.sale_date,
            sku: read.accruals.name(l.sku).to_string(),
            category: read.accruals.name(l.category).to_string(),
            net_amount: round_to_minor_unit(l.net, &program.currency),
            cost_amount: round_to_minor_unit(l.cost, &program.currency),
            quantity: l.quantity,
        })
        .collect();
    let c = &settlement.computation;
    let mut arithmetic = vec![c.rebate.arithmetic.clone()];
    if !c.eligible {
        arithmetic.push(format!(
            "not eligible: {}; entitlement 0",
            c.reason.clone().unwrap_or_default()
        ));
    }
    arithmetic.push(format!(
        "{} settlement: entitlement {} − approved {}{} = {}",
        settlement.kind.as_str(),
        c.entitlement,
        c.previously_approved,
        if settlement.kind == SettlementKind::Partial {
            format!(" − pending {}", c.pending)
        } else {
            String::new()
        },
        settlement.amount
    ));
    Ok(Json(Explanation {
        program_basis: program.basis.as_str().to_string(),
        method: program.method.as_str().to_string(),
        tiers: program.tiers.clone(),
        arithmetic,
        lines,
        settlement,
    }))
}
