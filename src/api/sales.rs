//! Batch ingestion of sales and returns, as JSON `{"lines":[…]}` or `text/csv` with the
//! same column names. One request is one atomic command: any bad line refuses it all.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::ApiBytes;
use super::{canonical_for_retry, is_retry_keyed, write_meta, AppState};
use crate::domain::commands::{ReturnLineInput, SaleLineInput};
use crate::domain::limits::BATCH_LINES_MAX;
use crate::domain::Command;
use crate::engine::WriteOutcome;
use crate::input::csv_rows::CsvRows;
use crate::input::json::parse_json;
use crate::input::sales::{
    return_from_row, sale_from_row, ReturnLineJson, SaleLineJson, RETURN_COLUMNS, SALE_COLUMNS,
};
use crate::input::InputError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sales", post(post_sales))
        .route("/v1/returns", post(post_returns))
}

/// `{"lines":[…]}` of sales.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesBatch {
    #[serde(deserialize_with = "crate::input::json::at_most_batch_lines")]
    pub lines: Vec<SaleLineJson>,
}

/// `{"lines":[…]}` of returns.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnsBatch {
    #[serde(deserialize_with = "crate::input::json::at_most_batch_lines")]
    pub lines: Vec<ReturnLineJson>,
}

/// What an ingestion did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// Lines recorded as new events.
    pub recorded: u64,
    /// Lines identical to ones already recorded (no event).
    pub duplicates: u64,
    pub first_position: Option<u64>,
    pub last_position: Option<u64>,
}

/// Reads a whole CSV body into rows of values in `columns` order; stops at data row
/// [`BATCH_LINES_MAX`] + 1 with 413 `too_many_lines` without reading the rest.
pub fn read_csv(bytes: &[u8], columns: &[&str]) -> Result<Vec<Vec<Option<String>>>, ApiError> {
    let mut rows = CsvRows::new(bytes, columns)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next_row()? {
        if out.len() == BATCH_LINES_MAX {
            return Err(InputError::too_many_lines().into());
        }
        out.push(row);
    }
    Ok(out)
}

/// Sale lines from a CSV body.
pub fn sales_from_csv(bytes: &[u8]) -> Result<Vec<SaleLineInput>, ApiError> {
    Ok(read_csv(bytes, SALE_COLUMNS)?
        .into_iter()
        .map(sale_from_row)
        .collect())
}

/// Return lines from a CSV body.
pub fn returns_from_csv(bytes: &[u8]) -> Result<Vec<ReturnLineInput>, ApiError> {
    Ok(read_csv(bytes, RETURN_COLUMNS)?
        .into_iter()
        .map(return_from_row)
        .collect())
}

/// Which body format the request declares.
enum BodyFormat {
    Json,
    Csv,
}

fn body_format(headers: &HeaderMap) -> Result<BodyFormat, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "text/csv" => Ok(BodyFormat::Csv),
        other => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content type \"{other}\" is not accepted; send application/json or text/csv"),
        )),
    }
}

fn ingest_response(outcome: WriteOutcome) -> Response {
    let status = if outcome.recorded > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let replayed = outcome.replayed;
    let body = IngestResponse {
        recorded: outcome.recorded,
        duplicates: outcome.duplicates,
        first_position: outcome.first_position,
        last_position: outcome.last_position,
    };
    let mut response = (status, Json(body)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

#[utoipa::path(post, path = "/v1/sales", tag = "sales",
    request_body(content((SalesBatch = "application/json"), (String = "text/csv")), description = "JSON {\"lines\":[…]} or CSV with the same column names; at most 10,000 lines"),
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = IngestResponse, description = "lines recorded"), (status = 200, body = IngestResponse, description = "every line was a duplicate"),
        (status = 409, body = super::error::Problem), (status = 413, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn post_sales(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let json = |b: &[u8]| {
        Ok(parse_json::<SalesBatch>(b)?
            .lines
            .into_iter()
            .map(Into::into)
            .collect())
    };
    ingest(
        &state,
        &caller,
        &method,
        &headers,
        body,
        "/v1/sales",
        json,
        sales_from_csv,
        |lines| Command::RecordSales { lines },
    )
    .await
}

/// The shared body of both ingestion endpoints: right, format, lines, durable command.
/// Parsing a large body runs on the blocking pool (see [`super::extract::off_runtime`]).
#[allow(clippy::too_many_arguments)]
async fn ingest<L: Serialize + Send + 'static>(
    state: &AppState,
    caller: &Caller,
    method: &Method,
    headers: &HeaderMap,
    body: Bytes,
    path: &str,
    from_json: impl Fn(&[u8]) -> Result<Vec<L>, ApiError> + Send + 'static,
    from_csv: impl Fn(&[u8]) -> Result<Vec<L>, ApiError> + Send + 'static,
    command: impl Fn(Vec<L>) -> Command,
) -> ApiResult<Response> {
    caller.require(Right::Ingest)?;
    let format = body_format(headers)?;
    let keyed = is_retry_keyed(headers);
    let (lines, canonical) = super::extract::off_runtime(body.len(), move || {
        let lines = match format {
            BodyFormat::Json => from_json(&body)?,
            BodyFormat::Csv => from_csv(&body)?,
        };
        let canonical = canonical_for_retry(keyed, &lines)?;
        Ok((lines, canonical))
    })
    .await?;
    let meta = write_meta(caller, headers, method, path, &canonical)?;
    let outcome = state.engine.submit(command(lines), meta).await?;
    Ok(ingest_response(outcome))
}

#[utoipa::path(post, path = "/v1/returns", tag = "sales",
    request_body(content((ReturnsBatch = "application/json"), (String = "text/csv")), description = "JSON {\"lines\":[…]} or CSV with the same column names; at most 10,000 lines"),
    params(("Idempotency-Key" = Option<String>, Header, description = "retry safely")),
    responses((status = 201, body = IngestResponse), (status = 200, body = IngestResponse, description = "every line was a duplicate"),
        (status = 409, body = super::error::Problem), (status = 413, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn post_returns(
    State(state): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let json = |b: &[u8]| {
        Ok(parse_json::<ReturnsBatch>(b)?
            .lines
            .into_iter()
            .map(Into::into)
            .collect())
    };
    ingest(
        &state,
        &caller,
        &method,
        &headers,
        body,
        "/v1/returns",
        json,
        returns_from_csv,
        |lines| Command::RecordReturns { lines },
    )
    .await
}
