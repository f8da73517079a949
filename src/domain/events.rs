//! Domain events: past-tense facts, each with a type name and a schema version.
//!
//! The payload of every event is stored as bincode of the versioned struct below (through
//! `ledger::codec`). A struct here is frozen once released: a change means a new struct and
//! schema version, and `decode` upcasts the old one. Golden-bytes tests pin each version.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::vocab::{Role, Scope, Segment, Stage};
use crate::ledger::codec::{self, CodecError};
use crate::rules::allocation::ClassAllocation;
use crate::rules::calendar::PeriodKind;
use crate::rules::contests::{ContestMetric, Prize, Standing};
use crate::rules::rebates::{
    RebateBasis, RebateComputation, RebateMethod, RebateTier, SettlementKind,
};
use crate::rules::tiers::TierDefinition;

/// AccountOpened v1: a key account enters the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountOpened {
    pub account_id: String,
    pub name: String,
    pub scope: Scope,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
    pub currency: String,
    pub stage: Stage,
}

/// AccountUpdated v1: the descriptive fields after the change (the full new values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountUpdated {
    pub account_id: String,
    pub name: String,
    pub scope: Scope,
    pub segment: Option<Segment>,
    pub manager: Option<String>,
}

/// RelationshipStageChanged v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationshipStageChanged {
    pub account_id: String,
    pub from: Stage,
    pub to: Stage,
    pub reason: Option<String>,
}

/// AccountClosed v1: no sales are accepted afterwards; returns still are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountClosed {
    pub account_id: String,
    pub reason: Option<String>,
}

/// SaleRecorded v1: one invoice line. `currency` is resolved to the account's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaleRecorded {
    pub account_id: String,
    pub invoice_id: String,
    pub line: u32,
    pub sku: String,
    pub category: String,
    #[serde(with = "super::stored::decimal")]
    pub quantity: Decimal,
    #[serde(with = "super::stored::decimal")]
    pub net_amount: Decimal,
    #[serde(with = "super::stored::decimal_option")]
    pub cost_amount: Option<Decimal>,
    pub currency: String,
    #[serde(with = "super::stored::date")]
    pub occurred_on: NaiveDate,
}

/// SaleReturned v1: a return against a recorded line. It carries the original sale's
/// sku, category and date because a return counts in the period of that sale (DESIGN §5.1); `cost_amount`
/// is resolved (stated, or prorated from the sale) so projections only add.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SaleReturned {
    pub account_id: String,
    pub return_id: String,
    pub invoice_id: String,
    pub line: u32,
    /// The sku and category of the returned sale (resolved at decision time, so
    /// projections attribute the return without looking the sale up).
    pub sku: String,
    pub category: String,
    #[serde(with = "super::stored::decimal")]
    pub quantity: Decimal,
    #[serde(with = "super::stored::decimal")]
    pub net_amount: Decimal,
    #[serde(with = "super::stored::decimal")]
    pub cost_amount: Decimal,
    #[serde(with = "super::stored::date")]
    pub occurred_on: NaiveDate,
    #[serde(with = "super::stored::date")]
    pub sale_occurred_on: NaiveDate,
}

/// What a sale or return line does to its account's sales, signed: a sale adds, a return
/// takes back (negative amounts) on the day of the sale it returns (DESIGN §5.1). The one
/// reading of `SaleRecorded` and `SaleReturned` as per-day totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineEffect<'a> {
    pub account_id: &'a str,
    /// The day the line counts on: a sale's own day, or for a return its sale's day.
    pub sale_on: NaiveDate,
    pub sku: &'a str,
    pub category: &'a str,
    pub net: Decimal,
    /// The cost that counts for margin: the stated cost, or the net when a sale has none.
    pub cost: Decimal,
    pub quantity: Decimal,
}

/// `−amount`, except that a zero stays exactly as it is: adding it then leaves a total
/// bit for bit as subtracting the return's amount does (a flipped zero would not).
fn taken_back(amount: Decimal) -> Decimal {
    if amount.is_zero() {
        amount
    } else {
        -amount
    }
}

