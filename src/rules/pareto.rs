//! The 20/80 report (issue 3): accounts ranked by net revenue over a window, each with its
//! share and the cumulative share, and how much of the revenue the top 20 % bring.

use crate::kernel::sums::{checked_sum, Overflow};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{exact_percent, round_percent};

/// The fraction of accounts the headline figure looks at: the "20" of 20/80.
const TOP_SHARE_PERCENT: u32 = 20;

/// One account of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParetoRow {
    /// Position in the report, 1 first; accounts with equal revenue are ordered by id and
    /// still get distinct positions, since the cumulative share needs a strict order.
    pub rank: u32,
    pub account_id: String,
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub net_revenue: Decimal,
    /// This account's percent of the total, two places.
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub share_pct: Decimal,
    /// Percent of the total from this row and all rows above, from exact sums, two places.
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub cumulative_share_pct: Decimal,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ParetoReport {
    #[serde(with = "crate::kernel::stored::date")]
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    #[serde(with = "crate::kernel::stored::date")]
    #[schema(value_type = String, format = Date)]
    pub window_start: NaiveDate,
    pub window_months: u32,
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub total_net_revenue: Decimal,
    /// Number of accounts in the report.
    pub accounts: u32,
    /// ceil(20 % of the accounts); at least 1 when there is any account.
    pub top_20_percent_accounts: u32,
    /// Percent of the total net revenue that those accounts bring, two places.
    #[serde(with = "crate::kernel::stored::decimal")]
    #[schema(value_type = String)]
    pub top_20_percent_share_pct: Decimal,
    pub rows: Vec<ParetoRow>,
}

