//! The HTTP API (DESIGN §6): one file per resource, each with `router()`; this file merges
//! them and adds the shared plumbing (body limit, request ids, metrics, tracing, 404s).

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod contests;
pub mod discounts;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod programs;
pub mod rebates;
pub mod reports;
pub mod sales;
pub mod seasons;
pub mod server;
pub mod settlements;
pub mod system;
pub mod tiers;
pub mod tokens;
pub mod transport;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::engine::{Engine, WriteMeta};
pub use crate::queries::next_page;
use auth::Caller;
use error::ApiError;

/// Largest request body: a full 10,000-line batch as JSON is about 3 MB; twice that with
/// room to spare, and far below anything that could hurt the server.
pub const BODY_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Largest page of a list.
pub const PAGE_LIMIT_MAX: usize = 1000;
/// Page size when the caller gives none.
pub const PAGE_LIMIT_DEFAULT: usize = 100;
/// Longest accepted `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_LENGTH_MAX: usize = 255;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The header that makes a write safe to retry.
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The whole API.
pub fn router(engine: Arc<Engine>) -> Router {
    let state = AppState { engine };
    Router::new()
        .merge(accounts::router())
        .merge(sales::router())
        .merge(audit::router())
        .merge(tokens::router())
        .merge(tiers::router())
        .merge(discounts::router())
        .merge(reports::router())
        .merge(programs::router())
        .merge(rebates::router())
        .merge(settlements::router())
        .merge(contests::router())
        .merge(seasons::router())
        .merge(system::router())
        .merge(admin::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            record_metrics,
        ))
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint; see /v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}

/// The `method` label: a standard method by name, anything else `other`, so callers cannot
/// add label values (each one is a series kept forever).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts requests by method label, route template (`unmatched` for unknown paths: never
/// the raw path) and status.
async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    let metrics = state.engine.metrics();
    metrics
        .http_requests
        .with_label_values(&[method, &route, response.status().as_str()])
        .inc();
    metrics
        .http_seconds
        .with_label_values(&[method, &route])
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Builds the write metadata of a request: the actor, the `Idempotency-Key` (validated),
/// the request id, and a fingerprint of what was asked (method, path, canonical body).
pub fn write_meta(
    caller: &Caller,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    canonical_body: &[u8],
) -> Result<WriteMeta, ApiError> {
    let key = match headers.get(&IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => {
            let key = v.to_str().ok().map(str::trim).filter(|k| {
                !k.is_empty()
                    && k.len() <= IDEMPOTENCY_KEY_LENGTH_MAX
                    && k.bytes().all(|b| b.is_ascii_graphic())
            });
            match key {
                Some(k) => Some(k.to_string()),
                None => {
                    return Err(ApiError::bad_request(
                        "invalid_idempotency_key",
                        format!("Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LENGTH_MAX} visible ASCII characters"),
                    ))
                }
            }
        }
    };
    let request_id = headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok(WriteMeta::new(
        caller.actor(),
        key,
        &[method.as_str().as_bytes(), path.as_bytes(), canonical_body],
        request_id,
    ))
}

/// True when the request carries an Idempotency-Key: only then is its fingerprint compared
/// (with a retry's), so only then is the canonical body worth serializing.
pub fn is_retry_keyed(headers: &HeaderMap) -> bool {
    headers.contains_key(&IDEMPOTENCY_KEY)
}

/// The canonical form of a write's body for its fingerprint; empty when the request is not
/// [`is_retry_keyed`] (the fingerprint then covers the method and path alone, and nothing
/// reads it).
pub fn canonical_for_retry<T: serde::Serialize>(
    keyed: bool,
    body: &T,
) -> Result<Vec<u8>, ApiError> {
    if keyed {
        serde_json::to_vec(body).map_err(ApiError::internal)
    } else {
        Ok(Vec::new())
    }
}

/// The shared start of a JSON write: the caller's right first (a role without it gets 403
/// whatever it sent), then the body, then the write metadata with the body's canonical
/// form as the fingerprint (so whitespace does not make a retry look different).
pub fn json_write<T: serde::de::DeserializeOwned + serde::Serialize>(
    caller: &Caller,
    right: auth::Right,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    raw: &[u8],
) -> Result<(T, WriteMeta), ApiError> {
    caller.require(right)?;
    let body: T = extract::json_body(headers, raw)?;
    let canonical = canonical_for_retry(is_retry_keyed(headers), &body)?;
    let meta = write_meta(caller, headers, method, path, &canonical)?;
    Ok((body, meta))
}

/// Query of the reads that answer as of a log prefix.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KnownAtQuery {
    /// RFC 3339 instant: answer as the ledger stood then.
    pub known_at: Option<String>,
}

/// Query of the cursor-paginated lists (programs, contests, seasons).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The id after which the page starts (the previous page's `next_after`).
    pub after: Option<String>,
    /// 1 to 1000 (default 100).
    pub limit: Option<usize>,
    /// RFC 3339 instant: answer as the ledger stood then.
    pub known_at: Option<String>,
}

/// Parses an optional RFC 3339 `known_at` into microseconds since the epoch.
pub fn parse_known_at(known_at: Option<&str>) -> Result<Option<i64>, ApiError> {
    match known_at {
        None => Ok(None),
        Some(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map(|t| Some(t.timestamp_micros()))
            .map_err(|_| ApiError::bad_request("invalid_known_at", format!("known_at \"{text}\" is not an RFC 3339 instant such as 2026-05-01T08:00:00Z"))),
    }
}

/// Checks a page limit.
pub fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit.unwrap_or(PAGE_LIMIT_DEFAULT) {
        0 => Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be at least 1",
        )),
        n if n > PAGE_LIMIT_MAX => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be at most {PAGE_LIMIT_MAX}"),
        )),
        n => Ok(n),
    }
}
