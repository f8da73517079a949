//! Tier policy (DESIGN §5.2): validation, metrics over a window, evaluation with the
//! shortfalls that explain the answer, and which policy version is in force.
//!
//! The policy structs double as event payloads: decimals are strings in JSON and 16 bytes
//! in the stored binary form (`domain::stored`), dates likewise.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::calendar::month_index;
use super::{exact_percent, round_percent};
use crate::kernel::field::FieldError;
use crate::kernel::ids::is_valid_id;
use crate::kernel::money::MONEY_PLACES_MAX;
use crate::kernel::vocab::Stage;

/// The tier of every account while no policy is in force.
pub const UNCLASSIFIED: &str = "unclassified";

/// Shortest metric window a policy may use.
pub const WINDOW_MONTHS_MIN: u32 = 1;
/// Longest metric window: three years of history is as far back as key-account reviews look,
/// and it bounds the months a metrics query has to add up.
pub const WINDOW_MONTHS_MAX: u32 = 36;

/// The conditions of one tier; an absent criterion always holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierCriteria {
    /// Net revenue over the window at least this much (currency units, "5000000").
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub min_net_revenue: Option<Decimal>,
    /// Gross margin percent over the window at least this much ("12.5"); fails without a margin.
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub min_margin_pct: Option<Decimal>,
    /// At least this many calendar months of the window with positive net revenue.
    #[serde(default)]
    pub min_active_months: Option<u32>,
    /// Relationship stage at least this far along.
    #[serde(default)]
    pub min_stage: Option<Stage>,
}

impl TierCriteria {
    /// True when the tier states no criterion at all (what the last tier must be).
    pub fn is_empty(&self) -> bool {
        self.min_net_revenue.is_none()
            && self.min_margin_pct.is_none()
            && self.min_active_months.is_none()
            && self.min_stage.is_none()
    }
}

/// What a tier is entitled to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierEntitlements {
    /// Highest discount percent a manager may grant ("5").
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub max_discount_pct: Decimal,
    /// Order of service when supply is short; 1 is served first.
    pub supply_priority: u32,
    /// Whether the account may win sales contests.
    pub contest_eligible: bool,
}

/// One tier of a policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierDefinition {
    pub name: String,
    #[serde(default)]
    pub criteria: TierCriteria,
    pub entitlements: TierEntitlements,
}

/// One published version of the tier policy; tiers are listed best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierPolicy {
    pub version: u32,
    #[serde(with = "crate::kernel::stored::date")]
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    pub window_months: u32,
    pub tiers: Vec<TierDefinition>,
}

/// The entitlements of [`UNCLASSIFIED`] accounts (DESIGN §5.2): no discount, served last,
/// still allowed in contests.
pub fn unclassified_entitlements() -> TierEntitlements {
    TierEntitlements {
        max_discount_pct: Decimal::ZERO,
        supply_priority: 100,
        contest_eligible: true,
    }
}

/// Every problem of a policy about to be published, each with a stable code and the path
/// of the field (`tiers[2].criteria.min_margin_pct`). Empty means the policy is valid.
///
/// Tier names are compared ignoring ASCII case, both for duplicates and for the reserved
/// `unclassified`: "Key" next to "key" would make `?tier=key` ambiguous to a reader.
pub fn validate_policy(window_months: u32, tiers: &[TierDefinition]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !(WINDOW_MONTHS_MIN..=WINDOW_MONTHS_MAX).contains(&window_months) {
        push(
            &mut errors,
            "window_months".into(),
            "invalid_window",
            format!(
                "window_months {window_months} must be from {WINDOW_MONTHS_MIN} to {WINDOW_MONTHS_MAX}"
            ),
        );
    }
    if tiers.is_empty() {
        push(
            &mut errors,
            "tiers".into(),
            "no_tiers",
            "a policy needs at least one tier; list them best first, the last without criteria"
                .into(),
        );
    }
    for i in 0..tiers.len() {
        check_tier_name(&mut errors, tiers, i);
        check_tier_criteria(&mut errors, tiers, i);
        check_tier_entitlements(&mut errors, i, &tiers[i].entitlements);
    }
    errors
}

fn push(errors: &mut Vec<FieldError>, field: String, code: &str, message: String) {
    errors.push(FieldError::new(None, &field, code, message));
}

