//! Rebate maths of DESIGN §5.4: tier tables, the entitlement of a basis (all-units or
//! incremental, capped, rounded once) with the arithmetic that explains it, and the amount
//! each kind of settlement may propose.
//!
//! The table structs double as event payloads: decimals are strings in JSON and 16 bytes
//! in the stored binary form (`domain::stored`). Every sum uses checked arithmetic, so an
//! absurd basis or rate is an error and never a panic.

use crate::kernel::vocab::vocabulary;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kernel::field::FieldError;
use crate::kernel::money::{format_money, minor_unit_places, round_to_minor_unit};

/// Most tiers a rebate table may have: real schedules have three to six steps, a longer
/// one is almost certainly a pasted spreadsheet column, and the limit bounds the length
/// of the arithmetic an explanation prints.
pub const REBATE_TIERS_MAX: usize = 32;

vocabulary!(
    /// What a program measures to find the tier and the rebate.
    RebateBasis "rebate basis" {
        /// Sales minus returns, in the program's currency.
        NetRevenue => "net_revenue",
        /// Units sold minus units returned.
        Quantity => "quantity",
        /// Σ(net − cost), in the program's currency.
        GrossMargin => "gross_margin",
    }
);

impl RebateBasis {
    /// True when the basis is an amount of money, so that a tier's rate is a percent of
    /// it; for `quantity` the rate is a currency amount per unit.
    pub fn is_money(self) -> bool {
        !matches!(self, RebateBasis::Quantity)
    }
}

vocabulary!(
    /// How the tier table turns a basis into a rebate.
    RebateMethod "rebate method" {
        /// The whole basis earns the rate of the highest tier reached.
        AllUnits => "all_units",
        /// Each slice of the basis earns the rate of the tier it falls in.
        Incremental => "incremental",
    }
);

/// One step of a rebate table: from this basis upwards (until the next tier's `from`)
/// the rate applies. The top tier is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebateTier {
    /// Lowest basis of the tier ("10000"); the first tier starts at "0".
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub from: Decimal,
    /// Percent of the basis for money bases ("2.5" = 2.5 %); currency amount per unit for
    /// the quantity basis ("0.75").
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub rate: Decimal,
}

/// Every problem of a tier table about to be defined, each with a stable code and the
/// path of the field (`tiers[2].from`). Empty means the table is valid: at least one and
/// at most [`REBATE_TIERS_MAX`] tiers, the first from 0, `from` strictly increasing, no
/// negative rate.
pub fn validate_tiers(tiers: &[RebateTier]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut push = |field: String, code: &str, message: String| {
        errors.push(FieldError::new(None, &field, code, message));
    };
    if tiers.is_empty() {
        push(
            "tiers".into(),
            "no_tiers",
            "a rebate program needs at least one tier; start with {\"from\": \"0\", \"rate\": ...}"
                .into(),
        );
    }
    if tiers.len() > REBATE_TIERS_MAX {
        push(
            "tiers".into(),
            "too_many_tiers",
            format!(
                "{} tiers is more than the {REBATE_TIERS_MAX} a rebate table may have",
                tiers.len()
            ),
        );
    }
    if let Some(first) = tiers.first() {
        if !first.from.is_zero() {
            push(
                "tiers[0].from".into(),
                "first_tier_not_zero",
                format!(
                    "the first tier starts at \"{}\"; it must start at \"0\" so every basis has a tier",
                    first.from
                ),
            );
        }
    }
    for (i, tier) in tiers.iter().enumerate() {
        if i > 0 && tier.from <= tiers[i - 1].from {
            push(
                format!("tiers[{i}].from"),
                "tiers_not_increasing",
                format!(
                    "tiers[{i}] starts at \"{}\", not above the \"{}\" of tiers[{}]; list tiers by increasing from",
                    tier.from,
                    tiers[i - 1].from,
                    i - 1
                ),
            );
        }
        if tier.rate < Decimal::ZERO {
            push(
                format!("tiers[{i}].rate"),
                "negative_rate",
                format!("rate \"{}\" must not be negative", tier.rate),
            );
        }
    }
    errors
}

/// The tier a basis reaches: the highest k with `from_k ≤ basis`. `None` when no tier
/// starts low enough (a negative basis, or an empty table). Assumes a table that passed
/// [`validate_tiers`]; on any other it still returns the last tier starting at or below
/// the basis.
pub fn tier_index(tiers: &[RebateTier], basis: Decimal) -> Option<usize> {
    tiers.iter().rposition(|tier| tier.from <= basis)
}

/// Why a rebate could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebateError {
    #[error("the rebate overflows decimal arithmetic; check the basis and the tier rates for absurd values")]
    Overflow,
}