impl SaleRecorded {
    /// The sale's effect on its account's sales, on its own day.
    pub fn line_effect(&self) -> LineEffect<'_> {
        LineEffect {
            account_id: &self.account_id,
            sale_on: self.occurred_on,
            sku: &self.sku,
            category: &self.category,
            net: self.net_amount,
            cost: self.cost_amount.unwrap_or(self.net_amount),
            quantity: self.quantity,
        }
    }
}

impl SaleReturned {
    /// The return's effect on its account's sales: its amounts taken back, on its sale's day.
    pub fn line_effect(&self) -> LineEffect<'_> {
        LineEffect {
            account_id: &self.account_id,
            sale_on: self.sale_occurred_on,
            sku: &self.sku,
            category: &self.category,
            net: taken_back(self.net_amount),
            cost: taken_back(self.cost_amount),
            quantity: taken_back(self.quantity),
        }
    }
}

/// TokenIssued v1: only the SHA-256 of the token is ever stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenIssued {
    pub name: String,
    pub role: Role,
    pub token_sha256: String,
}

/// TokenRevoked v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRevoked {
    pub name: String,
    pub reason: Option<String>,
}

/// TierPolicyPublished v1: a new version of the tier policy, in force from
/// `effective_from` until a later version's date. Tiers are listed best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierPolicyPublished {
    pub version: u32,
    #[serde(with = "super::stored::date")]
    pub effective_from: NaiveDate,
    pub window_months: u32,
    pub tiers: Vec<TierDefinition>,
}

/// TierOverrideGranted v1: an admin puts an account in a tier regardless of its criteria.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierOverrideGranted {
    pub account_id: String,
    pub override_id: String,
    pub tier: String,
    #[serde(with = "super::stored::date")]
    pub valid_from: NaiveDate,
    #[serde(with = "super::stored::date_option")]
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
}

/// TierOverrideRevoked v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierOverrideRevoked {
    pub account_id: String,
    pub override_id: String,
    pub reason: Option<String>,
}

/// What a discount applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscountScope {
    Sku,
    Category,
    All,
}

/// DiscountGranted v1. It records the tier and ceiling it was checked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscountGranted {
    pub discount_id: String,
    pub account_id: String,
    #[serde(with = "super::stored::decimal")]
    pub percent: Decimal,
    pub scope: DiscountScope,
    /// The sku or category for those scopes; None for `all`.
    pub scope_value: Option<String>,
    #[serde(with = "super::stored::date")]
    pub valid_from: NaiveDate,
    #[serde(with = "super::stored::date_option")]
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
    pub tier: String,
    #[serde(with = "super::stored::decimal")]
    pub ceiling_pct: Decimal,
}

/// DiscountRevoked v1: the discount no longer applies from `effective_on`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscountRevoked {
    pub discount_id: String,
    pub account_id: String,
    #[serde(with = "super::stored::date")]
    pub effective_on: NaiveDate,
    pub reason: Option<String>,
}

/// RebateProgramDefined v1: a rebate program; immutable once defined (it can end early).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebateProgramDefined {
    pub program_id: String,
    pub name: String,
    pub currency: String,
    pub period: PeriodKind,
    #[serde(with = "super::stored::date")]
    pub starts_on: NaiveDate,
    #[serde(with = "super::stored::date")]
    pub ends_on: NaiveDate,
    pub basis: RebateBasis,
    pub method: RebateMethod,
    pub tiers: Vec<RebateTier>,
    /// Most rebate per account per period, in the program's currency.
    #[serde(with = "super::stored::decimal_option")]
    pub cap: Option<Decimal>,
    /// Only these skus count (empty: no sku restriction).
    pub scope_skus: Vec<String>,
    /// Only these categories count (empty: no category restriction).
    pub scope_categories: Vec<String>,
    /// Only accounts in these tiers earn (empty: every tier).
    pub eligible_tiers: Vec<String>,
}

