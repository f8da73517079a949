//! The tier policy versions and an account's tier overrides (DESIGN §5.2).

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::{account_known, QueryError};
use crate::domain::incentives::TierOverride;
use crate::projections::ReadModel;
use crate::rules::tiers::{policy_in_force, TierPolicy};

/// All policy versions and the one in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyVersions {
    /// The version in force on `on` (null when none is).
    pub current: Option<TierPolicy>,
    #[schema(value_type = String, format = Date)]
    pub on: NaiveDate,
    pub versions: Vec<TierPolicy>,
}

/// An account's tier overrides.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverrideList {
    pub account_id: String,
    pub overrides: Vec<TierOverride>,
}

/// Every policy version published at `cutoff` and the one in force on `on`.
pub fn policy_versions(read: &ReadModel, on: NaiveDate, cutoff: u64) -> PolicyVersions {
    let versions = read.incentives.policies(cutoff);
    let current = policy_in_force(&versions, on).cloned();
    PolicyVersions {
        current,
        on,
        versions,
    }
}

/// The policy version published last at `cutoff`, asked for after it was published: its
/// absence is a contradiction of the read model, not a 404.
pub fn published_policy(read: &ReadModel, cutoff: u64) -> Result<TierPolicy, QueryError> {
    read.incentives
        .policies(cutoff)
        .pop()
        .ok_or_else(|| QueryError::Inconsistent("published policy vanished".into()))
}

/// The account's tier overrides as known at `cutoff`, or 404 `account_not_found`.
pub fn overrides(
    read: &ReadModel,
    account_id: &str,
    cutoff: u64,
) -> Result<OverrideList, QueryError> {
    account_known(read, account_id, cutoff)?;
    Ok(OverrideList {
        account_id: account_id.to_string(),
        overrides: read.incentives.overrides(account_id, cutoff),
    })
}

/// The account's override granted last at `cutoff`, asked for after it was granted.
pub fn granted_override(
    read: &ReadModel,
    account_id: &str,
    cutoff: u64,
) -> Result<TierOverride, QueryError> {
    read.incentives
        .overrides(account_id, cutoff)
        .into_iter()
        .max_by_key(|o| o.granted_at)
        .ok_or_else(|| QueryError::Inconsistent("granted override vanished".into()))
}

/// One override of the account as known at `cutoff`, asked for after it was revoked.
pub fn revoked_override(
    read: &ReadModel,
    account_id: &str,
    override_id: &str,
    cutoff: u64,
) -> Result<TierOverride, QueryError> {
    read.incentives
        .overrides(account_id, cutoff)
        .into_iter()
        .find(|o| o.override_id == override_id)
        .ok_or_else(|| QueryError::Inconsistent("revoked override vanished".into()))
}