impl RebateError {
    /// The stable code of the error.
    pub fn code(&self) -> &'static str {
        match self {
            RebateError::Overflow => "overflow",
        }
    }
}

/// The entitlement of one basis with everything needed to explain it; settlement events
/// store it as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RebateComputation {
    pub basis_kind: RebateBasis,
    /// The measured basis (money or units), as given.
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub basis: Decimal,
    /// Zero-based index of the tier reached; absent when the basis is negative.
    #[serde(default)]
    pub tier_index: Option<usize>,
    /// Rate of the tier reached (for incremental, the rate of the last slice).
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub rate: Option<Decimal>,
    pub method: RebateMethod,
    /// The exact rebate before cap and rounding; 0 when the basis is not positive.
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub unrounded: Decimal,
    /// The program's cap per account and period, when it has one.
    #[serde(default, with = "crate::kernel::stored::decimal_option")]
    #[schema(value_type = Option<String>)]
    pub cap: Option<Decimal>,
    /// True when the cap was lower than the exact rebate and replaced it.
    pub capped: bool,
    /// The rebate due: capped, then rounded once to the currency's minor unit and written
    /// with exactly its places ("2300.00").
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub entitlement: Decimal,
    /// The sum in words, e.g. "10000 × 2% + 40000 × 4% + 10000 × 5% = 2300.00".
    pub arithmetic: String,
}

/// The entitlement of `basis` under a tier table (DESIGN §5.4).
///
/// all_units: `basis × rate_k` for the tier k reached; incremental:
/// `Σ_i rate_i × max(0, min(basis, from_{i+1}) − from_i)`. Rates are percents for money
/// bases and amounts per unit for quantity. A basis ≤ 0 gives 0. The exact result is then
/// capped (`cap`, expected ≥ 0 as program validation ensures) and rounded once with
/// [`round_to_minor_unit`]. Eligibility is the caller's business: an ineligible account
/// gets 0 without calling this.
pub fn compute(
    tiers: &[RebateTier],
    method: RebateMethod,
    basis_kind: RebateBasis,
    basis: Decimal,
    cap: Option<Decimal>,
    currency: &str,
) -> Result<RebateComputation, RebateError> {
    let reached = tier_index(tiers, basis);
    let rate = reached.map(|k| tiers[k].rate);

    // Each term is (part of the basis, rate); the rebate is their sum of products.
    let mut terms: Vec<(Decimal, Decimal)> = Vec::new();
    if basis > Decimal::ZERO {
        match method {
            RebateMethod::AllUnits => {
                if let Some(rate) = rate {
                    terms.push((basis, rate));
                }
            }
            RebateMethod::Incremental => {
                for (i, tier) in tiers.iter().enumerate() {
                    let upper = tiers.get(i + 1).map_or(basis, |next| basis.min(next.from));
                    let slice = upper.checked_sub(tier.from).ok_or(RebateError::Overflow)?;
                    if slice > Decimal::ZERO {
                        terms.push((slice, tier.rate));
                    }
                }
            }
        }
    }

    let mut products = Decimal::ZERO;
    for (part, rate) in &terms {
        let product = part.checked_mul(*rate).ok_or(RebateError::Overflow)?;
        products = products.checked_add(product).ok_or(RebateError::Overflow)?;
    }
    // Dividing the sum once (rather than each rate) keeps every digit: ÷100 only moves
    // the decimal point.
    let unrounded = if basis_kind.is_money() {
        products
            .checked_div(Decimal::ONE_HUNDRED)
            .ok_or(RebateError::Overflow)?
    } else {
        products
    };

    let capped = cap.is_some_and(|cap| unrounded > cap);
    let before_rounding = match cap {
        Some(cap) if capped => cap,
        _ => unrounded,
    };
    let mut entitlement = round_to_minor_unit(before_rounding, currency);
    entitlement.rescale(minor_unit_places(currency));

    let arithmetic = describe(
        &terms,
        basis_kind,
        basis,
        unrounded,
        cap.filter(|_| capped),
        entitlement,
        currency,
    );
    Ok(RebateComputation {
        basis_kind,
        // A money basis is a sum of amounts already in minor units: only its form changes
        // ("0.00", not "0").
        basis: if basis_kind.is_money() {
            round_to_minor_unit(basis, currency)
        } else {
            basis
        },
        tier_index: reached,
        rate,
        method,
        unrounded,
        // The cap is an input already in minor units: only its form changes ("500.00").
        cap: cap.map(|cap| round_to_minor_unit(cap, currency)),
        capped,
        entitlement,
        arithmetic,
    })
}

