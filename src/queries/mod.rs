//! The read side: one function per question (an entitlement, a sales summary, accruals,
//! the liability report, a settlement's basis, standings, a plan, an audit page …), each
//! over one consistent read snapshot — the read model under one lock (`&ReadModel`), plus
//! the log for the event bodies — and the day the caller names as today. A query never
//! reads the clock, never takes a lock itself and never knows HTTP: it returns a typed
//! answer or a [`QueryError`], which `api/` renders as problem+json and `cli/` prints.

pub mod accounts;
pub mod accruals;
pub mod audit;
pub mod contests;
pub mod discounts;
pub mod entitlements;
pub mod liability;
pub mod pareto;
pub mod policy;
pub mod programs;
pub mod sales;
pub mod seasons;
pub mod settlements;
pub mod tokens;

use crate::domain::FieldError;
use crate::ledger::LedgerError;
use crate::projections::{AccountView, ReadModel};

/// Why a query has no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The thing asked about does not exist (as known at the cutoff): 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The question cannot be answered as asked (a period outside a program, a figure
    /// beyond decimal arithmetic): 422.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// The question's own inputs are refused, every bad field listed (rendered as the
    /// domain's `validation_failed`): 422.
    #[error("the request is invalid: {} field error(s)", .0.len())]
    Invalid(Vec<FieldError>),
    /// The read models contradict each other (a bug, never the caller's doing): 500.
    #[error("{0}")]
    Inconsistent(String),
    /// The log could not be read: 500.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl QueryError {
    /// A 404 answer.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> QueryError {
        QueryError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// A 422 answer.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> QueryError {
        QueryError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// `overflow`: a figure beyond decimal arithmetic. The named limits (`domain::limits`)
    /// make it impossible for accepted inputs, so only a ledger written before them can
    /// answer this, and never with a panic.
    pub fn overflow(what: &str) -> QueryError {
        QueryError::unprocessable(
            "overflow",
            format!(
                "{what} overflows decimal arithmetic; the ledger holds values beyond the named limits"
            ),
        )
    }
}

/// Cuts a page fetched with one item more than `limit`, and returns the cursor of the next
/// page (the last item's key) when there is one.
pub fn next_page<T, K>(items: &mut Vec<T>, limit: usize, key: impl Fn(&T) -> K) -> Option<K> {
    if items.len() > limit {
        items.truncate(limit);
        items.last().map(key)
    } else {
        None
    }
}

/// The account as known at `cutoff`, or 404 `account_not_found`.
pub fn account_known(
    read: &ReadModel,
    account_id: &str,
    cutoff: u64,
) -> Result<AccountView, QueryError> {
    read.account_at(account_id, cutoff)?.ok_or_else(|| {
        QueryError::not_found(
            "account_not_found",
            format!("account \"{account_id}\" does not exist"),
        )
    })
}
