//! Sales contests (DESIGN §5.5): defined and closed by managers, live standings for
//! everyone who reads, cash awards marked paid by finance.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_day, ApiBytes, ApiPath, ApiQuery, Today};
use super::{json_write, page_limit, parse_known_at, AppState, KnownAtQuery, PageQuery};
use crate::domain::contests::Contest;
use crate::domain::events::contest_stream;
use crate::domain::Command;
use crate::input::contests::{DefineContestRequest, MarkPaidRequest};
use crate::queries::contests::{
    self, award_views, close_command, standings_of, AwardList, AwardView, StandingsResponse,
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

/// A contest with its stream version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContestResponse {
    #[serde(flatten)]
    pub contest: Contest,
    /// `open` until closed, then `closed`.
    pub status: &'static str,
    pub version: u64,
}

/// A page of contests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContestPage {
    pub contests: Vec<ContestResponse>,
    pub next_after: Option<String>,
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

fn not_found(id: &str) -> ApiError {
    contests::not_found(id).into()
}

fn contest_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<ContestResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    let contest = read
        .contests
        .get(id)
        .and_then(|c| c.at(cutoff))
        .ok_or_else(|| not_found(id))?;
    let version = read.stream_version_at(&contest_stream(id), cutoff);
    Ok(ContestResponse {
        status: contest.status(),
        contest,
        version,
    })
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
    let cutoff = read.cutoff(known_at);
    let mut contests: Vec<ContestResponse> = read
        .contests
        .list(query.after.as_deref(), cutoff)
        .take(limit + 1)
        .map(|contest| ContestResponse {
            status: contest.status(),
            version: read.stream_version_at(&contest_stream(&contest.contest_id), cutoff),
            contest,
        })
        .collect();
    let next_after = super::next_page(&mut contests, limit, |c| c.contest.contest_id.clone());
    Ok(Json(ContestPage {
        contests,
        next_after,
    }))
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
    let cutoff = state.engine.read().cutoff(known_at);
    Ok(Json(contest_at(&state, &id, Some(cutoff))?))
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
    let cutoff = state.engine.read().cutoff(known_at);
    let contest = contest_at(&state, &id, Some(cutoff))?.contest;
    Ok(Json(AwardList {
        contest_id: contest.contest_id.clone(),
        currency: contest.currency.clone(),
        awards: award_views(&contest)?,
    }))
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
    let contest = contest_at(&state, &id, outcome.last_position)?.contest;
    award_views(&contest)?
        .into_iter()
        .find(|a| a.account_id == account_id)
        .map(Json)
        .ok_or_else(|| ApiError::internal("the paid award is missing from the contest"))
}
