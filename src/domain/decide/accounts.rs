//! Decisions on key accounts: open, update, change stage, close.

use super::{check_text, misrouted, open_account_facts, Decision};
use crate::domain::commands::{Command, OpenAccount, UpdateAccount};
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::*;
use crate::domain::ids::is_valid_id;
use crate::domain::money::is_known_currency;
use crate::domain::state::LedgerState;
use crate::domain::vocab::Stage;
use crate::kernel::limits::TEXT_LENGTH_MAX;

/// Decides an account command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::OpenAccount(c) => open_account(state, c),
        Command::UpdateAccount(c) => update_account(state, c),
        Command::ChangeStage {
            account_id,
            stage,
            reason,
            expected_version,
        } => change_stage(
            state,
            account_id,
            *stage,
            reason.as_deref(),
            *expected_version,
        ),
        Command::CloseAccount {
            account_id,
            reason,
            expected_version,
        } => close_account(state, account_id, reason.as_deref(), *expected_version),
        other => misrouted("account", other),
    }
}

fn open_account(state: &LedgerState, c: &OpenAccount) -> Result<Decision, DomainError> {
    let mut errors = Vec::new();
    if !is_valid_id(&c.account_id) {
        errors.push(FieldError::new(
            None,
            "account_id",
            "invalid_id",
            format!(
                "\"{}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$",
                c.account_id
            ),
        ));
    }
    check_name(&c.name, &mut errors);
    if !is_known_currency(&c.currency) {
        errors.push(FieldError::new(
            None,
            "currency",
            "unknown_currency",
            format!(
                "unknown currency \"{}\"; expected an ISO 4217 code such as CNY",
                c.currency
            ),
        ));
    }
    check_manager(c.manager.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if state.accounts.contains_key(&c.account_id) {
        return Err(DomainError::AccountExists(c.account_id.clone()));
    }
    Ok(Decision::events(vec![Event::AccountOpened(
        AccountOpened {
            account_id: c.account_id.clone(),
            name: c.name.trim().to_string(),
            scope: c.scope,
            segment: c.segment,
            manager: c.manager.clone(),
            currency: c.currency.clone(),
            stage: c.stage,
        },
    )]))
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let trimmed = name.trim();
    if let Some(error) = crate::domain::text::check_chars(None, "name", name) {
        errors.push(error);
    } else if crate::domain::text::is_blank(trimmed) {
        errors.push(FieldError::new(
            None,
            "name",
            "missing",
            "name must not be empty",
        ));
    } else if trimmed.chars().count() > TEXT_LENGTH_MAX {
        errors.push(FieldError::new(
            None,
            "name",
            "too_long",
            format!("at most {TEXT_LENGTH_MAX} characters"),
        ));
    }
}

fn check_manager(manager: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(m) = manager {
        if !is_valid_id(m) {
            errors.push(FieldError::new(
                None,
                "manager",
                "invalid_id",
                format!("manager \"{m}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
            ));
        }
    }
}

fn update_account(state: &LedgerState, c: &UpdateAccount) -> Result<Decision, DomainError> {
    let facts = open_account_facts(state, &c.account_id, c.expected_version)?;
    if c.name.is_none() && c.scope.is_none() && c.segment.is_none() && c.manager.is_none() {
        return Err(DomainError::Validation(vec![FieldError::new(
            None,
            "body",
            "nothing_to_change",
            "give at least one of name, scope, segment, manager",
        )]));
    }
    let mut errors = Vec::new();
    if let Some(name) = &c.name {
        check_name(name, &mut errors);
    }
    if let Some(manager) = &c.manager {
        check_manager(manager.as_deref(), &mut errors);
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    Ok(Decision::events(vec![Event::AccountUpdated(
        AccountUpdated {
            account_id: c.account_id.clone(),
            name: c
                .name
                .as_ref()
                .map(|n| n.trim().to_string())
                .unwrap_or_else(|| facts.name.clone()),
            scope: c.scope.unwrap_or(facts.scope),
            segment: c.segment.unwrap_or(facts.segment),
            manager: c.manager.clone().unwrap_or_else(|| facts.manager.clone()),
        },
    )]))
}

/// Moves an account to another relationship stage.
fn change_stage(
    state: &LedgerState,
    account_id: &str,
    stage: Stage,
    reason: Option<&str>,
    expected_version: Option<u64>,
) -> Result<Decision, DomainError> {
    let facts = open_account_facts(state, account_id, expected_version)?;
    if facts.stage == stage {
        return Err(DomainError::StageUnchanged {
            account_id: account_id.to_string(),
            stage: stage.to_string(),
        });
    }
    check_text(None, "reason", reason)?;
    Ok(Decision::events(vec![Event::RelationshipStageChanged(
        RelationshipStageChanged {
            account_id: account_id.to_string(),
            from: facts.stage,
            to: stage,
            reason: reason.map(str::to_string),
        },
    )]))
}

/// Closes an open account.
fn close_account(
    state: &LedgerState,
    account_id: &str,
    reason: Option<&str>,
    expected_version: Option<u64>,
) -> Result<Decision, DomainError> {
    open_account_facts(state, account_id, expected_version)?;
    check_text(None, "reason", reason)?;
    Ok(Decision::events(vec![Event::AccountClosed(
        AccountClosed {
            account_id: account_id.to_string(),
            reason: reason.map(str::to_string),
        },
    )]))
}
