//! Tier policy versions, tier overrides and discounts, each kept with the log position that
//! recorded it (and that revoked it), so any question can be answered as the ledger stood
//! at a position (`known_at`). The decider keeps one too and asks it "as of everything".
//! Also the entitlement answer (DESIGN §5.2): tier, why, and what the next tier lacks.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::daily::DailySales;
use super::events::{DiscountScope, Event};
use super::state::FastMap;
use super::stored::{self, checkpoint_form};
use super::vocab::Stage;
use crate::rules::calendar::window_start;
use crate::rules::tiers::{
    evaluate, metrics_from_days, unclassified_entitlements, Metrics, NextTier, TierEntitlements,
    TierPolicy, UNCLASSIFIED,
};

/// The window used for metrics while no policy is in force.
pub const DEFAULT_WINDOW_MONTHS: u32 = 12;

/// A tier override as granted, with when it was recorded and revoked.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TierOverride {
    pub override_id: String,
    pub tier: String,
    #[schema(value_type = String, format = Date)]
    pub valid_from: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
    #[serde(skip)]
    pub granted_at: u64,
    #[serde(skip)]
    pub revoked_at: Option<u64>,
    /// True once revoked (as of the position asked about).
    pub revoked: bool,
}

/// A discount as granted, with its revocation.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Discount {
    pub discount_id: String,
    pub account_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub percent: Decimal,
    pub scope: DiscountScope,
    pub scope_value: Option<String>,
    #[schema(value_type = String, format = Date)]
    pub valid_from: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
    /// The tier and ceiling the grant was checked against.
    pub tier: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub ceiling_pct: Decimal,
    /// The discount stops applying on this day (revoked), if ever.
    #[schema(value_type = Option<String>, format = Date)]
    pub revoked_from: Option<NaiveDate>,
    #[serde(skip)]
    pub granted_at: u64,
    #[serde(skip)]
    pub revoked_at: Option<u64>,
}

impl Discount {
    /// True when the discount applies on `on` to a line of `sku` / `category`, as known at `cutoff`.
    pub fn applies(
        &self,
        on: NaiveDate,
        sku: Option<&str>,
        category: Option<&str>,
        cutoff: u64,
    ) -> bool {
        let revoked_from = self
            .revoked_from
            .filter(|_| self.revoked_at.is_some_and(|p| p <= cutoff));
        let in_time = self.valid_from <= on
            && self.valid_to.is_none_or(|to| on <= to)
            && revoked_from.is_none_or(|r| on < r);
        let in_scope = match self.scope {
            DiscountScope::All => true,
            DiscountScope::Sku => sku.is_some() && sku == self.scope_value.as_deref(),
            DiscountScope::Category => {
                category.is_some() && category == self.scope_value.as_deref()
            }
        };
        in_time && in_scope
    }
}

/// The checkpoint form of a [`TierOverride`]: every field, the positions included.
#[derive(Serialize, Deserialize)]
#[serde(remote = "TierOverride")]
#[allow(dead_code)] // a mirror: serde reads and builds `TierOverride` through it
struct TierOverrideRecord {
    override_id: String,
    tier: String,
    #[serde(with = "stored::date")]
    valid_from: NaiveDate,
    #[serde(with = "stored::date_option")]
    valid_to: Option<NaiveDate>,
    reason: String,
    granted_at: u64,
    revoked_at: Option<u64>,
    revoked: bool,
}
checkpoint_form!(TierOverride, TierOverrideRecord);

/// The checkpoint form of a [`Discount`]: every field, the positions included.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Discount")]
#[allow(dead_code)] // a mirror: serde reads and builds `Discount` through it
struct DiscountRecord {
    discount_id: String,
    account_id: String,
    #[serde(with = "stored::decimal")]
    percent: Decimal,
    scope: DiscountScope,
    scope_value: Option<String>,
    #[serde(with = "stored::date")]
    valid_from: NaiveDate,
    #[serde(with = "stored::date_option")]
    valid_to: Option<NaiveDate>,
    reason: String,
    tier: String,
    #[serde(with = "stored::decimal")]
    ceiling_pct: Decimal,
    #[serde(with = "stored::date_option")]
    revoked_from: Option<NaiveDate>,
    granted_at: u64,
    revoked_at: Option<u64>,
}
checkpoint_form!(Discount, DiscountRecord);

