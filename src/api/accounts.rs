//! Key accounts: open, list, read, update, relationship stage, close.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath, ApiQuery};
use super::KnownAtQuery;
use super::{json_write, page_limit, parse_known_at, AppState};
use crate::domain::commands::{OpenAccount, UpdateAccount};
use crate::domain::events::account_stream;
use crate::domain::vocab::{Scope, Segment, Stage};
use crate::domain::Command;
use crate::input::accounts::OpenAccountRequest;
use crate::projections::AccountView;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", post(open_account).get(list_accounts))
        .route("/v1/accounts/{id}", get(get_account).patch(update_account))
        .route("/v1/accounts/{id}/stage", post(change_stage))
        .route("/v1/accounts/{id}/close", post(close_account))
}

/// An account with its stream version (for `expected_version`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountResponse {
    #[serde(flatten)]
    pub account: AccountView,
    /// Number of events in the account's stream; send it back as `expected_version`.
    pub version: u64,
    /// The account's tier on `as_of` (only when the list is filtered by tier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
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

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPage {
    pub accounts: Vec<AccountResponse>,
    /// Pass as `after` for the next page; null on the last page.
    pub next_after: Option<String>,
}

fn account_at(
    state: &AppState,
    account_id: &str,
    cutoff: Option<u64>,
) -> ApiResult<AccountResponse> {
    let read = state.engine.read();
    let cutoff = cutoff.unwrap_or_else(|| read.head_position());
    let account = read.accounts.get(account_id, cutoff).ok_or_else(|| {
        ApiError::not_found(
            "account_not_found",
            format!("account \"{account_id}\" does not exist"),
        )
    })?;
    let version = read.stream_version_at(&account_stream(account_id), cutoff);
    Ok(AccountResponse {
        account,
        version,
        tier: None,
    })
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
    let as_of = super::tiers::parse_day("as_of", query.as_of.as_deref())?;
    let (cutoff, head) = {
        let read = state.engine.read();
        (read.cutoff(known_at), read.head_position())
    };
    // Tiers as known at an earlier instant need each account's sales rebuilt from the log.
    let rebuilt: std::collections::HashMap<String, crate::domain::daily::DailySales> =
        match (&query.tier, cutoff < head) {
            (Some(_), true) => {
                let ids: Vec<String> = state
                    .engine
                    .read()
                    .accounts
                    .list(query.after.as_deref(), cutoff)
                    .map(|a| a.account_id)
                    .collect();
                let mut rebuilt = std::collections::HashMap::new();
                for id in ids {
                    let daily = super::tiers::daily_at(&state, &id, cutoff)?;
                    rebuilt.insert(id, daily);
                }
                rebuilt
            }
            _ => std::collections::HashMap::new(),
        };
    let read = state.engine.read();
    let tier_of = |account: &crate::projections::AccountView| {
        let daily = rebuilt
            .get(&account.account_id)
            .or_else(|| read.daily(&account.account_id));
        read.incentives
            .entitlement(
                &account.account_id,
                as_of,
                cutoff,
                daily,
                account.relationship_stage,
            )
            .tier
    };
    let mut accounts: Vec<AccountResponse> = read
        .accounts
        .list(query.after.as_deref(), cutoff)
        .filter(|a| query.scope.is_none_or(|s| a.scope == s))
        .filter(|a| query.segment.is_none_or(|s| a.segment == Some(s)))
        .filter(|a| {
            query
                .manager
                .as_deref()
                .is_none_or(|m| a.manager.as_deref() == Some(m))
        })
        .filter(|a| query.status.as_deref().is_none_or(|s| a.status == s))
        .filter_map(|account| match &query.tier {
            None => Some((account, None)),
            Some(wanted) => {
                let tier = tier_of(&account);
                (&tier == wanted).then_some((account, Some(tier)))
            }
        })
        .take(limit + 1)
        .map(|(account, tier)| {
            let version = read.stream_version_at(&account_stream(&account.account_id), cutoff);
            AccountResponse {
                account,
                version,
                tier,
            }
        })
        .collect();
    let next_after = super::next_page(&mut accounts, limit, |a| a.account.account_id.clone());
    Ok(Json(AccountPage {
        accounts,
        next_after,
    }))
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
    let cutoff = state.engine.read().cutoff(known_at);
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
