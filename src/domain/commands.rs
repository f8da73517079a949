//! Commands (imperative requests) and the raw line inputs of batch ingestion.
//!
//! Line inputs keep every field as text so that validation can name each bad field of
//! each bad line at once, whether the batch came as JSON or as CSV.

use serde::{Deserialize, Serialize};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::events::DiscountScope;
use super::vocab::{Role, Scope, Segment, Stage};
use crate::rules::tiers::TierDefinition;

/// One sale line as sent by a caller (JSON or CSV), before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SaleLineInput {
    pub account_id: Option<String>,
    pub invoice_id: Option<String>,
    pub line: Option<String>,
    pub sku: Option<String>,
    pub category: Option<String>,
    pub quantity: Option<String>,
    pub net_amount: Option<String>,
    pub cost_amount: Option<String>,
    pub currency: Option<String>,
    pub occurred_on: Option<String>,
}

/// One return line as sent by a caller (JSON or CSV), before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReturnLineInput {
    pub account_id: Option<String>,
    pub return_id: Option<String>,
    pub invoice_id: Option<String>,
    pub line: Option<String>,
    pub quantity: Option<String>,
    pub net_amount: Option<String>,
    pub cost_amount: Option<String>,
    pub occurred_on: Option<String>,
}

/// Opens a key account.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAccount {
    pub account_id: String,
    pub name: String,
    pub scope: Scope,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
    pub currency: String,
    pub stage: Stage,
}

/// Changes an account's descriptive fields; `None` keeps a field, `Some(None)` clears it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateAccount {
    pub account_id: String,
    pub expected_version: Option<u64>,
    pub name: Option<String>,
    pub scope: Option<Scope>,
    pub segment: Option<Option<Segment>>,
    pub manager: Option<Option<String>>,
}

/// Every command the ledger decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    OpenAccount(OpenAccount),
    UpdateAccount(UpdateAccount),
    ChangeStage {
        account_id: String,
        stage: Stage,
        reason: Option<String>,
        expected_version: Option<u64>,
    },
    CloseAccount {
        account_id: String,
        reason: Option<String>,
        expected_version: Option<u64>,
    },
    RecordSales {
        lines: Vec<SaleLineInput>,
    },
    RecordReturns {
        lines: Vec<ReturnLineInput>,
    },
    IssueToken {
        name: String,
        role: Role,
        token_sha256: String,
    },
    RevokeToken {
        name: String,
        reason: Option<String>,
    },
    PublishTierPolicy {
        effective_from: NaiveDate,
        window_months: u32,
        tiers: Vec<TierDefinition>,
        expected_version: Option<u64>,
    },
    GrantTierOverride {
        account_id: String,
        tier: String,
        valid_from: NaiveDate,
        valid_to: Option<NaiveDate>,
        reason: String,
    },
    RevokeTierOverride {
        account_id: String,
        override_id: String,
        reason: Option<String>,
    },
    GrantDiscount(GrantDiscount),
    DefineProgram(DefineProgram),
    EndProgram {
        program_id: String,
        ends_on: NaiveDate,
        reason: String,
    },
    Enroll {
        program_id: String,
        account_id: String,
        effective_from: NaiveDate,
    },
    Unenroll {
        program_id: String,
        account_id: String,
        effective_to: NaiveDate,
    },
    ProposeSettlement(ProposeSettlement),
    ApproveSettlement {
        settlement_id: String,
        actor: String,
        note: Option<String>,
    },
    RejectSettlement {
        settlement_id: String,
        actor: String,
        reason: String,
    },
    RevokeDiscount {
        discount_id: String,
        effective_on: NaiveDate,
        reason: Option<String>,
    },
    DefineContest(DefineContest),
    /// Closes a contest with the standings the server computed through `through_position`.
    CloseContest {
        contest_id: String,
        standings: Vec<crate::rules::contests::Standing>,
        through_position: u64,
        /// Today's date, to tell whether the contest is over (the decider has no clock).
        today: NaiveDate,
    },
    MarkAwardPaid {
        contest_id: String,
        account_id: String,
        paid_on: NaiveDate,
        reference: String,
        today: NaiveDate,
        actor: String,
    },
    DeclareSeason(DeclareSeason),
    ReviseCapacity {
        season_id: String,
        products: Vec<super::events::SeasonProduct>,
        reason: Option<String>,
    },
    RequestAllocation {
        season_id: String,
        requests: Vec<AllocationRequestInput>,
    },
    WithdrawRequest {
        season_id: String,
        request_id: String,
        reason: Option<String>,
    },
    /// Records the season's plan if the plan computed now has `plan_hash`.
    CommitAllocation {
        season_id: String,
        plan_hash: String,
    },
}

/// Defines a sales contest (DESIGN §5.5).
#[derive(Debug, Clone, PartialEq)]
pub struct DefineContest {
    pub contest_id: String,
    pub name: String,
    pub currency: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub metric: crate::rules::contests::ContestMetric,
    pub scope_skus: Option<Vec<String>>,
    pub scope_categories: Option<Vec<String>>,
    pub eligible_tiers: Option<Vec<String>>,
    pub min_metric: Option<Decimal>,
    pub prizes: Vec<crate::rules::contests::Prize>,
}

/// Declares a peak season (DESIGN §5.6).
#[derive(Debug, Clone, PartialEq)]
pub struct DeclareSeason {
    pub season_id: String,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub products: Vec<super::events::SeasonProduct>,
    pub reserves: Vec<super::events::SeasonReserve>,
}

/// One allocation request as asked; the id is assigned when left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationRequestInput {
    /// Unique within the season; assigned (`SEASON-000001`, ...) when left out.
    #[serde(default)]
    pub request_id: Option<String>,
    pub account_id: String,
    pub sku: String,
    /// Whole units, at least 1.
    pub quantity: u64,
}

/// Defines a rebate program (DESIGN §5.4).
#[derive(Debug, Clone, PartialEq)]
pub struct DefineProgram {
    pub program_id: String,
    pub name: String,
    pub currency: String,
    pub period: crate::rules::calendar::PeriodKind,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub basis: crate::rules::rebates::RebateBasis,
    pub method: crate::rules::rebates::RebateMethod,
    pub tiers: Vec<crate::rules::rebates::RebateTier>,
    pub cap: Option<Decimal>,
    /// None: no restriction; Some: must not be empty.
    pub scope_skus: Option<Vec<String>>,
    pub scope_categories: Option<Vec<String>>,
    pub eligible_tiers: Option<Vec<String>>,
}

/// Proposes a settlement. The server computed the entitlement (from the accruals as of
/// `computation.through_position`); the decider nets it against what is approved and
/// pending, by the rules of the kind.
#[derive(Debug, Clone, PartialEq)]
pub struct ProposeSettlement {
    pub program_id: String,
    pub account_id: String,
    pub period: crate::rules::calendar::Period,
    pub kind: crate::rules::rebates::SettlementKind,
    pub reference: String,
    pub computation: super::events::SettlementComputation,
    /// Today's date, to tell whether the period has ended (the decider has no clock).
    pub today: NaiveDate,
    /// The token name proposing.
    pub actor: String,
}

/// Grants a discount to an account.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantDiscount {
    pub discount_id: String,
    pub account_id: String,
    pub percent: Decimal,
    pub scope: DiscountScope,
    pub scope_value: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
}
