//! Tier policy and tier override input: the body of `POST /v1/tier-policy` (also each
//! version of the demo's `tier-policy.json`) and of a tier override grant.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::rules::tiers::TierDefinition;

/// Body of `POST /v1/tier-policy`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishPolicyRequest {
    #[schema(value_type = String, format = Date)]
    pub effective_from: NaiveDate,
    /// Trailing months the metrics cover (1–36, default 12).
    pub window_months: Option<u32>,
    /// Best first; the last tier has no criteria.
    pub tiers: Vec<TierDefinition>,
    /// Version of the `policy/tiers` stream you last read (number of versions).
    pub expected_version: Option<u64>,
}

/// Body of `POST /v1/accounts/{id}/tier-overrides`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantOverrideRequest {
    pub tier: String,
    #[schema(value_type = String, format = Date)]
    pub valid_from: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub valid_to: Option<NaiveDate>,
    pub reason: String,
}
