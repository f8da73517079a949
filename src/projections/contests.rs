//! Live contest standings (DESIGN §5.5): each account's metric over the contest window from
//! its line facts, its tier on the contest's last day, then `rules::contests::rank`.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::ReadModel;
use crate::domain::contests::Contest;
use crate::domain::money::round_to_minor_unit;
use crate::rules::calendar::add_months_clamped;
use crate::rules::contests::{growth_pct, rank, ContestMetric, Entrant, Standing};

/// Reason of an account whose tier on the contest's last day may not win contests.
pub const REASON_TIER_NOT_CONTEST_ELIGIBLE: &str = "tier_not_contest_eligible";
/// Reason of an account whose tier is not among the contest's eligible_tiers.
pub const REASON_TIER_NOT_ELIGIBLE: &str = "tier_not_eligible";

/// The days a contest measures as of `as_of`: from starts_on to the earlier of `as_of` and
/// ends_on (empty, start after end, before the contest starts).
pub fn window(contest: &Contest, as_of: NaiveDate) -> (NaiveDate, NaiveDate) {
    (contest.starts_on, as_of.min(contest.ends_on))
}

/// The same days one year earlier (the growth baseline), clamped at month ends.
pub fn baseline_window(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate) {
    (add_months_clamped(from, -12), add_months_clamped(to, -12))
}

/// One pass over an account's in-scope lines (returns on their sale's date): net revenue
/// and quantity with a sale date in `window`, and net revenue in `baseline`.
fn measure(
    read: &ReadModel,
    contest: &Contest,
    account_id: &str,
    window: (NaiveDate, NaiveDate),
    baseline: (NaiveDate, NaiveDate),
) -> (Decimal, Decimal, Decimal) {
    let (mut net, mut quantity, mut baseline_net) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let scoped = !(contest.scope_skus.is_empty() && contest.scope_categories.is_empty());
    let within = |(from, to): (NaiveDate, NaiveDate), day: NaiveDate| from <= day && day <= to;
    for line in read.accruals.lines(account_id) {
        let (current, earlier) = (
            within(window, line.sale_date),
            within(baseline, line.sale_date),
        );
        if !(current || earlier)
            || (scoped
                && !contest.in_scope(
                    read.accruals.name(line.sku),
                    read.accruals.name(line.category),
                ))
        {
            continue;
        }
        // Saturating: within `domain::limits` these sums stay within ±10^18.
        if current {
            net = net.saturating_add(line.net);
            quantity = quantity.saturating_add(line.quantity);
        }
        if earlier {
            baseline_net = baseline_net.saturating_add(line.net);
        }
    }
    (net, quantity, baseline_net)
}

/// The standings of `contest` as of `as_of`, from the log as the read model holds it: every
/// account of the contest's currency, measured over the window, its tier taken on the
/// earlier of `as_of` and the contest's last day.
pub fn standings(read: &ReadModel, contest: &Contest, as_of: NaiveDate) -> Vec<Standing> {
    let cutoff = read.head_position();
    let (from, to) = window(contest, as_of);
    let baseline = baseline_window(from, to);
    let tier_day = to.max(contest.starts_on);
    let entrants: Vec<Entrant> = read
        .accounts
        .list(None, cutoff)
        .filter(|a| a.currency == contest.currency)
        .map(|account| {
            let id = account.account_id.as_str();
            let metric = if from > to {
                Some(match contest.metric {
                    ContestMetric::NetRevenue => {
                        round_to_minor_unit(Decimal::ZERO, &contest.currency)
                    }
                    ContestMetric::Quantity | ContestMetric::GrowthPct => Decimal::ZERO,
                })
            } else {
                let (net, quantity, previous) = measure(read, contest, id, (from, to), baseline);
                match contest.metric {
                    ContestMetric::NetRevenue => Some(round_to_minor_unit(net, &contest.currency)),
                    ContestMetric::Quantity => Some(quantity.normalize()),
                    ContestMetric::GrowthPct => growth_pct(net, previous),
                }
            };
            let entitlement = read.incentives.entitlement(
                id,
                tier_day,
                cutoff,
                read.daily(id),
                account.relationship_stage,
            );
            let ineligible_reason = if !entitlement.entitlements.contest_eligible {
                Some(REASON_TIER_NOT_CONTEST_ELIGIBLE.to_string())
            } else if !contest.eligible_tiers.is_empty()
                && !contest.eligible_tiers.contains(&entitlement.tier)
            {
                Some(REASON_TIER_NOT_ELIGIBLE.to_string())
            } else {
                None
            };
            Entrant {
                account_id: account.account_id,
                metric,
                eligible: ineligible_reason.is_none(),
                ineligible_reason,
            }
        })
        .collect();
    rank(
        entrants,
        contest.min_metric,
        &contest.prizes,
        &contest.currency,
    )
}
