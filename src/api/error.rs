//! problem+json (RFC 9457) for every error, with a stable `code`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{DomainError, FieldError};
use crate::engine::EngineError;
use crate::input::InputError;
use crate::ledger::LedgerError;
use crate::queries::QueryError;

/// The problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `urn:kaledger:error:CODE`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code.
    pub code: String,
    /// Per-field (and per-line) details.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Extra facts of some refusals (e.g. the versions of a conflict).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Value>,
}

/// An error answered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    detail: String,
    errors: Vec<FieldError>,
    context: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with a status, a stable code and a human detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            detail: detail.into(),
            errors: Vec::new(),
            context: None,
        }
    }

    /// Adds per-field details.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> ApiError {
        self.errors = errors;
        self
    }

    /// Adds extra facts.
    pub fn with_context(mut self, context: serde_json::Value) -> ApiError {
        self.context = Some(context);
        self
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unprocessable(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn not_found(code: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, detail)
    }

    /// 500 with nothing of the cause in the body; the cause goes to the log.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }

    /// The stable code (for tests and logs).
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> ApiError {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
        let context = match &e {
            DomainError::DiscountExceedsEntitlement {
                tier,
                ceiling,
                percent,
                on,
            } => Some(
                serde_json::json!({"tier": tier, "ceiling_pct": ceiling, "percent": percent, "on": on}),
            ),
            DomainError::VersionConflict {
                stream,
                expected,
                actual,
            } => Some(
                serde_json::json!({"stream": stream, "expected_version": expected, "actual_version": actual}),
            ),
            DomainError::SettledPeriodAfterEnd {
                program_id,
                period,
                period_end,
            } => Some(
                serde_json::json!({"program_id": program_id, "period": period, "period_end": period_end}),
            ),
            _ => None,
        };
        ApiError {
            status,
            code: e.code().to_string(),
            detail: e.to_string(),
            errors: e.field_errors().to_vec(),
            context,
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> ApiError {
        match e {
            LedgerError::Storage(_)
            | LedgerError::Io { .. }
            | LedgerError::WriterStopped
            | LedgerError::Closed
            | LedgerError::Locked { .. } => {
                tracing::error!(error = %e, "storage unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the ledger cannot reach its storage; retry later",
                )
            }
            LedgerError::Corrupt { .. } => ApiError::internal(e),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> ApiError {
        match e {
            QueryError::NotFound { code, message } => ApiError::not_found(code, message),
            QueryError::Unprocessable { code, message } => ApiError::unprocessable(code, message),
            QueryError::Invalid(errors) => DomainError::Validation(errors).into(),
            QueryError::Inconsistent(cause) => ApiError::internal(cause),
            QueryError::Ledger(e) => e.into(),
        }
    }
}

impl From<InputError> for ApiError {
    fn from(e: InputError) -> ApiError {
        match e {
            InputError::Malformed { code, message } => ApiError::bad_request(code, message),
            InputError::Invalid { code, message } => ApiError::unprocessable(code, message),
            InputError::TooLarge { code, message } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
            }
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::Domain(d) => d.into(),
            EngineError::IdempotencyKeyReused(_) => {
                ApiError::unprocessable("idempotency_key_reused", e.to_string())
            }
            EngineError::Unavailable(cause) => {
                tracing::error!(error = %cause, "write not durable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "the write could not be made durable; nothing was recorded; retry later",
                )
            }
        }
    }
}

impl ApiError {
    /// The problem+json document of this error, serialized: the one place its shape is
    /// written (also for the raw refusal of a connection beyond the limit).
    pub fn problem_json(&self) -> Vec<u8> {
        let problem = Problem {
            type_uri: format!("urn:kaledger:error:{}", self.code),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.clone(),
            errors: self.errors.clone(),
            context: self.context.clone(),
        };
        serde_json::to_vec(&problem).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.problem_json();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.code)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// The per-field details.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }
}