/// `invalid_id`, `reserved_tier_name` and `duplicate_tier_name` (of an earlier tier) for
/// `tiers[i]`.
fn check_tier_name(errors: &mut Vec<FieldError>, tiers: &[TierDefinition], i: usize) {
    let name = &tiers[i].name;
    let field = format!("tiers[{i}].name");
    if !is_valid_id(name) {
        push(
            errors,
            field.clone(),
            "invalid_id",
            format!("\"{name}\" must match ^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$"),
        );
    } else if name.eq_ignore_ascii_case(UNCLASSIFIED) {
        push(
            errors,
            field.clone(),
            "reserved_tier_name",
            format!("\"{name}\" is reserved for accounts without a policy; choose another name"),
        );
    }
    if let Some(first) = tiers[..i]
        .iter()
        .position(|t| t.name.eq_ignore_ascii_case(name))
    {
        push(
            errors,
            field,
            "duplicate_tier_name",
            format!("\"{name}\" is already the name of tiers[{first}]"),
        );
    }
}

/// The criteria of `tiers[i]`: none on the last tier and some on every other, each within
/// its range.
fn check_tier_criteria(errors: &mut Vec<FieldError>, tiers: &[TierDefinition], i: usize) {
    let tier = &tiers[i];
    let at = |field: &str| format!("tiers[{i}].{field}");
    let last = i + 1 == tiers.len();
    if last && !tier.criteria.is_empty() {
        push(
            errors,
            at("criteria"),
            "last_tier_has_criteria",
            format!(
                "the last tier \"{}\" must have no criteria so that every account gets a tier",
                tier.name
            ),
        );
    }
    if !last && tier.criteria.is_empty() {
        push(
            errors,
            at("criteria"),
            "tier_without_criteria",
            format!(
                "tier \"{}\" needs at least one criterion; only the last tier may have none",
                tier.name
            ),
        );
    }
    if let Some(amount) = tier.criteria.min_net_revenue {
        if amount < Decimal::ZERO {
            push(
                errors,
                at("criteria.min_net_revenue"),
                "negative_amount",
                format!("min_net_revenue \"{amount}\" must not be negative"),
            );
        } else if amount.scale() > MONEY_PLACES_MAX {
            // A policy serves every currency: the most places any of them has, as written.
            push(
                errors,
                at("criteria.min_net_revenue"),
                "too_many_decimals",
                format!(
                    "min_net_revenue \"{amount}\" has more than {MONEY_PLACES_MAX} decimal places"
                ),
            );
        }
    }
    if let Some(percent) = tier.criteria.min_margin_pct {
        if !is_percent(percent) {
            push(
                errors,
                at("criteria.min_margin_pct"),
                "percent_out_of_range",
                format!("min_margin_pct \"{percent}\" must be from 0 to 100"),
            );
        }
    }
}

/// The entitlements of `tiers[i]`: a discount percent from 0 to 100, a supply priority ≥ 1.
fn check_tier_entitlements(
    errors: &mut Vec<FieldError>,
    i: usize,
    entitlements: &TierEntitlements,
) {
    let percent = entitlements.max_discount_pct;
    if !is_percent(percent) {
        push(
            errors,
            format!("tiers[{i}].entitlements.max_discount_pct"),
            "percent_out_of_range",
            format!("max_discount_pct \"{percent}\" must be from 0 to 100"),
        );
    }
    if entitlements.supply_priority < 1 {
        push(
            errors,
            format!("tiers[{i}].entitlements.supply_priority"),
            "invalid_supply_priority",
            "supply_priority must be 1 or more (1 is served first)".into(),
        );
    }
}

fn is_percent(value: Decimal) -> bool {
    (Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&value)
}

/// An account's figures over one window, as the entitlement answer shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Metrics {
    /// First day inside the window.
    #[serde(with = "crate::kernel::stored::date")]
    #[schema(value_type = String, format = Date)]
    pub window_start: NaiveDate,
    /// Last day inside the window (the as-of date).
    #[serde(with = "crate::kernel::stored::date")]
    #[schema(value_type = String, format = Date)]
    pub window_end: NaiveDate,
    /// Sales minus returns.
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub net_revenue: Decimal,
    /// Σ(net − cost).
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub gross_margin: Decimal,
    /// gross_margin / net_revenue × 100, two places; absent when net_revenue ≤ 0.
    #[serde(with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub margin_pct: Option<Decimal>,
    /// Calendar months of the window with positive net revenue.
    pub active_months: u32,
}

/// Gross margin as a percent of net revenue, rounded by [`round_percent`]; `None` when
/// net revenue is zero or negative (a margin of nothing is not a number).
pub fn margin_pct(net_revenue: Decimal, gross_margin: Decimal) -> Option<Decimal> {
    exact_percent(gross_margin, net_revenue).map(round_percent)
}

