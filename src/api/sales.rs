//! Batch ingestion of sales and returns, as JSON `{"lines":[…]}` or `text/csv` with the
//! same column names. One request is one atomic command: any bad line refuses it all.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::ApiBytes;
use super::{write_meta, AppState};
use crate::domain::commands::{ReturnLineInput, SaleLineInput, BATCH_LINES_MAX};
use crate::domain::Command;
use crate::engine::WriteOutcome;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sales", post(post_sales))
        .route("/v1/returns", post(post_returns))
}

/// Column names of a sales CSV (and fields of a JSON sale line).
pub const SALE_COLUMNS: &[&str] = &[
    "account_id",
    "invoice_id",
    "line",
    "sku",
    "category",
    "quantity",
    "net_amount",
    "cost_amount",
    "currency",
    "occurred_on",
];
/// Column names of a returns CSV (and fields of a JSON return line).
pub const RETURN_COLUMNS: &[&str] = &[
    "account_id",
    "return_id",
    "invoice_id",
    "line",
    "quantity",
    "net_amount",
    "cost_amount",
    "occurred_on",
];

/// Accepts a JSON string or integer as text; a JSON float is refused because binary
/// floats cannot carry money exactly.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a string, an integer or null (write decimals as strings, e.g. \"12.50\")")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Text)
}

/// One sale line in JSON. Decimals are strings ("1234.50"); integers may be numbers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SaleLineJson {
    #[serde(default, deserialize_with = "text")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub invoice_id: Option<String>,
    /// Invoice line number, 1 or more.
    #[serde(default, deserialize_with = "text")]
    pub line: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub sku: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub category: Option<String>,
    /// Decimal > 0.
    #[serde(default, deserialize_with = "text")]
    pub quantity: Option<String>,
    /// Decimal ≥ 0 in the account's currency.
    #[serde(default, deserialize_with = "text")]
    pub net_amount: Option<String>,
    /// Decimal ≥ 0; absent means unknown cost (zero margin).
    #[serde(default, deserialize_with = "text")]
    pub cost_amount: Option<String>,
    /// Optional; must equal the account's currency.
    #[serde(default, deserialize_with = "text")]
    pub currency: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, deserialize_with = "text")]
    pub occurred_on: Option<String>,
}

impl From<SaleLineJson> for SaleLineInput {
    fn from(j: SaleLineJson) -> Self {
        SaleLineInput {
            account_id: j.account_id,
            invoice_id: j.invoice_id,
            line: j.line,
            sku: j.sku,
            category: j.category,
            quantity: j.quantity,
            net_amount: j.net_amount,
            cost_amount: j.cost_amount,
            currency: j.currency,
            occurred_on: j.occurred_on,
        }
    }
}

/// One return line in JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineJson {
    #[serde(default, deserialize_with = "text")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub return_id: Option<String>,
    /// The invoice of the sale being returned.
    #[serde(default, deserialize_with = "text")]
    pub invoice_id: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub line: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub quantity: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub net_amount: Option<String>,
    /// Absent: prorated from the sale's cost.
    #[serde(default, deserialize_with = "text")]
    pub cost_amount: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub occurred_on: Option<String>,
}

impl From<ReturnLineJson> for ReturnLineInput {
    fn from(j: ReturnLineJson) -> Self {
        ReturnLineInput {
            account_id: j.account_id,
            return_id: j.return_id,
            invoice_id: j.invoice_id,
            line: j.line,
            quantity: j.quantity,
            net_amount: j.net_amount,
            cost_amount: j.cost_amount,
            occurred_on: j.occurred_on,
        }
    }
}

/// `{"lines":[…]}` of sales.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SalesBatch {
    #[serde(deserialize_with = "super::extract::at_most_batch_lines")]
    pub lines: Vec<SaleLineJson>,
}

/// `{"lines":[…]}` of returns.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnsBatch {
    #[serde(deserialize_with = "super::extract::at_most_batch_lines")]
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

