//! Decisions on rebate programs and enrollments (DESIGN §5.4). Programs are immutable once
//! defined; they can only end early.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{misrouted, Decision};
use crate::domain::checks::{self, field, id_list};
use crate::domain::commands::{Command, DefineProgram};
use crate::domain::error::{DomainError, FieldError};
use crate::domain::events::*;
use crate::domain::limits;
use crate::domain::money::{minor_unit_places, round_to_minor_unit};
use crate::domain::programs::{Enrollment, Program};
use crate::domain::state::LedgerState;
use crate::kernel::limits::TEXT_LENGTH_MAX;
use crate::rules::calendar::Period;
use crate::rules::rebates::validate_tiers;

/// Decides a program command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::DefineProgram(c) => define(state, c),
        Command::EndProgram {
            program_id,
            ends_on,
            reason,
        } => end(state, program_id, *ends_on, reason),
        Command::Enroll {
            program_id,
            account_id,
            effective_from,
        } => enroll(state, program_id, account_id, *effective_from),
        Command::Unenroll {
            program_id,
            account_id,
            effective_to,
        } => unenroll(state, program_id, account_id, *effective_to),
        other => misrouted("program", other),
    }
}

/// Defines a program after checking every field.
pub fn define(state: &LedgerState, c: &DefineProgram) -> Result<Decision, DomainError> {
    let mut errors = Vec::new();
    checks::id(&mut errors, "program_id", &c.program_id);
    let name = checks::name(&mut errors, &c.name);
    checks::currency(&mut errors, &c.currency);
    checks::window(&mut errors, c.starts_on, c.ends_on, false);
    errors.extend(validate_tiers(&c.tiers));
    limits::program_inputs(&mut errors, c.basis, &c.tiers, c.cap);
    if let Some(cap) = c.cap {
        if cap < Decimal::ZERO {
            field(
                &mut errors,
                "cap",
                "negative_amount",
                format!("cap must not be negative, got {cap}"),
            );
        } else if cap.scale() > minor_unit_places(&c.currency) {
            // Places as written: "5000.000" is refused although its value fits.
            field(
                &mut errors,
                "cap",
                "too_many_decimals",
                format!("cap {cap} has more places than {}'s minor unit", c.currency),
            );
        }
    }
    let scope_skus = id_list(&mut errors, "scope.skus", &c.scope_skus);
    let scope_categories = id_list(&mut errors, "scope.categories", &c.scope_categories);
    let eligible_tiers = id_list(&mut errors, "eligible_tiers", &c.eligible_tiers);
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if state.programs.get(&c.program_id).is_some() {
        return Err(DomainError::ProgramExists(c.program_id.clone()));
    }
    limits::room_for_program(state)?;
    Ok(Decision::events(vec![Event::RebateProgramDefined(
        RebateProgramDefined {
            program_id: c.program_id.clone(),
            name: name.to_string(),
            currency: c.currency.clone(),
            period: c.period,
            starts_on: c.starts_on,
            ends_on: c.ends_on,
            basis: c.basis,
            method: c.method,
            tiers: c.tiers.clone(),
            cap: c.cap.map(|cap| round_to_minor_unit(cap, &c.currency)),
            scope_skus,
            scope_categories,
            eligible_tiers,
        },
    )]))
}