/// RebateProgramEnded v1: the program ends early, on `ends_on`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebateProgramEnded {
    pub program_id: String,
    #[serde(with = "super::stored::date")]
    pub ends_on: NaiveDate,
    pub reason: String,
}

/// AccountEnrolled v1: the account's lines count for the program from `effective_from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountEnrolled {
    pub program_id: String,
    pub account_id: String,
    #[serde(with = "super::stored::date")]
    pub effective_from: NaiveDate,
}

/// AccountUnenrolled v1: the account's lines stop counting after `effective_to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountUnenrolled {
    pub program_id: String,
    pub account_id: String,
    #[serde(with = "super::stored::date")]
    pub effective_to: NaiveDate,
}

/// What a settlement proposal computed, stored in the event (DESIGN §5.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SettlementComputation {
    pub rebate: RebateComputation,
    /// False when the account's tier was not eligible: the entitlement is then 0.
    pub eligible: bool,
    pub reason: Option<String>,
    /// The entitlement settled against (0 when not eligible).
    #[serde(with = "super::stored::decimal")]
    #[schema(value_type = String)]
    pub entitlement: Decimal,
    #[serde(with = "super::stored::decimal")]
    #[schema(value_type = String)]
    pub previously_approved: Decimal,
    #[serde(with = "super::stored::decimal")]
    #[schema(value_type = String)]
    pub pending: Decimal,
    /// The last log position whose lines the basis includes.
    pub through_position: u64,
}

/// SettlementProposed v1: the first phase of a settlement; the server computed the amount.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettlementProposed {
    pub settlement_id: String,
    pub program_id: String,
    pub account_id: String,
    /// The period label (`2026-Q2`).
    pub period: String,
    pub kind: SettlementKind,
    /// The caller's reference (credit note, payment run).
    pub reference: String,
    #[serde(with = "super::stored::decimal")]
    pub amount: Decimal,
    pub computation: SettlementComputation,
    /// The token name that proposed it (approval must come from another).
    pub proposed_by: String,
}

/// SettlementApproved v1: the second phase, by a different actor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettlementApproved {
    pub settlement_id: String,
    pub program_id: String,
    pub approved_by: String,
    pub note: Option<String>,
}

/// SettlementRejected v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettlementRejected {
    pub settlement_id: String,
    pub program_id: String,
    pub rejected_by: String,
    pub reason: String,
}

/// ContestDefined v1: a sales contest (DESIGN §5.5); immutable once defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContestDefined {
    pub contest_id: String,
    pub name: String,
    pub currency: String,
    #[serde(with = "super::stored::date")]
    pub starts_on: NaiveDate,
    #[serde(with = "super::stored::date")]
    pub ends_on: NaiveDate,
    pub metric: ContestMetric,
    /// Only these skus count (empty: no sku restriction).
    pub scope_skus: Vec<String>,
    /// Only these categories count (empty: no category restriction).
    pub scope_categories: Vec<String>,
    /// Only accounts in these tiers at ends_on take part (empty: every contest-eligible tier).
    pub eligible_tiers: Vec<String>,
    /// Accounts below this metric are listed but not ranked.
    #[serde(with = "super::stored::decimal_option")]
    pub min_metric: Option<Decimal>,
    pub prizes: Vec<Prize>,
}

/// ContestClosed v1: the final standings and the prizes awarded, as computed by the server
/// from the log through `through_position`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContestClosed {
    pub contest_id: String,
    /// The day the contest was closed (after its ends_on).
    #[serde(with = "super::stored::date")]
    pub closed_on: NaiveDate,
    /// The last log position whose sales the standings include.
    pub through_position: u64,
    pub standings: Vec<Standing>,
}

/// ContestAwardPaid v1: an account's cash award was paid out; it leaves the liability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContestAwardPaid {
    pub contest_id: String,
    pub account_id: String,
    /// The cash paid: the account's whole cash award.
    #[serde(with = "super::stored::decimal")]
    pub amount: Decimal,
    /// The day it was paid (not after the day it was recorded).
    #[serde(with = "super::stored::date")]
    pub paid_on: NaiveDate,
    /// The caller's payment reference (credit note, payment run).
    pub reference: String,
    /// The token name that marked it paid.
    pub paid_by: String,
}