/// The sum in words: the terms, the exact total, the cap when it bit, and the rounded
/// entitlement when rounding changed the last figure shown.
fn describe(
    terms: &[(Decimal, Decimal)],
    basis_kind: RebateBasis,
    basis: Decimal,
    unrounded: Decimal,
    cap_applied: Option<Decimal>,
    entitlement: Decimal,
    currency: &str,
) -> String {
    let entitlement_text = format_money(entitlement, currency);
    if basis <= Decimal::ZERO {
        return format!("basis {basis} ≤ 0 gives {entitlement_text}");
    }
    if terms.is_empty() {
        return format!("no tier applies to basis {basis}, which gives {entitlement_text}");
    }
    let unit = if basis_kind.is_money() {
        "%"
    } else {
        " per unit"
    };
    let sum = terms
        .iter()
        .map(|(part, rate)| {
            // Slices shown with at least the basis's places read as parts of it.
            let mut shown = *part;
            if shown.scale() < basis.scale() {
                shown.rescale(basis.scale());
            }
            format!("{shown} × {}{unit}", rate.normalize())
        })
        .collect::<Vec<_>>()
        .join(" + ");
    let mut text = format!("{sum} = {}", money_text(unrounded, currency));
    let mut last_shown = unrounded;
    if let Some(cap) = cap_applied {
        text.push_str(&format!(", capped at {}", money_text(cap, currency)));
        last_shown = cap;
    }
    if money_text(last_shown, currency) != entitlement_text {
        text.push_str(&format!(", rounded to {entitlement_text}"));
    }
    text
}

/// Money padded to the minor unit when that is exact ("3000.00"), else every digit
/// ("4.995"), so the explanation never hides a rounding.
fn money_text(amount: Decimal, currency: &str) -> String {
    if round_to_minor_unit(amount, currency) == amount {
        format_money(amount, currency)
    } else {
        amount.normalize().to_string()
    }
}

vocabulary!(
    /// The three kinds of settlement (DESIGN §5.4).
    SettlementKind "settlement kind" {
        /// Pays part of the entitlement to date, during or after the period.
        Partial => "partial",
        /// Settles the period after it ended and marks it final.
        Final => "final",
        /// Corrects a final period after late sales or returns; negative is a clawback.
        Delta => "delta",
    }
);

/// Why a settlement of some kind cannot be proposed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettlementRefusal {
    #[error("nothing to settle: the entitlement {entitlement} less {settled} approved or pending leaves {remaining}")]
    NothingToSettle {
        entitlement: Decimal,
        settled: Decimal,
        remaining: Decimal,
    },
    #[error("the period has not ended; propose a partial settlement until it has")]
    PeriodNotEnded,
    #[error("the period is already final; propose a delta settlement instead")]
    AlreadyFinal,
    #[error("the period has no approved final settlement; propose a final settlement first")]
    NoFinalYet,
    #[error(
        "the settlement amount overflows decimal arithmetic; check the amounts for absurd values"
    )]
    Overflow,
}

impl SettlementRefusal {
    /// The stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self {
            SettlementRefusal::NothingToSettle { .. } => "nothing_to_settle",
            SettlementRefusal::PeriodNotEnded => "period_not_ended",
            SettlementRefusal::AlreadyFinal => "already_final",
            SettlementRefusal::NoFinalYet => "no_final_yet",
            SettlementRefusal::Overflow => "overflow",
        }
    }
}

