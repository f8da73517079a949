//! An account's tier and entitlements on a day, explained: the policy in force, the
//! metrics of its window, what the next tier needs.

use chrono::NaiveDate;

use super::{account_known, QueryError};
use crate::domain::incentives::Entitlement;
use crate::domain::money::round_to_minor_unit;
use crate::projections::{AccountView, ReadModel};
use crate::rules::tiers::numeric_shortfall;

/// The entitlement of an account on `as_of`, as known at `cutoff`.
pub fn entitlement(
    read: &ReadModel,
    account_id: &str,
    as_of: NaiveDate,
    cutoff: u64,
) -> Result<Entitlement, QueryError> {
    let account = account_known(read, account_id, cutoff)?;
    let daily = read.daily_at(account_id, cutoff)?;
    let mut entitlement = read.incentives.entitlement(
        account_id,
        as_of,
        cutoff,
        Some(&daily),
        account.relationship_stage,
    );
    let metrics = &mut entitlement.metrics;
    metrics.net_revenue = round_to_minor_unit(metrics.net_revenue, &account.currency);
    metrics.gross_margin = round_to_minor_unit(metrics.gross_margin, &account.currency);
    // The net revenue shortfall shows the account's figure and the gap as money too (the
    // threshold stays as the policy, which serves every currency, wrote it).
    let net_revenue = metrics.net_revenue;
    let shortfalls = entitlement
        .next_tier
        .iter_mut()
        .flat_map(|n| &mut n.shortfalls);
    for shortfall in shortfalls.filter(|s| s.criterion == "min_net_revenue") {
        if let Ok(required) = shortfall.required.parse::<rust_decimal::Decimal>() {
            *shortfall = numeric_shortfall("min_net_revenue", required, net_revenue);
            shortfall.gap = required
                .checked_sub(net_revenue)
                .map(|gap| round_to_minor_unit(gap, &account.currency).to_string());
        }
    }
    Ok(entitlement)
}

/// The tier of an account on `as_of` as known at `cutoff` (unclassified when unknown).
pub fn tier_of(
    read: &ReadModel,
    account: &AccountView,
    as_of: NaiveDate,
    cutoff: u64,
) -> Result<String, QueryError> {
    Ok(read
        .incentives
        .entitlement(
            &account.account_id,
            as_of,
            cutoff,
            Some(read.daily_at(&account.account_id, cutoff)?.as_ref()),
            account.relationship_stage,
        )
        .tier)
}
