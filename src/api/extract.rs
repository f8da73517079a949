//! Extractors whose rejections are problem+json like every other error.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::{self, DeserializeOwned, SeqAccess, Visitor};
use serde::Deserializer;

use crate::domain::limits::BATCH_LINES_MAX;
use crate::input::json::parse_json;

use super::error::ApiError;

/// Maps body-reading failures; an over-long body is a 413 `body_too_large`, a body that
/// missed its deadline (`transport::BodyTimeout`) a 408 `body_timeout`.
pub fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&rejection);
    while let Some(error) = cause {
        if let Some(timeout) = error.downcast_ref::<super::transport::BodyTimeout>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                timeout.to_string(),
            );
        }
        cause = error.source();
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {} bytes", super::BODY_BYTES_MAX),
        )
    } else {
        ApiError::bad_request("unreadable_body", rejection.body_text())
    }
}

/// The raw body, with the same limit handling.
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(bytes_rejection)
    }
}

/// Parses a JSON body that was read as bytes, after the caller's rights were checked (so a
/// role without the right gets 403 whatever it sent). A declared content type other than
/// JSON is a 415; a missing one is taken as JSON.
pub fn json_body<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    if let Some(content_type) = headers.get(axum::http::header::CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("content type \"{essence}\" is not accepted; send application/json"),
            ));
        }
    }
    if body.len() > PARSE_INLINE_BYTES_MAX {
        check_array_lengths(body)?;
    }
    Ok(parse_json(body)?)
}

/// Most elements any array of a JSON write body may hold: twice the batch limit (so a batch
/// just over it is refused by its own reader with `too_many_lines`), far above every
/// definition's own limit (32 rebate tiers, 100 prizes, 500 season products), so those
/// still answer with their own codes while a body of millions of tiny elements cannot
/// make the typed parse allocate millions of structs.
pub const BODY_ARRAY_ITEMS_MAX: usize = 2 * BATCH_LINES_MAX;

/// Walks a JSON body without keeping anything and refuses it with 413 `too_many_items` as
/// soon as one array passes [`BODY_ARRAY_ITEMS_MAX`] (syntax errors are left to
/// [`parse_json`]). Only bodies larger than [`PARSE_INLINE_BYTES_MAX`] need it: a smaller
/// one cannot hold enough elements to matter.
fn check_array_lengths(body: &[u8]) -> Result<(), ApiError> {
    use serde::de::DeserializeSeed;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match BoundedValue.deserialize(&mut deserializer) {
        Err(e) if e.to_string().starts_with(TOO_MANY_ITEMS_MARK) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_items",
            format!("an array in the body has more than {BODY_ARRAY_ITEMS_MAX} elements; no request takes that many"),
        )),
        _ => Ok(()),
    }
}

/// Start of the serde error of [`BoundedValue`], mapped to 413 by [`check_array_lengths`].
const TOO_MANY_ITEMS_MARK: &str = "too_many_items:";

/// Any JSON value, visited without being stored, whose arrays are counted.
struct BoundedValue;

impl<'de> serde::de::DeserializeSeed<'de> for BoundedValue {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for BoundedValue {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut count = 0usize;
        while seq.next_element_seed(BoundedValue)?.is_some() {
            count += 1;
            if count > BODY_ARRAY_ITEMS_MAX {
                return Err(de::Error::custom(format!(
                    "{TOO_MANY_ITEMS_MARK} more than {BODY_ARRAY_ITEMS_MAX} elements"
                )));
            }
        }
        Ok(())
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<de::IgnoredAny>()?.is_some() {
            map.next_value_seed(BoundedValue)?;
        }
        Ok(())
    }
}

/// Bodies up to this size are parsed on the async worker that received them; larger ones
/// (up to [`super::BODY_BYTES_MAX`], tens of milliseconds of parsing) go to the blocking
/// pool, so a few large batches arriving at once cannot hold every worker and stall
/// cheap requests such as `/healthz`.
pub const PARSE_INLINE_BYTES_MAX: usize = 64 * 1024;

/// Runs a parse of a body of `len` bytes: inline when small, on the blocking pool when larger
/// than [`PARSE_INLINE_BYTES_MAX`].
pub async fn off_runtime<T: Send + 'static>(
    len: usize,
    parse: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if len <= PARSE_INLINE_BYTES_MAX {
        return parse();
    }
    tokio::task::spawn_blocking(parse)
        .await
        .map_err(ApiError::internal)?
}

/// An empty (or blank) body means `{}`, for the writes whose fields are all optional.
pub fn or_empty_object(raw: &[u8]) -> &[u8] {
    if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    }
}

/// Query parameters; a bad one is a 400 `invalid_query`.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::bad_request("invalid_query", e.body_text()))
    }
}

/// Path parameters; a bad one is a 400 `invalid_path`.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// The business day (UTC) of a request: the one reading of the wall clock a request makes,
/// passed down to every query and command that needs "today" (no rule reads the clock).
#[derive(Debug, Clone, Copy)]
pub struct Today(pub chrono::NaiveDate);

impl<S: Send + Sync> FromRequestParts<S> for Today {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Today(chrono::Utc::now().date_naive()))
    }
}

/// Parses an optional `YYYY-MM-DD` query date named `name`; `today` when absent.
pub fn parse_day(
    name: &str,
    text: Option<&str>,
    today: chrono::NaiveDate,
) -> Result<chrono::NaiveDate, ApiError> {
    match text {
        None => Ok(today),
        Some(t) => crate::kernel::date::parse_date(t).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_query",
                format!("{name} \"{t}\" is not a date; expected YYYY-MM-DD"),
            )
        }),
    }
}

/// Parses a `2026`, `2026-Q2` or `2026-05` period (400 `invalid_period`).
pub fn parse_period(text: &str) -> Result<crate::rules::calendar::Period, ApiError> {
    text.parse()
        .map_err(|e: String| ApiError::bad_request("invalid_period", e))
}
