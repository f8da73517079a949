//! Token administration (admin only). The token is shown once, at creation.

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiBytes, ApiPath};
use super::{json_write, AppState};
use crate::domain::vocab::Role;
use crate::domain::Command;
use crate::kernel::token::new_token;
use crate::queries;
use crate::queries::tokens::{TokenList, TokenView};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/tokens", get(list_tokens).post(create_token))
        .route("/v1/tokens/{name}/revoke", post(revoke_token))
}

/// Body of `POST /v1/tokens`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    pub name: String,
    pub role: Role,
}

/// A new token: `token` is shown only here, never again (null on an idempotent replay).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    pub name: String,
    pub role: Role,
    pub token: Option<String>,
}

/// Body of `POST /v1/tokens/{name}/revoke`.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenRequest {
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 409, body = super::error::Problem), (status = 422, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let (body, meta): (CreateTokenRequest, _) = json_write(
        &caller,
        Right::ManageTokens,
        &headers,
        &method,
        "/v1/tokens",
        &raw,
    )?;
    let (token, token_sha256) = new_token().map_err(ApiError::internal)?;
    let outcome = state
        .engine
        .submit(
            Command::IssueToken {
                name: body.name.clone(),
                role: body.role,
                token_sha256,
            },
            meta,
        )
        .await?;
    let token = (!outcome.replayed).then_some(token);
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            name: body.name,
            role: body.role,
            token,
        }),
    ))
}

#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", responses((status = 200, body = TokenList)), security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<TokenList>> {
    caller.require(Right::ManageTokens)?;
    Ok(Json(queries::tokens::tokens(&state.engine.read())))
}

#[utoipa::path(post, path = "/v1/tokens/{name}/revoke", tag = "tokens", params(("name" = String, Path)), request_body = RevokeTokenRequest,
    responses((status = 200, body = TokenView), (status = 404, body = super::error::Problem), (status = 409, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(name): ApiPath<String>,
    ApiBytes(raw): ApiBytes,
) -> ApiResult<Json<TokenView>> {
    let (body, meta): (RevokeTokenRequest, _) = json_write(
        &caller,
        Right::ManageTokens,
        &headers,
        &method,
        &format!("/v1/tokens/{name}/revoke"),
        &raw,
    )?;
    state
        .engine
        .submit(
            Command::RevokeToken {
                name: name.clone(),
                reason: body.reason,
            },
            meta,
        )
        .await?;
    Ok(Json(queries::tokens::revoked(&state.engine.read(), &name)?))
}
