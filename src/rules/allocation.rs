//! Peak-season supply allocation of DESIGN §5.6: reserves per priority class, classes
//! served in priority order from the pool, and a largest-remainder split inside a class.
//!
//! Quantities are whole units (`u64`); every share is computed with exact integer
//! arithmetic in `u128` (never floats), so the same demand always gives the same units and
//! the units handed out add up to exactly what the steps say.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{exact_percent, round_percent};
use crate::kernel::field::FieldError;

/// Most reserve entries a season may declare: one per priority class in use, and tier
/// policies have a handful of classes; the limit bounds the validation and the summary.
pub const RESERVES_MAX: usize = 100;

/// Most decimal places of a min_share_pct ("12.3456"): a hundredth of a basis point is
/// finer than any plan needs, and it keeps `capacity × percent` exact in 128-bit integers.
pub const MIN_SHARE_PCT_PLACES_MAX: u32 = 4;

/// Reason part: the class's reserve gave units.
pub const REASON_RESERVE: &str = "reserve";
/// Reason part: the class took units from the pool in its turn of priority order.
pub const REASON_PRIORITY_CLASS: &str = "priority class";
/// Reason part: the class got less than it asked and split it in proportion to requests.
pub const REASON_PRO_RATA: &str = "pro rata";
/// Reason when higher classes took the whole pool and the class had no reserve.
pub const REASON_CAPACITY_EXHAUSTED: &str = "capacity exhausted";
/// Reason of an account that asked for nothing.
pub const REASON_NOTHING_REQUESTED: &str = "nothing requested";

/// What one account asks for of one sku (its requests already summed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Demand {
    pub account_id: String,
    /// The account's supply_priority as of the season's starts_on (1 = first served).
    pub priority: u32,
    /// Whole units asked for.
    pub requested: u64,
}

/// What one account receives of one sku, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub account_id: String,
    pub priority: u32,
    pub requested: u64,
    /// Whole units allocated, never more than requested.
    pub allocated: u64,
    /// The steps that gave the class its units, joined by ", ": "reserve", "priority
    /// class", then "pro rata" when the class was not filled; or "capacity exhausted", or
    /// "nothing requested".
    pub reason: String,
}

/// One priority class of one sku: what it asked, what it had reserved, what it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassAllocation {
    pub priority: u32,
    /// Accounts of the class with a demand line.
    pub accounts: usize,
    /// demand_k: Σ requested of the class.
    pub requested: u64,
    /// reserve_k = min(floor(C × min_share_pct_k / 100), demand_k); 0 without a reserve.
    pub reserved: u64,
    /// budget_k: the reserve plus what the class took from the pool; split among its accounts.
    pub allocated: u64,
}

/// The allocation of one sku: per class and per account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkuAllocation {
    pub capacity: u64,
    /// Σ requested over all accounts.
    pub requested: u64,
    /// Σ allocated = min(capacity, requested).
    pub allocated: u64,
    /// Priority classes in priority order (1 first), those with demand or a reserve.
    pub classes: Vec<ClassAllocation>,
    /// Accounts by priority, then account_id.
    pub lines: Vec<Allocation>,
}

