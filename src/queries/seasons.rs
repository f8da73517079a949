//! Peak-season allocation plans (DESIGN §5.6).

use std::collections::BTreeMap;

use super::QueryError;
use crate::domain::seasons::{self, Plan};
use crate::projections::ReadModel;

/// 404 `season_not_found`.
pub fn not_found(id: &str) -> QueryError {
    QueryError::not_found("season_not_found", format!("no season with id \"{id}\""))
}

/// The plan of a season computed from the read model at its head, with what-if
/// capacities (`overrides`, sku → units): each account's supply tier on the season's
/// first day, then `domain::seasons::plan`.
pub fn plan(
    read: &ReadModel,
    id: &str,
    overrides: &BTreeMap<String, u64>,
) -> Result<Plan, QueryError> {
    let season = read.seasons.get(id).ok_or_else(|| not_found(id))?;
    let cutoff = read.head_position();
    let starts_on = season.starts_on;
    let mut tier_of = |account: &str| {
        read.incentives.supply_tier(
            account,
            starts_on,
            cutoff,
            read.daily(account),
            read.accounts
                .get(account, cutoff)
                .map(|a| a.relationship_stage),
        )
    };
    Ok(seasons::plan(season, cutoff, overrides, &mut tier_of))
}