/// Policies, overrides and discounts with their positions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Incentives {
    /// (position, policy), in log order.
    policies: Vec<(u64, TierPolicy)>,
    #[serde(with = "stored::checkpoint")]
    overrides: FastMap<String, Vec<TierOverride>>,
    #[serde(with = "stored::checkpoint")]
    discounts: FastMap<String, Discount>,
    discounts_by_account: FastMap<String, Vec<String>>,
}

impl Incentives {
    /// Records an event's facts at `position`.
    pub fn apply(&mut self, position: u64, event: &Event) {
        match event {
            Event::TierPolicyPublished(e) => self.policies.push((
                position,
                TierPolicy {
                    version: e.version,
                    effective_from: e.effective_from,
                    window_months: e.window_months,
                    tiers: e.tiers.clone(),
                },
            )),
            Event::TierOverrideGranted(e) => self
                .overrides
                .entry(e.account_id.clone())
                .or_default()
                .push(TierOverride {
                    override_id: e.override_id.clone(),
                    tier: e.tier.clone(),
                    valid_from: e.valid_from,
                    valid_to: e.valid_to,
                    reason: e.reason.clone(),
                    granted_at: position,
                    revoked_at: None,
                    revoked: false,
                }),
            Event::TierOverrideRevoked(e) => {
                if let Some(o) = self
                    .overrides
                    .get_mut(&e.account_id)
                    .and_then(|v| v.iter_mut().find(|o| o.override_id == e.override_id))
                {
                    o.revoked_at = Some(position);
                }
            }
            Event::DiscountGranted(e) => {
                self.discounts_by_account
                    .entry(e.account_id.clone())
                    .or_default()
                    .push(e.discount_id.clone());
                self.discounts.insert(
                    e.discount_id.clone(),
                    Discount {
                        discount_id: e.discount_id.clone(),
                        account_id: e.account_id.clone(),
                        percent: e.percent,
                        scope: e.scope,
                        scope_value: e.scope_value.clone(),
                        valid_from: e.valid_from,
                        valid_to: e.valid_to,
                        reason: e.reason.clone(),
                        tier: e.tier.clone(),
                        ceiling_pct: e.ceiling_pct,
                        revoked_from: None,
                        granted_at: position,
                        revoked_at: None,
                    },
                );
            }
            Event::DiscountRevoked(e) => {
                if let Some(d) = self.discounts.get_mut(&e.discount_id) {
                    d.revoked_from = Some(e.effective_on);
                    d.revoked_at = Some(position);
                }
            }
            _ => {}
        }
    }

