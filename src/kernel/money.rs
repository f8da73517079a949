//! Money and quantities: currencies, minor units and the one rounding rule.
//!
//! Money is always `rust_decimal::Decimal`; nothing here ever touches a float.

use rust_decimal::{Decimal, RoundingStrategy};

/// ISO 4217 codes the ledger accepts. A short, explicit list: an unknown code is far more
/// likely a typo in an ERP extract than a currency we should silently trust.
const KNOWN_CURRENCIES: &[&str] = &[
    "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR",
    "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RUB", "SAR", "SEK", "SGD",
    "THB", "TRY", "TWD", "USD", "VND", "ZAR",
];

/// True when `code` is one of the ISO 4217 currencies the ledger accepts.
pub fn is_known_currency(code: &str) -> bool {
    KNOWN_CURRENCIES.contains(&code)
}

/// The most minor-unit places any accepted currency has: the bound for money that is not
/// tied to one currency (a tier policy's `min_net_revenue`).
pub const MONEY_PLACES_MAX: u32 = 2;

/// Decimal places of the currency's minor unit (DESIGN §5: 0 for JPY and KRW, else 2).
pub fn minor_unit_places(currency: &str) -> u32 {
    match currency {
        "JPY" | "KRW" => 0,
        _ => 2,
    }
}

/// The ledger's one money rounding rule: to the currency's minor unit, midpoint away from
/// zero. Every computed money result passes through here exactly once, at the end. The
/// result carries exactly the minor-unit places ("7" becomes "7.00") and zero is never
/// negative, so it is written as money without further formatting; for an amount already
/// in minor units (a stored line, a sum of them) it changes only that form, not the value.
pub fn round_to_minor_unit(amount: Decimal, currency: &str) -> Decimal {
    let places = minor_unit_places(currency);
    let mut rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(places);
    if rounded.is_zero() {
        rounded.set_sign_positive(true);
    }
    rounded
}

/// A sold line as a return sees it: what was sold and what is still left to return.
#[derive(Debug, Clone, Copy)]
pub struct ReturnableLine {
    pub sold_quantity: Decimal,
    pub sold_cost: Decimal,
    pub quantity_left: Decimal,
    pub cost_left: Decimal,
}

/// The cost a return takes back when it does not state its own. A return that completes
/// the line (its quantity is all that is left) takes exactly the cost that remains, so a
/// fully returned line leaves no cent of margin; a partial return takes
/// `sold_cost × returned_quantity / sold_quantity`, rounded by [`round_to_minor_unit`] and
/// never more than what is left.
pub fn prorate_return_cost(
    line: &ReturnableLine,
    returned_quantity: Decimal,
    currency: &str,
) -> Option<Decimal> {
    let cost_left = line.cost_left.max(Decimal::ZERO);
    if returned_quantity >= line.quantity_left {
        return Some(round_to_minor_unit(cost_left, currency));
    }
    // cost × quantity can pass Decimal's range when both are near the line limit (10^15 ×
    // 10^15); the quantity's share of the line (< 1) times the cost cannot, and is as exact
    // as the division is anyway (28 significant digits, far below a minor unit).
    let share = match line.sold_cost.checked_mul(returned_quantity) {
        Some(product) => product.checked_div(line.sold_quantity)?,
        None => returned_quantity
            .checked_div(line.sold_quantity)?
            .checked_mul(line.sold_cost)?,
    };
    Some(round_to_minor_unit(share, currency).min(round_to_minor_unit(cost_left, currency)))
}

/// Zero written with the currency's minor-unit places ("0.00"; "0" for JPY).
pub fn zero_money(currency: &str) -> Decimal {
    let mut zero = Decimal::ZERO;
    zero.rescale(minor_unit_places(currency));
    zero
}

