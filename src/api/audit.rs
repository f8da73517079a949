//! The audit trail: envelopes with their chain links, the head, chain verification, and
//! the projections digest (to compare a live server with a rebuild from the log).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use super::{page_limit, parse_known_at, AppState};
use crate::domain::events::EVENT_TYPES;
use crate::ledger::envelope::{format_micros, hash_hex};
use crate::ledger::VerifyReport;
use crate::queries::audit::{self, AuditEvent, EventFilter, VerifyResponse};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/events", get(list_events))
        .route("/v1/audit/head", get(head))
        .route("/v1/audit/verify", get(verify))
        .route("/v1/audit/projections", get(projections))
}

/// Query of `GET /v1/audit/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// e.g. `account/KA-1`, `system`.
    pub stream: Option<String>,
    /// Event type, e.g. `SaleRecorded`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Cursor: return events after this position.
    pub after: Option<u64>,
    /// 1 to 1000, default 100.
    pub limit: Option<usize>,
    /// Only events recorded at or before this RFC 3339 instant.
    pub known_at: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    /// Pass as `after` for the next page; null when there is no more.
    pub next_after: Option<u64>,
}

#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", params(EventsQuery),
    responses((status = 200, body = EventPage), (status = 400, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<EventsQuery>,
) -> ApiResult<Json<EventPage>> {
    caller.require(Right::Read)?;
    let limit = page_limit(query.limit)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    if let Some(t) = query.event_type.as_deref() {
        if !EVENT_TYPES.contains(&t) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!(
                    "unknown event type \"{t}\"; expected one of {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
    }
    let filter = EventFilter {
        stream: query.stream.as_deref(),
        event_type: query.event_type.as_deref(),
        after: query.after.unwrap_or(0),
    };
    // Pick the positions under the lock, then read the envelopes without it (positions at
    // or below the cutoff never change).
    let positions = {
        let read = state.engine.read();
        audit::event_positions(&read, &filter, read.cutoff(known_at)?, limit)?
    };
    let mut events = Vec::with_capacity(limit + 1);
    for position in positions.positions() {
        let envelope = state.engine.store().envelope_at(position)?;
        if filter.event_type.is_some_and(|t| t != envelope.event_type) {
            continue;
        }
        events.push(AuditEvent::from_envelope(&envelope));
        if events.len() > limit {
            break;
        }
    }
    let next_after = super::next_page(&mut events, limit, |e| e.position);
    Ok(Json(EventPage { events, next_after }))
}

/// The last event of the log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeadResponse {
    pub position: u64,
    pub hash: String,
    pub recorded_at: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit/head", tag = "audit", responses((status = 200, body = HeadResponse)), security(("bearer" = [])))]
pub async fn head(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<HeadResponse>> {
    caller.require(Right::Read)?;
    let head = state.engine.read().head();
    Ok(Json(HeadResponse {
        position: head.position,
        hash: hash_hex(&head.hash),
        recorded_at: (head.position > 0).then(|| format_micros(head.recorded_at_micros)),
    }))
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", responses((status = 200, body = VerifyResponse)), security(("bearer" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<VerifyResponse>> {
    caller.require(Right::Read)?;
    let engine = state.engine.clone();
    // Verify what this server acknowledged: through the read model's head (sled may hold a
    // group whose flush failed until the store is reopened).
    let head = engine.read().head_position();
    let report = tokio::task::spawn_blocking(move || engine.store().verify_through(head))
        .await
        .map_err(ApiError::internal)??;
    let report = match report {
        VerifyReport::Ok {
            verified_through, ..
        } if verified_through < head => VerifyReport::Broken {
            first_bad_position: verified_through + 1,
            reason: format!(
                "position {} is missing (the log ends at {verified_through}, the server acknowledged {head})",
                verified_through + 1
            ),
            verified_through,
        },
        other => other,
    };
    Ok(Json(report.into()))
}

/// A digest of every read model at a position.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectionsResponse {
    pub through_position: u64,
    /// SHA-256 over the canonical dump of the read models; `kaledger rebuild` prints the
    /// same digest when the rebuild from the log equals the live state.
    pub digest: String,
}

#[utoipa::path(get, path = "/v1/audit/projections", tag = "audit", responses((status = 200, body = ProjectionsResponse)), security(("bearer" = [])))]
pub async fn projections(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<ProjectionsResponse>> {
    caller.require(Right::Read)?;
    let read = state.engine.read();
    Ok(Json(ProjectionsResponse {
        through_position: read.head_position(),
        digest: read.digest(),
    }))
}