/// Metrics over the days of [window_start, as_of] from per-day `(day, net, cost)` totals.
///
/// Days outside the window are ignored. Callers pass totals in which a return already
/// counts on its original sale's day (DESIGN §5.1). A month partly inside the window
/// counts as active when its in-window days add up to positive net revenue.
pub fn metrics_from_days(
    window_start: NaiveDate,
    as_of: NaiveDate,
    days: impl IntoIterator<Item = (NaiveDate, Decimal, Decimal)>,
) -> Metrics {
    let first_month = month_index(window_start);
    let month_count = (month_index(as_of) - first_month + 1).max(0) as usize;
    let mut month_net = vec![Decimal::ZERO; month_count];
    let mut net_revenue = Decimal::ZERO;
    let mut gross_margin = Decimal::ZERO;
    // The ledger's sale totals are bounded (`domain::limits`), so these sums stay within
    // ±2·10^18; saturating keeps even a ledger written before the limits from panicking.
    for (day, net, cost) in days {
        if day < window_start || day > as_of {
            continue;
        }
        net_revenue = net_revenue.saturating_add(net);
        gross_margin = gross_margin.saturating_add(net.saturating_sub(cost));
        let month = &mut month_net[(month_index(day) - first_month) as usize];
        *month = month.saturating_add(net);
    }
    let active_months = month_net.iter().filter(|n| **n > Decimal::ZERO).count() as u32;
    Metrics {
        window_start,
        window_end: as_of,
        net_revenue,
        gross_margin,
        margin_pct: margin_pct(net_revenue, gross_margin),
        active_months,
    }
}

/// One criterion of the next better tier that the account does not meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Shortfall {
    /// The criterion's field name, e.g. `min_net_revenue`.
    pub criterion: String,
    /// The threshold, as written in the policy ("5000000", "cooperative").
    pub required: String,
    /// The account's figure ("1234567.00"; "none" for an absent margin).
    pub actual: String,
    /// required − actual for numeric criteria with a figure; absent otherwise.
    pub gap: Option<String>,
}

/// The next better tier and everything that keeps the account out of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NextTier {
    /// Position of the tier in the policy (0 = best).
    pub index: usize,
    pub name: String,
    pub shortfalls: Vec<Shortfall>,
}

/// The tier the criteria give, and the explanation towards the next better one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Evaluation {
    /// Position in the policy's tiers (0 = best) of the first tier whose criteria all hold.
    pub tier_index: usize,
    /// The tier just better than the one reached; absent at the top.
    pub next_tier: Option<NextTier>,
}

/// The criteria of `criteria` that `metrics` and `stage` fail, in field order; empty when
/// the tier is reached. Reaching and explaining share this one function so they cannot
/// disagree. A threshold met exactly qualifies.
pub fn shortfalls(criteria: &TierCriteria, metrics: &Metrics, stage: Stage) -> Vec<Shortfall> {
    let mut missing = Vec::new();
    if let Some(required) = criteria.min_net_revenue {
        if metrics.net_revenue < required {
            missing.push(numeric_shortfall(
                "min_net_revenue",
                required,
                metrics.net_revenue,
            ));
        }
    }
    if let Some(required) = criteria.min_margin_pct {
        match metrics.margin_pct {
            Some(actual) if actual >= required => {}
            Some(actual) => missing.push(numeric_shortfall("min_margin_pct", required, actual)),
            None => missing.push(Shortfall {
                criterion: "min_margin_pct".into(),
                required: required.to_string(),
                actual: "none".into(),
                gap: None,
            }),
        }
    }
    if let Some(required) = criteria.min_active_months {
        if metrics.active_months < required {
            missing.push(Shortfall {
                criterion: "min_active_months".into(),
                required: required.to_string(),
                actual: metrics.active_months.to_string(),
                gap: Some((required - metrics.active_months).to_string()),
            });
        }
    }
    if let Some(required) = criteria.min_stage {
        if stage < required {
            missing.push(Shortfall {
                criterion: "min_stage".into(),
                required: required.as_str().into(),
                actual: stage.as_str().into(),
                gap: None,
            });
        }
    }
    missing
}

/// The shortfall of a numeric criterion: the threshold, the account's figure and the gap.
pub fn numeric_shortfall(criterion: &str, required: Decimal, actual: Decimal) -> Shortfall {
    Shortfall {
        criterion: criterion.into(),
        required: required.to_string(),
        actual: actual.to_string(),
        gap: required.checked_sub(actual).map(|gap| gap.to_string()),
    }
}

/// True when every criterion of `criteria` holds.
pub fn qualifies(criteria: &TierCriteria, metrics: &Metrics, stage: Stage) -> bool {
    shortfalls(criteria, metrics, stage).is_empty()
}