/// Builds the report from each account's net revenue over [window_start, as_of].
///
/// Rows run by net revenue descending, then account id ascending, so accounts with zero
/// or negative revenue sit at the bottom (they are listed: a key account that stopped
/// buying is news). Shares are of the total of all rows; when that total is not positive
/// every share is 0.00. With negative rows the cumulative share rises above 100 and comes
/// back to exactly 100.00 on the last row.
pub fn pareto(
    mut accounts: Vec<(String, Decimal)>,
    window_start: NaiveDate,
    as_of: NaiveDate,
    window_months: u32,
) -> Result<ParetoReport, Overflow> {
    accounts.sort_by(|(id_a, net_a), (id_b, net_b)| net_b.cmp(net_a).then_with(|| id_a.cmp(id_b)));
    let count = u32::try_from(accounts.len()).expect("fewer than 4 billion accounts");
    // Bounded sums of lines (`domain::limits`) stay far below Decimal's range; checked
    // anyway, so a ledger written before the limits gets an error, not a panic.
    let total = checked_sum(accounts.iter().map(|(_, net)| *net)).ok_or(Overflow)?;
    let share = |part: Decimal| {
        exact_percent(part, total).map_or(round_percent(Decimal::ZERO), round_percent)
    };
    let top_count = (count * TOP_SHARE_PERCENT).div_ceil(100);
    let mut running = Decimal::ZERO;
    let mut top_sum = Decimal::ZERO;
    let rows = accounts
        .into_iter()
        .enumerate()
        .map(|(position, (account_id, net_revenue))| {
            running = running.checked_add(net_revenue).ok_or(Overflow)?;
            if (position as u32) < top_count {
                top_sum = top_sum.checked_add(net_revenue).ok_or(Overflow)?;
            }
            Ok(ParetoRow {
                rank: position as u32 + 1,
                account_id,
                net_revenue,
                share_pct: share(net_revenue),
                cumulative_share_pct: share(running),
            })
        })
        .collect::<Result<Vec<_>, Overflow>>()?;
    Ok(ParetoReport {
        as_of,
        window_start,
        window_months,
        total_net_revenue: total,
        accounts: count,
        top_20_percent_accounts: top_count,
        top_20_percent_share_pct: share(top_sum),
        rows,
    })
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

    fn report(accounts: &[(&str, &str)]) -> ParetoReport {
        let accounts = accounts
            .iter()
            .map(|(id, net)| (id.to_string(), d(net)))
            .collect();
        pareto(accounts, date("2025-07-01"), date("2026-06-30"), 12).unwrap()
    }

    #[test]
    fn twenty_percent_of_accounts_bring_eighty_percent() {
        // Proves the classic 20/80 case: 2 of 10 accounts bring 80 % of 1,000,000.
        let mut accounts = vec![("KA-A", "500000.00"), ("KA-B", "300000.00")];
        let small: Vec<String> = (1..=8).map(|i| format!("KA-{i}")).collect();
        accounts.extend(small.iter().map(|id| (id.as_str(), "25000.00")));
        let r = report(&accounts);
        assert_eq!(r.total_net_revenue, d("1000000.00"));
        assert_eq!((r.accounts, r.top_20_percent_accounts), (10, 2));
        assert_eq!(r.top_20_percent_share_pct.to_string(), "80.00");
        let first = &r.rows[0];
        assert_eq!((first.rank, first.account_id.as_str()), (1, "KA-A"));
        assert_eq!(first.share_pct.to_string(), "50.00");
        assert_eq!(r.rows[1].cumulative_share_pct.to_string(), "80.00");
        assert_eq!(r.rows[2].account_id, "KA-1");
        assert_eq!(r.rows[2].share_pct.to_string(), "2.50");
        assert_eq!(r.rows[9].cumulative_share_pct.to_string(), "100.00");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["top_20_percent_share_pct"], "80.00");
        assert_eq!(json["rows"][0]["net_revenue"], "500000.00");
        assert_eq!(json["window_start"], "2025-07-01");
    }

    #[test]
    fn ties_are_ordered_by_account_id() {
        // Proves equal revenues are listed by account id ascending with distinct ranks.
        let r = report(&[
            ("KA-9", "100"),
            ("KA-10", "100"),
            ("KA-2", "300"),
            ("KA-1", "100"),
        ]);
        let order: Vec<_> = r
            .rows
            .iter()
            .map(|row| (row.rank, row.account_id.as_str()))
            .collect();
        assert_eq!(
            order,
            vec![(1, "KA-2"), (2, "KA-1"), (3, "KA-10"), (4, "KA-9")]
        );
        assert_eq!(r.top_20_percent_accounts, 1);
        assert_eq!(r.top_20_percent_share_pct.to_string(), "50.00");
    }

    #[test]
    fn cumulative_shares_come_from_exact_sums() {
        // Proves cumulative shares are rounded once from exact sums, so three thirds end at 100.00, not 99.99.
        let r = report(&[("A", "1"), ("B", "1"), ("C", "1")]);
        let shares: Vec<_> = r.rows.iter().map(|row| row.share_pct.to_string()).collect();
        let cumulative: Vec<_> = r
            .rows
            .iter()
            .map(|row| row.cumulative_share_pct.to_string())
            .collect();
        assert_eq!(shares, vec!["33.33", "33.33", "33.33"]);
        assert_eq!(cumulative, vec!["33.33", "66.67", "100.00"]);
    }

    #[test]
    fn non_positive_accounts_sit_at_the_bottom() {
        // Proves accounts without revenue or with net returns are listed last, and the total includes them.
        let r = report(&[("Z", "-100"), ("Y", "0"), ("X", "1100")]);
        let order: Vec<_> = r.rows.iter().map(|row| row.account_id.as_str()).collect();
        assert_eq!(order, vec!["X", "Y", "Z"]);
        assert_eq!(r.total_net_revenue, d("1000"));
        assert_eq!(r.rows[0].cumulative_share_pct.to_string(), "110.00");
        assert_eq!(r.rows[2].share_pct.to_string(), "-10.00");
        assert_eq!(r.rows[2].cumulative_share_pct.to_string(), "100.00");
    }

    #[test]
    fn empty_and_non_positive_totals_give_zero_shares() {
        // Proves an empty report has no top accounts and a non-positive total gives 0.00 shares, never a division error.
        let empty = report(&[]);
        assert_eq!((empty.accounts, empty.top_20_percent_accounts), (0, 0));
        assert_eq!(empty.top_20_percent_share_pct.to_string(), "0.00");
        let r = report(&[("A", "0"), ("B", "-5")]);
        assert_eq!(r.top_20_percent_accounts, 1);
        assert!(r
            .rows
            .iter()
            .all(|row| row.share_pct.is_zero() && row.cumulative_share_pct.is_zero()));
        assert_eq!(r.top_20_percent_share_pct.to_string(), "0.00");
    }

    #[test]
    fn top_twenty_percent_rounds_the_count_up() {
        // Proves the headline count is ceil(0.2 × n): 1 for 1–5 accounts, 2 for 6–10, 3 for 11.
        for (n, expected) in [
            (1, 1),
            (5, 1),
            (6, 2),
            (10, 2),
            (11, 3),
            (100, 20),
            (101, 21),
        ] {
            let accounts = (0..n).map(|i| (format!("A{i}"), Decimal::ONE)).collect();
            let r = pareto(accounts, date("2026-01-01"), date("2026-12-31"), 12).unwrap();
            assert_eq!(r.top_20_percent_accounts, expected, "n = {n}");
        }
    }

    proptest! {
        #[test]
        fn cumulative_share_rises_to_one_hundred(cents in proptest::collection::vec(0i64..10_000_000, 1..50)) {
            // Proves that for non-negative revenues the cumulative share never falls and ends at 100.00 when the total is positive.
            let accounts: Vec<_> = cents.iter().enumerate()
                .map(|(i, c)| (format!("KA-{i}"), Decimal::new(*c, 2))).collect();
            let r = pareto(accounts, date("2025-07-01"), date("2026-06-30"), 12).unwrap();
            for pair in r.rows.windows(2) {
                prop_assert!(pair[0].cumulative_share_pct <= pair[1].cumulative_share_pct);
                prop_assert!(pair[0].net_revenue >= pair[1].net_revenue);
            }
            let last = r.rows.last().unwrap();
            if r.total_net_revenue > Decimal::ZERO {
                prop_assert_eq!(last.cumulative_share_pct.to_string(), "100.00");
                prop_assert!(r.top_20_percent_share_pct >= Decimal::ONE_HUNDRED * Decimal::from(r.top_20_percent_accounts) / Decimal::from(r.accounts) - Decimal::new(1, 2));
            } else {
                prop_assert!(last.cumulative_share_pct.is_zero());
            }
        }
    }
}
