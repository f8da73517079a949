//! The liability report (DESIGN §6): what is owed, program by program, account by account
//! and period by period, with totals per currency and the contest cash awards not yet paid.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::accruals::accrual_row;
use super::QueryError;
use crate::domain::money::{round_to_minor_unit, zero_money};
use crate::domain::programs::Program;
use crate::projections::ReadModel;
use crate::rules::calendar::Period;

/// One liability row (DESIGN §6).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiabilityRow {
    /// `rebate`, or `contest_award` for a cash award not yet paid.
    pub kind: String,
    /// The rebate program, or the contest of a contest award.
    pub program_id: String,
    pub account_id: String,
    pub period: String,
    pub currency: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub entitlement: Decimal,
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
    pub status: String,
}

/// Totals of one currency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LiabilityTotal {
    pub currency: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub entitlement: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub approved: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub pending: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub outstanding: Decimal,
    /// Σ of negative outstanding amounts, as a positive number: what accounts owe back.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub clawbacks_due: Decimal,
}

/// The liability report.
#[derive(Debug, Serialize, ToSchema)]
pub struct LiabilityReport {
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub rows: Vec<LiabilityRow>,
    pub totals: Vec<LiabilityTotal>,
}

/// Every program period started by `as_of`, for every account ever enrolled, with what is
/// owed: entitlement, approved, pending, outstanding; rows with nothing at all are left out.
/// A (program, account, period) with an approved or pending settlement always has its row,
/// even when the program's days no longer cover the period (approved money never vanishes).
pub fn liability(
    read: &ReadModel,
    as_of: NaiveDate,
    cutoff: u64,
    today: NaiveDate,
) -> Result<LiabilityReport, QueryError> {
    let programs: Vec<Program> = read.programs.list(None, cutoff).collect();
    let settled = read.settlements.keys(cutoff);
    let mut rows = Vec::new();
    for program in &programs {
        let held: Vec<(&str, &str)> = settled
            .iter()
            .filter(|(p, _, _)| *p == program.program_id)
            .map(|(_, account, period)| (account.as_str(), period.as_str()))
            .collect();
        rows.extend(program_rows(read, program, &held, as_of, cutoff, today)?);
    }
    rows.extend(contest_award_rows(read, as_of, cutoff)?);
    let totals = liability_totals(&rows)?;
    Ok(LiabilityReport {
        as_of,
        rows,
        totals,
    })
}

/// The liability rows of one program: each period of its days started by `as_of` for every
/// account ever enrolled, then every settled (`held`) period not already listed.
fn program_rows(
    read: &ReadModel,
    program: &Program,
    held: &[(&str, &str)],
    as_of: NaiveDate,
    cutoff: u64,
    today: NaiveDate,
) -> Result<Vec<LiabilityRow>, QueryError> {
    let mut accounts: Vec<&str> = program
        .enrollments
        .iter()
        .map(|e| e.account_id.as_str())
        .chain(held.iter().map(|(account, _)| *account))
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    // The program's periods started by `as_of` are the same for every account.
    let mut started: Vec<Period> = Vec::new();
    let mut day = program.starts_on;
    while day <= program.ends_on && day <= as_of {
        let period = program.period_of(day);
        let next = period.end.succ_opt();
        started.push(period);
        match next {
            Some(next) => day = next,
            None => break,
        }
    }
    let mut rows = Vec::new();
    for account in accounts {
        // Settled periods the program's days no longer cover (approved money stays listed).
        let mut settled_elsewhere: Vec<Period> = Vec::new();
        for (_, label) in held.iter().filter(|(a, _)| *a == account) {
            let listed = started
                .iter()
                .chain(&settled_elsewhere)
                .any(|p| p.label == *label);
            match label.parse::<Period>() {
                Ok(period) if !listed && period.start <= as_of => settled_elsewhere.push(period),
                _ => {}
            }
        }
        for period in started.iter().chain(&settled_elsewhere) {
            let row = accrual_row(read, program, account, period, cutoff, today)?;
            if !(row.entitlement.is_zero() && row.approved.is_zero() && row.pending.is_zero()) {
                rows.push(LiabilityRow {
                    kind: "rebate".to_string(),
                    program_id: row.program_id,
                    account_id: row.account_id,
                    period: row.period,
                    currency: row.currency,
                    entitlement: row.entitlement,
                    approved: row.approved,
                    pending: row.pending,
                    outstanding: row.outstanding,
                    status: row.status,
                });
            }
        }
    }
    Ok(rows)
}

