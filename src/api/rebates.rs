//! Rebate accruals (DESIGN §5.4): per program, account and period, the basis, tier, rate,
//! entitlement, eligibility and what is still outstanding.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::{Caller, Right};
use super::error::{ApiError, ApiResult};
use super::extract::{ApiPath, ApiQuery};
use super::tiers::daily_at;
use super::{parse_known_at, AppState};
use crate::domain::daily::DailySales;
use crate::domain::money::round_to_minor_unit;
use crate::domain::programs::Program;
use crate::projections::accruals::{program_period, AccrualTotals};
use crate::projections::ReadModel;
use crate::rules::calendar::{month_index, Period};
use crate::rules::rebates::{compute, RebateComputation};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/rebate-programs/{id}/accruals", get(program_accruals))
        .route("/v1/accounts/{id}/rebates", get(account_rebates))
}

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

/// Query of accrual reads.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccrualQuery {
    /// `2026`, `2026-Q2` or `2026-05` (default: the program period holding today).
    pub period: Option<String>,
    pub known_at: Option<String>,
}

fn parse_period(text: &str) -> Result<Period, ApiError> {
    text.parse::<Period>()
        .map_err(|e| ApiError::bad_request("invalid_period", e))
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

/// Computes [`Accrued`] (live totals when `cutoff` is the head, else from the line facts).
pub fn accrue(
    state: &AppState,
    program: &Program,
    account_id: &str,
    period: &Period,
    cutoff: u64,
    head: u64,
) -> Result<Accrued, ApiError> {
    let rebuilt = rebuilt_daily(state, program, account_id, cutoff, head)?;
    let read = state.engine.read();
    accrue_in(
        &read,
        program,
        account_id,
        period,
        cutoff,
        head,
        rebuilt.as_ref(),
    )
}

/// The account's per-day sales as of `cutoff`, when eligibility needs them and the live
/// ones are not the answer (an earlier `known_at`).
fn rebuilt_daily(
    state: &AppState,
    program: &Program,
    account_id: &str,
    cutoff: u64,
    head: u64,
) -> Result<Option<DailySales>, ApiError> {
    if cutoff < head && !program.eligible_tiers.is_empty() {
        Ok(Some(daily_at(state, account_id, cutoff)?))
    } else {
        Ok(None)
    }
}

/// [`accrue`] on a read model already locked (one lock for a whole program's rows).
fn accrue_in(
    read: &ReadModel,
    program: &Program,
    account_id: &str,
    period: &Period,
    cutoff: u64,
    head: u64,
    rebuilt: Option<&DailySales>,
) -> Result<Accrued, ApiError> {
    let clipped = program_period(program, period.start.max(program.starts_on));
    let key = month_index(clipped.start);
    let totals: AccrualTotals = if cutoff >= head {
        read.accruals.live(&program.program_id, account_id, key)
    } else {
        read.accruals
            .totals_of(program, account_id, cutoff)
            .get(&key)
            .copied()
            .unwrap_or_default()
    };
    let basis = totals.basis(program.basis);
    let computation = compute(
        &program.tiers,
        program.method,
        program.basis,
        basis,
        program.cap,
        &program.currency,
    )
    .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let (eligible, reason) = if program.eligible_tiers.is_empty() {
        (true, None)
    } else {
        let on = clipped.end.min(chrono::Utc::now().date_naive());
        let stage = read
            .accounts
            .get(account_id, cutoff)
            .map(|a| a.relationship_stage)
            .unwrap_or(crate::domain::vocab::Stage::Exploratory);
        let tier = read
            .incentives
            .entitlement(
                account_id,
                on,
                cutoff,
                rebuilt.or_else(|| read.daily(account_id)),
                stage,
            )
            .tier;
        if program.eligible_tiers.contains(&tier) {
            (true, None)
        } else {
            (
                false,
                Some(format!(
                    "tier {tier} on {on} is not eligible (eligible: {})",
                    program.eligible_tiers.join(", ")
                )),
            )
        }
    };
    let entitlement = if eligible {
        computation.entitlement
    } else {
        crate::domain::money::zero_money(&program.currency)
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

/// The accrual row of (program, account, period) as known at `cutoff`.
pub fn accrual_row(
    state: &AppState,
    program: &Program,
    account_id: &str,
    period: &Period,
    cutoff: u64,
    head: u64,
) -> Result<AccrualRow, ApiError> {
    let rebuilt = rebuilt_daily(state, program, account_id, cutoff, head)?;
    let read = state.engine.read();
    accrual_row_in(
        &read,
        program,
        account_id,
        period,
        cutoff,
        head,
        rebuilt.as_ref(),
    )
}

/// [`accrual_row`] on a read model already locked.
fn accrual_row_in(
    read: &ReadModel,
    program: &Program,
    account_id: &str,
    period: &Period,
    cutoff: u64,
    head: u64,
    rebuilt: Option<&DailySales>,
) -> Result<AccrualRow, ApiError> {
    let a = accrue_in(read, program, account_id, period, cutoff, head, rebuilt)?;
    let settled = read
        .settlements
        .settled(&program.program_id, account_id, &a.period.label, cutoff)
        .map_err(|_| overflow("the settled amounts"))?;
    let money = |amount: Decimal| round_to_minor_unit(amount, &program.currency);
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
        outstanding: money(
            a.entitlement
                .checked_sub(settled.approved)
                .ok_or_else(|| overflow("outstanding"))?,
        ),
        status: if settled.final_approved {
            "final"
        } else {
            "open"
        }
        .to_string(),
    })
}

/// 422 `overflow` for a figure that overflows decimal arithmetic: the named limits
/// (`domain::limits`) make it impossible for accepted inputs, so only a ledger written
/// before them can answer this, and never with a panic.
pub(crate) fn overflow(what: &str) -> ApiError {
    ApiError::unprocessable(
        "overflow",
        format!(
            "{what} overflows decimal arithmetic; the ledger holds values beyond the named limits"
        ),
    )
}

fn program_known(state: &AppState, id: &str, cutoff: u64) -> Result<Program, ApiError> {
    state
        .engine
        .read()
        .programs
        .get(id)
        .and_then(|p| p.at(cutoff))
        .ok_or_else(|| {
            ApiError::not_found(
                "program_not_found",
                format!("no rebate program with id \"{id}\""),
            )
        })
}

#[utoipa::path(get, path = "/v1/rebate-programs/{id}/accruals", tag = "rebates", params(("id" = String, Path), AccrualQuery),
    responses((status = 200, body = ProgramAccruals), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem), (status = 422, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn program_accruals(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AccrualQuery>,
) -> ApiResult<Json<ProgramAccruals>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let (cutoff, head) = {
        let read = state.engine.read();
        (read.cutoff(known_at), read.head_position())
    };
    let program = program_known(&state, &id, cutoff)?;
    let period = match query.period.as_deref() {
        Some(text) => parse_period(text)?,
        None => Period::containing(program.period, chrono::Utc::now().date_naive()),
    };
    if period.kind != program.period {
        return Err(ApiError::unprocessable(
            "period_mismatch",
            format!(
                "program {id} settles {} periods; \"{}\" is not one",
                program.period.as_str(),
                period.label
            ),
        ));
    }
    if period.end < program.starts_on || period.start > program.ends_on {
        return Err(ApiError::unprocessable(
            "period_outside_program",
            format!(
                "program {id} runs from {} to {}",
                program.starts_on, program.ends_on
            ),
        ));
    }
    let clipped = program_period(&program, period.start.max(program.starts_on));
    let mut accounts: Vec<String> = program
        .enrollments
        .iter()
        .filter(|e| {
            e.effective_from <= clipped.end && e.effective_to.is_none_or(|to| to >= clipped.start)
        })
        .map(|e| e.account_id.clone())
        .collect();
    accounts.sort();
    accounts.dedup();
    let mut rows = Vec::with_capacity(accounts.len());
    if cutoff >= head || program.eligible_tiers.is_empty() {
        // Nothing to rebuild: every row from one look at the read model.
        let read = state.engine.read();
        for account in &accounts {
            rows.push(accrual_row_in(
                &read, &program, account, &period, cutoff, head, None,
            )?);
        }
    } else {
        for account in &accounts {
            rows.push(accrual_row(
                &state, &program, account, &period, cutoff, head,
            )?);
        }
    }
    Ok(Json(ProgramAccruals {
        program_id: id,
        period: clipped.label,
        period_start: clipped.start,
        period_end: clipped.end,
        accounts: rows,
    }))
}

#[utoipa::path(get, path = "/v1/accounts/{id}/rebates", tag = "rebates", params(("id" = String, Path), AccrualQuery),
    responses((status = 200, body = AccountRebates), (status = 400, body = super::error::Problem), (status = 404, body = super::error::Problem)), security(("bearer" = [])))]
