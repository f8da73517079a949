//! Rebate programs and enrollments (DESIGN §5.4): defined by finance, immutable once
//! defined, ended early if need be; accounts of the program's currency enrolled from a day.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Right};
use super::error::ApiResult;
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::{json_write, page_limit, parse_known_at, AppState, KnownAtQuery, PageQuery};
use crate::domain::Command;
use crate::input::programs::{DefineProgramRequest, EnrollRequest};
use crate::queries::programs::{self, EnrollmentList, ProgramPage, ProgramResponse};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/rebate-programs",
            post(define_program).get(list_programs),
        )
        .route("/v1/rebate-programs/{id}", get(get_program))
        .route("/v1/rebate-programs/{id}/end", post(end_program))
        .route(
            "/v1/rebate-programs/{id}/enrollments",
            post(enroll).get(list_enrollments),
        )
        .route(
            "/v1/rebate-programs/{id}/enrollments/{account_id}/end",
            post(unenroll),
        )
}

/// Body of `POST /v1/rebate-programs/{id}/end`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndProgramRequest {
    /// The new last day of the program.
    #[schema(value_type = String, format = Date)]
    pub ends_on: NaiveDate,
    pub reason: String,
}

/// Body of `POST /v1/rebate-programs/{id}/enrollments/{account_id}/end`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnenrollRequest {
    /// The last day the account's lines count.
    #[schema(value_type = String, format = Date)]
    pub effective_to: NaiveDate,
}

/// The program just written (at `cutoff`, or the head).
fn program_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<ProgramResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    Ok(programs::program(&read, id, cutoff)?)
}

/// The enrollments just written (at `cutoff`, or the head).
fn enrollments_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<EnrollmentList> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    Ok(programs::enrollments(&read, id, cutoff)?)
}

#[utoipa::path(post, path = "/v1/rebate-programs", tag = "rebates", request_body = DefineProgramRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = ProgramResponse), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn define_program(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<ProgramResponse>)> {
    let (body, meta): (DefineProgramRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        "/v1/rebate-programs",
        &raw,
    )?;
    let id = body.program_id.clone();
    let command = Command::DefineProgram(body.into());
    let outcome = state.engine.submit(command, meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(program_at(&state, &id, outcome.last_position)?),
    ))
}

#[utoipa::path(get, path = "/v1/rebate-programs", tag = "rebates", params(PageQuery), responses((status = 200, body = ProgramPage)), security(("bearer" = [])))]
pub async fn list_programs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<ProgramPage>> {
    caller.require(Right::Read)?;
    let limit = page_limit(query.limit)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(programs::programs_page(
        &read,
        query.after.as_deref(),
        cutoff,
        limit,
    )))
}

#[utoipa::path(get, path = "/v1/rebate-programs/{id}", tag = "rebates", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = ProgramResponse), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_program(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<ProgramResponse>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(programs::program(&read, &id, cutoff)?))
}

#[utoipa::path(post, path = "/v1/rebate-programs/{id}/end", tag = "rebates", params(("id" = String, Path)), request_body = EndProgramRequest,
    responses((status = 200, body = ProgramResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn end_program(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<ProgramResponse>> {
    let (body, meta): (EndProgramRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        &format!("/v1/rebate-programs/{id}/end"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::EndProgram {
                program_id: id.clone(),
                ends_on: body.ends_on,
                reason: body.reason,
            },
            meta,
        )
        .await?;
    Ok(Json(program_at(&state, &id, outcome.last_position)?))
}

#[utoipa::path(post, path = "/v1/rebate-programs/{id}/enrollments", tag = "rebates", params(("id" = String, Path)), request_body = EnrollRequest,
    responses((status = 201, body = EnrollmentList), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn enroll(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<EnrollmentList>)> {
    let (body, meta): (EnrollRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        &format!("/v1/rebate-programs/{id}/enrollments"),
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::Enroll {
                program_id: id.clone(),
                account_id: body.account_id,
                effective_from: body.effective_from,
            },
            meta,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(enrollments_at(&state, &id, outcome.last_position)?),
    ))
}

#[utoipa::path(post, path = "/v1/rebate-programs/{id}/enrollments/{account_id}/end", tag = "rebates", params(("id" = String, Path), ("account_id" = String, Path)),
    request_body = UnenrollRequest,
    responses((status = 200, body = EnrollmentList), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn unenroll(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath((id, account_id)): ApiPath<(String, String)>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<EnrollmentList>> {
    let path = format!("/v1/rebate-programs/{id}/enrollments/{account_id}/end");
    let (body, meta): (UnenrollRequest, _) = json_write(
        &caller,
        Right::ManagePrograms,
        &headers,
        &method,
        &path,
        &raw,
    )?;
    let outcome = state
        .engine
        .submit(
            Command::Unenroll {
                program_id: id.clone(),
                account_id,
                effective_to: body.effective_to,
            },
            meta,
        )
        .await?;
    Ok(Json(enrollments_at(&state, &id, outcome.last_position)?))
}

#[utoipa::path(get, path = "/v1/rebate-programs/{id}/enrollments", tag = "rebates", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = EnrollmentList), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_enrollments(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<EnrollmentList>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(programs::enrollments(&read, &id, cutoff)?))
}