/// The amount a settlement of `kind` proposes (DESIGN §5.4), from the entitlement to date
/// and what is already approved and pending for the same program, account and period.
///
/// - partial: `entitlement − approved − pending`, must be > 0; refused once the period is
///   final (corrections are deltas then).
/// - final: only once the period has ended and not already final;
///   `entitlement − approved`, of any sign (zero still marks the period final).
/// - delta: only after an approved final; `entitlement − approved`, non-zero; negative
///   is a clawback.
///
/// At most one proposal is pending at a time, which the caller enforces before asking;
/// so `pending` only matters to a partial.
pub fn settlement_amount(
    kind: SettlementKind,
    entitlement: Decimal,
    approved: Decimal,
    pending: Decimal,
    period_ended: bool,
    final_approved: bool,
) -> Result<Decimal, SettlementRefusal> {
    let outstanding = entitlement
        .checked_sub(approved)
        .ok_or(SettlementRefusal::Overflow)?;
    match kind {
        SettlementKind::Partial => {
            if final_approved {
                return Err(SettlementRefusal::AlreadyFinal);
            }
            let remaining = outstanding
                .checked_sub(pending)
                .ok_or(SettlementRefusal::Overflow)?;
            if remaining <= Decimal::ZERO {
                let settled = approved
                    .checked_add(pending)
                    .ok_or(SettlementRefusal::Overflow)?;
                return Err(SettlementRefusal::NothingToSettle {
                    entitlement,
                    settled,
                    remaining,
                });
            }
            Ok(remaining)
        }
        SettlementKind::Final => {
            if final_approved {
                return Err(SettlementRefusal::AlreadyFinal);
            }
            if !period_ended {
                return Err(SettlementRefusal::PeriodNotEnded);
            }
            Ok(outstanding)
        }
        SettlementKind::Delta => {
            if !final_approved {
                return Err(SettlementRefusal::NoFinalYet);
            }
            if outstanding.is_zero() {
                return Err(SettlementRefusal::NothingToSettle {
                    entitlement,
                    settled: approved,
                    remaining: outstanding,
                });
            }
            Ok(outstanding)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn table(steps: &[(&str, &str)]) -> Vec<RebateTier> {
        steps
            .iter()
            .map(|(from, rate)| RebateTier {
                from: d(from),
                rate: d(rate),
            })
            .collect()
    }

    /// 0 / 10,000 / 50,000 at 2 / 4 / 5 %, the issue's volume table.
    fn volume_table() -> Vec<RebateTier> {
        table(&[("0", "2"), ("10000", "4"), ("50000", "5")])
    }

    fn entitlement(tiers: &[RebateTier], method: RebateMethod, basis: &str) -> Decimal {
        compute(
            tiers,
            method,
            RebateBasis::NetRevenue,
            d(basis),
            None,
            "EUR",
        )
        .unwrap()
        .entitlement
    }

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect()
    }

    #[test]
    fn volume_table_worked_numbers() {
        // Proves the issue's worked numbers for 0 / 10,000 / 50,000 at 2 / 4 / 5 %.
        let tiers = volume_table();
        let cases = [
            ("60000", "3000.00", "2300.00"),
            ("9999", "199.98", "199.98"),
            ("10000", "400.00", "200.00"),
        ];
        for (basis, all_units, incremental) in cases {
            let a = entitlement(&tiers, RebateMethod::AllUnits, basis);
            let i = entitlement(&tiers, RebateMethod::Incremental, basis);
            assert_eq!(a.to_string(), all_units, "all-units at {basis}");
            assert_eq!(i.to_string(), incremental, "incremental at {basis}");
        }
    }

    #[test]
    fn steep_table_worked_numbers() {
        // Proves the issue's worked numbers for 0 / 100 / 300 at 10 / 20 / 30 %.
        let tiers = table(&[("0", "10"), ("100", "20"), ("300", "30")]);
        let a = entitlement(&tiers, RebateMethod::AllUnits, "3800");
        let i = entitlement(&tiers, RebateMethod::Incremental, "3800");
        assert_eq!(a.to_string(), "1140.00");
        assert_eq!(i.to_string(), "1100.00");
    }

    #[test]
    fn computation_reports_tier_rate_and_arithmetic() {
        // Proves the computation carries the tier, rate and a readable sum for the explain endpoint.
        let tiers = volume_table();
        let all = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::NetRevenue,
            d("60000.00"),
            None,
            "EUR",
        )
        .unwrap();
        assert_eq!(all.tier_index, Some(2));
        assert_eq!(all.rate, Some(d("5")));
        assert!(!all.capped);
        assert_eq!(all.arithmetic, "60000.00 × 5% = 3000.00");

        let inc = compute(
            &tiers,
            RebateMethod::Incremental,
            RebateBasis::NetRevenue,
            d("60000"),
            None,
            "EUR",
        )
        .unwrap();
        assert_eq!(inc.tier_index, Some(2));
        assert_eq!(inc.unrounded, d("2300"));
        assert_eq!(
            inc.arithmetic,
            "10000 × 2% + 40000 × 4% + 10000 × 5% = 2300.00"
        );
    }

    #[test]
    fn tier_index_finds_the_highest_tier_reached() {
        // Proves tier i applies from from_i up to just below from_{i+1}, and a negative basis reaches none.
        let tiers = volume_table();
        assert_eq!(tier_index(&tiers, d("-0.01")), None);
        assert_eq!(tier_index(&tiers, d("0")), Some(0));
        assert_eq!(tier_index(&tiers, d("9999.99")), Some(0));
        assert_eq!(tier_index(&tiers, d("10000")), Some(1));
        assert_eq!(tier_index(&tiers, d("49999.99")), Some(1));
        assert_eq!(tier_index(&tiers, d("50000")), Some(2));
        assert_eq!(tier_index(&tiers, d("1000000000")), Some(2));
        assert_eq!(tier_index(&[], d("5")), None);
    }

    #[test]
    fn non_positive_basis_gives_zero() {
        // Proves a zero or negative basis (returns above sales) earns nothing under either method.
        let tiers = volume_table();
        for method in [RebateMethod::AllUnits, RebateMethod::Incremental] {
            for basis in ["0", "-250.00"] {
                let c = compute(
                    &tiers,
                    method,
                    RebateBasis::NetRevenue,
                    d(basis),
                    Some(d("100")),
                    "EUR",
                )
                .unwrap();
                assert_eq!(c.entitlement.to_string(), "0.00");
                assert!(!c.capped);
            }
        }
        let negative = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::NetRevenue,
            d("-250.00"),
            None,
            "EUR",
        )
        .unwrap();
        assert_eq!(negative.tier_index, None);
        assert_eq!(negative.rate, None);
        assert_eq!(negative.arithmetic, "basis -250.00 ≤ 0 gives 0.00");
    }

    #[test]
    fn rounding_midpoints_go_away_from_zero_once() {
        // Proves x.xx5 results round up, below-midpoint ones down, and JPY rounds to whole units.
        let flat = table(&[("0", "1.5")]);
        let c = compute(
            &flat,
            RebateMethod::AllUnits,
            RebateBasis::NetRevenue,
            d("333"),
            None,
            "EUR",
        )
        .unwrap();
        assert_eq!(c.unrounded, d("4.995"));
        assert_eq!(c.entitlement.to_string(), "5.00");
        assert_eq!(c.arithmetic, "333 × 1.5% = 4.995, rounded to 5.00");
        assert_eq!(
            entitlement(&flat, RebateMethod::AllUnits, "332.99").to_string(),
            "4.99"
        );
        assert_eq!(
            entitlement(&table(&[("0", "0.5")]), RebateMethod::AllUnits, "1").to_string(),
            "0.01"
        );
        // Incremental: 100 × 1% + 33 × 1.5% = 1.495 exactly, rounded once to 1.50.
        let two = table(&[("0", "1"), ("100", "1.5")]);
        assert_eq!(
            entitlement(&two, RebateMethod::Incremental, "133").to_string(),
            "1.50"
        );

        let yen = |basis: &str| {
            compute(
                &table(&[("0", "1")]),
                RebateMethod::AllUnits,
                RebateBasis::NetRevenue,
                d(basis),
                None,
                "JPY",
            )
            .unwrap()
            .entitlement
            .to_string()
        };
        assert_eq!(yen("50"), "1");
        assert_eq!(yen("49"), "0");
        assert_eq!(yen("149"), "1");
        assert_eq!(yen("250"), "3");
    }

    #[test]
    fn cap_applies_before_rounding() {
        // Proves the cap replaces the exact rebate only when lower, and rounding happens after it.
        let tiers = volume_table();
        let capped = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::NetRevenue,
            d("60000"),
            Some(d("2500.00")),
            "EUR",
        )
        .unwrap();
        assert!(capped.capped);
        assert_eq!(capped.unrounded, d("3000"));
        assert_eq!(capped.entitlement.to_string(), "2500.00");
        assert_eq!(capped.arithmetic, "60000 × 5% = 3000.00, capped at 2500.00");

        // 60000.10 × 5% = 3000.005 would round to 3000.01; a 3000.00 cap wins first.
        let at_cap = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::NetRevenue,
            d("60000.10"),
            Some(d("3000.00")),
            "EUR",
        )
        .unwrap();
        assert!(at_cap.capped);
        assert_eq!(at_cap.entitlement.to_string(), "3000.00");

        // A cap with more places than the currency is itself rounded, once, after capping.
        let odd_cap = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::NetRevenue,
            d("60000"),
            Some(d("2500.005")),
            "EUR",
        )
        .unwrap();
        assert_eq!(odd_cap.entitlement.to_string(), "2500.01");
        assert_eq!(
            odd_cap.arithmetic,
            "60000 × 5% = 3000.00, capped at 2500.005, rounded to 2500.01"
        );

        // A cap equal to or above the rebate does not bite.
        let loose = compute(
            &tiers,
            RebateMethod::Incremental,
            RebateBasis::NetRevenue,
            d("60000"),
            Some(d("2300")),
            "EUR",
        )
        .unwrap();
        assert!(!loose.capped);
        assert_eq!(loose.entitlement.to_string(), "2300.00");
    }

    #[test]
    fn quantity_basis_uses_an_amount_per_unit() {
        // Proves that for the quantity basis the rate is money per unit, not a percent.
        let tiers = table(&[("0", "0.50"), ("100", "0.75"), ("500", "1.00")]);
        let all = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::Quantity,
            d("600"),
            None,
            "EUR",
        )
        .unwrap();
        assert_eq!(all.entitlement.to_string(), "600.00");
        assert_eq!(all.arithmetic, "600 × 1 per unit = 600.00");
        let inc = compute(
            &tiers,
            RebateMethod::Incremental,
            RebateBasis::Quantity,
            d("600"),
            None,
            "EUR",
        )
        .unwrap();
        // 100 × 0.50 + 400 × 0.75 + 100 × 1.00
        assert_eq!(inc.entitlement.to_string(), "450.00");
        assert_eq!(
            inc.arithmetic,
            "100 × 0.5 per unit + 400 × 0.75 per unit + 100 × 1 per unit = 450.00"
        );
    }

    #[test]
    fn gross_margin_basis_is_a_percent() {
        // Proves the gross-margin basis reads rates as percents, like net revenue.
        let c = compute(
            &volume_table(),
            RebateMethod::AllUnits,
            RebateBasis::GrossMargin,
            d("12000.50"),
            None,
            "USD",
        )
        .unwrap();
        assert_eq!(c.entitlement.to_string(), "480.02");
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        // Proves an absurd basis times an absurd rate returns RebateError::Overflow.
        let tiers = table(&[("0", "79228162514264337593543950335")]);
        let result = compute(
            &tiers,
            RebateMethod::AllUnits,
            RebateBasis::Quantity,
            d("1000"),
            None,
            "EUR",
        );
        assert_eq!(result, Err(RebateError::Overflow));
        assert_eq!(RebateError::Overflow.code(), "overflow");
    }

    #[test]
    fn validation_codes_and_paths() {
        // Proves each table error has its stable code and field path, and a good table has none.
        assert!(validate_tiers(&volume_table()).is_empty());
        assert_eq!(codes(&validate_tiers(&[])), vec![("tiers", "no_tiers")]);
        assert_eq!(
            codes(&validate_tiers(&table(&[("5", "1")]))),
            vec![("tiers[0].from", "first_tier_not_zero")]
        );
        assert_eq!(
            codes(&validate_tiers(&table(&[
                ("0", "1"),
                ("100", "2"),
                ("100", "-3")
            ]))),
            vec![
                ("tiers[2].from", "tiers_not_increasing"),
                ("tiers[2].rate", "negative_rate")
            ]
        );
        assert_eq!(
            codes(&validate_tiers(&table(&[("0", "1"), ("-5", "2")]))),
            vec![("tiers[1].from", "tiers_not_increasing")]
        );
        let long: Vec<RebateTier> = (0..=REBATE_TIERS_MAX)
            .map(|i| RebateTier {
                from: Decimal::from(i),
                rate: Decimal::ONE,
            })
            .collect();
        assert_eq!(
            codes(&validate_tiers(&long)),
            vec![("tiers", "too_many_tiers")]
        );
    }

    #[test]
    fn json_forms() {
        // Proves decimals are strings in JSON, enums are snake_case and unknown fields are refused.
        let tier: RebateTier = serde_json::from_str(r#"{"from":"10000","rate":"2.5"}"#).unwrap();
        assert_eq!(tier.rate, d("2.5"));
        assert_eq!(
            serde_json::to_string(&tier).unwrap(),
            r#"{"from":"10000","rate":"2.5"}"#
        );
        assert!(serde_json::from_str::<RebateTier>(r#"{"from":"0","rate":"1","x":1}"#).is_err());
        assert_eq!(
            serde_json::to_string(&RebateMethod::AllUnits).unwrap(),
            r#""all_units""#
        );
        assert_eq!(
            serde_json::to_string(&RebateBasis::GrossMargin).unwrap(),
            r#""gross_margin""#
        );
        assert_eq!(
            serde_json::to_string(&SettlementKind::Delta).unwrap(),
            r#""delta""#
        );
        assert_eq!("incremental".parse(), Ok(RebateMethod::Incremental));
        assert!("tiered".parse::<RebateMethod>().is_err());

        let c = compute(
            &volume_table(),
            RebateMethod::Incremental,
            RebateBasis::NetRevenue,
            d("60000"),
            Some(d("5000")),
            "EUR",
        )
        .unwrap();
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["entitlement"], "2300.00");
        assert_eq!(json["rate"], "5");
        assert_eq!(json["method"], "incremental");
        let back: RebateComputation = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn partial_settlements_net_approved_and_pending() {
        // Proves a partial pays what is neither approved nor pending, and refuses when that is not positive.
        let amount = settlement_amount(
            SettlementKind::Partial,
            d("2300.00"),
            d("1000.00"),
            d("300.00"),
            false,
            false,
        );
        assert_eq!(amount, Ok(d("1000.00")));
        // Allowed after the period too, while it is not final.
        assert_eq!(
            settlement_amount(
                SettlementKind::Partial,
                d("500"),
                d("0"),
                d("0"),
                true,
                false
            ),
            Ok(d("500"))
        );
        let nothing = settlement_amount(
            SettlementKind::Partial,
            d("2300.00"),
            d("2000.00"),
            d("300.00"),
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(nothing.code(), "nothing_to_settle");
        let over = settlement_amount(
            SettlementKind::Partial,
            d("1800.00"),
            d("2000.00"),
            d("0"),
            false,
            false,
        )
        .unwrap_err();
        assert_eq!(
            over,
            SettlementRefusal::NothingToSettle {
                entitlement: d("1800.00"),
                settled: d("2000.00"),
                remaining: d("-200.00"),
            }
        );
        assert_eq!(
            settlement_amount(
                SettlementKind::Partial,
                d("900"),
                d("0"),
                d("0"),
                true,
                true
            )
            .unwrap_err()
            .code(),
            "already_final"
        );
    }

    #[test]
    fn final_settlements_wait_for_period_end_and_take_any_sign() {
        // Proves a final needs an ended, not yet final period and pays entitlement − approved of any sign.
        let final_amount = |entitlement: &str, approved: &str, ended: bool, done: bool| {
            settlement_amount(
                SettlementKind::Final,
                d(entitlement),
                d(approved),
                Decimal::ZERO,
                ended,
                done,
            )
        };
        assert_eq!(
            final_amount("2300.00", "1000.00", true, false),
            Ok(d("1300.00"))
        );
        assert_eq!(
            final_amount("800.00", "1000.00", true, false),
            Ok(d("-200.00"))
        );
        assert_eq!(
            final_amount("1000.00", "1000.00", true, false),
            Ok(d("0.00"))
        );
        assert_eq!(
            final_amount("2300.00", "1000.00", false, false)
                .unwrap_err()
                .code(),
            "period_not_ended"
        );
        assert_eq!(
            final_amount("2300.00", "2300.00", true, true)
                .unwrap_err()
                .code(),
            "already_final"
        );
    }

    #[test]
    fn delta_settlements_follow_a_final_and_may_claw_back() {
        // Proves a delta needs an approved final, must be non-zero, and is negative after late returns.
        let delta = |entitlement: &str, approved: &str, done: bool| {
            settlement_amount(
                SettlementKind::Delta,
                d(entitlement),
                d(approved),
                Decimal::ZERO,
                true,
                done,
            )
        };
        assert_eq!(delta("2500.00", "2300.00", true), Ok(d("200.00")));
        assert_eq!(delta("2100.00", "2300.00", true), Ok(d("-200.00")));
        assert_eq!(
            delta("2300.00", "2300.00", true).unwrap_err().code(),
            "nothing_to_settle"
        );
        assert_eq!(
            delta("2500.00", "2300.00", false).unwrap_err().code(),
            "no_final_yet"
        );
    }

    #[test]
    fn settlement_refusal_codes_are_stable() {
        // Proves every refusal maps to its documented code.
        assert_eq!(SettlementRefusal::PeriodNotEnded.code(), "period_not_ended");
        assert_eq!(SettlementRefusal::AlreadyFinal.code(), "already_final");
        assert_eq!(SettlementRefusal::NoFinalYet.code(), "no_final_yet");
        assert_eq!(SettlementRefusal::Overflow.code(), "overflow");
        assert_eq!(
            settlement_amount(
                SettlementKind::Final,
                Decimal::MIN,
                Decimal::MAX,
                Decimal::ZERO,
                true,
                false
            ),
            Err(SettlementRefusal::Overflow)
        );
    }

    /// A valid table: 1–6 tiers, from 0 by positive steps, rates with two places from 0 to 30.
    fn valid_table(non_decreasing_rates: bool) -> impl Strategy<Value = Vec<RebateTier>> {
        proptest::collection::vec((1i64..2_000_000, 0i64..1_000), 1..6).prop_map(move |steps| {
            let mut from = 0i64;
            let mut rate = 0i64;
            steps
                .iter()
                .enumerate()
                .map(|(i, (step, rate_cents))| {
                    if i > 0 {
                        from += step;
                    }
                    rate = if non_decreasing_rates {
                        rate + rate_cents
                    } else {
                        rate_cents * 3
                    };
                    RebateTier {
                        from: Decimal::new(from, 2),
                        rate: Decimal::new(rate, 2),
                    }
                })
                .collect()
        })
    }

    fn any_basis_kind() -> impl Strategy<Value = RebateBasis> {
        prop_oneof![
            Just(RebateBasis::NetRevenue),
            Just(RebateBasis::Quantity),
            Just(RebateBasis::GrossMargin),
        ]
    }

    fn any_cap() -> impl Strategy<Value = Option<Decimal>> {
        proptest::option::of((0i64..100_000_000).prop_map(|c| Decimal::new(c, 2)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn incremental_never_exceeds_all_units(
            tiers in valid_table(true),
            kind in any_basis_kind(),
            cents in -1_000i64..20_000_000,
            cap in any_cap(),
        ) {
            // Proves that with non-decreasing rates incremental ≤ all-units, exactly and after cap and rounding.
            let basis = Decimal::new(cents, 2);
            let all = compute(&tiers, RebateMethod::AllUnits, kind, basis, cap, "EUR").unwrap();
            let inc = compute(&tiers, RebateMethod::Incremental, kind, basis, cap, "EUR").unwrap();
            prop_assert!(inc.unrounded <= all.unrounded);
            prop_assert!(inc.entitlement <= all.entitlement);
            prop_assert!(inc.entitlement >= Decimal::ZERO);
        }

        #[test]
        fn incremental_is_monotone_in_the_basis(
            tiers in valid_table(false),
            kind in any_basis_kind(),
            a in -1_000i64..20_000_000,
            b in -1_000i64..20_000_000,
            cap in any_cap(),
        ) {
            // Proves a larger basis never earns a smaller incremental entitlement, whatever the rates.
            let (low, high) = (Decimal::new(a.min(b), 2), Decimal::new(a.max(b), 2));
            let at_low = compute(&tiers, RebateMethod::Incremental, kind, low, cap, "EUR").unwrap();
            let at_high = compute(&tiers, RebateMethod::Incremental, kind, high, cap, "EUR").unwrap();
            prop_assert!(at_low.unrounded <= at_high.unrounded);
            prop_assert!(at_low.entitlement <= at_high.entitlement);
        }

        #[test]
        fn approved_settlements_sum_to_the_final_entitlement(
            steps in proptest::collection::vec((-50_000i64..500_000, any::<bool>()), 0..12),
            final_cents in -50_000i64..500_000,
            late in proptest::collection::vec(-50_000i64..500_000, 0..4),
        ) {
            // Proves any run of approved (or rejected) partials then a final leaves Σ approved = the final entitlement, and deltas keep it so.
            let mut approved = Decimal::ZERO;
            let mut final_approved = false;
            for (cents, approve) in steps {
                let entitlement = Decimal::new(cents, 2);
                match settlement_amount(SettlementKind::Partial, entitlement, approved, Decimal::ZERO, false, false) {
                    Ok(amount) => {
                        prop_assert!(amount > Decimal::ZERO);
                        if approve {
                            approved += amount;
                        }
                    }
                    Err(refusal) => prop_assert_eq!(refusal.code(), "nothing_to_settle"),
                }
                prop_assert!(settlement_amount(SettlementKind::Delta, entitlement, approved, Decimal::ZERO, false, final_approved).is_err());
            }
            let final_entitlement = Decimal::new(final_cents, 2);
            let amount = settlement_amount(SettlementKind::Final, final_entitlement, approved, Decimal::ZERO, true, false).unwrap();
            approved += amount;
            final_approved = true;
            prop_assert_eq!(approved, final_entitlement);
            prop_assert!(settlement_amount(SettlementKind::Final, final_entitlement, approved, Decimal::ZERO, true, final_approved).is_err());

            for cents in late {
                let entitlement = Decimal::new(cents, 2);
                match settlement_amount(SettlementKind::Delta, entitlement, approved, Decimal::ZERO, true, final_approved) {
                    Ok(amount) => approved += amount,
                    Err(refusal) => prop_assert_eq!(refusal.code(), "nothing_to_settle"),
                }
                prop_assert_eq!(approved, entitlement);
            }
        }

        #[test]
        fn validation_accepts_exactly_the_valid_tables(
            steps in proptest::collection::vec((-3i64..20, -3i64..6), 0..7),
        ) {
            // Proves validate_tiers is empty exactly for non-empty tables from 0, strictly increasing, with rates ≥ 0.
            let tiers: Vec<RebateTier> = steps
                .iter()
                .map(|(from, rate)| RebateTier { from: Decimal::from(*from), rate: Decimal::from(*rate) })
                .collect();
            let valid = !tiers.is_empty()
                && tiers.len() <= REBATE_TIERS_MAX
                && tiers[0].from == Decimal::ZERO
                && tiers.windows(2).all(|w| w[0].from < w[1].from)
                && tiers.iter().all(|t| t.rate >= Decimal::ZERO);
            let errors = validate_tiers(&tiers);
            prop_assert_eq!(errors.is_empty(), valid);
            for error in &errors {
                prop_assert!(
                    ["no_tiers", "too_many_tiers", "first_tier_not_zero", "tiers_not_increasing", "negative_rate"]
                        .contains(&error.code.as_str())
                );
                prop_assert!(error.field == "tiers" || error.field.starts_with("tiers["));
            }
        }
    }
}