/// Every problem of a season's reserves, each with a stable code and the path of the field
/// (`reserves[1].min_share_pct`). Empty means valid: at most [`RESERVES_MAX`] entries,
/// priorities ≥ 1 and unique, each percent within 0–100 with at most
/// [`MIN_SHARE_PCT_PLACES_MAX`] places, and their sum at most 100.
pub fn validate_reserves(reserves: &[(u32, Decimal)]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |field: String, code: &str, message: String| {
        errors.push(FieldError::new(None, &field, code, message));
    };
    if reserves.len() > RESERVES_MAX {
        push(
            "reserves".into(),
            "too_many_reserves",
            format!(
                "{} reserves is more than the {RESERVES_MAX} a season may have",
                reserves.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    let mut total = Decimal::ZERO;
    for (i, &(priority, pct)) in reserves.iter().enumerate() {
        if priority == 0 {
            push(
                format!("reserves[{i}].priority"),
                "invalid_priority",
                "priority 0 is not a priority; the first served class is 1".into(),
            );
        } else if !seen.insert(priority) {
            push(
                format!("reserves[{i}].priority"),
                "duplicate_priority",
                format!("priority {priority} already has a reserve; give each class one reserve"),
            );
        }
        if pct < Decimal::ZERO || pct > Decimal::ONE_HUNDRED {
            push(
                format!("reserves[{i}].min_share_pct"),
                "invalid_min_share_pct",
                format!("min_share_pct \"{pct}\" must be between 0 and 100"),
            );
        } else if pct.normalize().scale() > MIN_SHARE_PCT_PLACES_MAX {
            push(
                format!("reserves[{i}].min_share_pct"),
                "invalid_min_share_pct",
                format!(
                    "min_share_pct \"{pct}\" has more than {MIN_SHARE_PCT_PLACES_MAX} decimal places"
                ),
            );
        } else {
            total += pct;
        }
    }
    if total > Decimal::ONE_HUNDRED {
        push(
            "reserves".into(),
            "reserves_exceed_capacity",
            format!(
                "the reserves add up to {total}% of capacity; together they may reserve at most 100%"
            ),
        );
    }
    errors
}

/// Allocated as a percent of requested, rounded by [`round_percent`] ("100.00"). An
/// account that asked for nothing lacks nothing, so its fill is "100.00".
pub fn fill_pct(allocated: u64, requested: u64) -> Decimal {
    exact_percent(Decimal::from(allocated), Decimal::from(requested))
        .map(round_percent)
        .unwrap_or_else(|| round_percent(Decimal::ONE_HUNDRED))
}

/// `floor(capacity × pct / 100)` exactly: `pct` is taken to [`MIN_SHARE_PCT_PLACES_MAX`]
/// places (truncated) and within 0–100, so `capacity × pct × 10^4` fits in a `u128`.
fn reserve_units(capacity: u64, pct: Decimal) -> u64 {
    let mut pct = pct.clamp(Decimal::ZERO, Decimal::ONE_HUNDRED);
    pct = pct.trunc_with_scale(MIN_SHARE_PCT_PLACES_MAX);
    pct.rescale(MIN_SHARE_PCT_PLACES_MAX);
    // pct × 10^4 as an integer, at most 10^6.
    let scaled = u128::try_from(pct.mantissa()).unwrap_or(0);
    let denominator = 100 * 10u128.pow(MIN_SHARE_PCT_PLACES_MAX);
    let units = u128::from(capacity) * scaled / denominator;
    // pct ≤ 100 so units ≤ capacity.
    u64::try_from(units).unwrap_or(capacity)
}

/// The allocation of one sku with `capacity` units among `demands` (DESIGN §5.6).
///
/// 1. Per priority class k: demand_k = Σ requested, reserve_k = min(floor(C × pct_k / 100),
///    demand_k) (0 for a class without a reserve); pool = C − Σ reserve.
/// 2. Classes in ascending priority: budget_k = reserve_k + min(pool, demand_k − reserve_k);
///    the pool shrinks by what the class took beyond its reserve.
/// 3. Inside a class, budget_k is split in proportion to requested by largest remainder:
///    each account gets floor(budget_k × requested / demand_k), then the units left go one
///    each to the largest remainders, ties to the larger request, then account_id ascending.
///
/// Assumes reserves passed [`validate_reserves`] and account ids are unique. For reserves
/// that did not: the first entry of a priority counts, percents are clamped to 0–100 and
/// truncated to [`MIN_SHARE_PCT_PLACES_MAX`] places, and reserves are served in priority
/// order until capacity runs out, so capacity is never exceeded whatever the input.
pub fn allocate(capacity: u64, reserves: &[(u32, Decimal)], demands: Vec<Demand>) -> SkuAllocation {
    let mut percents: BTreeMap<u32, Decimal> = BTreeMap::new();
    for &(priority, pct) in reserves {
        percents.entry(priority).or_insert(pct);
    }

    // Demand lines grouped by class, in priority order.
    let mut classes: BTreeMap<u32, Vec<Demand>> = BTreeMap::new();
    for demand in demands {
        classes.entry(demand.priority).or_default().push(demand);
    }
    for &priority in percents.keys() {
        classes.entry(priority).or_default();
    }

    // Step 1: reserves, then the pool.
    let (mut summaries, mut pool) = reserve(capacity, &percents, &classes);

    // Steps 2 and 3, class by class.
    let mut out: Vec<Allocation> = Vec::new();
    let mut total_requested: u128 = 0;
    for (summary, (_, lines)) in summaries.iter_mut().zip(classes) {
        let demand: u128 = lines.iter().map(|d| u128::from(d.requested)).sum();
        total_requested += demand;
        let beyond_reserve = demand - u128::from(summary.reserved);
        // Taken ≤ pool ≤ capacity, so it fits in u64.
        let taken = u128::from(pool).min(beyond_reserve) as u64;
        pool -= taken;
        let budget = summary.reserved + taken;
        summary.allocated = budget;

        let reason = class_reason(summary.reserved, taken, budget, demand);

        let units = split_largest_remainder(budget, demand, &lines);
        for (line, allocated) in lines.into_iter().zip(units) {
            out.push(Allocation {
                reason: if line.requested == 0 {
                    REASON_NOTHING_REQUESTED.to_string()
                } else {
                    reason.clone()
                },
                account_id: line.account_id,
                priority: line.priority,
                requested: line.requested,
                allocated,
            });
        }
    }
    out.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.account_id.cmp(&b.account_id))
            .then_with(|| a.requested.cmp(&b.requested))
            .then_with(|| a.allocated.cmp(&b.allocated))
    });

    let allocated: u64 = summaries.iter().map(|c| c.allocated).sum();
    assert!(allocated <= capacity, "allocation exceeds capacity");
    debug_assert!(out.iter().all(|a| a.allocated <= a.requested));
    // Σ reserve ≤ C by construction, so the classes take exactly min(C, Σ requested).
    debug_assert_eq!(
        u128::from(allocated),
        total_requested.min(u128::from(capacity))
    );
    SkuAllocation {
        capacity,
        requested: u64::try_from(total_requested).unwrap_or(u64::MAX),
        allocated,
        classes: summaries,
        lines: out,
    }
}