/// Renders money with exactly the currency's minor-unit places ("1234.50").
pub fn format_money(amount: Decimal, currency: &str) -> String {
    round_to_minor_unit(amount, currency).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn a_partial_return_at_the_line_limits_does_not_overflow() {
        // Proves a cost and quantity both near 10^15 still prorate (their product would not fit).
        let line = ReturnableLine {
            sold_quantity: d("1000000000000000"),
            sold_cost: d("1000000000000000.00"),
            quantity_left: d("1000000000000000"),
            cost_left: d("1000000000000000.00"),
        };
        assert_eq!(
            prorate_return_cost(&line, d("333333333333333"), "CNY"),
            Some(d("333333333333333.00"))
        );
    }

    #[test]
    fn rounding_midpoints_go_away_from_zero() {
        // Proves the .5 boundaries round away from zero, both signs, both minor units.
        assert_eq!(round_to_minor_unit(d("2.345"), "CNY"), d("2.35"));
        assert_eq!(round_to_minor_unit(d("2.3449"), "CNY"), d("2.34"));
        assert_eq!(round_to_minor_unit(d("-2.345"), "CNY"), d("-2.35"));
        assert_eq!(round_to_minor_unit(d("0.005"), "USD"), d("0.01"));
        assert_eq!(round_to_minor_unit(d("12.5"), "JPY"), d("13"));
        assert_eq!(round_to_minor_unit(d("-12.5"), "KRW"), d("-13"));
    }

    #[test]
    fn format_pads_to_minor_unit() {
        // Proves amounts are rendered with exactly the currency's places.
        assert_eq!(format_money(d("1234.5"), "CNY"), "1234.50");
        assert_eq!(format_money(d("7"), "EUR"), "7.00");
        assert_eq!(format_money(d("7.4"), "JPY"), "7");
        assert_eq!(
            format_money(d("5.1000000000000000000000000000"), "CNY"),
            "5.10"
        );
        assert_eq!(format_money(-d("0.00"), "CNY"), "0.00");
        assert_eq!(format_money(-d("0.001"), "CNY"), "0.00");
        assert_eq!(round_to_minor_unit(d("100"), "USD").to_string(), "100.00");
        assert_eq!(round_to_minor_unit(d("100.00"), "KRW").to_string(), "100");
        assert!(KNOWN_CURRENCIES
            .iter()
            .all(|c| minor_unit_places(c) <= MONEY_PLACES_MAX));
    }

    fn line(
        sold_quantity: &str,
        sold_cost: &str,
        quantity_left: &str,
        cost_left: &str,
    ) -> ReturnableLine {
        ReturnableLine {
            sold_quantity: d(sold_quantity),
            sold_cost: d(sold_cost),
            quantity_left: d(quantity_left),
            cost_left: d(cost_left),
        }
    }

    #[test]
    fn prorated_cost_is_capped_by_what_is_left() {
        // Proves a prorated return cost never exceeds the cost still returnable.
        assert_eq!(
            prorate_return_cost(&line("3", "10.00", "3", "10.00"), d("1"), "CNY"),
            Some(d("3.33"))
        );
        assert_eq!(
            prorate_return_cost(&line("4", "10.00", "3", "6.00"), d("2"), "CNY"),
            Some(d("5.00"))
        );
        assert_eq!(
            prorate_return_cost(&line("4", "10.00", "3", "4.00"), d("2"), "CNY"),
            Some(d("4.00"))
        );
    }

    #[test]
    fn a_return_that_completes_the_line_takes_the_cost_that_remains() {
        // Proves the last of three 1-unit returns of 10.00 takes 3.34, not 3.33, so the
        // three together take back exactly the sold cost; likewise for JPY.
        assert_eq!(
            prorate_return_cost(&line("3", "10.00", "1", "3.34"), d("1"), "CNY"),
            Some(d("3.34"))
        );
        assert_eq!(
            prorate_return_cost(&line("3", "10.00", "3", "10.00"), d("3"), "CNY"),
            Some(d("10.00"))
        );
        assert_eq!(
            prorate_return_cost(&line("3", "100", "1.5", "67"), d("1.5"), "JPY"),
            Some(d("67"))
        );
    }
}
