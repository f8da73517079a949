//! Peak seasons and supply-priority allocation (DESIGN §5.6): planners declare seasons,
//! record requests, review a what-if plan and commit it while it is still current.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::{json_write, page_limit, parse_known_at, AppState, KnownAtQuery, PageQuery};
use crate::domain::commands::{AllocationRequestInput, DeclareSeason};
use crate::domain::events::SeasonProduct;
use crate::domain::seasons::RequestView;
use crate::domain::Command;
use crate::input::seasons::DeclareSeasonRequest;
use crate::queries::seasons::{
    self, Allocations, PlanResponse, RequestFilter, RequestList, SeasonPage, SeasonResponse,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/seasons", post(declare_season).get(list_seasons))
        .route("/v1/seasons/{id}", get(get_season))
        .route("/v1/seasons/{id}/capacity", put(revise_capacity))
        .route(
            "/v1/seasons/{id}/requests",
            post(request_allocation).get(list_requests),
        )
        .route(
            "/v1/seasons/{id}/requests/{request_id}/withdraw",
            post(withdraw_request),
        )
        .route("/v1/seasons/{id}/plan", post(plan_season))
        .route("/v1/seasons/{id}/commit", post(commit_plan))
        .route("/v1/seasons/{id}/allocations", get(get_allocations))
}

/// Body of `PUT /v1/seasons/{id}/capacity`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseCapacityRequest {
    /// The new capacities of the products that change.
    pub products: Vec<SeasonProduct>,
    pub reason: Option<String>,
}

/// Body of `POST /v1/seasons/{id}/requests`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestAllocationRequest {
    /// 1 to 10,000 requests, recorded all or nothing.
    #[serde(deserialize_with = "crate::input::json::at_most_batch_lines")]
    pub requests: Vec<AllocationRequestInput>,
}

/// What `POST /v1/seasons/{id}/requests` recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestsRecorded {
    pub season_id: String,
    pub recorded: u64,
    pub request_ids: Vec<String>,
    pub first_position: Option<u64>,
    pub last_position: Option<u64>,
}

/// Query of `GET /v1/seasons/{id}/requests`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestListQuery {
    /// Only this account's requests.
    pub account_id: Option<String>,
    /// `active` or `withdrawn`.
    pub status: Option<String>,
    pub known_at: Option<String>,
}

/// Body of `POST /v1/seasons/{id}/requests/{request_id}/withdraw` (may be empty).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub reason: Option<String>,
}

/// Body of `POST /v1/seasons/{id}/plan` (may be empty).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// What-if capacities for some products; the others keep theirs. A plan with
    /// overrides can be reviewed but not committed until the capacities are revised.
    #[serde(default)]
    pub capacities: Vec<SeasonProduct>,
}

/// Body of `POST /v1/seasons/{id}/commit`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    /// The plan_hash of the plan reviewed.
    pub plan_hash: String,
}

/// Query of `GET /v1/seasons/{id}/allocations`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AllocationQuery {
    /// Only this account's lines.
    pub account_id: Option<String>,
    pub known_at: Option<String>,
}

/// The season just written (at `cutoff`, or the head).
fn season_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<SeasonResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    Ok(seasons::season(&read, id, cutoff)?)
}

#[utoipa::path(post, path = "/v1/seasons", tag = "seasons", request_body = DeclareSeasonRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = SeasonResponse), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn declare_season(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<SeasonResponse>)> {
    let (body, meta): (DeclareSeasonRequest, _) = json_write(
        &caller,
        Right::ManageSeasons,
        &headers,
        &method,
        "/v1/seasons",
        &raw,
    )?;
    let id = body.season_id.clone();
    let command = Command::DeclareSeason(DeclareSeason {
        season_id: body.season_id,
        name: body.name,
        starts_on: body.starts_on,
        ends_on: body.ends_on,
        products: body.products,
        reserves: body.reserves,
    });
    let outcome = state.engine.submit(command, meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(season_at(&state, &id, outcome.last_position)?),
    ))
}

#[utoipa::path(get, path = "/v1/seasons", tag = "seasons", params(PageQuery), responses((status = 200, body = SeasonPage), (status = 400, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_seasons(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<SeasonPage>> {
    caller.require(Right::Read)?;
    let limit = page_limit(query.limit)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(seasons::seasons_page(
        &read,
        query.after.as_deref(),
        cutoff,
        limit,
    )))
}

#[utoipa::path(get, path = "/v1/seasons/{id}", tag = "seasons", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = SeasonResponse), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_season(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<SeasonResponse>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(seasons::season(&read, &id, cutoff)?))
}

