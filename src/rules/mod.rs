//! Pure calculations of DESIGN §5: calendar windows and periods, tier evaluation, and the
//! Pareto (20/80) report.
//!
//! - `allocation`: peak-season supply allocation per sku (reserves, priority classes, pro rata).
//! - `contests`: sales-contest prizes, growth and standings with ties (competition ranking).
//!
//! Deliberately absent: IO, sled, axum, the clock and async. Every function takes the
//! dates and amounts it needs as arguments, so the same inputs always give the same answer
//! and the rules can be tested (and property-tested) without a ledger.

pub mod allocation;
pub mod calendar;
pub mod contests;
pub mod pareto;
pub mod rebates;
pub mod tiers;

use rust_decimal::{Decimal, RoundingStrategy};

/// Decimal places of every percent the rules report ("12.15", "100.00").
pub const PERCENT_PLACES: u32 = 2;

/// The one rounding rule for percents: two places, midpoint away from zero, always written
/// with exactly two places so JSON shows "12.50" and "100.00" rather than "12.5" and "100".
/// Callers compute the exact ratio first and round once, here, at the end.
pub fn round_percent(exact: Decimal) -> Decimal {
    let mut rounded =
        exact.round_dp_with_strategy(PERCENT_PLACES, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(PERCENT_PLACES);
    rounded
}

/// `part / whole × 100`, exact up to `Decimal`'s 28 digits and not yet rounded; `None`
/// when `whole ≤ 0` (a share of nothing, or of a negative total, means nothing).
pub(crate) fn exact_percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    if whole <= Decimal::ZERO {
        return None;
    }
    // Multiplying first keeps every digit of the quotient; the fallback (dividing first)
    // only runs for parts above ~10^26, beyond any sum the limits allow (`domain::limits`).
    // Checked throughout: an overflow (impossible within the limits) is no percent, never
    // a panic.
    part.checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|scaled| scaled.checked_div(whole))
        .or_else(|| {
            part.checked_div(whole)
                .and_then(|q| q.checked_mul(Decimal::ONE_HUNDRED))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn percents_round_half_away_from_zero_to_two_places() {
        // Proves the .5 boundaries of round_percent go away from zero and the scale is always 2.
        assert_eq!(round_percent(d("12.345")).to_string(), "12.35");
        assert_eq!(round_percent(d("12.3449")).to_string(), "12.34");
        assert_eq!(round_percent(d("-12.345")).to_string(), "-12.35");
        assert_eq!(round_percent(d("0.005")).to_string(), "0.01");
        assert_eq!(round_percent(d("100")).to_string(), "100.00");
        assert_eq!(round_percent(d("12.5")).to_string(), "12.50");
    }

    #[test]
    fn exact_percent_refuses_non_positive_wholes() {
        // Proves a share of a zero or negative total is absent rather than a division error.
        assert_eq!(exact_percent(d("5"), Decimal::ZERO), None);
        assert_eq!(exact_percent(d("5"), d("-10")), None);
        assert_eq!(
            exact_percent(d("1"), d("3")).map(round_percent),
            Some(d("33.33"))
        );
        assert_eq!(exact_percent(d("1"), d("8")), Some(d("12.5")));
    }
}