/// Step 1 of [`allocate`]: each class's summary with its reserve (at most its demand, and
/// served in priority order until capacity runs out), and the pool the reserves leave.
fn reserve(
    capacity: u64,
    percents: &BTreeMap<u32, Decimal>,
    classes: &BTreeMap<u32, Vec<Demand>>,
) -> (Vec<ClassAllocation>, u64) {
    let mut reserve_left = capacity;
    let mut summaries: Vec<ClassAllocation> = Vec::with_capacity(classes.len());
    for (&priority, lines) in classes {
        let demand: u128 = lines.iter().map(|d| u128::from(d.requested)).sum();
        let wanted = percents
            .get(&priority)
            .map_or(0, |&pct| reserve_units(capacity, pct));
        let reserved = u64::try_from(u128::from(wanted).min(demand))
            .unwrap_or(wanted)
            .min(reserve_left);
        reserve_left -= reserved;
        summaries.push(ClassAllocation {
            priority,
            accounts: lines.len(),
            requested: u64::try_from(demand).unwrap_or(u64::MAX),
            reserved,
            allocated: 0,
        });
    }
    (summaries, reserve_left)
}

/// The steps that gave a class its `budget` of its `demand`, joined by ", " (see
/// [`Allocation::reason`]).
fn class_reason(reserved: u64, taken: u64, budget: u64, demand: u128) -> String {
    let mut steps: Vec<&str> = Vec::new();
    if reserved > 0 {
        steps.push(REASON_RESERVE);
    }
    if taken > 0 {
        steps.push(REASON_PRIORITY_CLASS);
    }
    if budget == 0 {
        steps.push(REASON_CAPACITY_EXHAUSTED);
    } else if u128::from(budget) < demand {
        steps.push(REASON_PRO_RATA);
    }
    steps.join(", ")
}