/// A CSV source whose header uses only known column names, each once; rows come out as
/// values in `columns` order (empty fields are absent).
pub struct CsvRows<R: std::io::Read> {
    reader: csv::Reader<R>,
    index_of: Vec<Option<usize>>,
    record: csv::StringRecord,
    row: usize,
}

impl<R: std::io::Read> CsvRows<R> {
    /// Reads and checks the header.
    pub fn new(source: R, columns: &[&str]) -> Result<CsvRows<R>, ApiError> {
        let mut reader = csv::ReaderBuilder::new()
            // Header names may be padded; values are taken as written (" 5" is refused).
            .trim(csv::Trim::Headers)
            .from_reader(source);
        let headers = reader
            .headers()
            .map_err(|e| {
                ApiError::unprocessable("malformed_csv", format!("unreadable CSV header: {e}"))
            })?
            .clone();
        let mut index_of = vec![None; columns.len()];
        for (i, name) in headers.iter().enumerate() {
            match columns.iter().position(|c| *c == name) {
                None => {
                    return Err(ApiError::unprocessable(
                        "unknown_column",
                        format!(
                            "unknown column \"{name}\"; expected some of {}",
                            columns.join(", ")
                        ),
                    ))
                }
                Some(c) if index_of[c].is_some() => {
                    return Err(ApiError::unprocessable(
                        "duplicate_column",
                        format!("column \"{name}\" appears twice"),
                    ))
                }
                Some(c) => index_of[c] = Some(i),
            }
        }
        Ok(CsvRows {
            reader,
            index_of,
            record: csv::StringRecord::new(),
            row: 0,
        })
    }

    /// The next row, or None at the end.
    pub fn next_row(&mut self) -> Result<Option<Vec<Option<String>>>, ApiError> {
        self.row += 1;
        let more = self.reader.read_record(&mut self.record).map_err(|e| {
            ApiError::unprocessable("malformed_csv", format!("CSV data row {}: {e}", self.row))
        })?;
        if !more {
            return Ok(None);
        }
        let record = &self.record;
        Ok(Some(
            self.index_of
                .iter()
                .map(|i| {
                    i.and_then(|i| record.get(i))
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                })
                .collect(),
        ))
    }

    /// Bytes read so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }
}

/// Reads a whole CSV body into rows of values in `columns` order; stops at data row
/// [`BATCH_LINES_MAX`] + 1 with 413 `too_many_lines` without reading the rest.
pub fn read_csv(bytes: &[u8], columns: &[&str]) -> Result<Vec<Vec<Option<String>>>, ApiError> {
    let mut rows = CsvRows::new(bytes, columns)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next_row()? {
        if out.len() == BATCH_LINES_MAX {
            return Err(super::extract::too_many_lines());
        }
        out.push(row);
    }
    Ok(out)
}

/// A sale line from a row in [`SALE_COLUMNS`] order.
pub fn sale_from_row(mut r: Vec<Option<String>>) -> SaleLineInput {
    let mut take = |i: usize| r[i].take();
    SaleLineInput {
        account_id: take(0),
        invoice_id: take(1),
        line: take(2),
        sku: take(3),
        category: take(4),
        quantity: take(5),
        net_amount: take(6),
        cost_amount: take(7),
        currency: take(8),
        occurred_on: take(9),
    }
}

/// A return line from a row in [`RETURN_COLUMNS`] order.
pub fn return_from_row(mut r: Vec<Option<String>>) -> ReturnLineInput {
    let mut take = |i: usize| r[i].take();
    ReturnLineInput {
        account_id: take(0),
        return_id: take(1),
        invoice_id: take(2),
        line: take(3),
        quantity: take(4),
        net_amount: take(5),
        cost_amount: take(6),
        occurred_on: take(7),
    }
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

pub use super::extract::parse_json;

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
    let (lines, canonical) = super::extract::off_runtime(body.len(), move || {
        let lines = match format {
            BodyFormat::Json => from_json(&body)?,
            BodyFormat::Csv => from_csv(&body)?,
        };
        let canonical = serde_json::to_vec(&lines).map_err(ApiError::internal)?;
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