/// The totals per currency of liability rows, in currency order, with checked sums: by
/// the named limits (`domain::limits`) they cannot overflow, and on a ledger written before
/// those limits an overflow is a 422 `overflow`, never a panic.
fn liability_totals(rows: &[LiabilityRow]) -> Result<Vec<LiabilityTotal>, QueryError> {
    let mut totals: Vec<LiabilityTotal> = Vec::new();
    for row in rows {
        let zero = zero_money(&row.currency);
        let index = match totals.iter().position(|t| t.currency == row.currency) {
            Some(i) => i,
            None => {
                totals.push(LiabilityTotal {
                    currency: row.currency.clone(),
                    entitlement: zero,
                    approved: zero,
                    pending: zero,
                    outstanding: zero,
                    clawbacks_due: zero,
                });
                totals.len() - 1
            }
        };
        let total = &mut totals[index];
        let add = |sum: Decimal, value: Decimal| {
            sum.checked_add(value)
                .ok_or_else(|| QueryError::overflow("the liability totals"))
        };
        total.entitlement = add(total.entitlement, row.entitlement)?;
        total.approved = add(total.approved, row.approved)?;
        total.pending = add(total.pending, row.pending)?;
        total.outstanding = add(total.outstanding, row.outstanding)?;
        if row.outstanding < Decimal::ZERO {
            total.clawbacks_due = add(total.clawbacks_due, -row.outstanding)?;
        }
    }
    totals.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(totals)
}

/// The cash awards of contests closed by `as_of` that were not paid by then, as known at
/// `cutoff`: each is owed in full (outstanding = the award) until marked paid.
fn contest_award_rows(
    read: &ReadModel,
    as_of: NaiveDate,
    cutoff: u64,
) -> Result<Vec<LiabilityRow>, QueryError> {
    let mut rows = Vec::new();
    for contest in read.contests.list(None, cutoff) {
        let Some(close) = contest.close.as_ref().filter(|c| c.closed_on <= as_of) else {
            continue;
        };
        for standing in &close.standings {
            let Some(cash) = contest
                .cash_award(&standing.account_id)
                .map_err(|_| QueryError::overflow("a contest award"))?
            else {
                continue;
            };
            if contest
                .payment(&standing.account_id)
                .is_some_and(|p| p.paid_on <= as_of)
            {
                continue;
            }
            let zero = zero_money(&contest.currency);
            rows.push(LiabilityRow {
                kind: "contest_award".to_string(),
                program_id: contest.contest_id.clone(),
                account_id: standing.account_id.clone(),
                period: format!("{}..{}", contest.starts_on, contest.ends_on),
                currency: contest.currency.clone(),
                entitlement: round_to_minor_unit(cash, &contest.currency),
                approved: zero,
                pending: zero,
                outstanding: round_to_minor_unit(cash, &contest.currency),
                status: "unpaid".to_string(),
            });
        }
    }
    Ok(rows)
}

/// The liability report as CSV (rows, then one TOTAL row per currency).
pub fn liability_csv(report: &LiabilityReport) -> String {
    let mut out = String::from("kind,program_id,account_id,period,currency,entitlement,approved,pending,outstanding,status\n");
    for r in &report.rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            r.kind,
            r.program_id,
            r.account_id,
            r.period,
            r.currency,
            r.entitlement,
            r.approved,
            r.pending,
            r.outstanding,
            r.status
        ));
    }
    for t in &report.totals {
        out.push_str(&format!(
            "total,,,,{},{},{},{},{},clawbacks_due={}\n",
            t.currency, t.entitlement, t.approved, t.pending, t.outstanding, t.clawbacks_due
        ));
    }
    out
}