/// Splits `budget ≤ demand = Σ requested` units over `lines` in proportion to requested by
/// largest remainder; the result is in the order of `lines`.
fn split_largest_remainder(budget: u64, demand: u128, lines: &[Demand]) -> Vec<u64> {
    if demand == 0 || budget == 0 {
        return vec![0; lines.len()];
    }
    let budget = u128::from(budget);
    // Exact share = budget × requested / demand; both factors < 2^64, so the product fits.
    let mut units: Vec<u64> = Vec::with_capacity(lines.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(lines.len());
    let mut handed_out: u128 = 0;
    for (i, line) in lines.iter().enumerate() {
        let exact = budget * u128::from(line.requested);
        let floor = exact / demand;
        handed_out += floor;
        // floor ≤ requested because budget ≤ demand.
        units.push(floor as u64);
        remainders.push((exact % demand, i));
    }
    let left = budget - handed_out;
    // Remainders share the denominator `demand`, so comparing numerators compares the
    // fractional parts exactly.
    remainders.sort_by(|&(ra, a), &(rb, b)| {
        rb.cmp(&ra)
            .then_with(|| lines[b].requested.cmp(&lines[a].requested))
            .then_with(|| lines[a].account_id.cmp(&lines[b].account_id))
    });
    for &(remainder, i) in remainders.iter().take(left as usize) {
        // Σ fractional parts = left < number of positive remainders, so every extra unit
        // goes to an account whose exact share was not whole, and stays ≤ requested.
        debug_assert!(remainder > 0);
        units[i] += 1;
    }
    units
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn demand(account_id: &str, priority: u32, requested: u64) -> Demand {
        Demand {
            account_id: account_id.into(),
            priority,
            requested,
        }
    }

    /// (account, allocated) of each line.
    fn units(plan: &SkuAllocation) -> Vec<(&str, u64)> {
        plan.lines
            .iter()
            .map(|a| (a.account_id.as_str(), a.allocated))
            .collect()
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn three_equal_requests_split_34_33_33() {
        // Proves 100 units over three equal requests give 34/33/33, the extra unit to the lowest account_id.
        let plan = allocate(
            100,
            &[],
            vec![
                demand("KA-3", 1, 50),
                demand("KA-1", 1, 50),
                demand("KA-2", 1, 50),
            ],
        );
        assert_eq!(units(&plan), vec![("KA-1", 34), ("KA-2", 33), ("KA-3", 33)]);
        assert!(plan
            .lines
            .iter()
            .all(|a| a.reason == "priority class, pro rata"));
        assert_eq!(plan.allocated, 100);
        assert_eq!(plan.requested, 150);
    }

    #[test]
    fn classes_are_served_in_priority_order() {
        // Proves class 1 is filled before class 2 gets anything, and class 3 gets nothing when the pool is gone.
        let plan = allocate(
            1000,
            &[],
            vec![
                demand("C", 3, 100),
                demand("A", 1, 600),
                demand("B1", 2, 300),
                demand("B2", 2, 200),
            ],
        );
        assert_eq!(
            units(&plan),
            vec![("A", 600), ("B1", 240), ("B2", 160), ("C", 0)]
        );
        let reasons: Vec<&str> = plan.lines.iter().map(|a| a.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec![
                "priority class",
                "priority class, pro rata",
                "priority class, pro rata",
                "capacity exhausted"
            ]
        );
        let budgets: Vec<(u32, u64, u64)> = plan
            .classes
            .iter()
            .map(|c| (c.priority, c.requested, c.allocated))
            .collect();
        assert_eq!(budgets, vec![(1, 600, 600), (2, 500, 400), (3, 100, 0)]);
    }

    #[test]
    fn reserves_are_honoured_against_higher_classes() {
        // Proves a low-priority class keeps its reserve even when the first class wants everything.
        let plan = allocate(
            1000,
            &[(3, d("10")), (2, d("5"))],
            vec![
                demand("A", 1, 5000),
                demand("B", 2, 20),
                demand("C", 3, 400),
            ],
        );
        // reserve_2 = min(50, 20) = 20, reserve_3 = min(100, 400) = 100; pool = 880 to class 1.
        assert_eq!(units(&plan), vec![("A", 880), ("B", 20), ("C", 100)]);
        let reasons: Vec<&str> = plan.lines.iter().map(|a| a.reason.as_str()).collect();
        assert_eq!(
            reasons,
            vec!["priority class, pro rata", "reserve", "reserve, pro rata"]
        );
        let reserved: Vec<(u32, u64)> = plan
            .classes
            .iter()
            .map(|c| (c.priority, c.reserved))
            .collect();
        assert_eq!(reserved, vec![(1, 0), (2, 20), (3, 100)]);

        // A reserve on a class with leftover pool: it takes the reserve and more.
        let plan = allocate(
            1000,
            &[(2, d("12.5"))],
            vec![demand("A", 1, 300), demand("B", 2, 400)],
        );
        assert_eq!(units(&plan), vec![("A", 300), ("B", 400)]);
        assert_eq!(plan.lines[1].reason, "reserve, priority class");
        assert_eq!(plan.classes[1].reserved, 125);

        // floor(C × pct / 100): 33.3333% of 10 is 3 units.
        let plan = allocate(
            10,
            &[(5, d("33.3333"))],
            vec![demand("A", 1, 10), demand("Z", 5, 10)],
        );
        assert_eq!(units(&plan), vec![("A", 7), ("Z", 3)]);
    }

    #[test]
    fn demand_below_capacity_fills_everyone() {
        // Proves that when capacity covers all requests every account gets exactly what it asked.
        let plan = allocate(
            1000,
            &[(1, d("50")), (2, d("30"))],
            vec![
                demand("A", 1, 100),
                demand("B", 2, 250),
                demand("C", 7, 300),
                demand("D", 7, 0),
            ],
        );
        assert_eq!(
            units(&plan),
            vec![("A", 100), ("B", 250), ("C", 300), ("D", 0)]
        );
        assert_eq!(plan.lines[3].reason, "nothing requested");
        assert!(plan
            .lines
            .iter()
            .all(|a| fill_pct(a.allocated, a.requested) == d("100.00")));
    }

    #[test]
    fn remainder_ties_go_to_the_larger_request_then_account_id() {
        // Proves equal fractional parts prefer the larger request, then the lower account_id.
        // 5 units over requests 2, 4, 4 (demand 10): exact 1.0, 2.0, 2.0 — all whole, no ties needed.
        let plan = allocate(
            5,
            &[],
            vec![demand("A", 1, 2), demand("B", 1, 4), demand("C", 1, 4)],
        );
        assert_eq!(units(&plan), vec![("A", 1), ("B", 2), ("C", 2)]);
        // 3 units over 1, 2, 2, 1 (demand 6): exact .5, 1, 1, .5 → the two halves tie on
        // remainder and request; the lower account_id wins.
        let plan = allocate(
            3,
            &[],
            vec![
                demand("D", 1, 1),
                demand("B", 1, 2),
                demand("C", 1, 2),
                demand("A", 1, 1),
            ],
        );
        assert_eq!(units(&plan), vec![("A", 1), ("B", 1), ("C", 1), ("D", 0)]);
        // 2 units over 1, 3 (demand 4): exact .5 and 1.5 → remainders tie, larger request wins.
        let plan = allocate(2, &[], vec![demand("A", 1, 1), demand("B", 1, 3)]);
        assert_eq!(units(&plan), vec![("A", 0), ("B", 2)]);
    }

    #[test]
    fn fill_pct_rounds_to_two_places() {
        // Proves fill rates are percents with two places, and nothing asked is a full fill.
        assert_eq!(fill_pct(600, 600).to_string(), "100.00");
        assert_eq!(fill_pct(1, 3).to_string(), "33.33");
        assert_eq!(fill_pct(2, 3).to_string(), "66.67");
        assert_eq!(fill_pct(0, 5).to_string(), "0.00");
        assert_eq!(fill_pct(0, 0).to_string(), "100.00");
    }

    #[test]
    fn validation_codes_and_paths() {
        // Proves each reserve error has its stable code and field path, and good reserves have none.
        assert!(validate_reserves(&[]).is_empty());
        assert!(validate_reserves(&[(1, d("60")), (2, d("40.0000"))]).is_empty());
        assert_eq!(
            codes(&validate_reserves(&[
                (0, d("5")),
                (1, d("5")),
                (1, d("-1")),
                (2, d("100.5")),
                (3, d("1.00001")),
            ])),
            vec![
                ("reserves[0].priority", "invalid_priority"),
                ("reserves[2].priority", "duplicate_priority"),
                ("reserves[2].min_share_pct", "invalid_min_share_pct"),
                ("reserves[3].min_share_pct", "invalid_min_share_pct"),
                ("reserves[4].min_share_pct", "invalid_min_share_pct"),
            ]
        );
        assert_eq!(
            codes(&validate_reserves(&[(1, d("60")), (2, d("40.01"))])),
            vec![("reserves", "reserves_exceed_capacity")]
        );
        let many: Vec<(u32, Decimal)> = (1..=RESERVES_MAX as u32 + 1)
            .map(|p| (p, Decimal::ZERO))
            .collect();
        assert_eq!(
            codes(&validate_reserves(&many)),
            vec![("reserves", "too_many_reserves")]
        );
    }

    #[test]
    fn unvalidated_reserves_never_exceed_capacity() {
        // Proves reserves summing above 100% are served in priority order and capacity still holds.
        let plan = allocate(
            100,
            &[(1, d("80")), (2, d("80")), (2, d("5")), (3, d("500"))],
            vec![
                demand("A", 1, 100),
                demand("B", 2, 100),
                demand("C", 3, 100),
            ],
        );
        assert_eq!(units(&plan), vec![("A", 80), ("B", 20), ("C", 0)]);
    }

    #[test]
    fn json_forms() {
        // Proves the plan serialises with the field names of the plan response and round-trips in JSON and binary.
        let plan = allocate(10, &[], vec![demand("KA-1", 1, 6)]);
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["lines"][0]["account_id"], "KA-1");
        assert_eq!(json["lines"][0]["requested"], 6);
        assert_eq!(json["lines"][0]["allocated"], 6);
        assert_eq!(json["lines"][0]["reason"], "priority class");
        assert_eq!(json["classes"][0]["priority"], 1);
        let back: SkuAllocation = serde_json::from_value(json).unwrap();
        assert_eq!(back, plan);
        let bytes = crate::ledger::codec::encode(&plan);
        assert_eq!(
            crate::ledger::codec::decode::<SkuAllocation>(&bytes).unwrap(),
            plan
        );
        assert!(serde_json::from_str::<Demand>(
            r#"{"account_id":"A","priority":1,"requested":1,"x":0}"#
        )
        .is_err());
    }

    /// Demands with unique account ids, few priorities and small requests so classes
    /// compete; plus valid reserves.
    fn any_case() -> impl Strategy<Value = (u64, Vec<(u32, Decimal)>, Vec<Demand>)> {
        (
            0u64..2_000,
            proptest::collection::btree_map(1u32..=4, 0i64..=2_500, 0..4),
            proptest::collection::vec((1u32..=4, 0u64..600), 0..20),
        )
            .prop_map(|(capacity, reserves, rows)| {
                let reserves = reserves
                    .into_iter()
                    .map(|(p, hundredths)| (p, Decimal::new(hundredths, 2)))
                    .collect();
                let demands = rows
                    .into_iter()
                    .enumerate()
                    .map(|(i, (priority, requested))| {
                        demand(&format!("KA-{i:02}"), priority, requested)
                    })
                    .collect();
                (capacity, reserves, demands)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn allocation_fills_min_of_capacity_and_demand(case in any_case()) {
            // Proves Σ allocated = min(C, Σ requested), capacity is never exceeded and nobody gets more than asked.
            let (capacity, reserves, demands) = case;
            prop_assert!(validate_reserves(&reserves).is_empty());
            let asked: u64 = demands.iter().map(|d| d.requested).sum();
            let plan = allocate(capacity, &reserves, demands);
            let total: u64 = plan.lines.iter().map(|a| a.allocated).sum();
            prop_assert_eq!(total, capacity.min(asked));
            prop_assert_eq!(plan.allocated, total);
            prop_assert!(total <= capacity);
            for a in &plan.lines {
                prop_assert!(a.allocated <= a.requested);
            }
            for class in &plan.classes {
                let lines: u64 = plan
                    .lines
                    .iter()
                    .filter(|a| a.priority == class.priority)
                    .map(|a| a.allocated)
                    .sum();
                prop_assert_eq!(lines, class.allocated);
            }
        }

        #[test]
        fn priority_order_and_reserves_hold(case in any_case()) {
            // Proves each class gets at least its reserve, and a class beyond its reserve only once every better class is filled.
            let (capacity, reserves, demands) = case;
            let plan = allocate(capacity, &reserves, demands);
            for (k, class) in plan.classes.iter().enumerate() {
                let pct = reserves
                    .iter()
                    .find(|r| r.0 == class.priority)
                    .map_or(Decimal::ZERO, |r| r.1);
                let floor = (Decimal::from(capacity) * pct / Decimal::ONE_HUNDRED).floor();
                let expected = floor.min(Decimal::from(class.requested));
                prop_assert_eq!(Decimal::from(class.reserved), expected);
                prop_assert!(class.allocated >= class.reserved);
                if class.allocated > class.reserved {
                    for better in &plan.classes[..k] {
                        prop_assert_eq!(better.allocated, better.requested);
                    }
                }
            }
        }

        #[test]
        fn allocation_does_not_depend_on_request_order(
            (case, shuffled) in any_case()
                .prop_flat_map(|c| { let d = c.2.clone(); (Just(c), Just(d).prop_shuffle()) }),
        ) {
            // Proves the same demands in any order give the identical allocation.
            let (capacity, reserves, demands) = case;
            prop_assert_eq!(
                allocate(capacity, &reserves, demands),
                allocate(capacity, &reserves, shuffled)
            );
        }
    }
}