/// One product of a season and its capacity in whole units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeasonProduct {
    pub sku: String,
    pub capacity: u64,
}

/// The share of a sku's capacity kept for one priority class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeasonReserve {
    pub priority: u32,
    /// Percent of capacity ("20"), at most 4 places; Σ over the season ≤ 100.
    #[serde(with = "super::stored::decimal")]
    #[schema(value_type = String)]
    pub min_share_pct: Decimal,
}

/// SeasonDeclared v1: a peak season with scarce products (DESIGN §5.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeasonDeclared {
    pub season_id: String,
    pub name: String,
    #[serde(with = "super::stored::date")]
    pub starts_on: NaiveDate,
    #[serde(with = "super::stored::date")]
    pub ends_on: NaiveDate,
    pub products: Vec<SeasonProduct>,
    pub reserves: Vec<SeasonReserve>,
}

/// CapacityRevised v1: a product's capacity changed before the plan was committed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityRevised {
    pub season_id: String,
    pub sku: String,
    pub from: u64,
    pub to: u64,
    pub reason: Option<String>,
}

/// AllocationRequested v1: an account asks for whole units of a season's product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationRequested {
    pub season_id: String,
    pub request_id: String,
    pub account_id: String,
    pub sku: String,
    pub quantity: u64,
}

/// AllocationRequestWithdrawn v1: a request no longer counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationRequestWithdrawn {
    pub season_id: String,
    pub request_id: String,
    pub account_id: String,
    pub reason: Option<String>,
}

/// One account's line of a season plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanLine {
    pub account_id: String,
    /// The account's tier on the season's starts_on.
    pub tier: String,
    /// The tier's supply_priority (1 is served first).
    pub priority: u32,
    pub requested: u64,
    pub allocated: u64,
    /// allocated ÷ requested × 100, two places ("66.67").
    #[serde(with = "super::stored::decimal")]
    #[schema(value_type = String)]
    pub fill_pct: Decimal,
    /// Why: "reserve", "priority class", "pro rata", "capacity exhausted" (joined by ", ").
    pub reason: String,
}

/// One product of a season plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuPlan {
    pub sku: String,
    pub capacity: u64,
    pub requested: u64,
    pub allocated: u64,
    /// Per priority class: requested, reserved, allocated.
    pub classes: Vec<ClassAllocation>,
    /// Per account, by priority then account_id.
    pub lines: Vec<PlanLine>,
}

/// AllocationCommitted v1: the plan the planner reviewed, recorded when still current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AllocationCommitted {
    pub season_id: String,
    pub plan_hash: String,
    pub skus: Vec<SkuPlan>,
}

/// Every event the ledger records.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    AccountOpened(AccountOpened),
    AccountUpdated(AccountUpdated),
    RelationshipStageChanged(RelationshipStageChanged),
    AccountClosed(AccountClosed),
    SaleRecorded(SaleRecorded),
    SaleReturned(SaleReturned),
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
    TierPolicyPublished(TierPolicyPublished),
    TierOverrideGranted(TierOverrideGranted),
    TierOverrideRevoked(TierOverrideRevoked),
    DiscountGranted(DiscountGranted),
    DiscountRevoked(DiscountRevoked),
    RebateProgramDefined(RebateProgramDefined),
    RebateProgramEnded(RebateProgramEnded),
    AccountEnrolled(AccountEnrolled),
    AccountUnenrolled(AccountUnenrolled),
    SettlementProposed(SettlementProposed),
    SettlementApproved(SettlementApproved),
    SettlementRejected(SettlementRejected),
    ContestDefined(ContestDefined),
    ContestClosed(ContestClosed),
    ContestAwardPaid(ContestAwardPaid),
    SeasonDeclared(SeasonDeclared),
    CapacityRevised(CapacityRevised),
    AllocationRequested(AllocationRequested),
    AllocationRequestWithdrawn(AllocationRequestWithdrawn),
    AllocationCommitted(AllocationCommitted),
}