/// The first tier (best first) whose criteria all hold, and the shortfalls towards the
/// tier just above it.
///
/// `tiers` must be a validated policy ([`validate_policy`]): not empty, the last tier
/// without criteria. Should no tier qualify anyway, the last tier is the answer, since a
/// valid policy gives every account its last tier.
pub fn evaluate(policy_tiers: &[TierDefinition], metrics: &Metrics, stage: Stage) -> Evaluation {
    assert!(
        !policy_tiers.is_empty(),
        "a published policy has at least one tier"
    );
    let tier_index = policy_tiers
        .iter()
        .position(|t| qualifies(&t.criteria, metrics, stage))
        .unwrap_or(policy_tiers.len() - 1);
    let next_tier = tier_index.checked_sub(1).map(|index| {
        let better = &policy_tiers[index];
        NextTier {
            index,
            name: better.name.clone(),
            shortfalls: shortfalls(&better.criteria, metrics, stage),
        }
    });
    Evaluation {
        tier_index,
        next_tier,
    }
}

/// The policy in force on `on`: the one with the latest `effective_from` not after `on`,
/// the higher version when two share that date. `None` before the first policy.
pub fn policy_in_force(policies: &[TierPolicy], on: NaiveDate) -> Option<&TierPolicy> {
    policies
        .iter()
        .filter(|p| p.effective_from <= on)
        .max_by_key(|p| (p.effective_from, p.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn tier(name: &str, criteria: TierCriteria, priority: u32) -> TierDefinition {
        TierDefinition {
            name: name.into(),
            criteria,
            entitlements: TierEntitlements {
                max_discount_pct: Decimal::from(10 - priority.min(10)),
                supply_priority: priority,
                contest_eligible: true,
            },
        }
    }

    /// strategic / key / major / general with the fake-big-account guards.
    fn demo_tiers() -> Vec<TierDefinition> {
        vec![
            tier(
                "strategic",
                TierCriteria {
                    min_net_revenue: Some(d("5000000")),
                    min_margin_pct: Some(d("12")),
                    min_active_months: Some(10),
                    min_stage: Some(Stage::Interdependent),
                },
                1,
            ),
            tier(
                "key",
                TierCriteria {
                    min_net_revenue: Some(d("1000000")),
                    min_margin_pct: Some(d("10")),
                    min_active_months: Some(9),
                    min_stage: None,
                },
                2,
            ),
            tier(
                "major",
                TierCriteria {
                    min_net_revenue: Some(d("200000")),
                    ..TierCriteria::default()
                },
                3,
            ),
            tier("general", TierCriteria::default(), 4),
        ]
    }

    fn metrics(net: &str, margin: &str, active_months: u32) -> Metrics {
        let (net, margin) = (d(net), d(margin));
        Metrics {
            window_start: date("2025-07-01"),
            window_end: date("2026-06-30"),
            net_revenue: net,
            gross_margin: margin,
            margin_pct: margin_pct(net, margin),
            active_months,
        }
    }

    fn tier_name(m: &Metrics, stage: Stage) -> String {
        let tiers = demo_tiers();
        tiers[evaluate(&tiers, m, stage).tier_index].name.clone()
    }

    #[test]
    fn exactly_at_a_threshold_qualifies_and_a_cent_below_does_not() {
        // Proves thresholds are inclusive: 1000000.00 reaches key, 999999.99 stays major.
        assert_eq!(
            tier_name(&metrics("1000000.00", "100000.00", 9), Stage::Basic),
            "key"
        );
        assert_eq!(
            tier_name(&metrics("999999.99", "100000.00", 9), Stage::Basic),
            "major"
        );
        // margin exactly 10.00 %, then 9.99 %.
        assert_eq!(
            tier_name(&metrics("2000000.00", "200000.00", 12), Stage::Basic),
            "key"
        );
        assert_eq!(
            tier_name(&metrics("2000000.00", "199800.00", 12), Stage::Basic),
            "major"
        );
        // active months exactly 9, then 8.
        assert_eq!(
            tier_name(&metrics("2000000.00", "400000.00", 9), Stage::Basic),
            "key"
        );
        assert_eq!(
            tier_name(&metrics("2000000.00", "400000.00", 8), Stage::Basic),
            "major"
        );
        assert_eq!(
            tier_name(&metrics("200000", "0", 0), Stage::Exploratory),
            "major"
        );
        assert_eq!(
            tier_name(&metrics("0", "0", 0), Stage::Exploratory),
            "general"
        );
    }

    #[test]
    fn margin_pct_is_rounded_once_and_absent_without_revenue() {
        // Proves margin_pct rounds half away from zero to 2 places and is None for net ≤ 0.
        assert_eq!(
            margin_pct(d("1234567.00"), d("150000.00")),
            Some(d("12.15"))
        );
        assert_eq!(margin_pct(d("200"), d("0.01")).unwrap().to_string(), "0.01"); // 0.005 → 0.01
        assert_eq!(
            margin_pct(d("200"), d("-0.01")).unwrap().to_string(),
            "-0.01"
        );
        assert_eq!(margin_pct(d("8"), d("1")).unwrap().to_string(), "12.50");
        assert_eq!(margin_pct(Decimal::ZERO, d("5")), None);
        assert_eq!(margin_pct(d("-100"), d("-20")), None);
    }

    #[test]
    fn missing_margin_fails_min_margin_pct() {
        // Proves an account without a margin (net ≤ 0) never meets a margin criterion, shown as "none".
        let tiers = vec![
            tier(
                "margined",
                TierCriteria {
                    min_margin_pct: Some(Decimal::ZERO),
                    ..TierCriteria::default()
                },
                1,
            ),
            tier("rest", TierCriteria::default(), 2),
        ];
        let m = metrics("0", "0", 0);
        let e = evaluate(&tiers, &m, Stage::Integrated);
        assert_eq!(e.tier_index, 1);
        let next = e.next_tier.unwrap();
        assert_eq!(
            next.shortfalls,
            vec![Shortfall {
                criterion: "min_margin_pct".into(),
                required: "0".into(),
                actual: "none".into(),
                gap: None,
            }]
        );
    }

    #[test]
    fn one_off_bulk_buyer_is_kept_out_by_active_months() {
        // Proves a huge single-month purchase does not make a key account without steady trade.
        let days = vec![(date("2026-03-10"), d("9000000.00"), d("7000000.00"))];
        let m = metrics_from_days(date("2025-07-01"), date("2026-06-30"), days);
        assert_eq!(m.active_months, 1);
        assert_eq!(m.margin_pct, Some(d("22.22")));
        let tiers = demo_tiers();
        let e = evaluate(&tiers, &m, Stage::Integrated);
        assert_eq!(tiers[e.tier_index].name, "major");
        let next = e.next_tier.unwrap();
        assert_eq!(next.name, "key");
        assert_eq!(
            next.shortfalls,
            vec![Shortfall {
                criterion: "min_active_months".into(),
                required: "9".into(),
                actual: "1".into(),
                gap: Some("8".into()),
            }]
        );
    }

    #[test]
    fn low_margin_giant_is_kept_out_by_min_margin() {
        // Proves a giant buying at near cost does not get the strategic or key tier.
        let m = metrics("20000000.00", "600000.00", 12); // 3.00 %
        let tiers = demo_tiers();
        let e = evaluate(&tiers, &m, Stage::Integrated);
        assert_eq!(tiers[e.tier_index].name, "major");
        let next = e.next_tier.unwrap();
        assert_eq!(next.name, "key");
        assert_eq!(
            next.shortfalls,
            vec![Shortfall {
                criterion: "min_margin_pct".into(),
                required: "10".into(),
                actual: "3.00".into(),
                gap: Some("7.00".into()),
            }]
        );
    }

    #[test]
    fn stage_criterion_gates_the_top_tier() {
        // Proves min_stage is compared in stage order and its shortfall names the stages, no gap.
        let m = metrics("6000000.00", "900000.00", 12);
        assert_eq!(tier_name(&m, Stage::Interdependent), "strategic");
        assert_eq!(tier_name(&m, Stage::Integrated), "strategic");
        let tiers = demo_tiers();
        let e = evaluate(&tiers, &m, Stage::Cooperative);
        assert_eq!(e.tier_index, 1);
        assert_eq!(
            e.next_tier.unwrap().shortfalls,
            vec![Shortfall {
                criterion: "min_stage".into(),
                required: "interdependent".into(),
                actual: "cooperative".into(),
                gap: None,
            }]
        );
    }

    #[test]
    fn shortfalls_list_every_failing_criterion_with_gaps() {
        // Proves the explanation lists each failing criterion of the next tier with required, actual and gap.
        let m = metrics("1234567.00", "150000.00", 11);
        let tiers = demo_tiers();
        let e = evaluate(&tiers, &m, Stage::Cooperative);
        assert_eq!(tiers[e.tier_index].name, "key");
        let next = e.next_tier.clone().unwrap();
        assert_eq!((next.index, next.name.as_str()), (0, "strategic"));
        assert_eq!(
            next.shortfalls,
            vec![
                Shortfall {
                    criterion: "min_net_revenue".into(),
                    required: "5000000".into(),
                    actual: "1234567.00".into(),
                    gap: Some("3765433.00".into()),
                },
                Shortfall {
                    criterion: "min_stage".into(),
                    required: "interdependent".into(),
                    actual: "cooperative".into(),
                    gap: None,
                },
            ]
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["next_tier"]["shortfalls"][0]["gap"], "3765433.00");
        // At the top there is nothing further to explain.
        let top = evaluate(&tiers, &metrics("6000000", "900000", 12), Stage::Integrated);
        assert_eq!((top.tier_index, top.next_tier), (0, None));
    }

    #[test]
    fn metrics_count_the_window_edges_and_months() {
        // Proves a sale on the first and the last day of the window counts and one day outside does not.
        let start = date("2025-07-01");
        let as_of = date("2026-06-30");
        let days = vec![
            (date("2025-06-30"), d("1000.00"), d("0")), // one day before the window
            (date("2025-07-01"), d("100.00"), d("60.00")), // first day
            (date("2026-06-30"), d("300.00"), d("200.00")), // last day
            (date("2026-07-01"), d("1000.00"), d("0")), // one day after
            (date("2026-01-15"), d("50.00"), d("50.00")),
            (date("2026-01-20"), d("-50.00"), d("-50.00")), // a month netted to zero
        ];
        let m = metrics_from_days(start, as_of, days);
        assert_eq!(m.net_revenue, d("400.00"));
        assert_eq!(m.gross_margin, d("140.00"));
        assert_eq!(m.margin_pct, Some(d("35.00")));
        assert_eq!(m.active_months, 2);
        assert_eq!((m.window_start, m.window_end), (start, as_of));
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["window_start"], "2025-07-01");
        assert_eq!(json["net_revenue"], "400.00");
        assert_eq!(json["margin_pct"], "35.00");
    }

    #[test]
    fn returns_move_an_account_down_a_tier() {
        // Proves that a return counted on the sale's day takes the account back below the threshold.
        let start = date("2025-07-01");
        let as_of = date("2026-06-30");
        // Ten months of 100,000.00 at 20 % margin: exactly the key threshold.
        let mut days: Vec<_> = (0..10)
            .map(|m| {
                (
                    crate::rules::calendar::add_months_clamped(start, m),
                    d("100000.00"),
                    d("80000.00"),
                )
            })
            .collect();
        let before = metrics_from_days(start, as_of, days.clone());
        assert_eq!(tier_name(&before, Stage::Basic), "key");
        // A return dated months later but counted on the original sale's day.
        days.push((start, d("-100.00"), d("-80.00")));
        let after = metrics_from_days(start, as_of, days);
        assert_eq!(tier_name(&after, Stage::Basic), "major");
    }

    #[test]
    fn policy_in_force_follows_effective_dates_then_versions() {
        // Proves the policy in force is the latest effective one on the date, the higher version on a tie.
        let policy = |version, from: &str| TierPolicy {
            version,
            effective_from: date(from),
            window_months: 12,
            tiers: demo_tiers(),
        };
        let policies = vec![
            policy(1, "2026-01-01"),
            policy(2, "2026-07-01"),
            policy(3, "2026-07-01"),
            policy(4, "2026-04-01"), // published later, effective earlier than 2 and 3
        ];
        let version = |on: &str| policy_in_force(&policies, date(on)).map(|p| p.version);
        assert_eq!(version("2025-12-31"), None);
        assert_eq!(version("2026-01-01"), Some(1));
        assert_eq!(version("2026-03-31"), Some(1));
        assert_eq!(version("2026-04-01"), Some(4));
        assert_eq!(version("2026-06-30"), Some(4));
        assert_eq!(version("2026-07-01"), Some(3));
        assert_eq!(policy_in_force(&[], date("2026-07-01")), None);
    }

    #[test]
    fn policies_travel_as_json_and_binary() {
        // Proves the policy struct reads the documented JSON (decimals as strings) and round-trips in the stored form.
        let json = r#"{"version":2,"effective_from":"2026-07-01","window_months":12,"tiers":[
            {"name":"key","criteria":{"min_net_revenue":"1000000","min_stage":"cooperative"},
             "entitlements":{"max_discount_pct":"5","supply_priority":2,"contest_eligible":true}},
            {"name":"general","entitlements":{"max_discount_pct":"0","supply_priority":9,"contest_eligible":false}}]}"#;
        let policy: TierPolicy = serde_json::from_str(json).unwrap();
        assert_eq!(policy.tiers[0].criteria.min_net_revenue, Some(d("1000000")));
        assert_eq!(policy.tiers[0].criteria.min_stage, Some(Stage::Cooperative));
        assert!(policy.tiers[1].criteria.is_empty());
        assert!(validate_policy(policy.window_months, &policy.tiers).is_empty());
        let back = serde_json::to_value(&policy).unwrap();
        assert_eq!(back["tiers"][0]["entitlements"]["max_discount_pct"], "5");
        let bytes = crate::ledger::codec::encode(&policy);
        assert_eq!(
            crate::ledger::codec::decode::<TierPolicy>(&bytes).unwrap(),
            policy
        );
        assert!(serde_json::from_str::<TierCriteria>(r#"{"min_revenue":"1"}"#).is_err());
        assert!(serde_json::from_str::<TierCriteria>(r#"{"min_net_revenue":1.5}"#).is_err());
    }

    fn codes(window_months: u32, tiers: &[TierDefinition]) -> Vec<(String, String)> {
        validate_policy(window_months, tiers)
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    fn pair(field: &str, code: &str) -> (String, String) {
        (field.to_string(), code.to_string())
    }

    #[test]
    fn validation_accepts_the_demo_policy() {
        // Proves a well-formed policy has no errors, and unclassified entitlements match DESIGN §5.2.
        assert!(validate_policy(12, &demo_tiers()).is_empty());
        assert!(validate_policy(1, &demo_tiers()[3..]).is_empty());
        let e = unclassified_entitlements();
        assert_eq!(
            (e.max_discount_pct, e.supply_priority, e.contest_eligible),
            (Decimal::ZERO, 100, true)
        );
    }

    #[test]
    fn validation_names_every_violation() {
        // Proves each rule yields its stable code on the exact field path.
        assert_eq!(codes(12, &[]), vec![pair("tiers", "no_tiers")]);
        assert_eq!(
            codes(0, &demo_tiers()),
            vec![pair("window_months", "invalid_window")]
        );
        assert_eq!(
            codes(37, &demo_tiers()),
            vec![pair("window_months", "invalid_window")]
        );
        assert!(codes(36, &demo_tiers()).is_empty());

        let mut tiers = demo_tiers();
        tiers[1].name = "key account".into();
        assert_eq!(codes(12, &tiers), vec![pair("tiers[1].name", "invalid_id")]);

        let mut tiers = demo_tiers();
        tiers[2].name = "Key".into();
        assert_eq!(
            codes(12, &tiers),
            vec![pair("tiers[2].name", "duplicate_tier_name")]
        );

        let mut tiers = demo_tiers();
        tiers[3].name = "Unclassified".into();
        assert_eq!(
            codes(12, &tiers),
            vec![pair("tiers[3].name", "reserved_tier_name")]
        );

        let mut tiers = demo_tiers();
        tiers[3].criteria.min_active_months = Some(1);
        assert_eq!(
            codes(12, &tiers),
            vec![pair("tiers[3].criteria", "last_tier_has_criteria")]
        );

        let mut tiers = demo_tiers();
        tiers[2].criteria = TierCriteria::default();
        assert_eq!(
            codes(12, &tiers),
            vec![pair("tiers[2].criteria", "tier_without_criteria")]
        );

        let mut tiers = demo_tiers();
        tiers[0].entitlements.supply_priority = 0;
        assert_eq!(
            codes(12, &tiers),
            vec![pair(
                "tiers[0].entitlements.supply_priority",
                "invalid_supply_priority"
            )]
        );

        let mut tiers = demo_tiers();
        tiers[0].entitlements.max_discount_pct = d("100.01");
        tiers[1].entitlements.max_discount_pct = d("-1");
        tiers[2].criteria.min_margin_pct = d("-0.5").into();
        tiers[0].criteria.min_margin_pct = Some(d("100"));
        assert_eq!(
            codes(12, &tiers),
            vec![
                pair(
                    "tiers[0].entitlements.max_discount_pct",
                    "percent_out_of_range"
                ),
                pair(
                    "tiers[1].entitlements.max_discount_pct",
                    "percent_out_of_range"
                ),
                pair("tiers[2].criteria.min_margin_pct", "percent_out_of_range"),
            ]
        );

        let mut tiers = demo_tiers();
        tiers[2].criteria.min_net_revenue = Some(d("-0.01"));
        assert_eq!(
            codes(12, &tiers),
            vec![pair("tiers[2].criteria.min_net_revenue", "negative_amount")]
        );
        // Places as written: "1000.000" has three, more than any currency's minor unit.
        tiers[2].criteria.min_net_revenue = Some(d("1000.000"));
        assert_eq!(
            codes(12, &tiers),
            vec![pair(
                "tiers[2].criteria.min_net_revenue",
                "too_many_decimals"
            )]
        );

        let errors = validate_policy(12, &[tier("unclassified", TierCriteria::default(), 1)]);
        assert_eq!(
            errors[0].message,
            "\"unclassified\" is reserved for accounts without a policy; choose another name"
        );
        assert_eq!(errors[0].index, None);
    }

    fn any_stage() -> impl Strategy<Value = Stage> {
        (0usize..Stage::ALL.len()).prop_map(|i| Stage::ALL[i])
    }

    fn any_criteria() -> impl Strategy<Value = TierCriteria> {
        (
            proptest::option::of(0i64..2_000),
            proptest::option::of(0i64..40),
            proptest::option::of(0u32..13),
            proptest::option::of(any_stage()),
        )
            .prop_map(|(revenue, margin, months, stage)| TierCriteria {
                min_net_revenue: revenue.map(Decimal::from),
                min_margin_pct: margin.map(Decimal::from),
                min_active_months: months,
                min_stage: stage,
            })
    }

    /// An independent reading of "all criteria hold", written without `shortfalls`.
    fn holds(c: &TierCriteria, m: &Metrics, stage: Stage) -> bool {
        c.min_net_revenue.is_none_or(|r| m.net_revenue >= r)
            && c.min_margin_pct
                .is_none_or(|r| m.margin_pct.is_some_and(|a| a >= r))
            && c.min_active_months.is_none_or(|r| m.active_months >= r)
            && c.min_stage.is_none_or(|r| stage >= r)
    }

    fn day_in_2026() -> impl Strategy<Value = NaiveDate> {
        (0u64..400).prop_map(|n| date("2025-12-01") + chrono::Days::new(n))
    }

    proptest! {
        #[test]
        fn evaluate_returns_the_first_qualifying_tier(
            criteria in proptest::collection::vec(any_criteria(), 0..6),
            net in -100i64..2_500,
            margin in -50i64..800,
            active_months in 0u32..13,
            stage in any_stage(),
        ) {
            // Proves evaluate picks the first tier whose criteria all hold (brute force), and explains the tier above.
            let mut tiers: Vec<_> = criteria.into_iter().enumerate()
                .map(|(i, c)| tier(&format!("t{i}"), c, i as u32 + 1)).collect();
            tiers.push(tier("last", TierCriteria::default(), 99));
            let (net, margin) = (Decimal::from(net), Decimal::from(margin));
            let m = Metrics {
                window_start: date("2025-07-01"), window_end: date("2026-06-30"),
                net_revenue: net, gross_margin: margin,
                margin_pct: margin_pct(net, margin), active_months,
            };
            let e = evaluate(&tiers, &m, stage);
            let mut expected = None;
            for (i, t) in tiers.iter().enumerate() {
                if holds(&t.criteria, &m, stage) { expected = Some(i); break; }
            }
            prop_assert_eq!(Some(e.tier_index), expected);
            match e.next_tier {
                None => prop_assert_eq!(e.tier_index, 0),
                Some(next) => {
                    prop_assert_eq!(next.index + 1, e.tier_index);
                    prop_assert!(!next.shortfalls.is_empty());
                    prop_assert_eq!(&next.name, &tiers[next.index].name);
                }
            }
        }

        #[test]
        fn metrics_equal_a_naive_recomputation(
            raw in proptest::collection::vec((day_in_2026(), -500i64..5_000, 0i64..5_000), 0..60),
            as_of in day_in_2026(),
            months in 1u32..=13,
        ) {
            // Proves metrics_from_days agrees with summing the in-window days directly and counting months one by one.
            let days: Vec<(NaiveDate, Decimal, Decimal)> = raw.iter()
                .map(|(day, net, cost)| (*day, Decimal::new(*net, 2), Decimal::new(*cost, 2))).collect();
            let start = crate::rules::calendar::window_start(as_of, months);
            let m = metrics_from_days(start, as_of, days.clone());
            let inside: Vec<_> = days.iter().filter(|(day, _, _)| start <= *day && *day <= as_of).collect();
            let net: Decimal = inside.iter().map(|(_, n, _)| *n).sum();
            let cost: Decimal = inside.iter().map(|(_, _, c)| *c).sum();
            let mut active = 0;
            let mut month = start;
            while month <= as_of {
                use chrono::Datelike;
                let in_month: Decimal = inside.iter()
                    .filter(|(day, _, _)| day.year() == month.year() && day.month() == month.month())
                    .map(|(_, n, _)| *n).sum();
                if in_month > Decimal::ZERO { active += 1; }
                month = crate::rules::calendar::month_first_day(month_index(month) + 1);
            }
            prop_assert_eq!(m.net_revenue, net);
            prop_assert_eq!(m.gross_margin, net - cost);
            prop_assert_eq!(m.active_months, active);
            prop_assert_eq!(m.margin_pct, if net > Decimal::ZERO { Some(round_percent((net - cost) * Decimal::ONE_HUNDRED / net)) } else { None });
        }
    }
}
