//! Sales contests (DESIGN §5.5): defined and closed by managers, live standings for
//! everyone who reads, cash awards marked paid by finance.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::tiers::parse_day;
use super::{json_write, page_limit, parse_known_at, AppState, KnownAtQuery, PageQuery};
use crate::domain::contests::{AwardPayment, Contest};
use crate::domain::events::contest_stream;
use crate::domain::Command;
use crate::input::contests::{DefineContestRequest, MarkPaidRequest};
use crate::projections::contests::{standings, window};
use crate::rules::contests::{AwardedPrize, ContestMetric, Standing};

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

/// The standings of a contest (DESIGN §6).
#[derive(Debug, Serialize, ToSchema)]
pub struct StandingsResponse {
    pub contest_id: String,
    pub metric: ContestMetric,
    pub currency: String,
    /// `open` (live standings, prizes are a preview) or `closed` (the recorded result).
    pub status: String,
    /// The last day measured.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub window_start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub window_end: NaiveDate,
    /// The last log position whose sales the standings include.
    pub through_position: u64,
    /// Ranked accounts first (rank 1, 2, 2, 4, …), then the others with `rank: null` and a reason.
    pub standings: Vec<Standing>,
}

/// Body of `POST /v1/contests/{id}/close` (may be empty).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseContestRequest {}

/// One account's award and whether it is paid.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardView {
    pub contest_id: String,
    pub account_id: String,
    pub rank: Option<u32>,
    pub prizes: Vec<AwardedPrize>,
    pub tie_expanded: bool,
    /// Σ cash, in the contest's currency ("750.00"); null without cash.
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub cash: Option<Decimal>,
    /// `unpaid`, `paid`, or `no_cash` for goods and honor only.
    pub status: String,
    pub payment: Option<AwardPayment>,
}

/// The awards of a closed contest.
#[derive(Debug, Serialize, ToSchema)]
pub struct AwardList {
    pub contest_id: String,
    pub currency: String,
    pub awards: Vec<AwardView>,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("contest_not_found", format!("no contest with id \"{id}\""))
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

/// The standings of a contest: the recorded ones once closed, else live as of `as_of`.
fn standings_of(state: &AppState, id: &str, as_of: NaiveDate) -> ApiResult<StandingsResponse> {
    let read = state.engine.read();
    let contest = read.contests.get(id).ok_or_else(|| not_found(id))?;
    if let Some(close) = &contest.close {
        return Ok(StandingsResponse {
            contest_id: contest.contest_id.clone(),
            metric: contest.metric,
            currency: contest.currency.clone(),
            status: contest.status().to_string(),
            as_of: contest.ends_on,
            window_start: contest.starts_on,
            window_end: contest.ends_on,
            through_position: close.through_position,
            standings: close.standings.clone(),
        });
    }
    let (window_start, window_end) = window(contest, as_of);
    Ok(StandingsResponse {
        contest_id: contest.contest_id.clone(),
        metric: contest.metric,
        currency: contest.currency.clone(),
        status: contest.status().to_string(),
        as_of: window_end,
        window_start,
        window_end,
        through_position: read.head_position(),
        standings: standings(&read, contest, as_of),
    })
}

#[utoipa::path(get, path = "/v1/contests/{id}/standings", tag = "contests", params(("id" = String, Path), StandingsQuery),
    responses((status = 200, body = StandingsResponse), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_standings(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<StandingsQuery>,
) -> ApiResult<Json<StandingsResponse>> {
    caller.require(Right::Read)?;
    let as_of = parse_day("as_of", query.as_of.as_deref())?;
    Ok(Json(standings_of(&state, &id, as_of)?))
}

#[utoipa::path(post, path = "/v1/contests/{id}/close", tag = "contests", params(("id" = String, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "retry safely")), request_body(content = CloseContestRequest, description = "empty, or {}"),
    responses((status = 201, body = StandingsResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn close_contest(
    State(state): State<AppState>,
    caller: Caller,
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
    let today = chrono::Utc::now().date_naive();
    state
        .engine
        .submit(close_command(&state, &id, today)?, meta)
        .await?;
    Ok((StatusCode::CREATED, Json(standings_of(&state, &id, today)?)))
}

/// The command that closes a contest on `today` with its final standings, measured over
/// the whole window from the log as it stands now (used by the API and the demo).
pub fn close_command(state: &AppState, id: &str, today: NaiveDate) -> ApiResult<Command> {
    let read = state.engine.read();
    let contest = read.contests.get(id).ok_or_else(|| not_found(id))?;
    Ok(Command::CloseContest {
        contest_id: id.to_string(),
        standings: standings(&read, contest, contest.ends_on),
        through_position: read.head_position(),
        today,
    })
}

fn award_views(contest: &Contest) -> Result<Vec<AwardView>, ApiError> {
    let Some(close) = &contest.close else {
        return Ok(Vec::new());
    };
    close
        .standings
        .iter()
        .filter(|s| !s.prizes.is_empty())
        .map(|s| {
            let cash = contest
                .cash_award(&s.account_id)
                .map_err(|_| super::rebates::overflow("a contest award"))?;
            let payment = contest.payment(&s.account_id).cloned();
            let status = match (cash, &payment) {
                (None, _) => "no_cash",
                (Some(_), Some(_)) => "paid",
                (Some(_), None) => "unpaid",
            };
            Ok(AwardView {
                contest_id: contest.contest_id.clone(),
                account_id: s.account_id.clone(),
                rank: s.rank,
                prizes: s.prizes.clone(),
                tie_expanded: s.tie_expanded,
                cash,
                status: status.to_string(),
                payment,
            })
        })
        .collect()
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
    let today = chrono::Utc::now().date_naive();
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