/// Stream of the tier policy versions.
pub const POLICY_STREAM: &str = "policy/tiers";

/// Stream of the system-wide facts (tokens).
pub const SYSTEM_STREAM: &str = "system";

/// The stream name of one rebate program.
pub fn program_stream(program_id: &str) -> String {
    format!("program/{program_id}")
}

/// The stream name of one sales contest.
pub fn contest_stream(contest_id: &str) -> String {
    format!("contest/{contest_id}")
}

/// The stream name of one peak season.
pub fn season_stream(season_id: &str) -> String {
    format!("season/{season_id}")
}

/// What every account's stream name starts with.
pub const ACCOUNT_STREAM_PREFIX: &str = "account/";

/// The stream name of one account.
pub fn account_stream(account_id: &str) -> String {
    // Built by hand: every event of an account names its stream, and `format!` costs
    // several times the two copies.
    let mut stream = String::with_capacity(ACCOUNT_STREAM_PREFIX.len() + account_id.len());
    stream.push_str(ACCOUNT_STREAM_PREFIX);
    stream.push_str(account_id);
    stream
}

/// Applies `$body` to the payload struct inside any event variant.
macro_rules! with_payload {
    ($event:expr, $p:ident => $body:expr) => {
        match $event {
            Event::AccountOpened($p) => $body,
            Event::AccountUpdated($p) => $body,
            Event::RelationshipStageChanged($p) => $body,
            Event::AccountClosed($p) => $body,
            Event::SaleRecorded($p) => $body,
            Event::SaleReturned($p) => $body,
            Event::TokenIssued($p) => $body,
            Event::TokenRevoked($p) => $body,
            Event::TierPolicyPublished($p) => $body,
            Event::TierOverrideGranted($p) => $body,
            Event::TierOverrideRevoked($p) => $body,
            Event::DiscountGranted($p) => $body,
            Event::DiscountRevoked($p) => $body,
            Event::RebateProgramDefined($p) => $body,
            Event::RebateProgramEnded($p) => $body,
            Event::AccountEnrolled($p) => $body,
            Event::AccountUnenrolled($p) => $body,
            Event::SettlementProposed($p) => $body,
            Event::SettlementApproved($p) => $body,
            Event::SettlementRejected($p) => $body,
            Event::ContestDefined($p) => $body,
            Event::ContestClosed($p) => $body,
            Event::ContestAwardPaid($p) => $body,
            Event::SeasonDeclared($p) => $body,
            Event::CapacityRevised($p) => $body,
            Event::AllocationRequested($p) => $body,
            Event::AllocationRequestWithdrawn($p) => $body,
            Event::AllocationCommitted($p) => $body,
        }
    };
}

/// Every event type name, for validating audit filters.
pub const EVENT_TYPES: &[&str] = &[
    "AccountOpened",
    "AccountUpdated",
    "RelationshipStageChanged",
    "AccountClosed",
    "SaleRecorded",
    "SaleReturned",
    "TokenIssued",
    "TokenRevoked",
    "TierPolicyPublished",
    "TierOverrideGranted",
    "TierOverrideRevoked",
    "DiscountGranted",
    "DiscountRevoked",
    "RebateProgramDefined",
    "RebateProgramEnded",
    "AccountEnrolled",
    "AccountUnenrolled",
    "SettlementProposed",
    "SettlementApproved",
    "SettlementRejected",
    "ContestDefined",
    "ContestClosed",
    "ContestAwardPaid",
    "SeasonDeclared",
    "CapacityRevised",
    "AllocationRequested",
    "AllocationRequestWithdrawn",
    "AllocationCommitted",
];

