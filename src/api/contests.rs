//! Sales contests (DESIGN §5.5): defined and closed by managers, live standings for
//! everyone who reads, cash awards marked paid by finance.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::ApiResult;
use super::extract::{parse_day, ApiBytes, ApiPath, ApiQuery, Today};
use super::{json_write, page_limit, parse_known_at, AppState, KnownAtQuery, PageQuery};
use crate::domain::Command;
use crate::input::contests::{DefineContestRequest, MarkPaidRequest};
use crate::queries::contests::{
    self, close_command, standings_of, AwardList, AwardView, ContestPage, ContestResponse,
    StandingsResponse,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/contests", post(define_contest).get(list_contests))
        .route("/v1/contests/{id}", get(get_contest))
        .route("/v1/contests/{id}/standings", get(get_standings))
        .route("/v1/contests/{id}/close", post(close_contest))
        .route("/v1/contests/{id}/awards", get(list_awards))
        .route(
            "/v1/contests/{id}/awards/{account_id}/paid",
            post(mark_award_paid),
        )
}

/// Query of `GET /v1/contests/{id}/standings`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StandingsQuery {
    /// Measure through this day (default today, UTC; never past the contest's end).
    /// Ignored once the contest is closed: the recorded final standings are returned.
    pub as_of: Option<String>,
}

/// Body of `POST /v1/contests/{id}/close` (may be empty).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseContestRequest {}

/// The contest just written (at `cutoff`, or the head).
fn contest_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<ContestResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    Ok(contests::contest(&read, id, cutoff)?)
}

#[utoipa::path(post, path = "/v1/contests", tag = "contests", request_body = DefineContestRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = ContestResponse), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn define_contest(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<ContestResponse>)> {
    let (body, meta): (DefineContestRequest, _) = json_write(
        &caller,
        Right::ManageContests,
        &headers,
        &method,
        "/v1/contests",
        &raw,
    )?;
    let id = body.contest_id.clone();
    let outcome = state
        .engine
        .submit(Command::DefineContest(body.into()), meta)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(contest_at(&state, &id, outcome.last_position)?),
    ))
}

#[utoipa::path(get, path = "/v1/contests", tag = "contests", params(PageQuery), responses((status = 200, body = ContestPage), (status = 400, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_contests(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ContestPage>> {
    caller.require(Right::Read)?;
    let limit = page_limit(query.limit)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(contests::contests_page(
        &read,
        query.after.as_deref(),
        cutoff,
        limit,
    )))
}

#[utoipa::path(get, path = "/v1/contests/{id}", tag = "contests", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = ContestResponse), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_contest(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<ContestResponse>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(contests::contest(&read, &id, cutoff)?))
}

#[utoipa::path(get, path = "/v1/contests/{id}/standings", tag = "contests", params(("id" = String, Path), StandingsQuery),
    responses((status = 200, body = StandingsResponse), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_standings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    Today(today): Today,
    ApiQuery(query): ApiQuery<StandingsQuery>,
) -> ApiResult<Json<StandingsResponse>> {
    caller.require(Right::Read)?;
    let as_of = parse_day("as_of", query.as_of.as_deref(), today)?;
    Ok(Json(standings_of(&state.engine.read(), &id, as_of)?))
}

#[utoipa::path(post, path = "/v1/contests/{id}/close", tag = "contests", params(("id" = String, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "retry safely")), request_body(content = CloseContestRequest, description = "empty, or {}"),
    responses((status = 201, body = StandingsResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn close_contest(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<StandingsResponse>)> {
    let (_body, meta): (CloseContestRequest, _) = json_write(
        &caller,
        Right::ManageContests,
        &headers,
        &method,
        &format!("/v1/contests/{id}/close"),
        super::extract::or_empty_object(&raw),
    )?;
    let command = close_command(&state.engine.read(), &id, today)?;
    state.engine.submit(command, meta).await?;
    let standings = standings_of(&state.engine.read(), &id, today)?;
    Ok((StatusCode::CREATED, Json(standings)))
}

#[utoipa::path(get, path = "/v1/contests/{id}/awards", tag = "contests", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = AwardList), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_awards(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<AwardList>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(contests::awards(&read, &id, cutoff)?))
}

#[utoipa::path(post, path = "/v1/contests/{id}/awards/{account_id}/paid", tag = "contests",
    params(("id" = String, Path), ("account_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = MarkPaidRequest,
    responses((status = 200, body = AwardView), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn mark_award_paid(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    method: Method,
    headers: HeaderMap,
    ApiPath((id, account_id)): ApiPath<(String, String)>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<AwardView>> {
    let (body, meta): (MarkPaidRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        &format!("/v1/contests/{id}/awards/{account_id}/paid"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::MarkAwardPaid {
                contest_id: id.clone(),
                account_id: account_id.clone(),
                paid_on: body.paid_on.unwrap_or(today),
                reference: body.reference,
                today,
                actor: caller.name.clone(),
            },
            meta,
        )
        .await?;
    let read = state.engine.read();
    let cutoff = outcome
        .last_position
        .unwrap_or_else(|| read.head_position());
    Ok(Json(contests::award_marked(
        &read,
        &id,
        &account_id,
        cutoff,
    )?))
}
