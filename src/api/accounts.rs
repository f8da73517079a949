//! Key accounts: open, list, read, update, relationship stage, close.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{parse_day, ApiBytes, ApiPath, ApiQuery, Today};
use super::KnownAtQuery;
use super::{json_write, page_limit, parse_known_at, AppState};
use crate::domain::commands::{OpenAccount, UpdateAccount};
use crate::domain::vocab::{Scope, Segment, Stage};
use crate::domain::Command;
use crate::input::accounts::OpenAccountRequest;
use crate::queries;
use crate::queries::accounts::{AccountFilter, AccountPage, AccountResponse};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", post(open_account).get(list_accounts))
        .route("/v1/accounts/{id}", get(get_account).patch(update_account))
        .route("/v1/accounts/{id}/stage", post(change_stage))
        .route("/v1/accounts/{id}/close", post(close_account))
}

/// Body of `PATCH /v1/accounts/{id}`: absent fields stay, `null` clears segment or manager.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    pub expected_version: Option<u64>,
    pub name: Option<String>,
    pub scope: Option<Scope>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Segment>)]
    pub segment: Option<Option<Segment>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub manager: Option<Option<String>>,
}

/// Tells an absent field (None) from an explicit null (Some(None)).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `POST /v1/accounts/{id}/stage`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeStageRequest {
    pub stage: Stage,
    pub reason: Option<String>,
    pub expected_version: Option<u64>,
}

/// Body of `POST /v1/accounts/{id}/close`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseAccountRequest {
    pub reason: Option<String>,
    pub expected_version: Option<u64>,
}

/// Query of `GET /v1/accounts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListAccountsQuery {
    /// Cursor: the last account_id of the previous page.
    pub after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<usize>,
    pub scope: Option<Scope>,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Only accounts in this tier on `as_of` (e.g. `key`, `unclassified`).
    pub tier: Option<String>,
    /// Business date of the tier filter (default today, UTC).
    pub as_of: Option<String>,
    pub known_at: Option<String>,
}

fn account_at(
    state: &AppState,
    account_id: &str,
    cutoff: Option<u64>,
) -> ApiResult<AccountResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    Ok(queries::accounts::account(&read, account_id, cutoff)?)
}

#[utoipa::path(post, path = "/v1/accounts", tag = "accounts", request_body = OpenAccountRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = AccountResponse), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn open_account(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<AccountResponse>)> {
    let (body, meta): (OpenAccountRequest, _) = json_write(
        &caller,
        Right::ManageAccounts,
        &headers,
        &method,
        "/v1/accounts",
        &raw,
    )?;
    let command = Command::OpenAccount(OpenAccount {
        account_id: body.account_id.clone(),
        name: body.name,
        scope: body.scope,
        segment: body.segment,
        manager: body.manager,
        currency: body.currency,
        stage: body.relationship_stage.unwrap_or(Stage::Exploratory),
    });
    let outcome = state.engine.submit(command, meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(account_at(&state, &body.account_id, outcome.last_position)?),
    ))
}

#[utoipa::path(get, path = "/v1/accounts", tag = "accounts", params(ListAccountsQuery),
    responses((status = 200, body = AccountPage), (status = 400, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_accounts(
    State(state): State<AppState>,
    caller: Caller,
    Today(today): Today,
    ApiQuery(query): ApiQuery<ListAccountsQuery>,
) -> ApiResult<Json<AccountPage>> {
    caller.require(Right::Read)?;
    let limit = page_limit(query.limit)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    if let Some(status) = query.status.as_deref() {
        if status != "open" && status != "closed" {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("unknown status \"{status}\"; expected open or closed"),
            ));
        }
    }
    let as_of = parse_day("as_of", query.as_of.as_deref(), today)?;
    let filter = AccountFilter {
        after: query.after.as_deref(),
        scope: query.scope,
        segment: query.segment,
        manager: query.manager.as_deref(),
        status: query.status.as_deref(),
        tier: query.tier.as_deref(),
    };
    let read = state.engine.read();
    let cutoff = read.cutoff(known_at)?;
    Ok(Json(queries::accounts::accounts_page(
        &read, &filter, as_of, cutoff, limit,
    )?))
}

#[utoipa::path(get, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path), KnownAtQuery),
    responses((status = 200, body = AccountResponse), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn get_account(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<KnownAtQuery>,
) -> ApiResult<Json<AccountResponse>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let cutoff = state.engine.read().cutoff(known_at)?;
    Ok(Json(account_at(&state, &id, Some(cutoff))?))
}

#[utoipa::path(patch, path = "/v1/accounts/{id}", tag = "accounts", params(("id" = String, Path)), request_body = UpdateAccountRequest,
    responses((status = 200, body = AccountResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn update_account(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<AccountResponse>> {
    let (body, meta): (UpdateAccountRequest, _) = json_write(
        &caller,
        Right::ManageAccounts,
        &headers,
        &method,
        &format!("/v1/accounts/{id}"),
        &raw,
    )?;
    let command = Command::UpdateAccount(UpdateAccount {
        account_id: id.clone(),
        expected_version: body.expected_version,
        name: body.name,
        scope: body.scope,
        segment: body.segment,
        manager: body.manager,
    });
    let outcome = state.engine.submit(command, meta).await?;
    Ok(Json(account_at(&state, &id, outcome.last_position)?))
}

#[utoipa::path(post, path = "/v1/accounts/{id}/stage", tag = "accounts", params(("id" = String, Path)), request_body = ChangeStageRequest,
    responses((status = 200, body = AccountResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn change_stage(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<AccountResponse>> {
    let (body, meta): (ChangeStageRequest, _) = json_write(
        &caller,
        Right::ManageAccounts,
        &headers,
        &method,
        &format!("/v1/accounts/{id}/stage"),
        &raw,
    )?;
    let command = Command::ChangeStage {
        account_id: id.clone(),
        stage: body.stage,
        reason: body.reason,
        expected_version: body.expected_version,
    };
    let outcome = state.engine.submit(command, meta).await?;
    Ok(Json(account_at(&state, &id, outcome.last_position)?))
}

#[utoipa::path(post, path = "/v1/accounts/{id}/close", tag = "accounts", params(("id" = String, Path)), request_body = CloseAccountRequest,
    responses((status = 200, body = AccountResponse), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn close_account(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<AccountResponse>> {
    let (body, meta): (CloseAccountRequest, _) = json_write(
        &caller,
        Right::ManageAccounts,
        &headers,
        &method,
        &format!("/v1/accounts/{id}/close"),
        &raw,
    )?;
    let command = Command::CloseAccount {
        account_id: id.clone(),
        reason: body.reason,
        expected_version: body.expected_version,
    };
    let outcome = state.engine.submit(command, meta).await?;
    Ok(Json(account_at(&state, &id, outcome.last_position)?))
}
