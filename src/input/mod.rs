//! The external input forms and their conversion into commands: the documented bodies of
//! the HTTP API's writes, which are also the records of the demo's fixture files, the
//! lines of JSONL imports and (by column name) the rows of CSV imports and `text/csv`
//! ingestion. One file per resource; each form converts into the domain's command input,
//! so the API, the demo and `kaledger import` accept the same things in the same words.
//!
//! A form that cannot be read at all is an [`InputError`]; what the rules refuse is left to
//! the domain's decisions. Imports the kernel, the domain and the rules only: never the
//! API, the command line, the engine, storage, HTTP or the async runtime.

pub mod accounts;
pub mod contests;
pub mod csv_rows;
pub mod discounts;
pub mod json;
pub mod programs;
pub mod sales;
pub mod seasons;
pub mod settlements;
pub mod tiers;

use crate::domain::limits::BATCH_LINES_MAX;

/// Why an input cannot be read as its form (before any rule looks at its values).
/// Displayed as its message followed by its code in brackets, as the command line prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not readable as its format at all (a JSON syntax error): the API answers 400.
    #[error("{message} ({code})")]
    Malformed { code: &'static str, message: String },
    /// Readable, but not of the form's shape (an unknown field or column, a wrong type, a
    /// missing field, an unreadable CSV row): 422.
    #[error("{message} ({code})")]
    Invalid { code: &'static str, message: String },
    /// More lines than one batch takes: 413.
    #[error("{message} ({code})")]
    TooLarge { code: &'static str, message: String },
}

impl InputError {
    /// An input that is not of its format.
    pub fn malformed(code: &'static str, message: impl Into<String>) -> InputError {
        InputError::Malformed {
            code,
            message: message.into(),
        }
    }

    /// An input that is not of its form's shape.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> InputError {
        InputError::Invalid {
            code,
            message: message.into(),
        }
    }

    /// `too_many_lines`: a batch cut off while it was read (its full length unknown).
    pub fn too_many_lines() -> InputError {
        InputError::TooLarge {
            code: "too_many_lines",
            message: format!("the batch has more than {BATCH_LINES_MAX} lines; at most {BATCH_LINES_MAX} are accepted per request, so split it into several requests"),
        }
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Malformed { code, .. }
            | InputError::Invalid { code, .. }
            | InputError::TooLarge { code, .. } => code,
        }
    }

    /// The human message (without the code).
    pub fn message(&self) -> &str {
        match self {
            InputError::Malformed { message, .. }
            | InputError::Invalid { message, .. }
            | InputError::TooLarge { message, .. } => message,
        }
    }
}
