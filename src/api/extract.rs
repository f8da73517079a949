//! Extractors whose rejections are problem+json like every other error.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Maps body-reading failures; an over-long body is a 413 `body_too_large`.
pub fn bytes_rejection(rejection: BytesRejection) -> ApiError {
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
    parse_json(body)
}

/// An empty (or blank) body means `{}`, for the writes whose fields are all optional.
pub fn or_empty_object(raw: &[u8]) -> &[u8] {
    if raw.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        raw
    }
}

/// Parses JSON bytes: a syntax error is a 400 `malformed_json`, a body of the wrong shape
/// (unknown field, wrong type, missing field) a 422 `invalid_body`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::unprocessable("invalid_body", e.to_string()),
        _ => ApiError::bad_request("malformed_json", e.to_string()),
    })
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
