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
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::{json_write, page_limit, parse_known_at, AppState, KnownAtQuery, PageQuery};
use crate::domain::events::program_stream;
use crate::domain::programs::{Enrollment, Program};
use crate::domain::Command;
use crate::input::programs::{DefineProgramRequest, EnrollRequest};

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

/// A program with its stream version.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramResponse {
    #[serde(flatten)]
    pub program: Program,
    /// Accounts enrolled now (open enrollments).
    pub enrolled_accounts: usize,
    pub version: u64,
}

/// A page of programs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramPage {
    pub programs: Vec<ProgramResponse>,
    pub next_after: Option<String>,
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

/// A program's enrollments.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollmentList {
    pub program_id: String,
    pub enrollments: Vec<Enrollment>,
}

fn program_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<ProgramResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    let program = read
        .programs
        .get(id)
        .and_then(|p| p.at(cutoff))
        .ok_or_else(|| {
            ApiError::not_found(
                "program_not_found",
                format!("no rebate program with id \"{id}\""),
            )
        })?;
    let version = read.stream_version_at(&program_stream(id), cutoff);
    let enrolled_accounts = program
        .enrollments
        .iter()
        .filter(|e| e.effective_to.is_none())
        .count();
    Ok(ProgramResponse {
        program,
        enrolled_accounts,
        version,
    })
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
    let cutoff = read.cutoff(known_at);
    let mut programs: Vec<ProgramResponse> = read
        .programs
        .list(query.after.as_deref(), cutoff)
        .take(limit + 1)
        .map(|program| {
            let version = read.stream_version_at(&program_stream(&program.program_id), cutoff);
            let enrolled_accounts = program
                .enrollments
                .iter()
                .filter(|e| e.effective_to.is_none())
                .count();
            ProgramResponse {
                program,
                enrolled_accounts,
                version,
            }
        })
        .collect();
    let next_after = super::next_page(&mut programs, limit, |p| p.program.program_id.clone());
    Ok(Json(ProgramPage {
        programs,
        next_after,
    }))
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
    let cutoff = state.engine.read().cutoff(known_at);
    Ok(Json(program_at(&state, &id, Some(cutoff))?))
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

fn enrollments_at(state: &AppState, id: &str, cutoff: Option<u64>) -> ApiResult<EnrollmentList> {
    let program = program_at(state, id, cutoff)?.program;
    Ok(EnrollmentList {
        program_id: program.program_id,
        enrollments: program.enrollments,
    })
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
    let cutoff = state.engine.read().cutoff(known_at);
    Ok(Json(enrollments_at(&state, &id, Some(cutoff))?))
}
