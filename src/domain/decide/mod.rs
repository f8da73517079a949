//! `decide(state, command) -> events`: every business rule of the ledger's write side.
//! Pure: no IO, no clock, no storage. A refusal writes nothing.
//!
//! One module per aggregate; this one routes a command to its aggregate and holds only
//! what several aggregates share.
//!
//! - `accounts`: open, update, change stage, close.
//! - `sales`: sale and return lines in batches (validation, dedupe, returns ≤ sale).
//! - `tokens`: issue and revoke API tokens.
//! - `incentives`: tier policies, tier overrides, discounts.
//! - `programs`: rebate programs and enrollments.
//! - `settlements`: propose, approve, reject.
//! - `contests`: define, close, mark an award paid.
//! - `seasons`: declare, revise capacity, request, withdraw, commit.

pub mod accounts;
pub mod contests;
pub mod incentives;
pub mod programs;
pub mod sales;
pub mod seasons;
pub mod settlements;
pub mod tokens;

use crate::domain::commands::Command;
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::{account_stream, Event};
use crate::domain::limits::BATCH_LINES_MAX;
use crate::domain::state::{AccountFacts, LedgerState};
use crate::kernel::limits::TEXT_LENGTH_MAX;

/// The events a command produced, and how many of its lines were identical repeats.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub events: Vec<Event>,
    pub duplicates: usize,
}

impl Decision {
    /// A decision without repeated lines.
    fn events(events: Vec<Event>) -> Decision {
        Decision {
            events,
            duplicates: 0,
        }
    }
}

/// Decides a command against the state: routes it to the decisions of its aggregate.
pub fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    use Command as C;
    match command {
        C::OpenAccount(_)
        | C::UpdateAccount(_)
        | C::ChangeStage { .. }
        | C::CloseAccount { .. } => accounts::decide(state, command),
        C::RecordSales { lines } => sales::record_sales(state, lines),
        C::RecordReturns { lines } => sales::record_returns(state, lines),
        C::IssueToken { .. } | C::RevokeToken { .. } => tokens::decide(state, command),
        C::PublishTierPolicy { .. }
        | C::GrantTierOverride { .. }
        | C::RevokeTierOverride { .. }
        | C::GrantDiscount(_)
        | C::RevokeDiscount { .. } => incentives::decide(state, command),
        C::DefineProgram(_) | C::EndProgram { .. } | C::Enroll { .. } | C::Unenroll { .. } => {
            programs::decide(state, command)
        }
        C::ProposeSettlement(_) | C::ApproveSettlement { .. } | C::RejectSettlement { .. } => {
            settlements::decide(state, command)
        }
        C::DefineContest(_) | C::CloseContest { .. } | C::MarkAwardPaid { .. } => {
            contests::decide(state, command)
        }
        C::DeclareSeason(_)
        | C::ReviseCapacity { .. }
        | C::RequestAllocation { .. }
        | C::WithdrawRequest { .. }
        | C::CommitAllocation { .. } => seasons::decide(state, command),
    }
}

/// The refusal of an aggregate's `decide` for a command [`decide`] routes elsewhere: a bug
/// in the routing, never an input problem.
fn misrouted(aggregate: &str, command: &Command) -> ! {
    unreachable!("decide routed a non-{aggregate} command to {aggregate}: {command:?}")
}

/// A refusal naming one field.
fn invalid(field: &str, code: &str, message: impl Into<String>) -> DomainError {
    DomainError::Validation(vec![FieldError::new(None, field, code, message)])
}

/// An optional free text: `invalid_text` for a control or bidi character, `too_long` above
/// [`TEXT_LENGTH_MAX`] characters.
pub(crate) fn check_text(
    index: Option<usize>,
    field: &str,
    text: Option<&str>,
) -> Result<(), DomainError> {
    if let Some(t) = text {
        crate::domain::text::refuse_chars(index, field, t)?;
        if t.chars().count() > TEXT_LENGTH_MAX {
            return Err(DomainError::Validation(vec![FieldError::new(
                index,
                field,
                "too_long",
                format!("at most {TEXT_LENGTH_MAX} characters"),
            )]));
        }
    }
    Ok(())
}

/// `empty_batch` for no lines, `too_many_lines` above [`BATCH_LINES_MAX`].
fn check_batch_size(count: usize) -> Result<(), DomainError> {
    if count == 0 {
        return Err(DomainError::EmptyBatch);
    }
    if count > BATCH_LINES_MAX {
        return Err(DomainError::TooManyLines {
            count,
            max: BATCH_LINES_MAX,
        });
    }
    Ok(())
}

fn check_expected_version(
    state: &LedgerState,
    stream: &str,
    expected: Option<u64>,
) -> Result<(), DomainError> {
    let actual = state.stream_version(stream);
    match expected {
        Some(expected) if expected != actual => Err(DomainError::VersionConflict {
            stream: stream.to_string(),
            expected,
            actual,
        }),
        _ => Ok(()),
    }
}

/// The facts of an existing, open account, after the optional version check.
fn open_account_facts<'s>(
    state: &'s LedgerState,
    account_id: &str,
    expected_version: Option<u64>,
) -> Result<&'s AccountFacts, DomainError> {
    let facts = state
        .accounts
        .get(account_id)
        .ok_or_else(|| DomainError::AccountNotFound(account_id.to_string()))?;
    check_expected_version(state, &account_stream(account_id), expected_version)?;
    if facts.closed {
        return Err(DomainError::AccountClosed(account_id.to_string()));
    }
    Ok(facts)
}
