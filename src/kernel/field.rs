//! One problem with one field: the unit of every 422 answer, shared by the rules and the
//! domain.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field, of one line when the command carries lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Zero-based index of the line in the request; absent for single-object commands.
    pub index: Option<usize>,
    pub field: String,
    /// Stable machine-readable code, e.g. `currency_mismatch`.
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(index: Option<usize>, field: &str, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            index,
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        }
    }
}