pub async fn account_rebates(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<AccrualQuery>,
) -> ApiResult<Json<AccountRebates>> {
    caller.require(Right::Read)?;
    let known_at = parse_known_at(query.known_at.as_deref())?;
    let (cutoff, head) = {
        let read = state.engine.read();
        (read.cutoff(known_at), read.head_position())
    };
    let asked = match query.period.as_deref() {
        Some(text) => Some(parse_period(text)?),
        None => None,
    };
    let programs: Vec<Program> = {
        let read = state.engine.read();
        if read.accounts.get(&id, cutoff).is_none() {
            return Err(ApiError::not_found(
                "account_not_found",
                format!("account \"{id}\" does not exist"),
            ));
        }
        read.programs
            .list(None, cutoff)
            .filter(|p| p.enrollments.iter().any(|e| e.account_id == id))
            .collect()
    };
    let today = chrono::Utc::now().date_naive();
    let mut accruals = Vec::new();
    for program in programs {
        // Every program period overlapping the asked one (or holding today).
        let (from, to) = match &asked {
            Some(p) => (p.start.max(program.starts_on), p.end.min(program.ends_on)),
            None => (
                today.clamp(program.starts_on, program.ends_on),
                today.clamp(program.starts_on, program.ends_on),
            ),
        };
        if from > to {
            continue;
        }
        let mut period = program_period(&program, from);
        loop {
            accruals.push(accrual_row(&state, &program, &id, &period, cutoff, head)?);
            let next_start = period.end.succ_opt().unwrap_or(period.end);
            if next_start > to || next_start <= period.end {
                break;
            }
            period = program_period(&program, next_start);
        }
    }
    let label = asked
        .map(|p| p.label)
        .unwrap_or_else(|| "current".to_string());
    Ok(Json(AccountRebates {
        account_id: id,
        period: label,
        accruals,
    }))
}
