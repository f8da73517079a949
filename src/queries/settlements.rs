//! Rebate settlements (DESIGN §5.4): one as known at a cutoff, the basis a proposal is
//! computed on, and the explanation of one down to the lines behind it.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use super::accruals::{accrue, check_period_kind, program_known};
use super::QueryError;
use crate::domain::commands::ProposeSettlement;
use crate::domain::events::SettlementComputation;
use crate::domain::money::round_to_minor_unit;
use crate::domain::settlements::Settlement;
use crate::projections::ReadModel;
use crate::rules::calendar::{month_index, Period};
use crate::rules::rebates::{RebateTier, SettlementKind};

/// One line behind a settlement's basis.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContributingLine {
    /// Log position of the SaleRecorded or SaleReturned event.
    pub position: u64,
    /// `sale` or `return`.
    pub kind: String,
    /// The sale's date (a return counts against its sale's period).
    #[schema(value_type = String, format = Date)]
    pub sale_date: NaiveDate,
    pub sku: String,
    pub category: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub net_amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub cost_amount: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
}

/// Why a settlement is what it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Explanation {
    pub settlement: Settlement,
    pub program_basis: String,
    pub method: String,
    pub tiers: Vec<RebateTier>,
    /// The sum in words, then the netting.
    pub arithmetic: Vec<String>,
    /// Every sale and return line counted in the basis, with its log position (read with
    /// `GET /v1/audit/events`).
    pub lines: Vec<ContributingLine>,
}

/// The settlement as known at `cutoff`, or 404 `settlement_not_found`.
pub fn settlement_at(read: &ReadModel, id: &str, cutoff: u64) -> Result<Settlement, QueryError> {
    read.settlements
        .get(id)
        .and_then(|s| s.at(cutoff))
        .ok_or_else(|| {
            QueryError::not_found(
                "settlement_not_found",
                format!("no settlement with id \"{id}\""),
            )
        })
}

/// The basis of a settlement proposal: the entitlement of (program, account, period) from
/// the accruals as of the head (recorded as `through_position`), with its eligibility on
/// the period's end or `today`; the decider nets it against what is settled.
pub fn settlement_basis(
    read: &ReadModel,
    program_id: &str,
    account_id: &str,
    period: &Period,
    today: NaiveDate,
) -> Result<SettlementComputation, QueryError> {
    let head = read.head_position();
    let program = program_known(read, program_id, head)?;
    check_period_kind(&program, period)?;
    let accrued = accrue(read, &program, account_id, period, head, today)?;
    Ok(SettlementComputation {
        rebate: accrued.computation,
        eligible: accrued.eligible,
        reason: accrued.reason,
        entitlement: accrued.entitlement,
        previously_approved: Decimal::ZERO,
        pending: Decimal::ZERO,
        through_position: head,
    })
}

/// What a proposer names: the rest of a proposal is computed.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub program_id: String,
    pub account_id: String,
    pub period: Period,
    pub kind: SettlementKind,
    /// Credit note, payment run or other reference.
    pub reference: String,
}

/// The command of a proposal by `actor` on `today`, with its [`settlement_basis`].
pub fn proposal(
    read: &ReadModel,
    asked: Proposal,
    actor: &str,
    today: NaiveDate,
) -> Result<ProposeSettlement, QueryError> {
    let computation = settlement_basis(
        read,
        &asked.program_id,
        &asked.account_id,
        &asked.period,
        today,
    )?;
    Ok(ProposeSettlement {
        program_id: asked.program_id,
        account_id: asked.account_id,
        period: asked.period,
        kind: asked.kind,
        reference: asked.reference,
        computation,
        today,
        actor: actor.to_string(),
    })
}

/// The settlement a submitted proposal recorded at `position`.
pub fn proposed(
    read: &ReadModel,
    proposal: &ProposeSettlement,
    position: u64,
) -> Result<Settlement, QueryError> {
    read.settlements
        .of(
            &proposal.program_id,
            &proposal.account_id,
            &proposal.period.label,
            position,
        )
        .into_iter()
        .find(|s| s.proposed_at == position)
        .ok_or_else(|| QueryError::Inconsistent("the proposed settlement is missing".into()))
}

/// Why a settlement is what it is, as known at `cutoff`: the program's terms, the
/// arithmetic in words and every line counted in its basis.
pub fn explain(read: &ReadModel, id: &str, cutoff: u64) -> Result<Explanation, QueryError> {
    let settlement = settlement_at(read, id, cutoff)?;
    let through = settlement.computation.through_position;
    let program = read
        .programs
        .get(&settlement.program_id)
        .and_then(|p| p.at(through))
        .ok_or_else(|| QueryError::Inconsistent("the settlement's program is missing".into()))?;
    let period: Period = settlement
        .period
        .parse()
        .map_err(QueryError::Inconsistent)?;
    let start = month_index(program.period_of(period.start.max(program.starts_on)).start);
    let lines = read
        .accruals
        .contributing(&program, &settlement.account_id, start, through)?
        .into_iter()
        .map(|l| ContributingLine {
            position: l.position,
            kind: if l.quantity < Decimal::ZERO || l.net < Decimal::ZERO {
                "return"
            } else {
                "sale"
            }
            .to_string(),
            sale_date: l.sale_date,
            sku: read.accruals.name(l.sku).to_string(),
            category: read.accruals.name(l.category).to_string(),
            net_amount: round_to_minor_unit(l.net, &program.currency),
            cost_amount: round_to_minor_unit(l.cost, &program.currency),
            quantity: l.quantity,
        })
        .collect();
    let c = &settlement.computation;
    let mut arithmetic = vec![c.rebate.arithmetic.clone()];
    if !c.eligible {
        arithmetic.push(format!(
            "not eligible: {}; entitlement 0",
            c.reason.clone().unwrap_or_default()
        ));
    }
    arithmetic.push(format!(
        "{} settlement: entitlement {} − approved {}{} = {}",
        settlement.kind.as_str(),
        c.entitlement,
        c.previously_approved,
        if settlement.kind == SettlementKind::Partial {
            format!(" − pending {}", c.pending)
        } else {
            String::new()
        },
        settlement.amount
    ));
    Ok(Explanation {
        program_basis: program.basis.as_str().to_string(),
        method: program.method.as_str().to_string(),
        tiers: program.tiers.clone(),
        arithmetic,
        lines,
        settlement,
    })
}
