//! Decisions on rebate settlements (DESIGN §5.4): two phases for segregation of duties; at
//! most one pending proposal per (program, account, period); amounts netted against what
//! is already approved and pending, by the rules of the kind.

use rust_decimal::Decimal;

use super::{invalid, misrouted, Decision};
use crate::domain::commands::{Command, ProposeSettlement};
use crate::domain::error::DomainError;
use crate::domain::events::*;
use crate::domain::money::round_to_minor_unit;
use crate::domain::settlements::settlement_id;
use crate::domain::state::LedgerState;
use crate::kernel::limits::TEXT_LENGTH_MAX;
use crate::rules::rebates::{settlement_amount, SettlementRefusal};

/// Decides a settlement command.
pub(super) fn decide(state: &LedgerState, command: &Command) -> Result<Decision, DomainError> {
    match command {
        Command::ProposeSettlement(c) => propose(state, c),
        Command::ApproveSettlement {
            settlement_id,
            actor,
            note,
        } => approve(state, settlement_id, actor, note.as_deref()),
        Command::RejectSettlement {
            settlement_id,
            actor,
            reason,
        } => reject(state, settlement_id, actor, reason),
        other => misrouted("settlement", other),
    }
}

/// Proposes a settlement; the amount follows from the kind (DESIGN §5.4).
pub fn propose(state: &LedgerState, c: &ProposeSettlement) -> Result<Decision, DomainError> {
    let program = state
        .programs
        .get(&c.program_id)
        .ok_or_else(|| DomainError::ProgramNotFound(c.program_id.clone()))?;
    if !state.accounts.contains_key(&c.account_id) {
        return Err(DomainError::AccountNotFound(c.account_id.clone()));
    }
    if !program
        .enrollments
        .iter()
        .any(|e| e.account_id == c.account_id)
    {
        return Err(DomainError::NotEnrolled {
            program_id: c.program_id.clone(),
            account_id: c.account_id.clone(),
        });
    }
    if c.period.kind != program.period {
        return Err(invalid(
            "period",
            "period_mismatch",
            format!(
                "program {} settles {} periods; \"{}\" is not one",
                c.program_id,
                program.period.as_str(),
                c.period.label
            ),
        ));
    }
    if c.period.end < program.starts_on || c.period.start > program.ends_on {
        return Err(invalid(
            "period",
            "period_outside_program",
            format!(
                "program {} runs from {} to {}",
                c.program_id, program.starts_on, program.ends_on
            ),
        ));
    }
    let reference = checked_reference(&c.reference)?;
    let period = program.period_of(c.period.start.max(program.starts_on));
    let existing = state
        .settlements
        .of(&c.program_id, &c.account_id, &period.label, u64::MAX);
    if let Some(pending) = existing.iter().find(|s| s.status == "proposed") {
        return Err(DomainError::PendingSettlement(
            pending.settlement_id.clone(),
        ));
    }
    let settled = state
        .settlements
        .settled(&c.program_id, &c.account_id, &period.label, u64::MAX)
        .map_err(|_| refusal(SettlementRefusal::Overflow))?;
    let entitlement = c.computation.entitlement;
    let period_ended = c.today > period.end;
    let amount = settlement_amount(
        c.kind,
        entitlement,
        settled.approved,
        settled.pending,
        period_ended,
        settled.final_approved,
    )
    .map_err(refusal)?;
    let money = |amount: Decimal| round_to_minor_unit(amount, &program.currency);
    let computation = SettlementComputation {
        previously_approved: money(settled.approved),
        pending: money(settled.pending),
        ..c.computation.clone()
    };
    Ok(Decision::events(vec![Event::SettlementProposed(
        SettlementProposed {
            settlement_id: settlement_id(
                &c.program_id,
                &c.account_id,
                &period.label,
                existing.len() + 1,
            ),
            program_id: c.program_id.clone(),
            account_id: c.account_id.clone(),
            period: period.label,
            kind: c.kind,
            reference: reference.to_string(),
            // `0.00 − 0` is `0` in rust_decimal: keep the currency's places in the event.
            amount: money(amount),
            computation,
            proposed_by: c.actor.clone(),
        },
    )]))
}

/// The trimmed reference of a proposal (credit note, payment run): 1 to
/// [`TEXT_LENGTH_MAX`] characters of free text.
fn checked_reference(reference: &str) -> Result<&str, DomainError> {
    let reference = reference.trim();
    crate::domain::text::refuse_chars(None, "reference", reference)?;
    if crate::domain::text::is_blank(reference) || reference.chars().count() > TEXT_LENGTH_MAX {
        return Err(invalid(
            "reference",
            "missing",
            format!(
                "give a reference (credit note, payment run) of 1 to {TEXT_LENGTH_MAX} characters"
            ),
        ));
    }
    Ok(reference)
}

fn refusal(r: SettlementRefusal) -> DomainError {
    DomainError::SettlementRefused {
        code: r.code(),
        message: r.to_string(),
    }
}

fn pending<'s>(
    state: &'s LedgerState,
    settlement_id: &str,
) -> Result<&'s crate::domain::settlements::Settlement, DomainError> {
    let s = state
        .settlements
        .get(settlement_id)
        .ok_or_else(|| DomainError::SettlementNotFound(settlement_id.to_string()))?;
    if s.status != "proposed" {
        return Err(DomainError::SettlementDecided(settlement_id.to_string()));
    }
    Ok(s)
}

/// Approves a pending settlement; never by the actor who proposed it.
pub fn approve(
    state: &LedgerState,
    settlement_id: &str,
    actor: &str,
    note: Option<&str>,
) -> Result<Decision, DomainError> {
    let s = pending(state, settlement_id)?;
    if s.proposed_by == actor {
        return Err(DomainError::SameActorApproval);
    }
    if let Some(note) = note {
        crate::domain::text::refuse_chars(None, "note", note)?;
    }
    if note.is_some_and(|n| n.chars().count() > TEXT_LENGTH_MAX) {
        return Err(invalid(
            "note",
            "too_long",
            format!("at most {TEXT_LENGTH_MAX} characters"),
        ));
    }
    Ok(Decision::events(vec![Event::SettlementApproved(
        SettlementApproved {
            settlement_id: settlement_id.to_string(),
            program_id: s.program_id.clone(),
            approved_by: actor.to_string(),
            note: note.map(|n| n.trim().to_string()),
        },
    )]))
}

/// Rejects a pending settlement (the proposer may withdraw their own).
pub fn reject(
    state: &LedgerState,
    settlement_id: &str,
    actor: &str,
    reason: &str,
) -> Result<Decision, DomainError> {
    let s = pending(state, settlement_id)?;
    let reason = reason.trim();
    crate::domain::text::refuse_chars(None, "reason", reason)?;
    if crate::domain::text::is_blank(reason) || reason.chars().count() > TEXT_LENGTH_MAX {
        return Err(invalid(
            "reason",
            "missing",
            format!("say why, in 1 to {TEXT_LENGTH_MAX} characters"),
        ));
    }
    Ok(Decision::events(vec![Event::SettlementRejected(
        SettlementRejected {
            settlement_id: settlement_id.to_string(),
            program_id: s.program_id.clone(),
            rejected_by: actor.to_string(),
            reason: reason.to_string(),
        },
    )]))
}