impl Event {
    /// The type name stored in the envelope.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::AccountOpened(_) => "AccountOpened",
            Event::AccountUpdated(_) => "AccountUpdated",
            Event::RelationshipStageChanged(_) => "RelationshipStageChanged",
            Event::AccountClosed(_) => "AccountClosed",
            Event::SaleRecorded(_) => "SaleRecorded",
            Event::SaleReturned(_) => "SaleReturned",
            Event::TokenIssued(_) => "TokenIssued",
            Event::TokenRevoked(_) => "TokenRevoked",
            Event::TierPolicyPublished(_) => "TierPolicyPublished",
            Event::TierOverrideGranted(_) => "TierOverrideGranted",
            Event::TierOverrideRevoked(_) => "TierOverrideRevoked",
            Event::DiscountGranted(_) => "DiscountGranted",
            Event::DiscountRevoked(_) => "DiscountRevoked",
            Event::RebateProgramDefined(_) => "RebateProgramDefined",
            Event::RebateProgramEnded(_) => "RebateProgramEnded",
            Event::AccountEnrolled(_) => "AccountEnrolled",
            Event::AccountUnenrolled(_) => "AccountUnenrolled",
            Event::SettlementProposed(_) => "SettlementProposed",
            Event::SettlementApproved(_) => "SettlementApproved",
            Event::SettlementRejected(_) => "SettlementRejected",
            Event::ContestDefined(_) => "ContestDefined",
            Event::ContestClosed(_) => "ContestClosed",
            Event::ContestAwardPaid(_) => "ContestAwardPaid",
            Event::SeasonDeclared(_) => "SeasonDeclared",
            Event::CapacityRevised(_) => "CapacityRevised",
            Event::AllocationRequested(_) => "AllocationRequested",
            Event::AllocationRequestWithdrawn(_) => "AllocationRequestWithdrawn",
            Event::AllocationCommitted(_) => "AllocationCommitted",
        }
    }

    /// The schema version written for new events of this type.
    pub fn schema_version(&self) -> u16 {
        1
    }

    /// The stream the event belongs to.
    pub fn stream(&self) -> String {
        match self {
            Event::AccountOpened(e) => account_stream(&e.account_id),
            Event::AccountUpdated(e) => account_stream(&e.account_id),
            Event::RelationshipStageChanged(e) => account_stream(&e.account_id),
            Event::AccountClosed(e) => account_stream(&e.account_id),
            Event::SaleRecorded(e) => account_stream(&e.account_id),
            Event::SaleReturned(e) => account_stream(&e.account_id),
            Event::TokenIssued(_) | Event::TokenRevoked(_) => SYSTEM_STREAM.to_string(),
            Event::TierPolicyPublished(_) => POLICY_STREAM.to_string(),
            Event::TierOverrideGranted(e) => account_stream(&e.account_id),
            Event::TierOverrideRevoked(e) => account_stream(&e.account_id),
            Event::DiscountGranted(e) => account_stream(&e.account_id),
            Event::DiscountRevoked(e) => account_stream(&e.account_id),
            Event::RebateProgramDefined(e) => program_stream(&e.program_id),
            Event::RebateProgramEnded(e) => program_stream(&e.program_id),
            Event::AccountEnrolled(e) => program_stream(&e.program_id),
            Event::AccountUnenrolled(e) => program_stream(&e.program_id),
            Event::SettlementProposed(e) => program_stream(&e.program_id),
            Event::SettlementApproved(e) => program_stream(&e.program_id),
            Event::SettlementRejected(e) => program_stream(&e.program_id),
            Event::ContestDefined(e) => contest_stream(&e.contest_id),
            Event::ContestClosed(e) => contest_stream(&e.contest_id),
            Event::ContestAwardPaid(e) => contest_stream(&e.contest_id),
            Event::SeasonDeclared(e) => season_stream(&e.season_id),
            Event::CapacityRevised(e) => season_stream(&e.season_id),
            Event::AllocationRequested(e) => season_stream(&e.season_id),
            Event::AllocationRequestWithdrawn(e) => season_stream(&e.season_id),
            Event::AllocationCommitted(e) => season_stream(&e.season_id),
        }
    }

    /// The effect of a sale or return line on its account's sales; `None` for every other
    /// event.
    pub fn line_effect(&self) -> Option<LineEffect<'_>> {
        match self {
            Event::SaleRecorded(e) => Some(e.line_effect()),
            Event::SaleReturned(e) => Some(e.line_effect()),
            _ => None,
        }
    }

    /// The payload bytes stored in the envelope.
    pub fn encode_payload(&self) -> Vec<u8> {
        with_payload!(self, p => codec::encode(p))
    }

    /// The payload as JSON for the audit API and the export.
    pub fn payload_json(&self) -> serde_json::Value {
        // Serializing plain structs of strings, decimals-as-strings and dates cannot fail.
        with_payload!(self, p => serde_json::to_value(p).unwrap_or(serde_json::Value::Null))
    }

    /// Decodes a stored payload, upcasting old schema versions to the current struct.
    pub fn decode(
        type_name: &str,
        schema_version: u16,
        payload: &[u8],
    ) -> Result<Event, CodecError> {
        let event = match (type_name, schema_version) {
            ("AccountOpened", 1) => Event::AccountOpened(codec::decode(payload)?),
            ("AccountUpdated", 1) => Event::AccountUpdated(codec::decode(payload)?),
            ("RelationshipStageChanged", 1) => {
                Event::RelationshipStageChanged(codec::decode(payload)?)
            }
            ("AccountClosed", 1) => Event::AccountClosed(codec::decode(payload)?),
            ("SaleRecorded", 1) => Event::SaleRecorded(codec::decode(payload)?),
            ("SaleReturned", 1) => Event::SaleReturned(codec::decode(payload)?),
            ("TokenIssued", 1) => Event::TokenIssued(codec::decode(payload)?),
            ("TokenRevoked", 1) => Event::TokenRevoked(codec::decode(payload)?),
            ("TierPolicyPublished", 1) => Event::TierPolicyPublished(codec::decode(payload)?),
            ("TierOverrideGranted", 1) => Event::TierOverrideGranted(codec::decode(payload)?),
            ("TierOverrideRevoked", 1) => Event::TierOverrideRevoked(codec::decode(payload)?),
            ("DiscountGranted", 1) => Event::DiscountGranted(codec::decode(payload)?),
            ("DiscountRevoked", 1) => Event::DiscountRevoked(codec::decode(payload)?),
            ("RebateProgramDefined", 1) => Event::RebateProgramDefined(codec::decode(payload)?),
            ("RebateProgramEnded", 1) => Event::RebateProgramEnded(codec::decode(payload)?),
            ("AccountEnrolled", 1) => Event::AccountEnrolled(codec::decode(payload)?),
            ("AccountUnenrolled", 1) => Event::AccountUnenrolled(codec::decode(payload)?),
            ("SettlementProposed", 1) => Event::SettlementProposed(codec::decode(payload)?),
            ("SettlementApproved", 1) => Event::SettlementApproved(codec::decode(payload)?),
            ("SettlementRejected", 1) => Event::SettlementRejected(codec::decode(payload)?),
            ("ContestDefined", 1) => Event::ContestDefined(codec::decode(payload)?),
            ("ContestClosed", 1) => Event::ContestClosed(codec::decode(payload)?),
            ("ContestAwardPaid", 1) => Event::ContestAwardPaid(codec::decode(payload)?),
            ("SeasonDeclared", 1) => Event::SeasonDeclared(codec::decode(payload)?),
            ("CapacityRevised", 1) => Event::CapacityRevised(codec::decode(payload)?),
            ("AllocationRequested", 1) => Event::AllocationRequested(codec::decode(payload)?),
            ("AllocationRequestWithdrawn", 1) => {
                Event::AllocationRequestWithdrawn(codec::decode(payload)?)
            }
            ("AllocationCommitted", 1) => Event::AllocationCommitted(codec::decode(payload)?),
            (other, version) => {
                return Err(CodecError::UnknownEvent {
                    type_name: other.to_string(),
                    schema_version: version,
                })
            }
        };
        Ok(event)
    }
}
