//! Per-day sales totals of one account: the basis of tier metrics and the Pareto report.
//! A return is subtracted on the day of the sale it returns (DESIGN §5.1), so a window's
//! sum is that window's sales net of everything later returned from them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Totals of one day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayTotals {
    /// Net revenue: sales minus returns.
    pub net: Decimal,
    /// Cost of those sales (net amount where the cost is unknown: zero margin).
    pub cost: Decimal,
    pub quantity: Decimal,
}

/// One account's totals by business day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailySales {
    days: BTreeMap<NaiveDate, DayTotals>,
}

impl DailySales {
    /// Adds a sale on its day.
    pub fn add_sale(&mut self, on: NaiveDate, net: Decimal, cost: Decimal, quantity: Decimal) {
        // Saturating: apply cannot fail, and `limits` keeps every total within 10^18.
        let day = self.days.entry(on).or_default();
        day.net = day.net.saturating_add(net);
        day.cost = day.cost.saturating_add(cost);
        day.quantity = day.quantity.saturating_add(quantity);
    }

    /// Subtracts a return on the day of the sale it returns.
    pub fn subtract_return(
        &mut self,
        sale_on: NaiveDate,
        net: Decimal,
        cost: Decimal,
        quantity: Decimal,
    ) {
        let day = self.days.entry(sale_on).or_default();
        day.net = day.net.saturating_sub(net);
        day.cost = day.cost.saturating_sub(cost);
        day.quantity = day.quantity.saturating_sub(quantity);
    }

    /// Days from `from` to `to`, both included, in order.
    pub fn between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (NaiveDate, DayTotals)> + '_ {
        let range = if from <= to {
            Some(self.days.range(from..=to))
        } else {
            None
        };
        range.into_iter().flatten().map(|(d, t)| (*d, *t))
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
        sales.add_sale(day("2026-03-01"), d("100.00"), d("60.00"), d("10"));
        sales.add_sale(day("2026-03-31"), d("50.00"), d("50.00"), d("5"));
        sales.add_sale(day("2026-04-01"), d("7.00"), d("1.00"), d("1"));
        sales.subtract_return(day("2026-03-01"), d("30.00"), d("18.00"), d("3"));
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
        assert_eq!(
            (first.net, first.cost, first.quantity),
            (d("70.00"), d("42.00"), d("7"))
        );
    }
}