#[utoipa::path(put, path = "/v1/seasons/{id}/capacity", tag = "seasons", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = ReviseCapacityRequest,
    responses((status = 200, body = SeasonResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn revise_capacity(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<SeasonResponse>> {
    let (body, meta): (ReviseCapacityRequest, _) = json_write(
        &caller,
        Right::ManageSeasons,
        &headers,
        &method,
        &format!("/v1/seasons/{id}/capacity"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::ReviseCapacity {
                season_id: id.clone(),
                products: body.products,
                reason: body.reason,
            },
            meta,
        )
        .await?;
    Ok(Json(season_at(&state, &id, outcome.last_position)?))
}

#[utoipa::path(post, path = "/v1/seasons/{id}/requests", tag = "seasons", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = RequestAllocationRequest,
    responses((status = 201, body = RequestsRecorded), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 413, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn request_allocation(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<RequestsRecorded>)> {
    let (body, meta): (RequestAllocationRequest, _) = json_write(
        &caller,
        Right::ManageSeasons,
        &headers,
        &method,
        &format!("/v1/seasons/{id}/requests"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::RequestAllocation {
                season_id: id.clone(),
                requests: body.requests,
            },
            meta,
        )
        .await?;
    // The ids recorded are those of the requests at the outcome's positions.
    let request_ids = match (outcome.first_position, outcome.last_position) {
        (Some(first), Some(last)) => {
            seasons::request_ids_between(&state.engine.read(), &id, first, last)
        }
        _ => Vec::new(),
    };
    Ok((
        StatusCode::CREATED,
        Json(RequestsRecorded {
            season_id: id,
            recorded: outcome.recorded,
            request_ids,
            first_position: outcome.first_position,
            last_position: outcome.last_position,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/seasons/{id}/requests", tag = "seasons", params(("id" = String, Path), RequestListQuery),
    responses((status = 200, body = RequestList), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_requests(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<RequestListQuery>,
) -> ApiResult<Json<RequestList>> {
    caller.require(Right::Read)?;
    if let Some(status) = query.status.as_deref() {
        if status != "active" && status != "withdrawn" {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown status \"{status}\"; expected active or withdrawn"),
            ));
        }
    }
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    let filter = RequestFilter {
        account_id: query.account_id.as_deref(),
        status: query.status.as_deref(),
    };
    Ok(Json(seasons::requests(&read, &id, &filter, cutoff)?))
}

#[utoipa::path(post, path = "/v1/seasons/{id}/requests/{request_id}/withdraw", tag = "seasons",
    params(("id" = String, Path), ("request_id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body(content = WithdrawRequest, description = "empty, or {\"reason\": …}"),
    responses((status = 200, body = RequestView), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn withdraw_request(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((id, request_id)): ApiPath<(String, String)>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<RequestView>> {
    let (body, meta): (WithdrawRequest, _) = json_write(
        &caller,
        Right::ManageSeasons,
        &headers,
        &method,
        &format!("/v1/seasons/{id}/requests/{request_id}/withdraw"),
        super::extract::or_empty_object(&raw),
    )?;
    let outcome = state
        .engine
        .submit(
            Command::WithdrawRequest {
                season_id: id.clone(),
                request_id: request_id.clone(),
                reason: body.reason,
            },
            meta,
        )
        .await?;
    let read = state.engine.read();
    let cutoff = outcome
        .last_position
        .unwrap_or_else(|| read.head_position());
    Ok(Json(seasons::request_written(
        &read,
        &id,
        &request_id,
        cutoff,
    )?))
}

#[utoipa::path(post, path = "/v1/seasons/{id}/plan", tag = "seasons", params(("id" = String, Path)),
    request_body(content = PlanRequest, description = "empty, or what-if capacities"),
    responses((status = 200, body = PlanResponse), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn plan_season(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<PlanResponse>> {
    caller.require(Right::ManageSeasons)?;
    let body: PlanRequest =
        super::extract::json_body(&headers, super::extract::or_empty_object(&raw))?;
    let read = state.engine.read();
    Ok(Json(seasons::what_if_plan(&read, &id, &body.capacities)?))
}

#[utoipa::path(post, path = "/v1/seasons/{id}/commit", tag = "seasons", params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    request_body = CommitRequest,
    responses((status = 201, body = Allocations), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem, description = "stale_plan or season_committed"), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn commit_plan(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<Allocations>)> {
    let (body, meta): (CommitRequest, _) = json_write(
        &caller,
        Right::ManageSeasons,
        &headers,
        &method,
        &format!("/v1/seasons/{id}/commit"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::CommitAllocation {
                season_id: id.clone(),
                plan_hash: body.plan_hash,
            },
            meta,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(allocations_at(&state, &id, outcome.last_position)?),
    ))
}

/// The allocations just committed (at `cutoff`, or the head).
fn allocations_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<Allocations> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    Ok(seasons::allocations(&read, id, cutoff, None)?)
}

#[utoipa::path(get, path = "/v1/seasons/{id}/allocations", tag = "seasons", params(("id" = String, Path), AllocationQuery),
    responses((status = 200, body = Allocations), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_allocations(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AllocationQuery>,
) -> ApiResult<Json<Allocations>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(seasons::allocations(
        &read,
        &id,
        cutoff,
        query.account_id.as_deref(),
    )?))
}
