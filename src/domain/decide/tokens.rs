//! Decisions on API tokens: issue a named token, revoke it.

use super::{check_text, misrouted, Decision};
use crate::domain::commands::Command;
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::*;
use crate::domain::ids::is_valid_id;
use crate::domain::state::LedgerState;
use crate::domain::vocab::Role;

/// Decides a token command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::IssueToken {
            name,
            role,
            token_sha256,
        } => issue(state, name, *role, token_sha256),
        Command::RevokeToken { name, reason } => revoke(state, name, reason.as_deref()),
        other => misrouted("token", other),
    }
}

/// Issues a token under a new name; only the SHA-256 of its secret is recorded.
fn issue(
    state: &LedgerState,
    name: &str,
    role: Role,
    token_sha256: &str,
) -> Result<Decision, DomainError> {
    if !is_valid_id(name) {
        return Err(DomainError::Validation(vec![FieldError::new(
            None,
            "name",
            "invalid_id",
            format!("token name \"{name}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
        )]));
    }
    if state.tokens.contains_key(name) {
        return Err(DomainError::TokenExists(name.to_string()));
    }
    Ok(Decision::events(vec![Event::TokenIssued(TokenIssued {
        name: name.to_string(),
        role,
        token_sha256: token_sha256.to_string(),
    })]))
}

/// Revokes an active token.
fn revoke(state: &LedgerState, name: &str, reason: Option<&str>) -> Result<Decision, DomainError> {
    match state.tokens.get(name) {
        None => return Err(DomainError::TokenNotFound(name.to_string())),
        Some(t) if !t.active => return Err(DomainError::TokenAlreadyRevoked(name.to_string())),
        Some(_) => {}
    }
    check_text(None, "reason", reason)?;
    Ok(Decision::events(vec![Event::TokenRevoked(TokenRevoked {
        name: name.to_string(),
        reason: reason.map(str::to_string),
    })]))
}