/// Ends a program early: the new end is on or after its start and before its current end.
pub fn end(
    state: &LedgerState,
    program_id: &str,
    ends_on: NaiveDate,
    reason: &str,
) -> Result<Decision, DomainError> {
    let program = state
        .programs
        .get(program_id)
        .ok_or_else(|| DomainError::ProgramNotFound(program_id.to_string()))?;
    if program.ended_at.is_some() {
        return Err(DomainError::ProgramAlreadyEnded(program_id.to_string()));
    }
    let mut errors = Vec::new();
    if ends_on < program.starts_on || ends_on >= program.ends_on {
        field(
            &mut errors,
            "ends_on",
            "invalid_end_date",
            format!(
                "an early end must fall from {} to the day before {}",
                program.starts_on, program.ends_on
            ),
        );
    }
    if let Some(error) = crate::domain::text::check_chars(None, "reason", reason) {
        errors.push(error);
    } else if crate::domain::text::is_blank(reason) || reason.chars().count() > TEXT_LENGTH_MAX {
        field(
            &mut errors,
            "reason",
            "missing",
            format!("say why, in 1 to {TEXT_LENGTH_MAX} characters"),
        );
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    settled_periods_covered(state, program, None, ends_on)?;
    Ok(Decision::events(vec![Event::RebateProgramEnded(
        RebateProgramEnded {
            program_id: program_id.to_string(),
            ends_on,
            reason: reason.trim().to_string(),
        },
    )]))
}

/// 409 `settled_period_after_end` when `ends_on` falls before the last day of a period
/// that holds an approved or pending settlement (of `enrollment`'s account from its start,
/// when given; naming the latest such period): approved money must stay owed exactly as
/// approved, whatever happens to the program or the enrollment later.
fn settled_periods_covered(
    state: &LedgerState,
    program: &Program,
    enrollment: Option<&Enrollment>,
    ends_on: NaiveDate,
) -> Result<(), DomainError> {
    let latest = state
        .settlements
        .held_periods(
            &program.program_id,
            enrollment.map(|e| e.account_id.as_str()),
        )
        .iter()
        .filter_map(|label| label.parse::<Period>().ok())
        .filter(|period| enrollment.is_none_or(|e| period.end >= e.effective_from))
        .map(|period| {
            let end = period.end.min(program.ends_on);
            (end, period.label)
        })
        .max();
    match latest {
        Some((period_end, period)) if ends_on < period_end => {
            Err(DomainError::SettledPeriodAfterEnd {
                program_id: program.program_id.clone(),
                period,
                period_end: period_end.to_string(),
            })
        }
        _ => Ok(()),
    }
}

/// Enrolls an account of the program's currency from a day within the program.
pub fn enroll(
    state: &LedgerState,
    program_id: &str,
    account_id: &str,
    effective_from: NaiveDate,
) -> Result<Decision, DomainError> {
    let program = state
        .programs
        .get(program_id)
        .ok_or_else(|| DomainError::ProgramNotFound(program_id.to_string()))?;
    let account = state
        .accounts
        .get(account_id)
        .ok_or_else(|| DomainError::AccountNotFound(account_id.to_string()))?;
    let mut errors = Vec::new();
    if account.currency != program.currency {
        field(
            &mut errors,
            "account_id",
            "currency_mismatch",
            format!(
                "the program pays in {}, the account trades in {}",
                program.currency, account.currency
            ),
        );
    }
    if effective_from > program.ends_on {
        field(
            &mut errors,
            "effective_from",
            "after_program_end",
            format!("the program ends on {}", program.ends_on),
        );
    }
    checks::business_date(&mut errors, "effective_from", effective_from);
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    if program.open_enrollment(account_id).is_some() {
        return Err(DomainError::AlreadyEnrolled {
            program_id: program_id.to_string(),
            account_id: account_id.to_string(),
        });
    }
    if let Some(last_to) = program
        .enrollments
        .iter()
        .filter(|e| e.account_id == account_id)
        .filter_map(|e| e.effective_to)
        .max()
    {
        if effective_from <= last_to {
            return Err(DomainError::Validation(vec![FieldError::new(
                None,
                "effective_from",
                "overlapping_enrollment",
                format!("an earlier enrollment runs to {last_to}; enroll again from a later day"),
            )]));
        }
    }
    Ok(Decision::events(vec![Event::AccountEnrolled(
        AccountEnrolled {
            program_id: program_id.to_string(),
            account_id: account_id.to_string(),
            effective_from,
        },
    )]))
}

/// Ends an account's open enrollment after `effective_to`.
pub fn unenroll(
    state: &LedgerState,
    program_id: &str,
    account_id: &str,
    effective_to: NaiveDate,
) -> Result<Decision, DomainError> {
    let program = state
        .programs
        .get(program_id)
        .ok_or_else(|| DomainError::ProgramNotFound(program_id.to_string()))?;
    let open = program
        .open_enrollment(account_id)
        .ok_or_else(|| DomainError::NotEnrolled {
            program_id: program_id.to_string(),
            account_id: account_id.to_string(),
        })?;
    if effective_to < open.effective_from {
        return Err(DomainError::Validation(vec![FieldError::new(
            None,
            "effective_to",
            "invalid_validity",
            format!(
                "effective_to {effective_to} is before the enrollment's start {}",
                open.effective_from
            ),
        )]));
    }
    settled_periods_covered(state, program, Some(open), effective_to)?;
    Ok(Decision::events(vec![Event::AccountUnenrolled(
        AccountUnenrolled {
            program_id: program_id.to_string(),
            account_id: account_id.to_string(),
            effective_to,
        },
    )]))
}
