//! Rebate accruals (DESIGN §5.4): per program, account and period, the basis, tier, rate,
//! entitlement, eligibility and what is still outstanding. Rebate eligibility is decided
//! here ([`eligibility`]).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::{account_known, QueryError};
use crate::domain::money::{round_to_minor_unit, zero_money};
use crate::domain::programs::Program;
use crate::domain::vocab::Stage;
use crate::projections::accruals::{program_period, AccrualTotals};
use crate::projections::ReadModel;
use crate::rules::calendar::{month_index, Period};
use crate::rules::rebates::{compute, RebateComputation};

/// One account's accrual for one period of a program.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccrualRow {
    pub program_id: String,
    pub account_id: String,
    pub period: String,
    #[schema(value_type = String, format = Date)]
    pub period_start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub period_end: NaiveDate,
    pub currency: String,
    /// Net revenue, quantity or gross margin of the counted lines (returns against their sale's period).
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub basis: Decimal,
    /// Lines (sales and returns) that count.
    pub lines: u64,
    pub tier_index: Option<usize>,
    #[serde(with = "rust_decimal::serde::str_option")]
    #[schema(value_type = Option<String>)]
    pub rate: Option<Decimal>,
    /// Rounded once, after the cap; 0 when not eligible.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub entitlement: Decimal,
    pub capped: bool,
    pub eligible: bool,
    /// Why not eligible.
    pub reason: Option<String>,
    /// How the entitlement was computed, in words.
    pub arithmetic: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub approved: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub pending: Decimal,
    /// Entitlement − approved; negative is a clawback due.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub outstanding: Decimal,
    /// `open` until a final settlement is approved, then `final`.
    pub status: String,
}

/// The accruals of a program for one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgramAccruals {
    pub program_id: String,
    pub period: String,
    #[schema(value_type = String, format = Date)]
    pub period_start: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub period_end: NaiveDate,
    pub accounts: Vec<AccrualRow>,
}

/// An account's accruals in the programs it is enrolled in.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountRebates {
    pub account_id: String,
    pub period: String,
    pub accruals: Vec<AccrualRow>,
}

/// The entitlement of (program, account) for the program period holding `period`'s start,
/// as known at `cutoff`: the counted totals, the computation and the eligibility.
pub struct Accrued {
    pub period: Period,
    pub totals: AccrualTotals,
    pub computation: RebateComputation,
    pub eligible: bool,
    pub reason: Option<String>,
    /// The entitlement after eligibility (0 when not eligible).
    pub entitlement: Decimal,
}

/// The program as known at `cutoff`, or 404 `program_not_found`.
pub fn program_known(read: &ReadModel, id: &str, cutoff: u64) -> Result<Program, QueryError> {
    read.programs
        .get(id)
        .and_then(|p| p.at(cutoff))
        .ok_or_else(|| {
            QueryError::not_found(
                "program_not_found",
                format!("no rebate program with id \"{id}\""),
            )
        })
}

/// 422 `period_mismatch` unless `period` is of the kind the program settles.
pub fn check_period_kind(program: &Program, period: &Period) -> Result<(), QueryError> {
    if period.kind == program.period {
        return Ok(());
    }
    Err(QueryError::unprocessable(
        "period_mismatch",
        format!(
            "program {} settles {} periods; \"{}\" is not one",
            program.program_id,
            program.period.as_str(),
            period.label
        ),
    ))
}

/// Computes [`Accrued`] as known at `cutoff`; `today` bounds the day eligibility is
/// measured on.
pub fn accrue(
    read: &ReadModel,
    program: &Program,
    account_id: &str,
    period: &Period,
    cutoff: u64,
    today: NaiveDate,
) -> Result<Accrued, QueryError> {
    let clipped = program_period(program, period.start.max(program.starts_on));
    let key = month_index(clipped.start);
    let totals: AccrualTotals = if cutoff >= read.head_position() {
        read.accruals.live(&program.program_id, account_id, key)
    } else {
        read.accruals
            .totals_of(program, account_id, cutoff)?
            .get(&key)
            .copied()
            .unwrap_or_default()
    };
    let computation = compute(
        &program.tiers,
        program.method,
        program.basis,
        totals.basis(program.basis),
        program.cap,
        &program.currency,
    )
    .map_err(|e| QueryError::unprocessable(e.code(), e.to_string()))?;
    let (eligible, reason) = eligibility(read, program, account_id, clipped.end, cutoff, today)?;
    let entitlement = if eligible {
        computation.entitlement
    } else {
        zero_money(&program.currency)
    };
    Ok(Accrued {
        period: clipped,
        totals,
        computation,
        eligible,
        reason,
        entitlement,
    })
}

