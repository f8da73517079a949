//! Sales by account, month, sku and category (returns in their sale's month), kept
//! incrementally as sales and returns arrive, for summaries and (issue 4) scoped rebates.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::daily::DayTotals;
use crate::domain::events::LineEffect;
use crate::domain::money::round_to_minor_unit;
use crate::domain::state::FastMap;
use crate::kernel::sorted::SortedMap;
use crate::rules::calendar::{month_first_day, month_index};

/// One account's totals by (month index, name) for skus and for categories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesBreakdown {
    /// The account's sku and category names, interned: keys stay small and a sale on
    /// replay allocates nothing once its names are known.
    names: Vec<String>,
    ids: FastMap<String, u32>,
    by_sku: SortedMap<(i32, u32), DayTotals>,
    by_category: SortedMap<(i32, u32), DayTotals>,
}

fn add(
    map: &mut SortedMap<(i32, u32), DayTotals>,
    month: i32,
    name: u32,
    net: Decimal,
    cost: Decimal,
    quantity: Decimal,
) {
    // Saturating: apply cannot fail, and `domain::limits` keeps every sum within ±2·10^18.
    let totals = map.entry_or_default((month, name));
    totals.net = totals.net.saturating_add(net);
    totals.cost = totals.cost.saturating_add(cost);
    totals.quantity = totals.quantity.saturating_add(quantity);
}

impl SalesBreakdown {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Adds a sale, or takes a return back, in its sale's month.
    pub fn add_line(&mut self, line: &LineEffect<'_>) {
        self.add(
            month_index(line.sale_on),
            line.sku,
            line.category,
            [line.net, line.cost, line.quantity],
        );
    }

    /// Adds one line's signed `[net, cost, quantity]` (negative for a return) to its sku
    /// and its category in `month` (the sale's month).
    fn add(&mut self, month: i32, sku: &str, category: &str, amounts: [Decimal; 3]) {
        let [net, cost, quantity] = amounts;
        let sku = self.id(sku);
        add(&mut self.by_sku, month, sku, net, cost, quantity);
        let category = self.id(category);
        add(&mut self.by_category, month, category, net, cost, quantity);
    }

    /// Monthly summaries for months `from..=to` (month indexes) that had any sale, money
    /// written with exactly the `currency`'s minor-unit places.
    pub fn months(&self, from: i32, to: i32, currency: &str) -> Vec<MonthSummary> {
        let mut months: BTreeMap<i32, MonthSummary> = BTreeMap::new();
        let blank = |month: i32| MonthSummary {
            month: month_first_day(month).format("%Y-%m").to_string(),
            net_revenue: Decimal::ZERO,
            gross_margin: Decimal::ZERO,
            quantity: Decimal::ZERO,
            by_category: Vec::new(),
            by_sku: Vec::new(),
        };
        let range = (from, 0)..=(to, u32::MAX);
        for ((month, name), t) in self.by_category.range(range.clone()) {
            let summary = months.entry(*month).or_insert_with(|| blank(*month));
            summary.net_revenue = summary.net_revenue.saturating_add(t.net);
            summary.gross_margin = summary
                .gross_margin
                .saturating_add(t.net.saturating_sub(t.cost));
            summary.quantity = summary.quantity.saturating_add(t.quantity);
            summary
                .by_category
                .push(NamedTotals::new(&self.names[*name as usize], t, currency));
        }
        for ((month, name), t) in self.by_sku.range(range) {
            months
                .entry(*month)
                .or_insert_with(|| blank(*month))
                .by_sku
                .push(NamedTotals::new(&self.names[*name as usize], t, currency));
        }
        months
            .into_values()
            .map(|mut m| {
                m.net_revenue = round_to_minor_unit(m.net_revenue, currency);
                m.gross_margin = round_to_minor_unit(m.gross_margin, currency);
                m
            })
            .collect()
    }
}

/// Totals of one sku or category in a month.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NamedTotals {
    pub name: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub net_revenue: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub gross_margin: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
}

impl NamedTotals {
    fn new(name: &str, t: &DayTotals, currency: &str) -> NamedTotals {
        NamedTotals {
            name: name.to_string(),
            net_revenue: round_to_minor_unit(t.net, currency),
            gross_margin: round_to_minor_unit(t.net.saturating_sub(t.cost), currency),
            quantity: t.quantity,
        }
    }
}

/// One month of an account's sales, net of returns of that month's sales.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MonthSummary {
    /// `YYYY-MM`.
    pub month: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub net_revenue: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub gross_margin: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    pub by_category: Vec<NamedTotals>,
    pub by_sku: Vec<NamedTotals>,
}