    /// Every fact, one line each, in a stable order (for the projections digest).
    pub fn digest_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.policies.iter().map(|p| format!("p|{p:?}")).collect();
        let mut overrides: Vec<String> = self
            .overrides
            .iter()
            .map(|(a, o)| format!("o|{a}|{o:?}"))
            .collect();
        let mut discounts: Vec<String> = self
            .discounts
            .iter()
            .map(|(id, d)| format!("x|{id}|{d:?}"))
            .collect();
        overrides.sort_unstable();
        discounts.sort_unstable();
        lines.extend(overrides);
        lines.extend(discounts);
        lines
    }

    /// Policy versions recorded at or before `cutoff`, in version order.
    pub fn policies(&self, cutoff: u64) -> Vec<TierPolicy> {
        self.policies
            .iter()
            .filter(|(p, _)| *p <= cutoff)
            .map(|(_, policy)| policy.clone())
            .collect()
    }

    /// The number of policy versions published.
    pub fn policy_count(&self) -> u32 {
        self.policies.len() as u32
    }

    /// The account's overrides as known at `cutoff`.
    pub fn overrides(&self, account_id: &str, cutoff: u64) -> Vec<TierOverride> {
        self.overrides
            .get(account_id)
            .map(|list| {
                list.iter()
                    .filter(|o| o.granted_at <= cutoff)
                    .map(|o| TierOverride {
                        revoked: o.revoked_at.is_some_and(|r| r <= cutoff),
                        ..o.clone()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An override by id (any account), as it stands now.
    pub fn find_override(&self, account_id: &str, override_id: &str) -> Option<&TierOverride> {
        self.overrides
            .get(account_id)?
            .iter()
            .find(|o| o.override_id == override_id)
    }

    /// A discount by id, as it stands now.
    pub fn discount(&self, discount_id: &str) -> Option<&Discount> {
        self.discounts.get(discount_id)
    }

    /// The account's discounts recorded at or before `cutoff` (revocations after it unseen).
    pub fn discounts(&self, account_id: &str, cutoff: u64) -> Vec<Discount> {
        self.discounts_by_account
            .get(account_id)
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| self.discounts.get(id))
                    .filter(|d| d.granted_at <= cutoff)
                    .map(|d| {
                        let revoked_known = d.revoked_at.is_some_and(|r| r <= cutoff);
                        Discount {
                            revoked_from: d.revoked_from.filter(|_| revoked_known),
                            revoked_at: d.revoked_at.filter(|_| revoked_known),
                            ..d.clone()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tier and its supply_priority that allocation uses for an account on a season's
    /// starts_on (DESIGN §5.6), as known at `cutoff`. The plan the API shows and the plan
    /// the writer commits both come from here, so their hashes agree. An account the
    /// ledger does not know counts from the first relationship stage.
    pub fn supply_tier(
        &self,
        account_id: &str,
        on: NaiveDate,
        cutoff: u64,
        daily: Option<&DailySales>,
        stage: Option<Stage>,
    ) -> (String, u32) {
        let stage = stage.unwrap_or(Stage::Exploratory);
        let entitlement = self.entitlement(account_id, on, cutoff, daily, stage);
        (entitlement.tier, entitlement.entitlements.supply_priority)
    }

    /// The account's tier and entitlements on `as_of`, as known at `cutoff`.
    pub fn entitlement(
        &self,
        account_id: &str,
        as_of: NaiveDate,
        cutoff: u64,
        daily: Option<&DailySales>,
        stage: Stage,
    ) -> Entitlement {
        // The policy in force (as `rules::tiers::policy_in_force`), borrowed: this runs once
        // per account of a plan or a report, and cloning every version each time showed.
        let policy = self
            .policies
            .iter()
            .filter(|(position, p)| *position <= cutoff && p.effective_from <= as_of)
            .map(|(_, p)| p)
            .max_by_key(|p| (p.effective_from, p.version));
        let window_months = policy
            .map(|p| p.window_months)
            .unwrap_or(DEFAULT_WINDOW_MONTHS);
        let start = window_start(as_of, window_months);
        let days = daily
            .into_iter()
            .flat_map(|d| d.between(start, as_of))
            .map(|(day, t)| (day, t.net, t.cost));
        let metrics = metrics_from_days(start, as_of, days);
        let Some(policy) = policy else {
            return Entitlement {
                account_id: account_id.to_string(),
                as_of,
                tier: UNCLASSIFIED.to_string(),
                source: "criteria".to_string(),
                criteria_tier: UNCLASSIFIED.to_string(),
                policy_version: None,
                relationship_stage: stage,
                metrics,
                entitlements: unclassified_entitlements(),
                next_tier: None,
                tier_override: None,
            };
        };
        let evaluation = evaluate(&policy.tiers, &metrics, stage);
        let criteria_tier = &policy.tiers[evaluation.tier_index];
        // The latest granted override active on as_of that names a tier of this policy.
        let active = self
            .overrides(account_id, cutoff)
            .into_iter()
            .filter(|o| {
                !o.revoked && o.valid_from <= as_of && o.valid_to.is_none_or(|to| as_of <= to)
            })
            .filter(|o| policy.tiers.iter().any(|t| t.name == o.tier))
            .max_by_key(|o| o.granted_at);
        let (tier, source) = match &active {
            Some(o) => (
                policy
                    .tiers
                    .iter()
                    .find(|t| t.name == o.tier)
                    .unwrap_or(criteria_tier),
                "override",
            ),
            None => (criteria_tier, "criteria"),
        };
        Entitlement {
            account_id: account_id.to_string(),
            as_of,
            tier: tier.name.clone(),
            source: source.to_string(),
            criteria_tier: criteria_tier.name.clone(),
            policy_version: Some(policy.version),
            relationship_stage: stage,
            metrics,
            entitlements: tier.entitlements.clone(),
            next_tier: evaluation.next_tier,
            tier_override: active,
        }
    }
}

/// What an account is entitled to on a date, and why (DESIGN §6).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Entitlement {
    pub account_id: String,
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub tier: String,
    /// `criteria` or `override`.
    pub source: String,
    /// The tier the criteria alone give.
    pub criteria_tier: String,
    pub policy_version: Option<u32>,
    pub relationship_stage: Stage,
    pub metrics: Metrics,
    pub entitlements: TierEntitlements,
    /// The next better tier and every criterion it lacks (by the criteria, not the override).
    pub next_tier: Option<NextTier>,
    /// The override that decided the tier, when `source` is `override`.
    #[serde(rename = "override")]
    pub tier_override: Option<TierOverride>,
}