/// Whether the account's rebate of a program period is payable: a program that names
/// eligible tiers pays only an account in one of them on the period's last day (or today,
/// while the period runs), as known at `cutoff`; the reason when not.
pub fn eligibility(
    read: &ReadModel,
    program: &Program,
    account_id: &str,
    period_end: NaiveDate,
    cutoff: u64,
    today: NaiveDate,
) -> Result<(bool, Option<String>), QueryError> {
    if program.eligible_tiers.is_empty() {
        return Ok((true, None));
    }
    let on = period_end.min(today);
    let stage = read
        .accounts
        .described(account_id, cutoff)
        .map(|a| a.relationship_stage)
        .unwrap_or(Stage::Exploratory);
    let daily = read.daily_at(account_id, cutoff)?;
    let tier = read
        .incentives
        .entitlement(account_id, on, cutoff, Some(&daily), stage)
        .tier;
    if program.eligible_tiers.contains(&tier) {
        Ok((true, None))
    } else {
        let reason = format!(
            "tier {tier} on {on} is not eligible (eligible: {})",
            program.eligible_tiers.join(", ")
        );
        Ok((false, Some(reason)))
    }
}

/// The accrual row of (program, account, period) as known at `cutoff`.
pub fn accrual_row(
    read: &ReadModel,
    program: &Program,
    account_id: &str,
    period: &Period,
    cutoff: u64,
    today: NaiveDate,
) -> Result<AccrualRow, QueryError> {
    let a = accrue(read, program, account_id, period, cutoff, today)?;
    let settled = read
        .settlements
        .settled(&program.program_id, account_id, &a.period.label, cutoff)
        .map_err(|_| QueryError::overflow("the settled amounts"))?;
    let money = |amount: Decimal| round_to_minor_unit(amount, &program.currency);
    let outstanding = a
        .entitlement
        .checked_sub(settled.approved)
        .ok_or_else(|| QueryError::overflow("outstanding"))?;
    Ok(AccrualRow {
        program_id: program.program_id.clone(),
        account_id: account_id.to_string(),
        period: a.period.label.clone(),
        period_start: a.period.start,
        period_end: a.period.end,
        currency: program.currency.clone(),
        basis: if program.basis.is_money() {
            money(a.computation.basis)
        } else {
            a.computation.basis
        },
        lines: a.totals.lines,
        tier_index: a.computation.tier_index,
        rate: a.computation.rate,
        entitlement: money(a.entitlement),
        capped: a.computation.capped && a.eligible,
        eligible: a.eligible,
        reason: a.reason,
        arithmetic: a.computation.arithmetic,
        approved: money(settled.approved),
        pending: money(settled.pending),
        outstanding: money(outstanding),
        status: if settled.final_approved {
            "final"
        } else {
            "open"
        }
        .to_string(),
    })
}

/// The accruals of every account enrolled in a program during `period` (default: the
/// program period holding `today`), as known at `cutoff`.
pub fn program_accruals(
    read: &ReadModel,
    id: &str,
    period: Option<Period>,
    cutoff: u64,
    today: NaiveDate,
) -> Result<ProgramAccruals, QueryError> {
    let program = program_known(read, id, cutoff)?;
    let period = period.unwrap_or_else(|| Period::containing(program.period, today));
    check_period_kind(&program, &period)?;
    if period.end < program.starts_on || period.start > program.ends_on {
        return Err(QueryError::unprocessable(
            "period_outside_program",
            format!(
                "program {id} runs from {} to {}",
                program.starts_on, program.ends_on
            ),
        ));
    }
    let clipped = program_period(&program, period.start.max(program.starts_on));
    let mut accounts: Vec<&str> = program
        .enrollments
        .iter()
        .filter(|e| {
            e.effective_from <= clipped.end && e.effective_to.is_none_or(|to| to >= clipped.start)
        })
        .map(|e| e.account_id.as_str())
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let rows = accounts
        .into_iter()
        .map(|account| accrual_row(read, &program, account, &period, cutoff, today))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProgramAccruals {
        program_id: id.to_string(),
        period: clipped.label,
        period_start: clipped.start,
        period_end: clipped.end,
        accounts: rows,
    })
}

/// An account's accruals, as known at `cutoff`, in every program it was enrolled in: each
/// program period overlapping `asked` (default: the one holding `today`).
pub fn account_rebates(
    read: &ReadModel,
    id: &str,
    asked: Option<Period>,
    cutoff: u64,
    today: NaiveDate,
) -> Result<AccountRebates, QueryError> {
    account_known(read, id, cutoff)?;
    let mut accruals = Vec::new();
    let programs = read
        .programs
        .list(None, cutoff)
        .filter(|p| p.enrollments.iter().any(|e| e.account_id == id));
    for program in programs {
        let (from, to) = match &asked {
            Some(p) => (p.start.max(program.starts_on), p.end.min(program.ends_on)),
            None => {
                let day = today.clamp(program.starts_on, program.ends_on);
                (day, day)
            }
        };
        if from > to {
            continue;
        }
        let mut period = program_period(&program, from);
        loop {
            accruals.push(accrual_row(read, &program, id, &period, cutoff, today)?);
            let next_start = period.end.succ_opt().unwrap_or(period.end);
            if next_start > to || next_start <= period.end {
                break;
            }
            period = program_period(&program, next_start);
        }
    }
    Ok(AccountRebates {
        account_id: id.to_string(),
        period: asked
            .map(|p| p.label)
            .unwrap_or_else(|| "current".to_string()),
        accruals,
    })
}
