//! Per-day sales totals of one account: the basis of tier metrics and the Pareto report.
//! A return is subtracted on the day of the sale it returns (DESIGN §5.1), so a window's
//! sum is that window's sales net of everything later returned from them.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::events::LineEffect;
use super::stored;
use crate::kernel::sorted::SortedMap;

/// Totals of one day's sales (and of a month's sku or category: `SalesBreakdown`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTotals {
    /// Net revenue: sales minus returns.
    #[serde(with = "stored::decimal")]
    pub net: Decimal,
    /// Cost of those sales (net amount where the cost is unknown: zero margin).
    #[serde(with = "stored::decimal")]
    pub cost: Decimal,
    #[serde(with = "stored::decimal")]
    pub quantity: Decimal,
}

/// What a day adds to tier metrics: net revenue and cost (no quantity: no metric reads it,
/// and the state holds one of these per account and day).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayAmounts {
    /// Net revenue: sales minus returns.
    #[serde(with = "stored::decimal")]
    pub net: Decimal,
    /// Cost of those sales (net amount where the cost is unknown: zero margin).
    #[serde(with = "stored::decimal")]
    pub cost: Decimal,
}

/// A business day, in the stored form of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Day(#[serde(with = "stored::date")] NaiveDate);

/// One account's amounts by business day (36 bytes a day: the state holds one per account
/// and day sold on, in the engine's decision state and in its read models).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailySales {
    days: SortedMap<Day, DayAmounts>,
}

impl DailySales {
    /// Adds a sale or return line's effect on its day (a return's amounts are negative, on
    /// its sale's day).
    pub fn add_line(&mut self, line: &LineEffect) {
        self.add(line.sale_on, line.net, line.cost);
    }

    /// Adds a sale on its day (tests build totals by hand with it).
    #[cfg(test)]
    pub fn add_sale(&mut self, on: NaiveDate, net: Decimal, cost: Decimal) {
        self.add(on, net, cost);
    }

    fn add(&mut self, on: NaiveDate, net: Decimal, cost: Decimal) {
        // Saturating: apply cannot fail, and `limits` keeps every total within 10^18.
        let day = self.days.entry_or_default(Day(on));
        day.net = day.net.saturating_add(net);
        day.cost = day.cost.saturating_add(cost);
    }

    /// Subtracts a return on the day of the sale it returns: the plain subtraction that
    /// [`DailySales::add_line`] with the return's [`LineEffect`] must equal bit for bit.
    #[cfg(test)]
    pub fn subtract_return(&mut self, sale_on: NaiveDate, net: Decimal, cost: Decimal) {
        let day = self.days.entry_or_default(Day(sale_on));
        day.net = day.net.saturating_sub(net);
        day.cost = day.cost.saturating_sub(cost);
    }

    /// Days from `from` to `to`, both included, in order.
    pub fn between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, DayAmounts)> + '_ {
        self.days.range(Day(from)..=Day(to)).map(|(d, t)| (d.0, *t))
    }

    /// Net revenue from `from` to `to`, both included.
    pub fn net_between(&self, from: NaiveDate, to: NaiveDate) -> Decimal {
        self.between(from, to)
            .fold(Decimal::ZERO, |sum, (_, t)| sum.saturating_add(t.net))
    }

    /// True when nothing was ever sold.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{SaleRecorded, SaleReturned};
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn returns_count_on_the_sale_day_and_ranges_are_inclusive() {
        // Proves a return lowers its sale's day and the window edges are both included.
        let mut sales = DailySales::default();
        sales.add_sale(day("2026-03-01"), d("100.00"), d("60.00"));
        sales.add_sale(day("2026-03-31"), d("50.00"), d("50.00"));
        sales.add_sale(day("2026-04-01"), d("7.00"), d("1.00"));
        sales.subtract_return(day("2026-03-01"), d("30.00"), d("18.00"));
        assert_eq!(
            sales.net_between(day("2026-03-01"), day("2026-03-31")),
            d("120.00")
        );
        assert_eq!(
            sales.net_between(day("2026-03-02"), day("2026-03-30")),
            d("0")
        );
        assert_eq!(
            sales.net_between(day("2026-04-01"), day("2026-03-01")),
            d("0")
        );
        let first = sales
            .between(day("2026-03-01"), day("2026-03-01"))
            .next()
            .unwrap()
            .1;
        assert_eq!((first.net, first.cost), (d("70.00"), d("42.00")));
    }

    fn returned(amount: Decimal, sale_on: NaiveDate) -> SaleReturned {
        SaleReturned {
            account_id: "A".into(),
            return_id: "R".into(),
            invoice_id: "I".into(),
            line: 1,
            sku: "S".into(),
            category: "C".into(),
            quantity: amount,
            net_amount: amount,
            cost_amount: amount,
            occurred_on: sale_on,
            sale_occurred_on: sale_on,
        }
    }

    #[test]
    fn a_return_added_as_its_line_effect_equals_subtracting_it_bit_for_bit() {
        // Proves add_line with a return's taken-back amounts leaves exactly the Decimal that
        // subtract_return leaves: value, scale, the sign of a zero, and saturation.
        let values = [
            "0",
            "0.00",
            "-0",
            "-0.00",
            "1",
            "0.01",
            "10.50",
            "3.333333",
            "-5.5",
            "99999999999999.99",
            "1000000000000000",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
        ];
        let on = day("2026-03-01");
        for before in values.iter().map(|v| Some(d(v))).chain([None]) {
            for amount in values.map(d) {
                let mut by_line = DailySales::default();
                let mut by_subtraction = DailySales::default();
                if let Some(b) = before {
                    by_line.add_sale(on, b, b);
                    by_subtraction.add_sale(on, b, b);
                }
                by_line.add_line(&returned(amount, on).line_effect());
                by_subtraction.subtract_return(on, amount, amount);
                let (a, b) = (
                    by_line.days.get(&Day(on)),
                    by_subtraction.days.get(&Day(on)),
                );
                let (a, b) = (a.unwrap(), b.unwrap());
                for (x, y) in [(a.net, b.net), (a.cost, b.cost)] {
                    assert_eq!(x.serialize(), y.serialize(), "{before:?} - {amount}");
                }
            }
        }
    }

    #[test]
    fn a_sale_adds_its_cost_or_else_its_net() {
        // Proves a sale's line effect counts on its own day, with the net as the cost of a
        // sale without one.
        let mut sale = SaleRecorded {
            account_id: "A".into(),
            invoice_id: "I".into(),
            line: 1,
            sku: "S".into(),
            category: "C".into(),
            quantity: d("2"),
            net_amount: d("100.00"),
            cost_amount: None,
            currency: "CNY".into(),
            occurred_on: day("2026-03-02"),
        };
        let mut sales = DailySales::default();
        sales.add_line(&sale.line_effect());
        sale.cost_amount = Some(d("60.00"));
        sales.add_line(&sale.line_effect());
        let totals = *sales.days.get(&Day(day("2026-03-02"))).unwrap();
        assert_eq!((totals.net, totals.cost), (d("200.00"), d("160.00")));
        let effect = sale.line_effect();
        assert_eq!(
            (effect.account_id, effect.sku, effect.category),
            ("A", "S", "C")
        );
    }
}
